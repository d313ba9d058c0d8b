//! The retrieval dynamics of the modern Hopfield network,
//! `x <- sum_mu xi^mu softmax_mu(lambda xi^mu . x)`, run to a fixed point.
//!
//! Patterns are `f32` rows, or bit-packed discrete patterns
//! ([`crate::packed`]); scores, weights and the new state are accumulated
//! in `f64`. One step is a single pass over the pattern matrix: rows are
//! taken in blocks, the block's scores are computed by a vectorisable
//! dot-product kernel (or lookup tables), their weights by a vectorised
//! exponential (module `fast_exp`, a few ulp from the library's), and the
//! weighted sum of rows is accumulated online against a running maximum
//! score (log-sum-exp), so the softmax is stable for any `lambda` and the
//! matrix is read from memory only once per step.
//!
//! Pruned steps (exact to a stated tolerance). A full pass at a state `a`
//! records every score `z_mu(a) = lambda xi^mu . a` (packed storage
//! recomputes them instead, bitwise equal). At a later state `x`,
//! `|z_mu(x) - z_mu(a)| <= lambda |xi^mu| |x - a|` (Cauchy-Schwarz), so
//! the patterns far below the top score at `a` (the excluded ones, whose
//! summed weight `S` the pass bounds) weigh together at most
//! `S e^{lambda max|xi| |x - a|}` at `x`. A step sums over the remaining
//! candidates only when that bound is at most
//! [`DynamicsParams::prune_tolerance`] times the candidates' own partition
//! sum; otherwise it makes a full pass and draws a new candidate set. A
//! pruned step's new state then differs from the full step's by at most
//! `2 prune_tolerance max|xi|` (the left-out mass times the largest
//! distance between two states in the hull of the patterns).

use crate::first_step::FirstStep;
use crate::packed::PackedPatterns;
use crate::partition::{block_max, Partition};
use crate::patterns::{normalised_overlap, zeroed_large, Patterns};
use crate::ValidationError;
use rayon::prelude::*;

/// Rows per block: the block's scores live on the stack and its rows stay in
/// cache between scoring and accumulation.
pub(crate) const BLOCK: usize = 256;

/// Stopping rule, retrieval criterion and pruning of the dynamics.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DynamicsParams {
    /// Converged when `|x' - x| / sqrt(N)` falls below this.
    pub tolerance: f64,
    /// Cap on the number of steps.
    pub max_steps: usize,
    /// Retrieved when the final normalised overlap `x . xi^1 / (|x| |xi^1|)`
    /// is at least this and `xi^1` carries more than half of the softmax
    /// weight there (docs/theory.md §7).
    pub retrieval_threshold: f64,
    /// Largest softmax mass, relative to the partition function, that a
    /// pruned step may leave out (module doc); 0 makes a full pass at every
    /// step. The default 1e-13 moves each step's state by at most
    /// `2e-13 max|xi|` (below 1e-11 for `N <= 48`) from the full step's.
    pub prune_tolerance: f64,
    /// Nats of slack left, when a candidate set is drawn, for the motion of
    /// the state before the next full pass: the excluded patterns' mass is
    /// at most `prune_tolerance e^{-prune_headroom}` at the pass. Changes
    /// the speed only (default 6).
    pub prune_headroom: f64,
    /// Stop a run as soon as the energy proves that it cannot be retrieved
    /// (the energy bound of docs/theory.md §7, certified failures). Exact:
    /// the retrieved flag is the one the full run would give; only the
    /// recorded steps, final overlap and final weight are those of the
    /// stopping state. Default on.
    pub stop_certain_failures: bool,
}

impl Default for DynamicsParams {
    fn default() -> Self {
        Self {
            tolerance: 1e-6,
            max_steps: 1000,
            retrieval_threshold: 0.9,
            prune_tolerance: 1e-13,
            prune_headroom: 6.0,
            stop_certain_failures: true,
        }
    }
}

impl DynamicsParams {
    /// The same dynamics with a full pass at every step.
    pub fn full(self) -> Self {
        Self {
            prune_tolerance: 0.0,
            ..self
        }
    }

    /// Checks that the parameters make sense.
    ///
    /// # Errors
    /// [`ValidationError::InvalidParameter`] naming the bad parameter.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if !(self.tolerance > 0.0 && self.tolerance.is_finite()) {
            return Err(ValidationError::InvalidParameter(format!(
                "tolerance must be positive and finite, got {}",
                self.tolerance
            )));
        }
        if self.max_steps == 0 {
            return Err(ValidationError::InvalidParameter(
                "max_steps must be at least 1".into(),
            ));
        }
        if !(-1.0..=1.0).contains(&self.retrieval_threshold) {
            return Err(ValidationError::InvalidParameter(format!(
                "retrieval threshold is a normalised overlap in [-1, 1], got {}",
                self.retrieval_threshold
            )));
        }
        if !(0.0..=MAX_PRUNE_TOLERANCE).contains(&self.prune_tolerance) {
            return Err(ValidationError::InvalidParameter(format!(
                "prune tolerance is a left-out softmax mass in [0, {MAX_PRUNE_TOLERANCE:e}], got {}",
                self.prune_tolerance
            )));
        }
        if !(self.prune_headroom >= 0.0 && self.prune_headroom.is_finite()) {
            return Err(ValidationError::InvalidParameter(format!(
                "prune headroom must be finite and >= 0 nats, got {}",
                self.prune_headroom
            )));
        }
        Ok(())
    }
}

/// Largest [`DynamicsParams::prune_tolerance`] accepted: pruning must not
/// approximate the dynamics.
pub const MAX_PRUNE_TOLERANCE: f64 = 1e-9;

/// What one run of the dynamics from `x0` produced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outcome {
    /// Softmax observables of the first step, taken at `x0`.
    pub first_step: FirstStep,
    /// Normalised overlap of the final state with xi^1.
    pub final_overlap: f64,
    /// Softmax weight of xi^1 at the state the last step started from.
    pub final_weight: f64,
    /// `final_overlap >= retrieval_threshold` and `final_weight > 1/2`: the
    /// state ends near xi^1 *and* is dominated by it. The overlap alone is
    /// not enough: in the paramagnetic phase the tilted mean of the other
    /// patterns points along the state itself, so a failed state keeps its
    /// direction while its norm decays (very slowly near lambda = 1).
    pub retrieved: bool,
    /// Steps taken (including the one that met the tolerance).
    pub steps: usize,
    /// Whether the tolerance was met within `max_steps`.
    pub converged: bool,
    /// Steps summed over a candidate set instead of a full pass.
    pub pruned_steps: usize,
    /// The run stopped because the energy proved it lost
    /// ([`DynamicsParams::stop_certain_failures`]): `retrieved` is false,
    /// and `final_overlap`, `final_weight` and `steps` describe the
    /// stopping state, not a fixed point. When the proof came from part of
    /// a streamed pass (which is then abandoned), `final_overlap` is that of
    /// the state the pass started from, and `final_weight` (and
    /// `first_step.w1` if it was the first step) is an upper bound.
    pub certified_failure: bool,
}

/// Scores `s_mu = xi^mu . x` of all patterns against `x`, written to `out`
/// (length `P`). This is the kernel of the dynamics, exposed so that its
/// throughput can be timed.
///
/// # Errors
/// [`ValidationError::InvalidParameter`] when `x` or `out` has the wrong length or `x` a non-finite entry.
pub fn scores(patterns: &Patterns, x: &[f64], out: &mut [f64]) -> Result<(), ValidationError> {
    check_state(patterns, x)?;
    if out.len() != patterns.p() {
        return Err(ValidationError::InvalidParameter(format!(
            "score buffer has length {}, expected P = {}",
            out.len(),
            patterns.p()
        )));
    }
    dot_rows(patterns.as_slice(), x, out);
    Ok(())
}

/// The largest score `max_mu xi^mu . x`, computed block by block in cache
/// as a step of the dynamics scores its rows: the score kernel alone, for
/// timing it without writing `P` scores to memory.
///
/// # Errors
/// [`ValidationError::InvalidParameter`] when `x` has the wrong length or a non-finite entry.
pub fn max_score(patterns: &Patterns, x: &[f64]) -> Result<f64, ValidationError> {
    check_state(patterns, x)?;
    let kernel = patterns.kernel(x);
    let (p, mut z) = (patterns.p(), [0.0_f64; BLOCK]);
    let mut best = f64::NEG_INFINITY;
    for first in (0..p).step_by(BLOCK) {
        let zb = &mut z[..BLOCK.min(p - first)];
        kernel.scores(Rows::Range(first, first + zb.len()), zb);
        best = best.max(block_max(zb));
    }
    Ok(best)
}

/// Runs the dynamics from `x0` at inverse temperature `lambda` until
/// `|x' - x| / sqrt(N) < tolerance` or `max_steps`; row 0 of `patterns` is
/// xi^1, the pattern to retrieve.
///
/// # Errors
/// [`ValidationError::InvalidParameter`] for a state of the wrong dimension or with non-finite entries, or invalid `params`; [`ValidationError::Theory`] for an invalid `lambda`.
pub fn run_dynamics(
    patterns: &Patterns,
    x0: &[f64],
    lambda: f64,
    params: &DynamicsParams,
) -> Result<Outcome, ValidationError> {
    run_to_state(patterns, x0, lambda, params).map(|(outcome, _)| outcome)
}

/// [`run_dynamics`] on bit-packed discrete patterns (the same dynamics,
/// scored and accumulated by the lookup-table kernels of [`crate::packed`]).
///
/// # Errors
/// As [`run_dynamics`].
pub fn run_packed_dynamics(
    patterns: &PackedPatterns,
    x0: &[f64],
    lambda: f64,
    params: &DynamicsParams,
) -> Result<Outcome, ValidationError> {
    run_to_state(patterns, x0, lambda, params).map(|(outcome, _)| outcome)
}

/// [`run_dynamics`] on either storage, also returning the final state.
pub(crate) fn run_to_state<S: Store>(
    patterns: &S,
    x0: &[f64],
    lambda: f64,
    params: &DynamicsParams,
) -> Result<(Outcome, Vec<f64>), ValidationError> {
    check_state(patterns, x0)?;
    damcap_theory::check_lambda(lambda)?;
    params.validate()?;
    let mut stepper = Stepper::new(patterns, lambda, params);
    let (mut outcome, x) = iterate(x0, patterns.xi1(), lambda, params, |x, next, _| {
        Stepped::Whole(stepper.step(x, next))
    });
    outcome.pruned_steps = stepper.pruned;
    Ok((outcome, x))
}

/// What a step function returns to [`iterate`].
pub(crate) enum Stepped {
    /// The step was made: xi^1's observables at the current state.
    Whole(FirstStep),
    /// The step was abandoned part-way because its partial sums already
    /// proved xi^1's weight below the floor it was given (so the run is
    /// lost, see [`below_floor`]); the next state was not finished.
    /// Carries the upper bound on xi^1's weight that proved it.
    Abandoned(FirstStep),
}

