//! `damcap validate CONFIG` and `damcap merge CONFIG`: Monte Carlo studies
//! checked against the theory. The validation crate does the work (plans,
//! runner, checkpoint, shards, verdicts); this is the glue: config, Ctrl-C,
//! progress bar, outputs, the verdict table.

use anyhow::{bail, Context, Result};
use damcap_theory::Ensemble;
use damcap_validation::checkpoint::shard_path;
use damcap_validation::runner::{self, Progress, Shard};
use damcap_validation::spec::MAX_WORK;
use damcap_validation::{report, Checkpoint, Plan, RunOutcome, Summary};
use indicatif::{ProgressBar, ProgressStyle};
use std::cell::Cell;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use crate::config::{self, Config, Validate};
use crate::output;
use crate::plot::validation::summary_svg;

/// Arguments of `damcap validate`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Path of a `kind = "validate"` config.
    config: PathBuf,
    /// Print the summary JSON on standard output instead of the verdict table.
    #[arg(long)]
    json: bool,
    /// Run only shard K of M (K/M, 1 <= K <= M): a deterministic share of the
    /// points, saved next to raw_csv; combine the shards with `damcap merge`.
    #[arg(long, value_parser = parse_shard)]
    shard: Option<Shard>,
}

/// Arguments of `damcap merge`.
#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// Path of the `kind = "validate"` config the shards ran.
    config: PathBuf,
    /// How many shards the run was split into (the M of --shard K/M).
    #[arg(long)]
    shards: usize,
    /// Print the summary JSON on standard output instead of the verdict table.
    #[arg(long)]
    json: bool,
}

/// `damcap validate`.
pub fn run(args: &Args) -> Result<()> {
    let config = load(&args.config)?;
    let Some(shard) = args.shard else {
        let summary = run_config(&config, &args.config)?;
        return print_summary(&summary, args.json);
    };
    let raw = shard_path(&config.raw_csv, shard);
    let (_, plans) = plan(&config, &args.config, &raw)?;
    let store = simulate(&plans, Some(shard), &raw)?;
    eprintln!(
        "shard {}/{}: {} points done in {}; when every shard is done, run `damcap merge {} --shards {}`",
        shard.index,
        shard.count,
        store.done.len(),
        raw.display(),
        args.config.display(),
        shard.count
    );
    Ok(())
}

/// `damcap merge`: combines the shards' raw CSVs and writes the same
/// outputs as an unsharded run.
pub fn merge(args: &MergeArgs) -> Result<()> {
    let config = load(&args.config)?;
    Shard::new(1, args.shards).context("--shards must be at least 1")?;
    let (ensemble, plans) = plan(&config, &args.config, &config.raw_csv)?;
    let raw = output::resolve_output(&config.raw_csv)?;
    let store = Checkpoint::merge(&raw, &plans, args.shards)?;
    store.save()?;
    let summary = write_outputs(&config, &plans, &store, ensemble.as_ref())?;
    print_summary(&summary, args.json)
}

/// Runs (or resumes) every study of the config read from `path` and writes
/// its outputs.
pub fn run_config(config: &Validate, path: &Path) -> Result<Summary> {
    let (ensemble, plans) = plan(config, path, &config.raw_csv)?;
    let store = simulate(&plans, None, &config.raw_csv)?;
    write_outputs(config, &plans, &store, ensemble.as_ref())
}

fn load(path: &Path) -> Result<Validate> {
    let Config::Validate(config) = config::load(path)? else {
        bail!(
            "{} is not a validate config: set kind = \"validate\"",
            path.display()
        );
    };
    Ok(config)
}

/// The ensemble and the studies resolved against it, every argument and
/// output (`raw`: the raw CSV this process writes) checked and the whole
/// run's work estimated before any work.
fn plan(config: &Validate, path: &Path, raw: &Path) -> Result<(Box<dyn Ensemble>, Vec<Plan>)> {
    let ensemble = super::ensemble(&config.ensemble)?;
    let limit = config.memory_limit()?;
    let plans: Vec<Plan> = config
        .study
        .iter()
        .map(|s| Plan::new(s, ensemble.as_ref(), config.seed, limit))
        .collect::<Result<_, _>>()?;
    check_unique_names(&plans)?;
    for plan in &plans {
        for (n, why) in &plan.unpredicted {
            eprintln!(
                "note: study {}, N = {n}: no finite-N prediction ({why}); that size is \
                 compared with nothing, and an adaptive grid there centres on the N -> infinity value",
                plan.spec.name
            );
        }
    }
    let work: f64 = plans.iter().map(Plan::work).sum();
    if work > MAX_WORK {
        bail!(
            "the config needs about {work:.1e} multiply-adds, above the cap of {MAX_WORK:.0e} \
             (about a day on two cores): shrink sizes, grids or trials, or split it into shards"
        );
    }
    let outputs = [
        ("raw_csv", raw),
        ("summary_json", config.summary_json.as_path()),
        ("svg", config.svg.as_path()),
    ];
    super::plan_run(path, std::slice::from_ref(&config.ensemble), &outputs)?;
    Ok((ensemble, plans))
}

