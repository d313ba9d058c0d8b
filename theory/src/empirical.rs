//! The all-patterns bound for i.i.d. entries: a large deviation of the
//! whole empirical law `nu` of the retrieved pattern, exactly.
//!
//! # The failure set is convex in `nu`
//! Let `xi^1` have entries with empirical law `nu` and write
//! `kappa(s) = ln E_b exp(s b)`. Given `xi^1`, the other patterns'
//! overlaps `u = xi^mu . xi^1 / N` have cgf
//! `Lambda_nu(t) = sum_a nu(a) kappa(t a)`, and the signal is
//! `lambda s_nu` with `s_nu = sum_a nu(a) a^2`. The REM free energy is
//! `phi(lambda) = lambda min_{0 < t <= lambda} (alpha + Lambda_nu(t)) / t`
//! (Lagrange duality on `max {alpha - I(u) + lambda u : I(u) <= alpha}`;
//! the minimiser is `t = lambda` in the paramagnetic phase and the
//! freezing point otherwise). So `xi^1` loses to the REM (route A) iff
//!
//! `<nu, h_t> >= -alpha` for every `t` in `(0, lambda]`, with
//! `h_t(a) = kappa(t a) - t a^2`,
//!
//! an intersection of half-spaces in `nu`: a convex set. One other pattern
//! beats the signal (route B, `u >= s_nu`) at cost
//! `(I_nu(s_nu) - alpha)_+` with `I_nu(s_nu) = sup_{t >= 0} <nu, -h_t>`,
//! convex in `nu` too.
//!
//! # Duality: the minimum over the simplex as a two-parameter maximum
//! Sanov's theorem prices `nu` at `KL(nu || p)`. Minimising the convex
//! `KL` over a convex set, the constraint that binds at the optimum is
//! the single `t*` minimising the strictly convex `<nu, h_t>`, so the
//! minimiser is an exponential tilt `nu ~ p exp(theta h_t*)` and
//!
//! `R_A(alpha) = sup_{0 < t <= lambda, theta >= 0} [-theta alpha - ln E_p exp(theta h_t)]`,
//! `R_B(alpha) = sup_{t >= 0, 0 <= theta <= 1} [-theta alpha - ln E_p exp(theta h_t)]`
//!
//! (for route B, `theta` is the multiplier of the `(.)_+` term, hence at
//! most 1). The union bound needs `R > alpha`; as `R_A, R_B` decrease in
//! `alpha`, the largest such load is explicit:
//!
//! `alpha_A = sup Psi`, `alpha_B = sup Psi` over the two domains, with
//! `Psi(t, theta) = -ln E_p exp(theta h_t) / (1 + theta)`,
//!
//! and `alpha_c >= min(alpha_1, alpha_A, alpha_B)`. `Psi` is
//! quasi-concave in `theta` (a concave function vanishing at 0 over
//! `1 + theta`), so `theta` is found by Brent's method; `t` by a grid in
//! `ln t` refined by Brent. `Psi` does not depend on `lambda`, so route
//! A's grid is computed once per law (`LoadProfile`) and each `lambda`
//! of a scan adds at most two values of `sup_theta Psi`. For discrete
//! laws the expectation is a finite sum, so the optimum over the simplex
//! is exact; the limits
//! `theta -> inf` and `t -> inf` (reached by laws such as `+-1`, whose
//! route A is closed below `alpha_1` and whose route B is an exact
//! duplicate, `ln 2 / 2`) are taken in closed form. For continuous laws
//! the same formula holds with `E_p` a quadrature; the tests check it
//! against discretised laws converging to it.
//!
//! Checks: for Gaussian entries `Psi` reduces to the chi-squared norm
//! routes of [`crate::thresholds`](mod@crate::thresholds); a law with atoms at `+-1` gives the
//! binary bound; the duality is checked against a brute-force minimum of
//! `KL(nu || p)` over a grid on a three-atom simplex.

use rayon::prelude::*;

use crate::law::{log_sum_exp, Atom, EntryLaw};
use crate::numeric::minimise;
use crate::thresholds::FailureRate;
use crate::TheoryError;

/// Grid step in `ln t` before Brent refines the best cell.
const LOG_T_STEP: f64 = 0.125;
/// Route A scans `ln t` at least this far below its upper end.
const LOG_T_SPAN: f64 = 9.0;
/// Route B scans `ln t` over this range (plus the exact `t -> inf` limit
/// for discrete laws).
const ROUTE_B_LOG_T: (f64, f64) = (-6.0, 9.0);
/// Largest `w = theta / (1 + theta)` handed to Brent for route A
/// (`theta` up to `1e9`); discrete laws add the limit `w = 1` exactly.
const W_MAX: f64 = 1.0 - 1e-9;
/// `w` of the route-B cap `theta <= 1`.
const W_ROUTE_B: f64 = 0.5;

