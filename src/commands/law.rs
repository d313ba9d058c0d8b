//! `damcap law`: what damcap makes of a law file.

use anyhow::Result;
use damcap_theory::law::{Family, Integral, Shape};
use damcap_theory::thresholds::{alpha_1, alpha_c_lower, FailureRoute};
use damcap_theory::Ensemble;
use damcap_theory::Iid;
use serde::Serialize;
use std::path::PathBuf;

use crate::law_file;
use crate::output::{fixed, number};

/// Arguments of `damcap law`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Path of the law file.
    path: PathBuf,
    /// Inverse temperature lambda > 0 at which to report the thresholds.
    #[arg(long, default_value_t = 1.0, allow_hyphen_values = true)]
    lambda: f64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// The standardised law and its thresholds at one `lambda`.
#[derive(Serialize)]
struct LawReport {
    name: String,
    description: Option<String>,
    family: Family,
    /// The standardised law, in words.
    standardised: String,
    /// `E a^4` (the squared norm per entry has variance `E a^4 - 1`).
    fourth_moment: f64,
    /// Largest overlap of another pattern with a typical one.
    overlap_max: f64,
    /// Largest meaningful load (`inf` for continuous laws).
    alpha_max: f64,
    lambda: f64,
    /// `Lambda(lambda)` and the quadrature's error estimate; `null` where
    /// the quadrature cannot resolve it (overflow at huge lambda).
    cgf: Option<f64>,
    cgf_error: Option<f64>,
    alpha_1: f64,
    alpha_c_lower: f64,
    alpha_c_route: FailureRoute,
}

/// The standardised law, in one line.
fn describe(shape: &Shape) -> String {
    match shape {
        Shape::Atoms(atoms) => atoms
            .iter()
            .map(|a| format!("{:.6} (p {:.6})", a.value, a.probability))
            .collect::<Vec<_>>()
            .join(", "),
        Shape::Mixture(components) => components
            .iter()
            .map(|c| format!("{:.6} N({:.6}, {:.6}^2)", c.weight, c.mean, c.sd))
            .collect::<Vec<_>>()
            .join(" + "),
        Shape::Uniform => "uniform on [-sqrt 3, sqrt 3]".to_string(),
        Shape::Laplace => "Laplace with scale 1/sqrt 2".to_string(),
    }
}

/// `Lambda(lambda)` with its error estimate, or `None` where it cannot be
/// trusted. Discrete laws take `lambda - m(lambda)` with the margin
/// `m = t - Lambda(t)` computed without cancellation. The quadrature of a
/// continuous law overflows at huge `lambda`; its result is kept only if
/// finite and consistent with `Lambda(lambda) >= lambda - alpha_1`
/// (the margin never exceeds `alpha_1`'s supremum, reached by then).
fn trusted_cgf(e: &Iid, lambda: f64, a1: f64) -> Option<Integral> {
    if e.law().atoms().is_some() {
        return Some(Integral {
            value: lambda - e.signal_margin(lambda),
            error: 0.0,
        });
    }
    let c = e.cgf_with_error(lambda);
    let consistent = c.value.is_finite()
        && c.error.is_finite()
        && c.error <= 1e-6 * c.value.abs().max(1.0)
        && c.value + a1 >= lambda * (1.0 - 1e-9);
    consistent.then_some(c)
}

/// `damcap law`.
pub fn run(args: &Args) -> Result<()> {
    let loaded = law_file::load(&args.path)?;
    let e = &loaded.ensemble;
    let bound = alpha_c_lower(e, args.lambda)?;
    let a1 = alpha_1(e, args.lambda)?;
    let cgf = trusted_cgf(e, args.lambda, a1);
    let report = LawReport {
        name: e.name().to_string(),
        description: loaded.description.clone(),
        family: e.law().family().clone(),
        standardised: describe(e.law().shape()),
        fourth_moment: e.law().fourth_moment(),
        overlap_max: e.overlap_max(),
        alpha_max: e.alpha_max(),
        lambda: args.lambda,
        cgf: cgf.map(|c| c.value),
        cgf_error: cgf.map(|c| c.error),
        alpha_1: a1,
        alpha_c_lower: bound.alpha_c_lower,
        alpha_c_route: bound.route,
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    println!("law            {} ({})", report.name, args.path.display());
    if let Some(d) = &report.description {
        println!("description    {d}");
    }
    println!("standardised   {}", report.standardised);
    println!("E a^4          {:.12}", report.fourth_moment);
    println!(
        "overlap end    u = {}   alpha_max = {}",
        number(report.overlap_max),
        number(report.alpha_max)
    );
    println!("lambda         {}", number(report.lambda));
    match cgf {
        Some(c) => println!(
            "Lambda(lambda) {}   +- {:.1e} (quadrature error estimate; 0 = exact sum)",
            fixed(c.value, 15),
            c.error
        ),
        None => println!("Lambda(lambda) beyond the quadrature's range at this lambda (overflow)"),
    }
    println!(
        "alpha_1        {}   typical pattern retrieved below",
        fixed(report.alpha_1, 12)
    );
    println!(
        "alpha_c_lower  {}   all patterns retrieved below (union bound, limited by: {})",
        fixed(report.alpha_c_lower, 12),
        report.alpha_c_route
    );
    Ok(())
}