/// The loop shared by stored and streamed patterns: from `x0`, `step`
/// writes the next state and returns xi^1's softmax observables at the
/// current one, until `|x' - x| / sqrt(N) < tolerance`, `max_steps`, or
/// (with [`DynamicsParams::stop_certain_failures`]) a state that is
/// [`below_floor`]. `step` also receives the floor on `ln w1` below
/// which the current state is lost (`-inf` when nothing is certified), so
/// that it may abandon a pass once its partial sums prove that. Returns
/// the outcome, with `pruned_steps` left for the caller, and the final
/// state.
pub(crate) fn iterate(
    x0: &[f64],
    xi1: &[f32],
    lambda: f64,
    params: &DynamicsParams,
    mut step: impl FnMut(&[f64], &mut [f64], f64) -> Stepped,
) -> (Outcome, Vec<f64>) {
    let scale = (x0.len() as f64).sqrt();
    let mut x = x0.to_vec();
    let mut next = vec![0.0; x.len()];
    // One step: returns xi^1's softmax observables at the current state,
    // whether the move was below tolerance and whether the current state
    // is certainly lost; leaves the new state in `x` (unless abandoned).
    let mut advance = |x: &mut Vec<f64>, next: &mut Vec<f64>| {
        let floor = if params.stop_certain_failures {
            lost_floor(x, xi1, lambda)
        } else {
            f64::NEG_INFINITY
        };
        match step(x, next, floor) {
            Stepped::Whole(observed) => {
                let small = distance(x, next) / scale < params.tolerance;
                let lost = below_floor(observed.w1, floor);
                std::mem::swap(x, next);
                (observed, small, lost)
            }
            Stepped::Abandoned(bound) => (bound, false, true),
        }
    };
    let (first_step, mut converged, mut lost) = advance(&mut x, &mut next);
    let mut last_step = first_step;
    let mut steps = 1;
    while steps < params.max_steps && !converged && !lost {
        (last_step, converged, lost) = advance(&mut x, &mut next);
        steps += 1;
    }
    let final_overlap = normalised_overlap(&x, xi1);
    let outcome = Outcome {
        first_step,
        final_overlap,
        final_weight: last_step.w1,
        // A lost state has w1 < 1/2: the criterion fails by itself.
        retrieved: final_overlap >= params.retrieval_threshold && last_step.w1 > 0.5,
        steps,
        converged,
        pruned_steps: 0,
        // A lost run that also met the tolerance ended at its fixed point.
        certified_failure: lost && !converged,
    };
    (outcome, x)
}

/// Whether xi^1's weight `w1` at a state is below the state's
/// [`lost_floor`], so that the run can never again give xi^1 more than half
/// of the weight and cannot be retrieved (docs/theory.md §7, certified
/// failures). A `w1` computed over part of the patterns (a pruned or
/// abandoned step) is at least the true one, and an underflowed one is
/// replaced by the smallest normal number, so both err on the side of
/// going on.
pub(crate) fn below_floor(w1: f64, floor: f64) -> bool {
    w1.max(f64::MIN_POSITIVE).ln() < floor
}

/// The floor on `ln w1(x)` below which the state `x` is lost. The dynamics
/// never raises the energy `E(x) = |x|^2/2 - ln Z(x) / lambda`, and every
/// state `y` with `w1(y) > 1/2` has `E(y) > -|xi^1|^2/2 - ln 2 / lambda`;
/// with `ln Z = lambda x . xi^1 - ln w1`, `E(x)` is below that bound
/// exactly when `ln w1(x) < -lambda |x - xi^1|^2 / 2 - ln 2`, less
/// [`CERTIFICATE_SLACK`] for rounding.
pub(crate) fn lost_floor(x: &[f64], xi1: &[f32], lambda: f64) -> f64 {
    let gap: f64 = x
        .iter()
        .zip(xi1)
        .map(|(&u, &v)| (u - f64::from(v)).powi(2))
        .sum();
    -0.5 * lambda * gap - std::f64::consts::LN_2 - CERTIFICATE_SLACK
}

/// Margin, in units of `lambda` times the energy, by which the energy must
/// clear the bound of [`lost_floor`]: far above the rounding of `f64`
/// sums over `N <= 10^4` entries and of the softmax weight (about
/// `1e-13`), and above the energy a pruned step can gain (the square of
/// its at most `2e-11` displacement).
pub(crate) const CERTIFICATE_SLACK: f64 = 1e-9;

/// The state must have dimension `N` and finite entries.
fn check_state<S: Store>(patterns: &S, x: &[f64]) -> Result<(), ValidationError> {
    check_dimension(patterns.n(), x)
}

/// A state of dimension `n` must have `n` finite entries.
pub(crate) fn check_dimension(n: usize, x: &[f64]) -> Result<(), ValidationError> {
    if x.len() != n || !x.iter().all(|v| v.is_finite()) {
        return Err(ValidationError::InvalidParameter(format!(
            "state must have N = {n} finite entries, got {} entries",
            x.len()
        )));
    }
    Ok(())
}

/// Margin in nats added to the bound on the excluded patterns' scores for
/// the rounding of `f64` scores (about `N 2^-52 lambda |xi| |x|`, below
/// 1e-12 nats at any size the simulation reaches).
pub(crate) const ROUNDING_SLACK: f64 = 1e-9;

/// Unit-width bins of the gap below the top score used to draw candidate
/// sets; larger gaps share the last bin.
pub(crate) const GAP_BINS: usize = 128;

/// Makes the steps of one run, by full passes or over a candidate set
/// (module doc).
struct Stepper<'a, S: Store> {
    patterns: &'a S,
    lambda: f64,
    /// `ln prune_tolerance` (`-inf` without pruning).
    ln_tolerance: f64,
    headroom: f64,
    /// Whether steps may be pruned.
    pruning: bool,
    /// Scores of the last full pass, for storages that record them
    /// ([`Store::RECORDS_SCORES`]; empty otherwise and without pruning).
    z: Vec<f64>,
    candidates: Option<Candidates>,
    /// Whether the last full pass suggests that a candidate set can be
    /// drawn (see [`Stepper::worth_drawing`]); the next full pass records
    /// its scores only then.
    promising: bool,
    /// Pruned steps made so far.
    pruned: usize,
}

/// The patterns a pruned step sums over, drawn at a full pass.
struct Candidates {
    /// State of the full pass.
    anchor: Vec<f64>,
    /// Candidate rows, ascending, starting with xi^1 (row 0).
    rows: Vec<usize>,
    /// Upper bound on `ln sum_{excluded} e^{z_mu(anchor)}`.
    ln_excluded: f64,
}

impl<'a, S: Store> Stepper<'a, S> {
    fn new(patterns: &'a S, lambda: f64, params: &DynamicsParams) -> Self {
        let ln_tolerance = params.prune_tolerance.ln();
        let pruning = ln_tolerance > f64::NEG_INFINITY;
        Self {
            patterns,
            lambda,
            ln_tolerance,
            headroom: params.prune_headroom,
            pruning,
            z: if pruning && S::RECORDS_SCORES {
                zeroed_large(patterns.p())
            } else {
                Vec::new()
            },
            candidates: None,
            promising: pruning,
            pruned: 0,
        }
    }

    /// One step from `x` into `next`; returns xi^1's observables at `x`.
    fn step(&mut self, x: &[f64], next: &mut [f64]) -> FirstStep {
        let (patterns, lambda) = (self.patterns, self.lambda);
        if let Some(c) = &self.candidates {
            let drift = lambda * patterns.max_norm() * distance(x, &c.anchor);
            let pass = step(patterns, Rows::List(&c.rows), x, lambda, next, None);
            if c.ln_excluded + drift + ROUNDING_SLACK - pass.ln_z <= self.ln_tolerance {
                self.pruned += 1;
                return pass.observed;
            }
        }
        // Storages that do not record scores recompute them at a draw.
        let ready = self.promising || !S::RECORDS_SCORES;
        let record = (self.promising && !self.z.is_empty()).then_some(self.z.as_mut_slice());
        let all = Rows::Range(0, patterns.p());
        let pass = step(patterns, all, x, lambda, next, record);
        self.promising = self.pruning && self.worth_drawing(&pass);
        self.candidates = if ready && self.promising {
            self.draw_candidates(&pass, x)
        } else {
            None
        };
        pass.observed
    }

    /// A candidate set keeps at most an eighth of the patterns, so the
    /// excluded ones include the eighth of all patterns just below the top
    /// eighth, which weigh at least `(P/8) e^{q - ln Z}` with `q` the
    /// lower quartile's mirror (the 3/4 quantile of the scores): a draw can
    /// only succeed when that is within the budget. The quantile is
    /// estimated as `mean + 0.674 sd`, exact for gaussian scores (a guide
    /// to speed only: any candidate set keeps the stated bound).
    fn worth_drawing(&self, pass: &Pass) -> bool {
        let p = self.patterns.p() as f64;
        let quartile = pass.mean_z + 0.674 * pass.sd_z;
        (0.125 * p).ln() + quartile - pass.ln_z <= self.ln_tolerance - self.headroom
    }

    /// Calls `f(mu, z_mu)` with every score at `anchor`, in row order: the
    /// recorded scores of the last full pass, or scores recomputed by the
    /// same kernel (bitwise the pass's).
    fn visit_scores(&self, anchor: &[f64], mut f: impl FnMut(usize, f64)) {
        if !self.z.is_empty() {
            self.z.iter().enumerate().for_each(|(mu, &v)| f(mu, v));
            return;
        }
        let kernel = self.patterns.kernel(anchor);
        let (p, mut z) = (self.patterns.p(), [0.0_f64; BLOCK]);
        for first in (0..p).step_by(BLOCK) {
            let zb = &mut z[..BLOCK.min(p - first)];
            kernel.scores(Rows::Range(first, first + zb.len()), zb);
            for (k, &v) in zb.iter().enumerate() {
                f(first + k, v * self.lambda);
            }
        }
    }

    /// After a full pass at `anchor` (partition function `e^{ln_z}`): the
    /// candidate set whose excluded patterns weigh at most
    /// `prune_tolerance e^{-headroom}`, or `None` when nothing can be
    /// excluded or more than an eighth of the patterns remain (a pruned
    /// step would then save little).
    fn draw_candidates(&self, pass: &Pass, anchor: &[f64]) -> Option<Candidates> {
        let (top, ln_z, p) = (pass.top, pass.ln_z, self.patterns.p());
        // A pattern in bin b is at least b nats below the top, so weighs at
        // most e^{top - b - ln_z}.
        let mut counts = [0u64; GAP_BINS + 1];
        self.visit_scores(anchor, |_, v| {
            counts[(top - v).min(GAP_BINS as f64) as usize] += 1;
        });
        let budget = (self.ln_tolerance - self.headroom).exp();
        let (mut excluded, mut cut) = (0.0, GAP_BINS + 1);
        for b in (0..=GAP_BINS).rev() {
            let more = excluded + counts[b] as f64 * (top - b as f64 - ln_z).exp();
            if more > budget {
                break;
            }
            (excluded, cut) = (more, b);
        }
        let kept: u64 = counts[..cut].iter().sum::<u64>() + 1;
        if excluded == 0.0 || 8 * kept > p as u64 {
            return None;
        }
        let mut rows = Vec::new();
        self.visit_scores(anchor, |mu, v| {
            if mu == 0 || top - v < cut as f64 {
                rows.push(mu);
            }
        });
        Some(Candidates {
            anchor: anchor.to_vec(),
            rows,
            ln_excluded: excluded.ln() + ln_z,
        })
    }
}

