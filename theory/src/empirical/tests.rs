use super::*;
use crate::ensemble::{Ensemble, Iid, PatternLaw};
use crate::law::Family;
use crate::rem::Rem;
use crate::thresholds::{alpha_1, alpha_c_lower, failure_rate as rate_of, FailureRoute};

/// The ensemble of the other patterns' overlaps given that the retrieved
/// pattern has empirical law `nu` over the atoms of `law`:
/// `Lambda_nu(t) = sum_k nu_k kappa(t a_k)`.
#[derive(Debug)]
struct Conditional<'a> {
    law: &'a EntryLaw,
    nu: Vec<f64>,
}

impl Conditional<'_> {
    fn atoms(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        let atoms = self.law.atoms().unwrap();
        atoms.iter().zip(&self.nu).map(|(a, n)| (a.value, *n))
    }

    /// `KL(nu || p)`.
    fn kl(&self) -> f64 {
        let atoms = self.law.atoms().unwrap();
        atoms
            .iter()
            .zip(&self.nu)
            .filter(|(_, n)| **n > 0.0)
            .map(|(a, n)| n * (n / a.probability).ln())
            .sum()
    }

    /// `s_nu = sum_k nu_k a_k^2`, the signal per unit `lambda`.
    fn self_overlap(&self) -> f64 {
        self.atoms().map(|(a, n)| n * a * a).sum()
    }

    /// Route A by its definition: the REM of the others (the engine's
    /// `Rem`, tested against a constrained maximum) beats `lambda s_nu`.
    /// Loads beyond `alpha_max` hold exact best-aligned copies, at
    /// `u_end >= s_nu`: a failure.
    fn fails(&self, lambda: f64, alpha: f64) -> bool {
        match Rem::new(self, alpha) {
            Ok(rem) => lambda * self.self_overlap() <= rem.free_energy(lambda),
            Err(_) => true,
        }
    }

    /// Route B by its definition: `KL + (I_nu(s_nu) - alpha)_+`.
    fn single_pattern_cost(&self, alpha: f64) -> f64 {
        self.kl() + (self.rate(self.self_overlap()) - alpha).max(0.0)
    }
}

impl Ensemble for Conditional<'_> {
    fn name(&self) -> &str {
        "conditional"
    }

    fn cgf_with_slope(&self, t: f64) -> (f64, f64) {
        self.atoms().fold((0.0, 0.0), |(l, s), (a, n)| {
            let (k, dk) = self.law.ln_mgf(t * a);
            (l + n * k, s + n * a * dk)
        })
    }

    fn rate(&self, u: f64) -> f64 {
        if u >= self.overlap_max() * (1.0 - 1e-12) {
            return self.alpha_max();
        }
        crate::legendre::rate_from_cgf(self, u)
    }

    fn overlap_max(&self) -> f64 {
        self.atoms()
            .map(|(a, n)| n * self.law.best_product(a))
            .sum()
    }

    fn alpha_max(&self) -> f64 {
        self.atoms()
            .map(|(a, n)| -n * self.law.best_product_probability(a).unwrap().ln())
            .sum()
    }

    fn pattern_law(&self) -> PatternLaw {
        PatternLaw::Iid(std::sync::Arc::new(self.law.clone()))
    }
}

/// `min cost(nu)` over the 2-simplex by brute force: a grid of step 1/240,
/// then two zooms (factor 24) around the best point; `+inf` cost marks
/// excluded points. The final step is 1/138240, so the minimum is within
/// about 1e-5 of the truth for costs with slopes of order 1.
fn brute_force_minimum<C: Fn(&[f64]) -> f64>(cost: C) -> f64 {
    let (mut centre, mut half, mut steps) = ([1.0 / 3.0, 1.0 / 3.0], 1.0, 240);
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let step = 2.0 * half / steps as f64;
        let mut best_point = centre;
        for i in 0..=steps {
            for j in 0..=steps {
                let x = centre[0] - half + step * i as f64;
                let y = centre[1] - half + step * j as f64;
                if x < 0.0 || y < 0.0 || x + y > 1.0 {
                    continue;
                }
                let c = cost(&[x, y, 1.0 - x - y]);
                if c < best {
                    best = c;
                    best_point = [x, y];
                }
            }
        }
        centre = best_point;
        half = 2.0 * step;
        steps = 96;
    }
    best
}

