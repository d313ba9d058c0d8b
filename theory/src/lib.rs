//! Saddle-point theory of dense associative memories (modern Hopfield
//! networks) with `P = e^{alpha N}` patterns, through the random energy
//! model (REM) reduction of Lucibello & Mezard, PRL 132, 077301 (2024).
//! The derivations are in the repository's `docs/theory.md`; the code
//! cites its sections as "docs/theory.md §N".
//!
//! ```
//! use damcap_theory::{by_name, thresholds, basins::rho_min};
//!
//! let binary = by_name("binary")?;
//! let t = thresholds(binary.as_ref(), 1.0)?;
//! // Binary patterns: alpha_1 = lambda - ln cosh(lambda) while Lambda'(lambda) < 1,
//! // and alpha_c = min(alpha_1, ln 2 / 2), limited by exact duplicates (§3, §4).
//! assert!((t.alpha_1 - (1.0 - 1f64.cosh().ln())).abs() < 1e-9);
//! assert!((t.alpha_c_lower - std::f64::consts::LN_2 / 2.0).abs() < 1e-9);
//! // Below alpha_1 a basin exists: one step from overlap rho_min retrieves (§6).
//! let basin = rho_min(binary.as_ref(), 0.3, 1.0)?;
//! assert!(basin.rho_min.is_some_and(|r| r > 0.0 && r < 1.0));
//! # Ok::<(), damcap_theory::TheoryError>(())
//! ```
//!
//! One generic engine, many ensembles: an [`Ensemble`] describes the large
//! deviations of one overlap (cgf or rate function); the [`rem`] free
//! energy, the [`thresholds`](mod@thresholds) `alpha_1` and `alpha_c`, and the [`basins`]
//! are written once against it. Every number comes from a root or a 1-D
//! extremum found with argmin.
//!
//! - [`phase`]: both thresholds at one `lambda` and scans over `lambda`;
//! - [`ensemble`]: the built-in ensembles ([`by_name`]) and [`Iid`], any
//!   i.i.d. entry law;
//! - [`law`]: entry laws ([`Family`]), law files ([`LawFile`],
//!   [`from_toml`]), standardisation and quadrature;
//! - [`rem`] (§2), [`thresholds`](mod@thresholds) (§3, §4), [`empirical`] (§5: the
//!   all-patterns bound over the empirical law of the retrieved pattern, by
//!   convex duality), [`basins`] (§6), [`attention`] (§8).

#![warn(clippy::missing_errors_doc)]

pub mod attention;
pub mod basins;
pub mod capture;
pub mod empirical;
pub mod ensemble;
pub mod finite_n;
pub mod law;
pub(crate) mod legendre;
pub(crate) mod numeric;
pub mod phase;
pub mod rem;
pub mod thresholds;

pub use ensemble::{by_name, Ensemble, Iid, PatternLaw};
pub use law::{from_toml, EntryLaw, Family, LawFile};
pub use phase::{scan, thresholds, Thresholds};
pub use thresholds::{alpha_1, alpha_c_lower, check_lambda, FailureRoute};

/// Errors of the theory: invalid parameters or a failed solve.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub enum TheoryError {
    /// `lambda` must be finite and positive.
    InvalidLambda(f64),
    /// `alpha` must lie in `(0, alpha_max)`.
    InvalidAlpha {
        /// The offending load.
        alpha: f64,
        /// The ensemble's largest load.
        alpha_max: f64,
    },
    /// An overlap must lie in `(0, 1]`.
    InvalidRho(f64),
    /// A dimension `N` must be a whole number, at least 2.
    InvalidDimension(f64),
    /// The scaled inverse temperature `beta` must be finite and positive.
    InvalidBeta(f64),
    /// No ensemble of that name.
    UnknownEnsemble(String),
    /// A law file describes no law, one that cannot be standardised, or
    /// one outside the theory (tails not lighter than exponential).
    InvalidLaw(String),
    /// A law file is not valid TOML, has an unknown key or misses a
    /// parameter.
    LawSyntax {
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong, on one line.
        message: String,
    },
    /// A root was sought on an interval where the function does not change
    /// sign: the quantity has no solution there (or lost all precision).
    NoSignChange {
        /// What was being solved.
        what: String,
        /// The interval searched.
        interval: (f64, f64),
    },
    /// A finite-`N` prediction whose condition fails at every load: its
    /// asymptotic form does not reach down to this `N`.
    NoCrossingAtN {
        /// The prediction.
        what: String,
        /// The dimension.
        n: f64,
    },
    /// No bracket of a root was found by doubling up to `limit`.
    NoBracket {
        /// What was being solved.
        what: String,
        /// The largest end tried.
        limit: f64,
    },
    /// The REM at this load would freeze only beyond the largest double.
    LoadTooLarge {
        /// The load.
        alpha: f64,
        /// The ensemble's name.
        ensemble: String,
    },
    /// The root finder or minimiser itself failed (argmin's error).
    Solver(String),
}

