//! End-to-end checks of the simulation: determinism under threading,
//! retrieval on either side of alpha_1, and agreement in law between the
//! full dynamics' first step and the exact first-step sampler.

use damcap_theory::ensemble::PatternLaw;
use damcap_theory::law::{EntryLaw, Family};
use damcap_validation::dynamics::DynamicsParams;
use damcap_validation::estimators::wilson_interval;
use damcap_validation::first_step::FirstStep;
use damcap_validation::patterns::DEFAULT_MEMORY_LIMIT;
use damcap_validation::seeds::SeedKey;
use damcap_validation::{run_first_step_trials, run_trials, Setup, Start, Trial, ValidationError};
use std::sync::Arc;

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

fn retrieved_fraction(trials: &[Trial]) -> f64 {
    trials.iter().filter(|t| t.retrieved).count() as f64 / trials.len() as f64
}

/// One and two worker threads give bit-identical trials, for the full
/// dynamics, for the pruned dynamics (lambda = 5, where most steps after
/// the first sum over a candidate set), for it on packed binary patterns
/// and for the first-step sampler, exact (P = 121) and top-K (gaussian
/// P = e^51, spherical P = e^58).
#[test]
fn results_do_not_depend_on_thread_count() {
    let setup = Setup {
        law: PatternLaw::Gaussian,
        n: 12,
        alpha: 0.4,
        lambda: 1.0,
        start: Start::Overlap(0.8),
    };
    let frozen = Setup {
        n: 16,
        lambda: 5.0,
        start: Start::Overlap(0.6),
        ..setup.clone()
    };
    let huge = |law, n, alpha, lambda| Setup {
        law,
        n,
        alpha,
        lambda,
        start: Start::Pattern,
    };
    let top_k = [
        huge(PatternLaw::Gaussian, 128, 0.4, 2.0),
        huge(PatternLaw::Spherical, 96, 0.6, 1.0),
    ];
    // Binary patterns run on packed storage.
    let packed = Setup {
        law: PatternLaw::Binary,
        ..frozen.clone()
    };
    let key = SeedKey::new(42, &[0, 12, 3]);
    let params = DynamicsParams::default();
    let run = |threads| {
        pool(threads).install(|| {
            (
                run_trials(&setup, &params.full(), DEFAULT_MEMORY_LIMIT, &key, 60).unwrap(),
                run_first_step_trials(&setup, &key, 200).unwrap(),
                run_trials(&frozen, &params, DEFAULT_MEMORY_LIMIT, &key, 60).unwrap(),
                top_k
                    .iter()
                    .map(|s| run_first_step_trials(s, &key, 100).unwrap())
                    .collect::<Vec<_>>(),
                run_trials(&packed, &params, DEFAULT_MEMORY_LIMIT, &key, 60).unwrap(),
            )
        })
    };
    let (one, two) = (run(1), run(2));
    assert_eq!(one, two);
    assert!(one
        .0
        .iter()
        .enumerate()
        .all(|(i, t)| t.trial == i as u64 && t.seed == key.trial(i as u64)));
}

/// Spherical patterns, lambda = 0.5 (alpha_1 = 0.387), N = 16: retrieval
/// from xi^1 in more than 90% of 100 trials at alpha = 0.15 and in fewer
/// than 10% at alpha = 0.6. Gaussian patterns, lambda = 0.5
/// (alpha_1 = 0.375), N = 20: the same at alpha = 0.05 and 0.5. The
/// gaussian low point is far below alpha_1 because at this N the multi-step
/// dynamics often drifts to a correlated pattern of larger norm (about 3%
/// failures at alpha = 0.05, 20% at 0.15), an effect that fades with N.
#[test]
fn retrieval_switches_across_alpha_1() {
    let cases = [
        (PatternLaw::Spherical, 16, 0.15, 0.6),
        (PatternLaw::Gaussian, 20, 0.05, 0.5),
    ];
    for (i, (law, n, below, above)) in cases.into_iter().enumerate() {
        let run = |alpha: f64, index: u64| {
            let setup = Setup {
                law: law.clone(),
                n,
                alpha,
                lambda: 0.5,
                start: Start::Pattern,
            };
            let key = SeedKey::new(7, &[i as u64, index]);
            run_trials(
                &setup,
                &DynamicsParams::default(),
                DEFAULT_MEMORY_LIMIT,
                &key,
                100,
            )
            .unwrap()
        };
        let (low, high) = (run(below, 0), run(above, 1));
        assert!(
            retrieved_fraction(&low) > 0.9,
            "{law:?} alpha={below}: {}",
            retrieved_fraction(&low)
        );
        assert!(
            retrieved_fraction(&high) < 0.1,
            "{law:?} alpha={above}: {}",
            retrieved_fraction(&high)
        );
        // Runs end at a fixed point, or stop once proved lost (mostly above
        // the crossing, where alpha > lambda / 2 makes the proof available).
        let ended = |t: &Trial| t.converged || (t.certified_failure && !t.retrieved);
        assert!(low.iter().chain(&high).all(ended));
        assert!(high.iter().filter(|t| t.certified_failure).count() >= 50);
    }
}

