//! The first step for continuous score laws in O(K), not O(P): the K
//! largest of the `P - 1` other scores are drawn exactly, as descending
//! order statistics, and the rest of the partition sum, a sum of
//! conditionally i.i.d. terms below the K-th score, is drawn from the
//! normal law with its exact conditional mean and variance. K grows until
//! the bounds of docs/theory.md §7 ("Top-K first step") hold: the
//! retrieval probability is off by at most [`RETRIEVAL_TOLERANCE`], and
//! the partition sum by at most [`Z_TOLERANCE`] of itself in mean.
//!
//! Up to [`STREAM_LIMIT`] other patterns every score is drawn (exact,
//! O(P)); above it the top-K path runs. Both draw from the trial's own
//! generator, so results do not depend on threading.

use rand_distr::{Distribution, Exp1, StandardNormal};

use crate::first_step::{streamed, FirstStep};
use crate::partition::Partition;
use crate::seeds::TrialRng;
use crate::ValidationError;

/// Most other patterns whose scores are all drawn (the exact O(P) path).
pub const STREAM_LIMIT: f64 = 65_536.0;

/// Bound on the error of a trial's retrieval probability, `P(w1 > 1/2)`
/// given the top K, that the top-K path accepts; the retrieval
/// probability of every point is then off by at most as much
/// (docs/theory.md §7: Berry-Esseen or Cantelli, whichever is smaller).
pub const RETRIEVAL_TOLERANCE: f64 = 1e-3;

/// Bound on the Wasserstein distance between the sampled and the exact
/// rest of the partition sum, relative to the sampled partition sum, that
/// the top-K path accepts: the rest is off by at most its largest possible
/// term, `e^{s y_K}`, in mean (docs/theory.md §7), so
/// `E|Z - Z_sampled| <= Z_TOLERANCE Z_hat` and, by Markov's inequality,
/// `P(|Z/Z_sampled - 1| > 1e-3) <= 1e-3`.
pub const Z_TOLERANCE: f64 = 1e-6;

/// Shevtsova's (2011) constant of the Berry-Esseen bound for i.i.d. sums.
const BERRY_ESSEEN: f64 = 0.4748;

/// Most order statistics the top-K path draws before giving up.
pub const MAX_TOP: u64 = 1 << 22;

/// A continuous law of `Y`, the other patterns' scores in units of a
/// scale `s` (the score is `z = s Y`), with what the top-K path needs.
pub(crate) trait TailLaw {
    /// One draw of `Y`.
    fn sample(&self, rng: &mut TrialRng) -> f64;

    /// The `y` with `P(Y > y) = q`. Both `q` and `p = 1 - q` are given,
    /// each to full relative precision, so that neither tail loses digits;
    /// `above` is a value known to lie at or above `y` (the previous order
    /// statistic, or `+inf`), which an iterative inverse may start from.
    fn upper_quantile(&self, q: f64, p: f64, above: f64) -> f64;

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
        let mut order = OrderStatistics::new(law, others);
        top_k(signal, scale, &mut order, Tolerances::DEFAULT, rng).map(|t| t.step)
    }
}

/// When the top-K path may stop (see [`RETRIEVAL_TOLERANCE`] and
/// [`Z_TOLERANCE`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Tolerances {
    /// Bound on the error of the trial's retrieval probability.
    pub(crate) retrieval: f64,
    /// Bound on the rest's Wasserstein error relative to `Z_hat`.
    pub(crate) z: f64,
}

impl Tolerances {
    /// The tolerances of every study.
    pub(crate) const DEFAULT: Tolerances = Tolerances {
        retrieval: RETRIEVAL_TOLERANCE,
        z: Z_TOLERANCE,
    };
}

/// A top-K draw: the observables, and what the cutoff left out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct TopK {
    /// The first-step observables.
    pub(crate) step: FirstStep,
    /// Scores drawn exactly (K).
    pub(crate) drawn: u64,
    /// The rest's law (`None` when every score is drawn).
    pub(crate) rest: Option<Rest>,
    /// `ln` of `e^{signal}` plus the K scores drawn.
    pub(crate) ln_top: f64,
}

