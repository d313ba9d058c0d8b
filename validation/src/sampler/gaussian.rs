//! Gaussian patterns: entries i.i.d. N(0, 1) (docs/theory.md §1, §7).

use rand_distr::{ChiSquared, Distribution, StandardNormal};
use statrs::function::erf::erfc_inv;

use super::Sampler;
use crate::first_step::{invalid, FirstStep};
use crate::seeds::TrialRng;
use crate::top_k::{continuous_first_step, TailLaw};
use crate::{Setup, Start, ValidationError};

/// The gaussian sampler.
pub(super) struct Gaussian;

impl Sampler for Gaussian {
    fn fill_patterns(&self, data: &mut [f32], _n: usize, rng: &mut TrialRng) {
        fill_gaussian(data, rng);
    }

    /// Eight rows at a time where the processor allows (the same values).
    fn fill_seeded_rows(&self, out: &mut [f32], n: usize, seeds: &[u64]) {
        super::normal_rows::fill_rows(out, n, seeds);
    }

    /// `x0 = rho xi1 + sqrt(1 - rho^2) z` with `z ~ N(0, I)`: `|x0|^2`
    /// fluctuates around `N`; the first step uses this exact construction.
    fn initial_state(
        &self,
        xi1: &[f64],
        rho: f64,
        rng: &mut TrialRng,
    ) -> Result<Vec<f64>, ValidationError> {
        let perp = (1.0 - rho * rho).sqrt();
        Ok(xi1
            .iter()
            .map(|&a| {
                let z: f64 = StandardNormal.sample(rng);
                rho * a + perp * z
            })
            .collect())
    }

    /// The signal and the norm of the start from [`gaussian_start`]; the
    /// other scores i.i.d. `N(0, lambda^2 |x0|^2)`, all drawn or the top K
    /// ([`continuous_first_step`]).
    fn first_step(
        &self,
        setup: &Setup,
        others: f64,
        rng: &mut TrialRng,
    ) -> Result<FirstStep, ValidationError> {
        let lambda = setup.lambda;
        let start = gaussian_start(setup.n, setup.start, rng)?;
        let noise_scale = lambda * start.x0_norm_sq.sqrt();
        let signal = lambda * start.xi1_dot_x0;
        continuous_first_step(signal, noise_scale, &StandardGaussian, others, rng)
    }
}

/// The standard normal law of the other scores in units of
/// `lambda |x0|`, with its tails in closed form (docs/theory.md §7, top-K
/// first step): `ln E[e^{tY}; Y < c] = t^2/2 + ln Phi(c - t)`.
pub(crate) struct StandardGaussian;

impl TailLaw for StandardGaussian {
    fn sample(&self, rng: &mut TrialRng) -> f64 {
        StandardNormal.sample(rng)
    }

    /// `Q^{-1}(q) = sqrt(2) erfc^{-1}(2q)`, from the smaller tail. statrs'
    /// `erfc_inv` puts `ln Q(y)` within 1e-15 of `ln q`, relative, from
    /// `q = 1/2` down to `q = e^-690` (tested), so no Newton step is needed.
    fn upper_quantile(&self, q: f64, p: f64, _above: f64) -> f64 {
        let quantile = |q: f64| std::f64::consts::SQRT_2 * erfc_inv(2.0 * q);
        if q <= p {
            quantile(q)
        } else {
            -quantile(p)
        }
    }

    fn ln_truncated_mgf(&self, t: f64, c: f64) -> f64 {
        0.5 * t * t + ln_normal_cdf(c - t)
    }
}

/// `ln Phi(x)`, the log of the standard normal CDF, accurate far into the
/// lower tail.
pub(crate) fn ln_normal_cdf(x: f64) -> f64 {
    if x >= 0.0 {
        (-ln_normal_tail(x).exp()).ln_1p()
    } else {
        ln_normal_tail(-x)
    }
}

/// Beyond this argument the upper tail comes from its continued fraction.
const TAIL_FRACTION_FROM: f64 = 20.0;

/// `ln Q(x) = ln P(Y > x)` for `x >= 0`: `ln(erfc(x/sqrt 2)/2)` (libm's
/// `erfc`, good to an ulp; statrs' is off by `1e-10` near `x = 1`) up to
/// [`TAIL_FRACTION_FROM`], beyond it Laplace's continued fraction
/// `Q(x) = phi(x) / (x + 1/(x + 2/(x + 3/(x + ...))))`, which `erfc`
/// would underflow (`x > 38`) and which 40 levels give to machine
/// precision for `x >= 20`.
pub(crate) fn ln_normal_tail(x: f64) -> f64 {
    if x < TAIL_FRACTION_FROM {
        return (0.5 * libm::erfc(x / std::f64::consts::SQRT_2)).ln();
    }
    let fraction = (1..=40).rev().fold(x, |acc, k| x + k as f64 / acc);
    -0.5 * x * x - 0.5 * (2.0 * std::f64::consts::PI).ln() - fraction.ln()
}

