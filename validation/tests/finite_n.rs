//! The finite-N first-step predictions of the theory (docs/theory.md §9)
//! against the exact first-step sampler, an independent route: at the
//! predicted crossing the sampled retrieval probability must be 1/2.

use damcap_theory::ensemble::{Ensemble, PatternLaw};
use damcap_theory::finite_n::{alpha_1_first_step_n, rho_min_n};
use damcap_theory::law::Family;
use damcap_theory::{alpha_1, by_name, Iid};
use damcap_validation::seeds::SeedKey;
use damcap_validation::{run_first_step_trials, Setup, Start};

/// Trials per checked point: the sampled probability has a standard
/// error of at most `0.5 / sqrt(4000) = 0.0079`.
const TRIALS: u64 = 4000;

/// Accepted `|p - 1/2|`: 3.5 standard errors (a false alarm in about 1 of
/// 2000 runs per point; the seeds are fixed, so a run is reproducible).
const TOLERANCE: f64 = 3.5 * 0.5 / 63.245_553_203_367_59;

/// Sampled retrieval probability of one step from `start` at `(n, alpha, lambda)`.
fn retrieval_probability(law: PatternLaw, n: usize, alpha: f64, lambda: f64, start: Start) -> f64 {
    let setup = Setup {
        law,
        n,
        alpha,
        lambda,
        start,
    };
    let key = SeedKey::new(20261125, &[n as u64, alpha.to_bits(), lambda.to_bits()]);
    let draws = run_first_step_trials(&setup, &key, TRIALS).unwrap();
    draws.iter().filter(|d| d.xi1_wins()).count() as f64 / TRIALS as f64
}

fn law_file(family: Family) -> Iid {
    Iid::new("law", family).unwrap()
}

/// Checks that the sampled probability at the predicted crossing is 1/2,
/// and that at the N -> infinity value it is not (so the test can tell the
/// finite-N prediction from the limit), when the two differ by enough.
fn check_typical(e: &dyn Ensemble, lambda: f64, n: usize) {
    let predicted = alpha_1_first_step_n(e, lambda, n as f64).unwrap();
    let p = retrieval_probability(e.pattern_law(), n, predicted, lambda, Start::Pattern);
    println!(
        "{} lambda = {lambda}, N = {n}: P(retrieved) = {p} at {predicted}",
        e.name()
    );
    assert!(
        (p - 0.5).abs() < TOLERANCE,
        "{} lambda = {lambda}, N = {n}: P(retrieved) = {p} at the predicted crossing {predicted}",
        e.name()
    );
}

#[test]
fn gaussian_paramagnetic_first_step_crosses_at_the_median_norm() {
    let g = by_name("gaussian").unwrap();
    for n in [20, 28] {
        check_typical(g.as_ref(), 0.5, n);
    }
    // The N -> infinity value is visibly off at N = 20: the median norm matters.
    let p = retrieval_probability(
        PatternLaw::Gaussian,
        20,
        alpha_1(g.as_ref(), 0.5).unwrap(),
        0.5,
        Start::Pattern,
    );
    assert!(p < 0.5 - TOLERANCE, "P(retrieved) = {p} at alpha_1");
}

/// Gaussian patterns at `lambda = 2` (frozen), `N = 24`. At `N = 16` the
/// prediction (0.5669) lies about 0.005 below the sampled crossing (about
/// 0.572, from 4000 trials at each of 0.564, 0.567, 0.575 and 0.585): the
/// orders it neglects move the probability there by about 0.015, half the
/// tolerance, and with this test's seeds the probability at the prediction
/// was 0.5315, outside it. The check runs at `N = 24`, where the sampled
/// probability at the prediction is 0.51.
#[test]
fn gaussian_frozen_first_step_crosses_at_the_extreme_value() {
    let g = by_name("gaussian").unwrap();
    check_typical(g.as_ref(), 2.0, 24);
    let p = retrieval_probability(
        PatternLaw::Gaussian,
        24,
        alpha_1(g.as_ref(), 2.0).unwrap(),
        2.0,
        Start::Pattern,
    );
    assert!(p > 0.5 + TOLERANCE, "P(retrieved) = {p} at alpha_1");
}

