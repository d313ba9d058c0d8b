//! How each ensemble is simulated: one [`Sampler`] per ensemble, in one
//! file each, next to the theory's description of the same ensemble
//! (`damcap_theory::ensemble`). A new ensemble needs one theory file and
//! one sampler file; [`for_law`] is the only place that names them all.
//!
//! Every sampler draws from the trial's own generator ([`TrialRng`]) so
//! results do not depend on threading; the order of draws is part of the
//! contract (same seed, same patterns).

pub(crate) mod binary;
pub(crate) mod gaussian;
pub(crate) mod iid;
// Without x86-64 only the portable path is built.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) mod normal_rows;
pub(crate) mod spherical;

use damcap_theory::ensemble::PatternLaw;
use rand::SeedableRng;

use crate::first_step::FirstStep;
use crate::seeds::TrialRng;
use crate::{Setup, ValidationError};

/// Sampling of one pattern ensemble, for the full dynamics and for the
/// exact first step.
pub trait Sampler: Send + Sync {
    /// Fills row-major storage with i.i.d. patterns of dimension `n`
    /// (`data.len()` is a multiple of `n`), with `E|xi|^2 = N`.
    fn fill_patterns(&self, data: &mut [f32], n: usize, rng: &mut TrialRng);

    /// Fills whole rows of length `n` of `out`, row `k` by
    /// [`Sampler::fill_patterns`] from its own generator
    /// `TrialRng::seed_from_u64(seeds[k])`: the rows of streamed patterns
    /// (`crate::streamed`). A law may draw several rows at once, with the
    /// same values.
    fn fill_seeded_rows(&self, out: &mut [f32], n: usize, seeds: &[u64]) {
        for (row, &seed) in out.chunks_exact_mut(n).zip(seeds) {
            self.fill_patterns(row, n, &mut TrialRng::seed_from_u64(seed));
        }
    }

    /// A start at overlap `rho` (checked to lie in `[-1, 1]`) with the
    /// pattern `xi1`, built so that the theory's REM applies
    /// (docs/theory.md §7).
    ///
    /// # Errors
    /// [`ValidationError::InvalidParameter`] for an overlap the
    /// construction cannot give (negative `rho` for law files).
    fn initial_state(
        &self,
        xi1: &[f64],
        rho: f64,
        rng: &mut TrialRng,
    ) -> Result<Vec<f64>, ValidationError>;

    /// One draw of the first step's observables for `setup`, with
    /// `others = P - 1` patterns besides xi^1 (an `f64`: beyond `2^53`
    /// only continuous laws take it), without a pattern matrix
    /// (docs/theory.md §7).
    ///
    /// # Errors
    /// [`ValidationError::InvalidParameter`] when a distribution cannot be
    /// built for these parameters or `others` is too large for the law.
    fn first_step(
        &self,
        setup: &Setup,
        others: f64,
        rng: &mut TrialRng,
    ) -> Result<FirstStep, ValidationError>;
}

/// The sampler of a pattern law.
pub fn for_law(law: &PatternLaw) -> Box<dyn Sampler> {
    match law {
        PatternLaw::Gaussian => Box::new(gaussian::Gaussian),
        PatternLaw::Spherical => Box::new(spherical::Spherical),
        PatternLaw::Binary => Box::new(binary::Binary),
        PatternLaw::Iid(law) => Box::new(iid::Iid::new(law)),
    }
}
