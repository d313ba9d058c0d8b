//! `damcap bench`: speed of the theory solver and of the simulation
//! kernel, reported as ratios against baselines measured in the same run
//! (never as timed tests).

use anyhow::{bail, Result};
use damcap_theory::ensemble::{Iid, PatternLaw, NAMES};
use damcap_theory::law::{EntryLaw, Family};
use damcap_validation::all_patterns::{
    check_packed_self_weights, check_self_weights, CheckMode, STATES,
};
use damcap_validation::dynamics::{max_score, run_dynamics, run_packed_dynamics, DynamicsParams};
use damcap_validation::entries::EntrySampler;
use damcap_validation::packed::{packed_atoms, packed_bytes, packed_scores, PackedPatterns};
use damcap_validation::patterns::{matrix_bytes, Patterns};
use damcap_validation::pruning_bytes_per_pattern;
use damcap_validation::seeds::trial_rng;
use damcap_validation::streamed::{streamed_step, StreamedPatterns};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::config::{self, Config, LambdaGrid};
use damcap_theory::phase::scan as scan_grid;

/// Arguments of `damcap bench`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Lambda points per ensemble in the scan benchmark (2 to 100000).
    #[arg(long, default_value_t = 1000, value_parser = super::count, allow_hyphen_values = true)]
    points: usize,
    /// Neurons N of the pattern matrix in the kernel benchmark (>= 1).
    #[arg(long, default_value_t = 64, value_parser = super::count, allow_hyphen_values = true)]
    n: usize,
    /// Patterns P of the pattern matrix in the kernel benchmark (>= 1; N x P x 4 bytes <= 8 GiB).
    #[arg(long, default_value_t = 1 << 20, value_parser = super::count, allow_hyphen_values = true)]
    patterns: usize,
    /// Lambda points in the law-file benchmark (2 to 10000).
    #[arg(long, default_value_t = 200, value_parser = super::count, allow_hyphen_values = true)]
    law_points: usize,
    /// Directory of the figure configs whose theory figures are timed.
    #[arg(long, default_value = "configs")]
    configs: PathBuf,
    /// Sizes N of the reach table (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "16,24,32")]
    reach_sizes: Vec<usize>,
    /// Trials per entry of the reach table.
    #[arg(long, default_value_t = 4)]
    reach_trials: u64,
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

/// Bytes of the kernel benchmark's pattern matrix allowed in memory.
const PATTERN_BYTES_CAP: usize = 8 << 30;

/// Checks every argument before any benchmark runs, with the size of
/// what a too-large one would allocate.
fn check(args: &Args) -> Result<()> {
    let in_range = |value: usize, flag: &str, lo: usize, hi: usize| -> Result<()> {
        if value < lo {
            bail!("{flag} {value} is too small: give a whole number >= {lo}");
        }
        if value > hi {
            bail!("{flag} {value} is too large: give a whole number from {lo} to {hi}");
        }
        Ok(())
    };
    in_range(args.points, "--points", 2, 100_000)?;
    in_range(args.law_points, "--law-points", 2, 10_000)?;
    in_range(args.n, "--n", 1, usize::MAX)?;
    in_range(args.patterns, "--patterns", 1, usize::MAX)?;
    let bytes = args.n.saturating_mul(args.patterns).saturating_mul(4);
    if bytes > PATTERN_BYTES_CAP {
        bail!(
            "--n {} x --patterns {} needs {:.1} GiB of patterns; the cap is {} GiB: lower --n or --patterns",
            args.n,
            args.patterns,
            bytes as f64 / f64::from(1u32 << 30),
            PATTERN_BYTES_CAP >> 30
        );
    }
    Ok(())
}

/// `damcap bench`.
pub fn run(args: &Args) -> Result<()> {
    check(args)?;
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
    law_files(args.law_points)?;
    figures(&args.configs)?;
    kernel(args.n, args.patterns)?;
    streamed(args.n, args.patterns)?;
    drawing(args.n, args.patterns)?;
    reach(&args.reach_sizes, args.reach_trials)
}

/// Seconds allowed for all theory figures, and for the law-comparison one.
const FIGURES_BUDGET: f64 = 15.0;
const LAW_FIGURE_BUDGET: f64 = 3.0;

