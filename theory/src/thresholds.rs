//! Retrieval thresholds: the typical-pattern threshold `alpha_1(lambda)`
//! and the union-bound lower bound on the all-patterns threshold
//! `alpha_c(lambda)`.
//!
//! # Typical pattern
//! Started at `xi^1` (overlap `m = 1`, `|x|^2 = N`), one step keeps `xi^1`
//! iff `lambda > phi(lambda; alpha)`. As `phi` increases with `alpha`, the
//! threshold is the load where equality holds:
//! `alpha_1 = sup_{t <= lambda} [t - Lambda(t)]`, attained at `t = lambda`
//! while `Lambda'(lambda) <= 1` and at the root of `Lambda'(t) = 1`
//! (where `alpha_1 = I(1)`) beyond.
//!
//! # All patterns
//! A pattern fails with probability `e^{-N R(alpha, lambda)}`; the union
//! bound over the `e^{alpha N}` patterns retrieves all of them whenever
//! `R > alpha`, so `alpha_c >= sup {alpha : R(alpha) > alpha}`. `R` is the
//! cheaper of two large deviations of the retrieved pattern `xi^1`, whose
//! squared norm `s N` may itself fluctuate at cost `c(s)`:
//! - [`FailureRoute::SelfOverlap`]: `s` is atypical enough that the REM of
//!   the others (effective inverse temperature `lambda sqrt(s)`) beats the
//!   signal `lambda s`: `R_A = inf { c(s) : lambda s <= phi(lambda sqrt s) }`;
//! - [`FailureRoute::SinglePattern`]: one other pattern reaches overlap
//!   `u >= s`, i.e. `u / sqrt(s) >= sqrt(s)` in unit-norm variables:
//!   `R_B = inf_s [c(s) + (I(sqrt s) - alpha)_+]`.
//!
//! With `s` pinned (spherical, binary) route A is closed below `alpha_1`
//! and route B costs `I(1) - alpha`: infinite on the sphere (so
//! `alpha_c = alpha_1`), `ln 2 - alpha` for exact binary duplicates.
//! `R` decreases with `alpha`, so `R - alpha` has a single root.

use crate::ensemble::Ensemble;
use crate::numeric::{expand_bracket, minimise, root};
use crate::rem::Rem;
use crate::TheoryError;

/// Checks that `lambda` is a valid inverse temperature: finite and at
/// least the smallest normal double (below it, a subnormal keeps too few
/// digits for any threshold to be right).
///
/// # Errors
/// [`TheoryError::InvalidLambda`] unless `lambda` is finite and at least the smallest normal double.
pub fn check_lambda(lambda: f64) -> Result<(), TheoryError> {
    if lambda >= f64::MIN_POSITIVE && lambda.is_finite() {
        Ok(())
    } else {
        Err(TheoryError::InvalidLambda(lambda))
    }
}

/// Typical-pattern retrieval threshold `alpha_1(lambda)`.
///
/// `alpha_1 = t - Lambda(t)` at `t = min(lambda, t_1)`, where `t_1` solves
/// `Lambda'(t_1) = 1` when the overlap support reaches beyond 1 (and is
/// infinite otherwise). The margin `t - Lambda(t)` comes from
/// [`Ensemble::signal_margin`], which does not cancel at large `t`, and the
/// cgf is never evaluated beyond `max(1, 2 t_1)`: every finite positive
/// `lambda` up to `f64::MAX` gives a value in `[0, alpha_max]` that grows
/// with `lambda`.
///
/// # Errors
/// [`TheoryError::InvalidLambda`] unless `lambda` is finite and positive; [`TheoryError::Solver`] if the root of `Lambda'(t) = 1` cannot be found.
pub fn alpha_1<E: Ensemble + ?Sized>(ensemble: &E, lambda: f64) -> Result<f64, TheoryError> {
    check_lambda(lambda)?;
    let t = if ensemble.overlap_exceeds_one() {
        unit_slope_or(ensemble, lambda)?
    } else {
        lambda
    };
    Ok(ensemble.signal_margin(t))
}