fn three_atom_law() -> Iid {
    let family = Family::Discrete {
        values: vec![-1.0, 0.5, 2.0],
        probabilities: vec![0.5, 0.3, 0.2],
    };
    Iid::new("three-atom", family).unwrap()
}

/// Route A by brute force along rays from `p`: on each ray `KL` grows
/// (it is convex with its minimum at `p`), so the cheapest failing law is
/// where the ray first enters the (convex) failure set, found by a scan of
/// 100 steps and bisection; the minimum over 240 ray angles is then refined
/// by a ternary search around the best one.
fn brute_force_route_a(law: &EntryLaw, lambda: f64, alpha: f64) -> f64 {
    let p: Vec<f64> = law.atoms().unwrap().iter().map(|a| a.probability).collect();
    let fails = |nu: &[f64]| {
        Conditional {
            law,
            nu: nu.to_vec(),
        }
        .fails(lambda, alpha)
    };
    let kl = |nu: &[f64]| {
        Conditional {
            law,
            nu: nu.to_vec(),
        }
        .kl()
    };
    let on_ray = |phi: f64, r: f64| -> Option<Vec<f64>> {
        // Directions in the plane sum(nu) = 1.
        let (d1, d2) = (phi.cos(), phi.sin());
        let d = [d1, d2 - d1, -d2];
        let nu: Vec<f64> = p.iter().zip(d).map(|(p, d)| p + r * d).collect();
        nu.iter().all(|v| *v >= 0.0).then_some(nu)
    };
    let entry_cost = |phi: f64| -> f64 {
        let steps = 100;
        let r_edge = (1..=4000)
            .map(|k| k as f64 * 5e-4)
            .take_while(|&r| on_ray(phi, r).is_some())
            .last()
            .unwrap_or(0.0);
        let mut previous = 0.0;
        for k in 1..=steps {
            let r = r_edge * k as f64 / steps as f64;
            if fails(&on_ray(phi, r).unwrap()) {
                let (mut lo, mut hi) = (previous, r);
                for _ in 0..50 {
                    let mid = 0.5 * (lo + hi);
                    if fails(&on_ray(phi, mid).unwrap()) {
                        hi = mid
                    } else {
                        lo = mid
                    }
                }
                return kl(&on_ray(phi, hi).unwrap());
            }
            previous = r;
        }
        f64::INFINITY
    };
    let cells = 240;
    let angle = |k: usize| std::f64::consts::TAU * k as f64 / cells as f64;
    let costs: Vec<f64> = (0..cells).map(|k| entry_cost(angle(k))).collect();
    let k = (0..cells)
        .min_by(|&i, &j| costs[i].total_cmp(&costs[j]))
        .unwrap();
    let (mut lo, mut hi) = (angle(k) - angle(1), angle(k) + angle(1));
    for _ in 0..40 {
        let (m1, m2) = (lo + (hi - lo) / 3.0, hi - (hi - lo) / 3.0);
        if entry_cost(m1) < entry_cost(m2) {
            hi = m2
        } else {
            lo = m1
        }
    }
    costs[k].min(entry_cost(0.5 * (lo + hi)))
}