/// Spherical patterns at `lambda = 1`, `N = 12`: the prediction neglects
/// the typical deficit of `ln Z` below `ln E Z`, which raises the crossing
/// (docs/theory.md §9). The sampled probability at the prediction is
/// therefore above 1/2, and the deficit is small: the finite-N cgf alone
/// brings the crossing to within 0.06 of probability (about 0.02 in alpha)
/// where `alpha_1` is 0.13 of probability away.
#[test]
fn spherical_first_step_misses_only_the_ln_z_deficit() {
    let s = by_name("spherical").unwrap();
    let n = 12;
    let predicted = alpha_1_first_step_n(s.as_ref(), 1.0, n as f64).unwrap();
    let p = retrieval_probability(PatternLaw::Spherical, n, predicted, 1.0, Start::Pattern);
    println!("spherical lambda = 1, N = {n}: P(retrieved) = {p} at {predicted}");
    assert!(p > 0.5 + TOLERANCE && p < 0.56, "P(retrieved) = {p}");
    let limit = alpha_1(s.as_ref(), 1.0).unwrap();
    let p_limit = retrieval_probability(PatternLaw::Spherical, n, limit, 1.0, Start::Pattern);
    println!("spherical lambda = 1, N = {n}: P(retrieved) = {p_limit} at alpha_1 = {limit}");
    assert!(
        p_limit < 0.5 - TOLERANCE,
        "P(retrieved) = {p_limit} at alpha_1"
    );
}

/// Sparse-binary entries: the margin `sum_i g(a_i)` lives on a lattice,
/// `N g_0 + k (g_1 - g_0)`, so the retrieval probability is a staircase in
/// `alpha` with steps `(g_1 - g_0)/N` wide (0.035 at `N = 64`), and a
/// crossing is defined by the curve through the steps' midpoints (which
/// the logistic fit of a study follows). The Cornish–Fisher median is that
/// crossing: sampled at the two midpoints around it, the linear
/// interpolation must cross 1/2 within 3.5 standard errors of it.
#[test]
fn skewed_law_first_step_crosses_at_the_cornish_fisher_median() {
    let sparse = law_file(Family::SparseBinary { density: 0.1 });
    let law = sparse.entry_law().unwrap();
    let (lambda, n) = (1.0, 64);
    let atoms = law.atoms().unwrap();
    let g = |a: f64| lambda * a * a - law.ln_mgf(lambda * a).0;
    let (g_low, g_high) = (g(atoms[0].value), g(atoms[1].value));
    let step = (g_high - g_low) / n as f64;
    let predicted = alpha_1_first_step_n(&sparse, lambda, n as f64).unwrap();
    // Midpoint of step k: the margin per entry between k and k + 1 actives.
    let k = ((predicted - g_low) / step - 0.5).floor();
    let mid = |k: f64| g_low + (k + 0.5) * step;
    let probability =
        |alpha: f64| retrieval_probability(sparse.pattern_law(), n, alpha, lambda, Start::Pattern);
    let (below, above) = (probability(mid(k)), probability(mid(k + 1.0)));
    assert!(
        below > 0.5 && above < 0.5,
        "no crossing between the steps: {below}, {above}"
    );
    let fall = below - above;
    let crossing = mid(k) + step * (below - 0.5) / fall;
    // Delta method: each proportion has variance p(1 - p)/TRIALS.
    let var = |p: f64| p * (1.0 - p) / TRIALS as f64;
    let weight_below = step * (0.5 - above) / (fall * fall);
    let weight_above = step * (below - 0.5) / (fall * fall);
    let sigma = (weight_below.powi(2) * var(below) + weight_above.powi(2) * var(above)).sqrt();
    println!(
        "sparse binary N = {n}: sampled crossing {crossing} +- {sigma}, predicted {predicted}"
    );
    assert!(
        (crossing - predicted).abs() < 3.5 * sigma,
        "sampled crossing {crossing} +- {sigma}, predicted {predicted}"
    );
}

#[test]
fn frozen_basin_edge_is_the_extreme_value() {
    let g = by_name("spherical").unwrap();
    let (alpha, lambda, n) = (0.2, 2.0, 48);
    let rho = rho_min_n(g.as_ref(), alpha, lambda, n as f64).unwrap();
    let p = retrieval_probability(PatternLaw::Spherical, n, alpha, lambda, Start::Overlap(rho));
    println!(
        "spherical basin alpha = {alpha}, lambda = {lambda}, N = {n}: P(retrieved) = {p} at {rho}"
    );
    assert!(
        (p - 0.5).abs() < TOLERANCE,
        "P(retrieved) = {p} at rho = {rho}"
    );
}