/// What a step learns about the scores at its state.
struct Pass {
    /// Softmax observables of xi^1.
    observed: FirstStep,
    /// Largest score of the rows summed.
    top: f64,
    /// `ln Z` over the rows summed.
    ln_z: f64,
    /// Mean score of those rows.
    mean_z: f64,
    /// Standard deviation of their scores.
    sd_z: f64,
}

/// The rows a step sums over: all of `first..end`, or a list of indices.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Rows<'a> {
    /// Rows `first..end` (the first argument) of the matrix.
    Range(usize, usize),
    /// Rows by index, ascending.
    List(&'a [usize]),
}

impl<'a> Rows<'a> {
    fn len(self) -> usize {
        match self {
            Rows::Range(first, end) => end - first,
            Rows::List(list) => list.len(),
        }
    }

    /// Rows `from..to` of this set (positions within it).
    fn part(self, from: usize, to: usize) -> Rows<'a> {
        match self {
            Rows::Range(first, _) => Rows::Range(first + from, first + to),
            Rows::List(list) => Rows::List(&list[from..to]),
        }
    }

    /// Matrix index of the row at position `k`.
    fn index(self, k: usize) -> usize {
        match self {
            Rows::Range(first, _) => first + k,
            Rows::List(list) => list[k],
        }
    }
}

/// A pattern storage the dynamics runs on: `f32` rows ([`Patterns`]) or
/// bit-packed discrete patterns ([`PackedPatterns`]).
pub(crate) trait Store: Sync {
    /// Whether the pruned dynamics keeps the scores of a full pass (8
    /// bytes per pattern) rather than recomputing them when it draws a
    /// candidate set: worth it when a pass is expensive next to that
    /// buffer (`f32` rows), not for packed rows.
    const RECORDS_SCORES: bool;
    /// The score and update kernel set up for one state.
    type Kernel<'a>: StepKernel + Send
    where
        Self: 'a;
    /// Dimension `N`.
    fn n(&self) -> usize;
    /// Number of patterns `P`.
    fn p(&self) -> usize;
    /// Largest Euclidean norm of a pattern.
    fn max_norm(&self) -> f64;
    /// xi^1 as `f32` entries.
    fn xi1(&self) -> &[f32];
    /// The kernel at state `x`, with an empty weighted sum.
    fn kernel(&self, x: &[f64]) -> Self::Kernel<'_>;
}

/// Scores against one state and the weighted sum of patterns of one step.
pub(crate) trait StepKernel {
    /// `out[k] = xi^mu . x` for the `k`-th row `mu` of `rows`.
    fn scores(&self, rows: Rows<'_>, out: &mut [f64]);
    /// Multiplies the weighted sum by `factor`.
    fn rescale(&mut self, factor: f64);
    /// Adds `w xi^mu` to the weighted sum for each `(w, mu)` of `terms`,
    /// one after another.
    fn add(&mut self, terms: &[(f64, usize)]);
    /// Adds the weighted sum of `other` (a kernel at the same state, over
    /// other rows, relative to the same reference) to this one's.
    fn absorb(&mut self, other: Self);
    /// Writes the weighted sum to `next`.
    fn finish(self, next: &mut [f64]);
}

/// The kernel of `f32` rows: dot products and `axpy` into an `f64` sum.
pub(crate) struct RowKernel<'a> {
    patterns: &'a Patterns,
    x: Vec<f64>,
    sum: Vec<f64>,
}

impl StepKernel for RowKernel<'_> {
    fn scores(&self, rows: Rows<'_>, out: &mut [f64]) {
        let n = self.patterns.n();
        match rows {
            Rows::Range(first, end) => {
                dot_rows(&self.patterns.as_slice()[first * n..end * n], &self.x, out);
            }
            Rows::List(list) => {
                for (s, &mu) in out.iter_mut().zip(list) {
                    *s = dot(self.patterns.row(mu), &self.x);
                }
            }
        }
    }

    fn rescale(&mut self, factor: f64) {
        self.sum.iter_mut().for_each(|v| *v *= factor);
    }

    fn add(&mut self, terms: &[(f64, usize)]) {
        add_rows(self.patterns, terms, &mut self.sum);
    }

    fn absorb(&mut self, other: Self) {
        self.sum
            .iter_mut()
            .zip(&other.sum)
            .for_each(|(a, b)| *a += b);
    }

    fn finish(self, next: &mut [f64]) {
        next.copy_from_slice(&self.sum);
    }
}

impl Store for Patterns {
    const RECORDS_SCORES: bool = true;
    type Kernel<'a> = RowKernel<'a>;

    fn n(&self) -> usize {
        Patterns::n(self)
    }

    fn p(&self) -> usize {
        Patterns::p(self)
    }

    fn max_norm(&self) -> f64 {
        Patterns::max_norm(self)
    }

    fn xi1(&self) -> &[f32] {
        Patterns::xi1(self)
    }

    fn kernel(&self, x: &[f64]) -> RowKernel<'_> {
        RowKernel {
            patterns: self,
            x: x.to_vec(),
            sum: vec![0.0; x.len()],
        }
    }
}

/// Passes over at least this many rows are split into segments of
/// [`SEGMENT_ROWS`] summed in parallel (a trial alone on the machine, its
/// matrix too large for two, then uses every core). The split is fixed by
/// `P`, not by the thread count, so the bits do not depend on threads;
/// smaller passes keep the sequential order of every committed study.
const PARALLEL_ROWS: usize = 1 << 27;

/// Rows of one segment of a parallel pass (16 to 64 MB of patterns at
/// N = 32 to 64 packed in 2 bits or stored as f32 rows of N = 1 to 4).
const SEGMENT_ROWS: usize = 1 << 22;

/// One step `next = sum_mu xi^mu softmax_mu(lambda xi^mu . x)` over `rows`
/// (the first of which is xi^1); the scores are written to `record` in row
/// order when given. A pass over all of at least [`PARALLEL_ROWS`] rows
/// runs in segments ([`step_segmented`]).
fn step<S: Store>(
    patterns: &S,
    rows: Rows<'_>,
    x: &[f64],
    lambda: f64,
    next: &mut [f64],
    record: Option<&mut [f64]>,
) -> Pass {
    match rows {
        Rows::Range(0, p) if p >= PARALLEL_ROWS => {
            step_segmented(patterns, p, x, lambda, next, record, SEGMENT_ROWS)
        }
        _ => part_sums(patterns, rows, x, lambda, record, true).finish(next),
    }
}

/// [`step`] over rows `0..p` in segments of `segment` rows, each summed on
/// its own (in parallel) relative to its own largest score, then merged in
/// row order: the same sums up to rounding, in an order fixed by `p`.
fn step_segmented<S: Store>(
    patterns: &S,
    p: usize,
    x: &[f64],
    lambda: f64,
    next: &mut [f64],
    record: Option<&mut [f64]>,
    segment: usize,
) -> Pass {
    let count = p.div_ceil(segment);
    let records: Vec<Option<&mut [f64]>> = match record {
        Some(out) => out.chunks_mut(segment).map(Some).collect(),
        None => (0..count).map(|_| None).collect(),
    };
    let parts: Vec<PartSums<S::Kernel<'_>>> = records
        .into_par_iter()
        .enumerate()
        .map(|(k, out)| {
            let rows = Rows::Range(k * segment, ((k + 1) * segment).min(p));
            part_sums(patterns, rows, x, lambda, out, k == 0)
        })
        .collect();
    let mut parts = parts.into_iter();
    let first = parts.next().expect("a pass has rows");
    parts.fold(first, PartSums::merge).finish(next)
}

/// What a step sums over some of its rows: the weighted sum (in the
/// kernel) and the partition function relative to the same reference,
/// and the scores' sum, sum of squares and largest value.
struct PartSums<K> {
    kernel: K,
    partition: Partition,
    z_sum: f64,
    z_squares: f64,
    /// Rows summed.
    rows: usize,
    /// xi^1's score, if these rows start with it (`-inf` otherwise).
    z1: f64,
    /// Largest score of the other rows.
    best_other: f64,
}

/// The sums of [`step`] over `rows`, the first of which is xi^1 when
/// `holds_xi1`; the scores are written to `record` in row order when given.
fn part_sums<'a, S: Store>(
    patterns: &'a S,
    rows: Rows<'_>,
    x: &[f64],
    lambda: f64,
    mut record: Option<&mut [f64]>,
    holds_xi1: bool,
) -> PartSums<S::Kernel<'a>> {
    let mut kernel = patterns.kernel(x);
    let mut partition = Partition::new();
    let (mut z_sum, mut z_squares) = (0.0, 0.0);
    let (mut z, mut weights) = ([0.0_f64; BLOCK], [0.0_f64; BLOCK]);
    // The block's rows of positive weight, with their weights.
    let mut terms = [(0.0_f64, 0_usize); BLOCK];
    let mut z1 = f64::NEG_INFINITY;
    let mut best_other = f64::NEG_INFINITY;
    let total_rows = rows.len();
    for done in (0..total_rows).step_by(BLOCK) {
        let block = rows.part(done, (done + BLOCK).min(total_rows));
        let zb = &mut z[..block.len()];
        kernel.scores(block, zb);
        zb.iter_mut().for_each(|v| *v *= lambda);
        if let Some(out) = record.as_deref_mut() {
            out[done..done + zb.len()].copy_from_slice(zb);
        }
        let others = if done == 0 && holds_xi1 {
            z1 = zb[0];
            &zb[1..]
        } else {
            &zb[..]
        };
        let (sum, squares) = sum_and_squares(zb);
        (z_sum, z_squares) = (z_sum + sum, z_squares + squares);
        best_other = best_other.max(block_max(others));
        let factor = partition.raise_shift(block_max(zb));
        if factor != 1.0 {
            kernel.rescale(factor);
        }
        let wb = &mut weights[..zb.len()];
        partition.add_weights(zb, wb);
        let mut count = 0;
        for (k, &w) in wb.iter().enumerate() {
            if w > 0.0 {
                terms[count] = (w, block.index(k));
                count += 1;
            }
        }
        kernel.add(&terms[..count]);
    }
    PartSums {
        kernel,
        partition,
        z_sum,
        z_squares,
        rows: total_rows,
        z1,
        best_other,
    }
}