/// The duality of the module docs against the primal problem: the
/// minimum of `KL(nu || p)` over the simplex, with failure decided by the
/// REM itself (route A, along rays) or by the rate `I_nu` (route B, on a
/// zoomed grid), at several loads and inverse temperatures. Weak duality
/// puts the primal above the dual; the gap must close to the brute
/// force's resolution.
#[test]
fn kl_duality_matches_brute_force_on_the_simplex() {
    let e = three_atom_law();
    let law = e.law();
    for lambda in [0.6, 1.5] {
        let a1 = alpha_1(&e, lambda).unwrap();
        for fraction in [0.3, 0.6, 0.9] {
            let alpha = fraction * a1;
            let dual = rate_of(&e, lambda, alpha).unwrap();
            let route_a = brute_force_route_a(law, lambda, alpha);
            let route_b = brute_force_minimum(|nu| {
                Conditional {
                    law,
                    nu: nu.to_vec(),
                }
                .single_pattern_cost(alpha)
            });
            let what = format!("lambda {lambda}, alpha {alpha}");
            assert!(
                route_a >= dual.self_overlap - 1e-9,
                "{what}: A {route_a} {dual:?}"
            );
            assert!(
                route_a - dual.self_overlap < 1e-7,
                "{what}: A {route_a} {dual:?}"
            );
            assert!(
                route_b >= dual.single_pattern - 1e-9,
                "{what}: B {route_b} {dual:?}"
            );
            assert!(
                route_b - dual.single_pattern < 1e-5,
                "{what}: B {route_b} {dual:?}"
            );
        }
    }
}

/// The explicit loads `sup Psi` solve `R(alpha) = alpha` for the route
/// that sets `alpha_c`: two different optimisations of the same dual.
#[test]
fn bound_solves_rate_equals_load() {
    let e = three_atom_law();
    let uniform = Iid::new("uniform", Family::Uniform {}).unwrap();
    for (ensemble, lambda) in [(&e, 0.6), (&e, 3.0), (&uniform, 1.0), (&uniform, 4.0)] {
        let bound = alpha_c_lower(ensemble, lambda).unwrap();
        let rate = rate_of(ensemble, lambda, bound.alpha_c_lower).unwrap();
        let binding = match bound.route {
            FailureRoute::SelfOverlap => rate.self_overlap,
            FailureRoute::SinglePattern => rate.single_pattern,
            FailureRoute::Typical => panic!("{lambda}: expected an atypical route"),
        };
        assert!(
            (binding - bound.alpha_c_lower).abs() < 1e-8,
            "{lambda}: {binding} vs {bound:?}"
        );
        assert!(rate.total() >= bound.alpha_c_lower - 1e-8);
    }
}

/// A continuous law as the limit of discrete ones: the uniform law cut
/// into `k` equal-probability cells, each an atom at its midpoint, and
/// solved exactly on the simplex. `alpha_1` and `alpha_c` converge to the
/// quadrature result, the error shrinking at least 3-fold per doubling
/// (it is `O(1 / k^2)`).
#[test]
fn discretised_uniform_converges_to_quadrature() {
    let continuous = Iid::new("uniform", Family::Uniform {}).unwrap();
    let discretised = |k: usize| {
        let values = (0..k).map(|i| (i as f64 + 0.5) / k as f64 - 0.5).collect();
        Iid::new(
            "cells",
            Family::Discrete {
                values,
                probabilities: vec![1.0 / k as f64; k],
            },
        )
        .unwrap()
    };
    // Route A sets alpha_c at lambda = 0.5, route B at 4.
    for lambda in [0.5, 4.0] {
        let exact_1 = alpha_1(&continuous, lambda).unwrap();
        let exact_c = alpha_c_lower(&continuous, lambda).unwrap().alpha_c_lower;
        let mut previous = (f64::INFINITY, f64::INFINITY);
        for k in [8, 16, 32, 64] {
            let d = discretised(k);
            let err_1 = (alpha_1(&d, lambda).unwrap() - exact_1).abs();
            let err_c = (alpha_c_lower(&d, lambda).unwrap().alpha_c_lower - exact_c).abs();
            assert!(
                err_1 < previous.0 / 3.0 && err_c < previous.1 / 3.0,
                "lambda {lambda}, k {k}: {err_1} {err_c} after {previous:?}"
            );
            previous = (err_1, err_c);
        }
        assert!(previous.1 < 1e-4, "lambda {lambda}: {previous:?}");
    }
}

