//! TOML study configurations. One file describes one figure or study;
//! its `kind` selects the schema. Unknown keys are errors, so a typo
//! never silently falls back to a default.

use anyhow::{bail, Result};
use damcap_theory::law::{line_col, toml_fix};
use damcap_validation::StudySpec;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A figure or study configuration, selected by its `kind` key.
#[derive(Debug)]
pub enum Config {
    /// alpha_1 and alpha_c in the alpha-lambda plane, one panel per ensemble.
    PhaseDiagram(PhaseDiagram),
    /// alpha_1 of every ensemble in one panel, alpha_c in another (same
    /// schema as a phase diagram).
    LawComparison(PhaseDiagram),
    /// One-step basins rho_min against alpha at several lambda.
    Basins(Basins),
    /// Monte Carlo studies checked against the theory.
    Validate(Validate),
}

/// A grid of inverse temperatures.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct LambdaGrid {
    /// Smallest lambda (> 0).
    pub min: f64,
    /// Largest lambda (> min).
    pub max: f64,
    /// Number of grid points (>= 2).
    pub points: usize,
    /// Geometric instead of uniform spacing.
    #[serde(default)]
    pub log: bool,
}

impl LambdaGrid {
    /// Checks the grid and returns its points.
    pub fn values(&self) -> Result<Vec<f64>> {
        if !(self.min > 0.0 && self.max.is_finite() && self.max > self.min) {
            bail!(
                "lambda grid [{}, {}] is invalid: need 0 < min < max < infinity",
                self.min,
                self.max
            );
        }
        if self.points < 2 {
            bail!("lambda grid needs at least 2 points, got {}", self.points);
        }
        let n = (self.points - 1) as f64;
        Ok((0..self.points)
            .map(|k| {
                let f = k as f64 / n;
                if self.log {
                    self.min * (self.max / self.min).powf(f)
                } else {
                    self.min + (self.max - self.min) * f
                }
            })
            .collect())
    }
}

/// `kind = "phase-diagram"` or `kind = "law-comparison"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseDiagram {
    /// The `kind` key, already read to choose this schema.
    #[serde(rename = "kind")]
    _kind: serde::de::IgnoredAny,
    /// Figure title.
    pub title: String,
    /// Built-in ensemble names or law-file paths (relative to the
    /// directory damcap runs from).
    pub ensembles: Vec<String>,
    /// Inverse temperatures on the horizontal axis.
    pub lambda: LambdaGrid,
    /// Where the SVG goes.
    pub svg: PathBuf,
    /// Where the CSV of the curves goes.
    pub csv: PathBuf,
}

/// `kind = "basins"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Basins {
    /// The `kind` key, already read to choose this schema.
    #[serde(rename = "kind")]
    _kind: serde::de::IgnoredAny,
    /// Figure title.
    pub title: String,
    /// Ensemble names, one panel each.
    pub ensembles: Vec<String>,
    /// One curve per inverse temperature.
    pub lambdas: Vec<f64>,
    /// Points per curve along alpha in (0, alpha_1(lambda)).
    pub alpha_points: usize,
    /// Where the SVG goes.
    pub svg: PathBuf,
    /// Where the CSV of the curves goes.
    pub csv: PathBuf,
}

/// `kind = "validate"`: finite-N simulation studies of one ensemble.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Validate {
    /// The `kind` key, already read to choose this schema.
    #[serde(rename = "kind")]
    _kind: serde::de::IgnoredAny,
    /// Figure title.
    pub title: String,
    /// Master seed: every trial's generator is derived from it.
    pub seed: u64,
    /// Ensemble name.
    pub ensemble: String,
    /// Raw per-trial CSV; also the checkpoint a rerun resumes from.
    pub raw_csv: PathBuf,
    /// Summary JSON, one entry per study.
    pub summary_json: PathBuf,
    /// SVG overlay of simulation and theory.
    pub svg: PathBuf,
    /// GiB of pattern matrices allowed in memory at once (all threads
    /// together); a point that needs more is refused before any work.
    #[serde(default = "default_memory_gib")]
    pub memory_gib: f64,
    /// The studies, run in order.
    pub study: Vec<StudySpec>,
}

/// Most GiB of pattern matrices a config may allow (`memory_gib`): far
/// above any workstation, so the machine, not this cap, is the limit.
const MAX_MEMORY_GIB: f64 = 4096.0;

impl Validate {
    /// The memory budget in bytes, refused unless `memory_gib` is a
    /// positive number of GiB.
    pub fn memory_limit(&self) -> Result<u64> {
        let gib = self.memory_gib;
        if !(gib > 0.0 && gib <= MAX_MEMORY_GIB) {
            bail!(
                "memory_gib = {gib} is not a usable budget: give a positive number of GiB \
                 (at most {MAX_MEMORY_GIB}), at most the machine's free memory"
            );
        }
        Ok((gib * f64::from(1u32 << 30)) as u64)
    }
}

/// Default of [`Validate::memory_gib`]: fits a laptop next to other work.
fn default_memory_gib() -> f64 {
    4.0
}

