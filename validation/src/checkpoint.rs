//! The raw per-trial CSV, which doubles as the checkpoint a rerun resumes
//! from. Rows are (de)serialised by the `csv` crate through [`RawRow`];
//! the file is only ever replaced atomically (a temporary file renamed
//! over it), so an interrupted or killed run leaves either the previous
//! or the new checkpoint, never a partial one.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::runner::{shard_points, Shard};
use crate::spec::Plan;
use crate::study::TrialRecord;
use crate::ValidationError;

/// One row of the raw CSV: a trial and the point it belongs to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RawRow {
    /// Study name.
    pub study: String,
    /// System size.
    pub n: usize,
    /// Index of the grid value.
    pub x_index: usize,
    /// The grid value.
    pub x: f64,
    /// Trial index within the point.
    pub trial: u64,
    /// Seed of the trial's generator.
    pub seed: u64,
    /// Whether the trial counts as retrieved.
    pub retrieved: bool,
    /// Final normalised overlap.
    pub final_overlap: f64,
    /// Steps of the dynamics.
    pub steps: usize,
    /// Softmax weight of `xi^1` at the first step; for an all-patterns
    /// trial, the smallest self-weight if retrieved, else the first failing
    /// self-weight found (an upper bound on the smallest, see
    /// [`TrialRecord::w1_first`]).
    pub w1_first: f64,
    /// Softmax weight of `xi^1` at the final state.
    pub w1_last: f64,
}

/// The columns of the raw CSV, in order.
pub const RAW_COLUMNS: [&str; 11] = [
    "study",
    "n",
    "x_index",
    "x",
    "trial",
    "seed",
    "retrieved",
    "final_overlap",
    "steps",
    "w1_first",
    "w1_last",
];

/// A finished point: its grid value and its trials in trial order.
pub type PointRecords = (f64, Vec<TrialRecord>);

/// Finished points keyed by `(study name, N, grid index)`.
pub type Done = BTreeMap<(String, usize, usize), PointRecords>;

/// The finished points of a run and the file that keeps them.
#[derive(Debug)]
pub struct Checkpoint {
    path: PathBuf,
    /// Every finished point.
    pub done: Done,
    /// Where the earlier file was copied when some of its points belong
    /// to another seed or config (they are never silently discarded).
    pub set_aside: Option<PathBuf>,
}

impl Checkpoint {
    /// Reads the finished points of an earlier run at `path` (none if the
    /// file does not exist), keeping those whose grid value, trial count
    /// and seeds match `plans`. If the file holds other points too (another
    /// seed or config), it is first copied to [`Checkpoint::set_aside`], so
    /// that the next save loses nothing.
    ///
    /// # Errors
    /// [`ValidationError::Checkpoint`] when the file exists but cannot be
    /// read or copied, or is not a damcap raw CSV.
    pub fn load(path: &Path, plans: &[Plan]) -> Result<Checkpoint, ValidationError> {
        let (mut store, stale) = Checkpoint::read(path, plans)?;
        if stale > 0 {
            store.set_aside = Some(set_aside(path)?);
        }
        Ok(store)
    }

    /// The points of `path` that match `plans`, and how many stored points
    /// do not; no side effects.
    fn read(path: &Path, plans: &[Plan]) -> Result<(Checkpoint, usize), ValidationError> {
        let mut done = Done::new();
        match std::fs::read(path) {
            // An empty file (one just created to link to, say) holds nothing.
            Ok(bytes) if bytes.is_empty() => {}
            Ok(bytes) => read_rows(&bytes, &mut done).map_err(|m| checkpoint_error(path, m))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(checkpoint_error(path, format!("cannot read it: {e}"))),
        }
        let stored = done.len();
        done.retain(|key, point| matches_plan(plans, key, point));
        let stale = stored - done.len();
        let store = Checkpoint {
            path: path.to_path_buf(),
            done,
            set_aside: None,
        };
        Ok((store, stale))
    }

