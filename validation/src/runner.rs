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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::StudySpec;
    use std::sync::Mutex;

    /// Two first-step studies of gaussian patterns, sizes 8, 10 and 12,
    /// three grid points each: eighteen fast points.
    fn plans() -> Vec<Plan> {
        ["a", "b"]
            .iter()
            .map(|name| {
                let spec: StudySpec = toml::from_str(&format!(
                    "name = \"{name}\"\nobservable = \"alpha_1\"\nlambda = 0.5\nmethod = \"first-step\"\nsizes = [8, 10, 12]\n\
                     grid = {{ min = 0.2, max = 0.4, points = 3 }}\ntrials = 10\n"
                ))
                .expect("parses");
                let gaussian = damcap_theory::by_name("gaussian").expect("built-in");
                Plan::new(&spec, gaussian.as_ref(), 7, 1 << 30).expect("valid")
            })
            .collect()
    }

    /// Everything a run reports, and the points saved in the checkpoint
    /// file each time a point is done.
    #[derive(Default)]
    struct Log {
        total: Mutex<f64>,
        labels: Mutex<Vec<String>>,
        work: Mutex<f64>,
        finished: Mutex<usize>,
        saved: Mutex<Vec<(usize, std::time::Duration)>>,
        path: std::path::PathBuf,
        started: Option<Instant>,
        /// Set [`Log::stop`] once this many points are done.
        stop_after: Option<usize>,
        stop: AtomicBool,
    }

    impl Progress for Log {
        fn start(&self, total: f64) {
            *self.total.lock().unwrap() = total;
        }
        fn point(&self, label: &str) {
            self.labels.lock().unwrap().push(label.to_string());
        }
        fn advance(&self, work: f64) {
            *self.work.lock().unwrap() += work;
            let plans = plans();
            let on_disk = Checkpoint::load(&self.path, &plans).unwrap().done.len();
            let since = self.started.expect("set").elapsed();
            let mut saved = self.saved.lock().unwrap();
            saved.push((on_disk, since));
            if self.stop_after == Some(saved.len()) {
                self.stop.store(true, Ordering::SeqCst);
            }
        }
        fn finish(&self) {
            *self.finished.lock().unwrap() += 1;
        }
    }

    /// A fresh [`Log`] of a run saving to `path`, starting its clock now.
    fn fresh_log(path: &std::path::Path, stop_after: Option<usize>) -> Log {
        Log {
            path: path.to_path_buf(),
            started: Some(Instant::now()),
            stop_after,
            ..Log::default()
        }
    }

    #[test]
    fn shards_deal_points_round_robin() {
        assert!(Shard::new(0, 2).is_err() && Shard::new(3, 2).is_err());
        let plans = plans();
        let all: Vec<_> = points(&plans)
            .map(|(p, n, k)| (p.spec.name.clone(), n, k))
            .collect();
        assert_eq!(all.len(), 18);
        assert_eq!(all[0], ("a".into(), 8, 0));
        assert_eq!(all[4], ("a".into(), 10, 1));
        assert_eq!(all[9], ("b".into(), 8, 0));
        assert_eq!(all[17], ("b".into(), 12, 2));
        for count in [1, 2, 5] {
            for index in 1..=count {
                let shard = Some(Shard::new(index, count).unwrap());
                let mine: Vec<_> = shard_points(&plans, shard)
                    .map(|(p, n, k)| (p.spec.name.clone(), n, k))
                    .collect();
                let expected: Vec<_> = all.iter().skip(index - 1).step_by(count).cloned().collect();
                assert_eq!(mine, expected, "shard {index}/{count}");
            }
        }
        assert_eq!(shard_points(&plans, None).count(), 18);
    }

    /// A run does every missing point once, in config order, reports the
    /// work it planned, saves the first point at once and then at most
    /// every SAVE_INTERVAL, and saves the rest at the end.
    #[test]
    fn a_run_does_and_saves_every_point() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("raw.csv");
        let plans = plans();
        let log = fresh_log(&path, None);
        let mut store = Checkpoint::load(&path, &plans).unwrap();
        store.insert("a", 8, 0, (0.2, vec![]));
        let stop = AtomicBool::new(false);
        assert_eq!(
            run(&plans, None, &mut store, &log, &stop).unwrap(),
            RunOutcome::Finished
        );
        let expected: f64 = points(&plans)
            .skip(1)
            .map(|(p, n, k)| p.point_work(n, k))
            .sum();
        assert_eq!(*log.total.lock().unwrap(), expected);
        assert!((*log.work.lock().unwrap() - expected).abs() <= 1e-12 * expected);
        assert_eq!(*log.finished.lock().unwrap(), 1);
        let labels = log.labels.lock().unwrap().clone();
        assert_eq!(labels.len(), 17);
        assert_eq!(labels[0], "a: N = 8, x = 0.3000");
        let saved = log.saved.lock().unwrap().clone();
        // The hand-inserted point has no trials, so it never matches the
        // plan: the file holds only the points the run did and saved.
        assert_eq!(saved[0].0, 1, "the first point is saved at once");
        let first_save = saved[0].1;
        for &(on_disk, at) in &saved[1..] {
            if at - first_save < SAVE_INTERVAL {
                assert_eq!(on_disk, 1, "saved again within {SAVE_INTERVAL:?}");
            }
        }
        let back = Checkpoint::load(&path, &plans).unwrap();
        assert_eq!(back.done.len(), 17);
        assert_eq!(back.done[&("b".to_string(), 12, 2)].1.len(), 10);
        // A second run does only the point the file lacks.
        let again = fresh_log(&path, None);
        let mut store = back;
        assert_eq!(
            run(&plans, None, &mut store, &again, &stop).unwrap(),
            RunOutcome::Finished
        );
        assert_eq!(*again.labels.lock().unwrap(), ["a: N = 8, x = 0.2000"]);
        assert_eq!(*again.total.lock().unwrap(), plans[0].point_work(8, 0));
        assert_eq!(Checkpoint::load(&path, &plans).unwrap().done.len(), 18);
    }

    /// A run interrupted after two points (within SAVE_INTERVAL of each
    /// other) saves both and says it was interrupted.
    #[test]
    fn an_interrupted_run_saves_what_it_did() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("raw.csv");
        let plans = plans();
        let log = fresh_log(&path, Some(2));
        let mut store = Checkpoint::load(&path, &plans).unwrap();
        let outcome = run(&plans, None, &mut store, &log, &log.stop).unwrap();
        assert_eq!(outcome, RunOutcome::Interrupted);
        assert_eq!(log.labels.lock().unwrap().len(), 2);
        assert_eq!(Checkpoint::load(&path, &plans).unwrap().done.len(), 2);
    }

    /// A run interrupted before its first point does nothing, writes
    /// nothing and says so.
    #[test]
    fn an_interrupted_run_stops_before_the_next_point() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("raw.csv");
        let plans = plans();
        let log = fresh_log(&path, None);
        let mut store = Checkpoint::load(&path, &plans).unwrap();
        let stop = AtomicBool::new(true);
        assert_eq!(
            run(&plans, None, &mut store, &log, &stop).unwrap(),
            RunOutcome::Interrupted
        );
        assert!(log.labels.lock().unwrap().is_empty() && store.done.is_empty());
        assert!(!path.exists());
        assert_eq!(*log.finished.lock().unwrap(), 1);
    }
}