/// The descending order statistics of `others` i.i.d. draws of a law:
/// by exponential spacings, `T_k = sum_{j <= k} E_j / (others - j + 1)`
/// with `E_j ~ Exp(1)` i.i.d. and `P(Y > y_k) = 1 - e^{-T_k}` (the
/// `k`-th smallest of `others` uniforms), each mapped by the quantile.
/// Computing `1 - e^{-T}` with `expm1` keeps tail probabilities far below
/// `1e-16` (down to about `1/others`) at full relative precision.
pub(crate) struct OrderStatistics<'a, L: ?Sized> {
    law: &'a L,
    others: f64,
    spacing_sum: f64,
    drawn: u64,
    last: f64,
}

impl<'a, L: TailLaw + ?Sized> OrderStatistics<'a, L> {
    pub(crate) fn new(law: &'a L, others: f64) -> Self {
        Self {
            law,
            others,
            spacing_sum: 0.0,
            drawn: 0,
            last: f64::INFINITY,
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
        self.last = self
            .law
            .upper_quantile(-(-t).exp_m1(), (-t).exp(), self.last);
        Some(self.last)
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
/// statistics of the scores (`scale` times the values of `order`, which
/// is left after the last value used). After `k = 1, 2, 4, ...` of them
/// the rest `R` (the others, i.i.d. below `y_k`) is drawn from the normal
/// law with its conditional mean and variance, clamped at 0, once both
/// - its Wasserstein error, at most the largest possible rest term
///   `e^{s y_k}`, is at most `tolerances.z` of `Z_hat`
///   (`e^{signal}` + top + `E R`), and
/// - the error of the trial's retrieval probability `P(R < tau)` with
///   `tau = e^{signal} - top`, at most the smaller of the Berry-Esseen bound
///   `0.4748 e^{s y_k} / sd R` and the Cantelli bound
///   `Var R / (Var R + (tau - E R)^2)`, is at most `tolerances.retrieval`.
///
/// Every score is drawn exactly when `others` is reached first.
///
/// # Errors
/// [`ValidationError::InvalidParameter`] when the tolerances are not met
/// within [`MAX_TOP`] draws.
pub(crate) fn top_k<L: TailLaw + ?Sized>(
    signal: f64,
    scale: f64,
    order: &mut OrderStatistics<'_, L>,
    tolerances: Tolerances,
    rng: &mut TrialRng,
) -> Result<TopK, ValidationError> {
    let mut partition = Partition::new();
    partition.add_block(&[signal]);
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
        let rest = Rest::below(order, scale, y);
        let ln_top = partition.ln();
        let (z_error, retrieval_error) = rest.errors(signal, ln_top);
        if z_error <= tolerances.z && retrieval_error <= tolerances.retrieval {
            // R relative to e^{ln_top}, clamped at 0.
            let g: f64 = StandardNormal.sample(rng);
            let relative = (rest.ln_mean - ln_top).exp() + (0.5 * rest.ln_var - ln_top).exp() * g;
            if relative > 0.0 {
                partition.add_many(ln_top + relative.ln(), 1.0);
            }
            return Ok(done(signal, best, &partition, drawn, Some(rest), ln_top));
        }
        if drawn >= MAX_TOP {
            return Err(ValidationError::InvalidParameter(format!(
                "the top-K first step did not meet its tolerances within {MAX_TOP} scores \
                 (Z error {z_error:e}, retrieval error {retrieval_error:e}); lower alpha or N"
            )));
        }
    }
    let ln_top = partition.ln();
    Ok(done(signal, best, &partition, drawn, None, ln_top))
}

/// The finished draw.
fn done(
    signal: f64,
    best: f64,
    partition: &Partition,
    drawn: u64,
    rest: Option<Rest>,
    ln_top: f64,
) -> TopK {
    TopK {
        step: FirstStep {
            w1: partition.weight_of(signal),
            xi1_largest: signal > best,
        },
        drawn,
        rest,
        ln_top,
    }
}

/// The law of the rest of the partition sum, `R = sum e^{s Y_i}` over the
/// values still below the last order statistic `y`: given the top, they
/// are i.i.d. from the law truncated to `Y < y`, of mass `F(y)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Rest {
    /// `ln E R = ln(n m_1 / F)` with `m_j = E[e^{jsY}; Y < y]` and `n`
    /// values left.
    pub(crate) ln_mean: f64,
    /// `ln Var R = ln(n (m_2 / F - (m_1 / F)^2))`.
    pub(crate) ln_var: f64,
    /// `ln` of the largest possible term, `s y`.
    pub(crate) ln_cut: f64,
}

impl Rest {
    fn below<L: TailLaw + ?Sized>(order: &OrderStatistics<'_, L>, scale: f64, y: f64) -> Rest {
        let ln_count = order.remaining().ln();
        let ln_f = order.ln_mass_below();
        let ln_m1 = order.law.ln_truncated_mgf(scale, y) - ln_f;
        let ln_m2 = order.law.ln_truncated_mgf(2.0 * scale, y) - ln_f;
        // Var = m2 - m1^2 >= 0 (Jensen), in logs without overflow.
        let ln_var_one = ln_m2 + (-(2.0 * ln_m1 - ln_m2).min(0.0).exp_m1()).ln();
        Rest {
            ln_mean: ln_count + ln_m1,
            ln_var: ln_count + ln_var_one,
            ln_cut: scale * y,
        }
    }

