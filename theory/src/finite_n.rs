//! Finite-`N` crossings: where the retrieval probability of a simulation
//! at dimension `N` is predicted to cross 1/2 (docs/theory.md §9).
//!
//! Every prediction is derived, with no fitted parameter. What each keeps:
//! - first step from `xi^1` ([`alpha_1_first_step_n`]): the median of the
//!   retrieved pattern's own margin (Cornish–Fisher, which brings the
//!   skewness of `|xi^1|^2` or of the law file's per-entry margin), the
//!   exact finite-`N` cgf of spherical overlaps, and, when the REM is
//!   frozen at the crossing, the extreme value of `e^{alpha N}` overlaps
//!   (Bahadur–Rao prefactor) with the stable law of the sum of the top
//!   scores;
//! - several-step dynamics ([`alpha_1_dynamics_n`]): the largest load at
//!   which a state `q xi^1` of the map `q -> F(q)` holds (paramagnetic),
//!   or the saddle-node of the two-pattern competition with the median
//!   top competitor (frozen), and the capture by one close competitor
//!   (jointly with the bulk for ternary laws);
//! - basins ([`rho_min_n`]): the extreme value of the `e^{alpha N}`
//!   overlaps when frozen, the finite-`N` cgf when paramagnetic;
//! - all patterns ([`alpha_c_n`]): the Poisson approximation
//!   `P(all retrieved) = exp(-P p_fail)` with the prefactors of the
//!   union bound, for exact duplicates (pinned discrete norms) and for
//!   the norm routes (fluctuating norms).
//!
//! Orders not kept are named in docs/theory.md §9 with the sign of their
//! effect; the validation summary measures them (`z` per size).

use statrs::function::gamma::ln_gamma;

use crate::capture::alpha_capture_n;
use crate::ensemble::{Ensemble, PatternLaw};
use crate::law::integrate::{ln_integral_of_exp, pieces};
use crate::numeric::{minimise, root};
use crate::rem::Rem;
use crate::TheoryError;

/// Points of the grid in `q` on which the best state of the several-step
/// map is located before Brent's method refines it (the load it allows is
/// smooth in `q` but for one kink, where `w = 1/2` starts to bind).
const Q_GRID: usize = 2000;

/// The finite-`N` crossings of one ensemble at one `lambda`. Each is
/// `None` where there is no crossing at this `N` (the frozen phase at very
/// small `N`, [`TheoryError::NoCrossingAtN`]), so that the others are still
/// given.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct FiniteN {
    /// The dimension.
    pub n: f64,
    /// Crossing of one step from `xi^1`.
    pub alpha_1_first_step_n: Option<f64>,
    /// Crossing of the several-step dynamics from `xi^1`.
    pub alpha_1_dynamics_n: Option<f64>,
    /// Crossing of the all-patterns study; also `None` where it is not
    /// derived (law files, pinned continuous norms: docs/theory.md §9).
    pub alpha_c_n: Option<f64>,
}

/// The finite-`N` crossings in attention scaling, in units of
/// `a = ln(P)/sqrt(N)`: `sqrt(N)` times the standard ones at
/// `lambda = beta/sqrt(N)` (docs/theory.md §8, §9).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct AttentionFiniteN {
    /// Crossing of one step from the matching key, where there is one at
    /// this `N`.
    pub a_1_first_step_n: Option<f64>,
    /// Crossing of the several-step dynamics, where there is one.
    pub a_1_dynamics_n: Option<f64>,
    /// All-keys crossing, where derived and where there is one.
    pub a_c_n: Option<f64>,
}

/// [`AttentionFiniteN`] at scaled inverse temperature `beta` and dimension `n`.
///
/// # Errors
/// [`TheoryError::InvalidBeta`], [`TheoryError::InvalidDimension`], solver errors.
pub fn attention_finite_n<E: Ensemble + ?Sized>(
    ensemble: &E,
    beta: f64,
    n: f64,
) -> Result<AttentionFiniteN, TheoryError> {
    if !(beta > 0.0 && beta.is_finite()) {
        return Err(TheoryError::InvalidBeta(beta));
    }
    check_dimension(n)?;
    let root_n = n.sqrt();
    let f = finite_n(ensemble, beta / root_n, n)?;
    let scaled = |a: Option<f64>| a.map(|a| root_n * a);
    Ok(AttentionFiniteN {
        a_1_first_step_n: scaled(f.alpha_1_first_step_n),
        a_1_dynamics_n: scaled(f.alpha_1_dynamics_n),
        a_c_n: scaled(f.alpha_c_n),
    })
}