/// Time of each theory figure of `damcap figures` (every config but the
/// simulations), computed and drawn as `figures` does, on the whole pool,
/// with the outputs sent to a temporary directory. Law files are loaded
/// afresh, so their per-law tables are part of the time.
fn figures(dir: &Path) -> Result<()> {
    let scratch = tempfile::tempdir()?;
    let mut total = 0.0;
    println!(
        "figures: theory configs of {} (outputs to a temporary directory)",
        dir.display()
    );
    for path in super::figures::config_paths(dir)? {
        let mut config = config::load(&path)?;
        let (svg, csv, budget) = match &mut config {
            Config::Validate(_) => continue,
            Config::PhaseDiagram(c) => (&mut c.svg, &mut c.csv, None),
            Config::LawComparison(c) => (&mut c.svg, &mut c.csv, Some(LAW_FIGURE_BUDGET)),
            Config::Basins(c) => (&mut c.svg, &mut c.csv, None),
        };
        for output in [svg, csv] {
            *output = scratch.path().join(output.file_name().unwrap_or_default());
        }
        let start = Instant::now();
        super::figures::run(config, &path)?;
        let seconds = start.elapsed().as_secs_f64();
        total += seconds;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        match budget {
            Some(b) => println!(
                "  {name:<22}{seconds:7.2} s   ({:.0}% of its {b} s budget)",
                100.0 * seconds / b
            ),
            None => println!("  {name:<22}{seconds:7.2} s"),
        }
    }
    println!(
        "  all                   {total:7.2} s   ({:.0}% of the {FIGURES_BUDGET} s budget)",
        100.0 * total / FIGURES_BUDGET
    );
    Ok(())
}

/// The price of generality: a law file describing a built-in ensemble
/// (quadrature or sums, numerical Legendre transform, empirical-law
/// duality for alpha_c) against the built-in's closed forms, on the same
/// lambda grid and thread pool.
fn law_files(points: usize) -> Result<()> {
    let lambdas = LambdaGrid {
        min: 0.05,
        max: 20.0,
        points,
        log: true,
    }
    .values()?;
    let pairs = [
        ("gaussian", Family::Gaussian {}),
        (
            "binary",
            Family::Discrete {
                values: vec![-1.0, 1.0],
                probabilities: vec![0.5, 0.5],
            },
        ),
    ];
    println!("law files: {points} lambda points in [0.05, 20], against the built-in ensemble");
    for (name, family) in pairs {
        let builtin = super::ensemble(name)?;
        let base = best_of_scans(|| scan_grid(builtin.as_ref(), &lambdas).map(drop))?;
        // A fresh law each time: its lambda-independent tables are part
        // of the cost.
        let general =
            best_of_scans(|| scan_grid(&Iid::new(name, family.clone())?, &lambdas).map(drop))?;
        println!(
            "  {name:<9} built-in {:8.1} us/point (baseline)   law file {:8.1} us/point   {:.1}x",
            1e6 * base / points as f64,
            1e6 * general / points as f64,
            general / base
        );
    }
    Ok(())
}

/// Runs of a scan for [`best_of_scans`]: the fastest of several damps
/// the noise of a shared machine.
const SCAN_REPEATS: usize = 5;

/// Best time of [`SCAN_REPEATS`] runs of a fallible scan, in seconds.
fn best_of_scans<F>(mut scan: F) -> Result<f64>
where
    F: FnMut() -> Result<(), damcap_theory::TheoryError>,
{
    let mut outcome = Ok(());
    let seconds = best_of(SCAN_REPEATS, || {
        if let Err(e) = scan() {
            outcome = Err(e);
        }
    });
    outcome?;
    Ok(seconds)
}

/// Best time of `repeats` runs of `f`, in seconds.
fn best_of<F: FnMut()>(repeats: usize, mut f: F) -> f64 {
    (0..repeats)
        .map(|_| time_once(&mut f))
        .fold(f64::INFINITY, f64::min)
}

/// Time of one run of `f`, in seconds.
fn time_once<F: FnMut()>(mut f: F) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_secs_f64()
}

