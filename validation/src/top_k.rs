//! The first step for continuous score laws in O(K), not O(P): the K
//! largest of the `P - 1` other scores are drawn exactly, as descending
//! order statistics, and the rest of the partition sum is replaced by its
//! conditional mean, with K chosen so that the rest's conditional standard
//! deviation is at most [`REST_TOLERANCE`] of the partition sum
//! (docs/theory.md §7, "Top-K first step", which derives the error bounds).
//!
//! Up to [`STREAM_LIMIT`] other patterns every score is drawn (exact,
//! O(P)); above it the top-K path runs. Both draw from the trial's own
//! generator, so results do not depend on threading.

use rand_distr::{Distribution, Exp1};

use crate::first_step::{streamed, FirstStep};
use crate::partition::Partition;
use crate::seeds::TrialRng;
use crate::ValidationError;

/// Most other patterns whose scores are all drawn (the exact O(P) path).
pub const STREAM_LIMIT: f64 = 65_536.0;

/// Largest conditional standard deviation of the rest of the partition
/// sum, relative to the sampled partition sum, that the top-K path
/// accepts. It bounds the Wasserstein distance between the sampled and
/// the exact law of `w1`, and gives
/// `P(|ln Z - ln Z_sampled| > 1e-3) <= (REST_TOLERANCE / (1 - e^{-1e-3}))^2`,
/// about `1e-6` (docs/theory.md §7).
pub const REST_TOLERANCE: f64 = 1e-6;

/// Most order statistics the top-K path draws before giving up.
pub const MAX_TOP: u64 = 1 << 22;

/// A continuous law of `Y`, the other patterns' scores in units of a
/// scale `s` (the score is `z = s Y`), with what the top-K path needs.
pub(crate) trait TailLaw {
    /// One draw of `Y`.
    fn sample(&self, rng: &mut TrialRng) -> f64;

    /// The `y` with `P(Y > y) = q`. Both `q` and `p = 1 - q` are given,
    /// each to full relative precision, so that neither tail loses digits.
    fn upper_quantile(&self, q: f64, p: f64) -> f64;

    /// `ln E[e^{t Y}; Y < c]` for `t > 0`.
    fn ln_truncated_mgf(&self, t: f64, c: f64) -> f64;
}

/// The first step when the `others` noise scores are `scale Y` with `Y`
/// i.i.d. from `law`: every score drawn up to [`STREAM_LIMIT`], the top-K
/// path above it.
///
/// # Errors
/// As [`top_k`].
pub(crate) fn continuous_first_step(
    signal: f64,
    scale: f64,
    law: &impl TailLaw,
    others: f64,
    rng: &mut TrialRng,
) -> Result<FirstStep, ValidationError> {
    if others <= STREAM_LIMIT {
        Ok(streamed(signal, others as u64, rng, |rng| {
            scale * law.sample(rng)
        }))
    } else {
        top_k(signal, scale, law, others, REST_TOLERANCE, rng).map(|t| t.step)
    }
}

/// A top-K draw: the observables, and what the cutoff left out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct TopK {
    /// The first-step observables.
    pub(crate) step: FirstStep,
    /// Scores drawn exactly (K).
    pub(crate) drawn: u64,
    /// Conditional standard deviation of the rest of the partition sum,
    /// relative to the sampled partition sum (0 when every score is drawn).
    pub(crate) rest_sd: f64,
}

/// The descending order statistics of `others` i.i.d. draws of a law:
/// by exponential spacings, `T_k = sum_{j <= k} E_j / (others - j + 1)`
/// with `E_j ~ Exp(1)` i.i.d. and `P(Y > y_k) = 1 - e^{-T_k}` (the
/// `k`-th smallest of `others` uniforms), each mapped by the quantile.
/// Computing `1 - e^{-T}` with `expm1` keeps tail probabilities far below
/// `1e-16` (down to about `1/others`) at full relative precision.
pub(crate) struct OrderStatistics<'a, L> {
    law: &'a L,
    others: f64,
    spacing_sum: f64,
    drawn: u64,
}

