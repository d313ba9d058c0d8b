//! The run loop of a validate config: every missing point `(study, N, x)`
//! in order, each point's trials in parallel, the checkpoint saved every
//! few seconds, on interruption, on error and at the end.
//!
//! The runner knows nothing of terminals or signals: progress goes to a
//! [`Progress`] callback and interruption is an [`AtomicBool`] that the
//! caller sets (from a Ctrl-C handler, say). An interrupted run loses at
//! most the point in progress; rerunning resumes from the checkpoint.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::checkpoint::Checkpoint;
use crate::spec::Plan;
use crate::study::run_point;
use crate::ValidationError;

/// How often the checkpoint is rewritten while points finish (the first
/// finished point is saved at once): often enough
/// that a hard kill loses seconds of work, rarely enough that fast
/// first-step points are not dominated by rewriting the file.
pub const SAVE_INTERVAL: Duration = Duration::from_secs(2);

/// Receives the progress of a run. Work is counted in estimated
/// multiply-adds ([`Plan::point_work`]), so that an ETA weighs a point at
/// large `N` more than one at small `N`.
pub trait Progress {
    /// The run starts with `total` work to do.
    fn start(&self, total: f64);
    /// A point starts; `label` says which.
    fn point(&self, label: &str);
    /// `work` more is done.
    fn advance(&self, work: f64);
    /// The run ended (finished, interrupted or failed).
    fn finish(&self);
}

/// A [`Progress`] that reports nothing.
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _: f64) {}
    fn point(&self, _: &str) {}
    fn advance(&self, _: f64) {}
    fn finish(&self) {}
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    /// Every point of every plan is finished.
    Finished,
    /// Stopped early by the interrupt flag; finished points are saved.
    Interrupted,
}

/// A point still to run: plan, size and grid index.
type Todo<'a> = (&'a Plan, usize, usize);

/// The `index`-th of `count` shards of a config's points (1-based), for
/// runs spread over several processes or machines. Points are dealt out
/// round-robin in config order (study, size, grid value), so every shard
/// gets a mix of small and large `N`; the split depends on the config
/// only, never on what is already done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Which shard, `1..=count`.
    pub index: usize,
    /// How many shards.
    pub count: usize,
}

impl Shard {
    /// The shard `index` of `count`.
    ///
    /// # Errors
    /// [`ValidationError::InvalidParameter`] unless `1 <= index <= count`.
    pub fn new(index: usize, count: usize) -> Result<Shard, ValidationError> {
        if index == 0 || index > count {
            return Err(ValidationError::InvalidParameter(format!(
                "shard {index}/{count} does not exist: use K/M with 1 <= K <= M"
            )));
        }
        Ok(Shard { index, count })
    }

    /// Whether the shard runs the point with global index `i`.
    fn owns(&self, i: usize) -> bool {
        i % self.count == self.index - 1
    }
}

/// Every point of `plans` in config order (the order of the run).
pub fn points(plans: &[Plan]) -> impl Iterator<Item = Todo<'_>> {
    plans.iter().flat_map(|p| {
        p.spec
            .sizes
            .iter()
            .flat_map(move |&n| (0..p.grid(n).len()).map(move |k| (p, n, k)))
    })
}

/// The points of `plans` that belong to `shard` (all of them for `None`).
pub fn shard_points(plans: &[Plan], shard: Option<Shard>) -> impl Iterator<Item = Todo<'_>> {
    points(plans)
        .enumerate()
        .filter(move |(i, _)| shard.is_none_or(|s| s.owns(*i)))
        .map(|(_, point)| point)
}

/// Runs every point of `plans` (or of one shard of them) missing from
/// `store` until done or until
/// `interrupt` is set, saving the store every [`SAVE_INTERVAL`], on
/// interruption, on error and at the end.
///
/// # Errors
/// The first simulation error, with the study and point named
/// ([`ValidationError::InvalidStudy`]), or a checkpoint that cannot be
/// written.
pub fn run(
    plans: &[Plan],
    shard: Option<Shard>,
    store: &mut Checkpoint,
    progress: &dyn Progress,
    interrupt: &AtomicBool,
) -> Result<RunOutcome, ValidationError> {
    let todo: Vec<Todo> = shard_points(plans, shard)
        .filter(|(p, n, k)| !store.contains(&p.spec.name, *n, *k))
        .collect();
    progress.start(todo.iter().map(|(p, n, k)| p.point_work(*n, *k)).sum());
    let result = run_points(&todo, store, progress, interrupt);
    progress.finish();
    result
}

fn run_points(
    todo: &[Todo],
    store: &mut Checkpoint,
    progress: &dyn Progress,
    interrupt: &AtomicBool,
) -> Result<RunOutcome, ValidationError> {
    // None until the first save, which follows the first finished point.
    let mut last_save: Option<Instant> = None;
    let mut unsaved = false;
    for &(plan, n, k) in todo {
        if interrupt.load(Ordering::SeqCst) {
            break;
        }
        let x = plan.grid(n)[k];
        let name = &plan.spec.name;
        progress.point(&format!("{name}: N = {n}, x = {x:.4}"));
        let records = match run_point(&plan.params, n, x, &plan.key(n, k), plan.spec.trials) {
            Ok(records) => records,
            Err(e) => {
                if unsaved {
                    store.save()?;
                }
                return Err(plan.spec.error(format!("at N = {n}, x = {x}: {e}")));
            }
        };
        store.insert(name, n, k, (x, records));
        unsaved = true;
        if last_save.is_none_or(|t| t.elapsed() >= SAVE_INTERVAL) {
            store.save()?;
            (last_save, unsaved) = (Some(Instant::now()), false);
        }
        progress.advance(plan.point_work(n, k));
    }
    if unsaved {
        store.save()?;
    }
    Ok(if interrupt.load(Ordering::SeqCst) {
        RunOutcome::Interrupted
    } else {
        RunOutcome::Finished
    })
}