impl<K: StepKernel> PartSums<K> {
    /// The sums over these rows followed by `later`'s, relative to the
    /// larger of the two references.
    fn merge(mut self, mut later: Self) -> Self {
        let (mine, theirs) = self.partition.merge(later.partition);
        self.kernel.rescale(mine);
        later.kernel.rescale(theirs);
        self.kernel.absorb(later.kernel);
        self.z_sum += later.z_sum;
        self.z_squares += later.z_squares;
        self.rows += later.rows;
        self.z1 = self.z1.max(later.z1);
        self.best_other = self.best_other.max(later.best_other);
        self
    }

    /// Writes the normalised weighted sum to `next`; what the pass learnt.
    fn finish(self, next: &mut [f64]) -> Pass {
        self.kernel.finish(next);
        let total = self.partition.relative_sum();
        next.iter_mut().for_each(|v| *v /= total);
        let (partition, z1, best_other) = (self.partition, self.z1, self.best_other);
        let done = self.rows as f64;
        Pass {
            observed: FirstStep {
                w1: partition.weight_of(z1),
                xi1_largest: z1 > best_other,
            },
            top: z1.max(best_other),
            ln_z: partition.ln(),
            mean_z: self.z_sum / done,
            sd_z: (self.z_squares / done - (self.z_sum / done).powi(2))
                .max(0.0)
                .sqrt(),
        }
    }
}

/// `(sum z, sum z^2)` in four lanes, which the compiler vectorises (the
/// sums only guide the pruning's speed; their rounding order is free).
fn sum_and_squares(z: &[f64]) -> (f64, f64) {
    let (mut sums, mut squares) = ([0.0_f64; 4], [0.0_f64; 4]);
    let chunks = z.chunks_exact(4);
    let tail = chunks.remainder();
    for c in chunks {
        for k in 0..4 {
            sums[k] += c[k];
            squares[k] += c[k] * c[k];
        }
    }
    let total = |l: [f64; 4]| (l[0] + l[1]) + (l[2] + l[3]);
    (
        total(sums) + tail.iter().sum::<f64>(),
        total(squares) + tail.iter().map(|v| v * v).sum::<f64>(),
    )
}

/// Lanes of [`dot`]: four independent `f64` partial sums (one AVX
/// register; eight or sixteen measured no faster).
pub(crate) const LANES: usize = 4;

/// `row . x` with `f64` accumulation in [`LANES`] independent lanes (each
/// `f32` entry is widened exactly, multiplied and added without fused
/// multiply-add, so every build gives the same bits), which the compiler
/// turns into SIMD code.
#[inline(always)]
pub(crate) fn dot(row: &[f32], x: &[f64]) -> f64 {
    let mut lanes = [0.0_f64; LANES];
    let main = x.len() - x.len() % LANES;
    for (r, xv) in row[..main]
        .chunks_exact(LANES)
        .zip(x[..main].chunks_exact(LANES))
    {
        for ((acc, &a), b) in lanes.iter_mut().zip(r).zip(xv) {
            *acc += f64::from(a) * b;
        }
    }
    let [l0, l1, l2, l3] = lanes;
    let sum = ((l0 + l1) + l2) + l3;
    if main < x.len() {
        sum + dot_tail(&row[main..], &x[main..])
    } else {
        sum
    }
}

/// Rows scored together by the AVX2 kernel: their lanes are independent
/// chains of additions, so the processor overlaps them instead of waiting
/// out each addition's latency (one row alone is latency-bound).
const ROWS_TOGETHER: usize = 4;

/// Before scoring a group, the AVX2 kernel asks for one group's length of
/// the same stream, starting this many `f32` entries (512 bytes) past the
/// group's end; counted from the end, the distance follows the group's
/// size, `4 N` entries. At N = 64 it is the 1.5 KiB from the group's start
/// that was tuned first. Against that fixed 1.5 KiB, timed in turn in one
/// process on the development machine (median of the rounds' ratios to
/// the streaming-read bandwidth): N = 32 72% -> 82%, N = 40 82% -> 85%;
/// N = 24, 48 and 56 within the spread of the rounds.
const PREFETCH_BEYOND: usize = 128;

/// How many entries (3 KiB) of the next block's second half, from its
/// start, the AVX2 kernel asks for before it scores a block
/// ([`dot_rows_avx2`]). On the development machine, old and new builds
/// timed in turn by a harness, this lifted a pass from 88% to 91% of the
/// streaming-read bandwidth at N = 64 and from 76% to 81% at N = 32;
/// 1.5 and 4.5 KiB did no better.
const NEXT_STREAM_AHEAD: usize = 768;

/// The tail of [`dot`]: the entries past the last whole group of lanes.
#[inline(always)]
fn dot_tail(row_tail: &[f32], x_tail: &[f64]) -> f64 {
    row_tail
        .iter()
        .zip(x_tail)
        .map(|(&a, b)| f64::from(a) * b)
        .sum()
}

/// `out[k] = row_k . x` for the consecutive rows of `data` (of length
/// `x.len()` each), bitwise [`dot`] of each row; with AVX2 (chosen at run
/// time) by a kernel that scores [`ROWS_TOGETHER`] rows at once with the
/// same operations in the same order, so the same bits.
pub(crate) fn dot_rows(data: &[f32], x: &[f64], out: &mut [f64]) {
    assert_eq!(data.len(), out.len() * x.len(), "rows of x's length");
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor supports AVX2, checked just above.
        unsafe { dot_rows_avx2(data, x, out) };
        return;
    }
    dot_rows_portable(data, x, out);
}

/// [`dot_rows`] for any processor.
fn dot_rows_portable(data: &[f32], x: &[f64], out: &mut [f64]) {
    for (s, row) in out.iter_mut().zip(data.chunks_exact(x.len())) {
        *s = dot(row, x);
    }
}

/// [`dot_rows`] with AVX2 intrinsics: each row's four lanes live in one
/// register, widened from `f32`, multiplied and added (no FMA: the
/// roundings of [`dot`]), and [`ROWS_TOGETHER`] rows advance together.
/// The two halves of `data` are scored side by side, group by group: two
/// streams of reads keep more of the memory busy than one.
///
/// A pass calls this block after block, so each block's second stream
/// would start cold: the first stream's prefetches run on into the
/// second half, the second's into the next block's first half, but
/// nothing reaches the next block's second half. So the kernel first
/// asks for the first [`NEXT_STREAM_AHEAD`] entries of that half (where
/// it lies when the next block follows this one and is as long). A
/// prefetch never faults, so past the matrix's end it only costs its
/// issue.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn dot_rows_avx2(data: &[f32], x: &[f64], out: &mut [f64]) {
    use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
    let n = x.len();
    let half = out.len() / (2 * ROWS_TOGETHER) * ROWS_TOGETHER;
    let (first, second) = data.split_at(half * n);
    let next_second = second.as_ptr().wrapping_add(data.len());
    for line in (0..NEXT_STREAM_AHEAD).step_by(16) {
        _mm_prefetch::<_MM_HINT_T0>(next_second.wrapping_add(line).cast());
    }
    let (first_out, second_out) = out.split_at_mut(half);
    let mut groups = second_out.chunks_exact_mut(ROWS_TOGETHER);
    let mut blocks = second.chunks_exact(n * ROWS_TOGETHER);
    let pairs = first_out
        .chunks_exact_mut(ROWS_TOGETHER)
        .zip(first.chunks_exact(n * ROWS_TOGETHER));
    for ((s, block), (t, other)) in pairs.zip((&mut groups).zip(&mut blocks)) {
        score_group_avx2(block, x, s);
        score_group_avx2(other, x, t);
    }
    for (s, block) in (&mut groups).zip(&mut blocks) {
        score_group_avx2(block, x, s);
    }
    for (s, row) in groups
        .into_remainder()
        .iter_mut()
        .zip(blocks.remainder().chunks_exact(n))
    {
        *s = dot(row, x);
    }
}

/// `s[r] = row_r . x` for the [`ROWS_TOGETHER`] consecutive rows of
/// `block`, bitwise [`dot`] of each (the kernel of [`dot_rows_avx2`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn score_group_avx2(block: &[f32], x: &[f64], s: &mut [f64]) {
    use std::arch::x86_64::{
        __m256d, _mm256_add_pd, _mm256_cvtps_pd, _mm256_loadu_pd, _mm256_mul_pd,
        _mm256_permute2f128_pd, _mm256_setzero_pd, _mm256_storeu_pd, _mm256_unpackhi_pd,
        _mm256_unpacklo_pd, _mm_loadu_ps, _mm_prefetch, _MM_HINT_T0,
    };
    let n = x.len();
    assert!(block.len() == n * ROWS_TOGETHER && s.len() == ROWS_TOGETHER);
    let main = n - n % LANES;
    let ahead = block.as_ptr_range().end.wrapping_add(PREFETCH_BEYOND);
    for line in (0..block.len()).step_by(16) {
        _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(line).cast());
    }
    let mut acc: [__m256d; ROWS_TOGETHER] = [_mm256_setzero_pd(); ROWS_TOGETHER];
    // Four entries of a row are loaded straight into the widening
    // conversion (`vcvtps2pd ymm, m128`), which needs no shuffle; loading
    // eight and splitting them costs a shuffle per eight entries and read
    // about 2 points less of the bandwidth (N = 64).
    // SAFETY: every load ends at or before `main <= n`, the length of x
    // and of each of the block's ROWS_TOGETHER rows (block.len() =
    // n ROWS_TOGETHER, asserted above).
    for j in (0..main).step_by(LANES) {
        unsafe {
            let xv = _mm256_loadu_pd(x.as_ptr().add(j));
            for (r, a) in acc.iter_mut().enumerate() {
                let v = _mm256_cvtps_pd(_mm_loadu_ps(block.as_ptr().add(r * n + j)));
                *a = _mm256_add_pd(*a, _mm256_mul_pd(v, xv));
            }
        }
    }
    // Transpose the four rows' lanes so that register k holds lane k of
    // every row; then ((l0 + l1) + l2) + l3 sums each row as `dot` does.
    let [a0, a1, a2, a3] = acc;
    let (t0, t1) = (_mm256_unpacklo_pd(a0, a1), _mm256_unpackhi_pd(a0, a1));
    let (t2, t3) = (_mm256_unpacklo_pd(a2, a3), _mm256_unpackhi_pd(a2, a3));
    let l0 = _mm256_permute2f128_pd::<0x20>(t0, t2);
    let l1 = _mm256_permute2f128_pd::<0x20>(t1, t3);
    let l2 = _mm256_permute2f128_pd::<0x31>(t0, t2);
    let l3 = _mm256_permute2f128_pd::<0x31>(t1, t3);
    let sums = _mm256_add_pd(_mm256_add_pd(_mm256_add_pd(l0, l1), l2), l3);
    // SAFETY: s holds ROWS_TOGETHER = 4 f64 (asserted above), one register.
    unsafe { _mm256_storeu_pd(s.as_mut_ptr(), sums) };
    if main < n {
        for (r, v) in s.iter_mut().enumerate() {
            *v += dot_tail(&block[r * n + main..(r + 1) * n], &x[main..]);
        }
    }
}

