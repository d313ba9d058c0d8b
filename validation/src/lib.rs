//! Finite-N Monte Carlo of retrieval in dense associative memories (modern
//! Hopfield networks), to check the theory of `damcap-theory`.
//!
//! - [`patterns`]: pattern matrices and initial states of each ensemble;
//! - [`dynamics`]: the real softmax dynamics, run to a fixed point;
//! - [`packed`]: discrete patterns in 1 or 2 bits per entry, with
//!   lookup-table kernels;
//! - [`all_patterns`]: whether every pattern is retrieved, first failure first;
//! - [`first_step`]: exact sampling of the first step without patterns;
//! - [`estimators`]: retrieval fractions, crossing points, extrapolation
//!   in `N`;
//! - [`seeds`]: per-trial seeds, so results do not depend on threading.
//!
//! [`run_trials`] and [`run_first_step_trials`] run many independent trials
//! of one [`Setup`] in parallel.
//!
//! Long runs of whole configs: a [`StudySpec`] (deserialised from a config)
//! is resolved into a [`Plan`]; [`runner::run`] runs the missing points,
//! keeping them in a [`Checkpoint`] (the raw per-trial CSV) and reporting
//! to a [`Progress`]; [`report::summarise`] turns the finished points into
//! a [`Summary`] with the verdict against the theory.

#![warn(clippy::missing_errors_doc)]

pub mod all_patterns;
pub mod checkpoint;
pub mod dynamics;
pub mod entries;
pub mod estimators;
mod fast_exp;
pub mod first_step;
mod lattice;
pub mod packed;
mod partition;
pub mod patterns;
pub mod report;
pub mod runner;
pub mod sampler;
pub mod seeds;
pub mod spec;
pub mod streamed;
pub mod study;
pub mod top_k;

pub use checkpoint::Checkpoint;
pub use report::{StudyReport, Summary};
pub use runner::{Progress, RunOutcome};
pub use spec::{Plan, StudySpec};

use damcap_theory::ensemble::PatternLaw;
use damcap_theory::TheoryError;
use rayon::prelude::*;
use serde::Serialize;

use crate::dynamics::{run_dynamics, run_packed_dynamics, DynamicsParams};
use crate::first_step::{sample_first_step, FirstStep};
use crate::packed::{packed_atoms, packed_bytes, PackedPatterns};
use crate::patterns::{initial_state, matrix_bytes, normalised_overlap, Patterns};
use crate::seeds::{trial_rng, SeedKey};

/// Why a simulation or an estimate could not be carried out.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub enum ValidationError {
    /// A parameter or data set outside its domain, with an explanation.
    InvalidParameter(String),
    /// The pattern matrices would need `bytes` bytes, more than `limit`.
    TooLarge {
        /// Bytes needed.
        bytes: u128,
        /// Bytes allowed.
        limit: u64,
    },
    /// The theory refused the parameters.
    Theory(TheoryError),
    /// A study of a config cannot run or be analysed.
    InvalidStudy {
        /// The study's name.
        study: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The raw CSV checkpoint cannot be read or written.
    Checkpoint {
        /// Its path.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl std::fmt::Display for ValidationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::InvalidParameter(msg) => write!(f, "invalid parameter: {msg}"),
            Self::TooLarge { bytes, limit } => write!(
                f,
                "memory for patterns and per-trial buffers, {bytes} bytes, exceeds the memory limit of {limit} bytes"
            ),
            Self::Theory(e) => e.fmt(f),
            Self::InvalidStudy { study, message } => {
                write!(f, "study '{}': {message}", study.escape_debug())
            }
            Self::Checkpoint { path, message } => write!(f, "{}: {message}", path.display()),
        }
    }
}

impl std::error::Error for ValidationError {}

impl From<TheoryError> for ValidationError {
    fn from(e: TheoryError) -> Self {
        ValidationError::Theory(e)
    }
}

/// Where the dynamics starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Start {
    /// At the pattern to retrieve, `x0 = xi^1` (typical retrieval).
    Pattern,
    /// At overlap `rho` with xi^1 (basins), built as in
    /// [`patterns::initial_state`].
    Overlap(f64),
}