/// `alpha_c` never decreases with `lambda` (a larger `lambda` only widens
/// the range of `t` in route A and raises `alpha_1`), up to `lambda = 1e7`,
/// for laws whose `h_t` diverges as `t -> inf` (uniform, an asymmetric
/// three-atom law) and one where it does not (ternary).
#[test]
fn bound_never_decreases_with_lambda() {
    let laws = [
        Family::Uniform {},
        Family::Discrete {
            values: vec![-1.0, 0.0, 3.0],
            probabilities: vec![0.5, 0.25, 0.25],
        },
        Family::Ternary {
            zero_probability: 0.5,
        },
    ];
    for family in laws {
        let e = Iid::new("law", family.clone()).unwrap();
        let mut previous = 0.0;
        for lambda in [0.01, 0.3, 3.0, 1e2, 1e4, 1e5, 1e7] {
            let bound = alpha_c_lower(&e, lambda).unwrap().alpha_c_lower;
            assert!(
                bound >= previous - 1e-12,
                "{family:?} at {lambda}: {bound} < {previous}"
            );
            previous = bound;
        }
        assert!(previous > 0.1, "{family:?}: {previous}");
    }
}

/// The per-law table of route A gives the direct scan of each lambda's
/// range (grid and Brent refinement, no table), to rounding: for a
/// continuous law with a fixed rule (bimodal mixture), one without
/// (uniform) and a discrete one, from `lambda < e^-6` (below the table)
/// to beyond `e^9` (above it).
#[test]
fn route_a_table_equals_the_direct_scan() {
    let laws = [
        Family::GaussianMixture {
            weights: vec![0.5, 0.5],
            means: vec![-1.0, 1.0],
            sds: vec![0.3, 0.3],
        },
        Family::Uniform {},
        Family::Discrete {
            values: vec![-1.0, 0.0, 3.0],
            probabilities: vec![0.5, 0.25, 0.25],
        },
    ];
    for family in laws {
        let law = EntryLaw::new(family.clone()).unwrap();
        for lambda in [1e-3, 0.05, 0.3, 1.0, 2.7, 20.0, 1e5] {
            let direct = route_a(&law, lambda, Objective::Load).unwrap();
            let tabled = route_a_load(&law, lambda).unwrap();
            assert!(
                (direct - tabled).abs() < 1e-12 * direct.abs().max(1.0),
                "{family:?} at {lambda}: {tabled} vs {direct}"
            );
        }
    }
}

/// Gaussian entries: `h_t(a) = -c a^2` with `c = t - t^2 / 2`, so
/// `Psi = ln(1 + 2 c theta) / (2 (1 + theta))`, maximised here by
/// bisection on its derivative, and `G = 0` for `t >= 2` (where
/// `E h_t >= 0` and no tilt helps). `best_over_theta` goes through the
/// fixed rule, its adaptive fallback and the `E h_t >= 0` shortcut.
#[test]
fn gaussian_route_a_load_matches_closed_form() {
    let law = EntryLaw::new(Family::Gaussian {}).unwrap();
    for t in [1e-4, 0.05, 0.5, 1.0, 1.9, 2.0, 3.0, 50.0] {
        let c = t - t * t / 2.0;
        let expected = if c <= 0.0 {
            0.0
        } else {
            let psi = |theta: f64| (2.0 * c * theta).ln_1p() / (2.0 * (1.0 + theta));
            let slope = |theta: f64| {
                2.0 * c / ((1.0 + 2.0 * c * theta) * 2.0 * (1.0 + theta))
                    - psi(theta) / (1.0 + theta)
            };
            let (mut lo, mut hi) = (0.0, 1e12);
            for _ in 0..200 {
                let mid = 0.5 * (lo + hi);
                if slope(mid) > 0.0 {
                    lo = mid
                } else {
                    hi = mid
                }
            }
            psi(lo)
        };
        let got = best_over_theta(&law, t, W_MAX, Objective::Load).unwrap();
        assert!(
            (got - expected).abs() < 1e-12,
            "t = {t}: {got} vs {expected}"
        );
    }
}