/// Checks that `n` is a whole number of at least 2.
///
/// # Errors
/// [`TheoryError::InvalidDimension`] otherwise (0, negative, NaN, fractional).
pub fn check_dimension(n: f64) -> Result<(), TheoryError> {
    if n >= 2.0 && n.is_finite() && n.fract() == 0.0 {
        Ok(())
    } else {
        Err(TheoryError::InvalidDimension(n))
    }
}

/// All finite-`N` crossings at `lambda` and dimension `n`, each `None`
/// where there is none at this `N`.
///
/// # Errors
/// [`TheoryError::InvalidLambda`], [`TheoryError::InvalidDimension`], and
/// the solver errors of the parts (other than
/// [`TheoryError::NoCrossingAtN`], which gives `None`).
pub fn finite_n<E: Ensemble + ?Sized>(
    ensemble: &E,
    lambda: f64,
    n: f64,
) -> Result<FiniteN, TheoryError> {
    Ok(FiniteN {
        n,
        alpha_1_first_step_n: where_crossing(alpha_1_first_step_n(ensemble, lambda, n).map(Some))?,
        alpha_1_dynamics_n: where_crossing(alpha_1_dynamics_n(ensemble, lambda, n).map(Some))?,
        alpha_c_n: where_crossing(alpha_c_n(ensemble, lambda, n))?,
    })
}

/// A finite-`N` crossing, with [`TheoryError::NoCrossingAtN`] turned into
/// `None`.
fn where_crossing(crossing: Result<Option<f64>, TheoryError>) -> Result<Option<f64>, TheoryError> {
    match crossing {
        Err(TheoryError::NoCrossingAtN { .. }) => Ok(None),
        other => other,
    }
}

/// `(1/N) ln E e^{N t u}` at dimension `n`: the exact finite-`N` cgf for
/// spherical patterns (the density `(1 - u^2)^{(N-3)/2}` of §1), and
/// `Lambda(t)` otherwise, which is exact given `xi^1` for gaussian, `±1`
/// and law-file entries (§9).
pub fn cgf_n<E: Ensemble + ?Sized>(ensemble: &E, t: f64, n: f64) -> f64 {
    if ensemble.pattern_law() != PatternLaw::Spherical {
        return ensemble.cgf(t);
    }
    let exponent = (n - 3.0) / 2.0;
    let log_density = |u: f64| exponent * (1.0 - u * u).ln();
    let breaks = pieces(-1.0, 1.0, 0.25);
    let tilted = ln_integral_of_exp(&|u: f64| n * t * u + log_density(u), &breaks);
    let plain = ln_integral_of_exp(&log_density, &breaks);
    (tilted - plain) / n
}

/// Slope of [`cgf_n`] in `t` (central difference; exact slope otherwise).
fn cgf_n_slope<E: Ensemble + ?Sized>(ensemble: &E, t: f64, n: f64) -> f64 {
    if ensemble.pattern_law() != PatternLaw::Spherical {
        return ensemble.cgf_slope(t);
    }
    let h = 1e-5 * t.max(1e-3);
    (cgf_n(ensemble, t + h, n) - cgf_n(ensemble, t - h, n)) / (2.0 * h)
}

/// Median squared norm `s = |xi^1|^2 / N` by Cornish–Fisher,
/// `1 - kappa_3 / (6 kappa_2 N)`, with the cumulants of `s N` per entry
/// read off the norm cost `c(s)` (`kappa_2 = 1/c''(1)`,
/// `kappa_3 = -c'''(1) kappa_2^3`; the differences drop `c(1)`, which is
/// zero: the typical norm costs nothing); 1 for pinned norms and law files
/// (no norm cost; §9).
pub fn median_self_overlap<E: Ensemble + ?Sized>(ensemble: &E, n: f64) -> f64 {
    let h = 1e-3;
    let c = |s: f64| ensemble.self_overlap_cost(s);
    let (Some(m2), Some(m1), Some(p1), Some(p2)) =
        (c(1.0 - 2.0 * h), c(1.0 - h), c(1.0 + h), c(1.0 + 2.0 * h))
    else {
        return 1.0;
    };
    let second = (p1 + m1) / (h * h);
    let third = (p2 - 2.0 * p1 + 2.0 * m1 - m2) / (2.0 * h * h * h);
    let kappa_2 = 1.0 / second;
    let kappa_3 = -third * kappa_2.powi(3);
    1.0 - kappa_3 / (6.0 * kappa_2 * n)
}

