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
    let p = retrieval_probability(PatternLaw::Gaussian, 20, alpha_1(g.as_ref(), 0.5).unwrap(), 0.5, Start::Pattern);
    assert!(p < 0.5 - TOLERANCE, "P(retrieved) = {p} at alpha_1");
}

#[test]
fn gaussian_frozen_first_step_crosses_at_the_extreme_value() {
    let g = by_name("gaussian").unwrap();
    check_typical(g.as_ref(), 2.0, 16);
    let p = retrieval_probability(PatternLaw::Gaussian, 16, alpha_1(g.as_ref(), 2.0).unwrap(), 2.0, Start::Pattern);
    assert!(p > 0.5 + TOLERANCE, "P(retrieved) = {p} at alpha_1");
}

#[test]
fn spherical_first_step_crosses_at_the_finite_n_cgf() {
    let s = by_name("spherical").unwrap();
    check_typical(s.as_ref(), 1.0, 12);
}

#[test]
fn skewed_law_first_step_crosses_at_the_cornish_fisher_median() {
    let sparse = law_file(Family::SparseBinary { density: 0.1 });
    check_typical(&sparse, 1.0, 64);
}

#[test]
fn frozen_basin_edge_is_the_extreme_value() {
    let g = by_name("spherical").unwrap();
    let (alpha, lambda, n) = (0.2, 2.0, 48);
    let rho = rho_min_n(g.as_ref(), alpha, lambda, n as f64).unwrap();
    let p = retrieval_probability(PatternLaw::Spherical, n, alpha, lambda, Start::Overlap(rho));
    assert!((p - 0.5).abs() < TOLERANCE, "P(retrieved) = {p} at rho = {rho}");
}
