//! Draws of one pattern entry from a standardised law of a law file.

use damcap_theory::law::{EntryLaw, Shape, LAPLACE_SCALE, UNIFORM_HALF_WIDTH};
use rand::{Rng, RngExt};
use rand_distr::{Distribution, Exp1, StandardNormal};

use crate::ValidationError;

/// Largest number of random bits one pick of a dyadic atom law takes.
const MAX_DYADIC_BITS: u32 = 8;

/// A sampler of i.i.d. entries: cumulative probabilities for atoms and
/// mixture components, inverse transforms for the continuous families.
#[derive(Clone, Debug)]
pub struct EntrySampler {
    shape: Shape,
    /// Cumulative probabilities of the atoms or mixture components.
    cumulative: Vec<f64>,
    /// The exact chunked picker of atoms whose probabilities are all
    /// multiples of `2^-b`, `b <= 8` (ternary with `P(0) = 1/2`: `b = 2`).
    dyadic: Option<Dyadic>,
}

/// Atoms picked by `bits`-bit chunks of random words: chunk `c` picks atom
/// `atom_of[c]`, which holds atom `k` on `2^bits p_k` chunks, so each pick
/// has the law's probabilities exactly.
#[derive(Clone, Debug)]
struct Dyadic {
    bits: u32,
    atom_of: Vec<u8>,
}

impl Dyadic {
    /// The chunked picker of `probabilities`, if they are all multiples of
    /// `2^-b` for some `1 <= b <= MAX_DYADIC_BITS` (the smallest such `b`).
    fn of(probabilities: &[f64]) -> Option<Dyadic> {
        (1..=MAX_DYADIC_BITS).find_map(|bits| {
            let scale = f64::from(1u32 << bits);
            let counts: Vec<f64> = probabilities.iter().map(|p| p * scale).collect();
            let whole = counts.iter().all(|c| c.fract() == 0.0);
            (whole && counts.iter().sum::<f64>() == scale).then(|| Dyadic {
                bits,
                atom_of: counts
                    .iter()
                    .enumerate()
                    .flat_map(|(k, &c)| std::iter::repeat_n(k as u8, c as usize))
                    .collect(),
            })
        })
    }
}

/// A stream of atom picks from one generator: word by word for a dyadic
/// law (each word gives `64 / bits` picks, from its lowest bits up), one
/// uniform per pick otherwise.
pub struct Picks<'a, R: Rng + ?Sized> {
    sampler: &'a EntrySampler,
    rng: &'a mut R,
    word: u64,
    /// Picks left in `word`.
    left: u32,
}