/// Median over `xi^1` of its margin per entry, `(1/N)[lambda |xi^1|^2 -
/// ln E(Z | xi^1) + ln P]`, at dimension `n` (§9, first step).
/// - Law files: the margin is a sum of i.i.d. terms
///   `g(a) = lambda a^2 - kappa(lambda a)`; its median is
///   `E g - kappa_3(g) / (6 kappa_2(g) N)`.
/// - Rotation-invariant fluctuating norms: `lambda s - Lambda(lambda sqrt s)`
///   increases in `s`, so its median is its value at the median `s`.
/// - Pinned norms: `lambda - Lambda_N(lambda)`.
pub fn median_margin<E: Ensemble + ?Sized>(ensemble: &E, lambda: f64, n: f64) -> f64 {
    if let Some(law) = ensemble.entry_law() {
        let g = |a: f64| lambda * a * a - law.ln_mgf(lambda * a).0;
        let mean = law.expect(g).value;
        let k2 = law.expect(|a| (g(a) - mean).powi(2)).value;
        let k3 = law.expect(|a| (g(a) - mean).powi(3)).value;
        return if k2 > 0.0 {
            mean - k3 / (6.0 * k2 * n)
        } else {
            mean
        };
    }
    let s = median_self_overlap(ensemble, n);
    lambda * s - cgf_n(ensemble, lambda * s.sqrt(), n)
}

/// Bahadur–Rao tail `P(u >= Lambda'(t)) = e^{-N I} / (t sqrt(2 pi N
/// Lambda''(t)))` of one overlap, as `ln` of it, parametrised by the tilt
/// `t > 0` (non-lattice; §9).
fn ln_tail<E: Ensemble + ?Sized>(ensemble: &E, t: f64, n: f64) -> f64 {
    let h = 1e-5 * t.max(1e-2);
    let curvature = (ensemble.cgf_slope(t + h) - ensemble.cgf_slope(t - h)) / (2.0 * h);
    -n * ensemble.tilted_entropy(t) - (t * (2.0 * std::f64::consts::PI * n * curvature).sqrt()).ln()
}

/// The load whose `e^{alpha N}` patterns have a largest overlap at
/// `Lambda'(t)`: `P P(u >= Lambda'(t)) = 1`.
fn load_of_top_overlap<E: Ensemble + ?Sized>(ensemble: &E, t: f64, n: f64) -> f64 {
    -ln_tail(ensemble, t, n) / n
}

/// `P(ln S <= y)` for `S = sum_k e^{x_k / gamma}` over the Poisson points
/// of intensity `e^{-x}`: a positive stable law of index `gamma < 1`,
/// `E e^{-theta S} = exp(-Gamma(1 - gamma) theta^gamma)` (§9). With
/// `S = Gamma(1 - gamma)^{1/gamma} S_0` and Kanter's representation
/// `S_0 = (A(U)/E)^{(1 - gamma)/gamma}` (`U` uniform, `E` exponential),
/// `P(ln S_0 <= y) = E_U exp(-A(U) e^{-y gamma / (1 - gamma)})`.
pub fn ln_stable_sum_cdf(y: f64, gamma: f64) -> f64 {
    let y0 = y - ln_gamma(1.0 - gamma) / gamma;
    let scale = (-y0 * gamma / (1.0 - gamma)).exp();
    let pi = std::f64::consts::PI;
    let kanter = |u: f64| {
        let a = ((gamma * pi * u).sin() / (pi * u).sin()).powf(1.0 / (1.0 - gamma))
            * ((1.0 - gamma) * pi * u).sin()
            / (gamma * pi * u).sin();
        (-a * scale).exp()
    };
    quadrature::double_exponential::integrate(kanter, 0.0, 1.0, 1e-10).integral
}

/// Median of `ln S` ([`ln_stable_sum_cdf`]).
///
/// # Errors
/// [`TheoryError::NoSignChange`] if the median cannot be bracketed.
pub fn median_ln_stable_sum(gamma: f64) -> Result<f64, TheoryError> {
    let centre = ln_gamma(1.0 - gamma) / gamma;
    let width = 10.0 / gamma + 10.0;
    root(
        |y| ln_stable_sum_cdf(y, gamma) - 0.5,
        centre - width,
        centre + width,
        "median of the stable sum",
    )
}

