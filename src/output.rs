//! Writing results: atomic file writes and CSV/JSON formatting.
//!
//! Every file is written to a temporary file in the destination directory
//! and renamed into place, so a failed or interrupted run never leaves a
//! half-written file behind.

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The directory a file will be written to (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Fails early, before any computation, if `path` cannot be written.
pub fn check_writable(path: &Path) -> Result<()> {
    if path.is_dir() {
        anyhow::bail!(
            "cannot write {}: it is a directory; give a file name",
            path.display()
        );
    }
    let dir = parent_dir(path);
    tempfile::NamedTempFile::new_in(dir).map(drop).map_err(|_| {
        anyhow::anyhow!(
            "cannot write {}: directory {} is missing or not writable; create it or choose another path",
            path.display(),
            dir.display()
        )
    })
}

/// Writes `contents` to `path` atomically (temporary file, then rename).
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    check_writable(path)?;
    let mut file = tempfile::NamedTempFile::new_in(parent_dir(path))
        .with_context(|| format!("cannot create a temporary file beside {}", path.display()))?;
    // Readable by others like any ordinary output (temporary files are 0600).
    file.write_all(contents)
        .and_then(|_| file.flush())
        .and_then(|_| {
            file.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644))
        })
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot move the finished file to {}", path.display()))?;
    Ok(())
}

/// A CSV table built in memory: a header and rows of already formatted cells.
#[derive(Debug, Default)]
pub struct Csv {
    text: String,
}

impl Csv {
    /// A table with the given column names.
    pub fn new(columns: &[&str]) -> Self {
        Csv {
            text: columns.join(",") + "\n",
        }
    }

    /// Appends one row.
    pub fn row<S: AsRef<str>>(&mut self, cells: &[S]) {
        let cells: Vec<&str> = cells.iter().map(|c| c.as_ref()).collect();
        self.text.push_str(&cells.join(","));
        self.text.push('\n');
    }

    /// The table as text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// A progress bar on standard error for `len` items of `unit`, drawn only
/// when standard error is a terminal (indicatif hides it otherwise), so
/// that logs and pipes stay clean.
pub fn progress_bar(len: usize, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    let template = format!(
        "{{spinner}} [{{elapsed_precise}}] {{bar:30}} {{pos}}/{{len}} {unit}, eta {{eta}} {{msg}}"
    );
    bar.set_style(
        ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        write_atomic(&path, b"a\n").unwrap();
        write_atomic(&path, b"b\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "b\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn missing_directory_is_reported_with_a_fix() {
        let err = write_atomic(Path::new("/nonexistent-dir/x.csv"), b"").unwrap_err();
        assert!(format!("{err:#}").contains("create it or choose another path"));
    }
}
