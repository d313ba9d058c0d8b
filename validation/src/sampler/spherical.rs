//! Spherical patterns: uniform on the sphere of radius `sqrt(N)`
//! (docs/theory.md §1, §7).

use rand_distr::{Beta, Distribution, StandardNormal};
use statrs::function::beta::{beta_reg, ln_beta};

use super::Sampler;
use crate::first_step::{invalid, FirstStep};
use crate::patterns::norm;
use crate::seeds::TrialRng;
use crate::top_k::{continuous_first_step, TailLaw};
use crate::{Setup, ValidationError};

/// Most Newton iterations of a beta quantile; the tests see at most 8.
const MAX_NEWTON: usize = 100;

/// The spherical sampler.
pub(super) struct Spherical;

impl Sampler for Spherical {
    fn fill_patterns(&self, data: &mut [f32], n: usize, rng: &mut TrialRng) {
        data.chunks_exact_mut(n)
            .for_each(|row| fill_spherical_row(row, rng));
    }

    /// `x0` on the sphere at angle `arccos(rho)` from `xi1`, see
    /// [`spherical_at_overlap`].
    fn initial_state(
        &self,
        xi1: &[f64],
        rho: f64,
        rng: &mut TrialRng,
    ) -> Result<Vec<f64>, ValidationError> {
        Ok(spherical_at_overlap(xi1, rho, rng))
    }

    /// The signal is `lambda N rho`; the other scores are `lambda N u` with
    /// `u` the cosine law of [`SphericalOverlap`], all drawn or the top K
    /// ([`continuous_first_step`]).
    fn first_step(
        &self,
        setup: &Setup,
        others: f64,
        rng: &mut TrialRng,
    ) -> Result<FirstStep, ValidationError> {
        let law = SphericalOverlap::new(setup.n)?;
        let scale = setup.lambda * setup.n as f64;
        let rho = setup.start.overlap();
        continuous_first_step(scale * rho, scale, &law, others, rng)
    }
}

/// A uniform point on the sphere of radius `sqrt(N)`: a normalised
/// Gaussian vector (rotation invariance), computed in `f64`.
fn fill_spherical_row(row: &mut [f32], rng: &mut TrialRng) {
    let z = unit_gaussian_direction(row.len(), rng);
    let radius = (row.len() as f64).sqrt();
    for (v, zi) in row.iter_mut().zip(&z) {
        *v = (radius * zi) as f32;
    }
}

/// Uniform random unit vector in `R^n` (redrawn in the probability-zero
/// event of a null Gaussian vector).
fn unit_gaussian_direction(n: usize, rng: &mut TrialRng) -> Vec<f64> {
    loop {
        let z: Vec<f64> = (0..n).map(|_| StandardNormal.sample(rng)).collect();
        let norm = norm(&z);
        if norm > 0.0 {
            return z.into_iter().map(|v| v / norm).collect();
        }
    }
}

/// The spherical start: `z` projected orthogonally to `xi1`, normalised
/// to `e`, and combined as `sqrt(N) (rho xi1/|xi1| + sqrt(1 - rho^2) e)`. The orthogonal
/// direction is redrawn in the probability-zero event that `z` is parallel
/// to `xi1`.
fn spherical_at_overlap(xi1: &[f64], rho: f64, rng: &mut TrialRng) -> Vec<f64> {
    let n = xi1.len();
    let xi_norm = norm(xi1);
    let unit: Vec<f64> = xi1.iter().map(|a| a / xi_norm).collect();
    let e = loop {
        let z = unit_gaussian_direction(n, rng);
        let along: f64 = z.iter().zip(&unit).map(|(a, b)| a * b).sum();
        let orth: Vec<f64> = z.iter().zip(&unit).map(|(a, b)| a - along * b).collect();
        let orth_norm = norm(&orth);
        if orth_norm > 1e-12 {
            break orth.into_iter().map(|v| v / orth_norm).collect::<Vec<_>>();
        }
    };
    let radius = (n as f64).sqrt();
    let perp = (1.0 - rho * rho).sqrt();
    unit.iter()
        .zip(&e)
        .map(|(u, e)| radius * (rho * u + perp * e))
        .collect()
}

