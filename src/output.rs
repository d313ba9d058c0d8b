//! Writing results: atomic file writes and CSV/JSON formatting.
//!
//! Every file is written to a temporary file in the destination directory
//! and renamed into place, so a failed or interrupted run never leaves a
//! half-written file behind.

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

/// The directory a file will be written to (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The file an output path will really write: the path itself, or for a
/// symbolic link its target (the link is written through, never
/// replaced). Refuses directories, devices, FIFOs, sockets and dangling
/// links, whose replacement by a regular file would lose them.
pub fn resolve_output(path: &Path) -> Result<PathBuf> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(path.to_path_buf());
    };
    let target = if meta.file_type().is_symlink() {
        std::fs::canonicalize(path).map_err(|_| {
            anyhow::anyhow!(
                "cannot write {}: it is a symbolic link to a missing file; remove the link or choose another path",
                path.display()
            )
        })?
    } else {
        path.to_path_buf()
    };
    let kind = std::fs::metadata(&target)
        .with_context(|| format!("cannot inspect output {}", path.display()))?
        .file_type();
    let what = if kind.is_file() {
        return Ok(target);
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    };
    bail!(
        "cannot write {}: it is {what}, which an output would replace; give the path of a regular file",
        path.display()
    )
}

/// Reads an input file (config, law file) as text, refusing anything but
/// a regular file first: reading a FIFO would block forever, a device
/// never ends. Errors read "cannot read {what} {path}: {reason}; {fix}".
pub fn read_input(path: &Path, what: &str, fix: &str) -> Result<String> {
    let fail =
        |reason: String| anyhow::anyhow!("cannot read {what} {}: {reason}; {fix}", path.display());
    let meta = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?;
    if !meta.is_file() {
        return Err(fail("it is not a regular file".into()));
    }
    std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))
}

/// The canonical form of a path that may not exist yet: its nearest
/// existing ancestor canonicalised, then the remaining components
/// (`.` and `..` applied lexically).
fn canonical(path: &Path) -> Result<PathBuf> {
    let absolute = std::env::current_dir()?.join(path);
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    while std::fs::symlink_metadata(existing).is_err() {
        rest.push(existing.file_name().map(|n| n.to_os_string()));
        existing = existing.parent().unwrap_or(Path::new("/"));
    }
    let mut result = std::fs::canonicalize(existing)
        .with_context(|| format!("cannot resolve {}", path.display()))?;
    for name in rest.into_iter().rev() {
        match name {
            Some(name) => match Path::new(&name).components().next() {
                Some(Component::ParentDir) => {
                    result.pop();
                }
                Some(Component::CurDir) | None => {}
                Some(_) => result.push(name),
            },
            None => {
                result.pop();
            }
        }
    }
    Ok(result)
}