/// A simple single-core multiply-add peak: 16 independent f64 accumulators
/// over a small array that stays in L1, which the compiler vectorises.
fn peak_multiply_adds() -> f64 {
    const LEN: usize = 1024;
    const SWEEPS: usize = 20_000;
    let a: Vec<f64> = (0..LEN).map(|i| 1.0 + 1e-9 * i as f64).collect();
    let b: Vec<f64> = (0..LEN).map(|i| 1.0 - 1e-9 * i as f64).collect();
    let seconds = best_of(3, || {
        let mut acc = [0.0f64; 16];
        for _ in 0..SWEEPS {
            for (x, y) in black_box(&a)
                .chunks_exact(16)
                .zip(black_box(&b).chunks_exact(16))
            {
                for k in 0..16 {
                    acc[k] += x[k] * y[k];
                }
            }
        }
        black_box(acc);
    });
    (LEN * SWEEPS) as f64 / seconds
}

/// The streaming-read baseline: a sum of `data` that reads every entry
/// once, the fastest plain read this code can make. It is compiled for
/// AVX2 when the processor has it (as the score kernel is) and sums the
/// two halves side by side, 32 lanes each: two streams and more
/// independent additions read faster than one stream (on the development
/// machine, 2026-11-26: 19-21 GB/s against 13-14 GB/s for one stream of
/// 32 lanes; its bandwidth varies from day to day).
fn read_sum(data: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor supports AVX2, checked just above.
        return unsafe { read_sum_avx2(data) };
    }
    read_sum_portable(data)
}

/// [`read_sum`] for any processor.
#[inline(always)]
fn read_sum_portable(data: &[f32]) -> f32 {
    const LANES: usize = 32;
    let (a, b) = data.split_at(data.len() / 2);
    let (mut first, mut second) = ([0.0f32; LANES], [0.0f32; LANES]);
    for (u, v) in a.chunks_exact(LANES).zip(b.chunks_exact(LANES)) {
        for k in 0..LANES {
            first[k] += u[k];
            second[k] += v[k];
        }
    }
    first.iter().sum::<f32>() + second.iter().sum::<f32>()
}

/// [`read_sum`] compiled with AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn read_sum_avx2(data: &[f32]) -> f32 {
    read_sum_portable(data)
}

/// Rounds of the kernel benchmark, each timing the kernel and then the
/// read baseline once (odd, so that the median is one round's ratio).
const KERNEL_ROUNDS: usize = 9;
const _: () = assert!(KERNEL_ROUNDS % 2 == 1, "the median is one round's ratio");