impl Start {
    /// The intended overlap with xi^1 (1 for [`Start::Pattern`]).
    pub fn overlap(&self) -> f64 {
        match *self {
            Start::Pattern => 1.0,
            Start::Overlap(rho) => rho,
        }
    }
}

/// One point of parameter space: ensemble, size, load, inverse
/// temperature and initial condition.
#[derive(Clone, Debug, PartialEq)]
pub struct Setup {
    /// How patterns are drawn.
    pub law: PatternLaw,
    /// Number of neurons `N` (at least 2).
    pub n: usize,
    /// Load `alpha`: `P = round(exp(alpha N))`.
    pub alpha: f64,
    /// Inverse temperature `lambda > 0`.
    pub lambda: f64,
    /// Initial condition.
    pub start: Start,
}

/// Largest `P` accepted by the dynamics and by the level-count first
/// steps (2^53: beyond it `P` is not an exact `f64`, and no simulation of
/// the patterns could finish anyway).
const MAX_PATTERNS: f64 = 9_007_199_254_740_992.0;

/// Largest `ln P` accepted by the top-K first step of continuous laws
/// (`first_step::top_k`): its tail probabilities, down to about `1/P`,
/// stay normal `f64` numbers.
pub const MAX_LN_PATTERNS: f64 = 600.0;

impl Setup {
    /// Checks every parameter and returns `P = round(exp(alpha N))`.
    ///
    /// # Errors
    /// [`ValidationError::InvalidParameter`] for `N < 2`, a negative or non-finite `alpha`, an overlap outside `[-1, 1]` or `P` above `2^53`; [`ValidationError::Theory`] for an invalid `lambda`.
    pub fn pattern_count(&self) -> Result<u64, ValidationError> {
        let p = self.pattern_count_f64()?;
        if p > MAX_PATTERNS {
            return Err(ValidationError::InvalidParameter(format!(
                "P = exp(alpha N) = {p:e} is too large (alpha = {}, N = {}); at most 2^53 \
                 patterns, except for the first step of gaussian and spherical patterns",
                self.alpha, self.n
            )));
        }
        Ok(p as u64)
    }

    /// [`Setup::pattern_count`] as a count of patterns held in memory.
    ///
    /// # Errors
    /// As [`Setup::pattern_count`], and [`ValidationError::InvalidParameter`]
    /// when `P` does not fit in this platform's address space.
    pub fn pattern_count_usize(&self) -> Result<usize, ValidationError> {
        usize::try_from(self.pattern_count()?).map_err(|_| {
            ValidationError::InvalidParameter("P does not fit in this platform's memory".into())
        })
    }

    /// Checks every parameter and returns `P = round(exp(alpha N))` as an
    /// `f64`, exact up to `2^53` and rounded beyond (where only the first
    /// step of continuous laws can use it).
    ///
    /// # Errors
    /// As [`Setup::pattern_count`], with the cap `ln P <= MAX_LN_PATTERNS`
    /// instead of `2^53`.
    pub fn pattern_count_f64(&self) -> Result<f64, ValidationError> {
        let invalid = |msg: String| Err(ValidationError::InvalidParameter(msg));
        if self.n < 2 {
            return invalid(format!("N must be at least 2, got {}", self.n));
        }
        if !(self.alpha >= 0.0 && self.alpha.is_finite()) {
            return invalid(format!("alpha must be finite and >= 0, got {}", self.alpha));
        }
        damcap_theory::check_lambda(self.lambda)?;
        let rho = self.start.overlap();
        if !(-1.0..=1.0).contains(&rho) {
            return invalid(format!(
                "initial overlap rho must lie in [-1, 1], got {rho}"
            ));
        }
        let ln_p = self.alpha * self.n as f64;
        if ln_p > MAX_LN_PATTERNS {
            return invalid(format!(
                "P = exp(alpha N) = e^{ln_p} is too large (alpha = {}, N = {}); at most e^{MAX_LN_PATTERNS}",
                self.alpha, self.n
            ));
        }
        Ok(ln_p.exp().round())
    }
}

