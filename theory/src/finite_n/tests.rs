use super::*;
use crate::by_name;
use crate::ensemble::Iid;
use crate::law::Family;
use crate::thresholds::alpha_1;
use statrs::distribution::{ChiSquared, Continuous, ContinuousCDF, Gamma, Normal};
use statrs::function::erf::erfc;
use std::f64::consts::PI;

fn close(got: f64, expected: f64, tol: f64, what: &str) {
    assert!(
        (got - expected).abs() <= tol,
        "{what}: {got} vs {expected} (off by {:e})",
        (got - expected).abs()
    );
}

/// The root of an increasing `f` on `(lo, hi)` by bisection: an oracle
/// independent of the Brent solver and of `tilt_root`'s grid. It stops
/// once the midpoint is no longer strictly inside (adjacent doubles).
fn bisect(f: impl Fn(f64) -> f64, mut lo: f64, mut hi: f64) -> f64 {
    assert!(f(lo) < 0.0 && f(hi) > 0.0, "no sign change on ({lo}, {hi})");
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if f(mid) < 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// `ln P(u >= t)` of one gaussian overlap (`Lambda(t) = t^2/2`,
/// `Lambda'' = 1`) in the Bahadur–Rao form `e^{-N t^2/2} / (t sqrt(2 pi N))`.
fn gaussian_ln_tail(t: f64, n: f64) -> f64 {
    -n * t * t / 2.0 - (t * (2.0 * PI * n).sqrt()).ln()
}

/// The tilt `t` at which the largest of `e^{alpha N}` gaussian overlaps
/// sits: `-gaussian_ln_tail(t, N) / N = alpha`, by bisection.
fn gaussian_top_tilt(alpha: f64, n: f64) -> f64 {
    bisect(|t| -gaussian_ln_tail(t, n) / n - alpha, 1e-3, 10.0)
}

/// The sparse binary law of density 0.1, standardised: `-1/3` with
/// probability 0.9, `3` with probability 0.1.
fn sparse() -> Iid {
    Iid::new("sparse", Family::SparseBinary { density: 0.1 }).unwrap()
}
const SPARSE_VALUES: [f64; 2] = [-1.0 / 3.0, 3.0];
const SPARSE_PROBS: [f64; 2] = [0.9, 0.1];

/// `E b^k e^{s b}` over the sparse binary law, written out.
fn sparse_moment(k: i32, s: f64) -> f64 {
    SPARSE_VALUES
        .iter()
        .zip(SPARSE_PROBS)
        .map(|(b, p)| p * b.powi(k) * (s * b).exp())
        .sum()
}

/// `kappa_3 / (6 kappa_2)` of a discrete law given as `(probability, value)`.
fn skew_ratio(points: &[(f64, f64)]) -> f64 {
    let mean: f64 = points.iter().map(|(p, y)| p * y).sum();
    let k2: f64 = points.iter().map(|(p, y)| p * (y - mean).powi(2)).sum();
    let k3: f64 = points.iter().map(|(p, y)| p * (y - mean).powi(3)).sum();
    k3 / (6.0 * k2)
}

/// Gaussian first step, paramagnetic: the median of `chi^2_N / N` is
/// `1 - 2/(3N)` (Cornish–Fisher), so `alpha_N = alpha_1 (1 - 2/(3N))`.
#[test]
fn gaussian_first_step_is_alpha_1_at_the_median_norm() {
    let g = by_name("gaussian").unwrap();
    for n in [16.0, 64.0, 400.0] {
        let expected = 0.375 * (1.0 - 2.0 / (3.0 * n));
        let got = alpha_1_first_step_n(g.as_ref(), 0.5, n).unwrap();
        assert!(
            (got - expected).abs() < 1e-6,
            "N = {n}: {got} vs {expected}"
        );
    }
}

/// Every prediction tends to its N -> infinity value.
#[test]
fn predictions_tend_to_their_limits() {
    let g = by_name("gaussian").unwrap();
    let b = by_name("binary").unwrap();
    let s = by_name("spherical").unwrap();
    let n = 1e6;
    let close = |a: f64, b: f64, tol: f64| assert!((a - b).abs() < tol, "{a} vs {b}");
    for (e, lambda) in [
        (g.as_ref(), 0.5),
        (g.as_ref(), 2.0),
        (b.as_ref(), 1.0),
        (s.as_ref(), 1.0),
    ] {
        let limit = alpha_1(e, lambda).unwrap();
        close(alpha_1_first_step_n(e, lambda, n).unwrap(), limit, 1e-4);
        close(alpha_1_dynamics_n(e, lambda, n).unwrap(), limit, 1e-4);
    }
    close(
        alpha_c_n(b.as_ref(), 1.0, n).unwrap().unwrap(),
        std::f64::consts::LN_2 / 2.0,
        1e-5,
    );
    let u_max = (2.0f64 * 0.2).sqrt();
    close(rho_min_n(g.as_ref(), 0.2, 2.0, n).unwrap(), u_max, 1e-4);
    let bound = crate::alpha_c_lower(g.as_ref(), 0.5).unwrap().alpha_c_lower;
    close(
        alpha_c_n(g.as_ref(), 0.5, 1e5).unwrap().unwrap(),
        bound,
        1e-3,
    );
}

/// The basin margin's skewness term against independent evaluations:
/// `+-1` entries give `Y = +-1` with mean `rho`, hence `-rho / 3`;
/// sparse binary entries (f = 0.1, values -1/3 and 3) by enumerating
/// the nine pairs with the cgf written out; gaussian patterns by a
/// direct 2-D quadrature of `Y = a b - u b^2 / 2`, `b = rho a +
/// sqrt(1 - rho^2) g`; spherical starts do not fluctuate.
#[test]
fn basin_margin_skew_against_direct_moments() {
    let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-9, "{a} vs {b}");
    let binary = by_name("binary").unwrap();
    for rho in [0.3, 0.61, 0.9] {
        close(
            basin_margin_skew(binary.as_ref(), rho, 0.8).unwrap(),
            -rho / 3.0,
        );
    }
    // At rho = 1 a +-1 start is xi^1 itself: the margin does not
    // fluctuate, and its median is its mean.
    assert_eq!(basin_margin_skew(binary.as_ref(), 1.0, 0.8).unwrap(), 0.0);
    let spherical = by_name("spherical").unwrap();
    assert_eq!(
        basin_margin_skew(spherical.as_ref(), 0.6, 1.0).unwrap(),
        0.0
    );

    let (rho, t) = (0.55, 0.29);
    let kappa = |s: f64| sparse_moment(0, s).ln();
    let mut pairs = Vec::new();
    for (i, a) in SPARSE_VALUES.iter().enumerate() {
        for (j, b) in SPARSE_VALUES.iter().enumerate() {
            let same = if i == j { rho } else { 0.0 };
            let p = SPARSE_PROBS[i] * (same + (1.0 - rho) * SPARSE_PROBS[j]);
            pairs.push((p, a * b - kappa(t * b) / t));
        }
    }
    close(
        basin_margin_skew(&sparse(), rho, t).unwrap(),
        skew_ratio(&pairs),
    );

    let gaussian = by_name("gaussian").unwrap();
    let (rho, t) = (0.57, 0.63);
    let (h, m) = (0.02, 450);
    let phi = |x: f64| (-x * x / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let mut grid = Vec::new();
    for i in -m..=m {
        for j in -m..=m {
            let (a, g) = (i as f64 * h, j as f64 * h);
            let b = rho * a + (1.0 - rho * rho).sqrt() * g;
            grid.push((phi(a) * phi(g) * h * h, a * b - t * b * b / 2.0));
        }
    }
    let direct = skew_ratio(&grid);
    assert!(
        (basin_margin_skew(gaussian.as_ref(), rho, t).unwrap() - direct).abs() < 1e-6,
        "{direct}"
    );
}

/// Binary duplicates: `P(P - 1) / 2^{N+1} = ln 2` (docs/theory.md §9).
#[test]
fn binary_all_patterns_is_the_duplicate_count() {
    let b = by_name("binary").unwrap();
    for n in [8.0, 12.0, 20.0] {
        let alpha = alpha_c_n(b.as_ref(), 1.0, n).unwrap().unwrap();
        let p = (alpha * n).exp();
        let pairs = p * (p - 1.0) / 2f64.powf(n + 1.0);
        assert!((pairs - 2f64.ln()).abs() < 1e-9, "N = {n}: {pairs}");
    }
}

/// The finite-N spherical cgf is the Bessel form
/// `Gamma(nu + 1) (2/k)^nu I_nu(k)`, `nu = (N - 2)/2`, `k = N t`; at
/// `N = 3` (nu = 1/2) it is `sinh(k) / k`.
#[test]
fn spherical_cgf_at_n_3_is_sinh_over_k() {
    let s = by_name("spherical").unwrap();
    for t in [0.3, 1.0, 2.0] {
        let k: f64 = 3.0 * t;
        let expected = (k.sinh() / k).ln() / 3.0;
        assert!((cgf_n(s.as_ref(), t, 3.0) - expected).abs() < 1e-10);
    }
}

/// The lag tends to zero like ln(N)/N and is positive at finite N.
#[test]
fn dynamics_lags_the_first_step() {
    let g = by_name("gaussian").unwrap();
    for n in [12.0, 24.0, 100.0] {
        let first = alpha_1_first_step_n(g.as_ref(), 0.5, n).unwrap();
        let dynamics = alpha_1_dynamics_n(g.as_ref(), 0.5, n).unwrap();
        assert!(dynamics < first, "N = {n}");
        assert!(first - dynamics < 3.0 * n.ln() / n, "N = {n}");
    }
}

/// Index 1/2: `S_0 = 1/(2 Z^2)` (Lévy), `S = Gamma(1/2)^2 S_0 = pi S_0`,
/// so the median of `ln S` is `ln(pi / (2 z_{3/4}^2))`.
#[test]
fn stable_median_at_index_one_half_is_levy() {
    let z = 0.674_489_750_196_081_7f64;
    let expected = (std::f64::consts::PI / (2.0 * z * z)).ln();
    assert!((median_ln_stable_sum(0.5).unwrap() - expected).abs() < 1e-8);
}

#[test]
fn bad_dimensions_are_refused() {
    let g = by_name("gaussian").unwrap();
    for n in [0.0, -3.0, f64::NAN, 2.5, f64::INFINITY] {
        assert!(matches!(
            finite_n(g.as_ref(), 0.5, n),
            Err(TheoryError::InvalidDimension(_))
        ));
    }
}

/// `ln_tail` is the Bahadur–Rao form: for gaussian overlaps
/// `e^{-N t^2/2} / (t sqrt(2 pi N))`; for `+-1` entries, with
/// `Lambda = ln cosh`, `I(tanh t) = t tanh t - ln cosh t` and
/// `Lambda'' = sech^2 t`. At `N t^2 >= 100` the gaussian form is the exact
/// normal tail `erfc(t sqrt(N/2)) / 2` to within its next order, a
/// relative `1/(N t^2)` (Mills' ratio).
#[test]
fn one_overlap_tail_is_bahadur_rao() {
    let g = by_name("gaussian").unwrap();
    let b = by_name("binary").unwrap();
    for (t, n) in [(0.3, 16.0), (0.8, 40.0), (1.7, 200.0)] {
        close(
            ln_tail(g.as_ref(), t, n),
            gaussian_ln_tail(t, n),
            1e-8,
            "gaussian",
        );
        let binary =
            -n * (t * t.tanh() - t.cosh().ln()) - (t * (2.0 * PI * n).sqrt() / t.cosh()).ln();
        close(ln_tail(b.as_ref(), t, n), binary, 1e-7, "binary");
        close(
            load_of_top_overlap(b.as_ref(), t, n),
            -binary / n,
            1e-9,
            "load",
        );
    }
    for (t, n) in [(0.5f64, 400.0f64), (1.0, 100.0), (2.0, 64.0)] {
        let exact = (0.5 * erfc(t * (n / 2.0).sqrt())).ln();
        close(
            ln_tail(g.as_ref(), t, n),
            exact,
            1.0 / (n * t * t),
            "normal tail",
        );
    }
}

/// The grid law of `s = |xi^1|^2 / N`: for gaussian patterns `s N` is
/// chi-squared, so the weights are the Gamma(N/2, rate N/2) density
/// (the saddle-point density is exact here, up to its constant); for a
/// law file, the normal density of variance `Var(a^2) / N` (ternary with
/// half zeros: `a^2` is 0 or 2, variance 1); one point for pinned norms.
/// The grid spans 8 standard deviations each side, its lower end cut at
/// 0.05, with `40 sqrt(N)` points, at least 160.
#[test]
fn norm_law_is_the_law_of_the_squared_norm() {
    let check = |points: Vec<(f64, f64)>, variance: f64, n: f64, density: &dyn Fn(f64) -> f64| {
        let (grid, spread) = (points.len(), 8.0 * (variance / n).sqrt());
        assert_eq!(grid, (40.0 * n.sqrt()).max(160.0) as usize);
        let low = (1.0 - spread).max(0.05);
        let total: f64 = points.iter().map(|&(s, _)| density(s)).sum();
        close(points.iter().map(|p| p.1).sum(), 1.0, 1e-12, "total weight");
        for (k, &(s, w)) in points.iter().enumerate() {
            let s_k = low + (1.0 + spread - low) * (k as f64 + 0.5) / grid as f64;
            // 1e-7: the gaussian's variance is a numerical curvature.
            close(s, s_k, 1e-7, "grid point");
            let expected = density(s) / total;
            close(w, expected, 1e-6 * expected, "weight");
        }
    };
    let g = by_name("gaussian").unwrap();
    let ternary = Iid::new(
        "ternary",
        Family::Ternary {
            zero_probability: 0.5,
        },
    )
    .unwrap();
    for n in [16.0, 50.0, 400.0] {
        let chi2 = Gamma::new(n / 2.0, n / 2.0).unwrap();
        check(norm_law(g.as_ref(), n), 2.0, n, &|s| chi2.pdf(s));
        let normal = Normal::new(1.0, (1.0 / n).sqrt()).unwrap();
        check(norm_law(&ternary, n), 1.0, n, &|s| normal.pdf(s));
    }
    for name in ["binary", "spherical"] {
        assert_eq!(
            norm_law(by_name(name).unwrap().as_ref(), 16.0),
            vec![(1.0, 1.0)]
        );
    }
}

/// Cornish–Fisher median of `chi^2_N / N`, `1 - 2/(3N)`, read off the
/// norm cost's derivatives; the true median (statrs) differs by
/// `O(1/N^2)`. Pinned norms and law files (no norm cost) take 1.
#[test]
fn median_norm_is_cornish_fisher() {
    let g = by_name("gaussian").unwrap();
    for n in [10.0, 50.0] {
        close(
            median_self_overlap(g.as_ref(), n),
            1.0 - 2.0 / (3.0 * n),
            1e-6,
            "gaussian",
        );
    }
    let n = 400.0;
    let median = ChiSquared::new(n).unwrap().inverse_cdf(0.5) / n;
    close(
        median_self_overlap(g.as_ref(), n),
        median,
        2.0 / (n * n),
        "chi-squared median",
    );
    for e in [
        by_name("binary").unwrap(),
        by_name("spherical").unwrap(),
        Box::new(sparse()),
    ] {
        assert_eq!(median_self_overlap(e.as_ref(), 16.0), 1.0);
    }
}

/// The median margin per entry, one closed form per branch:
/// - sparse binary law file: `g(a) = lambda a^2 - kappa(lambda a)` over
///   its two atoms, `E g - kappa_3(g) / (6 kappa_2(g) N)`;
/// - `+-1` entries as a law file: `g = lambda - ln cosh lambda` for every
///   entry, which does not fluctuate;
/// - gaussian: `lambda s - lambda^2 s / 2` at `s = 1 - 2/(3N)`;
/// - spherical at `N = 3`: `lambda - ln(sinh(3 lambda) / (3 lambda)) / 3`.
#[test]
fn median_margin_per_pattern_law() {
    let kappa = |s: f64| sparse_moment(0, s).ln();
    for (lambda, n) in [(0.5, 20.0), (1.0, 64.0)] {
        let points: Vec<(f64, f64)> = SPARSE_VALUES
            .iter()
            .zip(SPARSE_PROBS)
            .map(|(a, p)| (p, lambda * a * a - kappa(lambda * a)))
            .collect();
        let mean: f64 = points.iter().map(|(p, y)| p * y).sum();
        let expected = mean - skew_ratio(&points) / n;
        close(
            median_margin(&sparse(), lambda, n),
            expected,
            1e-10,
            "sparse",
        );
    }
    let plus_minus = Iid::new(
        "pm",
        Family::Ternary {
            zero_probability: 0.0,
        },
    )
    .unwrap();
    close(
        median_margin(&plus_minus, 0.7, 12.0),
        0.7 - 0.7f64.cosh().ln(),
        1e-12,
        "+-1",
    );
    let g = by_name("gaussian").unwrap();
    let s = by_name("spherical").unwrap();
    for lambda in [0.5, 0.9] {
        let n = 24.0;
        let median_s = 1.0 - 2.0 / (3.0 * n);
        let expected = lambda * median_s - lambda * lambda * median_s / 2.0;
        close(
            median_margin(g.as_ref(), lambda, n),
            expected,
            1e-7,
            "gaussian",
        );
        let k = 3.0 * lambda;
        let expected = lambda - (k.sinh() / k).ln() / 3.0;
        close(
            median_margin(s.as_ref(), lambda, 3.0),
            expected,
            1e-9,
            "spherical",
        );
    }
}

/// The spherical cgf's slope at `N = 3` is that of `ln(sinh(3t)/(3t))/3`,
/// `coth(3t) - 1/(3t)`; other ensembles take their exact slope.
#[test]
fn finite_n_cgf_slope() {
    let s = by_name("spherical").unwrap();
    let g = by_name("gaussian").unwrap();
    for t in [0.3, 1.0, 2.0] {
        let k = 3.0 * t;
        close(
            cgf_n_slope(s.as_ref(), t, 3.0),
            1.0 / k.tanh() - 1.0 / k,
            1e-7,
            "spherical",
        );
        assert_eq!(cgf_n_slope(g.as_ref(), t, 3.0), t);
    }
}

/// At index 1/2 the stable sum is `S = pi / (2 Z^2)` (Lévy), so
/// `P(ln S <= y) = P(|Z| >= sqrt(pi e^{-y} / 2)) = erfc(sqrt(pi e^{-y}) / 2)`,
/// over the whole law, not only at the median.
#[test]
fn stable_sum_law_at_index_one_half_is_levy() {
    for y in [-2.0f64, 0.0, 1.0, 3.0] {
        let expected = erfc((PI * (-y).exp()).sqrt() / 2.0);
        close(ln_stable_sum_cdf(y, 0.5), expected, 1e-9, "cdf");
    }
}

/// `tilt_root` finds the largest root where `f` falls through zero, also
/// in the top cell of its grid and for an interval other than `(0, 1)`,
/// and names the prediction and N when `f` is never positive.
#[test]
fn tilt_root_takes_the_largest_downward_root() {
    let cases: [(f64, f64, f64); 3] = [(0.2, 0.6, 1.0), (0.1, 0.999, 1.0), (0.5, 1.5, 2.0)];
    for (low, high, upper) in cases {
        let f = |t: f64| -(t - low) * (t - high);
        close(
            tilt_root(f, upper, "test", 8.0).unwrap(),
            high,
            1e-9,
            "root",
        );
    }
    match tilt_root(|_| -1.0, 2.0, "nothing", 3.0) {
        Err(TheoryError::NoCrossingAtN { what, n }) => {
            assert_eq!((what.as_str(), n), ("nothing", 3.0))
        }
        other => panic!("{other:?}"),
    }
}

/// Frozen at `alpha_1` iff `Lambda'(lambda) > 1` for overlaps that can
/// exceed 1: gaussian above `lambda = 1` (at 1 exactly, not); never for
/// `+-1`, spherical or sparse binary patterns, whose overlaps stop at 1.
#[test]
fn frozen_at_alpha_1_above_unit_slope() {
    let g = by_name("gaussian").unwrap();
    assert!(!frozen_at_alpha_1(g.as_ref(), 0.5));
    assert!(!frozen_at_alpha_1(g.as_ref(), 1.0));
    assert!(frozen_at_alpha_1(g.as_ref(), 1.0 + 1e-9));
    for e in [
        by_name("binary").unwrap(),
        by_name("spherical").unwrap(),
        Box::new(sparse()),
    ] {
        assert!(!frozen_at_alpha_1(e.as_ref(), 5.0), "{}", e.name());
    }
}

/// The competitor's squared norm per `N` at tilt `t`: `1 + t^2` for
/// gaussian patterns, 1 for `+-1`, and for the sparse binary law file the
/// tilted second moment `E_a[E_b b^2 e^{tab} / E_b e^{tab}]`
/// (`kappa'' + kappa'^2` written out).
#[test]
fn competitor_norm_per_pattern_law() {
    let g = by_name("gaussian").unwrap();
    let b = by_name("binary").unwrap();
    for t in [0.5, 1.3] {
        close(
            competitor_norm(g.as_ref(), t),
            1.0 + t * t,
            1e-14,
            "gaussian",
        );
        assert_eq!(competitor_norm(b.as_ref(), t), 1.0);
        let expected: f64 = SPARSE_VALUES
            .iter()
            .zip(SPARSE_PROBS)
            .map(|(a, p)| p * sparse_moment(2, t * a) / sparse_moment(0, t * a))
            .sum();
        close(competitor_norm(&sparse(), t), expected, 1e-7, "sparse");
    }
}

/// Frozen first step: at the predicted load, with `t` the tilt whose top
/// overlap `e^{alpha N}` patterns reach (`load_of_top_overlap`, inverted
/// by bisection), the retrieval probability
/// `E_s P(ln S < lambda sqrt(s) N (sqrt(s) - Lambda'(t)))` is 1/2, and
/// below 1/2 at every larger tilt. `E_s` is an adaptive quadrature over
/// the whole density of `s` (chi-squared for gaussian patterns; the normal
/// law of variance `Var(a^2)/N = 0.8/N` for the uniform law file), not
/// the code's grid and its cut at 8 standard deviations.
#[test]
fn frozen_first_step_is_the_median_of_the_stable_sum() {
    let g = by_name("gaussian").unwrap();
    let uniform = Iid::new("uniform", Family::Uniform {}).unwrap();
    for (e, lambda, n) in [
        (g.as_ref(), 2.0, 16.0),
        (g.as_ref(), 2.0, 200.0),
        (g.as_ref(), 4.0, 50.0),
        (&uniform as &dyn Ensemble, 2.5, 200.0),
    ] {
        let chi2 = Gamma::new(n / 2.0, n / 2.0).unwrap();
        let normal = Normal::new(1.0, (0.8 / n).sqrt()).unwrap();
        let density = |s: f64| match e.norm_fluctuates() {
            true => chi2.pdf(s),
            false => normal.pdf(s),
        };
        assert!(frozen_at_alpha_1(e, lambda));
        let alpha = alpha_1_first_step_n(e, lambda, n).unwrap();
        let integral = |f: &dyn Fn(f64) -> f64| {
            let whole = |a: f64, b: f64| quadrature::double_exponential::integrate(f, a, b, 1e-13);
            [(0.0, 0.5), (0.5, 1.0), (1.0, 1.5), (1.5, 2.5), (2.5, 6.0)]
                .iter()
                .map(|&(a, b)| whole(a, b).integral)
                .sum::<f64>()
        };
        let probability = |t: f64| {
            let u = e.cgf_slope(t);
            let retrieved = |s: f64| {
                let ls = lambda * s.sqrt();
                if t >= ls {
                    return 0.0;
                }
                density(s) * ln_stable_sum_cdf(ls * n * (s.sqrt() - u), t / ls)
            };
            integral(&retrieved) / integral(&density)
        };
        let t = bisect(|t| load_of_top_overlap(e, t, n) - alpha, 0.05, lambda);
        let what = format!("{} at lambda = {lambda}, N = {n}", e.name());
        close(probability(t), 0.5, 1e-6, &what);
        for k in 1..=5 {
            let above = t + (lambda - t) * k as f64 / 6.0;
            assert!(probability(above) < 0.5, "{what}: t = {above}");
        }
    }
}

/// Paramagnetic several-step crossing: the largest load at which some
/// `q` on a grid of 10^6 has `w(q) > 1/2` and `F(q) = w + (1 - w) p(q) >= q`
/// (the condition as docs/theory.md §9 states it, not the code's
/// rearrangement into a load per `q`), found by bisection in `alpha`, and
/// capped by the first step. Closed forms: gaussian, `m(q) = lambda q s -
/// (lambda q)^2 s / 2`, pull `lambda q`, first step `(lambda -
/// lambda^2/2) s`; `+-1` at `lambda = 2`, `m(q) = lambda q - ln cosh(lambda
/// q)`, pull `tanh(lambda q)`, which exceeds `q` below `q = 0.96` (there
/// any `w > 1/2` holds), first step `lambda - ln cosh lambda`. The gaussian
/// cases put the optimum at the kink `w = r` with `r = 1/2` (`N = 12`;
/// `lambda = 0.8`) and beside it.
#[test]
fn paramagnetic_dynamics_is_the_largest_fixed_point() {
    let oracle = |n: f64, margin: &dyn Fn(f64) -> f64, pull: &dyn Fn(f64) -> f64| {
        let steps = 1_000_000;
        let grid: Vec<(f64, f64, f64)> = (1..=steps)
            .map(|k| {
                let q = k as f64 / steps as f64;
                (q, margin(q), pull(q))
            })
            .collect();
        let holds = |alpha: f64| {
            grid.iter().any(|&(q, m, p)| {
                let w = 1.0 / (1.0 + (n * (alpha - m)).exp());
                w > 0.5 && w + (1.0 - w) * p >= q
            })
        };
        bisect(|alpha| if holds(alpha) { -1.0 } else { 1.0 }, 0.0, 2.0)
    };
    let g = by_name("gaussian").unwrap();
    for (lambda, n) in [(0.5, 12.0), (0.5, 16.0), (0.5, 100.0), (0.8, 24.0)] {
        let s = 1.0 - 2.0 / (3.0 * n);
        let margin = |q: f64| lambda * q * s - (lambda * q).powi(2) * s / 2.0;
        let expected =
            oracle(n, &margin, &|q| lambda * q).min((lambda - lambda * lambda / 2.0) * s);
        let got = bulk_dynamics_n(g.as_ref(), lambda, n).unwrap();
        // The oracle's grid is below the supremum by at most 0.3 dq = 3e-7.
        close(
            got,
            expected,
            1e-6,
            &format!("gaussian, lambda = {lambda}, N = {n}"),
        );
    }
    let b = by_name("binary").unwrap();
    let lambda = 2.0f64;
    for n in [12.0, 40.0] {
        let margin = |q: f64| lambda * q - (lambda * q).cosh().ln();
        let expected =
            oracle(n, &margin, &|q| (lambda * q).tanh()).min(lambda - lambda.cosh().ln());
        let got = bulk_dynamics_n(b.as_ref(), lambda, n).unwrap();
        close(got, expected, 1e-6, &format!("+-1, N = {n}"));
    }
}

/// Frozen several-step crossing, gaussian patterns: at the predicted
/// load, the median top competitor (overlap `t + ln(1/ln 2)/(t N)`,
/// squared norm `1 + t^2`) sits on the saddle-node `A = 1 + ln(A + B)`,
/// `A = l N (sqrt s - u)`, `B = l N (1 + t^2 - u)`, `l = lambda sqrt s`,
/// and every larger tilt has `A < 1 + ln(A + B)`. The tilt is the closed
/// form's (`gaussian_ln_tail`) inverted by bisection; `s` is the median
/// norm (`median_norm_is_cornish_fisher`).
#[test]
fn frozen_dynamics_is_the_two_pattern_saddle_node() {
    let g = by_name("gaussian").unwrap();
    for (lambda, n) in [(2.0, 16.0), (3.0, 40.0)] {
        let alpha = bulk_dynamics_n(g.as_ref(), lambda, n).unwrap();
        let t = gaussian_top_tilt(alpha, n);
        let root_s = median_self_overlap(g.as_ref(), n).sqrt();
        let l = lambda * root_s;
        let excess = |t: f64| {
            let u = t + (1.0 / 2f64.ln()).ln() / (t * n);
            let a = l * n * (root_s - u);
            let b = l * n * (1.0 + t * t - u);
            a - 1.0 - (a + b).ln()
        };
        close(excess(t), 0.0, 1e-9, &format!("lambda = {lambda}, N = {n}"));
        for k in 1..=9 {
            let above = t + (l - t) * k as f64 / 10.0;
            assert!(excess(above) < 0.0, "t = {above}");
        }
    }
}

/// Basin edge at finite `N`, gaussian patterns, `alpha = 0.2`
/// (freezing at `sqrt(0.4)`): paramagnetic at `lambda = 1/2`,
/// `(alpha + lambda^2/2)/lambda`; frozen at `lambda = 2` (and at
/// `alpha = 2`, `lambda = 5`), the top overlap
/// `t` of `e^{alpha N}` patterns (closed-form tail, bisection) plus the
/// median of `ln S` over `lambda N`. Both then move by the margin's skew
/// (`basin_margin_skew`, tested against a direct quadrature above) over `N`.
#[test]
fn basin_edge_in_both_phases() {
    let g = by_name("gaussian").unwrap();
    let (alpha, n) = (0.2, 30.0);
    let with_skew = |edge: f64, t: f64| {
        edge + basin_margin_skew(g.as_ref(), edge.clamp(0.0, 1.0), t).unwrap() / n
    };
    let lambda = 0.5;
    let expected = with_skew((alpha + lambda * lambda / 2.0) / lambda, lambda);
    close(
        rho_min_n(g.as_ref(), alpha, lambda, n).unwrap(),
        expected,
        1e-12,
        "paramagnetic",
    );
    // Frozen; at alpha = 2 the tilt (about 1.97) is above 1, where a
    // bracket ending at 2 / sqrt(2 alpha) instead of 2 sqrt(2 alpha)
    // would miss it.
    for (alpha, lambda) in [(alpha, 2.0), (2.0, 5.0)] {
        let t = gaussian_top_tilt(alpha, n);
        let edge = t + median_ln_stable_sum(t / lambda).unwrap() / (lambda * n);
        close(
            rho_min_n(g.as_ref(), alpha, lambda, n).unwrap(),
            with_skew(edge, t),
            1e-8,
            &format!("frozen at alpha = {alpha}"),
        );
    }
}

/// `ln(P p_fail)` for gaussian patterns written out with closed forms:
/// the REM free energy `alpha + l^2/2` below freezing (`l <= sqrt(2
/// alpha)`), `sqrt(2 alpha) l` above; the norm cost `(s - 1 - ln s)/2`
/// and its derivatives; the gaussian tail (`gaussian_ln_tail`, tilt
/// `t = sqrt s`); route B's integral by adaptive quadrature split at the
/// kink of the `min(0, .)`.
fn gaussian_ln_expected_failures(lambda: f64, alpha: f64, n: f64) -> f64 {
    let u_max = (2.0 * alpha).sqrt();
    let free_energy = |l: f64| {
        if l <= u_max {
            alpha + l * l / 2.0
        } else {
            u_max * l
        }
    };
    let cost = |s: f64| 0.5 * (s - 1.0 - s.ln());
    let margin = |s: f64| lambda * s - free_energy(lambda * s.sqrt());
    let route_a = if margin(1e-6) < 0.0 && margin(1.0) > 0.0 {
        let edge = bisect(margin, 1e-6, 1.0);
        let (slope, curvature) = (0.5 * (1.0 - 1.0 / edge), 0.5 / (edge * edge));
        -n * cost(edge) - (slope.abs() * (2.0 * PI * n / curvature).sqrt()).ln()
    } else {
        f64::NEG_INFINITY
    };
    let ln_density = |s: f64| -n * cost(s) + 0.5 * (n * 0.5 / (s * s) / (2.0 * PI)).ln();
    let ln_competitor = |s: f64| alpha * n + gaussian_ln_tail(s.sqrt(), n);
    let integrand = |s: f64| (ln_density(s) + ln_competitor(s).min(0.0)).exp();
    let integrate =
        |a: f64, b: f64| quadrature::double_exponential::integrate(integrand, a, b, 1e-14).integral;
    let route_b = match ln_competitor(0.05) > 0.0 {
        true => {
            let kink = bisect(|s| -ln_competitor(s), 0.05, 3.0);
            integrate(0.05, kink) + integrate(kink, 3.0)
        }
        false => integrate(0.05, 3.0),
    }
    .ln();
    alpha * n + log_add(route_a, route_b)
}

/// All patterns, gaussian: the code's expected failure count against the
/// closed forms above, and the crossing against their root
/// (`P p_fail = ln 2`) by bisection, in the paramagnetic and the frozen
/// phase.
#[test]
fn all_patterns_crossing_of_gaussian_patterns() {
    let g = by_name("gaussian").unwrap();
    for (lambda, alpha, n) in [(0.5, 0.17, 16.0), (2.0, 0.2, 16.0), (0.5, 0.15, 60.0)] {
        let got = ln_expected_failures(g.as_ref(), lambda, alpha, n).unwrap();
        let expected = gaussian_ln_expected_failures(lambda, alpha, n);
        close(
            got,
            expected,
            1e-6,
            &format!("lambda = {lambda}, alpha = {alpha}, N = {n}"),
        );
    }
    for (lambda, n) in [(0.5, 16.0), (2.0, 16.0)] {
        let target = 2f64.ln().ln();
        let typical = alpha_1_first_step_n(g.as_ref(), lambda, n).unwrap();
        let expected = bisect(
            |a| gaussian_ln_expected_failures(lambda, a, n) - target,
            1e-3,
            typical,
        );
        let got = alpha_c_n(g.as_ref(), lambda, n).unwrap().unwrap();
        close(got, expected, 1e-7, &format!("lambda = {lambda}, N = {n}"));
    }
}

/// Where `alpha_c_n` is not derived (`None`: law files, spherical
/// patterns) and where the first-step crossing caps it (binary at
/// `lambda = 0.2`, whose duplicates would allow `alpha = 0.35`).
#[test]
fn all_patterns_caps_and_gaps() {
    let n = 12.0;
    assert_eq!(alpha_c_n(&sparse(), 1.0, n).unwrap(), None);
    assert_eq!(
        alpha_c_n(by_name("spherical").unwrap().as_ref(), 1.0, n).unwrap(),
        None
    );
    let b = by_name("binary").unwrap();
    let typical = alpha_1_first_step_n(b.as_ref(), 0.2, n).unwrap();
    assert!(typical < 0.3);
    assert_eq!(alpha_c_n(b.as_ref(), 0.2, n).unwrap(), Some(typical));
}

/// `ln(e^a + e^b)` without overflow, and with empty terms.
#[test]
fn log_add_of_exponentials() {
    close(log_add(2f64.ln(), 3f64.ln()), 5f64.ln(), 1e-15, "ln 5");
    close(
        log_add(1000.0, 1000.0),
        1000.0 + 2f64.ln(),
        1e-12,
        "no overflow",
    );
    assert_eq!(log_add(f64::NEG_INFINITY, 1.5), 1.5);
    assert_eq!(log_add(-2.0, f64::NEG_INFINITY), -2.0);
    assert_eq!(
        log_add(f64::NEG_INFINITY, f64::NEG_INFINITY),
        f64::NEG_INFINITY
    );
}

/// The several-step crossing is the smaller of the bulk's and the
/// capture's where a capture table exists (binary, sparse binary), the
/// bulk's where it does not (gaussian), and the joint map's capped by the
/// first step for symmetric three-atom laws (ternary). Both sides of the
/// minimum occur among the cases.
#[test]
fn dynamics_crossing_is_the_first_failure() {
    let n = 16.0;
    let g = by_name("gaussian").unwrap();
    assert_eq!(alpha_capture_n(g.as_ref(), 0.5, 16).unwrap(), None);
    assert_eq!(
        alpha_1_dynamics_n(g.as_ref(), 0.5, n).unwrap(),
        bulk_dynamics_n(g.as_ref(), 0.5, n).unwrap()
    );
    let b = by_name("binary").unwrap();
    let sparse = sparse();
    let (mut capture_first, mut bulk_first) = (false, false);
    for (e, lambda) in [
        (b.as_ref(), 0.2),
        (b.as_ref(), 1.0),
        (&sparse as &dyn Ensemble, 0.3),
        (&sparse, 3.0),
    ] {
        let capture = alpha_capture_n(e, lambda, 16).unwrap().unwrap();
        let bulk = bulk_dynamics_n(e, lambda, n).unwrap();
        assert_eq!(alpha_1_dynamics_n(e, lambda, n).unwrap(), capture.min(bulk));
        capture_first |= capture < bulk;
        bulk_first |= bulk < capture;
    }
    assert!(capture_first && bulk_first);
    let ternary = Iid::new(
        "ternary",
        Family::Ternary {
            zero_probability: 0.5,
        },
    )
    .unwrap();
    for lambda in [0.5, 3.0] {
        let joint = crate::capture::alpha_capture_with_bulk_n(&ternary, lambda, 16)
            .unwrap()
            .unwrap();
        let first = alpha_1_first_step_n(&ternary, lambda, n).unwrap();
        assert_eq!(
            alpha_1_dynamics_n(&ternary, lambda, n).unwrap(),
            joint.min(first)
        );
    }
}

/// `finite_n` gathers the three crossings; attention scaling multiplies
/// each by `sqrt(N)` at `lambda = beta / sqrt(N)`, and refuses a
/// `beta` that is not positive and finite.
#[test]
fn crossings_gathered_and_scaled() {
    let g = by_name("gaussian").unwrap();
    let (beta, n) = (1.5, 36.0);
    let all = finite_n(g.as_ref(), beta / 6.0, n).unwrap();
    assert_eq!(all.n, n);
    assert_eq!(
        all.alpha_1_first_step_n,
        Some(alpha_1_first_step_n(g.as_ref(), 0.25, n).unwrap())
    );
    assert_eq!(
        all.alpha_1_dynamics_n,
        Some(alpha_1_dynamics_n(g.as_ref(), 0.25, n).unwrap())
    );
    assert_eq!(all.alpha_c_n, alpha_c_n(g.as_ref(), 0.25, n).unwrap());
    let scaled = attention_finite_n(g.as_ref(), beta, n).unwrap();
    let times_six = |a: Option<f64>| a.map(|a| 6.0 * a);
    assert_eq!(scaled.a_1_first_step_n, times_six(all.alpha_1_first_step_n));
    assert_eq!(scaled.a_1_dynamics_n, times_six(all.alpha_1_dynamics_n));
    assert_eq!(scaled.a_c_n, times_six(all.alpha_c_n));
    // Where a crossing does not exist at this N (gaussian, lambda = 2: the
    // first step at N = 2, the saddle-node at N = 3), it is None and the
    // others are still given; a solver's real failure would be an error.
    let small = finite_n(g.as_ref(), 2.0, 2.0).unwrap();
    assert_eq!(small.alpha_1_first_step_n, None);
    let three = finite_n(g.as_ref(), 2.0, 3.0).unwrap();
    assert_eq!(
        three.alpha_1_first_step_n,
        Some(alpha_1_first_step_n(g.as_ref(), 2.0, 3.0).unwrap())
    );
    assert_eq!(three.alpha_1_dynamics_n, None);
    assert!(matches!(
        finite_n(g.as_ref(), 2.0, 2.5),
        Err(TheoryError::InvalidDimension(_))
    ));
    for beta in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            attention_finite_n(g.as_ref(), beta, n),
            Err(TheoryError::InvalidBeta(_))
        ));
    }
    assert!(matches!(
        attention_finite_n(g.as_ref(), beta, 2.5),
        Err(TheoryError::InvalidDimension(_))
    ));
}

/// The median of `ln S` solves `P(ln S <= y) = 1/2` across the indices
/// the predictions use. For small `gamma` it lies far above
/// `ln Gamma(1 - gamma) / gamma` (`E ln S` exceeds that by
/// `gamma_E (1/gamma - 1)`, 28 at `gamma = 0.02`, and `ln S` spreads over
/// `~1/gamma`), which the bracket `+- (10/gamma + 10)` must reach: at
/// `gamma = 0.02` the median is 18 above.
#[test]
fn stable_median_across_indices() {
    for gamma in [0.02, 0.3, 0.95] {
        let median = median_ln_stable_sum(gamma).unwrap();
        close(
            ln_stable_sum_cdf(median, gamma),
            0.5,
            1e-9,
            &format!("gamma = {gamma}"),
        );
    }
    let centre = ln_gamma(0.98) / 0.02;
    assert!(median_ln_stable_sum(0.02).unwrap() - centre > 15.0);
}