/// `y += w row`.
#[inline(always)]
fn axpy(w: f64, row: &[f32], y: &mut [f64]) {
    for (yi, &a) in y.iter_mut().zip(row) {
        *yi += w * f64::from(a);
    }
}

/// Rows that [`add_rows`] adds in one sweep over the weighted sum (which
/// then is loaded and stored once per four rows instead of once per row;
/// eight were slower). [`add_rows_portable`] spells out the four rows.
const ADD_TOGETHER: usize = 4;
const _: () = assert!(ADD_TOGETHER == 4, "add_rows_portable sums four rows");

/// `y += w_mu xi^mu` for the `(w_mu, mu)` of `terms` in order,
/// [`ADD_TOGETHER`] rows per sweep over `y`: each entry gets
/// `(((y + w_a a) + w_b b) + ...)`, the bits of one [`axpy`] after
/// another; with AVX-512 or AVX2 when the processor has it (chosen once
/// per call, at run time: the same operations on eight or four entries at
/// a time, so the same bits). On the development machine a whole step at N = 64 over
/// 2^20 patterns took 35 ms with one SSE2 `axpy` per row, about 30 ms
/// with four rows per sweep in AVX2 and 27 ms in AVX-512 (one harness,
/// one session).
fn add_rows(patterns: &Patterns, terms: &[(f64, usize)], y: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the processor supports AVX-512F, checked just above.
        unsafe { add_rows_avx512(patterns, terms, y) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor supports AVX2, checked just above.
        unsafe { add_rows_avx2(patterns, terms, y) };
        return;
    }
    add_rows_portable(patterns, terms, y);
}

/// [`add_rows`] for any processor.
#[inline(always)]
fn add_rows_portable(patterns: &Patterns, terms: &[(f64, usize)], y: &mut [f64]) {
    for group in terms.chunks(ADD_TOGETHER) {
        if let [(w0, m0), (w1, m1), (w2, m2), (w3, m3)] = *group {
            let rows = patterns.row(m0).iter().zip(patterns.row(m1));
            let rows = rows.zip(patterns.row(m2)).zip(patterns.row(m3));
            for (yi, (((&a, &b), &c), &d)) in y.iter_mut().zip(rows) {
                let (a, b, c, d) = (f64::from(a), f64::from(b), f64::from(c), f64::from(d));
                *yi = (((*yi + w0 * a) + w1 * b) + w2 * c) + w3 * d;
            }
        } else {
            for &(w, mu) in group {
                axpy(w, patterns.row(mu), y);
            }
        }
    }
}

/// [`add_rows`] compiled with AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn add_rows_avx512(patterns: &Patterns, terms: &[(f64, usize)], y: &mut [f64]) {
    add_rows_portable(patterns, terms, y);
}

/// [`add_rows`] compiled with AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn add_rows_avx2(patterns: &Patterns, terms: &[(f64, usize)], y: &mut [f64]) {
    add_rows_portable(patterns, terms, y);
}