impl<R: Rng + ?Sized> Picks<'_, R> {
    /// The index of the next atom.
    #[inline]
    pub fn next_atom(&mut self) -> usize {
        let Some(dyadic) = &self.sampler.dyadic else {
            return self.sampler.pick(self.rng);
        };
        if self.left == 0 {
            self.word = self.rng.next_u64();
            self.left = 64 / dyadic.bits;
        }
        let chunk = self.word & ((1u64 << dyadic.bits) - 1);
        self.word >>= dyadic.bits;
        self.left -= 1;
        usize::from(dyadic.atom_of[chunk as usize])
    }
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
        let dyadic = match law.shape() {
            Shape::Atoms(_) => Dyadic::of(&weights),
            _ => None,
        };
        EntrySampler {
            shape: law.shape().clone(),
            cumulative,
            dyadic,
        }
    }

    /// The stream of atom picks drawn from `rng`: by chunks of random
    /// words for a dyadic law (exact, one word per `64 / b` picks), by
    /// [`pick`](Self::pick) otherwise. Both are exact; the chunks avoid a
    /// data-dependent branch per entry (they draw packed ternary patterns
    /// at `damcap bench`'s "drawing" speed-ups).
    pub fn picks<'a, R: Rng + ?Sized>(&'a self, rng: &'a mut R) -> Picks<'a, R> {
        Picks {
            sampler: self,
            rng,
            word: 0,
            left: 0,
        }
    }

    /// For a dyadic law, the bits each pick takes and the atom index of each
    /// chunk value: the picks of [`picks`](Self::picks) are
    /// `atoms[chunk]` of successive chunks of random words, from each
    /// word's lowest bits up, `64 / bits` per word.
    pub fn chunk_atoms(&self) -> Option<(u32, &[u8])> {
        self.dyadic.as_ref().map(|d| (d.bits, d.atom_of.as_slice()))
    }

    /// Fills `out` with entries drawn in order: atoms by
    /// [`picks`](Self::picks), other laws by
    /// [`sample`](Self::sample).
    pub fn fill<R: Rng + ?Sized>(&self, out: &mut [f32], rng: &mut R) {
        match &self.shape {
            Shape::Atoms(atoms) => {
                let mut picks = self.picks(rng);
                out.iter_mut()
                    .for_each(|v| *v = atoms[picks.next_atom()].value as f32);
            }
            _ => out.iter_mut().for_each(|v| *v = self.sample(rng) as f32),
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

    /// Dyadic laws are found at their smallest number of bits, and each
    /// atom `k` holds exactly `2^bits p_k` chunk values (the picks' law is
    /// the law's); other laws have no chunked picker.
    #[test]
    fn dyadic_chunks_hold_the_probabilities() {
        let atom_counts = |family| {
            let law = EntryLaw::new(family).unwrap();
            let sampler = EntrySampler::new(&law);
            sampler.chunk_atoms().map(|(bits, atom_of)| {
                let mut counts = vec![0; law.atoms().unwrap().len()];
                atom_of.iter().for_each(|&k| counts[usize::from(k)] += 1);
                (bits, counts)
            })
        };
        let ternary = Family::Ternary {
            zero_probability: 0.5,
        };
        assert_eq!(atom_counts(ternary), Some((2, vec![1, 2, 1])));
        let eighths = Family::Discrete {
            values: vec![-3.0, -1.0, 1.0, 3.0],
            probabilities: vec![0.125, 0.375, 0.375, 0.125],
        };
        assert_eq!(atom_counts(eighths), Some((3, vec![1, 3, 3, 1])));
        let sparse = Family::SparseBinary { density: 0.2 };
        assert_eq!(atom_counts(sparse), None);
        let fine = Family::Discrete {
            values: vec![-1.0, 1.0],
            probabilities: vec![1.0 / 512.0, 511.0 / 512.0],
        };
        assert_eq!(atom_counts(fine), None);
        assert_eq!(atom_counts(Family::Uniform {}), None);
    }

    /// Sample moments against the law's: mean 0, variance 1 and the fourth
    /// moment, within 5 standard errors of 400 000 draws (half one by
    /// one, half by `fill`, which picks dyadic atoms by chunks).
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
            let mut filled = vec![0.0f32; n / 2];
            sampler.fill(&mut filled, &mut rng);
            let draws: Vec<f64> = (0..n / 2)
                .map(|_| sampler.sample(&mut rng))
                .chain(filled.iter().map(|&a| f64::from(a)))
                .collect();
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

    /// A generator stuck at its largest output: every uniform is
    /// `1 - 2^-53`, the largest value below 1.
    struct Top;

    impl rand::TryRng for Top {
        type Error = std::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(u32::MAX)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            Ok(u64::MAX)
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            dst.fill(u8::MAX);
            Ok(())
        }
    }

    /// Nine atoms of probability 1/9, whose running sum (after the law's
    /// normalisation) ends a few ulp below 1: a uniform at or above it
    /// (here `1 - 2^-53`) falls past every cumulative probability and
    /// picks the last atom.
    #[test]
    fn uniforms_past_the_rounded_sum_pick_the_last_atom() {
        let law = EntryLaw::new(Family::Discrete {
            values: (0..9).map(|k| f64::from(k) - 4.0).collect(),
            probabilities: vec![1.0 / 9.0; 9],
        })
        .unwrap();
        let sampler = EntrySampler::new(&law);
        let last = *sampler.cumulative.last().unwrap();
        assert!(
            last < 1.0 && rand::RngExt::random::<f64>(&mut Top) >= last,
            "{last}"
        );
        assert_eq!(sampler.pick(&mut Top), 8);
    }
}