    /// Combines the raw CSVs of the `count` shards of a run of `plans`
    /// ([`shard_path`] of `path`) into one checkpoint at `path`, after
    /// checking that each shard is complete and from the same config and
    /// seed.
    ///
    /// # Errors
    /// [`ValidationError::Checkpoint`] naming the first shard that is
    /// missing, incomplete, or holds points of another seed or config.
    pub fn merge(path: &Path, plans: &[Plan], count: usize) -> Result<Checkpoint, ValidationError> {
        let mut merged = Checkpoint {
            path: path.to_path_buf(),
            done: Done::new(),
            set_aside: None,
        };
        for index in 1..=count {
            let shard = Shard::new(index, count)?;
            let file = shard_path(path, shard);
            if !file.exists() {
                let fix = format!("run `damcap validate CONFIG --shard {index}/{count}` first");
                return Err(checkpoint_error(&file, format!("missing; {fix}")));
            }
            let (store, stale) = Checkpoint::read(&file, plans)?;
            if stale > 0 {
                return Err(checkpoint_error(
                    &file,
                    format!("{stale} points come from another seed or config; rerun this shard"),
                ));
            }
            let missing = shard_points(plans, Some(shard))
                .filter(|(p, n, k)| !store.contains(&p.spec.name, *n, *k))
                .count();
            if missing > 0 {
                return Err(checkpoint_error(
                    &file,
                    format!(
                        "{missing} points are not finished; rerun `damcap validate CONFIG --shard {index}/{count}`"
                    ),
                ));
            }
            merged.done.extend(store.done);
        }
        Ok(merged)
    }

    /// Where the checkpoint is kept.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the point `(study, n, k)` is finished.
    pub fn contains(&self, study: &str, n: usize, k: usize) -> bool {
        self.done.contains_key(&(study.to_string(), n, k))
    }

    /// Records a finished point (not yet saved).
    pub fn insert(&mut self, study: &str, n: usize, k: usize, point: PointRecords) {
        self.done.insert((study.to_string(), n, k), point);
    }

    /// Rewrites the file with every finished point, atomically.
    ///
    /// # Errors
    /// [`ValidationError::Checkpoint`] when the file cannot be written.
    pub fn save(&self) -> Result<(), ValidationError> {
        let bytes = self.to_csv().map_err(|m| checkpoint_error(&self.path, m))?;
        write_atomic(&self.path, &bytes)
            .map_err(|e| checkpoint_error(&self.path, format!("cannot write it: {e}")))
    }

    /// The raw CSV text of every finished point.
    fn to_csv(&self) -> Result<Vec<u8>, String> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        if self.done.is_empty() {
            writer
                .write_record(RAW_COLUMNS)
                .map_err(|e| e.to_string())?;
        }
        for ((study, n, k), (x, records)) in &self.done {
            for r in records {
                writer
                    .serialize(RawRow {
                        study: study.clone(),
                        n: *n,
                        x_index: *k,
                        x: *x,
                        trial: r.trial,
                        seed: r.seed,
                        retrieved: r.retrieved,
                        final_overlap: r.final_overlap,
                        steps: r.steps,
                        w1_first: r.w1_first,
                        w1_last: r.w1_last,
                    })
                    .map_err(|e| e.to_string())?;
            }
        }
        writer.into_inner().map_err(|e| e.to_string())
    }
}

/// The raw CSV of shard `K/M` beside `path`: `raw.csv` becomes
/// `raw.shard-K-of-M.csv`.
pub fn shard_path(path: &Path, shard: Shard) -> PathBuf {
    let stem = path
        .file_stem()
        .map_or_else(|| "raw".into(), |s| s.to_string_lossy().into_owned());
    let ext = path
        .extension()
        .map_or_else(String::new, |e| format!(".{}", e.to_string_lossy()));
    path.with_file_name(format!(
        "{stem}.shard-{}-of-{}{ext}",
        shard.index, shard.count
    ))
}