impl std::fmt::Display for TheoryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TheoryError::InvalidLambda(l) => {
                write!(
                    f,
                    "lambda = {} is invalid: the inverse temperature must be a finite number >= 2.2e-308 (the smallest normal double)",
                    short(*l)
                )
            }
            TheoryError::InvalidAlpha { alpha, alpha_max } => write!(
                f,
                "alpha = {alpha} is out of range: the load must lie in (0, {alpha_max})"
            ),
            TheoryError::InvalidRho(r) => {
                write!(
                    f,
                    "rho = {r} is invalid: the initial overlap must lie in (0, 1]"
                )
            }
            TheoryError::InvalidBeta(b) => write!(
                f,
                "beta = {b} is invalid: the scaled inverse temperature must be a finite number > 0"
            ),
            TheoryError::InvalidDimension(n) => {
                write!(
                    f,
                    "N = {n} is invalid: the dimension must be a whole number >= 2"
                )
            }
            TheoryError::UnknownEnsemble(name) => write!(
                f,
                "unknown ensemble '{name}': choose one of {}, or give the path of a law file \
                 (a .toml file, see 'Pattern laws' in README.md)",
                ensemble::NAMES.join(", ")
            ),
            TheoryError::InvalidLaw(msg) => write!(f, "unusable pattern law: {msg}"),
            TheoryError::LawSyntax {
                line,
                column,
                message,
            } => write!(f, "{line}:{column}: {message}"),
            TheoryError::NoSignChange { what, interval } => write!(
                f,
                "numerical solver failed: {what}: no sign change on [{:e}, {:e}]",
                interval.0, interval.1
            ),
            TheoryError::NoCrossingAtN { what, n } => write!(
                f,
                "no {what} at N = {}: its condition fails at every load, so this finite-N prediction needs a larger N",
                short(*n)
            ),
            TheoryError::NoBracket { what, limit } => write!(
                f,
                "numerical solver failed: {what}: no bracket below {limit:e}"
            ),
            TheoryError::LoadTooLarge { alpha, ensemble } => write!(
                f,
                "alpha = {alpha:e} is too large a load for the '{ensemble}' ensemble: its REM \
                 would freeze only beyond the largest double, 1.8e308; choose a smaller alpha"
            ),
            TheoryError::Solver(msg) => write!(f, "numerical solver failed: {msg}"),
        }
    }
}

impl std::error::Error for TheoryError {}

/// A number for an error message: scientific notation when huge or tiny.
fn short(x: f64) -> String {
    if x != 0.0 && x.is_finite() && !(1e-4..1e9).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        x.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `short` keeps plain notation for ordinary magnitudes (and for 0 and
    /// non-finite values, where scientific notation means nothing) and
    /// switches to scientific outside [1e-4, 1e9).
    #[test]
    fn short_numbers_switch_notation_at_the_edges() {
        let cases = [
            (0.0, "0"),
            (1.5, "1.5"),
            (-2.5, "-2.5"),
            (1e-4, "0.0001"),
            (5e-5, "5e-5"),
            (-3e-7, "-3e-7"),
            (1e9, "1e9"),
            (999_999_999.0, "999999999"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "NaN"),
        ];
        for (x, want) in cases {
            assert_eq!(short(x), want, "short({x})");
        }
    }

    /// Each error names the value at fault and the way out.
    #[test]
    fn error_messages_name_the_problem_and_the_fix() {
        let cases = [
            (
                TheoryError::InvalidLambda(-1e-300),
                "lambda = -1e-300 is invalid",
            ),
            (
                TheoryError::InvalidLambda(f64::NAN),
                "lambda = NaN is invalid",
            ),
            (
                TheoryError::InvalidAlpha {
                    alpha: 2.0,
                    alpha_max: 1.5,
                },
                "alpha = 2 is out of range: the load must lie in (0, 1.5)",
            ),
            (TheoryError::InvalidRho(1.5), "rho = 1.5 is invalid"),
            (TheoryError::InvalidBeta(0.0), "beta = 0 is invalid"),
            (TheoryError::InvalidDimension(1.0), "N = 1 is invalid"),
            (
                TheoryError::UnknownEnsemble("cauchy".into()),
                "unknown ensemble 'cauchy': choose one of gaussian",
            ),
            (
                TheoryError::InvalidLaw("heavy tails".into()),
                "unusable pattern law: heavy tails",
            ),
            (
                TheoryError::LawSyntax {
                    line: 3,
                    column: 7,
                    message: "unknown key".into(),
                },
                "3:7: unknown key",
            ),
            (
                TheoryError::NoSignChange {
                    what: "alpha_1".into(),
                    interval: (0.5, 2.0),
                },
                "alpha_1: no sign change on [5e-1, 2e0]",
            ),
            (
                TheoryError::NoCrossingAtN {
                    what: "saddle-node".into(),
                    n: 3.0,
                },
                "no saddle-node at N = 3: its condition fails at every load, so this finite-N prediction needs a larger N",
            ),
            (
                TheoryError::NoBracket {
                    what: "alpha_c".into(),
                    limit: 100.0,
                },
                "alpha_c: no bracket below 1e2",
            ),
            (
                TheoryError::LoadTooLarge {
                    alpha: 1000.0,
                    ensemble: "binary".into(),
                },
                "alpha = 1e3 is too large a load for the 'binary' ensemble",
            ),
            (
                TheoryError::Solver("diverged".into()),
                "numerical solver failed: diverged",
            ),
        ];
        for (error, want) in cases {
            let message = error.to_string();
            assert!(message.contains(want), "{message:?} lacks {want:?}");
        }
    }
}
