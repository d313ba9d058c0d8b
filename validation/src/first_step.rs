//! Exact sampler of the first step of the dynamics, without patterns.
//!
//! Given the initial state `x0`, the scores `z_mu = lambda xi^mu . x0` of
//! the `P - 1` patterns other than xi^1 are i.i.d. with an exact finite-N
//! law (docs/theory.md §7), and the score of xi^1 itself depends only on
//! a few scalar random variables. Drawing these instead of building the
//! pattern matrix costs O(P) time and O(1) memory per trial (O(N) for
//! binary patterns), so loads far beyond the reach of the full dynamics
//! are accessible. For gaussian and spherical patterns beyond
//! [`crate::top_k::STREAM_LIMIT`] other patterns, the [`crate::top_k`]
//! path draws only the largest scores exactly and the rest of the
//! partition sum from its conditional law, with stated bounds, in O(K). The observables are those of [`FirstStep`], the same
//! the full dynamics records at its first step, so the two can be compared
//! in law.
//!
//! # Laws used
//!
//! Gaussian patterns. Write `|xi^1|^2 = sN` with `sN ~ chi^2_N`.
//! - Start at `x0 = xi^1`: score of xi^1 is `lambda sN`; the other patterns
//!   are independent of xi^1, so `xi^mu . x0 ~ N(0, sN)`.
//! - Start at overlap `rho`, `x0 = rho xi^1 + sqrt(1 - rho^2) z`: split `z`
//!   along the unit vector `e = xi^1/|xi^1|` and orthogonally to it,
//!   `z = g e + z_perp`. By rotation invariance of `z`, `g ~ N(0, 1)` and
//!   `|z_perp|^2 ~ chi^2_{N-1}` are independent of each other and of xi^1.
//!   With `a = rho |xi^1| + sqrt(1 - rho^2) g` (the component of `x0`
//!   along `e`): `xi^1 . x0 = |xi^1| a` and
//!   `|x0|^2 = a^2 + (1 - rho^2) |z_perp|^2`, not exactly `N`. Other
//!   patterns are independent of `x0`: `xi^mu . x0 ~ N(0, |x0|^2)`.
//!
//! Spherical patterns (`|xi|^2 = N`), `x0` on the same sphere at angle
//! `arccos(rho)` from xi^1 (`rho = 1` is `x0 = xi^1`): the score of xi^1
//! is `lambda N rho`; for a uniform `xi^mu` the cosine `u` with the fixed
//! `x0` has density proportional to `(1 - u^2)^((N-3)/2)`, that is
//! `u = 2B - 1` with `B ~ Beta((N-1)/2, (N-1)/2)`.
//!
//! Binary patterns, `x0` = xi^1 with `F ~ Binomial(N, (1 - rho)/2)`
//! entries flipped: the score of xi^1 is `lambda (N - 2F)`. Another
//! pattern disagrees with `x0` on `B ~ Binomial(N, 1/2)` entries, score
//! `lambda (N - 2B)`. Since these scores take only `N + 1` values, the
//! `P - 1` of them are drawn as level counts,
//! `(C_0..C_N) ~ Multinomial(P - 1, Binomial(N, 1/2))`, by successive
//! conditional binomials: the same joint law in O(N) time.
//!
//! Law-file patterns with atoms on a lattice (ternary, sparse binary, any
//! atoms in small integer ratios) have integer scores in units of
//! `lambda delta^2`: their exact law is a convolution, and the `P - 1`
//! scores are drawn as level counts in O(N^2) (the `lattice` module). Other
//! law files have no closed-form overlap law at finite `N`; their other
//! patterns are drawn entry by entry, scored and discarded, which is exact
//! at O(P N) time and O(N) memory (no pattern matrix).

use rand::Rng;
use rand_distr::{Binomial, Distribution};
use serde::Serialize;

use crate::partition::{block_max, Partition};
use crate::sampler;
use crate::seeds::TrialRng;
use crate::{Setup, ValidationError};

/// Noise scores drawn per block when streaming.
const BLOCK: usize = 1024;

