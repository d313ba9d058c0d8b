//! Law-file patterns: entries i.i.d. from a standardised entry law
//! (docs/theory.md §5, §7).

use std::sync::Arc;

use damcap_theory::law::EntryLaw;

use super::Sampler;
use crate::entries::{keep_or_redraw, EntrySampler};
use crate::first_step::{exact_count, from_levels, level_counts, streamed, FirstStep};
use crate::lattice::Lattice;
use crate::seeds::TrialRng;
use crate::{Setup, Start, ValidationError};

/// The sampler of a law file's entries; the lattice of its atoms, if any,
/// gives the exact first step by level counts.
pub(super) struct Iid {
    entries: EntrySampler,
    lattice: Option<Lattice>,
}

impl Iid {
    pub(super) fn new(law: &Arc<EntryLaw>) -> Iid {
        Iid {
            entries: EntrySampler::new(law),
            lattice: Lattice::of(law),
        }
    }
}

impl Sampler for Iid {
    fn fill_patterns(&self, data: &mut [f32], _n: usize, rng: &mut TrialRng) {
        self.entries.fill(data, rng);
    }

    /// `xi1` with each entry replaced, with probability `1 - rho`, by a
    /// fresh draw of the law (so `x0` has the entries' law and the other
    /// patterns see the REM of the typical pattern; needs `rho >= 0`). For
    /// `+-1` entries this is the binary construction.
    fn initial_state(
        &self,
        xi1: &[f64],
        rho: f64,
        rng: &mut TrialRng,
    ) -> Result<Vec<f64>, ValidationError> {
        keep_or_redraw(xi1, rho, rng, |rng| self.entries.sample(rng))
    }

    fn first_step(
        &self,
        setup: &Setup,
        others: f64,
        rng: &mut TrialRng,
    ) -> Result<FirstStep, ValidationError> {
        let others = exact_count(others)?;
        match &self.lattice {
            Some(lattice) => lattice_levels(lattice, &self.entries, setup, others, rng),
            None => self.streamed_first_step(setup, others, rng),
        }
    }
}

impl Iid {
    /// Law-file patterns: `xi^1` and the start are drawn explicitly, and each
    /// other pattern entry by entry (rounded to `f32` like a stored pattern),
    /// scored against `x0` and discarded.
    fn streamed_first_step(
        &self,
        setup: &Setup,
        others: u64,
        rng: &mut TrialRng,
    ) -> Result<FirstStep, ValidationError> {
        let entry = |rng: &mut TrialRng| f64::from(self.entries.sample(rng) as f32);
        let xi1: Vec<f32> = (0..setup.n).map(|_| entry(rng) as f32).collect();
        let x0: Vec<f64> = match setup.start {
            Start::Pattern => xi1.iter().map(|&a| f64::from(a)).collect(),
            Start::Overlap(rho) => {
                let xi1: Vec<f64> = xi1.iter().map(|&a| f64::from(a)).collect();
                self.initial_state(&xi1, rho, rng)?
            }
        };
        let lambda = setup.lambda;
        let signal = lambda
            * x0.iter()
                .zip(&xi1)
                .map(|(x, &a)| x * f64::from(a))
                .sum::<f64>();
        Ok(streamed(signal, others, rng, |rng| {
            lambda * x0.iter().map(|x| x * entry(rng)).sum::<f64>()
        }))
    }
}

/// Law-file patterns on a lattice (the `lattice` module): `xi^1` and the
/// start are drawn as atom indices, and the other scores as level counts
/// of the exact law of `S`.
fn lattice_levels(
    lattice: &Lattice,
    sampler: &EntrySampler,
    setup: &Setup,
    count: u64,
    rng: &mut TrialRng,
) -> Result<FirstStep, ValidationError> {
    let xi1: Vec<usize> = (0..setup.n).map(|_| sampler.pick(rng)).collect();
    let x0 = match setup.start {
        Start::Pattern => xi1.clone(),
        Start::Overlap(rho) => keep_or_redraw(&xi1, rho, rng, |rng| sampler.pick(rng))?,
    };
    let m = &lattice.multiples;
    let scale = setup.lambda * lattice.unit * lattice.unit;
    let signal = scale
        * xi1
            .iter()
            .zip(&x0)
            .map(|(&a, &b)| (m[a] * m[b]) as f64)
            .sum::<f64>();
    let mut on_atom = vec![0; m.len()];
    x0.iter().for_each(|&k| on_atom[k] += 1);
    let (lowest, pmf) = lattice.score_pmf(&on_atom);
    let ln_pmf: Vec<f64> = pmf.iter().map(|p| p.ln()).collect();
    let counts = level_counts(&ln_pmf, count, rng)?;
    let score = |s: usize| scale * (lowest + s as i64) as f64;
    Ok(from_levels(
        signal,
        counts.into_iter().enumerate().map(|(s, c)| (score(s), c)),
    ))
}
