//! `damcap bench`: speed of the theory solver, reported as ratios against
//! baselines measured in the same run (never as timed tests).

use anyhow::Result;
use damcap_theory::ensemble::NAMES;
use std::time::Instant;

use super::thresholds::scan_grid;
use crate::config::LambdaGrid;

/// Arguments of `damcap bench`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Lambda points per ensemble in the scan benchmark.
    #[arg(long, default_value_t = 1000)]
    points: usize,
}

/// Seconds taken by a scan of all built-in ensembles on a rayon pool of
/// `threads` threads.
fn time_scan(lambdas: &[f64], threads: usize) -> Result<f64> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let ensembles: Vec<_> = NAMES
        .iter()
        .map(|n| super::ensemble(n))
        .collect::<Result<_>>()?;
    let start = Instant::now();
    pool.install(|| -> Result<()> {
        for e in &ensembles {
            scan_grid(e.as_ref(), lambdas)?;
        }
        Ok(())
    })?;
    Ok(start.elapsed().as_secs_f64())
}

/// `damcap bench`.
pub fn run(args: &Args) -> Result<()> {
    let grid = LambdaGrid {
        min: 0.01,
        max: 100.0,
        points: args.points,
        log: true,
    };
    let lambdas = grid.values()?;
    let threads = rayon::current_num_threads();
    let serial = time_scan(&lambdas, 1)?;
    let parallel = time_scan(&lambdas, threads)?;
    println!(
        "scan: {} lambda points x {} ensembles (lambda in [0.01, 100], log grid)",
        args.points,
        NAMES.len()
    );
    println!("  1 thread          {serial:.3} s   (baseline)");
    println!(
        "  {threads} threads         {parallel:.3} s   speed-up {:.2}x",
        serial / parallel
    );
    println!(
        "  per point         {:.1} us",
        1e6 * parallel / (args.points * NAMES.len()) as f64
    );
    Ok(())
}