/// Softmax observables of xi^1 in one step of the dynamics, at the state
/// the step starts from.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct FirstStep {
    /// Softmax weight of xi^1, `exp(z_1) / sum_mu exp(z_mu)` with
    /// `z_mu = lambda xi^mu . x`.
    pub w1: f64,
    /// Whether xi^1's score is strictly larger than every other pattern's
    /// (ties, possible for binary patterns, count as not largest).
    pub xi1_largest: bool,
}

impl FirstStep {
    /// xi^1 wins the step: it carries more than half of the softmax weight,
    /// `w1 > 1/2`, so the new state is dominated by xi^1.
    pub fn xi1_wins(&self) -> bool {
        self.w1 > 0.5
    }
}

/// One draw of the first-step observables for `setup`: exact, or for
/// gaussian and spherical patterns beyond [`crate::top_k::STREAM_LIMIT`]
/// other patterns, exact in the top scores with the rest's errors bounded
/// by [`crate::top_k::RETRIEVAL_TOLERANCE`] and
/// [`crate::top_k::Z_TOLERANCE`] (docs/theory.md §7, top-K first step).
///
/// # Errors
/// As [`Setup::pattern_count_f64`]; [`ValidationError::InvalidParameter`]
/// for `P` above `2^53` with a law drawn by level counts or entry by entry.
pub fn sample_first_step(setup: &Setup, rng: &mut TrialRng) -> Result<FirstStep, ValidationError> {
    let others = setup.pattern_count_f64()? - 1.0;
    sampler::for_law(&setup.law).first_step(setup, others, rng)
}

/// The number `others` of other patterns as an exact integer, for the
/// samplers that count them one by one or by level (at most `2^53 - 1`).
pub(crate) fn exact_count(others: f64) -> Result<u64, ValidationError> {
    if others < 9_007_199_254_740_992.0 {
        Ok(others as u64)
    } else {
        Err(ValidationError::InvalidParameter(format!(
            "P = {:e} patterns is above 2^53, which only the first step of gaussian and \
             spherical patterns reaches; lower alpha or N",
            others + 1.0
        )))
    }
}

/// A distribution's parameter error, as ours.
pub(crate) fn invalid(e: impl std::fmt::Display) -> ValidationError {
    ValidationError::InvalidParameter(e.to_string())
}

/// Observables when the `count` noise scores are i.i.d. draws of `draw`,
/// streamed in blocks through the online partition function.
pub(crate) fn streamed<R: Rng + ?Sized>(
    signal: f64,
    count: u64,
    rng: &mut R,
    mut draw: impl FnMut(&mut R) -> f64,
) -> FirstStep {
    let mut partition = Partition::new();
    partition.add_block(&[signal]);
    let mut best = f64::NEG_INFINITY;
    let mut buf = [0.0_f64; BLOCK];
    let mut remaining = count;
    while remaining > 0 {
        let len = remaining.min(BLOCK as u64) as usize;
        let block = &mut buf[..len];
        block.iter_mut().for_each(|z| *z = draw(rng));
        best = best.max(block_max(block));
        partition.add_block(block);
        remaining -= len as u64;
    }
    FirstStep {
        w1: partition.weight_of(signal),
        xi1_largest: signal > best,
    }
}

/// Observables when `c` noise scores sit at each level `z`.
pub(crate) fn from_levels(signal: f64, levels: impl Iterator<Item = (f64, u64)>) -> FirstStep {
    let mut partition = Partition::new();
    partition.add_block(&[signal]);
    let mut best = f64::NEG_INFINITY;
    for (z, c) in levels.filter(|(_, c)| *c > 0) {
        partition.add_many(z, c as f64);
        best = best.max(z);
    }
    FirstStep {
        w1: partition.weight_of(signal),
        xi1_largest: signal > best,
    }
}