/// The largest tilt `t` in `(0, upper)` where `f` falls through zero: the
/// extreme-value equations are negative at both ends (a tiny `t` is a
/// sum dominated by one term, `t -> upper` a stable law of index 1), so
/// the bracket is found on a grid from the top down, then refined.
///
/// # Errors
/// [`TheoryError::NoCrossingAtN`] when `f` is positive at no grid point:
/// at very small `N` the prediction `what` has no solution.
fn tilt_root<F: Fn(f64) -> f64>(f: F, upper: f64, what: &str, n: f64) -> Result<f64, TheoryError> {
    const STEPS: usize = 400;
    let at = |k: usize| upper * k as f64 / STEPS as f64;
    (1..STEPS)
        .rev()
        .find(|&k| f(at(k)) > 0.0)
        .ok_or_else(|| TheoryError::NoCrossingAtN {
            what: what.to_string(),
            n,
        })
        .and_then(|k| root(&f, at(k), at(k + 1), what))
}

/// Whether the REM at the load `alpha_1` is frozen at `lambda` (`Lambda'(lambda) > 1`).
fn frozen_at_alpha_1<E: Ensemble + ?Sized>(ensemble: &E, lambda: f64) -> bool {
    ensemble.overlap_exceeds_one() && ensemble.cgf_slope(lambda) > 1.0
}

/// Predicted crossing of one step from `xi^1` at dimension `n`
/// (docs/theory.md §9, "First step").
///
/// # Errors
/// [`TheoryError::InvalidLambda`], [`TheoryError::InvalidDimension`],
/// [`TheoryError::NoCrossingAtN`] in the frozen phase at very small `N`
/// (gaussian `lambda = 2`: `N = 2`), solver errors.
pub fn alpha_1_first_step_n<E: Ensemble + ?Sized>(
    ensemble: &E,
    lambda: f64,
    n: f64,
) -> Result<f64, TheoryError> {
    check_dimension(n)?;
    crate::thresholds::check_lambda(lambda)?;
    if !frozen_at_alpha_1(ensemble, lambda) {
        return Ok(median_margin(ensemble, lambda, n));
    }
    // Frozen: retrieved iff ln S < lambda sqrt(s) N (sqrt(s) - u_top), with
    // u_top = Lambda'(t) the typical largest overlap; averaged over the
    // law of s.
    let norms = norm_law(ensemble, n);
    let l = lambda * median_self_overlap(ensemble, n).sqrt();
    let excess = |t: f64| {
        let u = ensemble.cgf_slope(t);
        let p: f64 = norms
            .iter()
            .map(|&(s, weight)| {
                let ls = lambda * s.sqrt();
                if t >= ls {
                    return 0.0;
                }
                weight * ln_stable_sum_cdf(ls * n * (s.sqrt() - u), t / ls)
            })
            .sum();
        p - 0.5
    };
    let t = tilt_root(excess, l, "frozen first-step crossing", n)?;
    Ok(load_of_top_overlap(ensemble, t, n))
}

/// Points of the grid over the law of `s` in [`norm_law`]: `40 sqrt(N)`,
/// between 160 and 4000. The retrieval probability of the frozen first
/// step turns from 0 to 1 over `Delta s ~ 1/(lambda N)`, while the grid
/// spans `16 sqrt(v / N)`, so the points per turn stay fixed as `N` grows.
/// Against a grid 25 times finer (gaussian, `lambda = 2`) the crossing
/// moves by less than 1e-9 for `N` from 16 to 10^4, and by 2e-7 at
/// `N = 10^6`, where the cap binds.
fn norm_grid(n: f64) -> usize {
    (40.0 * n.sqrt()).clamp(160.0, 4000.0) as usize
}

