use super::*;

/// Two gaussians of unequal weight, mean and width: a mixture away from
/// special cases.
fn two_gaussians() -> Family {
    Family::GaussianMixture {
        weights: vec![0.3, 0.7],
        means: vec![-2.0, 1.0],
        sds: vec![0.5, 1.5],
    }
}

/// One law of every family, with parameters away from special cases.
fn families() -> Vec<Family> {
    vec![
        Family::Gaussian {},
        Family::Uniform {},
        Family::Laplace {},
        Family::SparseBinary { density: 0.1 },
        Family::Ternary {
            zero_probability: 0.5,
        },
        two_gaussians(),
        // Components 10^5 apart in scale, the narrow one off-centre: each is
        // integrated on its own scale, so neither is missed.
        Family::GaussianMixture {
            weights: vec![0.5, 0.5],
            means: vec![0.3, 0.0],
            sds: vec![0.001, 100.0],
        },
        Family::Discrete {
            values: vec![-1.0, 0.5, 3.0, 0.5],
            probabilities: vec![0.3, 0.2, 0.1, 0.4],
        },
    ]
}

/// Every law is standardised: E a = 0 and E a^2 = 1, by the same sums or
/// quadratures the theory uses.
#[test]
fn standardised_to_mean_0_variance_1() {
    for family in families() {
        let law = EntryLaw::new(family.clone()).unwrap();
        let mean = law.expect(|a| a);
        let second = law.expect(|a| a * a);
        assert!(mean.value.abs() < 1e-12, "{family:?}: mean {mean:?}");
        assert!((second.value - 1.0).abs() < 1e-12, "{family:?}: {second:?}");
        assert!(second.error < 1e-10, "{family:?}: {second:?}");
        let fourth = law.expect(|a| a.powi(4)).value;
        assert!(
            (fourth - law.fourth_moment()).abs() < 1e-10,
            "{family:?}: {fourth}"
        );
    }
}

/// The closed-form log-mgf of each family against `ln E exp(s a)` by the
/// law's own sum or quadrature, and its slope against a finite difference.
/// (Laplace only where `exp(s a)` times its density decays well inside the
/// quadrature range; its mgf diverges at `|s| = sqrt 2`.)
#[test]
fn ln_mgf_matches_expectation() {
    for family in families() {
        let law = EntryLaw::new(family.clone()).unwrap();
        let laplace = family == Family::Laplace {};
        for s in [-1.1f64, -0.3, 0.004, 0.3, 1.0, 1.3] {
            if laplace && s.abs() > 0.5 {
                continue;
            }
            let (value, slope) = law.ln_mgf(s);
            let direct = law.expect(|a| (s * a).exp()).value.ln();
            assert!(
                (value - direct).abs() < 1e-11,
                "{family:?} s={s}: {value} vs {direct}"
            );
            let h = 1e-6;
            let numeric = (law.ln_mgf(s + h).0 - law.ln_mgf(s - h).0) / (2.0 * h);
            assert!(
                (slope - numeric).abs() < 1e-7,
                "{family:?} s={s}: {slope} vs {numeric}"
            );
        }
    }
}

/// `ln E exp(g)` survives exponents far beyond `exp`'s range.
#[test]
fn ln_expect_exp_is_shifted() {
    for family in [
        Family::Uniform {},
        Family::Ternary {
            zero_probability: 0.2,
        },
    ] {
        let law = EntryLaw::new(family).unwrap();
        let small = law.ln_expect_exp(|a| a);
        let big = law.ln_expect_exp(|a| a + 1000.0);
        assert!((big - small - 1000.0).abs() < 1e-9);
    }
}