/// Record of one trial of the full dynamics.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Trial {
    /// Trial index within its batch.
    pub trial: u64,
    /// Seed of the trial's generator, `key.trial(trial)`.
    pub seed: u64,
    /// Normalised overlap of the initial state with xi^1.
    pub initial_overlap: f64,
    /// Softmax weight of xi^1 at the first step.
    pub w1_first: f64,
    /// Whether xi^1 had strictly the largest score at the first step.
    pub xi1_largest_first: bool,
    /// Normalised overlap of the final state with xi^1.
    pub final_overlap: f64,
    /// Softmax weight of xi^1 at the state the last step started from.
    pub final_weight: f64,
    /// Ends near xi^1 and dominated by it (see [`dynamics::Outcome`]).
    pub retrieved: bool,
    /// Steps taken.
    pub steps: usize,
    /// Whether the dynamics met its tolerance within the step cap.
    pub converged: bool,
    /// Whether the run stopped early, proved unable to be retrieved (see
    /// [`dynamics::Outcome::certified_failure`]).
    pub certified_failure: bool,
}

impl Trial {
    /// The record of trial `trial` (seeded with `seed`) that started at
    /// `x0` and ended with `outcome`, judged against `xi1`.
    pub(crate) fn new(
        trial: u64,
        seed: u64,
        x0: &[f64],
        xi1: &[f32],
        outcome: &dynamics::Outcome,
    ) -> Self {
        Trial {
            trial,
            seed,
            initial_overlap: normalised_overlap(x0, xi1),
            w1_first: outcome.first_step.w1,
            xi1_largest_first: outcome.first_step.xi1_largest,
            final_overlap: outcome.final_overlap,
            final_weight: outcome.final_weight,
            retrieved: outcome.retrieved,
            steps: outcome.steps,
            converged: outcome.converged,
            certified_failure: outcome.certified_failure,
        }
    }

    /// The first-step observables, comparable with [`sample_first_step`].
    pub fn first_step(&self) -> FirstStep {
        FirstStep {
            w1: self.w1_first,
            xi1_largest: self.xi1_largest_first,
        }
    }
}

/// Trial number `trial` of the batch `key`: draw the patterns and the
/// initial state from the generator seeded with `key.trial(trial)`, then run
/// the dynamics. `memory_limit` caps the bytes of the pattern matrix, which
/// is bit-packed for laws with at most four atoms ([`packed`]).
///
/// # Errors
/// As [`Setup::pattern_count`] and [`run_dynamics`]; [`ValidationError::TooLarge`] when the pattern matrix exceeds `memory_limit`.
pub fn run_trial(
    setup: &Setup,
    params: &DynamicsParams,
    memory_limit: u64,
    key: &SeedKey,
    trial: u64,
) -> Result<Trial, ValidationError> {
    let p = setup.pattern_count_usize()?;
    let seed = key.trial(trial);
    let mut rng = trial_rng(seed);
    // Discrete laws are stored packed: the same patterns from the same
    // draws, the same dynamics up to the order of f64 roundings.
    let (outcome, x0, xi1) = if packed_atoms(&setup.law).is_some() {
        let patterns = PackedPatterns::sample(&setup.law, setup.n, p, memory_limit, &mut rng)?;
        let x0 = start_state(setup, patterns.xi1(), &mut rng)?;
        let outcome = run_packed_dynamics(&patterns, &x0, setup.lambda, params)?;
        (outcome, x0, patterns.xi1().to_vec())
    } else {
        let patterns = Patterns::sample(&setup.law, setup.n, p, memory_limit, &mut rng)?;
        let x0 = start_state(setup, patterns.xi1(), &mut rng)?;
        let outcome = run_dynamics(&patterns, &x0, setup.lambda, params)?;
        (outcome, x0, patterns.xi1().to_vec())
    };
    Ok(Trial::new(trial, seed, &x0, &xi1, &outcome))
}

