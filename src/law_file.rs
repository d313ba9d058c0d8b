//! Law files: an i.i.d. pattern law in TOML (`configs/ensembles/*.toml`).
//!
//! ```toml
//! name = "ternary-0.5"       # optional label in outputs (default: file stem)
//! description = "..."        # optional, for people
//! [law]
//! family = "ternary"         # or gaussian, uniform, laplace, sparse-binary,
//! zero_probability = 0.5     #    gaussian-mixture, discrete
//! ```
//!
//! The theory parses and standardises the text
//! ([`damcap_theory::LawFile`]) and refuses laws it cannot use; this module
//! reads the file and names it in errors.

use anyhow::Result;
use damcap_theory::law::from_file_text;
use damcap_theory::Iid;
use std::path::Path;

/// Whether a `--ensemble` value names a law file rather than a built-in.
pub fn is_law_path(value: &str) -> bool {
    value.ends_with(".toml") || value.contains(std::path::MAIN_SEPARATOR) || value.contains('/')
}

/// A law file, read and standardised.
pub struct Loaded {
    /// The ensemble of i.i.d. entries it describes.
    pub ensemble: Iid,
    /// Its `description`, if any.
    pub description: Option<String>,
}

/// The law file at `path`.
pub fn load(path: &Path) -> Result<Loaded> {
    let text = crate::output::read_input(
        path,
        "law file",
        "give a built-in ensemble name or the path of a TOML law file",
    )?;
    parse(&text, path)
}

/// Parses law-file text; `path` names the file in errors and gives the
/// default name.
fn parse(text: &str, path: &Path) -> Result<Loaded> {
    let (ensemble, description) = from_file_text(text, path).map_err(anyhow::Error::msg)?;
    Ok(Loaded {
        ensemble,
        description,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use damcap_theory::Ensemble;

    fn parse_str(text: &str) -> Result<Iid> {
        parse(text, Path::new("dir/my-law.toml")).map(|l| l.ensemble)
    }

    #[test]
    fn every_family_parses() {
        let cases = [
            "[law]\nfamily = \"gaussian\"",
            "[law]\nfamily = \"uniform\"",
            "[law]\nfamily = \"sparse-binary\"\ndensity = 0.1",
            "[law]\nfamily = \"ternary\"\nzero_probability = 0.5",
            "[law]\nfamily = \"gaussian-mixture\"\nweights = [0.5, 0.5]\nmeans = [-1, 1]\nsds = [0.5, 0.5]",
            "name = \"x\"\ndescription = \"d\"\n[law]\nfamily = \"discrete\"\nvalues = [-1, 0, 2]\nprobabilities = [0.3, 0.5, 0.2]",
        ];
        for text in cases {
            let e = parse_str(text).unwrap_or_else(|err| panic!("{text}: {err:#}"));
            // Standardised: Lambda''(0) = E a^2 = 1.
            let curvature = (e.cgf_slope(1e-4) - e.cgf_slope(-1e-4)) / 2e-4;
            assert!((curvature - 1.0).abs() < 1e-6, "{text}: {curvature}");
        }
        assert_eq!(parse_str(cases[0]).unwrap().name(), "my-law");
        assert_eq!(parse_str(cases[5]).unwrap().name(), "x");
    }

    /// Typos, missing parameters, impossible laws: one message naming the
    /// file, the line where it can, and the problem.
    #[test]
    fn bad_files_are_named_errors() {
        let cases = [
            (
                "[law]\nfamily = \"ternary\"\nzero_prob = 0.5",
                "unknown field `zero_prob`, expected `zero_probability`",
            ),
            (
                "[law]\nfamily = \"ternary\"\nzero_probability = 0.5\nextra = 1",
                "unknown field",
            ),
            ("[law]\nfamily = \"cauchy\"", "unknown variant"),
            ("[law]\nfamily = \"sparse-binary\"", "density"),
            (
                "[law]\nfamily = \"discrete\"\nvalues = [1, 1]\nprobabilities = [0.5, 0.5]",
                "point mass",
            ),
            ("[law]\nfamily = \"laplace\"", "exponential tails"),
            (
                "nmae = \"x\"\n[law]\nfamily = \"gaussian\"",
                "unknown field `nmae`",
            ),
            ("family = \"gaussian\"", "under a [law] table"),
            ("[law]\nfamily = \"gaussian\"\nsd = 2", "unknown field `sd`"),
            (
                "[law]\nfamily = \"uniform\"\nlow = 0",
                "unknown field `low`",
            ),
            ("name = \"x\"", "missing field `law`"),
            (
                "name = \"a,b\"\n[law]\nfamily = \"gaussian\"",
                "without commas",
            ),
            (
                "name = \"\"\n[law]\nfamily = \"gaussian\"",
                "non-empty name",
            ),
        ];
        for (text, expected) in cases {
            let err = format!("{:#}", parse_str(text).unwrap_err());
            assert!(err.contains("my-law.toml"), "{err}");
            assert!(err.contains(expected), "{text}: {err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }
}