impl<'a, L: TailLaw> OrderStatistics<'a, L> {
    pub(crate) fn new(law: &'a L, others: f64) -> Self {
        Self {
            law,
            others,
            spacing_sum: 0.0,
            drawn: 0,
        }
    }

    /// The next largest value `y_k`, or `None` once all are drawn.
    pub(crate) fn next(&mut self, rng: &mut TrialRng) -> Option<f64> {
        if self.drawn as f64 >= self.others {
            return None;
        }
        let e: f64 = Exp1.sample(rng);
        self.spacing_sum += e / (self.others - self.drawn as f64);
        self.drawn += 1;
        let t = self.spacing_sum;
        Some(self.law.upper_quantile(-(-t).exp_m1(), (-t).exp()))
    }

    /// `ln P(Y < y_k)` at the last value drawn, `-T_k`.
    pub(crate) fn ln_mass_below(&self) -> f64 {
        -self.spacing_sum
    }

    /// Values still below the last one drawn.
    pub(crate) fn remaining(&self) -> f64 {
        self.others - self.drawn as f64
    }
}

/// The top-K first step (docs/theory.md §7): the descending order
/// statistics of the `others` scores ([`OrderStatistics`]); after `k = 1,
/// 2, 4, ...` of them, the rest (i.i.d. below `y_k`) is replaced by its
/// conditional mean once its conditional standard deviation (bounded by
/// the root of its second moment) is at most `tolerance` of the sampled
/// sum `Z_hat`. Every score is drawn exactly when `others` is reached first.
///
/// # Errors
/// [`ValidationError::InvalidParameter`] when the tolerance is not met
/// within [`MAX_TOP`] draws.
pub(crate) fn top_k(
    signal: f64,
    scale: f64,
    law: &impl TailLaw,
    others: f64,
    tolerance: f64,
    rng: &mut TrialRng,
) -> Result<TopK, ValidationError> {
    let mut partition = Partition::new();
    partition.add_block(&[signal]);
    let mut order = OrderStatistics::new(law, others);
    let (mut best, mut drawn, mut next_check) = (f64::NEG_INFINITY, 0_u64, 1_u64);
    while let Some(y) = order.next(rng) {
        let z = scale * y;
        best = best.max(z);
        partition.add_many(z, 1.0);
        drawn += 1;
        if drawn < next_check || order.remaining() == 0.0 {
            continue;
        }
        next_check *= 2;
        let rest = Rest::below(law, &order, scale, y);
        let ln_z_hat = log_add_exp(partition.ln(), rest.ln_mean);
        let rest_sd = (0.5 * rest.ln_second_moment - ln_z_hat).exp();
        if rest_sd <= tolerance {
            partition.add_many(rest.ln_mean, 1.0);
            return Ok(done(signal, best, &partition, drawn, rest_sd));
        }
        if drawn >= MAX_TOP {
            return Err(ValidationError::InvalidParameter(format!(
                "the top-K first step did not reach a relative rest deviation of {tolerance:e} \
                 within {MAX_TOP} scores (reached {rest_sd:e}); lower alpha or N"
            )));
        }
    }
    Ok(done(signal, best, &partition, drawn, 0.0))
}

/// The rest of the partition sum, `R = sum e^{s Y_i}` over the values
/// still below the last order statistic `y`: conditionally i.i.d. from the
/// law truncated to `Y < y`, whose mass is `F(y)`.
struct Rest {
    /// `ln E R = ln(count E[e^{sY}; Y < y] / F(y))`.
    ln_mean: f64,
    /// `ln(count E[e^{2sY}; Y < y] / F(y))`, at least `ln Var R`.
    ln_second_moment: f64,
}

impl Rest {
    fn below<L: TailLaw>(law: &L, order: &OrderStatistics<'_, L>, scale: f64, y: f64) -> Rest {
        let ln_count = order.remaining().ln() - order.ln_mass_below();
        Rest {
            ln_mean: ln_count + law.ln_truncated_mgf(scale, y),
            ln_second_moment: ln_count + law.ln_truncated_mgf(2.0 * scale, y),
        }
    }
}