/// The start of a trial: `xi^1` itself, or a state at overlap `rho` with
/// it drawn from the trial's generator.
pub(crate) fn start_state(
    setup: &Setup,
    xi1: &[f32],
    rng: &mut seeds::TrialRng,
) -> Result<Vec<f64>, ValidationError> {
    match setup.start {
        Start::Pattern => Ok(xi1.iter().map(|&v| f64::from(v)).collect()),
        Start::Overlap(rho) => initial_state(&setup.law, xi1, rho, rng),
    }
}

/// Bytes per pattern of the pruned dynamics' buffers: the candidate
/// indices (at most `P/8` of 8 bytes), and for `f32` rows the `f64` score
/// of every pattern recorded at a full pass (packed patterns recompute
/// them instead).
pub fn pruning_bytes_per_pattern(law: &PatternLaw) -> u64 {
    if packed_atoms(law).is_some() {
        1
    } else {
        9
    }
}

/// Bytes per pattern of the all-patterns check's buffers: the visiting
/// order (8), the squared norms (8) and the duplicate flags (1), and for
/// two-atom laws the rows as 64-bit words with their popcounts (4).
pub fn all_patterns_buffer_bytes(setup: &Setup) -> u64 {
    let words = match packed_atoms(&setup.law) {
        Some(atoms) if atoms.len() == 2 => 8 * setup.n.div_ceil(64) as u64 + 4,
        _ => 0,
    };
    17 + words
}

/// Bytes of one trial's patterns, bit-packed for laws with at most four
/// atoms ([`packed`]) and `f32` rows otherwise, plus `buffer_bytes` per
/// pattern of its per-trial buffers.
///
/// # Errors
/// As [`Setup::pattern_count`].
pub fn trial_bytes(setup: &Setup, buffer_bytes: u64) -> Result<u128, ValidationError> {
    let p = setup.pattern_count()?;
    let storage = match packed_atoms(&setup.law) {
        Some(atoms) => packed_bytes(setup.n, p, atoms.len()),
        None => matrix_bytes(setup.n, p),
    };
    Ok(storage + u128::from(p) * u128::from(buffer_bytes))
}

/// Per-pattern buffer bytes of a dynamics trial of `setup` with `params`.
pub(crate) fn dynamics_buffer_bytes(setup: &Setup, params: &DynamicsParams) -> u64 {
    if params.prune_tolerance > 0.0 {
        pruning_bytes_per_pattern(&setup.law)
    } else {
        0
    }
}

/// The bytes each trial's patterns may use when `trials` trials run on the
/// current rayon pool: at most one trial per worker is alive, and their
/// patterns and buffers ([`trial_bytes`] with `buffer_bytes` per pattern)
/// together must fit in `memory_limit`.
pub(crate) fn per_matrix_budget(
    setup: &Setup,
    trials: u64,
    memory_limit: u64,
    buffer_bytes: u64,
) -> Result<u64, ValidationError> {
    let concurrent = (rayon::current_num_threads() as u64).clamp(1, trials.max(1));
    let bytes = trial_bytes(setup, buffer_bytes)? * u128::from(concurrent);
    if bytes > u128::from(memory_limit) {
        return Err(ValidationError::TooLarge {
            bytes,
            limit: memory_limit,
        });
    }
    Ok(memory_limit / concurrent)
}

/// `trials` independent trials of the full dynamics, in parallel on the
/// current rayon pool, returned in trial order. Trial `t` is seeded with
/// `key.trial(t)`, so the output does not depend on the number of threads.
///
/// `memory_limit` caps the bytes of all pattern matrices that can be alive
/// at once (one per worker thread).
///
/// # Errors
/// As [`run_trial`], and [`ValidationError::TooLarge`] when one matrix per worker thread would exceed `memory_limit`.
pub fn run_trials(
    setup: &Setup,
    params: &DynamicsParams,
    memory_limit: u64,
    key: &SeedKey,
    trials: u64,
) -> Result<Vec<Trial>, ValidationError> {
    params.validate()?;
    let per_matrix = per_matrix_budget(
        setup,
        trials,
        memory_limit,
        dynamics_buffer_bytes(setup, params),
    )?;
    (0..trials)
        .into_par_iter()
        .map(|t| run_trial(setup, params, per_matrix, key, t))
        .collect()
}