/// Law of the cosine between a uniform point of the sphere in `R^N` and a
/// fixed direction: `u = 2B - 1`, `B ~ Beta(a, a)` with `a = (N-1)/2`,
/// density proportional to `(1 - u^2)^((N-3)/2)` on `(-1, 1)`.
pub(crate) struct SphericalOverlap {
    beta: Beta<f64>,
    /// `a = (N - 1)/2`.
    a: f64,
    /// `ln B(a, a)`, the normaliser of `I_x(a, a)`'s density.
    ln_b: f64,
    /// `ln B(1/2, a)`, the normaliser of the density of `u`.
    ln_b_half: f64,
}

impl SphericalOverlap {
    pub(crate) fn new(n: usize) -> Result<Self, ValidationError> {
        let a = (n as f64 - 1.0) / 2.0;
        let beta = Beta::new(a, a).map_err(invalid)?;
        Ok(Self {
            beta,
            a,
            ln_b: ln_beta(a, a),
            ln_b_half: ln_beta(0.5, a),
        })
    }

    pub(crate) fn sample(&self, rng: &mut TrialRng) -> f64 {
        2.0 * self.beta.sample(rng) - 1.0
    }

    /// The `x <= 1/2` with `I_x(a, a) = q <= 1/2`, by Newton's method on
    /// `G(v) = ln I_{e^v}(a, a) - ln q` in `v = ln x` ([`Self::newton`]),
    /// from [`Self::newton_start`].
    pub(crate) fn lower_beta_quantile(&self, q: f64, below: f64) -> f64 {
        let ln_q = q.ln();
        self.newton(ln_q, self.newton_start(ln_q, below)).0.exp()
    }

    /// Where Newton starts, in `v = ln x`: at `below`, a value known to lie
    /// at or below the root, when it is in `(0, 1/2]`; else at the root of
    /// `x^a (1 - x)^a = q a B(a, a)`, which lies at or above the root
    /// because the left side never exceeds `a B(a, a) I_x(a, a)` (for
    /// `a >= 1`, `(1-t)^(a-1) >= (1-x)^(a-1) >= (1-x)^a` under the
    /// integral; for `a < 1`, `(1-t)^(a-1) >= 1`). The form is exact as `q
    /// -> 0` up to a factor near `1/(1 - 2x)`, and unlike `x^a = q a B(a,
    /// a)` it keeps `I_x` from underflowing at the start when `a` is large.
    fn newton_start(&self, ln_q: f64, below: f64) -> f64 {
        if below > 0.0 && below <= 0.5 {
            return below.ln();
        }
        let a = self.a;
        // x (1 - x) = y, the smaller root x = 2y / (1 + sqrt(1 - 4y)).
        let ln_y = (ln_q + a.ln() + self.ln_b) / a;
        let root = (1.0 - 4.0 * ln_y.exp()).max(0.0).sqrt();
        (std::f64::consts::LN_2 + ln_y - root.ln_1p()).min(-std::f64::consts::LN_2)
    }

    /// Newton's iterates on `G(v) = ln I_{e^v}(a, a) - ln q` from `v` to
    /// its root, with the number of iterations. `G` is increasing and
    /// concave, so from above the root the first step lands at or below it
    /// (the tangent lies above `G`), and from below the root the iterates
    /// rise to it monotonically: no iterate passes the root, so none passes
    /// `ln 1/2` (`q <= 1/2`). They stop once a step moves `v` by at most
    /// `1e-15 max(|v|, 1)`, or by no less than the step before: at large
    /// `a` the rounding noise of `ln I_x` (about 1e-13 at `N = 10^4`) keeps
    /// the steps from shrinking further. A root below the smallest positive
    /// double (`N = 2` and `q` below about `e^{-372}`) is returned as soon as `x`
    /// underflows: `u = 1 - 2x` is 1 either way.
    fn newton(&self, ln_q: f64, mut v: f64) -> (f64, usize) {
        let (a, ln_b) = (self.a, self.ln_b);
        let mut last_step = f64::INFINITY;
        for iteration in 1..=MAX_NEWTON {
            let x = v.exp();
            if x == 0.0 {
                return (v, iteration);
            }
            let ln_i = beta_reg(a, a, x).ln();
            let slope = (a * v + (a - 1.0) * (-x).ln_1p() - ln_b - ln_i).exp();
            let next = v - (ln_i - ln_q) / slope;
            let step = (next - v).abs();
            v = next;
            if step <= 1e-15 * v.abs().max(1.0) || step >= last_step {
                return (v, iteration);
            }
            last_step = step;
        }
        (v, MAX_NEWTON)
    }
}