/// The standardised uniform law's mgf, `sinh(c s) / (c s)` with
/// `c = sqrt 3`: `ln(sinh x / x)` and `coth x - 1/x` (the slope in `s`
/// over `c`) against mpmath at 40 digits, to 2e-15 relative (a few ulps:
/// the table is rounded, the slope divided by `c`), on both sides of
/// the switch at `x = 1` and near 0, where the closed forms cancel; and
/// the closed form itself far out.
#[test]
fn uniform_ln_mgf_against_mpmath() {
    let c = 3f64.sqrt();
    // (x, ln(sinh x / x), coth x - 1 / x): mpmath.log(sinh(x) / x) and
    // mpmath.coth(x) - 1 / x at 40 digits, rounded to the nearest f64.
    let table = [
        (1e-3, 1.666_666_611_111_114_6e-7, 3.333_333_111_111_132e-4),
        (0.3, 0.014_955_255_419_671_123, 0.099_405_096_988_408_26),
        (0.99, 0.158_322_822_042_779, 0.310_270_980_985_920_15),
        (1.01, 0.164_583_494_898_650_18, 0.315_789_733_820_386_8),
        (5.0, 2.697_369_506_045_584, 0.800_090_803_982_019_4),
    ];
    for (x, value, slope) in table {
        for sign in [1.0, -1.0] {
            let (v, d) = uniform_ln_mgf(sign * x, c);
            assert!((v - value).abs() <= 2e-15 * value, "{x}: {v} vs {value}");
            let d = sign * d / c;
            assert!((d - slope).abs() <= 2e-15 * slope, "{x}: {d} vs {slope}");
        }
    }
    assert_eq!(uniform_ln_mgf(0.0, c), (0.0, 0.0));
    let law = EntryLaw::new(Family::Uniform {}).unwrap();
    for s in [2.0, 30.0] {
        let x: f64 = c * s;
        assert!((law.ln_mgf(s).0 - (x.sinh() / x).ln()).abs() < 1e-14, "{s}");
    }
}

#[test]
fn laws_that_cannot_be_standardised_are_refused() {
    let cases = [
        (
            Family::SparseBinary { density: 0.0 },
            "density = 0 must lie strictly between 0 and 1",
        ),
        (
            Family::SparseBinary { density: 1.0 },
            "density = 1 must lie",
        ),
        (
            Family::SparseBinary { density: 1.5 },
            "density = 1.5 must lie",
        ),
        (
            Family::SparseBinary { density: f64::NAN },
            "between 0 and 1",
        ),
        (
            Family::Ternary {
                zero_probability: 1.0,
            },
            "point mass",
        ),
        (
            Family::Discrete {
                values: vec![2.0, 2.0],
                probabilities: vec![0.5, 0.5],
            },
            "point mass at 2",
        ),
        (
            Family::Discrete {
                values: vec![1.0, -1.0, 3.0],
                probabilities: vec![0.5, 0.5, 0.0],
            },
            "",
        ),
        (
            Family::Discrete {
                values: vec![1.0, -1.0],
                probabilities: vec![0.5, 0.6],
            },
            "sum to 1.1",
        ),
        (
            Family::Discrete {
                values: vec![1.0, -1.0],
                probabilities: vec![1.5, -0.5],
            },
            "-0.5",
        ),
        (
            Family::Discrete {
                values: vec![1.0],
                probabilities: vec![0.5, 0.5],
            },
            "2 entries for 1 values: give one per value",
        ),
        (
            Family::GaussianMixture {
                weights: vec![1.0],
                means: vec![0.0],
                sds: vec![0.0],
            },
            "discrete",
        ),
        (
            Family::GaussianMixture {
                weights: vec![],
                means: vec![],
                sds: vec![],
            },
            "no components",
        ),
        // Huge values: no overflow, a proper +-1 law.
        (
            Family::Discrete {
                values: vec![1e300, -1e300],
                probabilities: vec![0.5, 0.5],
            },
            "",
        ),
        // Huge values off zero: their deviations, not the values, set the
        // scale, so that nothing overflows.
        (
            Family::Discrete {
                values: vec![1.2e308, 1.6e308],
                probabilities: vec![0.5, 0.5],
            },
            "",
        ),
        // Probabilities that sum to 1 + 9e-10, within the tolerance: they
        // are normalised, and the mean of 1000.5 is removed to 1e-12.
        (
            Family::Discrete {
                values: vec![1000.0, 1001.0],
                probabilities: vec![0.5, 0.5 + 9e-10],
            },
            "",
        ),
        // The same for a mixture: means off zero near the largest double.
        (
            Family::GaussianMixture {
                weights: vec![0.5, 0.5],
                means: vec![1.2e308, 1.6e308],
                sds: vec![1.0, 1.0],
            },
            "",
        ),
        // Neighbouring doubles: exactly +-1 after standardisation.
        (
            Family::Discrete {
                values: vec![1.0, 1.0 + 2.0 * f64::EPSILON],
                probabilities: vec![0.5, 0.5],
            },
            "",
        ),
        // A mean that is not a double: rounding spoils the standardisation.
        (
            Family::Discrete {
                values: vec![1.0, 1.0 + f64::EPSILON, 1.0 + 2.0 * f64::EPSILON],
                probabilities: vec![0.3, 0.3, 0.4],
            },
            "too close together",
        ),
        (Family::SparseBinary { density: 1e-300 }, "too sparse"),
        // A rare wide component: standardised, its sd is about 3e4 (mean 0).
        (
            Family::GaussianMixture {
                weights: vec![1.0 - 1e-9, 1e-9],
                means: vec![0.0, 0.0],
                sds: vec![1.0, 1e9],
            },
            "reaches |a| = 3.16",
        ),
        (
            Family::GaussianMixture {
                weights: vec![0.5, 0.5],
                means: vec![-1e200, 1e200],
                sds: vec![1.0, 1.0],
            },
            "",
        ),
    ];
    for (family, expected) in cases {
        match EntryLaw::new(family.clone()) {
            // An empty expectation means the law is valid: no error passes.
            Err(TheoryError::InvalidLaw(msg)) if !expected.is_empty() => {
                assert!(msg.contains(expected), "{msg}")
            }
            Ok(law) if expected.is_empty() => {
                let first = law.expect(|a| a).value;
                let second = law.expect(|a| a * a).value;
                assert!(first.abs() < 1e-12, "{family:?}: {first}");
                assert!((second - 1.0).abs() < 1e-12, "{family:?}: {second}");
            }
            other => panic!("{family:?}: {other:?}"),
        }
    }
}

