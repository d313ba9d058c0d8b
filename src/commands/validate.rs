//! `damcap validate CONFIG`: Monte Carlo studies checked against the
//! theory. The validation crate does the work (plans, runner, checkpoint,
//! verdicts); this is the glue: config, Ctrl-C, progress bar, outputs.

use anyhow::{bail, Context, Result};
use damcap_validation::runner::{self, Progress};
use damcap_validation::{report, Checkpoint, Plan, RunOutcome, Summary};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::HashSet;
use std::path::PathBuf;
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
    /// Print the summary JSON on standard output.
    #[arg(long)]
    json: bool,
}

/// Bytes of pattern matrices allowed in memory at once.
const MEMORY_LIMIT: u64 = 4 << 30;

/// `damcap validate`.
pub fn run(args: &Args) -> Result<()> {
    let Config::Validate(config) = config::load(&args.config)? else {
        bail!(
            "{} is not a validate config: set kind = \"validate\"",
            args.config.display()
        );
    };
    let summary = run_config(&config)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    }
    Ok(())
}

/// Runs (or resumes) every study of a config and writes its outputs.
pub fn run_config(config: &Validate) -> Result<Summary> {
    let ensemble = super::ensemble(&config.ensemble)?;
    let plans: Vec<Plan> = config
        .study
        .iter()
        .map(|s| Plan::new(s, ensemble.as_ref(), config.seed, MEMORY_LIMIT))
        .collect::<Result<_, _>>()?;
    check_unique_names(&plans)?;
    for path in [&config.raw_csv, &config.summary_json, &config.svg] {
        output::check_writable(path)?;
    }
    let mut store = Checkpoint::load(&config.raw_csv, &plans)?;
    if let Some(aside) = &store.set_aside {
        eprintln!(
            "{} holds points of another seed or config; copied it to {}",
            config.raw_csv.display(),
            aside.display()
        );
    }
    if !store.done.is_empty() {
        eprintln!(
            "resuming: {} finished points found in {}",
            store.done.len(),
            config.raw_csv.display()
        );
    }
    if runner::run(&plans, &mut store, &Bar::new(), &*interrupt_flag()?)? == RunOutcome::Interrupted
    {
        bail!(
            "interrupted: {} finished points kept in {}; rerun the same command to resume",
            store.done.len(),
            config.raw_csv.display()
        );
    }
    let summary = report::summarise(
        &config.title,
        config.seed,
        &plans,
        &store.done,
        ensemble.name(),
    )?;
    output::write_atomic(
        &config.summary_json,
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    let svg = summary_svg(&summary, ensemble.as_ref())?;
    output::write_atomic(&config.svg, svg.as_bytes())?;
    eprintln!(
        "wrote {}, {} and {}",
        config.raw_csv.display(),
        config.summary_json.display(),
        config.svg.display()
    );
    Ok(summary)
}

fn check_unique_names(plans: &[Plan]) -> Result<()> {
    let mut seen = HashSet::new();
    for p in plans {
        let name = &p.spec.name;
        if name.contains(',') || !seen.insert(name) {
            bail!("study name '{name}' is repeated or contains a comma; give each study a unique plain name");
        }
    }
    Ok(())
}

/// Ctrl-C sets the flag; the run stops after the point in progress. A
/// second Ctrl-C exits at once (files are only ever replaced atomically).
/// One handler and one flag per process: `figures --validate` runs several
/// configs, and an interrupt stops them all.
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
/// terminal).
struct Bar(ProgressBar);

impl Bar {
    fn new() -> Bar {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} trials, eta {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Bar(bar)
    }
}

impl Progress for Bar {
    fn start(&self, total: u64) {
        self.0.set_length(total);
    }
    fn point(&self, label: &str) {
        self.0.set_message(label.to_string());
    }
    fn advance(&self, trials: u64) {
        self.0.inc(trials);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}