/// Throughput of the score kernel `s_mu = xi^mu . x` (one multiply-add per
/// matrix entry), against the compute peak and the read bandwidth, and of
/// the packed lookup-table kernel on binary and ternary patterns of the
/// same size, in effective multiply-adds (`N P` per pass).
fn kernel(n: usize, p: usize) -> Result<()> {
    let budget = PATTERN_BYTES_CAP as u64;
    let patterns = Patterns::sample(&PatternLaw::Gaussian, n, p, budget, &mut trial_rng(1))?;
    let x: Vec<f64> = patterns.xi1().iter().map(|&v| f64::from(v)).collect();
    // The kernel and the read baseline are timed in turn, the best of
    // KERNEL_ROUNDS of each, after one untimed round (a cold start would
    // show as a low ratio): a drift of the machine's bandwidth reaches
    // both alike. Which of the two goes first alternates. Each round's own
    // ratio is kept too: their spread shows how far one round's ratio can
    // be trusted.
    let score_pass = || {
        time_once(|| {
            black_box(max_score(&patterns, black_box(&x)).expect("matching sizes"));
        })
    };
    let read_pass = || {
        time_once(|| {
            black_box(read_sum(black_box(patterns.as_slice())));
        })
    };
    score_pass();
    read_pass();
    let (mut seconds, mut read_seconds) = (f64::INFINITY, f64::INFINITY);
    let mut ratios = Vec::with_capacity(KERNEL_ROUNDS);
    for round in 0..KERNEL_ROUNDS {
        let (kernel_once, read_once) = if round % 2 == 0 {
            (score_pass(), read_pass())
        } else {
            let read_once = read_pass();
            (score_pass(), read_once)
        };
        ratios.push(read_once / kernel_once);
        (seconds, read_seconds) = (seconds.min(kernel_once), read_seconds.min(read_once));
    }
    ratios.sort_by(f64::total_cmp);
    let entries = (n * p) as f64 / seconds;
    let bandwidth = std::mem::size_of_val(patterns.as_slice()) as f64 / read_seconds;
    let peak = peak_multiply_adds();
    drop(patterns);
    println!("score kernel: N = {n}, P = {p} (f32 patterns, f64 accumulation), one core");
    println!(
        "  kernel            {:.2} G entries/s (one multiply-add each)",
        entries / 1e9
    );
    println!(
        "  compute baseline  {:.2} G multiply-adds/s (f64, in cache): kernel at {:.0}%",
        peak / 1e9,
        100.0 * entries / peak
    );
    println!(
        "  memory baseline   {:.2} GB/s (streaming read): kernel reads {:.2} GB/s, {:.0}% of it",
        bandwidth / 1e9,
        4.0 * entries / 1e9,
        400.0 * entries / bandwidth
    );
    println!(
        "                    (best of {KERNEL_ROUNDS} rounds each; each round's own ratio {:.0}-{:.0}%, median {:.0}%)",
        100.0 * ratios[0],
        100.0 * ratios[KERNEL_ROUNDS - 1],
        100.0 * ratios[KERNEL_ROUNDS / 2]
    );
    let mut out = vec![0.0; p];
    for (name, law) in [("binary", PatternLaw::Binary), ("ternary", ternary()?)] {
        let packed = PackedPatterns::sample(&law, n, p, budget, &mut trial_rng(2))?;
        let seconds = best_of(5, || {
            packed_scores(&packed, black_box(&x), &mut out).expect("matching sizes")
        });
        let effective = (n * p) as f64 / seconds;
        println!(
            "  packed {name:<8}   {:.2} G effective multiply-adds/s ({} bytes per row, lookup tables): {:.1}x the f32 kernel",
            effective / 1e9,
            packed.bytes() / p,
            effective / entries
        );
    }
    Ok(())
}

/// Throughput of a streamed step (patterns regenerated, scored and
/// summed in one pass, crate `damcap_validation::streamed`) against the
/// stored-matrix step on the same gaussian patterns, one core each: the
/// generation alone (normals per second), the whole streamed step and the
/// stored step (two multiply-adds per entry: score and weighted sum).
fn streamed(n: usize, p: usize) -> Result<()> {
    let src = StreamedPatterns::new(&PatternLaw::Gaussian, n, p, 1)?;
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let stored = one.install(|| src.to_stored(PATTERN_BYTES_CAP as u64))?;
    let x: Vec<f64> = stored.xi1().iter().map(|&v| f64::from(v)).collect();
    let entries = (n * p) as f64;
    let mut rows = vec![0.0f32; n * 1024];
    let generate = best_of(3, || {
        for first in (0..p).step_by(1024) {
            let len = 1024.min(p - first) * n;
            src.fill_rows(first, black_box(&mut rows[..len]));
        }
    });
    let mut next = vec![0.0; n];
    let streamed = best_of(3, || {
        one.install(|| streamed_step(&src, black_box(&x), 0.5, &mut next))
            .expect("matching sizes");
    });
    let one_step = DynamicsParams {
        max_steps: 1,
        ..DynamicsParams::default()
    }
    .full();
    let stored_step = best_of(3, || {
        run_dynamics(&stored, black_box(&x), 0.5, &one_step).expect("valid input");
    });
    println!("streamed step: N = {n}, P = {p}, gaussian patterns, one core");
    println!(
        "  stored step       {:.3} s, {:.2} G multiply-adds/s   (baseline)",
        stored_step,
        2.0 * entries / stored_step / 1e9
    );
    println!(
        "  generation        {:.3} s, {:.2} G normals/s",
        generate,
        entries / generate / 1e9
    );
    println!(
        "  streamed step     {:.3} s, {:.2} G normals/s and {:.2} G multiply-adds/s: {:.1}x the stored step's time",
        streamed,
        entries / streamed / 1e9,
        2.0 * entries / streamed / 1e9,
        streamed / stored_step
    );
    Ok(())
}