/// Repeated values merge, values of probability 0 are dropped, and the
/// law is sorted.
#[test]
fn atoms_are_merged_and_sorted() {
    let law = EntryLaw::new(Family::Discrete {
        values: vec![1.0, 7.0, -1.0, 1.0],
        probabilities: vec![0.25, 0.0, 0.5, 0.25],
    })
    .unwrap();
    let atoms = law.atoms().unwrap();
    assert_eq!(atoms.len(), 2);
    assert!(atoms[0].value == -1.0 && atoms[1].value == 1.0);
    assert!((atoms[1].probability - 0.5).abs() < 1e-15);
}

#[test]
fn laplace_tails_are_named() {
    let law = EntryLaw::new(Family::Laplace {}).unwrap();
    assert!(law.ln_mgf(2.0).0.is_infinite());
    assert!(law.tail_problem().unwrap().contains("exponential tails"));
    assert!(EntryLaw::new(Family::Uniform {})
        .unwrap()
        .tail_problem()
        .is_none());
}

/// The fixed trapezoidal rule of Gaussian mixtures against closed forms:
/// `E a^4` (which [`EntryLaw::fourth_moment`] gives in closed form) and
/// the Gaussian `E exp(theta (t^2 / 2 - t) a^2) = (1 - 2 theta g)^(-1/2)`,
/// with `g = t^2 / 2 - t`; a tilt too narrow for the step is refused
/// (the caller integrates adaptively), and a divergent one is recognised.
#[test]
fn fixed_rules_match_closed_forms() {
    let mixture = EntryLaw::new(two_gaussians()).unwrap();
    let Shape::Mixture(components) = mixture.shape() else {
        panic!("a mixture")
    };
    let fourth = fixed::gaussian_expect(components, |a| a.powi(4)).unwrap();
    assert!((fourth.value - mixture.fourth_moment()).abs() < 1e-13 * fourth.value);
    assert!(fourth.error < 1e-13 * fourth.value, "{fourth:?}");

    let gaussian = EntryLaw::new(Family::Gaussian {}).unwrap();
    for (t, theta) in [(0.5, 3.0), (1.0, 0.7), (3.0, 0.2)] {
        let g: f64 = t * t / 2.0 - t;
        let tilts = gaussian.tilts(|a| g * a * a);
        let expected = -0.5 * (1.0 - 2.0 * theta * g).ln();
        let got = tilts.ln_expect_exp(theta).unwrap();
        assert!(
            (got - expected).abs() < 1e-13,
            "{t} {theta}: {got} vs {expected}"
        );
        assert!(!gaussian.tilt_diverges(t, theta));
    }
    // Variance 1 / 2001: a peak of width 0.02, too narrow for the step.
    let narrow = gaussian.tilts(|a| -a * a);
    assert!(narrow.ln_expect_exp(1000.0).is_none());
    let adaptive = gaussian.ln_expect_exp(|a| -1000.0 * a * a);
    assert!((adaptive + 0.5 * 2001f64.ln()).abs() < 1e-12, "{adaptive}");
    // t = 3: g = 1.5, divergent from theta = 1/3 on.
    assert!(gaussian.tilt_diverges(3.0, 0.34) && !gaussian.tilt_diverges(3.0, 0.33));
}