/// The `theta -> inf` limits of the two objectives, from their values:
/// the load `-ln E e^{theta h} / (1 + theta)` tends to `-top`; the rate
/// `-theta alpha - ln E e^{theta h}`, with `ln E e^{theta h} = theta top +
/// ln mass + o(1)`, tends to `-theta (alpha + top) - ln mass`: `+inf`
/// below `top = -alpha`, `-ln mass` at it, `-inf` above.
#[test]
fn objective_limits_at_infinite_tilt() {
    assert_eq!(Objective::Load.limit(2.0, 0.3), -2.0);
    let rate = Objective::Rate(1.0);
    assert_eq!(rate.limit(-1.5, 0.3), f64::INFINITY);
    assert_eq!(rate.limit(-1.0, 0.3), -(0.3f64.ln()));
    assert_eq!(rate.limit(-0.5, 0.3), f64::NEG_INFINITY);
}

/// `prepare` fills both per-law caches, route B's load and route A's
/// profile, with the values `bound` then uses: afterwards neither is
/// computed again.
#[test]
fn prepare_fills_the_per_law_caches() {
    let law = EntryLaw::new(Family::Ternary {
        zero_probability: 0.5,
    })
    .unwrap();
    prepare(&law).unwrap();
    let cached = law.single_pattern_load(|| panic!("route B computed again"));
    let profile = law.load_profile(|| panic!("route A's profile computed again"));
    assert!(cached.is_ok() && profile.is_ok());
    let fresh = EntryLaw::new(Family::Ternary {
        zero_probability: 0.5,
    })
    .unwrap();
    assert_eq!(cached, bound(&fresh, 1.0).map(|b| b.single_pattern));
}

/// A made-up profile on the real grid: `G` rises over the first five
/// points, falls, and ends on a plateau.
fn made_up_profile() -> LoadProfile {
    let values = [0.0, 1.0, 2.0, 3.0, 4.0, 3.0, 2.0, 1.0, 0.5, 0.5];
    let grid = values
        .iter()
        .enumerate()
        .map(|(k, &g)| (PROFILE_LOG_T_MIN + LOG_T_STEP * k as f64, g))
        .collect();
    LoadProfile {
        grid,
        peaks: Vec::new(),
    }
}

/// `at_grid_point` finds a grid value only at a grid point itself.
#[test]
fn profile_values_only_at_grid_points() {
    let profile = made_up_profile();
    for (k, &(x, g)) in profile.grid.iter().enumerate() {
        assert_eq!(profile.at_grid_point(x), Some(g), "point {k}");
        assert_eq!(
            profile.at_grid_point(x + LOG_T_STEP / 3.0),
            None,
            "point {k}"
        );
    }
    for outside in [-1.0, -0.4, 10.0] {
        let x = PROFILE_LOG_T_MIN + LOG_T_STEP * outside;
        assert_eq!(profile.at_grid_point(x), None, "{outside}");
    }
}

/// `monotone_towards` from a point inside cell `c` (between grid points
/// `c` and `c + 1`): inward (+1) it compares the next two points above the
/// cell's lower end, `c + 1` and `c + 2`; outward (-1) the two below its
/// upper end, `c` and `c - 1`. Strict growth only: a plateau or a fall,
/// or a point missing at the edge of the grid, does not count.
#[test]
fn profile_growth_towards_the_inside() {
    let profile = made_up_profile();
    let inside = |cell: f64| PROFILE_LOG_T_MIN + LOG_T_STEP * (cell + 0.4);
    let cases = [
        (0.0, 1, true),   // 1 -> 2
        (1.0, 1, true),   // 2 -> 3
        (2.0, 1, true),   // 3 -> 4 (from cell 3 it would fall)
        (3.0, 1, false),  // 4 -> 3
        (6.0, 1, false),  // 1 -> 0.5
        (7.0, 1, false),  // 0.5 -> 0.5, a plateau
        (8.0, 1, false),  // no point 10
        (6.0, -1, true),  // 2 -> 3
        (5.0, -1, true),  // 3 -> 4 (from cell 4 it would fall)
        (4.0, -1, false), // 4 -> 3
        (1.0, -1, false), // 1 -> 0
        (0.0, -1, false), // no point -1
        (-1.0, 1, false), // below the grid
        (-1.0, -1, false),
        (-3.0, 1, false),
    ];
    for (cell, inward, grows) in cases {
        assert_eq!(
            profile.monotone_towards(inside(cell), inward),
            grows,
            "cell {cell}, inward {inward}"
        );
    }
}