/// Parses raw CSV bytes into finished points.
fn read_rows(bytes: &[u8], done: &mut Done) -> Result<(), String> {
    let mut reader = csv::Reader::from_reader(bytes);
    let header = reader.headers().map_err(|e| e.to_string())?;
    if header.iter().ne(RAW_COLUMNS) {
        return Err("exists but is not a damcap raw CSV; move it away or change raw_csv".into());
    }
    for row in reader.deserialize::<RawRow>() {
        let row = row.map_err(|e| format!("malformed row: {e}"))?;
        done.entry((row.study, row.n, row.x_index))
            .or_insert_with(|| (row.x, Vec::new()))
            .1
            .push(TrialRecord {
                trial: row.trial,
                seed: row.seed,
                retrieved: row.retrieved,
                final_overlap: row.final_overlap,
                steps: row.steps,
                w1_first: row.w1_first,
                w1_last: row.w1_last,
            });
    }
    Ok(())
}

/// Whether a stored point belongs to one of the plans: same study, size,
/// grid value, trial count and seeds.
fn matches_plan(
    plans: &[Plan],
    (study, n, k): &(String, usize, usize),
    point: &PointRecords,
) -> bool {
    let (x, records) = point;
    plans.iter().any(|p| {
        p.spec.name == *study
            && p.spec.sizes.contains(n)
            && p.grid(*n)
                .get(*k)
                .is_some_and(|g| (g - *x).abs() <= 1e-12 * g.abs().max(1.0))
            && records.len() as u64 == p.spec.trials
            && records
                .iter()
                .all(|r| r.seed == p.key(*n, *k).trial(r.trial))
    })
}

/// Copies the file at `path` to the first free `<path>.stale-K`, so that
/// points of another seed or config survive the next save.
fn set_aside(path: &Path) -> Result<PathBuf, ValidationError> {
    let aside = (1..)
        .map(|k| PathBuf::from(format!("{}.stale-{k}", path.display())))
        .find(|p| !p.exists())
        .expect("some suffix is free");
    std::fs::copy(path, &aside)
        .map_err(|e| checkpoint_error(path, format!("cannot copy it aside: {e}")))?;
    Ok(aside)
}