/// Reads and parses a configuration file, with errors that name the file,
/// the line and the problem.
pub fn load(path: &Path) -> Result<Config> {
    let text = crate::output::read_input(path, "config", "check the path")?;
    parse(&text).map_err(|e| anyhow::anyhow!("{}:{e}", path.display()))
}

/// Parses configuration text; the error starts with `line:column:`.
pub fn parse(text: &str) -> Result<Config, String> {
    /// Only the `kind` key, to choose the schema; the text is then parsed
    /// straight into it, so errors keep their line numbers.
    #[derive(Deserialize)]
    struct Kind {
        kind: String,
    }
    let locate = |e: toml::de::Error| locate_toml_error(text, &e, "configs/");
    let kind = toml::from_str::<Kind>(text).map_err(locate)?.kind;
    let parsed = parse_as(text, &kind).ok_or_else(|| {
        format!(
            "unknown kind \"{kind}\": use \"phase-diagram\", \"law-comparison\", \"basins\" or \"validate\""
        )
    })?;
    parsed.map_err(|e| {
        // Keys that fit another schema mean the kind is wrong, not the keys.
        let fits = ["phase-diagram", "basins", "validate"]
            .into_iter()
            .find(|other| !kind_matches(&kind, other) && matches!(parse_as(text, other), Some(Ok(_))));
        match fits {
            Some(other) => {
                let line = text
                    .lines()
                    .position(|l| l.trim_start().starts_with("kind"))
                    .map_or(1, |i| i + 1);
                format!(
                    "{line}:1: kind = \"{kind}\", but the keys are those of a \"{other}\" config: \
                     set kind = \"{other}\" (and run it with the matching command), or write a {kind} config \
                     (see the documented examples in configs/)"
                )
            }
            None => locate(e),
        }
    })
}

/// Whether two kind names share a schema (a law comparison is drawn from
/// a phase-diagram schema).
fn kind_matches(kind: &str, other: &str) -> bool {
    kind == other || (kind == "law-comparison" && other == "phase-diagram")
}

/// The text parsed as a config of `kind`; `None` for an unknown kind.
fn parse_as(text: &str, kind: &str) -> Option<Result<Config, toml::de::Error>> {
    Some(match kind {
        "phase-diagram" => toml::from_str(text).map(Config::PhaseDiagram),
        "law-comparison" => toml::from_str(text).map(Config::LawComparison),
        "basins" => toml::from_str(text).map(Config::Basins),
        "validate" => toml::from_str(text).map(Config::Validate),
        _ => return None,
    })
}

/// A TOML error as `line:column: message (see the examples in ...)`,
/// on one line.
pub fn locate_toml_error(text: &str, e: &toml::de::Error, examples: &str) -> String {
    let (line, col) = e.span().map_or((1, 1), |span| line_col(text, span.start));
    let message = e.message().replace('\n', " ");
    format!(
        "{line}:{col}: {message}{} (see the documented examples in {examples})",
        toml_fix(&message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
kind = "phase-diagram"
title = "t"
ensembles = ["gaussian"]
svg = "a.svg"
csv = "a.csv"
[lambda]
min = 0.1
max = 2.0
points = 5
log = true
"#;

    #[test]
    fn parses_a_phase_diagram() {
        let Config::PhaseDiagram(c) = parse(GOOD).unwrap() else {
            panic!("wrong kind")
        };
        let l = c.lambda.values().unwrap();
        assert_eq!(l.len(), 5);
        assert!((l[4] - 2.0).abs() < 1e-12 && (l[2] - (0.2f64).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let text = GOOD.replace("title", "titel");
        let err = parse(&text).unwrap_err();
        assert!(err.starts_with("3:1:") && err.contains("titel"), "{err}");
    }

    #[test]
    fn unknown_key_in_a_table_is_rejected() {
        let err = parse(&GOOD.replace("log = true", "logg = true")).unwrap_err();
        assert!(err.contains("logg"), "{err}");
    }

    #[test]
    fn unknown_kind_and_malformed_toml_are_errors() {
        assert!(parse(&GOOD.replace("phase-diagram", "phase"))
            .unwrap_err()
            .contains("phase"));
        assert!(parse("kind = \"basins\"\ntitle = ")
            .unwrap_err()
            .starts_with("2:"));
    }

    #[test]
    fn bad_grid_is_rejected() {
        let grid = LambdaGrid {
            min: -1.0,
            max: 1.0,
            points: 3,
            log: false,
        };
        assert!(grid.values().unwrap_err().to_string().contains("0 < min"));
    }

    /// A phase-diagram file labelled as a validate config names the kind,
    /// not a missing `ensemble` field.
    #[test]
    fn wrong_kind_is_named() {
        let err = parse(&GOOD.replace("phase-diagram", "validate")).unwrap_err();
        assert!(
            err.starts_with("2:1:") && err.contains("set kind = \"phase-diagram\""),
            "{err}"
        );
    }
}
