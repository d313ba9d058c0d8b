//! Law files: an i.i.d. pattern law written in TOML (docs/theory.md,
//! section 5).
//!
//! ```toml
//! name = "ternary-0.5"       # optional label in outputs
//! description = "..."        # optional, for people
//! [law]
//! family = "ternary"         # or gaussian, uniform, laplace, sparse-binary,
//! zero_probability = 0.5     #    gaussian-mixture, discrete
//! ```
//!
//! Parsing takes text, not a path: reading files is the caller's business.

use serde::Deserialize;

use super::Family;
use crate::ensemble::Iid;
use crate::TheoryError;

/// The top level of a law file. Unknown keys are refused.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LawFile {
    /// Label in outputs (default: the caller's default name).
    pub name: Option<String>,
    /// Free text for readers of the file.
    pub description: Option<String>,
    /// The law itself.
    pub law: Family,
}

impl LawFile {
    /// Parses law-file text.
    ///
    /// # Errors
    /// [`TheoryError::LawSyntax`] with the line and column of a TOML
    /// syntax error, an unknown key or a missing parameter.
    pub fn parse(text: &str) -> Result<LawFile, TheoryError> {
        toml::from_str(text).map_err(|e| {
            let (line, column) = key_line(text, e.message())
                .or_else(|| e.span().map(|span| line_col(text, span.start)))
                .unwrap_or((1, 1));
            TheoryError::LawSyntax {
                line,
                column,
                message: e.message().replace('\n', " "),
            }
        })
    }

    /// The ensemble of i.i.d. entries this file describes, called by its
    /// `name` or else `default_name`.
    ///
    /// # Errors
    /// [`TheoryError::InvalidLaw`] for a name unusable as a CSV label
    /// (empty, or with commas, quotes or control characters), a law that
    /// cannot be standardised, or one outside the theory.
    pub fn into_ensemble(self, default_name: &str) -> Result<Iid, TheoryError> {
        let name = self.name.unwrap_or_else(|| default_name.to_string());
        if name.trim().is_empty() || name.contains([',', '"']) || name.contains(char::is_control) {
            return Err(TheoryError::InvalidLaw(format!(
                "name {name:?} is unusable as a label in CSV outputs: give a non-empty name \
                 without commas, quotes or line breaks"
            )));
        }
        Iid::new(&name, self.law)
    }
}

/// The ensemble described by law-file `text`, called `default_name` unless
/// the file names itself.
///
/// ```
/// use damcap_theory::{law::from_toml, thresholds::alpha_1};
///
/// let ternary = from_toml("[law]\nfamily = \"ternary\"\nzero_probability = 0.5", "ternary")?;
/// // Ternary entries with P(0) = 1/2 have the binary cgf, hence the binary alpha_1.
/// let binary = damcap_theory::ensemble::by_name("binary")?;
/// let (a, b) = (alpha_1(&ternary, 2.0)?, alpha_1(binary.as_ref(), 2.0)?);
/// assert!((a - b).abs() < 1e-9);
/// # Ok::<(), damcap_theory::TheoryError>(())
/// ```
///
/// # Errors
/// As [`LawFile::parse`] and [`LawFile::into_ensemble`].
pub fn from_toml(text: &str, default_name: &str) -> Result<Iid, TheoryError> {
    LawFile::parse(text)?.into_ensemble(default_name)
}

/// Where an unknown key named in a serde message sits (or, for a missing
/// parameter, the `[law]` table that lacks it). The
/// `[law]` table is an internally tagged enum, and serde reports errors
/// inside it at the table (or at 1:1), so the key is looked up in the text
/// instead: the first line of the `[law]` table (or of the file, for a
/// top-level key) that assigns it.
fn key_line(text: &str, message: &str) -> Option<(usize, usize)> {
    let law_line = text.lines().position(|l| l.trim() == "[law]");
    if message.starts_with("missing field") && !message.contains("`law`") {
        // A parameter missing from the law: the table that lacks it.
        return law_line.map(|i| (i + 1, 1));
    }
    let key = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next())?;
    let law_start = law_line.unwrap_or(0);
    text.lines()
        .enumerate()
        .skip(law_start)
        .chain(text.lines().enumerate().take(law_start))
        .find_map(|(i, line)| {
            let trimmed = line.trim_start();
            let rest = trimmed.strip_prefix(key)?;
            let assigns = rest.trim_start().starts_with('=');
            assigns.then(|| (i + 1, line.len() - trimmed.len() + 1))
        })
}

/// The ensemble and description of a law file whose text is `text`, read
/// from `path` (which names it in errors and gives the default name, its
/// stem). Errors are the one-line messages of [`describe_error`].
///
/// # Errors
/// The message of [`describe_error`] for a syntax error or an unusable law.
pub fn from_file_text(text: &str, path: &std::path::Path) -> Result<(Iid, Option<String>), String> {
    let shown = path.display().to_string();
    let describe = |e: TheoryError| describe_error(&shown, &e);
    let file = LawFile::parse(text).map_err(describe)?;
    let default_name = path
        .file_stem()
        .map_or_else(|| "law".to_string(), |s| s.to_string_lossy().into_owned());
    let description = file.description.clone();
    let ensemble = file.into_ensemble(&default_name).map_err(describe)?;
    Ok((ensemble, description))
}

