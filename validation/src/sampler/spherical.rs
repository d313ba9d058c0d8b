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
}

impl SphericalOverlap {
    pub(crate) fn new(n: usize) -> Result<Self, ValidationError> {
        let a = (n as f64 - 1.0) / 2.0;
        let beta = Beta::new(a, a).map_err(invalid)?;
        Ok(Self { beta, a })
    }

    pub(crate) fn sample(&self, rng: &mut TrialRng) -> f64 {
        2.0 * self.beta.sample(rng) - 1.0
    }

    /// The `x <= 1/2` with `I_x(a, a) = q <= 1/2`, by Newton's method on
    /// `G(v) = ln I_{e^v}(a, a) - ln q` in `v = ln x`: `G` is nearly linear
    /// (`I_x ~ x^a / (a B(a, a))` for small `x`) and concave, so the
    /// iterates converge monotonically after the first step, and from the
    /// start on when it lies below the root. The start is `below`, a value
    /// known to lie at or below `x`, when in `(0, 1/2]`, else the small-`x`
    /// form.
    pub(crate) fn lower_beta_quantile(&self, q: f64, below: f64) -> f64 {
        let a = self.a;
        let (ln_q, ln_b) = (q.ln(), ln_beta(a, a));
        let mut v = if below > 0.0 && below <= 0.5 {
            below.ln()
        } else {
            ((ln_q + a.ln() + ln_b) / a).min(-std::f64::consts::LN_2)
        };
        for _ in 0..100 {
            let x = v.exp();
            let ln_i = beta_reg(a, a, x).ln();
            let slope = (a * v + (a - 1.0) * (-x).ln_1p() - ln_b - ln_i).exp();
            let next = (v - (ln_i - ln_q) / slope).min(-std::f64::consts::LN_2);
            let converged = (next - v).abs() <= 1e-15 * v.abs().max(1.0);
            v = next;
            if converged {
                break;
            }
        }
        v.exp()
    }
}

impl TailLaw for SphericalOverlap {
    fn sample(&self, rng: &mut TrialRng) -> f64 {
        SphericalOverlap::sample(self, rng)
    }

    /// `P(u > y) = I_{(1-y)/2}(a, a)`: `y = 1 - 2x` from the smaller tail,
    /// starting from `x = (1 - above)/2` in the upper tail.
    fn upper_quantile(&self, q: f64, p: f64, above: f64) -> f64 {
        if q <= p {
            1.0 - 2.0 * self.lower_beta_quantile(q, (1.0 - above) / 2.0)
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
        h_peak + integral.ln() - ln_beta(0.5, self.a)
    }
}
