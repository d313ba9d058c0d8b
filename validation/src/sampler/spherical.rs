//! Spherical patterns: uniform on the sphere of radius `sqrt(N)`
//! (docs/theory.md §1, §7).

use rand_distr::{Beta, Distribution, StandardNormal};

use super::Sampler;
use crate::first_step::{invalid, streamed, FirstStep};
use crate::patterns::norm;
use crate::seeds::TrialRng;
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
    /// `u` the cosine law of [`SphericalOverlap`].
    fn first_step(
        &self,
        setup: &Setup,
        others: u64,
        rng: &mut TrialRng,
    ) -> Result<FirstStep, ValidationError> {
        let law = SphericalOverlap::new(setup.n)?;
        let scale = setup.lambda * setup.n as f64;
        let rho = setup.start.overlap();
        Ok(streamed(scale * rho, others, rng, |rng| {
            scale * law.sample(rng)
        }))
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
/// fixed direction: `u = 2B - 1`, `B ~ Beta((N-1)/2, (N-1)/2)`, density
/// proportional to `(1 - u^2)^((N-3)/2)`.
pub(crate) struct SphericalOverlap(Beta<f64>);

impl SphericalOverlap {
    pub(crate) fn new(n: usize) -> Result<Self, ValidationError> {
        let half = (n as f64 - 1.0) / 2.0;
        Beta::new(half, half).map(Self).map_err(invalid)
    }

    pub(crate) fn sample(&self, rng: &mut TrialRng) -> f64 {
        2.0 * self.0.sample(rng) - 1.0
    }
}