/// The ensemble of a law file's family.
fn law(family: Family) -> PatternLaw {
    PatternLaw::Iid(Arc::new(EntryLaw::new(family).unwrap()))
}

/// Ternary entries, half of them zero.
fn ternary() -> PatternLaw {
    law(Family::Ternary {
        zero_probability: 0.5,
    })
}

/// Two-sample Kolmogorov-Smirnov distance between two samples.
fn ks_distance(a: &[f64], b: &[f64]) -> f64 {
    let sorted = |v: &[f64]| {
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        s
    };
    let (a, b) = (sorted(a), sorted(b));
    let cdf = |s: &[f64], x: f64| s.partition_point(|&v| v <= x) as f64 / s.len() as f64;
    a.iter()
        .chain(&b)
        .map(|&x| (cdf(&a, x) - cdf(&b, x)).abs())
        .fold(0.0, f64::max)
}

/// Two-proportion z statistic for the fraction of samples where `event`
/// holds.
fn two_proportion_z(a: &[FirstStep], b: &[FirstStep], event: fn(&FirstStep) -> bool) -> f64 {
    let count = |s: &[FirstStep]| s.iter().filter(|f| event(f)).count() as f64;
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (pa, pb) = (count(a) / na, count(b) / nb);
    let pooled = (count(a) + count(b)) / (na + nb);
    let se = (pooled * (1.0 - pooled) * (1.0 / na + 1.0 / nb)).sqrt();
    if se == 0.0 {
        0.0
    } else {
        (pa - pb) / se
    }
}

/// For every ensemble and both starts (law files: ternary and sparse
/// binary through the lattice sampler, uniform through the streamed one),
/// at N = 12 and a load where xi^1 wins the first step about half the
/// time (lambda = 1), 2000 first steps
/// of the real dynamics and 2000 draws of the exact sampler agree in law:
/// the fractions with `w1 > 1/2` and with xi^1 strictly largest pass a
/// two-proportion z-test (|z| < 4), and the distributions of w1 are within
/// the Kolmogorov-Smirnov distance of level 1e-4 (c = 2.23,
/// D < c sqrt(2/2000) = 0.0705).
#[test]
fn first_step_sampler_matches_dynamics_in_law() {
    let cases = [
        (PatternLaw::Gaussian, Start::Pattern, 0.5),
        (PatternLaw::Gaussian, Start::Overlap(0.7), 0.3),
        (PatternLaw::Spherical, Start::Pattern, 0.62),
        (PatternLaw::Spherical, Start::Overlap(0.7), 0.35),
        (PatternLaw::Binary, Start::Pattern, 0.58),
        (PatternLaw::Binary, Start::Overlap(0.7), 0.3),
        (ternary(), Start::Pattern, 0.45),
        (ternary(), Start::Overlap(0.7), 0.25),
        (
            law(Family::SparseBinary { density: 0.2 }),
            Start::Pattern,
            0.3,
        ),
        (law(Family::Uniform {}), Start::Overlap(0.8), 0.3),
    ];
    let trials = 2000;
    let first_only = DynamicsParams {
        max_steps: 1,
        ..DynamicsParams::default()
    };
    for (i, (law, start, alpha)) in cases.into_iter().enumerate() {
        let setup = Setup {
            law: law.clone(),
            n: 12,
            alpha,
            lambda: 1.0,
            start,
        };
        let dynamics: Vec<FirstStep> = run_trials(
            &setup,
            &first_only,
            DEFAULT_MEMORY_LIMIT,
            &SeedKey::new(1, &[i as u64]),
            trials,
        )
        .unwrap()
        .iter()
        .map(Trial::first_step)
        .collect();
        let sampled = run_first_step_trials(&setup, &SeedKey::new(2, &[i as u64]), trials).unwrap();
        let wins = wilson_interval(
            sampled.iter().filter(|f| f.xi1_wins()).count() as u64,
            trials,
            0.95,
        )
        .unwrap();
        assert!(
            wins.lower > 0.15 && wins.upper < 0.85,
            "{law:?} {start:?}: not near the crossing, {wins:?}"
        );
        let z_wins = two_proportion_z(&dynamics, &sampled, FirstStep::xi1_wins);
        let z_largest = two_proportion_z(&dynamics, &sampled, |f| f.xi1_largest);
        let w1 = |s: &[FirstStep]| s.iter().map(|f| f.w1).collect::<Vec<_>>();
        let ks = ks_distance(&w1(&dynamics), &w1(&sampled));
        assert!(
            z_wins.abs() < 4.0 && z_largest.abs() < 4.0 && ks < 0.0705,
            "{law:?} {start:?}: z(wins) = {z_wins}, z(largest) = {z_largest}, KS = {ks}"
        );
    }
}