/// Sparse binary basins (f = 0.1, lambda = 1, alpha = 0.1, N = 96): the
/// skewness of the margin per entry, `kappa_3 / (6 kappa_2) = 0.70`
/// (theory's `basin_margin_skew`), moves the edge up by `0.70 / N`. With
/// 64 000 draws a point (standard error 0.002), the sampled probability
/// is 1/2 within 3.5 standard errors at the predicted edge, and below
/// 1/2 by more than that at the edge without the skewness term (measured
/// 0.4985 and 0.4856; at N = 48 and 64 the term overshoots, by +0.014 and
/// +0.007 in probability: the next order falls faster than 1/N).
#[test]
fn skewed_basin_margin_moves_the_edge() {
    let law = law_file(Family::SparseBinary { density: 0.1 });
    let (n, trials) = (96, 64_000);
    let tolerance = 3.5 * 0.5 / (trials as f64).sqrt();
    let rho = rho_min_n(&law, 0.1, 1.0, n as f64).unwrap();
    let probability = |rho: f64| {
        let setup = Setup {
            law: law.pattern_law(),
            n,
            alpha: 0.1,
            lambda: 1.0,
            start: Start::Overlap(rho),
        };
        let draws = run_first_step_trials(&setup, &SeedKey::new(7, &[n as u64]), trials).unwrap();
        draws.iter().filter(|d| d.xi1_wins()).count() as f64 / trials as f64
    };
    let (at_edge, without_skew) = (probability(rho), probability(rho - 0.70 / n as f64));
    assert!((at_edge - 0.5).abs() < tolerance, "{at_edge} at {rho}");
    assert!(without_skew < 0.5 - tolerance, "{without_skew}");
}

/// Ternary patterns (P(0) = 1/2, values ±√2) at lambda = 1: the real
/// several-step dynamics, run as in configs/validate-ternary.toml (50
/// steps; retrieved at overlap 0.9 with `w1 > 1/2`), retrieves with
/// probability 1/2 at the predicted crossing (bulk and one competitor in
/// one map, docs/theory.md §9), within 3.5 standard errors of 1600 trials
/// at N = 16 and 20; at the former prediction, the smaller of the bulk
/// and capture crossings, it retrieves clearly less than 1/2.
#[test]
fn ternary_dynamics_crosses_at_the_joint_prediction() {
    use damcap_theory::capture::alpha_capture_n;
    use damcap_theory::finite_n::{alpha_1_dynamics_n, bulk_dynamics_n};
    use damcap_validation::dynamics::DynamicsParams;
    use damcap_validation::patterns::DEFAULT_MEMORY_LIMIT;
    use damcap_validation::run_trials;
    let ternary = law_file(Family::Ternary {
        zero_probability: 0.5,
    });
    let trials = 1600;
    let tolerance = 3.5 * 0.5 / (trials as f64).sqrt();
    let params = DynamicsParams {
        max_steps: 50,
        ..DynamicsParams::default()
    };
    for n in [16, 20] {
        let nf = n as f64;
        let probability = |alpha: f64| {
            let setup = Setup {
                law: ternary.pattern_law(),
                n,
                alpha,
                lambda: 1.0,
                start: Start::Pattern,
            };
            let key = SeedKey::new(11, &[n as u64, alpha.to_bits()]);
            let runs = run_trials(&setup, &params, DEFAULT_MEMORY_LIMIT, &key, trials).unwrap();
            runs.iter().filter(|t| t.retrieved).count() as f64 / trials as f64
        };
        let predicted = alpha_1_dynamics_n(&ternary, 1.0, nf).unwrap();
        let capture = alpha_capture_n(&ternary, 1.0, n).unwrap().unwrap();
        let former = bulk_dynamics_n(&ternary, 1.0, nf).unwrap().min(capture);
        let (at, at_former) = (probability(predicted), probability(former));
        println!("ternary N = {n}: P = {at} at {predicted}, {at_former} at {former}");
        assert!((at - 0.5).abs() < tolerance, "N = {n}: {at} at {predicted}");
        assert!(
            at_former < 0.5 - tolerance,
            "N = {n}: {at_former} at {former}"
        );
    }
}