/// The law of `s = |xi^1|^2 / N` on a grid, as `(s, weight)` pairs with
/// weights summing to 1: the saddle-point density
/// `sqrt(N c''(s)) e^{-N c(s)}` over `1 +- 8` standard deviations (the
/// lower end at least 0.05) for fluctuating norms, the single point
/// `s = 1` for pinned ones. Law files have a fluctuating norm but no norm
/// cost (their noise is not rotation-invariant); they take the normal
/// cost `(s - 1)^2 / (2 v)` of the same variance `v = Var(a^2)`.
fn norm_law<E: Ensemble + ?Sized>(ensemble: &E, n: f64) -> Vec<(f64, f64)> {
    let Some(v) = ensemble.norm_variance() else {
        return vec![(1.0, 1.0)];
    };
    let cost = |s: f64| {
        ensemble
            .self_overlap_cost(s)
            .unwrap_or((s - 1.0).powi(2) / (2.0 * v))
    };
    let h = 1e-4;
    let spread = 8.0 * (v / n).sqrt();
    let (low, high) = ((1.0 - spread).max(0.05), 1.0 + spread);
    let grid = norm_grid(n);
    let points: Vec<(f64, f64)> = (0..grid)
        .map(|k| {
            let s = low + (high - low) * (k as f64 + 0.5) / grid as f64;
            let curvature = (cost(s + h) - 2.0 * cost(s) + cost(s - h)) / (h * h);
            (s, -n * cost(s) + 0.5 * curvature.max(0.0).ln())
        })
        .collect();
    let top = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let total: f64 = points.iter().map(|p| (p.1 - top).exp()).sum();
    points
        .into_iter()
        .map(|(s, lw)| (s, (lw - top).exp() / total))
        .collect()
}

/// Squared norm per `N` of a pattern whose overlap with a fixed direction
/// is `Lambda'(t)`: `1 + Lambda'(t)^2` for rotation-invariant fluctuating
/// norms, the tilted second moment `E_a[kappa''(t a) + kappa'(t a)^2]` for
/// law files, 1 for pinned norms.
fn competitor_norm<E: Ensemble + ?Sized>(ensemble: &E, t: f64) -> f64 {
    if let Some(law) = ensemble.entry_law() {
        let h = 1e-5;
        return law
            .expect(|a| {
                let (_, slope) = law.ln_mgf(t * a);
                let (_, up) = law.ln_mgf(t * a + h);
                let (_, down) = law.ln_mgf(t * a - h);
                (up - down) / (2.0 * h) + slope * slope
            })
            .value;
    }
    if ensemble.norm_fluctuates() {
        1.0 + ensemble.cgf_slope(t).powi(2)
    } else {
        1.0
    }
}

/// Predicted crossing of the several-step dynamics from `xi^1` at
/// dimension `n` (docs/theory.md §9, "Several steps"): for symmetric
/// three-atom laws up to [`crate::capture::MAX_JOINT_N`], the crossing of
/// the bulk and one close competitor in one map
/// ([`crate::capture::alpha_capture_with_bulk_n`]), capped by the first
/// step's; otherwise the smaller of the bulk crossing
/// ([`bulk_dynamics_n`]) and the load at which one close competitor
/// captures the dynamics ([`crate::capture`], for the laws with an exact
/// capture table).
///
/// # Errors
/// [`TheoryError::InvalidLambda`], [`TheoryError::InvalidDimension`],
/// [`TheoryError::NoCrossingAtN`] in the frozen phase at very small `N`
/// (gaussian `lambda = 2`: `N = 3, 4`), solver errors.
pub fn alpha_1_dynamics_n<E: Ensemble + ?Sized>(
    ensemble: &E,
    lambda: f64,
    n: f64,
) -> Result<f64, TheoryError> {
    // Symmetric three-atom laws: bulk and one competitor in one map,
    // averaged over the composition of xi^1 (§9, capture with the bulk).
    check_dimension(n)?;
    if let Some(joint) = crate::capture::alpha_capture_with_bulk_n(ensemble, lambda, n as usize)? {
        return Ok(joint.min(alpha_1_first_step_n(ensemble, lambda, n)?));
    }
    let bulk = bulk_dynamics_n(ensemble, lambda, n)?;
    let capture = alpha_capture_n(ensemble, lambda, n as usize)?;
    Ok(capture.map_or(bulk, |c| c.min(bulk)))
}