/// `min(lambda, t_1)` with `Lambda'(t_1) = 1`, for ensembles whose
/// overlap support reaches beyond 1. The bracket grows by doubling from
/// `min(lambda, 1)`, so the cgf is only evaluated near `t_1` or below
/// `lambda`, never at an astronomically large `lambda`.
fn unit_slope_or<E: Ensemble + ?Sized>(ensemble: &E, lambda: f64) -> Result<f64, TheoryError> {
    let what = "alpha_1: Lambda'(t) = 1";
    let gap = |t: f64| ensemble.cgf_slope(t) - 1.0;
    let upper = if lambda <= 1.0 {
        lambda
    } else {
        expand_bracket(gap, 1.0, what)?.min(lambda)
    };
    if gap(upper) <= 0.0 {
        return Ok(upper);
    }
    root(gap, 0.0, upper, what)
}
/// How a pattern fails to be retrieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureRoute {
    /// No route is cheaper than `alpha` below `alpha_1`: `alpha_c = alpha_1`.
    Typical,
    /// The retrieved pattern's own norm is atypical.
    SelfOverlap,
    /// Another pattern is at least as close to it as it is to itself.
    SinglePattern,
}

impl std::fmt::Display for FailureRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FailureRoute::Typical => "typical",
            FailureRoute::SelfOverlap => "self-overlap",
            FailureRoute::SinglePattern => "single-pattern",
        })
    }
}

/// The union-bound lower bound on `alpha_c` and the route that sets it.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct UnionBound {
    /// `sup {alpha : R(alpha) > alpha}`, never above `alpha_1`.
    pub alpha_c_lower: f64,
    /// The cheapest failure route at `alpha_c_lower`.
    pub route: FailureRoute,
}

/// Failure rate `R(alpha)` split by route.
#[derive(Clone, Copy, Debug)]
pub struct FailureRate {
    /// Route A, atypical self-overlap against the REM.
    pub self_overlap: f64,
    /// Route B, one other pattern at overlap `>= s`.
    pub single_pattern: f64,
}

impl FailureRate {
    /// `R = min(R_A, R_B)`.
    pub fn total(&self) -> f64 {
        self.self_overlap.min(self.single_pattern)
    }
}

/// Largest self-overlap scanned for route A (`c(s)` is large beyond it).
const S_SCAN_MAX_LOG: f64 = 4.0;
/// Scan step in `ln s` for the route-A failure set.
const S_SCAN_STEP: f64 = 1.0 / 16.0;
/// Smallest `ln s` scanned; `c(s)` is above 10 there for gaussian patterns.
const S_SCAN_MIN_LOG: f64 = -25.0;

/// `R(alpha, lambda)` for `alpha` in `(0, alpha_1(lambda))`; over the
/// empirical law of the retrieved pattern for law-file ensembles
/// ([`crate::empirical::failure_rate`]), over its norm otherwise.
///
/// # Errors
/// [`TheoryError::InvalidLambda`] or [`TheoryError::InvalidAlpha`] for parameters out of range; [`TheoryError::Solver`] if a root or extremum cannot be found.
pub fn failure_rate<E: Ensemble + ?Sized>(
    ensemble: &E,
    lambda: f64,
    alpha: f64,
) -> Result<FailureRate, TheoryError> {
    if let Some(law) = ensemble.entry_law() {
        return crate::empirical::failure_rate(law, lambda, alpha);
    }
    let rem = Rem::new(ensemble, alpha)?;
    let fails = |s: f64| lambda * s - rem.free_energy(lambda * s.sqrt());
    if !ensemble.norm_fluctuates() {
        let self_overlap = if fails(1.0) <= 0.0 {
            0.0
        } else {
            f64::INFINITY
        };
        let single_pattern = (ensemble.rate(1.0) - alpha).max(0.0);
        return Ok(FailureRate {
            self_overlap,
            single_pattern,
        });
    }
    let cost = |s: f64| ensemble.self_overlap_cost(s).unwrap_or(f64::INFINITY);
    let self_overlap = self_overlap_route(&fails, &cost)?;
    let single_pattern = single_pattern_route(ensemble, &rem, &cost)?;
    Ok(FailureRate {
        self_overlap,
        single_pattern,
    })
}

