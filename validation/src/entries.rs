//! Draws of one pattern entry from a standardised law of a law file.

use damcap_theory::law::{EntryLaw, Shape, LAPLACE_SCALE, UNIFORM_HALF_WIDTH};
use rand::{Rng, RngExt};
use rand_distr::{Distribution, Exp1, StandardNormal};

use crate::ValidationError;

/// A sampler of i.i.d. entries: cumulative probabilities for atoms and
/// mixture components, inverse transforms for the continuous families.
#[derive(Clone, Debug)]
pub struct EntrySampler {
    shape: Shape,
    /// Cumulative probabilities of the atoms or mixture components.
    cumulative: Vec<f64>,
}

impl EntrySampler {
    /// The sampler of `law`.
    pub fn new(law: &EntryLaw) -> Self {
        let weights: Vec<f64> = match law.shape() {
            Shape::Atoms(atoms) => atoms.iter().map(|a| a.probability).collect(),
            Shape::Mixture(components) => components.iter().map(|c| c.weight).collect(),
            Shape::Uniform | Shape::Laplace => Vec::new(),
        };
        let cumulative = weights
            .iter()
            .scan(0.0, |sum, w| {
                *sum += w;
                Some(*sum)
            })
            .collect();
        EntrySampler {
            shape: law.shape().clone(),
            cumulative,
        }
    }

    /// Index of the atom or component chosen by a uniform draw (the last
    /// one when rounding leaves the cumulative sum just below 1).
    pub fn pick<R: Rng + ?Sized>(&self, rng: &mut R) -> usize {
        let u: f64 = rng.random();
        self.cumulative
            .iter()
            .position(|&c| u < c)
            .unwrap_or(self.cumulative.len() - 1)
    }

    /// One entry.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match &self.shape {
            Shape::Atoms(atoms) => atoms[self.pick(rng)].value,
            Shape::Mixture(components) => {
                let c = components[self.pick(rng)];
                let z: f64 = StandardNormal.sample(rng);
                c.mean + c.sd * z
            }
            Shape::Uniform => rng.random_range(-UNIFORM_HALF_WIDTH..UNIFORM_HALF_WIDTH),
            Shape::Laplace => {
                let magnitude: f64 = Exp1.sample(rng);
                let sign = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
                sign * LAPLACE_SCALE * magnitude
            }
        }
    }
}

/// A start at overlap `rho` with `xi1`: each entry kept with probability
/// `rho`, redrawn by `draw` otherwise (so the start has the entries' law).
///
/// # Errors
/// [`ValidationError::InvalidParameter`] unless `0 <= rho <= 1`.
pub fn keep_or_redraw<T: Copy, R: Rng + ?Sized>(
    xi1: &[T],
    rho: f64,
    rng: &mut R,
    mut draw: impl FnMut(&mut R) -> T,
) -> Result<Vec<T>, ValidationError> {
    if !(0.0..=1.0).contains(&rho) {
        return Err(ValidationError::InvalidParameter(format!(
            "initial overlap rho = {rho}: law-file patterns build the start by redrawing \
             entries, which needs rho in [0, 1]"
        )));
    }
    Ok(xi1
        .iter()
        .map(|&a| if rng.random_bool(rho) { a } else { draw(rng) })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seeds::trial_rng;
    use damcap_theory::law::Family;

    /// Sample moments against the law's: mean 0, variance 1 and the fourth
    /// moment, within 5 standard errors of 400 000 draws.
    #[test]
    fn sample_moments_match_the_law() {
        let families = [
            Family::Uniform {},
            Family::Laplace {},
            Family::SparseBinary { density: 0.2 },
            Family::Ternary {
                zero_probability: 0.5,
            },
            Family::GaussianMixture {
                weights: vec![0.3, 0.7],
                means: vec![-2.0, 1.0],
                sds: vec![0.5, 1.5],
            },
        ];
        for family in families {
            let law = EntryLaw::new(family.clone()).unwrap();
            let sampler = EntrySampler::new(&law);
            let mut rng = trial_rng(7);
            let n = 400_000;
            let draws: Vec<f64> = (0..n).map(|_| sampler.sample(&mut rng)).collect();
            let moment = |k: i32| draws.iter().map(|a| a.powi(k)).sum::<f64>() / n as f64;
            let m4 = law.fourth_moment();
            let se = |var: f64| 5.0 * (var / n as f64).sqrt();
            assert!(moment(1).abs() < se(1.0), "{family:?}: mean {}", moment(1));
            assert!(
                (moment(2) - 1.0).abs() < se(m4 - 1.0),
                "{family:?}: {}",
                moment(2)
            );
            let m8 = draws.iter().map(|a| a.powi(8)).sum::<f64>() / n as f64;
            assert!(
                (moment(4) - m4).abs() < se(m8 - m4 * m4),
                "{family:?}: {}",
                moment(4)
            );
        }
    }
}