/// Where a tilt of a Gaussian mixture (the dual's `E_p e^{theta h_t}`,
/// docs/theory.md §5) diverges: from `theta* = 1 / (2 sd_max^2 g)` on,
/// with `g = sd_max^2 t^2 / 2 - t`, set by the widest component, the edge
/// included. For the standard normal at `t = 4`, `g = 4` and
/// `theta = 1/8` make the exponent exactly zero: the integrand is the
/// constant `1 / sqrt(2 pi)`, whose integral over the line is infinite.
#[test]
fn tilts_diverge_from_the_widest_components_edge() {
    let mixture = EntryLaw::new(two_gaussians()).unwrap();
    let Shape::Mixture(components) = mixture.shape() else {
        panic!("a mixture")
    };
    // Standardised by the overall sd, sqrt(3.54): the wide component's sd
    // is 1.5 / sqrt(3.54).
    let sd_max = 1.5 / 3.54f64.sqrt();
    let widest = components.iter().map(|c| c.sd).fold(0.0, f64::max);
    assert!((widest - sd_max).abs() < 1e-12, "{widest} vs {sd_max}");
    for t in [4.0, 5.0, 8.0] {
        let g = sd_max * sd_max * t * t / 2.0 - t;
        let edge = 1.0 / (2.0 * sd_max * sd_max * g);
        assert!(mixture.tilt_diverges(t, edge * (1.0 + 1e-9)), "{t}");
        assert!(!mixture.tilt_diverges(t, edge * (1.0 - 1e-9)), "{t}");
    }
    // Below t = 2 / sd_max^2 the bracket is negative for every theta.
    assert!(!mixture.tilt_diverges(3.0, 1e6));
    let gaussian = EntryLaw::new(Family::Gaussian {}).unwrap();
    assert!(gaussian.tilt_diverges(4.0, 0.125));
    assert!(!gaussian.tilt_diverges(4.0, 0.125 - 1e-12));
    // Only mixtures have such tilts.
    let uniform = EntryLaw::new(Family::Uniform {}).unwrap();
    assert!(!uniform.tilt_diverges(8.0, 1e6));
}

/// The tilted mean `kappa'(L x_i)` points along `x` for one gaussian
/// (`kappa'` linear) and for atoms of one modulus (`tanh(L x) = tanh(L) x`
/// at `x = +-1`), and for nothing else.
#[test]
fn tilted_mean_along_state_for_one_gaussian_or_one_modulus() {
    let along = |family: Family| EntryLaw::new(family).unwrap().tilted_mean_along_state();
    assert!(along(Family::Gaussian {}));
    assert!(along(Family::Discrete {
        values: vec![-1.0, 1.0],
        probabilities: vec![0.5, 0.5],
    }));
    assert!(!along(Family::Ternary {
        zero_probability: 0.5,
    }));
    assert!(!along(Family::SparseBinary { density: 0.1 }));
    assert!(!along(two_gaussians()));
    assert!(!along(Family::Uniform {}));
    assert!(!along(Family::Laplace {}));
}

/// The one-line description: the ternary law standardised to 0 and
/// +-sqrt 2, and a gaussian as its single mixture component.
#[test]
fn shapes_read_as_one_line() {
    let ternary = EntryLaw::new(Family::Ternary {
        zero_probability: 0.5,
    })
    .unwrap();
    assert_eq!(
        ternary.shape().to_string(),
        "-1.414214 (p 0.250000), 0.000000 (p 0.500000), 1.414214 (p 0.250000)"
    );
    let gaussian = EntryLaw::new(Family::Gaussian {}).unwrap();
    assert_eq!(
        gaussian.shape().to_string(),
        "1.000000 N(0.000000, 1.000000^2)"
    );
    assert_eq!(Shape::Uniform.to_string(), "uniform on [-sqrt 3, sqrt 3]");
}

/// Laws are equal when their families (with parameters) are, whatever
/// they have computed and cached since.
#[test]
fn laws_are_equal_by_their_description() {
    let ternary = |zero_probability| EntryLaw::new(Family::Ternary { zero_probability }).unwrap();
    let cached = ternary(0.5);
    cached.single_pattern_load(|| Ok(0.3)).unwrap();
    assert_eq!(ternary(0.5), cached);
    assert_ne!(ternary(0.5), ternary(0.25));
    assert_ne!(ternary(0.5), EntryLaw::new(Family::Uniform {}).unwrap());
}