/// Route A: the cheapest failing `s`, the failing `s` nearest to 1 on
/// either side (the cost grows away from 1). The failure set is located
/// on a grid in `ln s` and its edge refined by a root.
fn self_overlap_route<G, C>(fails: &G, cost: &C) -> Result<f64, TheoryError>
where
    G: Fn(f64) -> f64,
    C: Fn(f64) -> f64,
{
    if fails(1.0) <= 0.0 {
        return Ok(0.0);
    }
    let edge = |direction: f64, limit: f64| -> Result<f64, TheoryError> {
        let mut previous: f64 = 1.0;
        let mut log_s: f64 = 0.0;
        while log_s.abs() < limit {
            log_s += direction * S_SCAN_STEP;
            let s = log_s.exp();
            if fails(s) <= 0.0 {
                let edge = root(fails, previous.min(s), previous.max(s), "route A edge")?;
                return Ok(cost(edge));
            }
            previous = s;
        }
        Ok(f64::INFINITY)
    };
    Ok(edge(-1.0, -S_SCAN_MIN_LOG)?.min(edge(1.0, S_SCAN_MAX_LOG)?))
}

/// Route B: `inf_s [c(s) + (I(sqrt s) - alpha)_+]`. Below
/// `s = u_max(alpha)^2` the bracket vanishes and `c` decreases towards 1,
/// so the infimum lies in `[min(u_max^2, 1), 1]`.
fn single_pattern_route<E, C>(ensemble: &E, rem: &Rem<E>, cost: &C) -> Result<f64, TheoryError>
where
    E: Ensemble + ?Sized,
    C: Fn(f64) -> f64,
{
    let lower = (rem.u_max() * rem.u_max()).min(1.0);
    let total = |s: f64| cost(s) + (ensemble.rate(s.sqrt()) - rem.alpha()).max(0.0);
    Ok(minimise(total, lower, 1.0, "route B")?.1)
}

/// Union-bound lower bound on the all-patterns threshold `alpha_c(lambda)`.
///
/// Ensembles with an [`Ensemble::entry_law`] optimise over the whole
/// empirical law of the retrieved pattern ([`crate::empirical`]); the
/// others over its norm, as above.
///
/// # Errors
/// [`TheoryError::InvalidLambda`] unless `lambda` is finite and positive; [`TheoryError::Solver`] if a root or extremum cannot be found.
pub fn alpha_c_lower<E: Ensemble + ?Sized>(
    ensemble: &E,
    lambda: f64,
) -> Result<UnionBound, TheoryError> {
    alpha_c_lower_given_alpha_1(ensemble, lambda, alpha_1(ensemble, lambda)?)
}

/// [`alpha_c_lower`] when `alpha_1(lambda)` is already known (a scan
/// computes it once for both thresholds).
pub(crate) fn alpha_c_lower_given_alpha_1<E: Ensemble + ?Sized>(
    ensemble: &E,
    lambda: f64,
    alpha_1: f64,
) -> Result<UnionBound, TheoryError> {
    let a1 = alpha_1.min(ensemble.alpha_max());
    if let Some(law) = ensemble.entry_law() {
        return empirical_union_bound(law, lambda, a1);
    }
    if !ensemble.norm_fluctuates() {
        return Ok(pinned_norm_bound(ensemble, a1));
    }
    let margin = |alpha: f64| -> f64 {
        if alpha >= a1 {
            return -alpha;
        }
        match failure_rate(ensemble, lambda, alpha) {
            // Capped so that an infinite rate keeps Brent's arithmetic finite.
            Ok(rate) => (rate.total() - alpha).min(1.0),
            Err(_) => f64::NAN,
        }
    };
    // Solved for alpha / alpha_1, so that the root's absolute tolerance is
    // a relative one on alpha (alpha_1 ~ lambda is tiny at small lambda).
    let fraction = root(|x| margin(a1 * x), 1e-9, 1.0, "alpha_c: R(alpha) = alpha")?;
    let alpha = a1 * fraction;
    let route = if a1 - alpha <= 1e-12 * a1 {
        FailureRoute::Typical
    } else {
        let rate = failure_rate(ensemble, lambda, alpha)?;
        if rate.self_overlap <= rate.single_pattern {
            FailureRoute::SelfOverlap
        } else {
            FailureRoute::SinglePattern
        }
    };
    Ok(UnionBound {
        alpha_c_lower: alpha,
        route,
    })
}

/// The bound for a pinned norm, in closed form. Route A is closed exactly
/// below `alpha_1` (that is the definition of `alpha_1`), and route B
/// costs `R = I(1) - alpha` there, so `R > alpha` iff `alpha < I(1) / 2`:
/// `alpha_c >= min(alpha_1, I(1) / 2)` (`ln 2 / 2` for binary duplicates,
/// `alpha_1` itself on the sphere, where `I(1)` is infinite). No
/// solver runs, so the bound is as precise as `alpha_1` for any `lambda`.
fn pinned_norm_bound<E: Ensemble + ?Sized>(ensemble: &E, a1: f64) -> UnionBound {
    let duplicates = 0.5 * ensemble.rate(1.0);
    if a1 - duplicates <= 1e-12 * a1 {
        UnionBound {
            alpha_c_lower: a1,
            route: FailureRoute::Typical,
        }
    } else {
        UnionBound {
            alpha_c_lower: duplicates,
            route: FailureRoute::SinglePattern,
        }
    }
}