/// `x = (1 - u)/2`, the beta variable of an overlap `u = 2B - 1` counted
/// from the top (`u = 1 - 2x`).
fn x_of_overlap(u: f64) -> f64 {
    (1.0 - u) / 2.0
}

impl TailLaw for SphericalOverlap {
    fn sample(&self, rng: &mut TrialRng) -> f64 {
        SphericalOverlap::sample(self, rng)
    }

    /// `P(u > y) = I_{(1-y)/2}(a, a)`: `y = 1 - 2x` from the smaller tail,
    /// starting from `x = (1 - above)/2` in the upper tail.
    fn upper_quantile(&self, q: f64, p: f64, above: f64) -> f64 {
        if q <= p {
            1.0 - 2.0 * self.lower_beta_quantile(q, x_of_overlap(above))
        } else {
            2.0 * self.lower_beta_quantile(p, f64::NAN) - 1.0
        }
    }

    /// `ln int_{-1}^c e^{tu} (1 - u^2)^m du - ln B(1/2, a)` with
    /// `m = (N-3)/2`, by double-exponential quadrature of the integrand
    /// relative to its largest value, split at its peak
    /// `u* = t / (m + sqrt(m^2 + t^2))` when the peak lies below `c` (the
    /// log-integrand is concave, so each piece is monotone with its mass
    /// at the peak end, where the quadrature's nodes cluster).
    fn ln_truncated_mgf(&self, t: f64, c: f64) -> f64 {
        let m = self.a - 1.0;
        let h = |u: f64| t * u + m * ((-u).ln_1p() + u.ln_1p());
        let peak = if m > 0.0 {
            (t / (m + m.hypot(t))).min(c)
        } else {
            c
        };
        let h_peak = h(peak);
        let piece = |lo: f64, hi: f64| {
            quadrature::double_exponential::integrate(|u| (h(u) - h_peak).exp(), lo, hi, 1e-15)
                .integral
        };
        let mut integral = piece(-1.0, peak);
        if peak < c {
            integral += piece(peak, c);
        }
        h_peak + integral.ln() - self.ln_b_half
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ln 0F1(; b; z)` by its power series `sum_k z^k / ((b)_k k!)`, whose
    /// terms are positive: each from the one before, summed relative to
    /// the largest, until they fall 50 nats below it.
    fn ln_hyp0f1(b: f64, z: f64) -> f64 {
        let mut ln_terms = vec![0.0];
        let (mut k, mut top) = (0.0, 0.0);
        loop {
            let next = ln_terms[ln_terms.len() - 1] + z.ln() - (b + k).ln() - (k + 1.0).ln();
            if next < top - 50.0 {
                break;
            }
            top = f64::max(top, next);
            ln_terms.push(next);
            k += 1.0;
        }
        top + ln_terms.iter().map(|l| (l - top).exp()).sum::<f64>().ln()
    }

    /// The whole sphere's moment generating function, `E e^{tu} = 0F1(;
    /// N/2; t^2/4)` (its power series, from `E u^{2k} = (1/2)_k /
    /// (N/2)_k`), against the quadrature at `c = 1`: from a broad peak
    /// (`N = 4`) to sharp ones far from both ends (`N = 10^4`, `t = 4000`:
    /// width 0.01 at `u* = 0.35`, 750 nats above the integrand at `u =
    /// 0`). Tolerance: 1e-12 relative, plus the rounding of `ln B(1/2,
    /// a)`, a difference of two `ln Gamma` of size `a ln a`.
    #[test]
    fn whole_sphere_mgf_matches_its_series() {
        for (n, t) in [
            (4, 3.0),
            (10, 5.0),
            (256, 256.0),
            (256, 512.0),
            (1000, 100.0),
            (1000, 3000.0),
            (10_000, 100.0),
            (10_000, 4000.0),
        ] {
            let a = (n as f64 - 1.0) / 2.0;
            let got = SphericalOverlap::new(n).unwrap().ln_truncated_mgf(t, 1.0);
            let want = ln_hyp0f1(n as f64 / 2.0, t * t / 4.0);
            let tolerance = 1e-12 * want.abs().max(1.0) + 4e-16 * a * a.ln();
            assert!(
                (got - want).abs() <= tolerance,
                "N = {n}, t = {t}: {got} vs {want}"
            );
        }
    }

    /// Beta quantiles from `N = 2` to `10^4` and `q` from `e^{-708}` to
    /// `e^{-0.7}`: the root solves `I_x(a, a) = q` to the rounding of `ln
    /// I_x`, in at most 8 Newton iterations, from the default start and
    /// from a start just below the root (the previous order statistic's
    /// role). The default start lies at or above the root and at or below
    /// `x = 1/2`; at `q = e^{-708}` it is the root to 1e-9 for `N <= 64`
    /// (the form is exact as `q -> 0`).
    #[test]
    fn beta_quantiles_converge_from_either_start() {
        for n in [2, 3, 4, 10, 64, 256, 1000, 2000, 5000, 10_000] {
            let law = SphericalOverlap::new(n).unwrap();
            let a = law.a;
            for ln_q in [-708.0, -300.0, -100.0, -30.0, -10.0, -2.0, -0.7] {
                let what = format!("N = {n}, ln q = {ln_q}");
                let start = law.newton_start(ln_q, f64::NAN);
                let (v, iterations) = law.newton(ln_q, start);
                assert!(iterations <= 8, "{what}: {iterations} iterations");
                assert!(start >= v && start <= -std::f64::consts::LN_2, "{what}");
                if ln_q == -708.0 && n <= 64 {
                    assert!(start - v <= 1e-9, "{what}: {start} vs {v}");
                }
                if v.exp() > 0.0 {
                    let residual = beta_reg(a, a, v.exp()).ln() - ln_q;
                    assert!(residual.abs() <= 1e-12 * ln_q.abs().max(1.0), "{what}");
                }
                let below = v + (1.0 - 1e-3f64).ln();
                let (w, iterations) = law.newton(ln_q, law.newton_start(ln_q, below.exp()));
                assert!(iterations <= 8, "{what}: {iterations} from below");
                assert!((w - v).abs() <= 1e-12 * v.abs().max(1.0), "{what}");
            }
        }
        // At N = 2 the root of q = e^{-708} is x = e^{-1415}, below the
        // smallest double: x is 0 and u = 1 - 2x is 1.
        let circle = SphericalOverlap::new(2).unwrap();
        let q = (-708.0f64).exp();
        assert_eq!(circle.lower_beta_quantile(q, f64::NAN), 0.0);
        assert_eq!(circle.upper_quantile(q, 1.0 - q, f64::INFINITY), 1.0);
    }

    /// A hint in `(0, 1/2]` (its ends included where they belong) is where
    /// Newton starts; 0, negative, NaN and values above 1/2 are not hints.
    #[test]
    fn newton_starts_at_a_usable_hint() {
        let law = SphericalOverlap::new(64).unwrap();
        let ln_q = -30.0;
        let default = law.newton_start(ln_q, f64::NAN);
        for below in [1e-300, 0.1, 0.5] {
            assert_eq!(law.newton_start(ln_q, below), below.ln());
        }
        for not_a_hint in [0.0, -0.1, 0.5000001, f64::INFINITY] {
            assert_eq!(law.newton_start(ln_q, not_a_hint), default);
        }
    }

    /// `x = (1 - u)/2` inverts `u = 1 - 2x` (dyadic values, exact), so the
    /// previous order statistic's `u` gives its own `x` as the hint.
    #[test]
    fn beta_variable_of_an_overlap() {
        for x in [0.0, 0.125, 0.25, 0.5, 0.75, 1.0] {
            assert_eq!(x_of_overlap(1.0 - 2.0 * x), x);
        }
    }
}