/// `trials` independent exact draws of the first-step observables (see
/// [`first_step`]), in parallel, in trial order, seeded like
/// [`run_trials`].
///
/// # Errors
/// As [`sample_first_step`].
pub fn run_first_step_trials(
    setup: &Setup,
    key: &SeedKey,
    trials: u64,
) -> Result<Vec<FirstStep>, ValidationError> {
    setup.pattern_count_f64()?;
    (0..trials)
        .into_par_iter()
        .map(|t| sample_first_step(setup, &mut trial_rng(key.trial(t))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use damcap_theory::law::{EntryLaw, Family};
    use std::sync::Arc;

    fn setup(law: PatternLaw, n: usize, alpha: f64, start: Start) -> Setup {
        Setup {
            law,
            n,
            alpha,
            lambda: 1.0,
            start,
        }
    }

    fn binary(n: usize, alpha: f64) -> Setup {
        setup(PatternLaw::Binary, n, alpha, Start::Pattern)
    }

    /// `alpha` with `round(e^{alpha n}) = p` (`e^{alpha n} = p + 0.4`).
    fn alpha_for(p: u64, n: usize) -> f64 {
        (p as f64 + 0.4).ln() / n as f64
    }

    fn message(result: Result<f64, ValidationError>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn start_overlap_is_the_requested_one() {
        assert_eq!(Start::Pattern.overlap(), 1.0);
        for rho in [-0.4, 0.0, 0.3] {
            assert_eq!(Start::Overlap(rho).overlap(), rho);
        }
    }

    /// `P = round(e^{alpha N})`, and each parameter is accepted up to its
    /// limit and refused just past it, with a message naming it.
    #[test]
    fn setup_limits_are_inclusive() {
        assert_eq!(binary(2, 0.0).pattern_count().unwrap(), 1);
        assert_eq!(binary(2, alpha_for(1000, 2)).pattern_count().unwrap(), 1000);
        assert_eq!(
            binary(2, alpha_for(1000, 2)).pattern_count_usize().unwrap(),
            1000
        );
        let at = |rho| setup(PatternLaw::Binary, 2, 0.5, Start::Overlap(rho));
        for rho in [-1.0, 1.0] {
            assert!(at(rho).pattern_count_f64().is_ok(), "rho = {rho}");
        }
        for rho in [-1.0 - 1e-12, 1.0 + 1e-12, f64::NAN] {
            assert!(message(at(rho).pattern_count_f64()).contains("rho must lie in [-1, 1]"));
        }
        assert!(message(binary(1, 0.5).pattern_count_f64()).contains("N must be at least 2"));
        for alpha in [-1e-300, f64::INFINITY, f64::NAN] {
            let text = message(binary(2, alpha).pattern_count_f64());
            assert!(text.contains("alpha must be finite and >= 0"), "{text}");
        }
        let bad_lambda = Setup {
            lambda: -1.0,
            ..binary(2, 0.5)
        };
        assert!(matches!(
            bad_lambda.pattern_count_f64(),
            Err(ValidationError::Theory(TheoryError::InvalidLambda(_)))
        ));
        // ln P = alpha N = 600 exactly is the largest f64 count accepted.
        assert_eq!(
            binary(2, 300.0).pattern_count_f64().unwrap(),
            600f64.exp().round()
        );
        let text = message(binary(2, 300.0 + 1e-12).pattern_count_f64());
        assert!(text.contains("at most e^600"), "{text}");
    }

    /// Beyond `2^53 = e^36.74` only the `f64` count exists; just below it
    /// the integer count is still exact.
    #[test]
    fn integer_counts_stop_at_2_to_the_53() {
        let below = binary(2, 36.7 / 2.0);
        assert_eq!(below.pattern_count().unwrap(), 36.7f64.exp().round() as u64);
        let above = binary(2, 20.0);
        assert_eq!(above.pattern_count_f64().unwrap(), 40f64.exp().round());
        let text = above.pattern_count().unwrap_err().to_string();
        assert!(text.contains("at most 2^53 patterns"), "{text}");
    }

    #[test]
    fn each_error_says_what_is_wrong() {
        let cases = [
            (
                ValidationError::InvalidParameter("N must be at least 2".into()),
                "invalid parameter: N must be at least 2",
            ),
            (
                ValidationError::TooLarge { bytes: 300, limit: 200 },
                "memory for patterns and per-trial buffers, 300 bytes, exceeds the memory limit of 200 bytes",
            ),
            (
                ValidationError::InvalidStudy {
                    study: "a\"b".into(),
                    message: "no sizes".into(),
                },
                "study 'a\\\"b': no sizes",
            ),
            (
                ValidationError::Checkpoint {
                    path: "raw/x.csv".into(),
                    message: "bad header".into(),
                },
                "raw/x.csv: bad header",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_string(), text);
        }
        let theory = TheoryError::InvalidLambda(-1.0);
        assert_eq!(
            ValidationError::from(theory.clone()).to_string(),
            theory.to_string()
        );
    }

    /// Bytes per trial: packed storage (binary: 1 bit, ternary: 2 bits per
    /// entry, rounded up to whole bytes per row) or `f32` rows, plus the
    /// buffers per pattern named in each function's documentation.
    #[test]
    fn trial_bytes_follow_the_storage() {
        let ternary = EntryLaw::new(Family::Ternary {
            zero_probability: 0.5,
        });
        let t = PatternLaw::Iid(Arc::new(ternary.unwrap()));
        let (b, g) = (PatternLaw::Binary, PatternLaw::Gaussian);
        assert_eq!(pruning_bytes_per_pattern(&b), 1);
        assert_eq!(pruning_bytes_per_pattern(&g), 9);
        let visit = |law: &PatternLaw, n| {
            all_patterns_buffer_bytes(&setup(law.clone(), n, 0.1, Start::Pattern))
        };
        // 17 bytes, and for +-1 rows ceil(N / 64) words of 8 bytes and 4 for the popcounts.
        assert_eq!(visit(&b, 64), 17 + 8 + 4);
        assert_eq!(visit(&b, 100), 17 + 16 + 4);
        assert_eq!(visit(&t, 100), 17);
        assert_eq!(visit(&g, 100), 17);
        let twenty = |law: &PatternLaw| setup(law.clone(), 10, alpha_for(20, 10), Start::Pattern);
        // N = 10: 2 bytes a packed row (binary or ternary), 40 bytes an f32 row.
        assert_eq!(trial_bytes(&twenty(&b), 0).unwrap(), 40);
        assert_eq!(trial_bytes(&twenty(&t), 0).unwrap(), 20 * 3);
        assert_eq!(trial_bytes(&twenty(&g), 9).unwrap(), 20 * (40 + 9));
        let full = DynamicsParams::default().full();
        assert_eq!(
            dynamics_buffer_bytes(&twenty(&g), &DynamicsParams::default()),
            9
        );
        assert_eq!(dynamics_buffer_bytes(&twenty(&g), &full), 0);
    }

    /// One trial's bytes per worker alive at once; the budget is the limit
    /// shared among them.
    #[test]
    fn memory_budget_is_shared_by_the_live_trials() {
        let s = setup(PatternLaw::Gaussian, 10, alpha_for(20, 10), Start::Pattern);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        pool.install(|| {
            assert_eq!(per_matrix_budget(&s, 1, 800, 0).unwrap(), 800);
            assert_eq!(per_matrix_budget(&s, 0, 800, 0).unwrap(), 800);
            assert_eq!(per_matrix_budget(&s, 5, 1600, 0).unwrap(), 800);
            assert_eq!(
                per_matrix_budget(&s, 5, 1599, 0).unwrap_err(),
                ValidationError::TooLarge {
                    bytes: 1600,
                    limit: 1599
                }
            );
        });
    }
}
