//! The `ensemble` argument: a built-in name or the path of a law file,
//! resolved as the CLI resolves `--ensemble` (`src/commands/mod.rs` and
//! `src/law_file.rs`), with the same one-line error messages. The tests
//! compare every message with the CLI's.

use std::path::{Path, PathBuf};

use damcap_theory::law::from_file_text;
use damcap_theory::{ensemble, Ensemble, Iid};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyString;

/// A theory error as a Python `ValueError` with the CLI's message.
pub fn value_error(error: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(error.to_string())
}

/// The ensemble named by a `str` (a built-in name, or a law-file path as
/// the CLI recognises one) or by an `os.PathLike` (always a law file).
pub fn resolve(arg: &Bound<'_, PyAny>) -> PyResult<Box<dyn Ensemble>> {
    if let Ok(text) = arg.cast::<PyString>() {
        let text = text.to_str()?;
        if is_law_path(text) {
            return Ok(Box::new(load(Path::new(text))?.ensemble));
        }
        return ensemble::by_name(text).map_err(value_error);
    }
    let path: PathBuf = arg.extract().map_err(|_| {
        PyTypeError::new_err(format!(
            "ensemble must be a built-in name ({}) or the path of a law file (str or os.PathLike)",
            ensemble::NAMES.join(", ")
        ))
    })?;
    Ok(Box::new(load(&path)?.ensemble))
}

/// Whether a name is a law-file path: the CLI's rule (a `.toml` ending or
/// a path separator).
fn is_law_path(value: &str) -> bool {
    value.ends_with(".toml") || value.contains(std::path::MAIN_SEPARATOR) || value.contains('/')
}

/// A law file, read and standardised.
pub struct Loaded {
    /// The ensemble of i.i.d. entries it describes.
    pub ensemble: Iid,
    /// Its `description`, if any.
    pub description: Option<String>,
}

/// Reads and parses the law file at `path`; errors name the file as the
/// CLI's do (the theory's `from_file_text`; reading refuses anything but a
/// regular file, as the CLI's `read_input` does).
pub fn load(path: &Path) -> PyResult<Loaded> {
    let shown = path.display().to_string();
    let unreadable = |reason: String| {
        value_error(format!(
            "cannot read law file {shown}: {reason}; give a built-in ensemble name or the path of a TOML law file"
        ))
    };
    let meta = std::fs::metadata(path).map_err(|e| unreadable(e.to_string()))?;
    if !meta.is_file() {
        return Err(unreadable("it is not a regular file".into()));
    }
    let text = std::fs::read_to_string(path).map_err(|e| unreadable(e.to_string()))?;
    let (ensemble, description) = from_file_text(&text, path).map_err(value_error)?;
    Ok(Loaded {
        ensemble,
        description,
    })
}