/// `(C_0..C_L) ~ Multinomial(count, pmf)` for a pmf given by its logs,
/// drawn as successive conditional binomials
/// `C_k ~ Binomial(remaining, pmf_k / tail_k)` with
/// `tail_k = sum_{j >= k} pmf_j` computed in log space.
pub(crate) fn level_counts<R: Rng + ?Sized>(
    ln_pmf: &[f64],
    count: u64,
    rng: &mut R,
) -> Result<Vec<u64>, ValidationError> {
    let mut ln_tail = ln_pmf.to_vec();
    for k in (0..ln_tail.len().saturating_sub(1)).rev() {
        let (a, b) = (ln_tail[k], ln_tail[k + 1]);
        ln_tail[k] = if a.max(b) == f64::NEG_INFINITY {
            a
        } else {
            a.max(b) + (-(a - b).abs()).exp().ln_1p()
        };
    }
    let mut remaining = count;
    ln_pmf
        .iter()
        .zip(&ln_tail)
        .map(|(lp, lt)| {
            let share = if *lt == f64::NEG_INFINITY {
                0.0
            } else {
                (lp - lt).exp().clamp(0.0, 1.0)
            };
            let c = Binomial::new(remaining, share)
                .map_err(invalid)?
                .sample(rng);
            remaining -= c;
            Ok(c)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patterns::{initial_state, Patterns, DEFAULT_MEMORY_LIMIT};
    use crate::sampler::gaussian::{gaussian_start, GaussianStart};
    use crate::sampler::spherical::SphericalOverlap;
    use crate::seeds::trial_rng;
    use crate::Start;
    use damcap_theory::ensemble::PatternLaw;
    use statrs::function::factorial::ln_binomial;

    /// Sample mean of `xs` and its standard error.
    fn mean_and_se(xs: &[f64]) -> (f64, f64) {
        let m = xs.iter().sum::<f64>() / xs.len() as f64;
        let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64;
        (m, (v / xs.len() as f64).sqrt())
    }

    /// The derived joint law of `(xi1 . x0, |x0|^2)` for a gaussian start at
    /// overlap rho agrees with the explicit construction of
    /// `patterns::initial_state`: the means of X, Y, X^2, Y^2 and XY agree
    /// by a two-sample z-test, |z| < 5.
    #[test]
    fn gaussian_start_matches_construction() {
        let (n, rho, reps) = (10, 0.6, 20_000);
        let mut rng = trial_rng(10);
        let derived: Vec<GaussianStart> = (0..reps)
            .map(|_| gaussian_start(n, Start::Overlap(rho), &mut rng).unwrap())
            .collect();
        let built: Vec<GaussianStart> = (0..reps)
            .map(|_| {
                let p =
                    Patterns::sample(&PatternLaw::Gaussian, n, 1, DEFAULT_MEMORY_LIMIT, &mut rng)
                        .unwrap();
                let x0 = initial_state(&PatternLaw::Gaussian, p.xi1(), rho, &mut rng).unwrap();
                let dot: f64 = x0.iter().zip(p.xi1()).map(|(a, &b)| a * f64::from(b)).sum();
                GaussianStart {
                    xi1_dot_x0: dot,
                    x0_norm_sq: x0.iter().map(|a| a * a).sum(),
                }
            })
            .collect();
        let features: [fn(&GaussianStart) -> f64; 5] = [
            |s| s.xi1_dot_x0,
            |s| s.x0_norm_sq,
            |s| s.xi1_dot_x0.powi(2),
            |s| s.x0_norm_sq.powi(2),
            |s| s.xi1_dot_x0 * s.x0_norm_sq,
        ];
        for (i, f) in features.iter().enumerate() {
            let (ma, sa) = mean_and_se(&derived.iter().map(f).collect::<Vec<_>>());
            let (mb, sb) = mean_and_se(&built.iter().map(f).collect::<Vec<_>>());
            let z = (ma - mb) / sa.hypot(sb);
            assert!(z.abs() < 5.0, "feature {i}: {ma} vs {mb}, z = {z}");
        }
        let (mx, _) = mean_and_se(&derived.iter().map(features[0]).collect::<Vec<_>>());
        let (my, _) = mean_and_se(&derived.iter().map(features[1]).collect::<Vec<_>>());
        assert!((mx / n as f64 - rho).abs() < 0.02 && (my / n as f64 - 1.0).abs() < 0.02);
    }

    /// Spherical noise overlaps: mean 0, E u^2 = 1/N, E u^4 = 3/(N(N+2)),
    /// within 5 standard errors.
    #[test]
    fn spherical_overlap_moments() {
        let n = 10;
        let law = SphericalOverlap::new(n).unwrap();
        let mut rng = trial_rng(11);
        let u: Vec<f64> = (0..50_000).map(|_| law.sample(&mut rng)).collect();
        let nf = n as f64;
        for (power, exact) in [(1, 0.0), (2, 1.0 / nf), (4, 3.0 / (nf * (nf + 2.0)))] {
            let (m, se) = mean_and_se(&u.iter().map(|v| v.powi(power)).collect::<Vec<_>>());
            assert!(
                (m - exact).abs() < 5.0 * se,
                "E u^{power} = {m}, exact {exact}"
            );
        }
    }

    /// Level counts of Binomial(N, 1/2) add up to the number of patterns
    /// and follow it (chi-square with N dof below 40; its 99.99% quantile
    /// is 35.6), so the binary overlap variance is 1/N.
    #[test]
    fn binary_level_counts_are_binomial() {
        let (n, count) = (10_usize, 200_000_u64);
        let ln_pmf: Vec<f64> = (0..=n as u64)
            .map(|k| ln_binomial(n as u64, k) - n as f64 * std::f64::consts::LN_2)
            .collect();
        let counts = level_counts(&ln_pmf, count, &mut trial_rng(12)).unwrap();
        assert_eq!(counts.iter().sum::<u64>(), count);
        let chi2: f64 = counts
            .iter()
            .enumerate()
            .map(|(k, &c)| {
                let expected = count as f64
                    * statrs::function::factorial::binomial(n as u64, k as u64)
                    / 1024.0;
                (c as f64 - expected).powi(2) / expected
            })
            .sum();
        assert!(chi2 < 40.0, "chi2 = {chi2}");
        let var: f64 = counts
            .iter()
            .enumerate()
            .map(|(k, &c)| c as f64 * (1.0 - 2.0 * k as f64 / n as f64).powi(2))
            .sum::<f64>()
            / count as f64;
        assert!((var * n as f64 - 1.0).abs() < 0.02, "var = {var}");
    }

    /// One pattern: xi^1 has all the weight. Huge lambda and huge P: no NaN,
    /// weights in [0, 1].
    #[test]
    fn edge_cases_are_finite() {
        for law in [
            PatternLaw::Gaussian,
            PatternLaw::Spherical,
            PatternLaw::Binary,
        ] {
            let mut rng = trial_rng(13);
            let single = Setup {
                law: law.clone(),
                n: 8,
                alpha: 0.0,
                lambda: 1.0,
                start: Start::Pattern,
            };
            let fs = sample_first_step(&single, &mut rng).unwrap();
            assert!(fs.w1 == 1.0 && fs.xi1_largest && fs.xi1_wins());
            for start in [Start::Pattern, Start::Overlap(0.3)] {
                let hot = Setup {
                    law: law.clone(),
                    n: 20,
                    alpha: 0.6,
                    lambda: 1e3,
                    start,
                };
                let fs = sample_first_step(&hot, &mut rng).unwrap();
                assert!((0.0..=1.0).contains(&fs.w1), "{law:?}: {fs:?}");
            }
        }
        // Binary at P ~ 1e12 costs O(N).
        let big = Setup {
            law: PatternLaw::Binary,
            n: 40,
            alpha: 0.69,
            lambda: 2.0,
            start: Start::Pattern,
        };
        assert!(sample_first_step(&big, &mut trial_rng(14))
            .unwrap()
            .w1
            .is_finite());
    }

    /// `w1 = e^s / (e^s + sum e^z)` by the library's `exp`.
    fn weight(signal: f64, others: &[f64]) -> f64 {
        signal.exp() / (signal.exp() + others.iter().map(|z| z.exp()).sum::<f64>())
    }

    /// xi^1 wins with more than half of the weight.
    #[test]
    fn winning_needs_more_than_half() {
        let at = |w1| FirstStep {
            w1,
            xi1_largest: true,
        };
        assert!(!at(0.5).xi1_wins() && at(0.5 + 1e-12).xi1_wins());
    }

    /// Level-count first steps hold counts up to 2^53 - 1 other patterns.
    #[test]
    fn exact_counts_stop_below_2_to_the_53() {
        assert_eq!(exact_count(9_007_199_254_740_991.0).unwrap(), (1 << 53) - 1);
        let text = exact_count(9_007_199_254_740_992.0)
            .unwrap_err()
            .to_string();
        assert!(text.contains("above 2^53"), "{text}");
    }

    /// The streamed first step over three blocks (3000 scores) against
    /// the direct sum; the largest score decides `xi1_largest`, a tie
    /// included; no other pattern leaves xi^1 all the weight.
    #[test]
    fn streamed_scores_match_the_direct_sum() {
        let scores: Vec<f64> = (0..3000)
            .map(|k| ((k * 7) % 3001) as f64 / 1000.0 - 2.0)
            .collect();
        let run = |signal: f64, count: usize| {
            let mut next = scores.iter().copied();
            streamed(signal, count as u64, &mut trial_rng(1), |_| {
                next.next().unwrap()
            })
        };
        let top = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        for signal in [1.5, top, top + 0.1] {
            let out = run(signal, 3000);
            assert!((out.w1 - weight(signal, &scores)).abs() < 1e-14, "{signal}");
            assert_eq!(out.xi1_largest, signal > top, "{signal}");
        }
        // A partial last block (2100 = 2 x 1024 + 52 scores).
        let out = run(top + 0.1, 2100);
        assert!((out.w1 - weight(top + 0.1, &scores[..2100])).abs() < 1e-14);
        let alone = run(-3.0, 0);
        assert_eq!((alone.w1, alone.xi1_largest), (1.0, true));
    }

    /// Levels with their counts; empty levels count for nothing, not even
    /// for `xi1_largest`.
    #[test]
    fn levels_match_the_direct_sum() {
        let levels = [(0.5, 3), (2.0, 0), (0.9, 2)];
        let out = from_levels(1.0, levels.into_iter());
        let expanded = [0.5, 0.5, 0.5, 0.9, 0.9];
        assert!((out.w1 - weight(1.0, &expanded)).abs() < 1e-15);
        assert!(out.xi1_largest);
        let tie = from_levels(1.0, [(1.0, 1), (0.2, 4)].into_iter());
        assert!(!tie.xi1_largest);
        assert!((tie.w1 - weight(1.0, &[1.0, 0.2, 0.2, 0.2, 0.2])).abs() < 1e-15);
    }

    /// Multinomial counts by successive binomials: every count is placed,
    /// levels of probability 0 get none, and the mean counts over 400
    /// draws of 1000 are within 5 standard errors of `1000 p`.
    #[test]
    fn level_counts_are_multinomial() {
        let p = [0.2, 0.0, 0.3, 0.5];
        let ln_pmf: Vec<f64> = p.iter().map(|v: &f64| v.ln()).collect();
        let mut rng = trial_rng(5);
        let mut sums = [0.0; 4];
        for _ in 0..400 {
            let counts = level_counts(&ln_pmf, 1000, &mut rng).unwrap();
            assert_eq!(counts.iter().sum::<u64>(), 1000);
            assert_eq!(counts[1], 0);
            sums.iter_mut()
                .zip(&counts)
                .for_each(|(s, &c)| *s += c as f64);
        }
        for (k, &pk) in p.iter().enumerate() {
            let se = (1000.0 * pk * (1.0 - pk) / 400.0).sqrt();
            assert!(
                (sums[k] / 400.0 - 1000.0 * pk).abs() <= 5.0 * se + 1e-12,
                "level {k}"
            );
        }
        let last_only = level_counts(&[f64::NEG_INFINITY, f64::NEG_INFINITY, 0.0], 7, &mut rng);
        assert_eq!(last_only.unwrap(), [0, 0, 7]);
    }
}
