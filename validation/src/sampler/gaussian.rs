//! Gaussian patterns: entries i.i.d. N(0, 1) (docs/theory.md §1, §7).

use rand_distr::{ChiSquared, Distribution, StandardNormal};

use super::Sampler;
use crate::first_step::{invalid, streamed, FirstStep};
use crate::seeds::TrialRng;
use crate::{Setup, Start, ValidationError};

/// The gaussian sampler.
pub(super) struct Gaussian;

impl Sampler for Gaussian {
    fn fill_patterns(&self, data: &mut [f32], _n: usize, rng: &mut TrialRng) {
        fill_gaussian(data, rng);
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
    /// other scores i.i.d. `N(0, lambda^2 |x0|^2)`.
    fn first_step(
        &self,
        setup: &Setup,
        others: u64,
        rng: &mut TrialRng,
    ) -> Result<FirstStep, ValidationError> {
        let lambda = setup.lambda;
        let start = gaussian_start(setup.n, setup.start, rng)?;
        let noise_scale = lambda * start.x0_norm_sq.sqrt();
        Ok(streamed(lambda * start.xi1_dot_x0, others, rng, |rng| {
            let g: f64 = StandardNormal.sample(rng);
            noise_scale * g
        }))
    }
}

/// I.i.d. standard normal entries.
fn fill_gaussian(data: &mut [f32], rng: &mut TrialRng) {
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
