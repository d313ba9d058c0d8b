//! The retrieval dynamics of the modern Hopfield network,
//! `x <- sum_mu xi^mu softmax_mu(lambda xi^mu . x)`, run to a fixed point.
//!
//! Patterns are `f32`; scores, weights and the new state are accumulated in
//! `f64`. One step is a single pass over the pattern matrix: rows are taken
//! in blocks, the block's scores are computed by a vectorisable dot-product
//! kernel, and the weighted sum of rows is accumulated online against a
//! running maximum score (log-sum-exp), so the softmax is stable
//! for any `lambda` and the matrix is read from memory only once per step.

use crate::first_step::FirstStep;
use crate::partition::{block_max, Partition};
use crate::patterns::{normalised_overlap, Patterns};
use crate::ValidationError;

/// Rows per block: the block's scores live on the stack and its rows stay in
/// cache between scoring and accumulation.
const BLOCK: usize = 256;

/// Stopping rule and retrieval criterion of the dynamics.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DynamicsParams {
    /// Converged when `|x' - x| / sqrt(N)` falls below this.
    pub tolerance: f64,
    /// Cap on the number of steps.
    pub max_steps: usize,
    /// Retrieved when the final normalised overlap `x . xi^1 / (|x| |xi^1|)`
    /// is at least this.
    pub retrieval_threshold: f64,
}

impl Default for DynamicsParams {
    fn default() -> Self {
        Self {
            tolerance: 1e-6,
            max_steps: 1000,
            retrieval_threshold: 0.9,
        }
    }
}

impl DynamicsParams {
    /// Checks that the parameters make sense.
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
        Ok(())
    }
}

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
}

/// Scores `s_mu = xi^mu . x` of all patterns against `x`, written to `out`
/// (length `P`). This is the kernel of the dynamics, exposed so that its
/// throughput can be timed.
pub fn scores(patterns: &Patterns, x: &[f64], out: &mut [f64]) -> Result<(), ValidationError> {
    check_state(patterns, x)?;
    if out.len() != patterns.p() {
        return Err(ValidationError::InvalidParameter(format!(
            "score buffer has length {}, expected P = {}",
            out.len(),
            patterns.p()
        )));
    }
    for (s, row) in out.iter_mut().zip(patterns.rows()) {
        *s = dot(row, x);
    }
    Ok(())
}

/// Runs the dynamics from `x0` at inverse temperature `lambda` until
/// `|x' - x| / sqrt(N) < tolerance` or `max_steps`; row 0 of `patterns` is
/// xi^1, the pattern to retrieve.
pub fn run_dynamics(
    patterns: &Patterns,
    x0: &[f64],
    lambda: f64,
    params: &DynamicsParams,
) -> Result<Outcome, ValidationError> {
    check_state(patterns, x0)?;
    check_lambda(lambda)?;
    params.validate()?;
    let scale = (patterns.n() as f64).sqrt();
    let mut x = x0.to_vec();
    let mut next = vec![0.0; x.len()];
    // One step: returns xi^1's softmax observables at the current state and
    // whether the move was below tolerance; leaves the new state in `x`.
    let advance = |x: &mut Vec<f64>, next: &mut Vec<f64>| {
        let observed = step(patterns, x, lambda, next);
        let small = distance(x, next) / scale < params.tolerance;
        std::mem::swap(x, next);
        (observed, small)
    };
    let (first_step, mut converged) = advance(&mut x, &mut next);
    let mut last_step = first_step;
    let mut steps = 1;
    while steps < params.max_steps && !converged {
        (last_step, converged) = advance(&mut x, &mut next);
        steps += 1;
    }
    let final_overlap = normalised_overlap(&x, patterns.xi1());
    Ok(Outcome {
        first_step,
        final_overlap,
        final_weight: last_step.w1,
        retrieved: final_overlap >= params.retrieval_threshold && last_step.w1 > 0.5,
        steps,
        converged,
    })
}

/// Inverse temperature must be positive and finite.
pub(crate) fn check_lambda(lambda: f64) -> Result<(), ValidationError> {
    if lambda > 0.0 && lambda.is_finite() {
        Ok(())
    } else {
        Err(ValidationError::InvalidParameter(format!(
            "lambda must be positive and finite, got {lambda}"
        )))
    }
}

/// The state must have dimension `N` and finite entries.
fn check_state(patterns: &Patterns, x: &[f64]) -> Result<(), ValidationError> {
    if x.len() != patterns.n() || !x.iter().all(|v| v.is_finite()) {
        return Err(ValidationError::InvalidParameter(format!(
            "state must have N = {} finite entries, got {} entries",
            patterns.n(),
            x.len()
        )));
    }
    Ok(())
}

/// One step `next = sum_mu xi^mu softmax_mu(lambda xi^mu . x)`, returning
/// the softmax observables of xi^1 at `x`.
fn step(patterns: &Patterns, x: &[f64], lambda: f64, next: &mut [f64]) -> FirstStep {
    let n = patterns.n();
    let mut partition = Partition::new();
    let mut z = [0.0_f64; BLOCK];
    let mut z1 = f64::NEG_INFINITY;
    let mut best_other = f64::NEG_INFINITY;
    next.fill(0.0);
    for (b, block) in patterns.as_slice().chunks(BLOCK * n).enumerate() {
        let zb = &mut z[..block.len() / n];
        for (zi, row) in zb.iter_mut().zip(block.chunks_exact(n)) {
            *zi = lambda * dot(row, x);
        }
        let others = if b == 0 {
            z1 = zb[0];
            &zb[1..]
        } else {
            &zb[..]
        };
        best_other = best_other.max(block_max(others));
        let factor = partition.raise_shift(block_max(zb));
        if factor != 1.0 {
            next.iter_mut().for_each(|v| *v *= factor);
        }
        for (&zi, row) in zb.iter().zip(block.chunks_exact(n)) {
            let w = partition.add(zi);
            if w > 0.0 {
                axpy(w, row, next);
            }
        }
    }
    let total = partition.relative_sum();
    next.iter_mut().for_each(|v| *v /= total);
    FirstStep {
        w1: partition.weight_of(z1),
        xi1_largest: z1 > best_other,
    }
}

/// `row . x` with `f64` accumulation in four independent lanes, which the
/// compiler turns into SIMD code.
fn dot(row: &[f32], x: &[f64]) -> f64 {
    const LANES: usize = 4;
    let mut lanes = [0.0_f64; LANES];
    let rows = row.chunks_exact(LANES);
    let xs = x.chunks_exact(LANES);
    let tail: f64 = rows
        .remainder()
        .iter()
        .zip(xs.remainder())
        .map(|(&a, b)| f64::from(a) * b)
        .sum();
    for (r, xv) in rows.zip(xs) {
        for ((acc, &a), b) in lanes.iter_mut().zip(r).zip(xv) {
            *acc += f64::from(a) * b;
        }
    }
    lanes.iter().sum::<f64>() + tail
}

/// `y += w row`.
fn axpy(w: f64, row: &[f32], y: &mut [f64]) {
    for (yi, &a) in y.iter_mut().zip(row) {
        *yi += w * f64::from(a);
    }
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
mod tests {
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
        let fs = step(&pats, &x, lambda, &mut next);
        assert!(distance(&next, &expected) < 1e-12);
        assert!((fs.w1 - w[0] / total).abs() < 1e-14);
        assert_eq!(fs.xi1_largest, z[1..].iter().all(|&v| z[0] > v));
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
        ] {
            assert!(run_dynamics(&pats, &x, 1.0, &bad).is_err());
        }
    }
}