/// `min(alpha_1, alpha_A, alpha_B)` and the route that attains it.
fn empirical_union_bound(
    law: &crate::law::EntryLaw,
    lambda: f64,
    a1: f64,
) -> Result<UnionBound, TheoryError> {
    let loads = crate::empirical::bound(law, lambda)?;
    let candidates = [
        (a1, FailureRoute::Typical),
        (loads.self_overlap, FailureRoute::SelfOverlap),
        (loads.single_pattern, FailureRoute::SinglePattern),
    ];
    // alpha_A reaches alpha_1 only as a limit (entries of one modulus), so
    // values within rounding of alpha_1 count as the typical threshold.
    let (alpha, route) = candidates
        .into_iter()
        .map(|(a, r)| {
            if r != FailureRoute::Typical && a >= a1 * (1.0 - 1e-12) {
                (a1, FailureRoute::Typical)
            } else {
                (a, r)
            }
        })
        .fold((f64::INFINITY, FailureRoute::Typical), |best, c| {
            if c.0 < best.0 {
                c
            } else {
                best
            }
        });
    Ok(UnionBound {
        // Never a negative load (a rounding-level negative would print as -0).
        alpha_c_lower: alpha.max(0.0),
        route,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ensemble::{Binary, Gaussian, Spherical};
    use std::f64::consts::LN_2;

    const LAMBDAS: [f64; 9] = [0.05, 0.2, 0.5, 0.9, 1.0, 1.3, 2.0, 5.0, 20.0];

    #[test]
    fn alpha_1_matches_closed_forms() {
        for &l in &LAMBDAS {
            let gaussian = if l < 1.0 { l - l * l / 2.0 } else { 0.5 };
            let binary = l - l.cosh().ln();
            let u = ((1.0 + 4.0 * l * l).sqrt() - 1.0) / (2.0 * l);
            let spherical = l - (l * u + 0.5 * (1.0 - u * u).ln());
            assert!(
                (alpha_1(&Gaussian, l).unwrap() - gaussian).abs() < 1e-9,
                "gaussian {l}"
            );
            assert!(
                (alpha_1(&Binary, l).unwrap() - binary).abs() < 1e-9,
                "binary {l}"
            );
            assert!(
                (alpha_1(&Spherical, l).unwrap() - spherical).abs() < 1e-9,
                "spherical {l}"
            );
        }
    }

    /// alpha_1 as the root of lambda = phi(lambda; alpha), an independent route.
    #[test]
    fn alpha_1_is_where_signal_meets_rem() {
        for &l in &[0.3, 1.0, 3.0] {
            for e in [&Gaussian as &dyn Ensemble, &Spherical, &Binary] {
                let a1 = alpha_1(e, l).unwrap();
                let gap = |a: f64| l - Rem::new(e, a).unwrap().free_energy(l);
                let upper = (2.0 * a1).min(0.5 * (a1 + e.alpha_max()));
                let by_root = root(gap, 1e-6, upper, "test").unwrap();
                assert!((a1 - by_root).abs() < 1e-9, "{} {l}", e.name());
            }
        }
    }

    #[test]
    fn spherical_grows_like_half_log_lambda() {
        let (a, b) = (1e3, 1e4);
        let growth = alpha_1(&Spherical, b).unwrap() - alpha_1(&Spherical, a).unwrap();
        assert!((growth - 0.5 * 10f64.ln()).abs() < 1e-3);
    }

    #[test]
    fn alpha_1_increases_with_lambda() {
        for e in [&Gaussian as &dyn Ensemble, &Spherical, &Binary] {
            let values: Vec<f64> = LAMBDAS.iter().map(|&l| alpha_1(e, l).unwrap()).collect();
            assert!(values.windows(2).all(|w| w[1] >= w[0]), "{}", e.name());
        }
    }

    #[test]
    fn bad_lambda_is_rejected() {
        for l in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                alpha_1(&Gaussian, l),
                Err(TheoryError::InvalidLambda(_))
            ));
        }
    }

    #[test]
    fn spherical_bound_is_alpha_1() {
        for &l in &LAMBDAS {
            let bound = alpha_c_lower(&Spherical, l).unwrap();
            assert!((bound.alpha_c_lower - alpha_1(&Spherical, l).unwrap()).abs() < 1e-9);
            assert_eq!(bound.route, FailureRoute::Typical);
        }
    }

    /// Binary: only exact duplicates, so alpha_c = min(alpha_1, ln 2 / 2).
    #[test]
    fn binary_bound_is_duplicate_limited() {
        for &l in &LAMBDAS {
            let expected = alpha_1(&Binary, l).unwrap().min(LN_2 / 2.0);
            let bound = alpha_c_lower(&Binary, l).unwrap();
            assert!((bound.alpha_c_lower - expected).abs() < 1e-9, "{l}");
        }
        assert_eq!(
            alpha_c_lower(&Binary, 5.0).unwrap().route,
            FailureRoute::SinglePattern
        );
    }

    /// Gaussian closed form derived by hand in the theory docs: with
    /// `a1 = alpha_1`, route A fails at `s = alpha / a1` for lambda <= 1 and
    /// `s = 2 alpha` above; route B costs `ln 2 / 2 - alpha` for alpha < 1/4.
    fn gaussian_bound_oracle(l: f64) -> f64 {
        let c = |s: f64| 0.5 * (s - 1.0 - s.ln());
        let a1 = if l < 1.0 { l - l * l / 2.0 } else { 0.5 };
        let route_a = |a: f64| if l <= 1.0 { c(a / a1) } else { c(2.0 * a) };
        let route_b = |a: f64| if a < 0.25 { LN_2 / 2.0 - a } else { c(2.0 * a) };
        let margin = |a: f64| route_a(a).min(route_b(a)) - a;
        // Bisection: an independent method from the Brent root in the code.
        let (mut lo, mut hi) = (1e-12, a1);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if margin(mid) > 0.0 {
                lo = mid
            } else {
                hi = mid
            }
        }
        lo
    }

    #[test]
    fn gaussian_bound_matches_hand_derivation() {
        for &l in &LAMBDAS {
            let bound = alpha_c_lower(&Gaussian, l).unwrap().alpha_c_lower;
            let oracle = gaussian_bound_oracle(l);
            assert!(
                (bound - oracle).abs() < 1e-9,
                "lambda {l}: {bound} vs {oracle}"
            );
        }
        assert!((alpha_c_lower(&Gaussian, 3.0).unwrap().alpha_c_lower - LN_2 / 4.0).abs() < 1e-9);
    }

    /// Brute force: R(alpha) from dense grids in s (two levels, the second
    /// zooming on the best cell), alpha_c by bisection on R - alpha.
    fn brute_force_bound(e: &dyn Ensemble, l: f64) -> f64 {
        let a1 = alpha_1(e, l).unwrap();
        let rate = |alpha: f64| -> f64 {
            let rem = Rem::new(e, alpha).unwrap();
            let c = |s: f64| e.self_overlap_cost(s).unwrap();
            let fails = |s: f64| l * s <= rem.free_energy(l * s.sqrt());
            let single = |s: f64| c(s) + (e.rate(s.sqrt()) - alpha).max(0.0);
            let grid = |lo: f64, hi: f64, n: usize| {
                (0..=n).map(move |k| lo + (hi - lo) * k as f64 / n as f64)
            };
            // Route A: the failing s closest to 1, refined on a finer grid.
            let mut route_a = f64::INFINITY;
            let coarse: Vec<f64> = grid(1e-6, 4.0, 40_000).collect();
            for w in coarse.windows(2) {
                let (cell_fails, next_fails) = (fails(w[0]), fails(w[1]));
                if cell_fails != next_fails {
                    let fine = grid(w[0], w[1], 100_000).find(|&s| fails(s) == next_fails);
                    let s = fine.unwrap();
                    route_a = route_a.min(c(s));
                }
            }
            let best = coarse
                .iter()
                .copied()
                .min_by(|a, b| single(*a).total_cmp(&single(*b)))
                .unwrap();
            let route_b = grid(best - 1e-4, best + 1e-4, 100_000)
                .filter(|s| *s > 0.0)
                .map(single)
                .fold(f64::INFINITY, f64::min);
            route_a.min(route_b)
        };
        let (mut lo, mut hi) = (1e-9, a1);
        for _ in 0..40 {
            let mid = 0.5 * (lo + hi);
            if rate(mid) > mid {
                lo = mid
            } else {
                hi = mid
            }
        }
        lo
    }

    #[test]
    fn gaussian_bound_converged_against_brute_force() {
        for l in [0.5, 2.0] {
            let bound = alpha_c_lower(&Gaussian, l).unwrap().alpha_c_lower;
            let brute = brute_force_bound(&Gaussian, l);
            assert!(
                (bound - brute).abs() < 1e-7,
                "lambda {l}: {bound} vs {brute}"
            );
        }
    }

    #[test]
    fn bound_never_exceeds_alpha_1_and_grows() {
        for e in [&Gaussian as &dyn Ensemble, &Spherical, &Binary] {
            let mut previous = 0.0;
            for &l in &LAMBDAS {
                let bound = alpha_c_lower(e, l).unwrap().alpha_c_lower;
                assert!(bound <= alpha_1(e, l).unwrap() + 1e-12, "{} {l}", e.name());
                assert!(bound >= previous - 1e-12, "{} {l}", e.name());
                previous = bound;
            }
        }
    }

    /// Powers of ten from 1e-6 to 1e300 every `step` decades, and f64::MAX.
    fn extreme_lambdas(step: usize) -> Vec<f64> {
        let mut grid: Vec<f64> = (-6..=300).step_by(step).map(|k| 10f64.powi(k)).collect();
        grid.push(f64::MAX);
        grid
    }

    /// Law files of every family in configs/ensembles (laplace is refused).
    fn law_families() -> Vec<crate::Iid> {
        use crate::law::Family;
        let families = [
            Family::Gaussian {},
            Family::Uniform {},
            Family::SparseBinary { density: 0.1 },
            Family::Ternary {
                zero_probability: 0.5,
            },
            Family::GaussianMixture {
                weights: vec![0.5, 0.5],
                means: vec![-1.0, 1.0],
                sds: vec![0.3, 0.3],
            },
            Family::Discrete {
                values: vec![-1.0, 1.0],
                probabilities: vec![0.5, 0.5],
            },
            Family::Discrete {
                values: vec![-1.0, 0.0, 2.0],
                probabilities: vec![0.3, 0.5, 0.2],
            },
        ];
        families
            .into_iter()
            .map(|f| crate::Iid::new("law", f).unwrap())
            .collect()
    }

    /// Binary: `alpha_1 = ln 2 - ln(1 + e^{-2 lambda})`, never above ln 2;
    /// the old subtraction gave 0.75 at 1e15 and 0 at 1e16.
    #[test]
    fn binary_alpha_1_at_any_lambda() {
        for l in extreme_lambdas(1) {
            let a1 = alpha_1(&Binary, l).unwrap();
            // Independent forms: the Taylor series at small lambda, the
            // direct difference where it keeps its digits, the
            // exponential tail beyond, where ln cosh would overflow.
            let exact = if l < 1e-3 {
                l - l * l / 2.0 + l.powi(4) / 12.0
            } else if l < 30.0 {
                l - l.cosh().ln()
            } else {
                LN_2 - (-2.0 * l).exp()
            };
            assert!((a1 - exact).abs() <= 1e-12 * exact, "{l}: {a1} vs {exact}");
            assert!(a1 <= LN_2, "{l}: {a1}");
        }
        assert!((alpha_1(&Binary, 1e15).unwrap() - LN_2).abs() < 1e-16);
        assert!((alpha_1(&Binary, 1e16).unwrap() - LN_2).abs() < 1e-16);
    }

    /// Spherical: `lambda (1 - u*) - ln(1 - u*^2) / 2`, which tends to
    /// `ln(lambda) / 2 + 1/2` (18.92 at 1e16, not the 34 of old).
    #[test]
    fn spherical_alpha_1_follows_the_asymptote() {
        for l in extreme_lambdas(1).into_iter().filter(|&l| l >= 1e8) {
            let a1 = alpha_1(&Spherical, l).unwrap();
            let asymptote = 0.5 * l.ln() + 0.5;
            // Next order: 1 - u* = 1/(2 lambda) - 1/(8 lambda^2) + ..., a
            // correction of order 1/lambda.
            assert!((a1 - asymptote).abs() < 1.0 / l, "{l}: {a1} vs {asymptote}");
        }
        assert!((alpha_1(&Spherical, 1e16).unwrap() - 18.920680743952367).abs() < 1e-12);
    }

    /// Every built-in and law family: alpha_1 and alpha_c finite, in
    /// `[0, alpha_max]`, ordered, and non-decreasing over 1e-6 .. 1e300;
    /// constant where closed forms say so (I(1) beyond the unit-slope
    /// point, the duplicate route, the empirical bound's t cap).
    #[test]
    fn thresholds_monotone_and_bounded_up_to_f64_max() {
        let laws = law_families();
        let mut ensembles: Vec<&dyn Ensemble> = vec![&Gaussian, &Spherical, &Binary];
        ensembles.extend(laws.iter().map(|l| l as &dyn Ensemble));
        for e in ensembles {
            // Law files cost a quadrature or an empirical-law optimisation
            // per point: every 6 decades (every 2 between 1e-6 and 1e6,
            // where the thresholds still move) instead of every one.
            let step = if e.entry_law().is_some() { 2 } else { 1 };
            let (mut previous_a1, mut previous_ac) = (0.0, 0.0);
            for l in extreme_lambdas(step).into_iter().filter(|&l| {
                step == 1 || l <= 1e6 || l.log10().round() as i64 % 30 == 0 || l == f64::MAX
            }) {
                let a1 = alpha_1(e, l).unwrap();
                let ac = alpha_c_lower(e, l).unwrap().alpha_c_lower;
                let name = e.name();
                assert!(a1.is_finite() && a1 > 0.0, "{name} {l}: {a1}");
                assert!(a1 <= e.alpha_max(), "{name} {l}: {a1} > {}", e.alpha_max());
                assert!(ac >= 0.0 && ac <= a1, "{name} {l}: {ac} vs {a1}");
                assert!(a1 >= previous_a1, "{name} {l}: {a1} < {previous_a1}");
                assert!(
                    ac >= previous_ac * (1.0 - 1e-9),
                    "{name} {l}: {ac} < {previous_ac}"
                );
                (previous_a1, previous_ac) = (a1, ac);
            }
        }
    }

    /// Beyond the unit-slope point alpha_1 = I(1): the same value at 10
    /// and at f64::MAX for every ensemble whose support exceeds 1; for
    /// discrete laws ending at 1 it tends to alpha_max.
    #[test]
    fn alpha_1_saturates_at_its_closed_forms() {
        let laws = law_families();
        let mut ensembles: Vec<&dyn Ensemble> = vec![&Gaussian, &Binary];
        ensembles.extend(laws.iter().map(|l| l as &dyn Ensemble));
        for e in ensembles {
            let top = alpha_1(e, f64::MAX).unwrap();
            let limit = if e.overlap_exceeds_one() {
                e.rate(1.0)
            } else {
                e.alpha_max()
            };
            assert!(
                (top - limit).abs() < 1e-9 * limit,
                "{}: {top} vs {limit}",
                e.name()
            );
            let at_1e300 = alpha_1(e, 1e300).unwrap();
            assert!((at_1e300 - top).abs() < 1e-12, "{}", e.name());
        }
    }

    /// Small lambda: alpha_c of the gaussian follows the hand derivation
    /// to relative precision, not the root finder's absolute tolerance.
    #[test]
    fn gaussian_bound_relative_at_small_lambda() {
        for l in [1e-4, 1e-6] {
            let bound = alpha_c_lower(&Gaussian, l).unwrap().alpha_c_lower;
            let oracle = gaussian_bound_oracle(l);
            assert!(
                (bound - oracle).abs() < 1e-7 * oracle,
                "{l}: {bound} vs {oracle}"
            );
        }
    }

    /// Route A's scan on made-up margins `g(ln s)` (negative where the
    /// pattern fails), with the cost `|ln s|`: the failing `s` nearest to
    /// 1 is found when its window is wider than the grid step of 1/16 in
    /// `ln s`, on the far side down to `ln s = -25`, and not past
    /// `ln s = 4`.
    #[test]
    fn route_a_finds_the_nearest_failing_window() {
        let route = |g: fn(f64) -> f64| {
            self_overlap_route(&|s: f64| g(s.ln()), &|s: f64| s.ln().abs()).unwrap()
        };
        // Fails on [0.3, 0.4] and past 3.5: the nearer window counts.
        let near = route(|x| (x - 0.3) * (x - 0.4) * (3.5 - x));
        assert!((near - 0.3).abs() < 1e-9, "{near}");
        // Fails only below ln s = -10.01.
        let far = route(|x| x + 10.01);
        assert!((far - 10.01).abs() < 1e-9, "{far}");
        // Fails only past ln s = 4.03, beyond the scan.
        assert_eq!(route(|x| 4.03 - x), f64::INFINITY);
        // A typical pattern that fails costs nothing.
        assert_eq!(route(|_| 0.0), 0.0);
    }

    /// A pinned norm: route A is closed (infinite) while the typical
    /// pattern is retrieved, `alpha < alpha_1`, and free (0) above;
    /// route B costs `I(1) - alpha = ln 2 - alpha` for `+-1` patterns
    /// (exact duplicates).
    #[test]
    fn pinned_norm_rates_in_closed_form() {
        let a1 = alpha_1(&Binary, 0.5).unwrap();
        let below = failure_rate(&Binary, 0.5, 0.5 * a1).unwrap();
        assert_eq!(below.self_overlap, f64::INFINITY);
        assert!((below.single_pattern - (LN_2 - 0.5 * a1)).abs() < 1e-15);
        let above = failure_rate(&Binary, 0.5, 1.5 * a1).unwrap();
        assert_eq!(above.self_overlap, 0.0);
        assert_eq!(above.total(), 0.0);
    }

    /// The route names, as the CLI writes them.
    #[test]
    fn routes_read_as_words() {
        let names = [
            FailureRoute::Typical,
            FailureRoute::SelfOverlap,
            FailureRoute::SinglePattern,
        ]
        .map(|r| r.to_string());
        assert_eq!(names, ["typical", "self-overlap", "single-pattern"]);
    }

    /// Gaussian patterns whose norm can grow but never shrink (an infinite
    /// cost below `s = 1`): route A is closed, and route B at `s = 1` costs
    /// `I(1) - alpha = 1/2 - alpha`, so `alpha_c >= min(alpha_1, 1/4)`.
    #[derive(Debug)]
    struct GrowingNorm;

    impl Ensemble for GrowingNorm {
        fn name(&self) -> &str {
            "growing-norm"
        }
        fn cgf_with_slope(&self, t: f64) -> (f64, f64) {
            Gaussian.cgf_with_slope(t)
        }
        fn rate(&self, u: f64) -> f64 {
            Gaussian.rate(u)
        }
        fn overlap_max(&self) -> f64 {
            f64::INFINITY
        }
        fn pattern_law(&self) -> crate::ensemble::PatternLaw {
            Gaussian.pattern_law()
        }
        fn self_overlap_cost(&self, s: f64) -> Option<f64> {
            if s < 1.0 {
                Some(f64::INFINITY)
            } else {
                Gaussian.self_overlap_cost(s)
            }
        }
    }

    /// With route A closed, a fluctuating norm's bound is `alpha_1` itself
    /// (route "typical") while `alpha_1 = lambda - lambda^2 / 2 < 1/4`, and
    /// the duplicate-like route B's `1/4` above.
    #[test]
    fn bound_is_alpha_1_where_no_route_is_cheaper() {
        let low = alpha_c_lower(&GrowingNorm, 0.2).unwrap();
        assert!((low.alpha_c_lower - 0.18).abs() < 1e-9, "{low:?}");
        assert_eq!(low.route, FailureRoute::Typical);
        let high = alpha_c_lower(&GrowingNorm, 2.0).unwrap();
        assert!((high.alpha_c_lower - 0.25).abs() < 1e-9, "{high:?}");
        assert_eq!(high.route, FailureRoute::SinglePattern);
    }

    /// A pinned norm's bound calls `alpha_1` and the duplicate limit
    /// `I(1) / 2` a tie, route "typical", when they agree to `1e-12`
    /// relative: here `ln 2 / 2 = 0.3466` plus `2e-13` (a tie) or plus
    /// `1e-12` (about `3e-12` relative: duplicates decide).
    #[test]
    fn pinned_norm_tie_is_relative_to_alpha_1() {
        let duplicates = LN_2 / 2.0;
        let tie = pinned_norm_bound(&Binary, duplicates + 2e-13);
        assert_eq!(tie.route, FailureRoute::Typical);
        assert_eq!(tie.alpha_c_lower, duplicates + 2e-13);
        let apart = pinned_norm_bound(&Binary, duplicates + 1e-12);
        assert_eq!(apart.route, FailureRoute::SinglePattern);
        assert!((apart.alpha_c_lower - duplicates).abs() < 1e-16);
    }
}