/// Crossing of the several-step dynamics set by the bulk of the other
/// patterns: the paramagnetic map `q -> F(q)`, or in the frozen phase the
/// two-pattern saddle-node with the median top competitor.
///
/// # Errors
/// As [`alpha_1_dynamics_n`].
pub fn bulk_dynamics_n<E: Ensemble + ?Sized>(
    ensemble: &E,
    lambda: f64,
    n: f64,
) -> Result<f64, TheoryError> {
    check_dimension(n)?;
    crate::thresholds::check_lambda(lambda)?;
    let s = median_self_overlap(ensemble, n);
    let root_s = s.sqrt();
    if frozen_at_alpha_1(ensemble, lambda) {
        // Two-pattern competition: gap A of the median top competitor must
        // exceed the saddle-node A = 1 + ln(A + B).
        let l = lambda * root_s;
        let excess = |t: f64| {
            let u = ensemble.cgf_slope(t) + (1.0 / 2f64.ln()).ln() / (t * n);
            let a = l * n * (root_s - u);
            let b = l * n * (competitor_norm(ensemble, t) - u);
            if a <= 0.0 {
                a - 1.0
            } else {
                a - 1.0 - (a + b).ln()
            }
        };
        let t = tilt_root(excess, l, "two-pattern saddle-node", n)?;
        return Ok(load_of_top_overlap(ensemble, t, n));
    }
    // Paramagnetic: the largest load at which some state q xi^1 holds.
    let load = |q: f64| paramagnetic_load(ensemble, lambda, n, s, q);
    let step = 1.0 / Q_GRID as f64;
    let (q, on_grid) = (1..=Q_GRID)
        .map(|k| (k as f64 * step, load(k as f64 * step)))
        .fold(
            (1.0, f64::NEG_INFINITY),
            |a, b| if b.1 > a.1 { b } else { a },
        );
    let around = ((q - step).max(step), (q + step).min(1.0));
    let (_, lowest) = minimise(|q| -load(q), around.0, around.1, "several-step map")?;
    let best = on_grid.max(-lowest).max(0.0);
    // A failed first step is never repaired by later steps (§6).
    Ok(best.min(alpha_1_first_step_n(ensemble, lambda, n)?))
}

/// The largest load at which the state `q xi^1` keeps the several-step
/// map of the paramagnetic phase retrieving: `w > 1/2` and
/// `F(q) = w + (1 - w) p >= q`, with the pull `p = Lambda_N'(lambda q
/// sqrt s) / sqrt s` and `w = 1/(1 + e^{N (alpha - m)})`,
/// `m = lambda q s - Lambda_N(lambda q sqrt s)` (docs/theory.md §9). If
/// `p >= q` any `w > 1/2` will do, so the load is `m`; otherwise `w` must
/// reach `r = (q - p)/(1 - p)`, which bounds the load by
/// `m + min(0, ln(1/r - 1))/N` (`-inf` at `r = 1`, i.e. `q = 1`).
fn paramagnetic_load<E: Ensemble + ?Sized>(
    ensemble: &E,
    lambda: f64,
    n: f64,
    s: f64,
    q: f64,
) -> f64 {
    let root_s = s.sqrt();
    let l = lambda * q * root_s;
    let margin = lambda * q * s - cgf_n(ensemble, l, n);
    let pull = cgf_n_slope(ensemble, l, n) / root_s;
    if pull >= q {
        return margin;
    }
    let r = (q - pull) / (1.0 - pull);
    margin + (1.0 / r - 1.0).ln().min(0.0) / n
}

/// Predicted basin edge `rho_min` of one step at load `alpha` and
/// dimension `n` (docs/theory.md §9, "Basins"); the several-step edge is
/// the same at this order.
///
/// # Errors
/// [`TheoryError::InvalidAlpha`], [`TheoryError::InvalidDimension`], solver errors.
pub fn rho_min_n<E: Ensemble + ?Sized>(
    ensemble: &E,
    alpha: f64,
    lambda: f64,
    n: f64,
) -> Result<f64, TheoryError> {
    check_dimension(n)?;
    crate::thresholds::check_lambda(lambda)?;
    let rem = Rem::new(ensemble, alpha)?;
    let (edge, t) = if lambda <= rem.freezing_point() {
        ((alpha + cgf_n(ensemble, lambda, n)) / lambda, lambda)
    } else {
        // Frozen: the top overlap of e^{alpha N} patterns plus ln S / (lambda N).
        let excess = |t: f64| load_of_top_overlap(ensemble, t, n) - alpha;
        let upper = (2.0 * rem.freezing_point()).min(lambda);
        let t = root(
            excess,
            rem.freezing_point() * 0.2,
            upper,
            "basin extreme value",
        )?;
        let edge = ensemble.cgf_slope(t) + median_ln_stable_sum(t / lambda)? / (lambda * n);
        (edge, t)
    };
    Ok(edge + basin_margin_skew(ensemble, edge.clamp(0.0, 1.0), t)? / n)
}