/// The two loads that, with `alpha_1`, bound `alpha_c` from below.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EmpiricalBound {
    /// `alpha_A`: largest load where no atypical retrieved pattern loses
    /// to the REM of the others.
    pub self_overlap: f64,
    /// `alpha_B`: largest load where no pattern has another as close to
    /// it as itself.
    pub single_pattern: f64,
}

/// What is maximised over `(t, theta)`.
#[derive(Clone, Copy, Debug)]
enum Objective {
    /// `Psi = -ln E exp(theta h_t) / (1 + theta)`, whose supremum is a load.
    Load,
    /// `-theta alpha - ln E exp(theta h_t)`, whose supremum is `R(alpha)`.
    Rate(f64),
}

impl Objective {
    /// The objective at tilt `theta`, given `ln E exp(theta h_t)`.
    fn value(self, theta: f64, ln_mean: f64) -> f64 {
        let value = match self {
            Objective::Load => -ln_mean / (1.0 + theta),
            Objective::Rate(alpha) => -theta * alpha - ln_mean,
        };
        if value.is_nan() {
            f64::NEG_INFINITY
        } else {
            value
        }
    }

    /// The derivative in `theta` at `theta = 0`, given `E h_t`.
    fn slope_at_zero(self, mean_h: f64) -> f64 {
        match self {
            Objective::Load => -mean_h,
            Objective::Rate(alpha) => -alpha - mean_h,
        }
    }

    /// The limit `theta -> inf` when `h_t <= top` with equality on a set
    /// of probability `mass`.
    fn limit(self, top: f64, mass: f64) -> f64 {
        match self {
            Objective::Load => -top,
            Objective::Rate(alpha) if top < -alpha => f64::INFINITY,
            Objective::Rate(alpha) if top == -alpha => -mass.ln(),
            Objective::Rate(_) => f64::NEG_INFINITY,
        }
    }
}

/// `alpha_A(lambda)` and `alpha_B` for i.i.d. entries of `law`.
///
/// # Errors
/// [`TheoryError::InvalidLambda`] unless `lambda` is finite and positive; [`TheoryError::Solver`] if an optimisation fails.
pub fn bound(law: &EntryLaw, lambda: f64) -> Result<EmpiricalBound, TheoryError> {
    Ok(EmpiricalBound {
        self_overlap: route_a_load(law, lambda)?,
        single_pattern: single_pattern_load(law)?,
    })
}

/// Computes the parts of [`bound`] that do not depend on `lambda` (the
/// route-B load and the route-A load profile), each spread over the
/// rayon pool. A scan calls it once before its points run in parallel,
/// which would otherwise wait for the first of them to fill the caches.
///
/// # Errors
/// [`TheoryError::Solver`] (or a typed solver error) if an optimisation
/// over the law fails.
pub fn prepare(law: &EntryLaw) -> Result<(), TheoryError> {
    single_pattern_load(law)?;
    law.load_profile(|| LoadProfile::new(law)).map(drop)
}

/// `alpha_B`, computed once per law.
fn single_pattern_load(law: &EntryLaw) -> Result<f64, TheoryError> {
    law.single_pattern_load(|| route_b(law, Objective::Load))
}

/// `G(t) = sup_theta Psi(t, theta)` for route A, the load that one `t`
/// guarantees. It does not depend on `lambda`.
fn route_a_best_theta(law: &EntryLaw, log_t: f64) -> Result<f64, TheoryError> {
    best_over_theta(law, log_t.exp(), W_MAX, Objective::Load)
}

/// Lower end of the `ln t` range of [`LoadProfile`]: the lowest
/// route-A scan of any `lambda >= e^-6`.
const PROFILE_LOG_T_MIN: f64 = ROUTE_B_LOG_T.0 - LOG_T_SPAN;

