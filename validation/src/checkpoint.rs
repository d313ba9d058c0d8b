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
