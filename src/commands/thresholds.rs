//! `damcap thresholds` and `damcap scan`.

use anyhow::{Context, Result};
use damcap_theory::attention::{attention_thresholds, AttentionThresholds};
use damcap_theory::finite_n::{self, AttentionFiniteN, FiniteN};
use damcap_theory::phase::{self, Thresholds};
use damcap_theory::Ensemble;
use rayon::prelude::*;
use serde::Serialize;
use std::path::PathBuf;

use crate::config::LambdaGrid;
use crate::output::{self, Csv};

/// How inverse temperature and load scale with the dimension N.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scaling {
    /// lambda fixed, P = exp(alpha N): thresholds on alpha.
    Standard,
    /// Scaled dot-product attention: lambda = beta / sqrt(N), P = exp(a sqrt(N)): thresholds on a.
    Attention,
}

/// Arguments of `damcap thresholds`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Pattern ensemble: gaussian, spherical, binary, or the path of a law file (configs/ensembles/*.toml).
    #[arg(long)]
    ensemble: String,
    /// Scaling regime.
    #[arg(long, value_enum, default_value_t = Scaling::Standard)]
    scaling: Scaling,
    /// Inverse temperature lambda > 0 (standard scaling).
    #[arg(long, allow_hyphen_values = true)]
    lambda: Option<f64>,
    /// Scaled inverse temperature beta > 0, lambda = beta / sqrt(N) (attention scaling).
    #[arg(long, allow_hyphen_values = true)]
    beta: Option<f64>,
    /// Dimension N: adds the finite-N crossings (docs/theory.md §9) next to the N -> infinity values; with --scaling attention, the finite-N attention thresholds.
    #[arg(long, allow_hyphen_values = true)]
    n: Option<f64>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Arguments of `damcap scan`.
#[derive(clap::Args, Debug)]
pub struct ScanArgs {
    /// Pattern ensemble: gaussian, spherical, binary, or the path of a law file (configs/ensembles/*.toml).
    #[arg(long)]
    ensemble: String,
    /// Scaling regime; attention scans beta and reports a_1, a_c.
    #[arg(long, value_enum, default_value_t = Scaling::Standard)]
    scaling: Scaling,
    /// Smallest lambda (> 0), standard scaling.
    #[arg(long, allow_hyphen_values = true)]
    lambda_min: Option<f64>,
    /// Largest lambda, standard scaling.
    #[arg(long, allow_hyphen_values = true)]
    lambda_max: Option<f64>,
    /// Smallest beta (> 0), attention scaling.
    #[arg(long, allow_hyphen_values = true)]
    beta_min: Option<f64>,
    /// Largest beta, attention scaling.
    #[arg(long, allow_hyphen_values = true)]
    beta_max: Option<f64>,
    /// Dimension N: finite-N crossings as extra columns (docs/theory.md §9); with --scaling attention, finite-N attention thresholds.
    #[arg(long, allow_hyphen_values = true)]
    n: Option<f64>,
    /// Number of grid values (2 to 1000000; a larger CSV is refused before any work).
    #[arg(long, value_parser = super::count, allow_hyphen_values = true)]
    points: usize,
    /// Geometric spacing of the grid.
    #[arg(long)]
    log: bool,
    /// Write the CSV here instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
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
            output::number(r.lambda),
            output::number(r.alpha_1),
            output::number(r.alpha_c_lower),
            r.alpha_c_route.to_string(),
        ]);
    }
}

/// The scan's table with the finite-N crossings at dimension `n`
/// (docs/theory.md §9) after the N -> infinity columns.
fn finite_n_csv(ensemble: &dyn Ensemble, rows: &[Thresholds], n: f64) -> Result<Csv> {
    let finite: Vec<FiniteN> = rows
        .par_iter()
        .map(|r| finite_n::finite_n(ensemble, r.lambda, n))
        .collect::<Result<_, _>>()?;
    let mut columns = CSV_COLUMNS.to_vec();
    columns.extend([
        "n",
        "alpha_1_first_step_n",
        "alpha_1_dynamics_n",
        "alpha_c_n",
    ]);
    let mut csv = Csv::new(&columns);
    for (r, f) in rows.iter().zip(finite) {
        csv.row(&[
            r.ensemble.clone(),
            output::number(r.lambda),
            output::number(r.alpha_1),
            output::number(r.alpha_c_lower),
            r.alpha_c_route.to_string(),
            output::number(n),
            f.alpha_1_first_step_n.map_or(String::new(), output::number),
            f.alpha_1_dynamics_n.map_or(String::new(), output::number),
            f.alpha_c_n.map_or(String::new(), output::number),
        ]);
    }
    Ok(csv)
}

