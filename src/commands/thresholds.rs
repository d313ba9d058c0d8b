//! `damcap thresholds` and `damcap scan`.

use anyhow::Result;
use damcap_theory::thresholds::{alpha_1, alpha_c_lower, FailureRoute};
use damcap_theory::Ensemble;
use rayon::prelude::*;
use serde::Serialize;
use std::path::PathBuf;

use crate::config::LambdaGrid;
use crate::output::{self, Csv};

/// Arguments of `damcap thresholds`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Pattern ensemble: gaussian, spherical or binary.
    #[arg(long)]
    ensemble: String,
    /// Inverse temperature lambda > 0.
    #[arg(long, allow_negative_numbers = true)]
    lambda: f64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Arguments of `damcap scan`.
#[derive(clap::Args, Debug)]
pub struct ScanArgs {
    /// Pattern ensemble: gaussian, spherical or binary.
    #[arg(long)]
    ensemble: String,
    /// Smallest lambda (> 0).
    #[arg(long, allow_negative_numbers = true)]
    lambda_min: f64,
    /// Largest lambda.
    #[arg(long, allow_negative_numbers = true)]
    lambda_max: f64,
    /// Number of lambda values (>= 2).
    #[arg(long)]
    points: usize,
    /// Geometric spacing of the lambda grid.
    #[arg(long)]
    log: bool,
    /// Write the CSV here instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Both thresholds at one inverse temperature.
#[derive(Debug, Serialize, Clone)]
pub struct Thresholds {
    /// Ensemble name.
    pub ensemble: String,
    /// Inverse temperature.
    pub lambda: f64,
    /// Typical-pattern threshold.
    pub alpha_1: f64,
    /// Union-bound lower bound on the all-patterns threshold.
    pub alpha_c_lower: f64,
    /// Failure route that sets the bound.
    pub alpha_c_route: FailureRoute,
}

/// Computes both thresholds.
pub fn thresholds(ensemble: &dyn Ensemble, lambda: f64) -> Result<Thresholds> {
    let a1 = alpha_1(ensemble, lambda)?;
    let bound = alpha_c_lower(ensemble, lambda)?;
    Ok(Thresholds {
        ensemble: ensemble.name().to_string(),
        lambda,
        alpha_1: a1,
        alpha_c_lower: bound.alpha_c_lower,
        alpha_c_route: bound.route,
    })
}

/// Thresholds on a grid of lambda, in parallel, in grid order.
pub fn scan_grid(ensemble: &dyn Ensemble, lambdas: &[f64]) -> Result<Vec<Thresholds>> {
    lambdas
        .par_iter()
        .map(|&l| thresholds(ensemble, l))
        .collect()
}

/// The CSV header shared by `scan` and the phase-diagram CSV.
pub const CSV_COLUMNS: [&str; 5] = [
    "ensemble",
    "lambda",
    "alpha_1",
    "alpha_c_lower",
    "alpha_c_route",
];

/// Appends one row per threshold to a CSV table.
pub fn csv_rows(csv: &mut Csv, rows: &[Thresholds]) {
    for r in rows {
        csv.row(&[
            r.ensemble.clone(),
            r.lambda.to_string(),
            r.alpha_1.to_string(),
            r.alpha_c_lower.to_string(),
            r.alpha_c_route.to_string(),
        ]);
    }
}

/// `damcap thresholds`.
pub fn run(args: &Args) -> Result<()> {
    let ensemble = super::ensemble(&args.ensemble)?;
    let t = thresholds(ensemble.as_ref(), args.lambda)?;
    if args.json {
        println!("{}", serde_json::to_string(&t)?);
    } else {
        println!("ensemble       {}", t.ensemble);
        println!("lambda         {}", t.lambda);
        println!(
            "alpha_1        {:.12}   typical pattern retrieved below",
            t.alpha_1
        );
        println!(
            "alpha_c_lower  {:.12}   all patterns retrieved below (union bound, limited by: {})",
            t.alpha_c_lower, t.alpha_c_route
        );
    }
    Ok(())
}

/// `damcap scan`.
pub fn scan(args: &ScanArgs) -> Result<()> {
    let ensemble = super::ensemble(&args.ensemble)?;
    let grid = LambdaGrid {
        min: args.lambda_min,
        max: args.lambda_max,
        points: args.points,
        log: args.log,
    };
    let lambdas = grid.values()?;
    if let Some(path) = &args.out {
        output::check_writable(path)?;
    }
    let rows = scan_grid(ensemble.as_ref(), &lambdas)?;
    let mut csv = Csv::new(&CSV_COLUMNS);
    csv_rows(&mut csv, &rows);
    match &args.out {
        Some(path) => output::write_atomic(path, csv.as_str().as_bytes())?,
        None => print!("{}", csv.as_str()),
    }
    Ok(())
}