/// The finished draw.
fn done(signal: f64, best: f64, partition: &Partition, drawn: u64, rest_sd: f64) -> TopK {
    TopK {
        step: FirstStep {
            w1: partition.weight_of(signal),
            xi1_largest: signal > best,
        },
        drawn,
        rest_sd,
    }
}

/// `ln(e^a + e^b)`.
fn log_add_exp(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    if lo == f64::NEG_INFINITY {
        hi
    } else {
        hi + (lo - hi).exp().ln_1p()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampler::gaussian::{gaussian_start, ln_normal_tail, StandardGaussian};
    use crate::sampler::spherical::SphericalOverlap;
    use crate::seeds::trial_rng;
    use crate::Start;
    use statrs::function::beta::beta_reg;
    use statrs::function::gamma::gamma_ur;

    /// `ln Q(x)` against 20-digit values from mpmath
    /// (`log(erfc(x/sqrt(2))/2)`), on both sides of the switch to the
    /// continued fraction and beyond `erfc`'s underflow.
    #[test]
    fn gaussian_log_tail_is_accurate() {
        for (x, exact) in [
            (1.0, -1.841_021_645_009_263_5),
            (5.0, -15.064_998_393_988_726),
            (20.0, -203.917_155_371_097_26),
            (30.0, -454.321_243_956_343_2),
            (40.0, -804.608_442_013_753_8),
            (60.0, -1805.013_560_680_567_1),
        ] {
            let got = ln_normal_tail(x);
            assert!(
                (got - exact).abs() <= 1e-13 * exact.abs(),
                "x = {x}: {got} vs {exact}"
            );
        }
        let (below, above) = (ln_normal_tail(20.0 - 1e-9), ln_normal_tail(20.0 + 1e-9));
        assert!((below - above - 40.05e-9).abs() < 1e-10, "{below} {above}");
    }

    /// The quantiles invert the tails to full precision from `q = 0.3`
    /// down to `q = 1e-250`: `ln P(Y > y(q)) = ln q` within `1e-12`
    /// relative for gaussian scores, and for spherical overlaps (N = 10,
    /// 64, 256) in terms of `x = (1 - u)/2` (`u = 1 - 2x` itself is only
    /// resolved to an ulp of 1); from the upper side `P(Y < y) = p`.
    #[test]
    fn quantiles_invert_far_tails() {
        let laws: Vec<(usize, SphericalOverlap)> = [10, 64, 256]
            .into_iter()
            .map(|n| (n, SphericalOverlap::new(n).unwrap()))
            .collect();
        for k in (1..=250).step_by(7) {
            let ln_q = -(k as f64) * std::f64::consts::LN_10 + 0.2;
            let q = ln_q.exp();
            let y = StandardGaussian.upper_quantile(q, 1.0 - q);
            let err = (ln_normal_tail(y) - ln_q).abs();
            assert!(err <= 1e-12 * ln_q.abs(), "gaussian q = {q:e}: {err:e}");
            let low = StandardGaussian.upper_quantile(1.0 - q, q);
            assert!((low + y).abs() <= 1e-12 * y.abs(), "{low} vs {y}");
            for (n, law) in &laws {
                let x = law.lower_beta_quantile(q);
                let u = law.upper_quantile(q, 1.0 - q);
                assert_eq!(u, 1.0 - 2.0 * x);
                let a = (*n as f64 - 1.0) / 2.0;
                let err = (beta_reg(a, a, x).ln() - ln_q).abs();
                assert!(err <= 1e-12 * ln_q.abs(), "N = {n}, q = {q:e}: {err:e}");
                let low = law.upper_quantile(1.0 - q, q);
                assert!((low + u).abs() <= 1e-12, "N = {n}: {low} vs {u}");
            }
        }
        // Against mpmath: ln P(u > 0.8) = -133.73011817924049 at N = 256.
        let law = SphericalOverlap::new(256).unwrap();
        let q = (-133.730_118_179_240_49_f64).exp();
        assert!((law.upper_quantile(q, 1.0 - q) - 0.8).abs() < 1e-13);
    }

    /// `ln E[e^{tu}; u < c]` of spherical overlaps against mpmath's
    /// adaptive quadrature at 40 digits, in the paramagnetic (peak below
    /// `c`) and the frozen (peak above `c`) case, within `1e-10`.
    #[test]
    fn spherical_truncated_mgf_matches_reference() {
        for (n, t, c, exact) in [
            (256, 256.0, 0.7, 96.696_222_719_744_95),
            (256, 256.0, 0.5, 88.927_445_719_632_31),
            (256, 512.0, 0.85, 279.591_398_881_113_06),
            (64, 64.0, 0.9, 24.234_147_778_448_59),
            (10, 10.0, 0.2, -0.219_691_322_786_486_4),
        ] {
            let got = SphericalOverlap::new(n).unwrap().ln_truncated_mgf(t, c);
            assert!(
                (got - exact).abs() < 1e-10,
                "N = {n}, t = {t}, c = {c}: {got} vs {exact}"
            );
        }
    }

    /// Kolmogorov-Smirnov distance between a sample and a CDF.
    fn ks_distance(mut sample: Vec<f64>, cdf: impl Fn(f64) -> f64) -> f64 {
        sample.sort_by(f64::total_cmp);
        let n = sample.len() as f64;
        sample
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                let f = cdf(x);
                (f - i as f64 / n).abs().max((f - (i + 1) as f64 / n).abs())
            })
            .fold(0.0, f64::max)
    }

    /// The `k`-th largest of `others` draws of `law`, `reps` times.
    fn kth_largest(law: &impl TailLaw, others: f64, k: usize, reps: u64, seed: u64) -> Vec<f64> {
        let mut rng = trial_rng(seed);
        (0..reps)
            .map(|_| {
                let mut order = OrderStatistics::new(law, others);
                (0..k).map(|_| order.next(&mut rng).unwrap()).last().unwrap()
            })
            .collect()
    }

    /// KS critical value at level 0.001 for `n` draws.
    fn ks_critical(n: usize) -> f64 {
        1.95 / (n as f64).sqrt()
    }

    /// The largest of P = 1e30 gaussian scores follows `Phi(x)^P`, and the
    /// 100th largest `P(Bin(P, Q(x)) < 100)` (Poisson to within `Q(x) <
    /// 1e-27`): Kolmogorov-Smirnov distances below the 0.1% critical value.
    /// So do the largest of 1e30 and the 30th largest of 1e12 spherical
    /// overlaps at N = 256 and 64, with `P(u > x) = I_{(1-x)/2}(a, a)`.
    #[test]
    fn order_statistics_follow_extreme_value_laws() {
        let reps = 20_000;
        let p = 1e30;
        let max = kth_largest(&StandardGaussian, p, 1, reps, 21);
        let d = ks_distance(max, |x| (p * (-ln_normal_tail(x).exp()).ln_1p()).exp());
        assert!(d < ks_critical(reps as usize), "gaussian max: D = {d}");
        let reps = 4_000;
        let hundredth = kth_largest(&StandardGaussian, p, 100, reps, 22);
        let d = ks_distance(hundredth, |x| gamma_ur(100.0, p * ln_normal_tail(x).exp()));
        assert!(d < ks_critical(reps as usize), "gaussian 100th: D = {d}");
        for (n, p, k, seed) in [(256, 1e30, 1, 23), (64, 1e12, 30, 24)] {
            let law = SphericalOverlap::new(n).unwrap();
            let a = (n as f64 - 1.0) / 2.0;
            let tail = |x: f64| beta_reg(a, a, (1.0 - x) / 2.0);
            let d = ks_distance(kth_largest(&law, p, k, reps, seed), |x| {
                gamma_ur(k as f64, p * tail(x))
            });
            assert!(d < ks_critical(reps as usize), "spherical N = {n}: D = {d}");
        }
    }
}