fn checkpoint_error(path: &Path, message: impl Into<String>) -> ValidationError {
    ValidationError::Checkpoint {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over
/// `path`.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(bytes)?;
    // Readable by others like any ordinary output (temporary files are 0600).
    file.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::StudySpec;

    /// A first-step study of gaussian patterns: sizes 8, 10 and 12, three
    /// grid points each (nine points), `trials` trials each.
    fn plan(name: &str, seed: u64, trials: u64) -> Plan {
        plan_on(name, seed, trials, (0.2, 0.4))
    }

    /// [`plan`] on the grid `min..max`.
    fn plan_on(name: &str, seed: u64, trials: u64, (min, max): (f64, f64)) -> Plan {
        let spec: StudySpec = toml::from_str(&format!(
            "name = \"{name}\"\nobservable = \"alpha_1\"\nlambda = 0.5\nmethod = \"first-step\"\nsizes = [8, 10, 12]\n\
             grid = {{ min = {min}, max = {max}, points = 3 }}\ntrials = {trials}\n"
        ))
        .expect("parses");
        let gaussian = damcap_theory::by_name("gaussian").expect("built-in");
        Plan::new(&spec, gaussian.as_ref(), seed, 1 << 30).expect("valid")
    }

    /// The point `(n, k)` of `plan` with the seeds the plan gives its trials.
    fn point(plan: &Plan, n: usize, k: usize) -> PointRecords {
        let key = plan.key(n, k);
        let records = (0..plan.spec.trials)
            .map(|trial| TrialRecord {
                trial,
                seed: key.trial(trial),
                retrieved: trial % 2 == 0,
                final_overlap: 0.25 * trial as f64,
                steps: 1 + trial as usize,
                w1_first: 0.125,
                w1_last: f64::NAN,
            })
            .collect();
        (plan.grid(n)[k], records)
    }

    /// A checkpoint at `path` holding every point of `plan`.
    fn full(path: &Path, plan: &Plan) -> Checkpoint {
        let mut store = Checkpoint::load(path, std::slice::from_ref(plan)).expect("loads");
        for n in [8, 10, 12] {
            for k in 0..3 {
                store.insert(&plan.spec.name, n, k, point(plan, n, k));
            }
        }
        store
    }

    fn same(a: &Done, b: &Done) -> bool {
        // NaN w1_last: compare through the CSV text.
        let csv = |done: &Done| {
            let c = Checkpoint {
                path: PathBuf::new(),
                done: done.clone(),
                set_aside: None,
            };
            c.to_csv().expect("serialises")
        };
        csv(a) == csv(b)
    }

    /// Saved points load back unchanged, in a file readable by others;
    /// nothing is set aside when every point belongs to the plans.
    #[test]
    fn saved_points_load_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("raw.csv");
        let plan = plan("s", 1, 10);
        let none = Checkpoint::load(&path, std::slice::from_ref(&plan)).unwrap();
        assert!(
            none.done.is_empty() && none.set_aside.is_none(),
            "no file yet"
        );
        let store = full(&path, &plan);
        assert_eq!(store.path(), path);
        store.save().unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
        let back = Checkpoint::load(&path, &[plan]).unwrap();
        assert_eq!(back.done.len(), 9);
        assert!(same(&back.done, &store.done));
        assert!(
            back.contains("s", 10, 2) && !back.contains("s", 10, 3) && !back.contains("t", 8, 0)
        );
        assert!(back.set_aside.is_none());
    }

    /// The temporary file is written beside the checkpoint and renamed
    /// over it: in a directory on another file system than the working
    /// directory (a tmpfs, where there is one), the rename still works and
    /// leaves nothing else behind.
    #[test]
    fn saves_beside_the_file() {
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let dir = tempfile::tempdir_in(base).unwrap();
        let path = dir.path().join("raw.csv");
        let plan = plan("s", 1, 10);
        full(&path, &plan).save().unwrap();
        full(&path, &plan).save().unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["raw.csv"]);
        assert_eq!(Checkpoint::load(&path, &[plan]).unwrap().done.len(), 9);
    }

    /// An empty checkpoint is the header line alone; an empty file holds
    /// no points.
    #[test]
    fn empty_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("raw.csv");
        let plan = plan("s", 1, 10);
        Checkpoint::load(&path, std::slice::from_ref(&plan))
            .unwrap()
            .save()
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("{}\n", RAW_COLUMNS.join(",")));
        std::fs::write(&path, "").unwrap();
        let store = Checkpoint::load(&path, &[plan]).unwrap();
        assert!(store.done.is_empty() && store.set_aside.is_none());
    }

    /// A stored point is kept only if its study, size, grid value, trial
    /// count and seeds all match a plan; otherwise the whole file is first
    /// copied to the next free `.stale-K`.
    #[test]
    fn points_of_another_run_are_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("raw.csv");
        let plan = plan("s", 1, 10);
        full(&path, &plan).save().unwrap();
        let original = std::fs::read(&path).unwrap();
        let others = [
            ("another study", self::plan("t", 1, 10)),
            ("another seed", self::plan("s", 2, 10)),
            ("another trial count", self::plan("s", 1, 11)),
        ];
        for (k, (what, other)) in others.into_iter().enumerate() {
            let store = Checkpoint::load(&path, &[other]).unwrap();
            assert!(store.done.is_empty(), "{what}");
            let aside = dir.path().join(format!("raw.csv.stale-{}", k + 1));
            assert_eq!(store.set_aside.as_deref(), Some(aside.as_path()), "{what}");
            assert_eq!(std::fs::read(&aside).unwrap(), original);
        }
        // One point with a moved grid value, one at a size no longer
        // studied: only those two are dropped.
        let mut store = Checkpoint::load(&path, std::slice::from_ref(&plan)).unwrap();
        let (x, records) = point(&plan, 8, 1);
        store.insert("s", 8, 1, (x * (1.0 + 1e-9), records));
        store.insert("s", 14, 0, point(&plan, 8, 0));
        store.save().unwrap();
        let kept = Checkpoint::load(&path, std::slice::from_ref(&plan)).unwrap();
        assert_eq!(kept.done.len(), 8);
        assert!(!kept.contains("s", 8, 1) && !kept.contains("s", 14, 0));
        assert!(kept.set_aside.is_some());
        // A grid value off by rounding only (1e-13 relative) still matches.
        let (x, records) = point(&plan, 8, 1);
        store.insert("s", 8, 1, (x * (1.0 + 1e-13), records));
        store.save().unwrap();
        assert!(Checkpoint::load(&path, &[plan])
            .unwrap()
            .contains("s", 8, 1));
    }

    /// Grid values match to 1e-12 of their size (or absolutely below 1):
    /// on a grid of 20 to 40, 1e-13 relative is a match, 1e-11 is not.
    #[test]
    fn grid_values_match_relative_to_their_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("raw.csv");
        let plan = plan_on("s", 1, 10, (20.0, 40.0));
        for (shift, kept) in [(1e-13, true), (1e-11, false)] {
            let mut store = full(&path, &plan);
            let (x, records) = point(&plan, 8, 1);
            assert_eq!(x, 30.0);
            store.insert("s", 8, 1, (x * (1.0 + shift), records));
            store.save().unwrap();
            let back = Checkpoint::load(&path, std::slice::from_ref(&plan)).unwrap();
            assert_eq!(back.contains("s", 8, 1), kept, "{shift}");
        }
    }

    #[test]
    fn foreign_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("raw.csv");
        let plans = [plan("s", 1, 10)];
        let error = |path: &Path| Checkpoint::load(path, &plans).unwrap_err().to_string();
        std::fs::write(&path, "a,b\n1,2\n").unwrap();
        assert!(error(&path).contains("is not a damcap raw CSV"));
        let header = RAW_COLUMNS.join(",");
        std::fs::write(
            &path,
            format!("{header}\ns,8,0,0.2,0,1,maybe,0,1,0.5,0.5\n"),
        )
        .unwrap();
        assert!(error(&path).contains("malformed row"));
        assert!(error(dir.path()).contains("cannot read it"));
        let missing = dir.path().join("no/such/dir/raw.csv");
        let store = Checkpoint::load(&missing, &plans).unwrap();
        assert!(store
            .save()
            .unwrap_err()
            .to_string()
            .contains("cannot write it"));
    }

    #[test]
    fn shard_files_sit_beside_the_checkpoint() {
        let shard = Shard::new(2, 3).unwrap();
        let path = |p: &str| shard_path(Path::new(p), shard);
        assert_eq!(path("out/raw.csv"), Path::new("out/raw.shard-2-of-3.csv"));
        assert_eq!(path("out/raw"), Path::new("out/raw.shard-2-of-3"));
        assert_eq!(path("/"), Path::new("/raw.shard-2-of-3"));
    }

    /// Shards merge only when each is there, complete and of this run.
    #[test]
    fn shards_merge_when_complete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("raw.csv");
        let plans = [plan("s", 1, 10)];
        let merge = || Checkpoint::merge(&path, &plans, 2);
        assert!(merge()
            .unwrap_err()
            .to_string()
            .contains("missing; run `damcap validate CONFIG --shard 1/2` first"));
        for index in 1..=2 {
            let shard = Shard::new(index, 2).unwrap();
            let mut store = Checkpoint::load(&shard_path(&path, shard), &plans).unwrap();
            for (p, n, k) in shard_points(&plans, Some(shard)) {
                store.insert("s", n, k, point(p, n, k));
            }
            store.save().unwrap();
        }
        let merged = merge().unwrap();
        assert_eq!(merged.done.len(), 9);
        assert_eq!(merged.path(), path);
        // Shard 2 holds points 1, 3, 5 and 7 (round-robin): drop one.
        let second = shard_path(&path, Shard::new(2, 2).unwrap());
        let mut store = Checkpoint::load(&second, &plans).unwrap();
        store.done.pop_last();
        store.save().unwrap();
        assert!(merge()
            .unwrap_err()
            .to_string()
            .contains("1 points are not finished"));
        let stale = Checkpoint::load(&second, &[plan("s", 2, 10)]).unwrap();
        assert!(stale.done.is_empty());
        let mut store = Checkpoint::load(&second, &plans).unwrap();
        store.insert("s", 8, 1, point(&plan("s", 2, 10), 8, 1));
        store.save().unwrap();
        assert!(merge()
            .unwrap_err()
            .to_string()
            .contains("1 points come from another seed or config"));
    }
}