/// Creates the missing directories above `path` when they lie inside the
/// working directory (e.g. `plots/validation/` of a fresh clone, which is
/// not tracked); elsewhere says what to create.
fn ensure_parent(path: &Path) -> Result<()> {
    let dir = parent_dir(path);
    if dir.is_dir() {
        return Ok(());
    }
    let inside = canonical(dir)?.starts_with(std::fs::canonicalize(std::env::current_dir()?)?);
    if !inside {
        bail!(
            "cannot write {}: directory {} does not exist; create it (mkdir -p {}) or choose another path",
            path.display(),
            dir.display(),
            dir.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| {
        format!(
            "cannot create directory {} for {}; create it or choose another path",
            dir.display(),
            path.display()
        )
    })
}

/// Fails early, before any computation, if `path` cannot be written:
/// see [`resolve_output`]; missing directories inside the working
/// directory are created.
pub fn check_writable(path: &Path) -> Result<()> {
    let target = resolve_output(path)?;
    ensure_parent(&target)?;
    let dir = parent_dir(&target);
    tempfile::NamedTempFile::new_in(dir).map(drop).map_err(|_| {
        anyhow::anyhow!(
            "cannot write {}: directory {} is not writable; fix its permissions or choose another path",
            path.display(),
            dir.display()
        )
    })
}

/// Checks every output of a run before any work runs, each labelled by
/// its key or flag (e.g. `("svg", path)`): each is writable
/// ([`check_writable`], which creates missing directories inside the
/// working directory), none is one of the run's `inputs` (e.g.
/// `("config", path)`), and no two outputs are the same file, compared
/// as canonical paths (through symbolic links, and for files that do not
/// exist yet through their canonical parent). Nothing is created unless
/// every check passes.
pub fn plan_outputs(inputs: &[(&str, &Path)], outputs: &[(&str, &Path)]) -> Result<()> {
    let mut seen: Vec<(&str, &Path, PathBuf)> = Vec::new();
    for (label, path) in inputs {
        seen.push((label, path, canonical(path)?));
    }
    let input_count = seen.len();
    for (label, path) in outputs {
        let key = canonical(&resolve_output(path)?)?;
        if let Some((k, (other, other_path, _))) = seen.iter().enumerate().find(|(_, s)| s.2 == key)
        {
            if k < input_count {
                bail!(
                    "{label} = {} is the {other} {} itself, which the run would overwrite; choose another path for {label}",
                    path.display(),
                    other_path.display()
                );
            }
            bail!(
                "{other} = {} and {label} = {} are the same file, so one would overwrite the other; give each output its own path",
                other_path.display(),
                path.display()
            );
        }
        seen.push((label, path, key));
    }
    for (_, path) in outputs {
        check_writable(path)?;
    }
    Ok(())
}

/// Writes `contents` to `path` atomically (temporary file, then rename),
/// through a symbolic link to its target, never over a special file.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    check_writable(path)?;
    let target = resolve_output(path)?;
    let mut file = tempfile::NamedTempFile::new_in(parent_dir(&target))
        .with_context(|| format!("cannot create a temporary file beside {}", path.display()))?;
    // Readable by others like any ordinary output (temporary files are 0600).
    file.write_all(contents)
        .and_then(|_| file.flush())
        .and_then(|_| {
            file.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644))
        })
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.persist(&target)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot move the finished file to {}", path.display()))?;
    Ok(())
}

/// A number for people and CSV cells: the shortest text that reads back
/// to the same `f64`, in scientific notation when huge or tiny (a
/// lambda of 1e300 is not written with 301 digits).
pub fn number(x: f64) -> String {
    if x != 0.0 && x.is_finite() && !(1e-4..1e9).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        x.to_string()
    }
}

/// `x` with `digits` decimals, or as many significant digits in
/// scientific notation when huge or tiny.
pub fn fixed(x: f64, digits: usize) -> String {
    if x != 0.0 && x.is_finite() && !(1e-4..1e9).contains(&x.abs()) {
        format!("{x:.digits$e}")
    } else {
        format!("{x:.digits$}")
    }
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
        assert!(
            format!("{err:#}").contains("mkdir -p /nonexistent-dir"),
            "{err:#}"
        );
    }

    #[test]
    fn special_files_are_refused_and_links_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let err = check_writable(Path::new("/dev/null")).unwrap_err();
        assert!(format!("{err:#}").contains("a device"), "{err:#}");
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let err = write_atomic(&fifo, b"x").unwrap_err();
        assert!(format!("{err:#}").contains("FIFO"), "{err:#}");
        let target = dir.path().join("target.csv");
        std::fs::write(&target, "old").unwrap();
        let link = dir.path().join("link.csv");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
    }

    #[test]
    fn outputs_must_differ_from_inputs_and_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("c.toml");
        std::fs::write(&config, "x").unwrap();
        let err = plan_outputs(&[("config", &config)], &[("svg", &config)]).unwrap_err();
        assert!(format!("{err:#}").contains("itself"), "{err:#}");
        let a = dir.path().join("new/a.svg");
        let b = dir.path().join("new/../new/a.svg");
        let err = plan_outputs(&[], &[("svg", &a), ("csv", &b)]).unwrap_err();
        assert!(format!("{err:#}").contains("same file"), "{err:#}");
        // Nothing was created by the refused plan.
        assert!(!dir.path().join("new").exists());
    }

    #[test]
    fn numbers_switch_to_scientific_notation() {
        assert_eq!(number(1e300), "1e300");
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(2.5e-7), "2.5e-7");
        assert_eq!(fixed(0.25, 3), "0.250");
        assert_eq!(fixed(1e-300, 3), "1.000e-300");
    }
}
