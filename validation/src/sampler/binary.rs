//! Binary patterns: entries i.i.d. uniform on `{-1, +1}`
//! (docs/theory.md §1, §7).

use rand::{Rng, RngExt};
use rand_distr::{Binomial, Distribution};
use statrs::function::factorial::ln_binomial;

use super::Sampler;
use crate::first_step::{exact_count, from_levels, invalid, level_counts, FirstStep};
use crate::seeds::TrialRng;
use crate::{Setup, ValidationError};

/// The binary sampler.
pub(super) struct Binary;

impl Sampler for Binary {
    fn fill_patterns(&self, data: &mut [f32], _n: usize, rng: &mut TrialRng) {
        fill_binary(data, rng);
    }

    /// `xi1` with each entry flipped independently with probability
    /// `(1 - rho)/2`.
    fn initial_state(
        &self,
        xi1: &[f64],
        rho: f64,
        rng: &mut TrialRng,
    ) -> Result<Vec<f64>, ValidationError> {
        let flip = (1.0 - rho) / 2.0;
        Ok(xi1
            .iter()
            .map(|&a| if rng.random_bool(flip) { -a } else { a })
            .collect())
    }

    /// `F ~ Binomial(N, (1 - rho)/2)` flips give the signal
    /// `lambda (N - 2F)`; the other scores are level counts.
    fn first_step(
        &self,
        setup: &Setup,
        others: f64,
        rng: &mut TrialRng,
    ) -> Result<FirstStep, ValidationError> {
        let others = exact_count(others)?;
        let (n, lambda) = (setup.n, setup.lambda);
        let rho = setup.start.overlap();
        let flips = Binomial::new(n as u64, (1.0 - rho) / 2.0)
            .map_err(invalid)?
            .sample(rng);
        let signal = lambda * (n as f64 - 2.0 * flips as f64);
        binary_levels(signal, n, lambda, others, rng)
    }
}

/// I.i.d. uniform `+-1` entries, 64 entries per random word.
fn fill_binary(data: &mut [f32], rng: &mut TrialRng) {
    for chunk in data.chunks_mut(64) {
        let bits = rng.next_u64();
        for (k, v) in chunk.iter_mut().enumerate() {
            *v = if (bits >> k) & 1 == 1 { 1.0 } else { -1.0 };
        }
    }
}

/// Observables for binary patterns: the `count` noise scores, at level
/// `k` (disagreements with `x0`) worth `lambda (n - 2k)`, enter as level
/// counts of `Binomial(n, 1/2)`.
fn binary_levels(
    signal: f64,
    n: usize,
    lambda: f64,
    count: u64,
    rng: &mut TrialRng,
) -> Result<FirstStep, ValidationError> {
    let n64 = n as u64;
    let ln_pmf: Vec<f64> = (0..=n64)
        .map(|k| ln_binomial(n64, k) - n as f64 * std::f64::consts::LN_2)
        .collect();
    let counts = level_counts(&ln_pmf, count, rng)?;
    let score = |k: usize| lambda * (n as f64 - 2.0 * k as f64);
    Ok(from_levels(
        signal,
        counts.into_iter().enumerate().map(|(k, c)| (score(k), c)),
    ))
}
