//! `damcap law`: what damcap makes of a law file.

use anyhow::Result;
use damcap_theory::law::LawSummary;
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

/// `damcap law`.
pub fn run(args: &Args) -> Result<()> {
    let loaded = law_file::load(&args.path)?;
    let report = LawSummary::new(&loaded.ensemble, loaded.description, args.lambda)?;
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
    match report.cgf.zip(report.cgf_error) {
        Some((value, error)) => println!(
            "Lambda(lambda) {}   +- {:.1e} (quadrature error estimate; 0 = exact sum)",
            fixed(value, 15),
            error
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
