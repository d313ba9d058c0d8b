//! `damcap law`: what damcap makes of a law file.

use anyhow::Result;
use damcap_theory::law::{Family, Shape};
use damcap_theory::thresholds::{alpha_1, alpha_c_lower, FailureRoute};
use damcap_theory::Ensemble;
use serde::Serialize;
use std::path::PathBuf;

use crate::law_file;

/// Arguments of `damcap law`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Path of the law file.
    path: PathBuf,
    /// Inverse temperature lambda > 0 at which to report the thresholds.
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
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
    /// `Lambda(lambda)` and the quadrature's error estimate.
    cgf: f64,
    cgf_error: f64,
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

/// `damcap law`.
pub fn run(args: &Args) -> Result<()> {
    let loaded = law_file::load(&args.path)?;
    let e = &loaded.ensemble;
    let bound = alpha_c_lower(e, args.lambda)?;
    let cgf = e.cgf_with_error(args.lambda);
    let report = LawReport {
        name: e.name().to_string(),
        description: loaded.description.clone(),
        family: e.law().family().clone(),
        standardised: describe(e.law().shape()),
        fourth_moment: e.law().fourth_moment(),
        overlap_max: e.overlap_max(),
        alpha_max: e.alpha_max(),
        lambda: args.lambda,
        cgf: cgf.value,
        cgf_error: cgf.error,
        alpha_1: alpha_1(e, args.lambda)?,
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
        report.overlap_max, report.alpha_max
    );
    println!("lambda         {}", report.lambda);
    println!(
        "Lambda(lambda) {:.15}   +- {:.1e} (quadrature error estimate; 0 = exact sum)",
        report.cgf, report.cgf_error
    );
    println!(
        "alpha_1        {:.12}   typical pattern retrieved below",
        report.alpha_1
    );
    println!(
        "alpha_c_lower  {:.12}   all patterns retrieved below (union bound, limited by: {})",
        report.alpha_c_lower, report.alpha_c_route
    );
    Ok(())
}