/// Inverse temperature 1e3 (scores ~ 1e4): every trial is finite.
#[test]
fn huge_lambda_gives_no_nan() {
    for law in [
        PatternLaw::Gaussian,
        PatternLaw::Spherical,
        PatternLaw::Binary,
        ternary(),
    ] {
        let setup = Setup {
            law: law.clone(),
            n: 16,
            alpha: 0.4,
            lambda: 1e3,
            start: Start::Overlap(0.5),
        };
        let key = SeedKey::new(3, &[]);
        for t in run_trials(
            &setup,
            &DynamicsParams::default(),
            DEFAULT_MEMORY_LIMIT,
            &key,
            20,
        )
        .unwrap()
        {
            assert!(
                t.w1_first.is_finite() && t.final_overlap.is_finite(),
                "{law:?}: {t:?}"
            );
        }
        for f in run_first_step_trials(&setup, &key, 20).unwrap() {
            assert!(f.w1.is_finite(), "{law:?}: {f:?}");
        }
    }
}

/// User parameters out of range are errors with a message, never panics;
/// the memory guard counts one trial's patterns and buffers per worker
/// thread.
#[test]
fn bad_parameters_are_errors() {
    let good = Setup {
        law: PatternLaw::Binary,
        n: 10,
        alpha: 0.3,
        lambda: 1.0,
        start: Start::Pattern,
    };
    let params = DynamicsParams::default();
    let key = SeedKey::new(0, &[]);
    for bad in [
        Setup {
            n: 1,
            ..good.clone()
        },
        Setup {
            alpha: -0.1,
            ..good.clone()
        },
        Setup {
            alpha: f64::NAN,
            ..good.clone()
        },
        Setup {
            lambda: -1.0,
            ..good.clone()
        },
        Setup {
            start: Start::Overlap(1.2),
            ..good.clone()
        },
        Setup {
            alpha: 10.0,
            ..good.clone()
        },
    ] {
        let err = run_trials(&bad, &params, DEFAULT_MEMORY_LIMIT, &key, 1).unwrap_err();
        // "invalid parameter: ..." or the theory's "lambda = -1 is invalid: ...".
        assert!(err.to_string().contains("invalid"), "{bad:?}: {err}");
        assert!(run_first_step_trials(&bad, &key, 1).is_err());
    }
    // 20 binary patterns of 10 entries packed in 2 bytes each (40 bytes),
    // and 1 byte per pattern of pruning candidates: 60 bytes per trial.
    let err = pool(2)
        .install(|| run_trials(&good, &params, 100, &key, 5))
        .unwrap_err();
    assert_eq!(
        err,
        ValidationError::TooLarge {
            bytes: 120,
            limit: 100
        }
    );
    assert!(pool(1)
        .install(|| run_trials(&good, &params, 100, &key, 5))
        .is_ok());
}