/// `kappa_3 / (6 kappa_2)` of the basin margin per entry, the shift of the
/// basin edge times `N` that moves the margin's mean to its median
/// (Cornish–Fisher; docs/theory.md §9, "Basins"). One step from `x0`
/// retrieves when `xi^1 . x0` beats the others' threshold, `N` times the
/// smallest `(alpha + Lambda_x0(t))/t`, whose change with the entries of
/// `x0` is, by the envelope theorem, `sum_i kappa(t x0_i) / t` (`kappa` the
/// cgf of one entry). The margin is then a sum of i.i.d. terms
/// `Y = a b - kappa(t b) / t` over the entries `a` of `xi^1` and `b` of
/// `x0`, whose mean grows with `rho` at slope 1, so the crossing lies
/// `kappa_3(Y) / (6 kappa_2(Y) N)` above the mean's. The joint law of
/// `(a, b)` is the start's construction (docs/theory.md §7):
/// - law files and `+-1` entries: `b = a` with probability `rho`, else a
///   fresh draw;
/// - gaussian (rotation-invariant fluctuating norms): `b = rho a +
///   sqrt(1 - rho^2) g`, the threshold `Lambda'(t) |x0|^2 / 2`; `Y` is a
///   quadratic form of a normal pair, `kappa_k = 2^{k-1} (k-1)! tr((M
///   Sigma)^k)`;
/// - spherical patterns: the start is at overlap `rho` exactly and on the
///   sphere, so the margin does not fluctuate: 0.
fn basin_margin_skew<E: Ensemble + ?Sized>(
    ensemble: &E,
    rho: f64,
    t: f64,
) -> Result<f64, TheoryError> {
    let rademacher;
    let law = match (ensemble.entry_law(), ensemble.pattern_law()) {
        (Some(law), _) => law,
        (None, PatternLaw::Binary) => {
            rademacher = crate::law::EntryLaw::new(crate::law::Family::Ternary {
                zero_probability: 0.0,
            })?;
            &rademacher
        }
        (None, _) if ensemble.norm_fluctuates() => {
            let u = ensemble.cgf_slope(t);
            // M Sigma for Y = v^T M v, v = (a, b), M = [[0, 1/2], [1/2, -u/2]],
            // Sigma = [[1, rho], [rho, 1]].
            let ms = [[rho / 2.0, 0.5], [0.5 - u * rho / 2.0, rho / 2.0 - u / 2.0]];
            let mul = |x: [[f64; 2]; 2], y: [[f64; 2]; 2]| {
                let e = |i: usize, j: usize| x[i][0] * y[0][j] + x[i][1] * y[1][j];
                [[e(0, 0), e(0, 1)], [e(1, 0), e(1, 1)]]
            };
            let square = mul(ms, ms);
            let cube = mul(square, ms);
            let k2 = 2.0 * (square[0][0] + square[1][1]);
            let k3 = 8.0 * (cube[0][0] + cube[1][1]);
            return Ok(k3 / (6.0 * k2));
        }
        _ => return Ok(0.0),
    };
    let y = |a: f64, b: f64| a * b - law.ln_mgf(t * b).0 / t;
    let joint = |f: &dyn Fn(f64, f64) -> f64| {
        law.expect(|a| rho * f(a, a) + (1.0 - rho) * law.expect(|b| f(a, b)).value)
            .value
    };
    let mean = joint(&y);
    let k2 = joint(&|a, b| (y(a, b) - mean).powi(2));
    let k3 = joint(&|a, b| (y(a, b) - mean).powi(3));
    Ok(if k2 > 0.0 { k3 / (6.0 * k2) } else { 0.0 })
}