/// Route A's `G(t)` tabulated once per law, so that each `lambda` of a
/// scan costs two evaluations of `G` (at the ends of its range of `t`)
/// instead of a grid and a refinement.
///
/// `alpha_A(lambda)` is the supremum of `G` over an interval `[lo, hi]` of
/// `ln t`. The table holds `G` on a fixed grid of step `LOG_T_STEP` from
/// `PROFILE_LOG_T_MIN` to `e^9`, and every interior local maximum of that
/// grid refined by Brent over its two cells. Within a cell `G` is taken to
/// be unimodal, as the direct scan assumes when it refines its best cell;
/// then the supremum over `[lo, hi]` is the largest of: `G` at both ends,
/// the grid values inside, and the refined maxima inside (a maximum whose
/// cell straddles an end, but which lies outside, leaves `G` monotone up
/// to that end, where it is evaluated).
#[derive(Clone, Debug)]
pub(crate) struct LoadProfile {
    /// Grid points `(ln t, G(t))`, increasing in `ln t`.
    grid: Vec<(f64, f64)>,
    /// Refined interior local maxima `(ln t, G(t))`.
    peaks: Vec<(f64, f64)>,
}

impl LoadProfile {
    /// Tabulates `G` for `law`, the grid points in parallel.
    fn new(law: &EntryLaw) -> Result<Self, TheoryError> {
        let (_, hi) = ROUTE_B_LOG_T;
        let count = ((hi - PROFILE_LOG_T_MIN) / LOG_T_STEP).round() as usize;
        let grid = (0..=count)
            .into_par_iter()
            .map(|k| {
                let x = PROFILE_LOG_T_MIN + LOG_T_STEP * k as f64;
                route_a_best_theta(law, x).map(|g| (x, g))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let peaks = grid
            .windows(3)
            .filter(|w| is_local_maximum(w[0].1, w[1].1, w[2].1))
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|w| {
                let f = |x: f64| {
                    -route_a_best_theta(law, x)
                        .unwrap_or(f64::NEG_INFINITY)
                        .min(f64::MAX)
                };
                let (x, neg) =
                    minimise(f, w[0].0, w[2].0, "alpha_c: conjugate inverse temperature")?;
                Ok((x, (-neg).max(w[1].1)))
            })
            .collect::<Result<Vec<_>, TheoryError>>()?;
        Ok(LoadProfile { grid, peaks })
    }

    /// `G` at grid point `log_t`, if it is one.
    fn at_grid_point(&self, log_t: f64) -> Option<f64> {
        let k = ((log_t - PROFILE_LOG_T_MIN) / LOG_T_STEP).round();
        let &(x, g) = self.grid.get(k as usize).filter(|_| k >= 0.0)?;
        (x == log_t).then_some(g)
    }

    /// Whether `G` provably grows from `log_t` towards the next grid
    /// point in direction `inward` (+1 up, -1 down), so that `G(log_t)`
    /// is at most that grid value and need not be computed. Take `G`
    /// unimodal over the cell holding `log_t` and the next one inward (as
    /// the direct scan does when it refines two cells): if `G` strictly
    /// grows across the next cell, the mode lies beyond it, so `G` grows
    /// across the first cell too.
    fn monotone_towards(&self, log_t: f64, inward: isize) -> bool {
        let cell = ((log_t - PROFILE_LOG_T_MIN) / LOG_T_STEP).floor();
        // The grid point on the outer side of `log_t`, then two inward
        // (below the grid one of them is missing).
        let outer = cell as isize + if inward > 0 { 0 } else { 1 };
        let value = |k: isize| usize::try_from(k).ok().and_then(|k| self.grid.get(k));
        match (
            value(outer),
            value(outer + inward),
            value(outer + 2 * inward),
        ) {
            (Some(_), Some(near), Some(far)) => near.1 < far.1,
            _ => false,
        }
    }

    /// The largest tabulated value (grid point or refined maximum) with
    /// `ln t` in `[lo, hi]`.
    fn sup_inside(&self, lo: f64, hi: f64) -> f64 {
        self.grid
            .iter()
            .chain(&self.peaks)
            .filter(|(x, _)| *x >= lo && *x <= hi)
            .map(|&(_, g)| g)
            .fold(f64::NEG_INFINITY, f64::max)
    }
}

/// Whether `middle` is a local maximum worth refining: not below either
/// neighbour, and above at least one (inside a plateau, such as `G = 0`
/// wherever no tilt helps, there is nothing to refine).
fn is_local_maximum(left: f64, middle: f64, right: f64) -> bool {
    middle >= left && middle >= right && (middle > left || middle > right)
}

/// `alpha_A(lambda) = sup G` over route A's range of `ln t` (see
/// [`route_a`]), from the law's [`LoadProfile`] and `G` at both ends.
/// Below the profile's range (`lambda < e^-6`) the grid is scanned
/// directly.
fn route_a_load(law: &EntryLaw, lambda: f64) -> Result<f64, TheoryError> {
    let (lo, hi) = route_a_log_t(lambda);
    let profile = law.load_profile(|| LoadProfile::new(law))?;
    let mut best = profile.sup_inside(lo, hi);
    for (end, inward) in [(lo, 1), (hi, -1)] {
        if profile.at_grid_point(end).is_none() && !profile.monotone_towards(end, inward) {
            best = best.max(route_a_best_theta(law, end)?);
        }
    }
    if lo < PROFILE_LOG_T_MIN {
        let best_theta = |t: f64| best_over_theta(law, t, W_MAX, Objective::Load);
        best = best.max(maximise_over_log_t(&best_theta, lo, PROFILE_LOG_T_MIN)?);
    }
    Ok(best)
}

/// `R(alpha, lambda)` split by route: the exponent of the probability that
/// a given pattern is not retrieved.
///
/// # Errors
/// As [`bound`], and [`TheoryError::InvalidAlpha`] for a load out of range.
pub fn failure_rate(law: &EntryLaw, lambda: f64, alpha: f64) -> Result<FailureRate, TheoryError> {
    Ok(FailureRate {
        self_overlap: route_a(law, lambda, Objective::Rate(alpha))?,
        single_pattern: route_b(law, Objective::Rate(alpha))?,
    })
}

/// Route A: the supremum over `0 < t <= lambda` and `theta >= 0`. `Psi`
/// does not depend on `lambda`, which only caps `t`, so the scan covers
/// route B's range below the cap, and at least `LOG_T_SPAN` below it.
/// Beyond `t = e^9` the scan stops: for `lambda > e^9` the load can only
/// come out lower, so the bound stays a lower bound (and for discrete
/// laws the `t -> inf` limits are reached there to rounding).
fn route_a(law: &EntryLaw, lambda: f64, objective: Objective) -> Result<f64, TheoryError> {
    let best_theta = |t: f64| best_over_theta(law, t, W_MAX, objective);
    let (lo, hi) = route_a_log_t(lambda);
    maximise_over_log_t(&best_theta, lo, hi)
}

/// Route A's range `[lo, hi]` of `ln t` at `lambda`.
fn route_a_log_t(lambda: f64) -> (f64, f64) {
    let (b_lo, b_hi) = ROUTE_B_LOG_T;
    let hi = lambda.ln().min(b_hi);
    ((hi - LOG_T_SPAN).min(b_lo), hi)
}

/// Route B: the supremum over `t >= 0` and `0 <= theta <= 1`; independent
/// of `lambda` (the competitor's weight and the signal both scale with it).
fn route_b(law: &EntryLaw, objective: Objective) -> Result<f64, TheoryError> {
    let best_theta = |t: f64| best_over_theta(law, t, W_ROUTE_B, objective);
    let (lo, hi) = ROUTE_B_LOG_T;
    let finite_t = maximise_over_log_t(&best_theta, lo, hi)?;
    Ok(finite_t.max(route_b_at_infinity(law, objective)?))
}

/// `h_t(a) = kappa(t a) - t a^2`.
fn h(law: &EntryLaw, t: f64, a: f64) -> f64 {
    law.ln_mgf(t * a).0 - t * a * a
}

/// The supremum over `theta = w / (1 - w)`, `w` in `[0, w_max]`; for
/// discrete laws on route A also the exact limit `theta -> inf`.
fn best_over_theta(
    law: &EntryLaw,
    t: f64,
    w_max: f64,
    objective: Objective,
) -> Result<f64, TheoryError> {
    match law.atoms() {
        Some(atoms) => best_over_theta_atoms(law, atoms, t, w_max, objective),
        None => best_over_theta_continuous(law, t, w_max, objective),
    }
}

/// [`best_over_theta`] for a continuous law.
fn best_over_theta_continuous(
    law: &EntryLaw,
    t: f64,
    w_max: f64,
    objective: Objective,
) -> Result<f64, TheoryError> {
    // Both objectives are quasi-concave in `theta`, with slope `-E h_t`
    // (load) or `-alpha - E h_t` (rate) at 0: where that slope is not
    // positive the supremum is the value 0 at `theta = 0`.
    if objective.slope_at_zero(law.expect(|a| h(law, t, a)).value) <= 0.0 {
        return Ok(0.0);
    }
    // `h_t` at fixed nodes, once; adaptive quadrature for the tilts that
    // they do not resolve.
    let tilts = law.tilts(|a| h(law, t, a));
    let at = |w: f64| {
        let theta = w / (1.0 - w);
        if law.tilt_diverges(t, theta) {
            return f64::NEG_INFINITY;
        }
        let ln_mean = tilts
            .ln_expect_exp(theta)
            .unwrap_or_else(|| law.ln_expect_exp(|a| theta * h(law, t, a)));
        objective.value(theta, ln_mean)
    };
    maximise_over_w(at, w_max)
}

/// [`best_over_theta`] for a discrete law with these atoms.
fn best_over_theta_atoms(
    law: &EntryLaw,
    atoms: &[Atom],
    t: f64,
    w_max: f64,
    objective: Objective,
) -> Result<f64, TheoryError> {
    // `h_t` at the atoms does not depend on `theta`: computed once.
    let values: Vec<(f64, f64)> = atoms
        .iter()
        .map(|a| (a.probability.ln(), h(law, t, a.value)))
        .collect();
    let at = |w: f64| {
        let theta = w / (1.0 - w);
        let terms = values.iter().map(|&(ln_p, h)| (ln_p + theta * h, 0.0));
        objective.value(theta, log_sum_exp(terms).0)
    };
    let top = values.iter().map(|v| v.1).fold(f64::NEG_INFINITY, f64::max);
    // With `h_t` the same at every atom (a symmetric law of one modulus,
    // such as `+-1`), tilting cannot change the empirical law: both
    // objectives are monotone in `theta`, so the supremum is at an end.
    let mut best = if values.iter().all(|v| v.1 == top) {
        at(0.0).max(at(w_max))
    } else {
        maximise_over_w(at, w_max)?
    };
    if w_max == W_MAX {
        let mass: f64 = atoms
            .iter()
            .zip(&values)
            .filter(|(_, v)| v.1 == top)
            .map(|(a, _)| a.probability)
            .sum();
        best = best.max(objective.limit(top, mass));
    }
    Ok(best)
}

/// `sup f(w)` over `w` in `[0, w_max]`, by Brent's method (`-inf`
/// handed to it as the largest finite cost, which keeps its arithmetic
/// finite).
fn maximise_over_w<F: Fn(f64) -> f64>(f: F, w_max: f64) -> Result<f64, TheoryError> {
    let cost = |w: f64| (-f(w)).min(f64::MAX);
    let (_, neg) = minimise(cost, 0.0, w_max, "alpha_c: tilt of the empirical law")?;
    Ok(-neg)
}

/// `sup_t f(t)` for `ln t` in `[lo, hi]`: the best grid point, refined by
/// Brent over its two neighbouring cells.
fn maximise_over_log_t<F>(f: &F, lo: f64, hi: f64) -> Result<f64, TheoryError>
where
    F: Fn(f64) -> Result<f64, TheoryError> + Sync,
{
    let count = ((hi - lo) / LOG_T_STEP).ceil() as usize;
    let grid: Vec<f64> = (0..=count)
        .map(|k| lo + (hi - lo) * k as f64 / count as f64)
        .collect();
    let values = grid
        .par_iter()
        .map(|&x| f(x.exp()))
        .collect::<Result<Vec<f64>, _>>()?;
    let k = (0..values.len())
        .max_by(|&i, &j| values[i].total_cmp(&values[j]))
        .unwrap_or(0);
    if values[k] == f64::INFINITY {
        return Ok(f64::INFINITY);
    }
    let (a, b) = (grid[k.saturating_sub(1)], grid[(k + 1).min(count)]);
    let refined = minimise(
        |x| -f(x.exp()).unwrap_or(f64::NEG_INFINITY).min(f64::MAX),
        a,
        b,
        "alpha_c: conjugate inverse temperature",
    )?;
    Ok(values[k].max(-refined.1))
}

/// Route B as `t -> inf` for discrete laws: `h_t(a) -> ln P_b(a b = max)`
/// when the best-aligned entry for `a` is `a` itself (`max_b a b = a^2`),
/// and `+inf` otherwise (then the limit is no candidate). `-inf` when
/// the limit does not exist or the law is continuous.
fn route_b_at_infinity(law: &EntryLaw, objective: Objective) -> Result<f64, TheoryError> {
    let Some(atoms) = law.atoms() else {
        return Ok(f64::NEG_INFINITY);
    };
    let mut limits = Vec::with_capacity(atoms.len());
    for atom in atoms {
        let a = atom.value;
        if law.best_product(a) > a * a {
            return Ok(f64::NEG_INFINITY);
        }
        let tied = law.best_product_probability(a).unwrap_or(1.0);
        limits.push((atom.probability, tied.ln()));
    }
    let at = |theta: f64| {
        let mean: f64 = limits.iter().map(|(p, h)| p * (theta * h).exp()).sum();
        objective.value(theta, mean.ln())
    };
    let (_, neg) = minimise(|theta| -at(theta), 0.0, 1.0, "alpha_c: duplicate route")?;
    Ok(-neg)
}

#[cfg(test)]
mod tests;