/// Beyond its range (|s| >= sqrt 2) the Laplace mgf diverges: the cgf is
/// +inf and its slope infinite with the sign of s.
#[test]
fn laplace_mgf_diverges_with_the_sign_of_s() {
    let law = EntryLaw::new(Family::Laplace {}).unwrap();
    assert_eq!(law.ln_mgf(2.0), (f64::INFINITY, f64::INFINITY));
    assert_eq!(law.ln_mgf(-2.0), (f64::INFINITY, f64::NEG_INFINITY));
}

/// A law integrated by quadrature reports the sum of its parts' error
/// estimates: positive (the quadrature is not exact) and small.
#[test]
fn quadrature_errors_add_up_over_the_parts() {
    for family in [Family::Uniform {}, Family::Laplace {}] {
        let law = EntryLaw::new(family.clone()).unwrap();
        let second = law.expect(|a| (0.3 * a).cosh());
        assert!(
            second.error > 0.0 && second.error < 1e-9,
            "{family:?}: {second:?}"
        );
    }
}

/// The fixed rule's error check against Poisson summation. For the
/// standard normal, the trapezoidal rule of step `h` (truncated at
/// `|z| = 38`, below rounding) gives `E cos(w a)` summed over its
/// aliases, `sum_k exp(-(w + 2 pi k / h)^2 / 2)`. At `w = 6` the rule at
/// step 1/4 is exact (its nearest alias is `e^-183` away), and the rule
/// at step 1/2 is off by `d = e^{-(4 pi - 6)^2 / 2} + e^{-(4 pi + 6)^2 / 2}`
/// (4.4e-10). The reported error is `gap^2 * scale`, with
/// `scale = max(|value|, 1)` and `gap = d / scale`, so it is `d^2 / scale`;
/// scales below, at and above 1 are tried. At `w = 10` the gap is 0.04,
/// above the accepted 1e-8, and the rule gives no value.
#[test]
fn fixed_rule_error_is_the_squared_gap_to_the_coarse_rule() {
    let gaussian = EntryLaw::new(Family::Gaussian {}).unwrap();
    let Shape::Mixture(components) = gaussian.shape() else {
        panic!("the standard normal is a one-part mixture")
    };
    let alias = |w: f64, h: f64| {
        let spacing = 2.0 * std::f64::consts::PI / h;
        (1..4)
            .map(|k| {
                let k = f64::from(k);
                (-(w - k * spacing).powi(2) / 2.0).exp() + (-(w + k * spacing).powi(2) / 2.0).exp()
            })
            .sum::<f64>()
    };
    let w = 6.0;
    assert!(alias(w, 0.25) < 1e-70);
    for c in [1e-3, 1.0, 1e3] {
        let got = fixed::gaussian_expect(components, |a| c * (1.0 + (w * a).cos())).unwrap();
        let value = c * (1.0 + (-w * w / 2.0).exp());
        assert!(
            (got.value - value).abs() < 1e-13 * c.max(1.0),
            "{c}: {got:?}"
        );
        let d = c * alias(w, 0.5);
        let error = d * d / value.max(1.0);
        assert!(
            (got.error - error).abs() < 1e-3 * error,
            "{c}: {got:?} vs {error:e}"
        );
    }
    assert!(alias(10.0, 0.5) > 0.03);
    assert!(fixed::gaussian_expect(components, |a| (10.0 * a).cos()).is_none());
}

