//! Saddle-point theory of dense associative memories (modern Hopfield
//! networks) with `P = e^{alpha N}` patterns, through the random energy
//! model (REM) reduction of Lucibello & Mezard, PRL 132, 077301 (2024).
//!
//! One generic engine, many ensembles: an [`ensemble::Ensemble`] describes
//! the large deviations of one overlap (cgf or rate function); the
//! [`rem`] free energy, the [`thresholds`] `alpha_1` and `alpha_c`, and the
//! [`basins`] are written once against it. Every number comes from a root
//! or a 1-D extremum found with argmin ([`numeric`]).
//!
//! The derivations live in the module docs: [`rem`] (the REM phases),
//! [`thresholds`] (typical and all-pattern thresholds, union-bound routes),
//! [`empirical`] (the all-patterns bound over the empirical law of the
//! retrieved pattern, for any i.i.d. law, by convex duality) and
//! [`basins`] (one-step basins, and why several steps do not enlarge
//! them). [`law`] describes i.i.d. entry laws (families, standardisation,
//! quadrature) and [`ensemble::Iid`] turns one into an ensemble.

pub mod attention;
pub mod basins;
pub mod empirical;
pub mod ensemble;
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
    /// A root or extremum could not be found.
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