/// The ternary law of `configs/ensembles/ternary.toml`: `P(0) = 1/2`.
/// Time to draw ternary patterns (`P(0) = 1/2`, one core): packed rows
/// by byte tables (8 random bits give 4 entries), `f32` rows by 2-bit
/// chunks, against one uniform per entry and a search of the cumulative
/// probabilities (the sampler before chunks, and sparse-binary laws' still).
fn drawing(n: usize, p: usize) -> Result<()> {
    let law = ternary()?;
    let PatternLaw::Iid(entry) = &law else {
        unreachable!("ternary() is a law file")
    };
    let sampler = EntrySampler::new(entry);
    let budget = PATTERN_BYTES_CAP as u64;
    let entries = (n * p) as f64;
    let packed = best_of(3, || {
        black_box(PackedPatterns::sample(&law, n, p, budget, &mut trial_rng(3)).expect("fits"));
    });
    let mut rows = vec![0.0f32; n * p];
    let chunks = best_of(3, || sampler.fill(black_box(&mut rows), &mut trial_rng(3)));
    let uniforms = best_of(3, || {
        let mut rng = trial_rng(3);
        rows.iter_mut()
            .for_each(|v| *v = sampler.sample(&mut rng) as f32);
        black_box(&rows);
    });
    println!("drawing ternary patterns: N = {n}, P = {p}, one core");
    println!(
        "  one uniform each  {:.2} ns per entry   (baseline)",
        1e9 * uniforms / entries
    );
    for (name, seconds) in [("f32 by chunks", chunks), ("packed by bytes", packed)] {
        println!(
            "  {name:<17} {:.2} ns per entry: {:.1}x faster",
            1e9 * seconds / entries,
            uniforms / seconds
        );
    }
    Ok(())
}

fn ternary() -> Result<PatternLaw> {
    let law = EntryLaw::new(Family::Ternary {
        zero_probability: 0.5,
    })?;
    Ok(PatternLaw::Iid(Arc::new(law)))
}

/// One row family of the reach table: a law at one `lambda`, with the
/// loads near its committed crossings.
struct ReachCase {
    name: &'static str,
    law: PatternLaw,
    lambda: f64,
    /// Load of the typical-dynamics trials.
    alpha_typical: f64,
    /// Load of the all-patterns trials.
    alpha_all: f64,
}

/// Typical trials whose pattern storage (and pruning buffers) would exceed
/// this many bytes are left out of the reach table, per column.
const TYPICAL_BUDGET: u128 = 1 << 30;

/// All-patterns trials above this many operations (`P^2` times the row's
/// `N` entries, or its packed bytes: the cost of a retrieved trial) are
/// left out of the reach table, per column.
const ALL_PATTERNS_BUDGET: f64 = 2e10;

/// Seconds per trial near the crossings, before and after the exact
/// speed-ups, on the same patterns (the same draws: discrete laws are
/// packed from the same generator). Before: the typical dynamics with a
/// full pass at every step and every run taken to its end, the
/// all-patterns check by one matrix-vector pass per pattern, both on `f32`
/// rows. After: pruned steps and certified failures stopped, and likely
/// failures first with [`STATES`] states per pass and early exit, on
/// packed storage for binary and ternary patterns. Sampling is timed apart.
/// A column whose storage or work is over budget is left out; the other
/// one still runs.
fn reach(sizes: &[usize], trials: u64) -> Result<()> {
    let cases = [
        ReachCase {
            name: "gaussian",
            law: PatternLaw::Gaussian,
            lambda: 0.5,
            alpha_typical: 0.27,
            alpha_all: 0.16,
        },
        ReachCase {
            name: "gaussian",
            law: PatternLaw::Gaussian,
            lambda: 2.0,
            alpha_typical: 0.47,
            alpha_all: 0.22,
        },
        ReachCase {
            name: "binary",
            law: PatternLaw::Binary,
            lambda: 1.0,
            alpha_typical: 0.45,
            alpha_all: 0.35,
        },
        // Far in the frozen phase, where pruned steps can skip patterns.
        ReachCase {
            name: "binary",
            law: PatternLaw::Binary,
            lambda: 4.0,
            alpha_typical: 0.6,
            alpha_all: 0.35,
        },
        ReachCase {
            name: "ternary",
            law: ternary()?,
            lambda: 1.0,
            alpha_typical: 0.5,
            alpha_all: 0.25,
        },
    ];
    anyhow::ensure!(trials > 0, "--reach-trials must be at least 1");
    println!(
        "reach: seconds per trial near the crossing, mean of {trials} trials (best of two timings each), one core; before -> after (speed-up)"
    );
    println!("  typical: dynamics from xi^1 (max 100 steps), full passes on f32 rows, every run to its end -> pruned steps, certified failures stopped, binary and ternary packed");
    println!("  all patterns: one matrix-vector pass per pattern on f32 rows -> likely failures first, {STATES} states per pass, early exit, binary and ternary packed");
    for case in &cases {
        for &n in sizes {
            typical_row(case, n, trials)?;
            all_patterns_row(case, n, trials)?;
        }
    }
    Ok(())
}