/// I.i.d. standard normal entries.
pub(super) fn fill_gaussian(data: &mut [f32], rng: &mut TrialRng) {
    for v in data {
        *v = StandardNormal.sample(rng);
    }
}

/// The two scalars of a gaussian start that the first step depends on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct GaussianStart {
    /// `xi^1 . x0`.
    pub(crate) xi1_dot_x0: f64,
    /// `|x0|^2`.
    pub(crate) x0_norm_sq: f64,
}

/// Exact joint draw of `(xi^1 . x0, |x0|^2)` for gaussian patterns (see
/// the module documentation): `|xi^1|^2 ~ chi^2_N`, and for a start at
/// overlap `rho`, `a = rho |xi^1| + sqrt(1 - rho^2) g`,
/// `xi^1 . x0 = |xi^1| a`, `|x0|^2 = a^2 + (1 - rho^2) chi^2_{N-1}`.
pub(crate) fn gaussian_start(
    n: usize,
    start: Start,
    rng: &mut TrialRng,
) -> Result<GaussianStart, ValidationError> {
    let n = n as f64;
    let xi1_sq = ChiSquared::new(n).map_err(invalid)?.sample(rng);
    Ok(match start {
        Start::Pattern => GaussianStart {
            xi1_dot_x0: xi1_sq,
            x0_norm_sq: xi1_sq,
        },
        Start::Overlap(rho) => {
            let g: f64 = StandardNormal.sample(rng);
            let perp_sq = ChiSquared::new(n - 1.0).map_err(invalid)?.sample(rng);
            let a = rho * xi1_sq.sqrt() + (1.0 - rho * rho).sqrt() * g;
            GaussianStart {
                xi1_dot_x0: xi1_sq.sqrt() * a,
                x0_norm_sq: a * a + (1.0 - rho * rho) * perp_sq,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seeds::trial_rng;

    /// A start at overlap `rho` is marginally a standard gaussian vector
    /// correlated `rho` with xi^1: `E|x0|^2 = N` (variance `2N`) and
    /// `E xi^1 . x0 = rho N`. Means of 20000 draws at `N = 10`, `rho =
    /// 0.6`, within 5 standard errors (0.16 and 0.13; the second's
    /// variance is `N (1 + rho^2) = 13.6`).
    #[test]
    fn starts_at_overlap_have_the_gaussian_moments() {
        let (n, rho, draws) = (10, 0.6, 20_000);
        let mut rng = trial_rng(7);
        let (mut norm_sq, mut dot) = (0.0, 0.0);
        for _ in 0..draws {
            let s = gaussian_start(n, Start::Overlap(rho), &mut rng).unwrap();
            norm_sq += s.x0_norm_sq / draws as f64;
            dot += s.xi1_dot_x0 / draws as f64;
        }
        assert!(
            (norm_sq - 10.0).abs() < 5.0 * (20.0f64 / 20_000.0).sqrt(),
            "{norm_sq}"
        );
        assert!(
            (dot - 6.0).abs() < 5.0 * (13.6f64 / 20_000.0).sqrt(),
            "{dot}"
        );
    }

    /// `ln Phi(x)` on both sides of 0 and far in the lower tail, and the
    /// truncated mgf `ln E[e^{tY}; Y < c]`, against mpmath at 30 digits
    /// (`log(ncdf(x))`; `log(quad(exp(t y) npdf(y), [-inf, c]))`).
    #[test]
    fn normal_cdf_and_truncated_mgf_match_mpmath() {
        for (x, exact) in [
            (-1.0, -1.841_021_645_009_263_5),
            (1.0, -0.172_753_779_023_449_9),
            (0.5, -0.368_946_415_288_656_4),
            (-30.0, -454.321_243_956_343_2),
        ] {
            let got = ln_normal_cdf(x);
            assert!((got - exact).abs() <= 1e-14 * exact.abs(), "x = {x}: {got}");
        }
        for (t, c, exact) in [
            (1.0, 0.5, -0.675_911_761_593_618_6),
            (2.0, 3.0, 1.827_246_220_976_55),
            (0.3, -1.0, -2.290_103_278_662_442_4),
            (5.0, 2.0, 5.892_273_778_489_65),
        ] {
            let got = StandardGaussian.ln_truncated_mgf(t, c);
            assert!(
                (got - exact).abs() <= 1e-13 * exact.abs(),
                "t = {t}, c = {c}: {got}"
            );
        }
    }
}