/// The one-line message of an error met while loading the law file shown
/// as `file`: where it is, what is wrong and how to fix it. Every front
/// end (the CLI, the Python module) reports law files with it, so their
/// messages agree.
pub fn describe_error(file: &str, error: &TheoryError) -> String {
    match error {
        TheoryError::LawSyntax { message, .. } => {
            let hint = if message.contains("unknown field `family`") {
                "; the law's keys go under a [law] table".to_string()
            } else {
                toml_fix(message)
            };
            format!("{file}:{error} (see the documented examples in configs/ensembles/){hint}")
        }
        other => format!("law file {file}: {other}"),
    }
}

/// The fix for a serde/TOML message that does not say it: remove or
/// rename an unknown key, add a missing one, give a value of the right
/// type (empty when there is nothing to add).
pub fn toml_fix(message: &str) -> String {
    let quoted = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(str::to_string)
    };
    if let Some(key) = quoted("unknown field `") {
        format!("; remove `{key}` or correct its spelling")
    } else if let Some(key) = quoted("missing field `") {
        format!("; add the key `{key}`")
    } else if message.starts_with("invalid type") || message.starts_with("invalid value") {
        "; give a value of the expected type".to_string()
    } else {
        String::new()
    }
}

/// 1-based line and column of a byte offset (for TOML error locations).
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_carry_their_line() {
        let err = LawFile::parse("name = \"x\"\n[law]\nfamily = \"ternary\"\nzero_prob = 0.5")
            .unwrap_err();
        match err {
            TheoryError::LawSyntax {
                line,
                column,
                message,
            } => {
                // The key's own line, not the table's (serde loses it).
                assert_eq!((line, column), (4, 1));
                assert!(message.contains("zero_prob"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    /// Lines and columns count from 1; an offset past the end is the end.
    #[test]
    fn line_col_counts_from_one() {
        let text = "ab\ncd\nef";
        let at = |offset| line_col(text, offset);
        assert_eq!([at(0), at(1), at(2)], [(1, 1), (1, 2), (1, 3)]);
        assert_eq!([at(3), at(4), at(6)], [(2, 1), (2, 2), (3, 1)]);
        assert_eq!(at(100), (3, 3));
    }

    /// A missing parameter points at the `[law]` table that lacks it; an
    /// unknown key at the line (and indentation) that assigns it, looked
    /// for from the `[law]` table on and then before it, never at a longer
    /// key that starts with the same letters.
    #[test]
    fn keys_are_found_where_they_are_assigned() {
        let text = "name = \"x\"\n\n[law]\nfamily = \"ternary\"\n  extra_long = 2\n  extra = 1\n";
        let missing = "missing field `zero_probability`";
        assert_eq!(key_line(text, missing), Some((3, 1)));
        let unknown = "unknown field `extra`, expected `family`";
        assert_eq!(key_line(text, unknown), Some((6, 3)));
        let top = "unknown field `name`, expected `law`";
        assert_eq!(key_line(text, top), Some((1, 1)));
        assert_eq!(key_line(text, "unknown field `absent`"), None);
        assert_eq!(key_line("name = \"x\"\n", "missing field `law`"), None);
        let parsed = LawFile::parse("\n[law]\nfamily = \"ternary\"\n").unwrap_err();
        assert!(
            matches!(
                parsed,
                TheoryError::LawSyntax {
                    line: 2,
                    column: 1,
                    ..
                }
            ),
            "{parsed:?}"
        );
    }

    /// Each kind of TOML message gets its fix; other errors name the file.
    #[test]
    fn errors_read_as_one_line_with_the_fix() {
        let syntax = |message: &str| TheoryError::LawSyntax {
            line: 3,
            column: 7,
            message: message.to_string(),
        };
        let described = |message: &str| describe_error("f.toml", &syntax(message));
        let examples = "(see the documented examples in configs/ensembles/)";
        assert_eq!(
            described("expected `=`"),
            format!("f.toml:3:7: expected `=` {examples}")
        );
        assert!(
            described("unknown field `family`, expected `law`").ends_with(&format!(
                "{examples}; the law's keys go under a [law] table"
            ))
        );
        assert!(described("unknown field `colour`, expected `name`")
            .ends_with("; remove `colour` or correct its spelling"));
        assert!(described("missing field `zero_probability`")
            .ends_with("; add the key `zero_probability`"));
        for message in [
            "invalid type: string \"a\", expected f64",
            "invalid value: -1",
        ] {
            assert!(described(message).ends_with("; give a value of the expected type"));
        }
        let other = TheoryError::InvalidLaw("no atoms".into());
        assert_eq!(
            describe_error("f.toml", &other),
            format!("law file f.toml: {other}")
        );
    }

    #[test]
    fn names_must_be_csv_labels() {
        for bad in ["a,b", "", "a\nb", "a\"b"] {
            let file = LawFile {
                name: Some(bad.to_string()),
                description: None,
                law: Family::Gaussian {},
            };
            assert!(matches!(
                file.into_ensemble("x"),
                Err(TheoryError::InvalidLaw(_))
            ));
        }
    }
}