/// The result of `f` and the better of two timings of it, in seconds
/// (the machine is shared).
fn best_of_two<T, F: FnMut() -> T>(mut f: F) -> (T, f64) {
    let start = Instant::now();
    f();
    let first = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let out = f();
    (out, first.min(start.elapsed().as_secs_f64()))
}

/// `P = round(e^{alpha N})`.
fn pattern_count(alpha: f64, n: usize) -> usize {
    (alpha * n as f64).exp().round() as usize
}

/// The trial's patterns as the studies store them: packed for discrete
/// laws, `f32` rows otherwise (and `None` when over `budget` bytes).
enum Stored {
    Rows(Patterns),
    Packed(PackedPatterns),
}

impl Stored {
    /// Bytes of the study storage of `p` patterns of `law`.
    fn bytes(law: &PatternLaw, n: usize, p: usize) -> u128 {
        match packed_atoms(law) {
            Some(atoms) => packed_bytes(n, p as u64, atoms.len()),
            None => matrix_bytes(n, p as u64),
        }
    }

    /// Draws trial `t`'s patterns in the study storage.
    fn sample(law: &PatternLaw, n: usize, p: usize, t: u64) -> Result<Self> {
        Ok(match packed_atoms(law) {
            Some(_) => Self::Packed(PackedPatterns::sample(
                law,
                n,
                p,
                8 << 30,
                &mut trial_rng(t),
            )?),
            None => Self::Rows(Patterns::sample(law, n, p, 8 << 30, &mut trial_rng(t))?),
        })
    }

    fn xi1(&self) -> Vec<f64> {
        let xi1 = match self {
            Self::Rows(r) => r.xi1(),
            Self::Packed(p) => p.xi1(),
        };
        xi1.iter().map(|&v| f64::from(v)).collect()
    }
}

/// A timed column of the reach table: seconds per trial, or why it was
/// left out.
fn column(seconds: Option<f64>, trials: u64) -> String {
    seconds.map_or("(over budget)".into(), |s| {
        format!("{:.1e} s", s / trials as f64)
    })
}

/// The speed-up of `after` over `before`, when both ran.
fn speed_up(before: Option<f64>, after: Option<f64>) -> String {
    match (before, after) {
        (Some(b), Some(a)) => format!("{:.2}x", b / a),
        _ => "-".into(),
    }
}