/// Runs the missing points of `plans` (or of one shard), checkpointed in
/// `raw`. An interrupted run is an error that says how to resume.
fn simulate(plans: &[Plan], shard: Option<Shard>, raw: &Path) -> Result<Checkpoint> {
    // A symbolic link is written through to its target, never replaced.
    let mut store = Checkpoint::load(&output::resolve_output(raw)?, plans)?;
    if let Some(aside) = &store.set_aside {
        eprintln!(
            "{} holds points of another seed or config; copied it to {}",
            raw.display(),
            aside.display()
        );
    }
    if !store.done.is_empty() {
        eprintln!(
            "resuming: {} finished points found in {}",
            store.done.len(),
            raw.display()
        );
    }
    let outcome = runner::run(plans, shard, &mut store, &Bar::new(), &*interrupt_flag()?)?;
    if outcome == RunOutcome::Interrupted {
        bail!(
            "interrupted: {} finished points kept in {}; rerun the same command to resume",
            store.done.len(),
            raw.display()
        );
    }
    Ok(store)
}

/// The summary JSON and SVG of a finished run.
fn write_outputs(
    config: &Validate,
    plans: &[Plan],
    store: &Checkpoint,
    ensemble: &dyn Ensemble,
) -> Result<Summary> {
    let summary = report::summarise(
        &config.title,
        config.seed,
        plans,
        &store.done,
        ensemble.name(),
    )?;
    output::write_atomic(
        &config.summary_json,
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    let svg = summary_svg(&summary, ensemble)?;
    output::write_atomic(&config.svg, svg.as_bytes())?;
    eprintln!(
        "wrote {}, {} and {}",
        store.path().display(),
        config.summary_json.display(),
        config.svg.display()
    );
    Ok(summary)
}

/// The summary JSON, or the verdict table.
fn print_summary(summary: &Summary, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(summary)?);
    } else {
        print!("{}", summary.verdict_table());
    }
    Ok(())
}

fn check_unique_names(plans: &[Plan]) -> Result<()> {
    let mut seen = HashSet::new();
    for p in plans {
        let name = &p.spec.name;
        if !seen.insert(name) {
            bail!("study name '{name}' is repeated; give each study a unique name");
        }
    }
    Ok(())
}

/// `K/M` as a shard.
fn parse_shard(text: &str) -> Result<Shard, String> {
    let parsed = text
        .split_once('/')
        .and_then(|(k, m)| Some((k.trim().parse().ok()?, m.trim().parse().ok()?)));
    let (k, m) = parsed.ok_or_else(|| format!("'{text}' is not K/M (e.g. 2/8)"))?;
    Shard::new(k, m).map_err(|e| e.to_string())
}

/// Ctrl-C or SIGTERM sets the flag; the run stops after the point in
/// progress. A second signal exits at once (files are only ever replaced
/// atomically). One handler and one flag per process: `figures --validate`
/// runs several configs, and an interrupt stops them all.
fn interrupt_flag() -> Result<Arc<AtomicBool>> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    if let Some(flag) = FLAG.get() {
        return Ok(flag.clone());
    }
    let flag = FLAG
        .get_or_init(|| Arc::new(AtomicBool::new(false)))
        .clone();
    let handler_flag = flag.clone();
    ctrlc::set_handler(move || {
        if handler_flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!(
            "\ninterrupt: finishing the current point, then saving (Ctrl-C again to quit now)"
        );
    })
    .context("cannot install the Ctrl-C handler")?;
    Ok(flag)
}

/// The runner's progress on an indicatif bar (hidden when stderr is not a
/// terminal), in per-mille of the estimated work so the ETA weighs large
/// points more.
struct Bar {
    bar: ProgressBar,
    /// Work done so far and in all.
    work: Cell<(f64, f64)>,
}

/// Bar units per whole run.
const BAR_UNITS: f64 = 1000.0;

impl Bar {
    fn new() -> Bar {
        let bar = ProgressBar::new(BAR_UNITS as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {percent}% of the work, eta {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Bar {
            bar,
            work: Cell::new((0.0, 0.0)),
        }
    }
}

impl Progress for Bar {
    fn start(&self, total: f64) {
        self.work.set((0.0, total.max(f64::MIN_POSITIVE)));
        self.bar.set_position(0);
    }
    fn point(&self, label: &str) {
        self.bar.set_message(label.to_string());
    }
    fn advance(&self, work: f64) {
        let (done, total) = self.work.get();
        self.work.set((done + work, total));
        self.bar
            .set_position((BAR_UNITS * (done + work) / total).round() as u64);
    }
    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