/// A local maximum is not below either neighbour and above at least one:
/// the first point of a plateau counts, its inside does not, and nor
/// does `-inf` among `-inf`s (where no tilt gives a finite load).
#[test]
fn local_maxima_to_refine() {
    assert!(is_local_maximum(1.0, 2.0, 1.5));
    assert!(is_local_maximum(1.0, 2.0, 2.0) && is_local_maximum(2.0, 2.0, 1.0));
    assert!(!is_local_maximum(2.0, 2.0, 2.0));
    assert!(!is_local_maximum(1.0, 2.0, 3.0) && !is_local_maximum(3.0, 2.0, 1.0));
    let minus_inf = f64::NEG_INFINITY;
    assert!(!is_local_maximum(minus_inf, minus_inf, minus_inf));
    assert!(is_local_maximum(minus_inf, 0.0, minus_inf));
    assert!(!is_local_maximum(f64::NAN, 1.0, 0.0));
}

/// The slope of each objective at `theta = 0` against a central
/// difference of its value, for `h` taking -1 and 0.4 with equal
/// probability (`ln E e^{theta h}` in closed form, `E h = -0.3`).
#[test]
fn objective_slopes_at_zero_match_their_values() {
    let ln_mean = |theta: f64| (0.5 * (-theta).exp() + 0.5 * (0.4 * theta).exp()).ln();
    let mean_h = -0.3;
    let step = 1e-6;
    for objective in [Objective::Load, Objective::Rate(0.2), Objective::Rate(1.5)] {
        let value = |theta: f64| objective.value(theta, ln_mean(theta));
        let difference = (value(step) - value(-step)) / (2.0 * step);
        let slope = objective.slope_at_zero(mean_h);
        assert!(
            (slope - difference).abs() < 1e-8,
            "{objective:?}: {slope} vs {difference}"
        );
    }
}

/// Route B's limit `t -> inf` where the scan up to `t = e^9` has not
/// reached it: an atom of small modulus `x = 0.02` next to 0 has
/// `h_t(-x) - ln P(-x) ~ e^{-t x^2} P(0) / P(-x)`, still 4% of the way at
/// `t x^2 = 3.2`. Each `h_t(a)` falls to `ln P_b(a b = max)`: `ln p` for
/// `-x`, 0 for the atom 0 (every `b` ties), `ln r` for `y`. The load is
/// then `sup_{theta in [0, 1]} -ln(p^{1+theta} + q + r^{1+theta}) /
/// (1 + theta)`, found here on a grid of 10^5 values of `theta`, and
/// route B must reach it (the scan alone stays below it).
#[test]
fn route_b_reaches_its_limit_at_infinite_t() {
    // Standardised already: p x = r y and p x^2 + r y^2 = 1 give
    // p = 1 / (x (x + y)).
    let (x, y) = (0.02, 60.0);
    let p = 1.0 / (x * (x + y));
    let r = p * x / y;
    let law = EntryLaw::new(Family::Discrete {
        values: vec![-x, 0.0, y],
        probabilities: vec![p, 1.0 - p - r, r],
    })
    .unwrap();
    let atoms = law.atoms().unwrap();
    let prob = |v: f64| {
        let atom = atoms
            .iter()
            .find(|a| (a.value - v).abs() < 1e-9 * y)
            .unwrap();
        atom.probability
    };
    let (p, q, r) = (prob(-x), prob(0.0), prob(y));
    let load = |theta: f64| -(p.powf(1.0 + theta) + q + r.powf(1.0 + theta)).ln() / (1.0 + theta);
    let steps = 100_000;
    let limit = (0..=steps)
        .map(|k| load(k as f64 / steps as f64))
        .fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = ROUTE_B_LOG_T;
    let best_theta = |t: f64| best_over_theta(&law, t, W_ROUTE_B, Objective::Load);
    let scan = maximise_over_log_t(&best_theta, lo, hi).unwrap();
    assert!(scan < limit - 1e-4, "the scan alone: {scan} vs {limit}");
    let got = single_pattern_load(&law).unwrap();
    assert!((got - limit).abs() < 1e-9, "{got} vs {limit}");
}