    /// The two error bounds of [`top_k`] for a trial with `signal` and
    /// `ln(e^{signal} + top)` = `ln_top`: the rest's Wasserstein error
    /// relative to `Z_hat`, and the error of the retrieval probability.
    fn errors(&self, signal: f64, ln_top: f64) -> (f64, f64) {
        let ln_z_hat = log_add_exp(ln_top, self.ln_mean);
        let z_error = (self.ln_cut - ln_z_hat).exp();
        // In units of Z_hat: tau = 2 e^{signal} - (e^{signal} + top).
        let tau = 2.0 * (signal - ln_z_hat).exp() - (ln_top - ln_z_hat).exp();
        let mean = (self.ln_mean - ln_z_hat).exp();
        let var = (self.ln_var - 2.0 * ln_z_hat).exp();
        let berry_esseen = BERRY_ESSEEN * (self.ln_cut - 0.5 * self.ln_var).exp();
        let cantelli = var / (var + (tau - mean).powi(2));
        let retrieval = if tau <= 0.0 {
            0.0
        } else {
            berry_esseen.min(cantelli)
        };
        (z_error, retrieval)
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

    /// `Y` uniform on `(0, 1)`: every quantity of the top-K path in closed
    /// form. `P(Y > y) = 1 - y`, so the upper quantile is `p`;
    /// `E[e^{tY}; Y < c] = (e^{tc} - 1)/t`.
    struct Uniform;

    impl TailLaw for Uniform {
        fn sample(&self, rng: &mut TrialRng) -> f64 {
            rand::RngExt::random::<f64>(rng)
        }

        fn upper_quantile(&self, _q: f64, p: f64, _above: f64) -> f64 {
            p
        }

        fn ln_truncated_mgf(&self, t: f64, c: f64) -> f64 {
            ((t * c).exp_m1() / t).ln()
        }
    }

    /// Uniform order statistics: they descend inside `(0, 1)`, the mass
    /// below the last one is the value itself (`ln F(y) = ln y`), the count
    /// left falls by one per draw, and the draws stop after `others`.
    #[test]
    fn order_statistics_of_uniforms() {
        let mut rng = trial_rng(3);
        let mut order = OrderStatistics::new(&Uniform, 50.0);
        let mut last = 1.0;
        for k in 1..=50 {
            let y = order.next(&mut rng).unwrap();
            assert!(y > 0.0 && y < last, "draw {k}: {y} after {last}");
            assert!((order.ln_mass_below() - y.ln()).abs() <= 1e-14 * y.ln().abs().max(1.0));
            assert_eq!(order.remaining(), (50 - k) as f64);
            last = y;
        }
        assert_eq!(order.next(&mut rng), None);
    }

    /// The rest's law below the `k`-th of `M` uniform scores `s Y`: the
    /// `M - k` values left are uniform on `(0, y)`, so `E e^{sY} = (e^{sy}
    /// - 1)/(s y)` and `E e^{2sY} = (e^{2sy} - 1)/(2 s y)` per value, and
    /// the largest term is `e^{sy}`.
    #[test]
    fn rest_of_uniform_scores_in_closed_form() {
        let (others, s) = (1000.0, 3.0);
        let mut rng = trial_rng(4);
        let mut order = OrderStatistics::new(&Uniform, others);
        for k in 1..=40 {
            let y = order.next(&mut rng).unwrap();
            let rest = Rest::below(&order, s, y);
            let n = others - k as f64;
            let m1 = (s * y).exp_m1() / (s * y);
            let m2 = (2.0 * s * y).exp_m1() / (2.0 * s * y);
            let (mean, var) = (n * m1, n * (m2 - m1 * m1));
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs();
            assert!(close(rest.ln_mean.exp(), mean), "k = {k}: {rest:?}");
            assert!(close(rest.ln_var.exp(), var), "k = {k}: {rest:?} vs {var}");
            assert_eq!(rest.ln_cut, s * y);
        }
    }

    /// The two error bounds from their definitions in plain arithmetic
    /// (`Z_hat = e^{ln_top} + E R`, `tau = (2 e^{signal} - e^{ln_top}) /
    /// Z_hat`), where Berry-Esseen is the smaller bound, where Cantelli is,
    /// and where the signal cannot win (`tau <= 0`, error 0).
    #[test]
    fn error_bounds_from_their_definitions() {
        let cases = [
            // (signal, ln_top, ln_mean, ln_var, ln_cut)
            (2.0, 2.5, 1.0, -2.0, -3.0),
            (2.0, 2.1, 0.5, 1.5, 0.4),
            (1.0, 3.0, 1.0, 0.0, -1.0),
        ];
        let mut smaller = Vec::new();
        for (signal, ln_top, ln_mean, ln_var, ln_cut) in cases {
            let rest = Rest {
                ln_mean,
                ln_var,
                ln_cut,
            };
            let (z_error, retrieval) = rest.errors(signal, ln_top);
            let z_hat = ln_top.exp() + ln_mean.exp();
            assert!((z_error - ln_cut.exp() / z_hat).abs() <= 1e-15);
            let tau = (2.0 * signal.exp() - ln_top.exp()) / z_hat;
            let (mean, var) = (ln_mean.exp() / z_hat, ln_var.exp() / z_hat.powi(2));
            let berry_esseen = 0.4748 * ln_cut.exp() / ln_var.exp().sqrt();
            let cantelli = var / (var + (tau - mean).powi(2));
            let expected = if tau <= 0.0 {
                smaller.push("none");
                0.0
            } else {
                smaller.push(if berry_esseen < cantelli { "BE" } else { "C" });
                berry_esseen.min(cantelli)
            };
            assert!(
                (retrieval - expected).abs() <= 1e-14,
                "{retrieval} vs {expected}"
            );
        }
        assert_eq!(smaller, ["BE", "C", "none"]);
        assert_eq!(log_add_exp(f64::NEG_INFINITY, 2.0), 2.0);
        assert_eq!(log_add_exp(2.0, f64::NEG_INFINITY), 2.0);
        assert!((log_add_exp(0.0, 0.0) - std::f64::consts::LN_2).abs() < 1e-16);
    }

    /// [`top_k`] against its rule written out: the same order statistics
    /// drawn one by one, the bounds checked after `k = 1, 2, 4, ...`
    /// draws (while values are left), and at the first `k` where both hold
    /// the rest drawn as `max(0, E R + sd R g)` with the next normal `g`;
    /// `w1 = e^{signal} / (e^{signal} + sum_{i <= k} e^{s y_i} + R)` in
    /// plain arithmetic. Uniform scores `s Y`, `s = 8`, `M = 2000`, with
    /// each bound the binding one in turn, and tolerances never met (every
    /// score drawn). `xi1_largest` both ways.
    #[test]
    fn top_k_follows_its_stopping_rule() {
        let (others, s) = (2000.0, 8.0);
        let loose = 1.0;
        let cases = [
            (
                Tolerances {
                    retrieval: loose,
                    z: 1e-3,
                },
                9.0,
            ),
            (
                Tolerances {
                    retrieval: 1e-2,
                    z: loose,
                },
                10.5,
            ),
            (
                Tolerances {
                    retrieval: 1e-2,
                    z: 1e-4,
                },
                8.0,
            ),
            (
                Tolerances {
                    retrieval: 0.0,
                    z: 0.0,
                },
                7.0,
            ),
        ];
        let (mut drawn, mut largest) = (Vec::new(), Vec::new());
        for (c, (tolerances, signal)) in cases.into_iter().enumerate() {
            for seed in 0..5 {
                let seed = 100 * c as u64 + seed;
                let mut order = OrderStatistics::new(&Uniform, others);
                let got = top_k(signal, s, &mut order, tolerances, &mut trial_rng(seed)).unwrap();
                let expected = stopping_rule(signal, s, others, tolerances, seed);
                assert_eq!(got.drawn, expected.drawn, "case {c} seed {seed}");
                assert_eq!(got.rest, expected.rest, "case {c} seed {seed}");
                assert_eq!(got.step.xi1_largest, expected.step.xi1_largest);
                let w1 = (got.step.w1, expected.step.w1);
                assert!((w1.0 - w1.1).abs() <= 1e-12 * w1.1, "{w1:?}");
                assert!((got.ln_top - expected.ln_top).abs() <= 1e-12 * expected.ln_top.abs());
                drawn.push(got.drawn);
                largest.push(got.step.xi1_largest);
            }
        }
        // Stops at several depths, and all the way down.
        drawn.sort_unstable();
        drawn.dedup();
        assert!(drawn.len() >= 3 && drawn.contains(&2000), "{drawn:?}");
        assert!(largest.contains(&true) && largest.contains(&false));
    }

    /// [`top_k_follows_its_stopping_rule`]'s rule, written out.
    fn stopping_rule(signal: f64, s: f64, others: f64, tol: Tolerances, seed: u64) -> TopK {
        let mut rng = trial_rng(seed);
        let mut order = OrderStatistics::new(&Uniform, others);
        let (mut top, mut best, mut k) = (signal.exp(), f64::NEG_INFINITY, 0_u64);
        let mut stop = None;
        while let Some(y) = order.next(&mut rng) {
            k += 1;
            top += (s * y).exp();
            best = best.max(s * y);
            if !k.is_power_of_two() || order.remaining() == 0.0 {
                continue;
            }
            let rest = Rest::below(&order, s, y);
            let (z_error, retrieval) = rest.errors(signal, top.ln());
            if z_error <= tol.z && retrieval <= tol.retrieval {
                let g: f64 = StandardNormal.sample(&mut rng);
                let r = (rest.ln_mean.exp() + (0.5 * rest.ln_var).exp() * g).max(0.0);
                stop = Some((rest, r));
                break;
            }
        }
        let step = FirstStep {
            w1: signal.exp() / (top + stop.map_or(0.0, |(_, r)| r)),
            xi1_largest: signal > best,
        };
        TopK {
            step,
            drawn: k,
            rest: stop.map(|(rest, _)| rest),
            ln_top: top.ln(),
        }
    }

    /// Up to [`STREAM_LIMIT`] other scores the first step draws them all
    /// (the same numbers as [`streamed`] with `scale Y`), above it the
    /// top-K path (the same as [`top_k`] from the same generator); the
    /// scale enters both.
    #[test]
    fn continuous_first_step_picks_its_path() {
        for (others, scale) in [(STREAM_LIMIT, 3.0), (STREAM_LIMIT + 1.0, 40.0)] {
            let got =
                continuous_first_step(9.0, scale, &Uniform, others, &mut trial_rng(5)).unwrap();
            let mut rng = trial_rng(5);
            let expected = if others <= STREAM_LIMIT {
                streamed(9.0, others as u64, &mut rng, |r| scale * Uniform.sample(r))
            } else {
                let mut order = OrderStatistics::new(&Uniform, others);
                let top = top_k(9.0, scale, &mut order, Tolerances::DEFAULT, &mut rng).unwrap();
                assert!(top.drawn < 32_768, "the cutoff acts: {}", top.drawn);
                top.step
            };
            assert_eq!(got, expected, "M = {others}");
        }
    }

    /// Tolerances that cannot be met stop the top-K path with an error
    /// after [`MAX_TOP`] scores, not a hang.
    #[test]
    fn unmet_tolerances_stop_at_the_limit() {
        let never = Tolerances {
            retrieval: -1.0,
            z: -1.0,
        };
        let mut order = OrderStatistics::new(&Uniform, 1e12);
        let err = top_k(1.0, 1.0, &mut order, never, &mut trial_rng(6)).unwrap_err();
        assert!(err.to_string().contains("within 4194304 scores"), "{err}");
        assert_eq!(order.remaining(), 1e12 - MAX_TOP as f64);
    }

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
            (60.0, -1_805.013_560_680_567),
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
    /// down to `q = 1e-250`: `ln P(Y > y(q)) = ln q` within `2e-15`
    /// relative for gaussian scores (also near `q = 1/2`), and within
    /// `1e-12` for spherical overlaps (N = 10, 64, 256) in terms of `x = (1
    /// - u)/2` (`u = 1 - 2x` itself is only resolved to an ulp of 1); from
    /// the upper side `P(Y < y) = p`.
    #[test]
    fn quantiles_invert_far_tails() {
        let laws: Vec<(usize, SphericalOverlap)> = [10, 64, 256]
            .into_iter()
            .map(|n| (n, SphericalOverlap::new(n).unwrap()))
            .collect();
        for k in (1..=250).step_by(7) {
            let ln_q = -(k as f64) * std::f64::consts::LN_10 + 0.2;
            let q = ln_q.exp();
            let y = StandardGaussian.upper_quantile(q, 1.0 - q, f64::INFINITY);
            let err = (ln_normal_tail(y) - ln_q).abs();
            assert!(err <= 2e-15 * ln_q.abs(), "gaussian q = {q:e}: {err:e}");
            let low = StandardGaussian.upper_quantile(1.0 - q, q, f64::INFINITY);
            assert!((low + y).abs() <= 1e-12 * y.abs(), "{low} vs {y}");
            for (n, law) in &laws {
                let x = law.lower_beta_quantile(q, f64::NAN);
                let u = law.upper_quantile(q, 1.0 - q, f64::INFINITY);
                assert_eq!(u, 1.0 - 2.0 * x);
                let a = (*n as f64 - 1.0) / 2.0;
                let err = (beta_reg(a, a, x).ln() - ln_q).abs();
                assert!(err <= 1e-12 * ln_q.abs(), "N = {n}, q = {q:e}: {err:e}");
                let low = law.upper_quantile(1.0 - q, q, f64::INFINITY);
                assert!((low + u).abs() <= 1e-12, "N = {n}: {low} vs {u}");
            }
        }
        // Gaussian tails near q = 1/2, where y is small, to rounding too.
        for k in 1..=40 {
            let q = 0.5 - 0.0123 * k as f64;
            let y = StandardGaussian.upper_quantile(q, 1.0 - q, f64::INFINITY);
            let err = (ln_normal_tail(y) - q.ln()).abs();
            assert!(err <= 2e-15 * q.ln().abs(), "gaussian q = {q}: {err:e}");
        }
        // Against mpmath: ln P(u > 0.8) = -133.73011817924049 at N = 256.
        let law = SphericalOverlap::new(256).unwrap();
        let q = (-133.730_118_179_240_5_f64).exp();
        assert!((law.upper_quantile(q, 1.0 - q, f64::INFINITY) - 0.8).abs() < 1e-13);
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
            (512, 1024.0, 0.9, 558.950_331_520_855_9),
            (512, 512.0, 0.8, 193.322_015_514_075_66),
            (512, 512.0, 0.55, 187.319_841_878_153_1),
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
                (0..k)
                    .map(|_| order.next(&mut rng).unwrap())
                    .last()
                    .unwrap()
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

    /// Signal and scale of a gaussian first step from xi^1 at size `n`.
    fn gaussian_scores(n: usize, lambda: f64, rng: &mut TrialRng) -> (f64, f64) {
        let start = gaussian_start(n, Start::Pattern, rng).unwrap();
        (lambda * start.xi1_dot_x0, lambda * start.x0_norm_sq.sqrt())
    }

    /// The rest's conditional law (docs/theory.md §7) on one probability
    /// space: after a top-K draw (loose tolerances, so that it stops after
    /// a few dozen scores), the same order statistics are continued to the
    /// last of `M` scores, which gives the exact rest `R` of that trial.
    /// Its standardised value `u = (R - E R) / sd R` has mean 0 and mean
    /// square 1 within 4 standard errors, for gaussian scores (N = 24,
    /// lambda = 1, M = 5000, 1000 trials) and spherical ones (N = 16,
    /// lambda = 1, M = 1000, 500 trials).
    #[test]
    fn rest_moments_match_the_exact_rest() {
        let loose = Tolerances {
            retrieval: 1.0,
            z: 1e-2,
        };
        let spherical = SphericalOverlap::new(16).unwrap();
        let gaussian = |rng: &mut TrialRng| gaussian_scores(24, 1.0, rng);
        let sphere = |_: &mut TrialRng| (16.0, 16.0);
        standardised_rest(
            &StandardGaussian,
            &gaussian,
            5000.0,
            1000,
            loose,
            "gaussian",
        );
        standardised_rest(&spherical, &sphere, 1000.0, 500, loose, "spherical");
    }

    /// Checks the standardised rest of [`rest_moments_match_the_exact_rest`].
    fn standardised_rest(
        law: &impl TailLaw,
        scores: &Scores,
        others: f64,
        trials: usize,
        loose: Tolerances,
        name: &str,
    ) {
        let mut rng = trial_rng(31);
        let mut u = Vec::new();
        for _ in 0..trials {
            let (signal, scale) = scores(&mut rng);
            let mut order = OrderStatistics::new(law, others);
            let top = top_k(signal, scale, &mut order, loose, &mut rng).unwrap();
            let Some(rest) = top.rest else { continue };
            let mut exact = Partition::new();
            while let Some(y) = order.next(&mut rng) {
                exact.add_many(scale * y, 1.0);
            }
            let shift = rest.ln_mean;
            let r = (exact.ln() - shift).exp();
            u.push((r - 1.0) / (0.5 * rest.ln_var - shift).exp());
        }
        assert!(
            u.len() > trials / 2,
            "{name}: the cutoff acted in {} trials",
            u.len()
        );
        let squares: Vec<f64> = u.iter().map(|v| v * v).collect();
        for (what, values, expected) in [("mean", &u, 0.0), ("mean square", &squares, 1.0)] {
            let n = values.len() as f64;
            let m = values.iter().sum::<f64>() / n;
            let se = (values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0) / n).sqrt();
            assert!(
                (m - expected).abs() < 4.0 * se,
                "{name} {what}: {m} +- {se}"
            );
        }
    }

    /// Draws a trial's signal and noise scale.
    type Scores = dyn Fn(&mut TrialRng) -> (f64, f64);

    /// Two-sample Kolmogorov-Smirnov distance.
    fn ks_two_sample(a: &[f64], b: &[f64]) -> f64 {
        let mut b = b.to_vec();
        b.sort_by(f64::total_cmp);
        let n = b.len() as f64;
        ks_distance(a.to_vec(), |x| b.partition_point(|&v| v <= x) as f64 / n)
    }

    /// The top-K path (default tolerances) and the exact path (every
    /// score drawn) agree in law on 600 seeds each, at `M = 10^5` other
    /// scores, where the top-K path stops after `10^2` to `10^4` scores:
    /// gaussian patterns at lambda = 2 (frozen, N = 23, near the crossing)
    /// and 0.7 (paramagnetic, N = 30), spherical at lambda = 1 (N = 24).
    /// The two-sample KS distance of `w1` (so of `ln Z`, a monotone
    /// function of it) stays below its 0.1% critical value
    /// `1.95 sqrt(2/600) = 0.113`, and the cutoff acts (fewer than `M`
    /// scores drawn) in most top-K trials.
    #[test]
    fn top_k_matches_the_exact_first_step_in_law() {
        let (others, trials) = (1e5, 600);
        let spherical = SphericalOverlap::new(24).unwrap();
        let gaussian = |n: usize, lambda: f64| {
            move |rng: &mut TrialRng| -> (f64, f64) { gaussian_scores(n, lambda, rng) }
        };
        let sphere = |_: &mut TrialRng| (24.0, 24.0);
        let frozen = gaussian(23, 2.0);
        let para = gaussian(30, 0.7);
        let cases: [(&str, &dyn TailLaw, &Scores); 3] = [
            ("gaussian lambda 2", &StandardGaussian, &frozen),
            ("gaussian lambda 0.7", &StandardGaussian, &para),
            ("spherical lambda 1", &spherical, &sphere),
        ];
        for (i, (name, law, scores)) in cases.into_iter().enumerate() {
            let mut rng = trial_rng(40 + i as u64);
            let exact: Vec<f64> = (0..trials)
                .map(|_| {
                    let (signal, scale) = scores(&mut rng);
                    streamed(signal, others as u64, &mut rng, |r| scale * law.sample(r)).w1
                })
                .collect();
            let fast: Vec<TopK> = (0..trials)
                .map(|_| {
                    let (signal, scale) = scores(&mut rng);
                    let mut order = OrderStatistics::new(law, others);
                    top_k(signal, scale, &mut order, Tolerances::DEFAULT, &mut rng).unwrap()
                })
                .collect();
            let fast_w1: Vec<f64> = fast.iter().map(|t| t.step.w1).collect();
            let d = ks_two_sample(&exact, &fast_w1);
            assert!(d < 1.95 * (2.0 / trials as f64).sqrt(), "{name}: D = {d}");
            let cut = fast.iter().filter(|t| (t.drawn as f64) < others).count();
            assert!(cut > trials / 2, "{name}: the cutoff acted in {cut} trials");
        }
    }
}
