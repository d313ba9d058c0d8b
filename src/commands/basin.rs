//! `damcap basin` and `damcap lambda-star`.

use anyhow::Result;
use damcap_theory::basins::{lambda_star, rho_min};
use damcap_theory::finite_n::{self, check_dimension};
use damcap_theory::rem::Phase;
use damcap_theory::thresholds::alpha_1;
use serde::Serialize;

use crate::output::{fixed, number};

/// Arguments of `damcap basin`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Pattern ensemble: gaussian, spherical, binary, or the path of a law file (configs/ensembles/*.toml).
    #[arg(long)]
    ensemble: String,
    /// Inverse temperature lambda > 0.
    #[arg(long, allow_hyphen_values = true)]
    lambda: f64,
    /// Load alpha = ln(P) / N, in (0, alpha_max).
    #[arg(long, allow_hyphen_values = true)]
    alpha: f64,
    /// Dimension N: adds the finite-N basin edge rho_min_n (docs/theory.md §9).
    #[arg(long, allow_hyphen_values = true)]
    n: Option<f64>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Arguments of `damcap lambda-star`.
#[derive(clap::Args, Debug)]
pub struct LambdaStarArgs {
    /// Pattern ensemble: gaussian, spherical, binary, or the path of a law file (configs/ensembles/*.toml).
    #[arg(long)]
    ensemble: String,
    /// Load alpha = ln(P) / N.
    #[arg(long, allow_hyphen_values = true)]
    alpha: f64,
    /// Initial overlap rho in (0, 1].
    #[arg(long, allow_hyphen_values = true)]
    rho: f64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct BasinReport {
    ensemble: String,
    lambda: f64,
    alpha: f64,
    alpha_1: f64,
    /// `null` when alpha >= alpha_1: no initial state retrieves.
    rho_min: Option<f64>,
    phase: Phase,
    /// The dimension of `rho_min_n`, when `--n` is given.
    #[serde(skip_serializing_if = "Option::is_none")]
    n: Option<f64>,
    /// Predicted crossing of one step at dimension `n` (`null` above alpha_1).
    #[serde(skip_serializing_if = "Option::is_none")]
    rho_min_n: Option<Option<f64>>,
}

/// `damcap basin`.
pub fn run(args: &Args) -> Result<()> {
    let ensemble = super::ensemble(&args.ensemble)?;
    if let Some(n) = args.n {
        check_dimension(n)?;
    }
    let basin = rho_min(ensemble.as_ref(), args.alpha, args.lambda)?;
    let rho_min_n = match (args.n, basin.rho_min) {
        (Some(n), Some(_)) => Some(Some(finite_n::rho_min_n(
            ensemble.as_ref(),
            args.alpha,
            args.lambda,
            n,
        )?)),
        (Some(_), None) => Some(None),
        (None, _) => None,
    };
    let report = BasinReport {
        ensemble: ensemble.name().to_string(),
        lambda: args.lambda,
        alpha: args.alpha,
        alpha_1: alpha_1(ensemble.as_ref(), args.lambda)?,
        rho_min: basin.rho_min,
        phase: basin.phase,
        n: args.n,
        rho_min_n,
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    println!("ensemble   {}", report.ensemble);
    println!("lambda     {}", number(report.lambda));
    println!("alpha      {}", number(report.alpha));
    println!("REM phase  {}", report.phase);
    match report.rho_min {
        Some(r) => println!(
            "rho_min    {}   one step from overlap rho > rho_min retrieves",
            fixed(r, 12)
        ),
        None => println!(
            "rho_min    none: alpha >= alpha_1 = {}, not even the pattern itself is stable",
            fixed(report.alpha_1, 12)
        ),
    }
    if let (Some(n), Some(Some(r))) = (report.n, report.rho_min_n) {
        println!(
            "rho_min_n  {}   predicted crossing of one step at N = {}",
            fixed(r, 12),
            number(n)
        );
    }
    Ok(())
}

#[derive(Serialize)]
struct LambdaStarReport {
    ensemble: String,
    alpha: f64,
    rho: f64,
    /// `null` when no inverse temperature retrieves from this overlap.
    lambda_star: Option<f64>,
}

/// `damcap lambda-star`.
pub fn run_lambda_star(args: &LambdaStarArgs) -> Result<()> {
    let ensemble = super::ensemble(&args.ensemble)?;
    let report = LambdaStarReport {
        ensemble: ensemble.name().to_string(),
        alpha: args.alpha,
        rho: args.rho,
        lambda_star: lambda_star(ensemble.as_ref(), args.alpha, args.rho)?,
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    match report.lambda_star {
        Some(l) => println!(
            "lambda_*   {}   one step from overlap {} retrieves for lambda > lambda_*",
            fixed(l, 12),
            number(args.rho)
        ),
        None => println!(
            "lambda_*   none: rho = {} is at or below the largest spurious overlap u_max(alpha)",
            number(args.rho)
        ),
    }
    Ok(())
}