/// Most points a scan computes: its CSV (about 100 bytes a row) and rows
/// are held in memory, so a million points take about 200 MB and a few
/// minutes; more is refused before any work.
pub const MAX_SCAN_POINTS: usize = 1_000_000;

/// Refuses a scan above [`MAX_SCAN_POINTS`], with its size estimate.
fn check_scan_size(points: usize) -> Result<()> {
    if points > MAX_SCAN_POINTS {
        anyhow::bail!(
            "--points {points} would hold about {} MB in memory; the cap is {MAX_SCAN_POINTS} points: \
             split the range into several scans",
            points / 5_000
        );
    }
    Ok(())
}

/// Refuses flags that belong to the other scaling instead of ignoring them.
fn reject_unused(scaling: Scaling, standard_flags: bool, attention_flags: bool) -> Result<()> {
    match scaling {
        Scaling::Standard if attention_flags => {
            anyhow::bail!("--beta, --beta-min and --beta-max belong to --scaling attention; drop them or add --scaling attention")
        }
        Scaling::Attention if standard_flags => {
            anyhow::bail!("--lambda, --lambda-min and --lambda-max belong to the standard scaling; use --beta (and --n) with --scaling attention")
        }
        _ => Ok(()),
    }
}

/// The value of a flag that the chosen scaling requires.
fn required(value: Option<f64>, flag: &str, scaling: &str) -> Result<f64> {
    value.with_context(|| format!("{flag} is required with --scaling {scaling}"))
}

/// Attention thresholds over a beta grid, as CSV.
fn attention_csv(ensemble: &dyn Ensemble, betas: &[f64], n: Option<f64>) -> Result<Csv> {
    let bar = output::progress_bar(betas.len(), "beta points");
    let rows: Vec<AttentionThresholds> = betas
        .par_iter()
        .map(|&b| {
            let row = attention_thresholds(ensemble, b, n);
            bar.inc(1);
            row
        })
        .collect::<Result<_, _>>()?;
    bar.finish_and_clear();
    let mut csv = Csv::new(&["ensemble", "beta", "n", "a_1", "a_c", "a_c_route"]);
    for t in rows {
        let n = t.n.map_or("inf".to_string(), output::number);
        csv.row(&[
            ensemble.name().to_string(),
            output::number(t.beta),
            n,
            output::number(t.a_1),
            output::number(t.a_c),
            t.route.to_string(),
        ]);
    }
    Ok(csv)
}

/// `damcap thresholds`.
pub fn run(args: &Args) -> Result<()> {
    let ensemble = super::ensemble(&args.ensemble)?;
    reject_unused(args.scaling, args.lambda.is_some(), args.beta.is_some())?;
    if let Some(n) = args.n {
        finite_n::check_dimension(n)?;
    }
    if args.scaling == Scaling::Attention {
        let beta = required(args.beta, "--beta", "attention")?;
        return run_attention(ensemble.as_ref(), beta, args.n, args.json);
    }
    let t = phase::thresholds(
        ensemble.as_ref(),
        required(args.lambda, "--lambda", "standard")?,
    )?;
    let finite = args
        .n
        .map(|n| finite_n::finite_n(ensemble.as_ref(), t.lambda, n))
        .transpose()?;
    if args.json {
        let report = StandardReport {
            thresholds: &t,
            finite_n: finite,
        };
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("ensemble       {}", t.ensemble);
        println!("lambda         {}", output::number(t.lambda));
        println!(
            "alpha_1        {}   typical pattern retrieved below",
            output::fixed(t.alpha_1, 12)
        );
        println!(
            "alpha_c_lower  {}   all patterns retrieved below (union bound, limited by: {})",
            output::fixed(t.alpha_c_lower, 12),
            t.alpha_c_route
        );
        if let Some(f) = finite {
            print_finite_n(&f);
        }
    }
    Ok(())
}

/// The finite-N crossings, one line each.
fn print_finite_n(f: &FiniteN) {
    println!("N              {}", output::number(f.n));
    println!(
        "alpha_1_first_step_n  {}   predicted crossing of one step from xi^1",
        crossing_text(f.alpha_1_first_step_n, NO_CROSSING)
    );
    println!(
        "alpha_1_dynamics_n    {}   predicted crossing of the several-step dynamics",
        crossing_text(f.alpha_1_dynamics_n, NO_CROSSING)
    );
    let c = crossing_text(f.alpha_c_n, all_patterns_gap(f.alpha_1_first_step_n));
    println!("alpha_c_n             {c}   predicted all-patterns crossing");
}

/// Why a finite-N crossing of one step or of the dynamics is missing.
const NO_CROSSING: &str = "none at this N (its frozen crossing needs a larger N)";

/// A finite-N crossing to 12 decimals, or why there is none.
fn crossing_text(crossing: Option<f64>, why_none: &str) -> String {
    crossing.map_or(why_none.to_string(), |c| output::fixed(c, 12))
}