/// The tilts' check is relative to the value: `ln E exp(theta g)` with
/// `g = a^2 + K`, `K = -100`, is `theta K - ln(1 - 2 theta) / 2` (about
/// 185 or 350 here), and its tilted density is a normal of variance
/// `s^2 = 1 / (1 - 2 theta)`. By Poisson summation the trapezoidal rule
/// of step `h` overestimates its mass by the factor
/// `1 + 2 sum_k exp(-2 pi^2 k^2 s^2 / h^2)`. At `theta = -1.85` the rule
/// at step 1/2 is off by 1.1e-7 in `ln`: above the 1e-8 allowed at scale
/// 1, below the 1e-8 * 185 allowed at this value, so the value is given.
/// At `theta = -3.5` it is off by 1.1e-4, above 1e-8 * 350, and is not.
#[test]
fn tilts_gap_is_relative_to_the_value() {
    let gaussian = EntryLaw::new(Family::Gaussian {}).unwrap();
    let k = -100.0;
    let tilts = gaussian.tilts(|a| a * a + k);
    let exact = |theta: f64| theta * k - 0.5 * (1.0 - 2.0 * theta).ln();
    let coarse_gap = |theta: f64| {
        let s2 = 1.0 / (1.0 - 2.0 * theta);
        let pi2 = std::f64::consts::PI.powi(2);
        (2.0 * (-2.0 * pi2 * s2 / 0.25).exp()).ln_1p()
    };
    let theta = -1.85;
    let gap = coarse_gap(theta);
    assert!(gap > 1e-8 && gap < 1e-8 * exact(theta), "{gap:e}");
    let got = tilts.ln_expect_exp(theta).unwrap();
    assert!((got - exact(theta)).abs() < 1e-12 * exact(theta), "{got}");
    let theta = -3.5;
    assert!(coarse_gap(theta) > 1e-8 * exact(theta));
    assert!(tilts.ln_expect_exp(theta).is_none());
}

/// Break points: the fewest equal pieces at most `width` wide, ends
/// included (20 / 3 needs 7 pieces of 20/7), and one piece when the range
/// is narrower than `width`.
#[test]
fn pieces_are_the_fewest_within_the_width() {
    let breaks = integrate::pieces(-10.0, 10.0, 3.0);
    assert_eq!(breaks.len(), 8);
    for (k, b) in breaks.iter().enumerate() {
        assert!(
            (b - (-10.0 + 20.0 * k as f64 / 7.0)).abs() < 1e-14,
            "{breaks:?}"
        );
    }
    assert_eq!(integrate::pieces(0.0, 1.0, 5.0), vec![0.0, 1.0]);
}

/// `ln int exp(g)` for a normal peak of width 1e-3 or 1e-4 between two points of
/// the grid that locates it (spacing 20/256), just right and just left of
/// its nearest point, and off-centre in a range 20 wide: the integral is
/// `sigma sqrt(2 pi)` however the peak falls.
#[test]
fn narrow_peaks_between_grid_points_are_integrated() {
    let spacing = 20.0 / 256.0;
    let breaks = integrate::pieces(-10.0, 10.0, 1.0);
    for sigma in [1e-3, 1e-4] {
        let expected = (sigma * (2.0 * std::f64::consts::PI).sqrt()).ln();
        for x0 in [0.3 * spacing, -0.3 * spacing, 3.7 + 0.45 * spacing] {
            let g = |x: f64| -(x - x0).powi(2) / (2.0 * sigma * sigma);
            let got = integrate::ln_integral_of_exp(&g, &breaks);
            assert!(
                (got - expected).abs() < 1e-10,
                "{sigma} {x0}: {got} vs {expected}"
            );
        }
    }
    let sigma: f64 = 1e-3;
    let expected = (sigma * (2.0 * std::f64::consts::PI).sqrt()).ln();
    // A peak one or half a width inside an end: the break points 40 widths
    // either side stop at the range, and the integral is cut there, to
    // `sigma sqrt(2 pi) Phi(d / sigma)`.
    for (x0, d) in [(10.0 - sigma, 1.0), (-10.0 + 0.5 * sigma, 0.5)] {
        let g = |x: f64| -(x - x0).powi(2) / (2.0 * sigma * sigma);
        let got = integrate::ln_integral_of_exp(&g, &breaks);
        let cut = expected + (0.5 * statrs::function::erf::erfc(-d / 2f64.sqrt())).ln();
        assert!((got - cut).abs() < 1e-10, "{x0}: {got} vs {cut}");
    }
}

/// A mixture component of weight 0 is dropped: the law is the same as
/// without it (a wide one would otherwise set where tilts diverge).
#[test]
fn components_of_weight_zero_are_dropped() {
    let Family::GaussianMixture {
        weights,
        means,
        sds,
    } = two_gaussians()
    else {
        panic!("a mixture")
    };
    let with_zero = Family::GaussianMixture {
        weights: [weights.clone(), vec![0.0]].concat(),
        means: [means.clone(), vec![5.0]].concat(),
        sds: [sds.clone(), vec![40.0]].concat(),
    };
    let with_zero = EntryLaw::new(with_zero).unwrap();
    let without = EntryLaw::new(two_gaussians()).unwrap();
    assert_eq!(with_zero.shape(), without.shape());
}