/// Euclidean distance.
fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(u, v)| (u - v).powi(2))
        .sum::<f64>()
        .sqrt()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::patterns::DEFAULT_MEMORY_LIMIT;
    use crate::seeds::trial_rng;
    use damcap_theory::ensemble::PatternLaw;

    fn sample(law: PatternLaw, n: usize, p: usize, seed: u64) -> Patterns {
        Patterns::sample(&law, n, p, DEFAULT_MEMORY_LIMIT, &mut trial_rng(seed)).unwrap()
    }

    /// The blocked online step equals the textbook softmax average, computed
    /// directly (P spans several blocks).
    #[test]
    fn step_matches_direct_softmax() {
        let (n, p, lambda) = (7, 3 * BLOCK + 5, 0.4);
        let pats = sample(PatternLaw::Gaussian, n, p, 20);
        let x: Vec<f64> = (0..n).map(|i| (i as f64 * 0.7).sin() * 1.5).collect();
        let z: Vec<f64> = pats
            .rows()
            .map(|r| {
                lambda
                    * r.iter()
                        .zip(&x)
                        .map(|(&a, b)| f64::from(a) * b)
                        .sum::<f64>()
            })
            .collect();
        let zmax = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let w: Vec<f64> = z.iter().map(|v| (v - zmax).exp()).collect();
        let total: f64 = w.iter().sum();
        let mut expected = vec![0.0; n];
        for (wi, r) in w.iter().zip(pats.rows()) {
            for (e, &a) in expected.iter_mut().zip(r) {
                *e += wi / total * f64::from(a);
            }
        }
        let mut next = vec![0.0; n];
        let pass = step(&pats, Rows::Range(0, p), &x, lambda, &mut next, None);
        let fs = pass.observed;
        assert!((pass.ln_z - (zmax + total.ln())).abs() < 1e-12);
        assert!((pass.top - zmax).abs() < 1e-12);
        let mean = z.iter().sum::<f64>() / p as f64;
        let var = z.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / p as f64;
        assert!((pass.mean_z - mean).abs() < 1e-12);
        assert!((pass.sd_z - var.sqrt()).abs() < 1e-9);
        assert!(distance(&next, &expected) < 1e-12);
        assert!((fs.w1 - w[0] / total).abs() < 1e-14);
        assert_eq!(fs.xi1_largest, z[1..].iter().all(|&v| z[0] > v));
    }

    /// A pass in segments (each summed relative to its own largest score,
    /// merged in row order) against the sequential pass over the same rows,
    /// for f32 rows (gaussian) and packed ternary rows: next state, ln Z,
    /// mean and spread of the scores and w1 to 1e-12, the recorded scores
    /// and xi1_largest exactly, for segments of 1, 7, 256 and 300 rows
    /// (P = 300; 300 is one segment), the same bits on 1 and 2 threads.
    #[test]
    fn segmented_step_matches_sequential() {
        use damcap_theory::law::{EntryLaw, Family};
        let ternary = PatternLaw::Iid(std::sync::Arc::new(
            EntryLaw::new(Family::Ternary {
                zero_probability: 0.5,
            })
            .unwrap(),
        ));
        let (n, p, lambda) = (13, 300, 0.8);
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(1.0);
        for (law, packed) in [(PatternLaw::Gaussian, false), (ternary, true)] {
            let pats = sample(law, n, p, 41);
            let x: Vec<f64> = pats
                .xi1()
                .iter()
                .map(|&a| 0.6 * f64::from(a) + 0.2)
                .collect();
            let packed = packed.then(|| PackedPatterns::from_patterns(&pats).unwrap());
            let run = |segment: Option<usize>, threads: usize| {
                let (mut next, mut record) = (vec![0.0; n], vec![0.0; p]);
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let out = Some(record.as_mut_slice());
                let pass = pool.install(|| match (segment, &packed) {
                    (None, None) => step(&pats, Rows::Range(0, p), &x, lambda, &mut next, out),
                    (None, Some(q)) => step(q, Rows::Range(0, p), &x, lambda, &mut next, out),
                    (Some(k), None) => step_segmented(&pats, p, &x, lambda, &mut next, out, k),
                    (Some(k), Some(q)) => step_segmented(q, p, &x, lambda, &mut next, out, k),
                });
                (pass, next, record)
            };
            let (whole, next, record) = run(None, 1);
            for segment in [1, 7, BLOCK, 300] {
                let (a, next_a, record_a) = run(Some(segment), 1);
                let (b, next_b, record_b) = run(Some(segment), 2);
                let what = format!("segment {segment}, packed {}", packed.is_some());
                assert_eq!(next_a, next_b, "{what}");
                assert_eq!(a.ln_z.to_bits(), b.ln_z.to_bits(), "{what}");
                assert_eq!(record_a, record, "{what}");
                assert_eq!(record_b, record, "{what}");
                assert!(
                    next_a.iter().zip(&next).all(|(u, v)| close(*u, *v)),
                    "{what}"
                );
                assert!(close(a.ln_z, whole.ln_z) && close(a.observed.w1, whole.observed.w1));
                assert!(close(a.mean_z, whole.mean_z) && close(a.sd_z, whole.sd_z));
                assert_eq!(a.top, whole.top, "{what}");
                assert_eq!(a.observed.xi1_largest, whole.observed.xi1_largest);
            }
        }
    }

    /// Pruned against full dynamics on 104 runs: gaussian, spherical,
    /// binary and a ternary law file; lambda from 1 (paramagnetic runs from
    /// xi^1 above the crossing, which decay over many steps with most
    /// patterns mattering) to 5 (frozen, few candidates); starts at xi^1
    /// and at overlap 0.6. Final states agree to 1e-9 (the stated bound is
    /// 2 prune_tolerance max|xi| per step, about 2e-12 here), and flags,
    /// step counts and convergence are identical; pruning is really used.
    #[test]
    fn pruned_dynamics_equals_full_dynamics() {
        let ternary = PatternLaw::Iid(std::sync::Arc::new(
            damcap_theory::law::EntryLaw::new(damcap_theory::law::Family::Ternary {
                zero_probability: 0.5,
            })
            .unwrap(),
        ));
        let cases = [
            (PatternLaw::Gaussian, 8.0, 16, 0.4, 1.0),
            (PatternLaw::Gaussian, 5.0, 16, 0.4, 0.6),
            (PatternLaw::Gaussian, 2.0, 16, 0.5, 1.0),
            (PatternLaw::Spherical, 4.0, 16, 0.5, 0.6),
            (PatternLaw::Binary, 6.0, 16, 0.4, 0.6),
            (ternary, 3.0, 14, 0.4, 0.6),
            (PatternLaw::Gaussian, 1.0, 16, 0.5, 1.0),
            (PatternLaw::Binary, 1.1, 16, 0.6, 1.0),
        ];
        // A tighter tolerance than the studies' 1e-6 lengthens the runs, and
        // failures run to their fixed points.
        let params = DynamicsParams {
            max_steps: 200,
            tolerance: 1e-10,
            stop_certain_failures: false,
            ..DynamicsParams::default()
        };
        let (mut runs, mut pruned_runs, mut retrieved, mut long_runs) = (0, 0, 0, 0);
        for (c, (law, lambda, n, alpha, rho)) in cases.iter().enumerate() {
            let p = (alpha * *n as f64).exp().round() as usize;
            for seed in 0..13 {
                let mut rng = trial_rng(100 * c as u64 + seed);
                let pats = Patterns::sample(law, *n, p, DEFAULT_MEMORY_LIMIT, &mut rng).unwrap();
                let x0 = crate::patterns::initial_state(law, pats.xi1(), *rho, &mut rng).unwrap();
                let (full, x_full) = run_to_state(&pats, &x0, *lambda, &params.full()).unwrap();
                let (fast, x_fast) = run_to_state(&pats, &x0, *lambda, &params).unwrap();
                let what = format!("{law:?} lambda {lambda} rho {rho} seed {seed}");
                assert_eq!(full.pruned_steps, 0, "{what}");
                assert!(distance(&x_full, &x_fast) <= 1e-9, "{what}");
                assert_eq!(
                    (fast.retrieved, fast.steps, fast.converged),
                    (full.retrieved, full.steps, full.converged),
                    "{what}"
                );
                assert!(
                    (fast.final_weight - full.final_weight).abs() <= 1e-9,
                    "{what}"
                );
                runs += 1;
                pruned_runs += usize::from(fast.pruned_steps > 0);
                retrieved += usize::from(full.retrieved);
                long_runs += usize::from(full.steps >= 10);
            }
        }
        assert_eq!(runs, 104);
        assert!(pruned_runs >= 30, "pruning used in {pruned_runs} runs");
        assert!(
            (20..=84).contains(&retrieved) && long_runs >= 10,
            "{retrieved} {long_runs}"
        );
    }

    /// The energy `E = |x - xi^1|^2/2 - |xi^1|^2/2 + ln(w1)/lambda` (the
    /// form [`lost_floor`] uses) never rises along full runs, in either
    /// phase, for every law: the premise of the certificate.
    #[test]
    fn energy_never_rises() {
        let cases = [
            (PatternLaw::Gaussian, 0.5, 0.35, 1.0),
            (PatternLaw::Gaussian, 2.0, 0.5, 0.6),
            (PatternLaw::Binary, 1.0, 0.55, 1.0),
            (PatternLaw::Spherical, 1.0, 0.6, 0.5),
        ];
        let n = 14;
        let mut steps = 0;
        for (c, (law, lambda, alpha, rho)) in cases.iter().enumerate() {
            let p = (alpha * n as f64).exp().round() as usize;
            for seed in 0..5 {
                let mut rng = trial_rng(50 * c as u64 + seed);
                let pats = Patterns::sample(law, n, p, DEFAULT_MEMORY_LIMIT, &mut rng).unwrap();
                let mut x =
                    crate::patterns::initial_state(law, pats.xi1(), *rho, &mut rng).unwrap();
                let mut next = vec![0.0; n];
                let norm_sq: f64 = pats.xi1().iter().map(|&v| f64::from(v).powi(2)).sum();
                let mut last = f64::INFINITY;
                for _ in 0..30 {
                    let w1 = step(&pats, Rows::Range(0, p), &x, *lambda, &mut next, None)
                        .observed
                        .w1;
                    let gap: f64 = x
                        .iter()
                        .zip(pats.xi1())
                        .map(|(&u, &v)| (u - f64::from(v)).powi(2))
                        .sum();
                    let energy = 0.5 * gap - 0.5 * norm_sq + w1.ln() / lambda;
                    assert!(
                        energy <= last + 1e-10,
                        "{law:?} seed {seed}: {energy} > {last}"
                    );
                    (last, steps) = (energy, steps + 1);
                    std::mem::swap(&mut x, &mut next);
                }
            }
        }
        assert_eq!(steps, 600);
    }

    /// Stopping certain failures changes no retrieved flag: 160 runs across
    /// laws, both phases and both starts, near each crossing, against the
    /// same runs taken to their fixed points. Runs the certificate did not
    /// stop are identical; a good share of the failures is stopped, and
    /// early (the point of it).
    #[test]
    fn certified_failures_are_failures() {
        let cases = [
            (PatternLaw::Gaussian, 0.5, 16, 0.33, 1.0),
            (PatternLaw::Gaussian, 0.9, 16, 0.45, 1.0),
            (PatternLaw::Gaussian, 2.0, 16, 0.5, 0.7),
            (PatternLaw::Spherical, 1.0, 16, 0.52, 1.0),
            (PatternLaw::Binary, 1.0, 16, 0.52, 1.0),
            (PatternLaw::Binary, 4.0, 16, 0.6, 0.6),
            (PatternLaw::Gaussian, 0.5, 16, 0.3, 0.6),
            (PatternLaw::Spherical, 3.0, 14, 0.6, 0.8),
        ];
        let params = DynamicsParams {
            max_steps: 300,
            ..DynamicsParams::default()
        };
        let (mut runs, mut failures, mut certified, mut saved) = (0, 0, 0, 0);
        for (c, (law, lambda, n, alpha, rho)) in cases.iter().enumerate() {
            let p = (alpha * *n as f64).exp().round() as usize;
            for seed in 0..20 {
                let mut rng = trial_rng(1000 + 100 * c as u64 + seed);
                let pats = Patterns::sample(law, *n, p, DEFAULT_MEMORY_LIMIT, &mut rng).unwrap();
                let x0 = crate::patterns::initial_state(law, pats.xi1(), *rho, &mut rng).unwrap();
                let whole = DynamicsParams {
                    stop_certain_failures: false,
                    ..params
                };
                let (full, x_full) = run_to_state(&pats, &x0, *lambda, &whole).unwrap();
                let (fast, x_fast) = run_to_state(&pats, &x0, *lambda, &params).unwrap();
                let what = format!("{law:?} lambda {lambda} rho {rho} seed {seed}");
                assert_eq!(fast.retrieved, full.retrieved, "{what}");
                assert!(!full.certified_failure, "{what}");
                if fast.certified_failure {
                    assert!(fast.final_weight < 0.5 && fast.steps < full.steps, "{what}");
                    certified += 1;
                    saved += full.steps - fast.steps;
                } else {
                    assert_eq!((fast.steps, fast.converged), (full.steps, full.converged));
                    assert_eq!(x_fast, x_full, "{what}");
                }
                runs += 1;
                failures += usize::from(!full.retrieved);
            }
        }
        assert_eq!(runs, 160);
        assert!((40..=120).contains(&failures), "{failures} failures");
        assert!(
            2 * certified >= failures,
            "{certified} of {failures} certified"
        );
        assert!(saved >= 5 * certified, "{saved} steps saved by {certified}");
    }

    /// The certificate's inequality at hand-made states: a state at xi^1
    /// with w1 = 1/2 is on the boundary (kept going), just below it lost;
    /// distance from xi^1 raises the bar by lambda |x - xi^1|^2 / 2 nats.
    #[test]
    fn certificate_boundary() {
        let certainly_lost =
            |x: &[f64], xi1: &[f32], w1, lambda| below_floor(w1, lost_floor(x, xi1, lambda));
        let xi1 = [1.0_f32, -2.0, 0.5];
        let at: Vec<f64> = xi1.iter().map(|&v| f64::from(v)).collect();
        assert!(!certainly_lost(&at, &xi1, 0.5, 1.0));
        assert!(certainly_lost(&at, &xi1, 0.5 * (1.0 - 1e-6), 1.0));
        // |x - xi^1|^2 = 4: at lambda = 0.5 the weight must be below e^{-1}/2.
        let off = [at[0] + 2.0, at[1], at[2]];
        assert!(!certainly_lost(
            &off,
            &xi1,
            0.5 * (-1.0f64).exp() * (1.0 + 1e-6),
            0.5
        ));
        assert!(certainly_lost(
            &off,
            &xi1,
            0.5 * (-1.0f64).exp() * (1.0 - 1e-6),
            0.5
        ));
        assert!(certainly_lost(&off, &xi1, 0.0, 0.5));
        // Lost strictly below the floor; an underflowed weight counts as
        // the smallest normal number (ln = -708.4).
        assert!(!below_floor(0.25, 0.25f64.ln()));
        assert!(below_floor(0.25, 0.25f64.ln() + 1e-15));
        assert!(below_floor(0.0, -700.0) && !below_floor(0.0, -710.0));
    }

    /// The exposed kernel agrees with a naive dot product and rejects
    /// mismatched lengths.
    #[test]
    fn scores_kernel() {
        let pats = sample(PatternLaw::Binary, 13, 40, 21);
        let x: Vec<f64> = (0..13).map(|i| i as f64 - 6.0).collect();
        let mut out = vec![0.0; 40];
        scores(&pats, &x, &mut out).unwrap();
        for (s, r) in out.iter().zip(pats.rows()) {
            let naive: f64 = r.iter().zip(&x).map(|(&a, b)| f64::from(a) * b).sum();
            assert_eq!(*s, naive);
        }
        assert!(scores(&pats, &x[..12], &mut out).is_err());
        assert!(scores(&pats, &x, &mut out[..39]).is_err());
    }

    /// A compiled [`add_rows`].
    type AddRows = fn(&Patterns, &[(f64, usize)], &mut [f64]);

    /// The grouped weighted sum of `RowKernel::add`, and each compiled
    /// `add_rows` this processor runs, gives the bits of one `axpy` after
    /// another, for whole groups and remainders of 1-3 rows, the rows out
    /// of order (a fixed permutation).
    #[test]
    fn grouped_add_is_one_axpy_after_another_bit_for_bit() {
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let p = 23;
        let all: Vec<(f64, usize)> = (0..p)
            .map(|mu| (0.1 + (mu as f64 * 0.7).sin().abs(), (mu * 7) % p))
            .collect();
        #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
        let mut variants: Vec<(&str, AddRows)> =
            vec![("portable", |p, t, y| add_rows_portable(p, t, y))];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the processor supports AVX2.
                variants.push(("avx2", |p, t, y| unsafe { add_rows_avx2(p, t, y) }));
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the processor supports AVX-512F.
                variants.push(("avx512", |p, t, y| unsafe { add_rows_avx512(p, t, y) }));
            }
        }
        for n in [1, 3, 4, 5, 8, 33, 64] {
            let pats = sample(PatternLaw::Gaussian, n, p, 50 + n as u64);
            let start: Vec<f64> = (0..n).map(|i| (i as f64).cos()).collect();
            for len in [0, 1, 2, 3, 4, 5, 11, p] {
                let terms = &all[..len];
                let mut expected = start.clone();
                for &(w, mu) in terms {
                    axpy(w, pats.row(mu), &mut expected);
                }
                let mut kernel = pats.kernel(&start);
                kernel.sum.copy_from_slice(&start);
                kernel.add(terms);
                assert_eq!(bits(&kernel.sum), bits(&expected), "N = {n}, {len} terms");
                for (name, add) in &variants {
                    let mut sum = start.clone();
                    add(&pats, terms, &mut sum);
                    assert_eq!(bits(&sum), bits(&expected), "{name}, N = {n}, {len} terms");
                }
            }
        }
    }

    /// The score kernel (the AVX2 one, four rows at a time, when the
    /// processor has it) gives each row exactly the bits of `dot` on it
    /// alone, for every N mod 4 and row counts off the group of four and
    /// off the two halves scored side by side (P = 20: one group of the
    /// second half scored alone, 23: and three rows past the groups); `dot`
    /// agrees with a plain sum; `max_score` is the largest of `scores`.
    #[test]
    fn kernel_is_dot_bit_for_bit() {
        for n in (1..=20).chain([31, 32, 33, 36, 48, 64, 67]) {
            for p in [1, 3, 4, 5, 8, 11, 17, 20, 23] {
                let pats = sample(PatternLaw::Gaussian, n, p, 30 + n as u64);
                let x: Vec<f64> = (0..n).map(|i| (i as f64 * 1.3).cos() * 2.0).collect();
                let (mut fast, mut portable) = (vec![0.0; p], vec![0.0; p]);
                dot_rows(pats.as_slice(), &x, &mut fast);
                dot_rows_portable(pats.as_slice(), &x, &mut portable);
                for ((f, q), row) in fast.iter().zip(&portable).zip(pats.rows()) {
                    let d = dot(row, &x);
                    assert_eq!(f.to_bits(), d.to_bits(), "N = {n}, P = {p}");
                    assert_eq!(q.to_bits(), d.to_bits(), "N = {n}, P = {p}");
                    let plain: f64 = row.iter().zip(&x).map(|(&a, b)| f64::from(a) * b).sum();
                    let scale: f64 = row
                        .iter()
                        .zip(&x)
                        .map(|(&a, b)| (f64::from(a) * b).abs())
                        .sum();
                    assert!((d - plain).abs() <= 1e-14 * scale, "N = {n}: {d} {plain}");
                }
                let best = max_score(&pats, &x).unwrap();
                assert_eq!(best, fast.iter().copied().fold(f64::NEG_INFINITY, f64::max));
            }
        }
        let pats = sample(PatternLaw::Gaussian, 5, 3 * BLOCK + 7, 3);
        let x = [0.5, -1.0, 2.0, 0.25, 1.5];
        let mut all = vec![0.0; pats.p()];
        scores(&pats, &x, &mut all).unwrap();
        let best = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(max_score(&pats, &x).unwrap(), best);
        assert!(max_score(&pats, &x[..4]).is_err());
    }

    /// lambda = 1e3 (scores ~ 1e4, far beyond exp's range): no NaN, the
    /// state freezes on a pattern.
    #[test]
    fn huge_lambda_is_stable() {
        for law in [
            PatternLaw::Gaussian,
            PatternLaw::Spherical,
            PatternLaw::Binary,
        ] {
            let pats = sample(law.clone(), 16, 3000, 22);
            let x0: Vec<f64> = pats.xi1().iter().map(|&v| f64::from(v)).collect();
            let out = run_dynamics(&pats, &x0, 1e3, &DynamicsParams::default()).unwrap();
            assert!(
                out.first_step.w1.is_finite() && out.final_overlap.is_finite(),
                "{law:?}: {out:?}"
            );
            assert!(out.converged && out.steps <= 3, "{law:?}: {out:?}");
            let far = vec![1e3; 16];
            let out = run_dynamics(&pats, &far, 1e3, &DynamicsParams::default()).unwrap();
            assert!(
                out.first_step.w1.is_finite() && out.final_overlap.is_finite(),
                "{law:?}: {out:?}"
            );
        }
    }

    /// A single stored pattern is reached in one step and retrieved.
    #[test]
    fn single_pattern_fixed_point() {
        let pats = sample(PatternLaw::Spherical, 10, 1, 23);
        let x0 = vec![0.3; 10];
        let out = run_dynamics(&pats, &x0, 0.5, &DynamicsParams::default()).unwrap();
        assert_eq!(out.first_step.w1, 1.0);
        assert!(out.retrieved && out.converged && out.steps == 2);
        assert!((out.final_overlap - 1.0).abs() < 1e-12);
    }

    /// Retrieval needs both halves of the criterion. An exact duplicate of
    /// xi^1 leaves the state at xi^1 (overlap 1) with the weight split
    /// exactly 1/2 : 1/2, so it is not retrieved. And one step from
    /// `x0 = (1, 0.9)` with orthogonal patterns `(1, 0)`, `(0, 1)` at
    /// lambda = 1 gives xi^1 the weight `1 / (1 + e^{-0.1}) = 0.525 > 1/2`
    /// but the state `(0.525, 0.475)` has overlap `0.742 < 0.9`.
    #[test]
    fn retrieval_needs_overlap_and_weight() {
        let duplicate = Patterns::from_rows(4, [1.0, -1.0, 1.0, -1.0].repeat(2)).unwrap();
        let xi1 = [1.0, -1.0, 1.0, -1.0];
        let out = run_dynamics(&duplicate, &xi1, 2.0, &DynamicsParams::default()).unwrap();
        assert!(
            (out.final_overlap - 1.0).abs() < 1e-12 && (out.final_weight - 0.5).abs() < 1e-12,
            "{out:?}"
        );
        assert!(!out.retrieved, "{out:?}");
        assert!(!out.first_step.xi1_largest, "a tie is not strictly largest");
        let orthogonal = Patterns::from_rows(2, vec![1.0, 0.0, 0.0, 1.0]).unwrap();
        let one_step = DynamicsParams {
            max_steps: 1,
            ..DynamicsParams::default()
        };
        let out = run_dynamics(&orthogonal, &[1.0, 0.9], 1.0, &one_step).unwrap();
        let w1 = 1.0 / (1.0 + (-0.1f64).exp());
        assert!((out.final_weight - w1).abs() < 1e-12, "{out:?}");
        let overlap = w1 / (w1 * w1 + (1.0 - w1).powi(2)).sqrt();
        assert!((out.final_overlap - overlap).abs() < 1e-12, "{out:?}");
        assert!(!out.retrieved, "{out:?}");
    }

    /// The loop of `iterate` with hand-made steps. Step `k` moves the
    /// state by `2^-k` along one axis: at N = 4 (`sqrt N = 2`) the first
    /// move with `2^-k / 2 < 1e-6` is `k = 19`. A step cap ends the run
    /// unconverged; an abandoned step or a weight below the floor ends it
    /// as a certified failure, unless it also converged.
    #[test]
    fn iterate_stops_at_tolerance_cap_or_certified_loss() {
        let xi1 = [1.0_f32; 4];
        let x0 = [1.0; 4];
        let quiet = DynamicsParams {
            stop_certain_failures: false,
            ..DynamicsParams::default()
        };
        let halving = |w1: f64| {
            let mut k = 0;
            move |x: &[f64], next: &mut [f64], _floor: f64| {
                k += 1;
                next.copy_from_slice(x);
                next[0] += 0.5f64.powi(k);
                Stepped::Whole(FirstStep {
                    w1,
                    xi1_largest: true,
                })
            }
        };
        let (out, x) = iterate(&x0, &xi1, 1.0, &quiet, halving(0.9));
        assert_eq!(
            (out.steps, out.converged, out.certified_failure),
            (19, true, false)
        );
        assert!((x[0] - (2.0 - 0.5f64.powi(19))).abs() < 1e-15);
        assert_eq!(out.final_overlap, normalised_overlap(&x, &xi1));
        assert!(out.retrieved && out.final_weight == 0.9);
        // A move of exactly tolerance * sqrt(N) (2e-6 from 0: sqrt(d^2) = d
        // and halving are exact) is not yet converged.
        let (edge, _) = iterate(&[0.0; 4], &xi1, 1.0, &quiet, |x, next, _| {
            next.copy_from_slice(x);
            next[0] = if x[0] == 0.0 { 2e-6 } else { x[0] };
            Stepped::Whole(FirstStep {
                w1: 0.9,
                xi1_largest: true,
            })
        });
        assert_eq!((edge.steps, edge.converged), (2, true));
        let capped = DynamicsParams {
            max_steps: 5,
            ..quiet
        };
        let (out, _) = iterate(&x0, &xi1, 1.0, &capped, halving(0.9));
        assert_eq!(
            (out.steps, out.converged, out.certified_failure),
            (5, false, false)
        );
        // The floor is passed to the step only when failures are certified.
        let floors = |params: &DynamicsParams| {
            let mut seen = Vec::new();
            iterate(&x0, &xi1, 2.0, params, |x, next, floor| {
                seen.push(floor);
                next.copy_from_slice(x);
                next[0] += 1.0;
                Stepped::Whole(FirstStep {
                    w1: 0.9,
                    xi1_largest: true,
                })
            });
            seen
        };
        assert!(floors(&capped).iter().all(|&f| f == f64::NEG_INFINITY));
        let certifying = DynamicsParams {
            stop_certain_failures: true,
            ..capped
        };
        let seen = floors(&certifying);
        assert_eq!(seen.len(), 5);
        for (k, floor) in seen.into_iter().enumerate() {
            // |x - xi^1|^2 = k^2 before step k + 1.
            let expected = -((k * k) as f64) - std::f64::consts::LN_2 - CERTIFICATE_SLACK;
            assert!((floor - expected).abs() < 1e-12, "step {k}: {floor}");
        }
        // w1 = 1e-300 at xi^1 is below the floor -ln 2: lost at step 1,
        // certified while the state still moves, not once it has converged.
        let (out, _) = iterate(&x0, &xi1, 1.0, &certifying, halving(1e-300));
        assert_eq!(
            (out.steps, out.certified_failure, out.retrieved),
            (1, true, false)
        );
        let still = |x: &[f64], next: &mut [f64], _: f64| {
            next.copy_from_slice(x);
            Stepped::Whole(FirstStep {
                w1: 1e-300,
                xi1_largest: false,
            })
        };
        let (out, _) = iterate(&x0, &xi1, 1.0, &certifying, still);
        assert_eq!(
            (out.steps, out.converged, out.certified_failure),
            (1, true, false)
        );
        let abandon = |_: &[f64], _: &mut [f64], _: f64| {
            Stepped::Abandoned(FirstStep {
                w1: 0.25,
                xi1_largest: false,
            })
        };
        let (out, x) = iterate(&x0, &xi1, 1.0, &certifying, abandon);
        assert_eq!(
            (out.steps, out.converged, out.certified_failure),
            (1, false, true)
        );
        assert_eq!(
            (out.final_weight, out.first_step.w1, x),
            (0.25, 0.25, x0.to_vec())
        );
    }

    /// The retrieval criterion at its two edges: the overlap may equal the
    /// threshold; the weight must exceed 1/2.
    #[test]
    fn retrieval_criterion_edges() {
        let xi1 = [1.0_f32, 0.0, 0.0];
        let x0 = [1.0, 1.0, 0.0];
        let overlap = normalised_overlap(&x0, &xi1);
        let run = |threshold: f64, w1: f64| {
            let params = DynamicsParams {
                retrieval_threshold: threshold,
                stop_certain_failures: false,
                ..DynamicsParams::default()
            };
            let still = |x: &[f64], next: &mut [f64], _: f64| {
                next.copy_from_slice(x);
                Stepped::Whole(FirstStep {
                    w1,
                    xi1_largest: true,
                })
            };
            iterate(&x0, &xi1, 1.0, &params, still).0.retrieved
        };
        assert!(run(overlap, 0.6));
        assert!(!run(overlap + 1e-12, 0.6));
        assert!(!run(overlap, 0.5));
        assert!(run(overlap, 0.5 + 1e-12));
    }

    /// A stepper after its first (full) pass, at `anchor`.
    fn stepper_after_pass<'a>(
        pats: &'a Patterns,
        lambda: f64,
        params: &DynamicsParams,
        anchor: &[f64],
    ) -> Stepper<'a, Patterns> {
        let mut stepper = Stepper::new(pats, lambda, params);
        stepper.step(anchor, &mut vec![0.0; anchor.len()]);
        stepper
    }

    /// `ln sum_mu e^{lambda xi^mu . x}` over the rows `mu` with `keep(mu)`,
    /// by the library's `exp`.
    fn ln_sum(pats: &Patterns, lambda: f64, x: &[f64], keep: impl Fn(usize) -> bool) -> f64 {
        let z: Vec<f64> = (0..pats.p())
            .filter(|&mu| keep(mu))
            .map(|mu| lambda * dot(pats.row(mu), x))
            .collect();
        let top = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        top + z.iter().map(|v| (v - top).exp()).sum::<f64>().ln()
    }

    /// A candidate set drawn by a full pass at `anchor`, for
    /// [`check_pruning_bound`]: which rows it kept, and its bound
    /// `ln_excluded` on the excluded mass at the anchor.
    pub(crate) struct Drawn<'a> {
        pub(crate) anchor: &'a [f64],
        pub(crate) kept: &'a [bool],
        pub(crate) ln_excluded: f64,
    }

    /// The pruning rule, checked against brute force, for the stored and
    /// the streamed stepper alike. `drawn` was drawn at a frozen anchor
    /// from `pats`; `pruned_at(x)` makes one step at `x` with a stepper
    /// whose only full pass was at the anchor, and says whether that step
    /// was pruned. The state moves by `d` from the anchor towards the
    /// excluded pattern with the largest score, which is the direction in
    /// which the excluded mass grows fastest (Cauchy-Schwarz is then an
    /// equality for that pattern). A step must be pruned exactly when `ln
    /// S + lambda max|xi| d + ROUNDING_SLACK - ln Z_candidates(x) <= ln
    /// prune_tolerance` (module doc), and whenever it is, the excluded
    /// patterns must really weigh at most `prune_tolerance` of the
    /// candidates. Along the sweep some steps are pruned (at the anchor
    /// itself in particular) and some are refused where pruning would
    /// break the tolerance.
    pub(crate) fn check_pruning_bound(
        pats: &Patterns,
        lambda: f64,
        tolerance: f64,
        drawn: &Drawn,
        pruned_at: impl Fn(&[f64]) -> bool,
    ) {
        let (anchor, kept) = (drawn.anchor, drawn.kept);
        let excluded_now = ln_sum(pats, lambda, anchor, |mu| !kept[mu]);
        assert!(
            excluded_now <= drawn.ln_excluded + 1e-9,
            "S bounds the excluded mass"
        );
        let nu = (0..pats.p())
            .filter(|&mu| !kept[mu])
            .max_by(|&a, &b| dot(pats.row(a), anchor).total_cmp(&dot(pats.row(b), anchor)))
            .expect("some pattern is excluded");
        let row: Vec<f64> = pats.row(nu).iter().map(|&v| f64::from(v)).collect();
        let length = row.iter().map(|v| v * v).sum::<f64>().sqrt();
        let (mut pruned, mut refused_unsafe) = (0, 0);
        for j in 0..=600 {
            let d = if j == 0 { 0.0 } else { 1e-4 * 1.02f64.powi(j) };
            let x: Vec<f64> = anchor
                .iter()
                .zip(&row)
                .map(|(a, r)| a + d * r / length)
                .collect();
            let was_pruned = pruned_at(&x);
            let ln_candidates = ln_sum(pats, lambda, &x, |mu| kept[mu]);
            let margin = drawn.ln_excluded + lambda * pats.max_norm() * d + ROUNDING_SLACK
                - ln_candidates
                - tolerance.ln();
            let ratio = (ln_sum(pats, lambda, &x, |mu| !kept[mu]) - ln_candidates).exp();
            if margin.abs() > 1e-6 {
                assert_eq!(was_pruned, margin <= 0.0, "d = {d}, margin {margin}");
            }
            if was_pruned {
                assert!(ratio <= tolerance, "d = {d}: {ratio}");
                pruned += 1;
            } else if ratio > tolerance {
                refused_unsafe += 1;
            }
            if j == 0 {
                assert!(was_pruned, "a step at the anchor is pruned");
            }
        }
        assert!(
            pruned >= 3 && refused_unsafe >= 3,
            "{pruned} pruned, {refused_unsafe} refused"
        );
    }

    /// The stored stepper's pruning rule against brute force
    /// ([`check_pruning_bound`]): gaussian patterns, lambda = 4, anchored
    /// at xi^1; each step is pruned or makes one full pass.
    #[test]
    fn pruning_rule_keeps_its_bound() {
        let (lambda, tolerance) = (4.0, 1e-9);
        let pats = sample(PatternLaw::Gaussian, 16, 600, 31);
        let params = DynamicsParams {
            prune_tolerance: tolerance,
            prune_headroom: 0.0,
            ..DynamicsParams::default()
        };
        let anchor: Vec<f64> = pats.xi1().iter().map(|&v| f64::from(v)).collect();
        let first = stepper_after_pass(&pats, lambda, &params, &anchor);
        let candidates = first
            .candidates
            .as_ref()
            .expect("a frozen state draws candidates");
        assert_eq!(candidates.anchor, anchor);
        let mut kept = vec![false; pats.p()];
        candidates.rows.iter().for_each(|&mu| kept[mu] = true);
        let drawn = Drawn {
            anchor: &anchor,
            kept: &kept,
            ln_excluded: candidates.ln_excluded,
        };
        check_pruning_bound(&pats, lambda, tolerance, &drawn, |x| {
            let mut stepper = stepper_after_pass(&pats, lambda, &params, &anchor);
            stepper.step(x, &mut vec![0.0; x.len()]);
            stepper.pruned == 1
        });
    }

    /// Candidate sets are drawn only when the pass suggests they can be:
    /// not at a paramagnetic state (gaussian, lambda = 0.5, P = e^{0.3 N},
    /// from a random state), where the bulk of the patterns carries the
    /// weight; always at the frozen state above.
    #[test]
    fn candidates_are_drawn_only_where_they_can_exist() {
        let params = DynamicsParams::default();
        let pats = sample(PatternLaw::Gaussian, 16, 121, 32);
        let x: Vec<f64> = (0..16)
            .map(|k| if k % 2 == 0 { 0.3 } else { -0.2 })
            .collect();
        let warm = stepper_after_pass(&pats, 0.5, &params, &x);
        assert!(!warm.promising && warm.candidates.is_none());
        let frozen = sample(PatternLaw::Gaussian, 16, 600, 31);
        let at_xi1: Vec<f64> = frozen.xi1().iter().map(|&v| f64::from(v)).collect();
        let cold = stepper_after_pass(&frozen, 4.0, &params, &at_xi1);
        assert!(cold.promising && cold.candidates.is_some());
        let full = stepper_after_pass(&frozen, 4.0, &params.full(), &at_xi1);
        assert!(!full.promising && full.candidates.is_none() && full.z.is_empty());
    }

    /// The draw test of `worth_drawing` at its edge: worth it exactly
    /// when `ln(P/8) + mean + 0.674 sd - ln Z <= ln prune_tolerance -
    /// headroom`, for two passes of P = 800 patterns.
    #[test]
    fn worth_drawing_edge() {
        let pats = sample(PatternLaw::Gaussian, 4, 800, 33);
        let params = DynamicsParams::default();
        let stepper = Stepper::new(&pats, 1.0, &params);
        for (mean_z, sd_z) in [(1.0, 2.0), (-3.0, 0.5)] {
            let edge = 100f64.ln() + mean_z + 0.674 * sd_z - (1e-13f64.ln() - 6.0);
            let pass = |ln_z: f64| Pass {
                observed: FirstStep {
                    w1: 0.5,
                    xi1_largest: true,
                },
                top: ln_z,
                ln_z,
                mean_z,
                sd_z,
            };
            assert!(stepper.worth_drawing(&pass(edge + 1e-9)), "{mean_z} {sd_z}");
            assert!(
                !stepper.worth_drawing(&pass(edge - 1e-9)),
                "{mean_z} {sd_z}"
            );
        }
    }

    /// A candidate set keeps at most an eighth of the patterns, counting
    /// xi^1 always. Sixteen rows at `x = (1, 0)`, lambda = 100: xi^1 =
    /// (1, 0) on top, the others (0, 1) 100 nats below (excluded), except
    /// for `near` of them at (0.99, 0), one nat below the top (kept). One
    /// near row gives three kept rows (counted with the extra one for
    /// xi^1), too many for P/8 = 2; none gives two, a set.
    #[test]
    fn candidate_sets_keep_at_most_an_eighth() {
        let draw = |near: usize| {
            let mut rows = vec![1.0_f32, 0.0];
            for k in 1..16 {
                rows.extend(if k <= near { [0.99, 0.0] } else { [0.0, 1.0] });
            }
            let pats = Patterns::from_rows(2, rows).unwrap();
            let stepper = stepper_after_pass(&pats, 100.0, &DynamicsParams::default(), &[1.0, 0.0]);
            assert!(stepper.promising, "{near}");
            stepper.candidates.map(|c| c.rows)
        };
        assert_eq!(draw(0), Some(vec![0]));
        assert_eq!(draw(1), None);
        // Scores that are whole numbers (lambda = 1, x = (1, 0)): xi^1 at
        // 100, two rows 36.5 nats below (2 e^-36 is over the budget
        // 1e-13 e^-6 = 2.5e-16, so the cut is 37), one row exactly 37
        // below (excluded: a row is kept only strictly above the cut) and
        // 28 rows 100 below.
        let mut rows = vec![100.0_f32, 0.0, 63.5, 0.0, 63.5, 0.0, 63.0, 0.0];
        rows.extend([0.0, 1.0].repeat(28));
        let pats = Patterns::from_rows(2, rows).unwrap();
        let stepper = stepper_after_pass(&pats, 1.0, &DynamicsParams::default(), &[1.0, 0.0]);
        assert_eq!(stepper.candidates.map(|c| c.rows), Some(vec![0, 1, 2]));
    }

    /// Bad parameters are errors.
    #[test]
    fn bad_input_is_rejected() {
        let pats = sample(PatternLaw::Gaussian, 4, 3, 24);
        let x = vec![1.0; 4];
        let ok = DynamicsParams::default();
        assert!(run_dynamics(&pats, &x, 0.0, &ok).is_err());
        assert!(run_dynamics(&pats, &x, f64::NAN, &ok).is_err());
        assert!(run_dynamics(&pats, &x[..3], 1.0, &ok).is_err());
        assert!(run_dynamics(&pats, &[1.0, f64::INFINITY, 0.0, 0.0], 1.0, &ok).is_err());
        for bad in [
            DynamicsParams {
                tolerance: 0.0,
                ..ok
            },
            DynamicsParams { max_steps: 0, ..ok },
            DynamicsParams {
                retrieval_threshold: 1.5,
                ..ok
            },
            DynamicsParams {
                prune_tolerance: 1e-3,
                ..ok
            },
            DynamicsParams {
                prune_tolerance: f64::NAN,
                ..ok
            },
            DynamicsParams {
                prune_headroom: -1.0,
                ..ok
            },
        ] {
            assert!(run_dynamics(&pats, &x, 1.0, &bad).is_err());
        }
    }
}