/// Why the all-patterns crossing is missing: it is capped by the first
/// step's, so it has none where that has none; otherwise it is not
/// derived for this ensemble.
fn all_patterns_gap(first_step: Option<f64>) -> &'static str {
    if first_step.is_none() {
        NO_CROSSING
    } else {
        "not derived"
    }
}

/// Standard-scaling thresholds, with the finite-N crossings when `--n` is given.
#[derive(Serialize)]
struct StandardReport<'a> {
    #[serde(flatten)]
    thresholds: &'a Thresholds,
    #[serde(flatten)]
    finite_n: Option<FiniteN>,
}

/// Attention-scaling thresholds with the ensemble's name.
#[derive(Serialize)]
struct AttentionReport {
    ensemble: String,
    scaling: &'static str,
    #[serde(flatten)]
    thresholds: AttentionThresholds,
    #[serde(flatten)]
    finite_n: Option<AttentionFiniteN>,
}

fn run_attention(ensemble: &dyn Ensemble, beta: f64, n: Option<f64>, json: bool) -> Result<()> {
    let t = attention_thresholds(ensemble, beta, n)?;
    let finite = n
        .map(|n| finite_n::attention_finite_n(ensemble, beta, n))
        .transpose()?;
    if json {
        let report = AttentionReport {
            ensemble: ensemble.name().into(),
            scaling: "attention",
            thresholds: t,
            finite_n: finite,
        };
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    let n_text = n.map_or("infinity".to_string(), output::number);
    println!(
        "ensemble   {}   (attention scaling: lambda = beta / sqrt(N), P = exp(a sqrt(N)))",
        ensemble.name()
    );
    println!("beta       {}", output::number(beta));
    println!("N          {n_text}");
    println!(
        "a_1        {}   typical key retrieved below (expansion {})",
        output::fixed(t.a_1, 12),
        output::fixed(t.a_1_expansion, 6)
    );
    println!(
        "a_c        {}   all keys retrieved below, union bound (expansion {}, limited by: {})",
        output::fixed(t.a_c, 12),
        output::fixed(t.a_c_expansion, 6),
        t.route
    );
    if let Some(f) = finite {
        println!(
            "a_1_first_step_n  {}   predicted crossing of one step from the key",
            crossing_text(f.a_1_first_step_n, NO_CROSSING)
        );
        println!(
            "a_1_dynamics_n    {}   predicted crossing of the several-step dynamics",
            crossing_text(f.a_1_dynamics_n, NO_CROSSING)
        );
        let c = crossing_text(f.a_c_n, all_patterns_gap(f.a_1_first_step_n));
        println!("a_c_n             {c}   predicted all-keys crossing");
    }
    Ok(())
}

/// `damcap scan`.
pub fn scan(args: &ScanArgs) -> Result<()> {
    let ensemble = super::ensemble(&args.ensemble)?;
    reject_unused(
        args.scaling,
        args.lambda_min.is_some() || args.lambda_max.is_some(),
        args.beta_min.is_some() || args.beta_max.is_some(),
    )?;
    if let Some(n) = args.n {
        finite_n::check_dimension(n)?;
    }
    let (min, max, scaling, flag) = match args.scaling {
        Scaling::Standard => (args.lambda_min, args.lambda_max, "standard", "--lambda"),
        Scaling::Attention => (args.beta_min, args.beta_max, "attention", "--beta"),
    };
    let min = required(min, &format!("{flag}-min"), scaling)?;
    let max = required(max, &format!("{flag}-max"), scaling)?;
    check_scan_size(args.points)?;
    let grid = LambdaGrid {
        min,
        max,
        points: args.points,
        log: args.log,
    }
    .values()?;
    if let Some(path) = &args.out {
        let law = crate::law_file::is_law_path(&args.ensemble)
            .then(|| ("--ensemble", std::path::Path::new(&args.ensemble)));
        output::plan_outputs(law.as_slice(), &[("--out", path)])?;
    }
    let csv = match args.scaling {
        Scaling::Standard => {
            let bar = output::progress_bar(grid.len(), "lambda points");
            let rows = phase::scan_with_progress(ensemble.as_ref(), &grid, &|| bar.inc(1))?;
            bar.finish_and_clear();
            match args.n {
                Some(n) => finite_n_csv(ensemble.as_ref(), &rows, n)?,
                None => {
                    let mut csv = Csv::new(&CSV_COLUMNS);
                    csv_rows(&mut csv, &rows);
                    csv
                }
            }
        }
        Scaling::Attention => attention_csv(ensemble.as_ref(), &grid, args.n)?,
    };
    match &args.out {
        Some(path) => output::write_atomic(path, csv.as_str().as_bytes())?,
        None => print!("{}", csv.as_str()),
    }
    Ok(())
}