/// Predicted crossing of the all-patterns study at dimension `n`
/// (docs/theory.md §9, "All patterns"): the load where the expected
/// number of failing patterns is `ln 2`, capped by the first-step
/// crossing. `None` where not derived (law files; pinned continuous norms,
/// whose failures come from the fluctuations of `Z`).
///
/// # Errors
/// [`TheoryError::InvalidLambda`], [`TheoryError::InvalidDimension`], solver errors.
pub fn alpha_c_n<E: Ensemble + ?Sized>(
    ensemble: &E,
    lambda: f64,
    n: f64,
) -> Result<Option<f64>, TheoryError> {
    check_dimension(n)?;
    let typical = alpha_1_first_step_n(ensemble, lambda, n)?;
    if ensemble.entry_law().is_some() {
        return Ok(None);
    }
    if !ensemble.norm_fluctuates() {
        let alpha_max = ensemble.alpha_max();
        if !alpha_max.is_finite() {
            return Ok(None);
        }
        // Exact duplicates: P(P - 1)/2 pairs, each a duplicate with
        // probability e^{-N alpha_max}.
        // P(P - 1) = e^x, solved in logs: ln P = x/2 + ln((e^{-x/2} + sqrt(e^{-x} + 4))/2).
        let x = (2.0 * 2f64.ln()).ln() + n * alpha_max;
        let ln_p = 0.5 * x + (0.5 * ((-0.5 * x).exp() + ((-x).exp() + 4.0).sqrt())).ln();
        return Ok(Some((ln_p / n).min(typical)));
    }
    let ln_target = 2f64.ln().ln();
    let excess =
        |alpha: f64| ln_expected_failures(ensemble, lambda, alpha, n).map(|f| f - ln_target);
    let hi = typical;
    if excess(hi)? <= 0.0 {
        return Ok(Some(typical));
    }
    let lo = 1e-3;
    if excess(lo)? >= 0.0 {
        return Ok(Some(lo));
    }
    let failure = std::cell::RefCell::new(None);
    let value = root(
        |alpha| {
            excess(alpha).unwrap_or_else(|e| {
                failure.borrow_mut().get_or_insert(e);
                f64::NAN
            })
        },
        lo,
        hi,
        "all-patterns crossing",
    );
    match failure.into_inner() {
        Some(e) => Err(e),
        None => value.map(Some),
    }
}

/// `ln(P p_fail)` for fluctuating norms: route A, `P(s < s*)` with the
/// Bahadur–Rao prefactor of the norm cost at the failure edge `s*`; route
/// B, `(P - 1) E_s P(u >= sqrt s)` by Laplace's method in `s` with the
/// Bahadur–Rao tail of the competitor's overlap.
fn ln_expected_failures<E: Ensemble + ?Sized>(
    ensemble: &E,
    lambda: f64,
    alpha: f64,
    n: f64,
) -> Result<f64, TheoryError> {
    let rem = Rem::new(ensemble, alpha)?;
    let cost = |s: f64| ensemble.self_overlap_cost(s).unwrap_or(f64::INFINITY);
    let h = 1e-5;
    let slope = |s: f64| (cost(s + h) - cost(s - h)) / (2.0 * h);
    let curvature = |s: f64| (cost(s + h) - 2.0 * cost(s) + cost(s - h)) / (h * h);
    // Route A: the retrieved pattern loses to the typical REM below s*.
    let margin = |s: f64| lambda * s - rem.free_energy(lambda * s.sqrt());
    let route_a = if margin(1e-6) < 0.0 && margin(1.0) > 0.0 {
        let edge = root(margin, 1e-6, 1.0, "route A edge")?;
        -n * cost(edge)
            - (slope(edge).abs() * (2.0 * std::f64::consts::PI * n / curvature(edge)).sqrt()).ln()
    } else {
        f64::NEG_INFINITY
    };
    // Route B: another pattern's overlap reaches the self-overlap.
    let ln_density =
        |s: f64| -n * cost(s) + 0.5 * (n * curvature(s) / (2.0 * std::f64::consts::PI)).ln();
    let ln_competitor = |s: f64| {
        let u = s.sqrt();
        if u <= ensemble.cgf_slope(1e-9) {
            return 0.0;
        }
        match root(|t| ensemble.cgf_slope(t) - u, 1e-9, 1e3, "route B tilt") {
            Ok(t) => (alpha * n + ln_tail(ensemble, t, n)).min(0.0),
            Err(_) => f64::NEG_INFINITY,
        }
    };
    let route_b = ln_integral_of_exp(
        &|s: f64| ln_density(s) + ln_competitor(s),
        &pieces(0.05, 3.0, 0.05),
    );
    let total = log_add(route_a, route_b);
    Ok(alpha * n + total)
}

/// `ln(e^a + e^b)`.
fn log_add(a: f64, b: f64) -> f64 {
    let m = a.max(b);
    if m == f64::NEG_INFINITY {
        m
    } else {
        m + ((a - m).exp() + (b - m).exp()).ln()
    }
}

#[cfg(test)]
mod tests;