/// Times the full dynamics on `f32` rows and the pruned dynamics on the
/// study storage, on the same trials, each when it fits [`TYPICAL_BUDGET`].
fn typical_row(case: &ReachCase, n: usize, trials: u64) -> Result<()> {
    let p = pattern_count(case.alpha_typical, n);
    let head = format!(
        "  {:<8} lambda {:<3} N {n:>2}  typical      alpha {:.2} P {p:>10}:",
        case.name, case.lambda, case.alpha_typical
    );
    let params = DynamicsParams {
        max_steps: 100,
        ..DynamicsParams::default()
    };
    let rows_fit = matrix_bytes(n, p as u64) <= TYPICAL_BUDGET;
    let buffers = pruning_bytes_per_pattern(&case.law);
    let stored_bytes = Stored::bytes(&case.law, n, p) + u128::from(buffers) * p as u128;
    if !rows_fit && stored_bytes > TYPICAL_BUDGET {
        println!(
            "{head} skipped ({:.1} GB of f32 rows)",
            matrix_bytes(n, p as u64) as f64 / 1e9
        );
        return Ok(());
    }
    let (mut sample, mut before, mut after, mut pruned, mut steps) = (0.0, 0.0, 0.0, 0, 0);
    for t in 0..trials {
        let full = if rows_fit {
            let patterns = Patterns::sample(&case.law, n, p, 8 << 30, &mut trial_rng(t))?;
            let x0: Vec<f64> = patterns.xi1().iter().map(|&v| f64::from(v)).collect();
            let whole = DynamicsParams {
                stop_certain_failures: false,
                ..params.full()
            };
            let (full, seconds) = best_of_two(|| run_dynamics(&patterns, &x0, case.lambda, &whole));
            before += seconds;
            Some(full?)
        } else {
            None
        };
        let start = Instant::now();
        let stored = Stored::sample(&case.law, n, p, t)?;
        sample += start.elapsed().as_secs_f64();
        let x0 = stored.xi1();
        let (fast, seconds) = best_of_two(|| match &stored {
            Stored::Rows(r) => run_dynamics(r, &x0, case.lambda, &params),
            Stored::Packed(q) => run_packed_dynamics(q, &x0, case.lambda, &params),
        });
        after += seconds;
        let fast = fast?;
        if let Some(full) = full {
            anyhow::ensure!(
                fast.retrieved == full.retrieved
                    && (fast.certified_failure || fast.steps == full.steps),
                "pruned and full dynamics disagree at {} N = {n}, trial {t}",
                case.name
            );
        }
        (pruned, steps) = (pruned + fast.pruned_steps, steps + fast.steps);
    }
    let before = rows_fit.then_some(before);
    println!(
        "{head} sample {:.1e} s, {} -> {} ({}; {pruned} of {steps} steps pruned)",
        sample / trials as f64,
        column(before, trials),
        column(Some(after), trials),
        speed_up(before, Some(after))
    );
    Ok(())
}

/// Times the reference check on `f32` rows and the early-exit check on the
/// study storage, on the same trials, each unless a retrieved trial would
/// exceed [`ALL_PATTERNS_BUDGET`].
fn all_patterns_row(case: &ReachCase, n: usize, trials: u64) -> Result<()> {
    let p = pattern_count(case.alpha_all, n);
    let head = format!(
        "  {:<8} lambda {:<3} N {n:>2}  all patterns alpha {:.2} P {p:>10}:",
        case.name, case.lambda, case.alpha_all
    );
    let pairs = (p as f64).powi(2);
    let reference_fits = pairs * n as f64 <= ALL_PATTERNS_BUDGET;
    // Two-atom packed rows are checked by popcounts of 8-byte words.
    let row_cost = match packed_atoms(&case.law) {
        Some(atoms) if atoms.len() == 2 => n.div_ceil(64) as f64,
        _ => Stored::bytes(&case.law, n, 1) as f64,
    };
    if !reference_fits && pairs * row_cost > ALL_PATTERNS_BUDGET {
        println!(
            "{head} skipped (a retrieved trial costs P^2 N = {:.1e} multiply-adds)",
            pairs * n as f64
        );
        return Ok(());
    }
    let (mut before, mut after, mut retrieved) = (0.0, 0.0, 0);
    for t in 0..trials {
        let full = if reference_fits {
            let patterns = Patterns::sample(&case.law, n, p, 8 << 30, &mut trial_rng(t))?;
            let (full, seconds) =
                best_of_two(|| check_self_weights(&patterns, case.lambda, CheckMode::Reference));
            before += seconds;
            Some(full)
        } else {
            None
        };
        let stored = Stored::sample(&case.law, n, p, t)?;
        let (fast, seconds) = best_of_two(|| match &stored {
            Stored::Rows(r) => check_self_weights(r, case.lambda, CheckMode::EarlyExit),
            Stored::Packed(q) => check_packed_self_weights(q, case.lambda, CheckMode::EarlyExit),
        });
        after += seconds;
        if let Some(full) = full {
            anyhow::ensure!(
                fast.retrieved == full.retrieved,
                "early-exit and full checks disagree at {} N = {n}, trial {t}",
                case.name
            );
        }
        retrieved += u64::from(fast.retrieved);
    }
    let before = reference_fits.then_some(before);
    println!(
        "{head} {} -> {} ({}; {retrieved} of {trials} retrieved)",
        column(before, trials),
        column(Some(after), trials),
        speed_up(before, Some(after))
    );
    Ok(())
}
