//! Patterns larger than memory, streamed: the several-step dynamics without
//! a pattern matrix.
//!
//! Pattern `mu` of a trial is a pure function of the trial's seed and of
//! `mu` ([`StreamedPatterns`]): its entries come from a generator seeded
//! by a hash of the two, fed to the law's own exact sampler
//! ([`Sampler::fill_patterns`], one row at a time, so spherical rows are
//! normalised whole). Any row can be regenerated at any time, in any
//! order, on any thread, and comes out the same bit for bit, so each step
//! of the dynamics regenerates the patterns block by block instead of
//! reading them from memory, and the largest `N` is limited by time, not
//! by the memory cap.
//!
//! One step is one fused pass ([`streamed_step`]): each chunk of rows yields
//! its scores' maximum, its partition sum and its weighted sum of rows
//! relative to that maximum (an online softmax); the chunks' partials are
//! combined in chunk order after rescaling to the common maximum, so the
//! result does not depend on how rayon spreads the chunks over threads.
//! It equals the stored-matrix step of [`crate::dynamics`] up to the
//! rounding of the sums' order.
//!
//! Pruning, as in [`crate::dynamics`] (same tolerance, same bound): each
//! full pass also counts the scores in unit bins below an integer
//! reference at least the top score; when the bins show a candidate set
//! that excludes at most `prune_tolerance e^{-prune_headroom}` of the
//! weight, keeps at most an eighth of the patterns and fits in the trial's
//! memory budget, the candidates are the rows above the bins' cut (their
//! scores are recomputed bit for bit, so the bins' bound holds for exactly
//! the excluded rows). Later steps sum over the stored candidates while the
//! bound `ln S_excluded + lambda max|xi| |x - anchor|` stays below the
//! tolerance, and fall back to a full pass otherwise.
//!
//! The candidates come from the same pass when they can. Every cut lies
//! less than `2 + ln P + prune_headroom - ln prune_tolerance` nats below
//! the top (`max_cut`), and the top is at least xi^1's score, known
//! before the pass; so each chunk keeps xi^1 and its rows within that
//! depth of the larger of its own top and xi^1's score, and the draw picks
//! the candidates out of them. In the frozen phase, where a retrieved run
//! needs one full pass and then pruned steps, this halves its cost. When
//! the kept rows would pass half the candidate budget (in the paramagnetic
//! phase most rows lie within that depth), a second pass at the same state
//! regenerates the rows and picks the same candidates, so the dynamics is
//! the same either way, bit for bit.

use damcap_theory::ensemble::PatternLaw;
use rayon::prelude::*;
use std::ops::Range;

use crate::dynamics::{
    below_floor, check_dimension, dot, iterate, DynamicsParams, Outcome, Stepped, GAP_BINS,
    ROUNDING_SLACK,
};
use crate::first_step::FirstStep;
use crate::partition::block_max;
use crate::patterns::{matrix_bytes, Patterns};
use crate::sampler::{self, Sampler};
use crate::seeds::{trial_rng, trial_seed, SeedKey};
use crate::{Setup, Trial, ValidationError};

/// Cost of a streamed pass in units of a stored-matrix pass over the same
/// patterns, for work estimates: about 4 for gaussian rows at N = 48
/// (`damcap bench`, the streamed-step line), where drawing the normals
/// takes twice as long as scoring and summing them.
pub const STREAMED_PASS_COST: f64 = 4.0;

/// Rows generated and scored together: their entries stay in cache between
/// generation, scoring and accumulation.
const CHUNK: usize = 1024;

/// Row seeds [`StreamedPatterns::fill_rows`] computes before handing
/// their rows to the sampler, which may draw several rows at once: a
/// multiple of the eight rows gaussian rows are drawn together, so that
/// only a pass's last rows take the portable path.
const SEEDS_AT_ONCE: usize = 64;
const _: () = assert!(SEEDS_AT_ONCE.is_multiple_of(crate::sampler::normal_rows::ROWS_TOGETHER));

/// Chunks handed to rayon at once; their partials are combined in order
/// before the next group starts (bounded memory, fixed order).
const GROUP: usize = 64;

/// Coordinate mixed into a trial's seed to key its pattern rows, so that
/// rows never share a stream with the trial's own generator.
const ROW_STREAM: u64 = 0x5354_5245_414d_4544;

/// The `P` patterns of one trial, regenerated on demand: row `mu` is a
/// pure function of the trial seed and `mu`.
pub struct StreamedPatterns {
    sampler: Box<dyn Sampler>,
    n: usize,
    p: usize,
    /// Hash of the trial seed from which every row's seed derives.
    key: u64,
}

impl StreamedPatterns {
    /// The `p` patterns of dimension `n` of the trial with `seed`.
    ///
    /// # Errors
    /// [`ValidationError::InvalidParameter`] for `n = 0` or `p = 0`.
    pub fn new(law: &PatternLaw, n: usize, p: usize, seed: u64) -> Result<Self, ValidationError> {
        if n == 0 || p == 0 {
            return Err(ValidationError::InvalidParameter(format!(
                "need at least one pattern of at least one entry, got N = {n}, P = {p}"
            )));
        }
        Ok(Self {
            sampler: sampler::for_law(law),
            n,
            p,
            key: trial_seed(seed, &[ROW_STREAM]),
        })
    }

    /// Dimension `N`.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of patterns `P`.
    pub fn p(&self) -> usize {
        self.p
    }

    /// Writes rows `first, first + 1, ...` into `out` (whole rows of
    /// length `N`, not past row `P - 1`): each from its own generator,
    /// a [`TrialRng`](crate::seeds::TrialRng) seeded with a hash of the trial key and the row
    /// index, fed to the law's sampler.
    pub fn fill_rows(&self, first: usize, out: &mut [f32]) {
        debug_assert!(out.len().is_multiple_of(self.n) && first + out.len() / self.n <= self.p);
        let mut seeds = [0_u64; SEEDS_AT_ONCE];
        for (rows, start) in out
            .chunks_mut(SEEDS_AT_ONCE * self.n)
            .zip((first..).step_by(SEEDS_AT_ONCE))
        {
            let seeds = &mut seeds[..rows.len() / self.n];
            for (seed, mu) in seeds.iter_mut().zip(start as u64..) {
                *seed = trial_seed(self.key, &[mu]);
            }
            self.sampler.fill_seeded_rows(rows, self.n, seeds);
        }
    }

    /// The rows of chunk `c` (rows `c CHUNK` up to the next chunk or `P`),
    /// row-major, with the index of its first row.
    fn chunk(&self, c: usize) -> (usize, Vec<f32>) {
        let first = c * CHUNK;
        let mut block = vec![0.0; CHUNK.min(self.p - first) * self.n];
        self.fill_rows(first, &mut block);
        (first, block)
    }

    /// Row `mu`.
    pub fn row(&self, mu: usize) -> Vec<f32> {
        let mut row = vec![0.0; self.n];
        self.fill_rows(mu, &mut row);
        row
    }

    /// The same patterns as a stored matrix (for comparisons with the
    /// stored-matrix dynamics).
    ///
    /// # Errors
    /// [`ValidationError::TooLarge`] when the matrix exceeds `memory_limit`.
    pub fn to_stored(&self, memory_limit: u64) -> Result<Patterns, ValidationError> {
        let bytes = matrix_bytes(self.n, self.p as u64);
        if bytes > u128::from(memory_limit) {
            return Err(ValidationError::TooLarge {
                bytes,
                limit: memory_limit,
            });
        }
        let mut data = vec![0.0; self.n * self.p];
        data.par_chunks_mut(CHUNK * self.n)
            .enumerate()
            .for_each(|(c, block)| self.fill_rows(c * CHUNK, block));
        Patterns::from_rows(self.n, data)
    }
}

/// What one chunk of rows, or a whole pass, contributes to a step: the
/// online softmax relative to the largest score, the scores' moments and
/// their gap histogram.
#[derive(Clone, Debug)]
struct Partial {
    /// Largest score seen (the reference of `sum` and `weighted`).
    top: f64,
    /// `sum_mu e^{z_mu - top}`.
    sum: f64,
    /// `sum_mu e^{z_mu - top} xi^mu`.
    weighted: Vec<f64>,
    /// Score of xi^1, when row 0 is among the rows.
    z1: Option<f64>,
    /// Largest score of the other rows.
    best_other: f64,
    /// Integer at least `top`; row `mu` counts in bin
    /// `min(floor(reference - z_mu), GAP_BINS)`.
    reference: f64,
    bins: Vec<u64>,
    /// Largest squared row norm (0 unless measured).
    max_norm_sq: f64,
    /// Rows kept on the way for a candidate set ([`Keep`]), in row order;
    /// `None` without a `Keep`, or once more rows than its cap were kept.
    kept: Option<Vec<f32>>,
    /// How many rows the chunks kept, counting those the cap dropped.
    kept_count: u64,
}

/// Rows a full pass keeps on its way, so that drawing a candidate set
/// needs no second pass (module doc): xi^1, and every row whose score lies
/// less than `depth` below the larger of its chunk's reference and
/// `reference` (an integer at most the whole pass's reference), while the
/// pass keeps at most `cap` rows in all. With `collect` unset the rows are
/// only counted: the pass sets it for each group until the cap is passed,
/// so that no rows are copied only to be dropped.
#[derive(Clone, Copy, Debug)]
struct Keep {
    reference: f64,
    depth: f64,
    cap: u64,
    collect: bool,
}

/// Score of a row (the same expression in every pass, so a recomputed
/// score is bit-identical).
fn score(row: &[f32], x: &[f64], lambda: f64) -> f64 {
    lambda * dot(row, x)
}

/// Gap bin of a score below an integer reference.
fn gap_bin(reference: f64, z: f64) -> usize {
    (reference - z).min(GAP_BINS as f64) as usize
}

impl Partial {
    /// The contribution of the rows in `block`, the first of which is row
    /// `first`; their largest norm only when `norms` is set (it costs a
    /// third more multiply-adds and is needed once per run), and the rows
    /// `keep` asks for.
    fn of_rows(
        block: &[f32],
        n: usize,
        first: usize,
        x: &[f64],
        lambda: f64,
        norms: bool,
        keep: Option<&Keep>,
    ) -> Self {
        let z: Vec<f64> = block.chunks_exact(n).map(|r| score(r, x, lambda)).collect();
        let top = block_max(&z);
        let reference = top.ceil();
        let chosen: Vec<usize> = keep.map_or_else(Vec::new, |k| {
            let local = reference.max(k.reference);
            (0..z.len())
                .filter(|&i| first + i == 0 || local - z[i] < k.depth)
                .collect()
        });
        let kept = keep.filter(|k| k.collect).map(|_| {
            chosen
                .iter()
                .flat_map(|&i| block[i * n..(i + 1) * n].iter().copied())
                .collect::<Vec<f32>>()
        });
        let mut part = Partial {
            top,
            sum: 0.0,
            weighted: vec![0.0; n],
            z1: (first == 0).then(|| z[0]),
            best_other: block_max(if first == 0 { &z[1..] } else { &z }),
            reference,
            bins: vec![0; GAP_BINS + 1],
            max_norm_sq: 0.0,
            kept,
            kept_count: chosen.len() as u64,
        };
        for (&zi, row) in z.iter().zip(block.chunks_exact(n)) {
            let w = (zi - top).exp();
            part.sum += w;
            if w > 0.0 {
                for (y, &a) in part.weighted.iter_mut().zip(row) {
                    *y += w * f64::from(a);
                }
            }
            part.bins[gap_bin(reference, zi)] += 1;
            if norms {
                let sq = row.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>();
                part.max_norm_sq = part.max_norm_sq.max(sq);
            }
        }
        part
    }

    /// Adds the partial of the rows that follow.
    fn merge(&mut self, other: Partial) {
        let top = self.top.max(other.top);
        let (a, b) = ((self.top - top).exp(), (other.top - top).exp());
        self.sum = self.sum * a + other.sum * b;
        for (y, o) in self.weighted.iter_mut().zip(&other.weighted) {
            *y = *y * a + o * b;
        }
        self.top = top;
        self.z1 = self.z1.or(other.z1);
        self.best_other = self.best_other.max(other.best_other);
        let reference = self.reference.max(other.reference);
        let mut bins = vec![0; GAP_BINS + 1];
        for (part_ref, part_bins) in [(self.reference, &self.bins), (other.reference, &other.bins)]
        {
            let shift = (reference - part_ref) as usize;
            for (b, &count) in part_bins.iter().enumerate() {
                bins[(b + shift).min(GAP_BINS)] += count;
            }
        }
        (self.reference, self.bins) = (reference, bins);
        self.max_norm_sq = self.max_norm_sq.max(other.max_norm_sq);
        self.kept = match (self.kept.take(), other.kept) {
            (Some(mut rows), Some(more)) => {
                rows.extend_from_slice(&more);
                Some(rows)
            }
            _ => None,
        };
        self.kept_count += other.kept_count;
    }

    /// `ln Z`.
    fn ln_z(&self) -> f64 {
        self.top + self.sum.ln()
    }

    /// The new state `sum_mu softmax_mu xi^mu`, written to `next`, and
    /// xi^1's observables (xi^1 must be among the rows).
    fn finish(&self, next: &mut [f64]) -> FirstStep {
        for (v, w) in next.iter_mut().zip(&self.weighted) {
            *v = w / self.sum;
        }
        self.xi1_observed()
    }

    /// xi^1's observables over the rows so far (xi^1 must be among them):
    /// over part of the patterns, its weight is an upper bound.
    fn xi1_observed(&self) -> FirstStep {
        let z1 = self.z1.expect("xi^1 is among the rows of every step");
        FirstStep {
            w1: (z1 - self.ln_z()).exp(),
            xi1_largest: z1 > self.best_other,
        }
    }
}

/// The chunks of `chunks` in groups of [`GROUP`], in order: each group is
/// handed to rayon at once, and the next starts when it is done.
fn groups(chunks: usize) -> impl Iterator<Item = Range<usize>> {
    (0..chunks)
        .step_by(GROUP)
        .map(move |first| first..chunks.min(first + GROUP))
}

/// The partials of consecutive blocks of rows, combined in their order
/// (`None` for none), so that the result does not depend on the threads
/// that computed them.
fn combine(parts: impl IntoIterator<Item = Partial>) -> Option<Partial> {
    parts.into_iter().reduce(|mut total, part| {
        total.merge(part);
        total
    })
}

/// The softmax partial of stored `rows` (row-major, xi^1 first) at `x`:
/// blocks of [`CHUNK`] rows in parallel, combined in order, exactly as a
/// full pass chunks the patterns (so over every row it is the full pass,
/// bit for bit).
fn rows_pass(rows: &[f32], n: usize, x: &[f64], lambda: f64) -> Partial {
    let parts: Vec<Partial> = rows
        .par_chunks(CHUNK * n)
        .enumerate()
        .map(|(k, block)| Partial::of_rows(block, n, k * CHUNK, x, lambda, false, None))
        .collect();
    combine(parts).expect("xi^1 is among the rows")
}

/// One full pass over the streamed patterns at state `x`: the chunks in
/// parallel, their partials combined in chunk order (with the largest row
/// norm when `norms` is set, and the rows `keep` asks for). `Err` when the
/// pass was abandoned: after a group before the last, xi^1's weight over
/// the rows so far, an upper bound on its weight over all of them, has
/// `ln w1` below `floor` (pass `-inf` to finish).
fn full_pass(
    src: &StreamedPatterns,
    x: &[f64],
    lambda: f64,
    norms: bool,
    floor: f64,
    keep: Option<&Keep>,
) -> Result<Partial, FirstStep> {
    let n = src.n;
    let chunks = src.p.div_ceil(CHUNK);
    let mut total: Option<Partial> = None;
    for group in groups(chunks) {
        let last = group.end == chunks;
        let keep = keep.map(|k| Keep {
            collect: total.as_ref().is_none_or(|t| t.kept.is_some()),
            ..*k
        });
        let keep = keep.as_ref();
        let parts: Vec<Partial> = group
            .into_par_iter()
            .map(|c| {
                let (first, block) = src.chunk(c);
                Partial::of_rows(&block, n, first, x, lambda, norms, keep)
            })
            .collect();
        total = combine(total.into_iter().chain(parts));
        // The kept count only grows, and its order of summation does not
        // matter: whether the cap is passed does not depend on the threads.
        let t = total.as_mut().expect("a group");
        if keep.is_some_and(|k| t.kept_count > k.cap) {
            t.kept = None;
        }
        // The first group holds row 0, xi^1; after the last one the pass is
        // whole, and the caller judges it.
        let bound = total.as_ref().expect("a group").xi1_observed();
        if !last && below_floor(bound.w1, floor) {
            return Err(bound);
        }
    }
    Ok(total.expect("at least one pattern"))
}

/// One full streamed step `next = sum_mu softmax_mu(lambda xi^mu . x)
/// xi^mu` on the current rayon pool, returning xi^1's observables at `x`
/// (the pass of every unpruned step, exposed so that its throughput can be
/// timed).
///
/// # Errors
/// [`ValidationError::InvalidParameter`] when `x` or `next` does not have `N` entries.
pub fn streamed_step(
    src: &StreamedPatterns,
    x: &[f64],
    lambda: f64,
    next: &mut [f64],
) -> Result<FirstStep, ValidationError> {
    if x.len() != src.n || next.len() != src.n {
        return Err(ValidationError::InvalidParameter(format!(
            "state and next state must have N = {} entries, got {} and {}",
            src.n,
            x.len(),
            next.len()
        )));
    }
    let pass = full_pass(src, x, lambda, false, f64::NEG_INFINITY, None);
    Ok(pass.expect("a pass with no floor is finished").finish(next))
}

/// Rows kept by a candidate draw, with their entries.
struct Candidates {
    /// State of the full pass that drew them.
    anchor: Vec<f64>,
    /// Their entries, row-major, xi^1 first.
    rows: Vec<f32>,
    /// Upper bound on `ln sum_{excluded} e^{z_mu(anchor)}`.
    ln_excluded: f64,
}

/// The smallest gap cut whose excluded rows (bins `>= cut`) weigh at most
/// `budget` relative to `Z`, with the number of rows kept; `None` when
/// nothing can be excluded.
fn choose_cut(pass: &Partial, budget: f64) -> Option<(usize, u64, f64)> {
    let ln_z = pass.ln_z();
    let (mut excluded, mut cut) = (0.0, GAP_BINS + 1);
    for b in (0..=GAP_BINS).rev() {
        let more = excluded + pass.bins[b] as f64 * (pass.reference - b as f64 - ln_z).exp();
        if more > budget {
            break;
        }
        (excluded, cut) = (more, b);
    }
    if excluded == 0.0 {
        return None;
    }
    let kept = pass.bins[..cut].iter().sum::<u64>() + 1;
    Some((cut, kept, excluded.ln() + ln_z))
}

/// Whether a row is a candidate: xi^1 (`mu == 0`), or a score at `anchor`
/// less than `limit` below `reference`.
fn is_candidate(
    mu: usize,
    row: &[f32],
    anchor: &[f64],
    lambda: f64,
    reference: f64,
    limit: f64,
) -> bool {
    mu == 0 || reference - score(row, anchor, lambda) < limit
}

/// The rows of `rows` (row-major, `n` entries each) that `keep` accepts,
/// given their position and entries, compacted in place.
fn retain_rows(mut rows: Vec<f32>, n: usize, keep: impl Fn(usize, &[f32]) -> bool) -> Vec<f32> {
    let mut len = 0;
    for i in 0..rows.len() / n {
        if keep(i, &rows[i * n..(i + 1) * n]) {
            rows.copy_within(i * n..(i + 1) * n, len * n);
            len += 1;
        }
    }
    rows.truncate(len * n);
    rows.shrink_to_fit();
    rows
}

/// The largest cut [`choose_cut`] can make over `p` rows for a budget of
/// `e^{ln_budget}`: every bin `b` holds rows weighing at most
/// `e^{reference - b - ln Z} <= e^{1 - b}` each, so the bins from
/// `1 + ln p - ln_budget` down weigh at most the budget together.
fn max_cut(p: usize, ln_budget: f64) -> f64 {
    (1.0 + (p as f64).ln() - ln_budget).ceil()
}

/// Regenerates the rows at `anchor` and keeps the candidates of gap
/// `limit` below `reference` ([`is_candidate`]), in row order.
fn collect_candidates(
    src: &StreamedPatterns,
    anchor: &[f64],
    lambda: f64,
    reference: f64,
    limit: f64,
) -> Vec<f32> {
    let n = src.n;
    let mut rows = Vec::new();
    for group in groups(src.p.div_ceil(CHUNK)) {
        let parts: Vec<Vec<f32>> = group
            .into_par_iter()
            .map(|c| {
                let (first, block) = src.chunk(c);
                block
                    .chunks_exact(n)
                    .zip(first..)
                    .filter(|&(row, mu)| is_candidate(mu, row, anchor, lambda, reference, limit))
                    .flat_map(|(row, _)| row.iter().copied())
                    .collect()
            })
            .collect();
        parts.into_iter().for_each(|p| rows.extend(p));
    }
    rows
}

/// Makes the steps of one streamed run (module doc).
struct StreamedStepper<'a> {
    src: &'a StreamedPatterns,
    lambda: f64,
    /// `ln prune_tolerance` (`-inf` without pruning).
    ln_tolerance: f64,
    headroom: f64,
    /// Most candidate rows that may be stored.
    max_candidates: u64,
    /// xi^1, whose score sets the least reference of the rows a full pass
    /// keeps.
    xi1: Vec<f32>,
    /// Gap below that reference of the rows kept ([`Keep`]): more than any
    /// cut [`choose_cut`] can make.
    keep_depth: f64,
    /// `max_mu |xi^mu|`, known after the first full pass.
    max_norm: f64,
    candidates: Option<Candidates>,
    pruned: usize,
    /// Passes over all the rows: steps, and candidate draws that needed a
    /// second pass.
    full_passes: usize,
}

impl<'a> StreamedStepper<'a> {
    fn new(
        src: &'a StreamedPatterns,
        lambda: f64,
        params: &DynamicsParams,
        memory_limit: u64,
    ) -> Self {
        let row_bytes = (src.n * std::mem::size_of::<f32>()) as u64;
        let ln_tolerance = params.prune_tolerance.ln();
        Self {
            src,
            lambda,
            ln_tolerance,
            headroom: params.prune_headroom,
            max_candidates: (memory_limit / row_bytes).min(src.p as u64 / 8),
            xi1: src.row(0),
            keep_depth: max_cut(src.p, ln_tolerance - params.prune_headroom) + 2.0,
            max_norm: f64::NAN,
            candidates: None,
            pruned: 0,
            full_passes: 0,
        }
    }

    /// One step from `x` into `next`; returns xi^1's observables at `x`,
    /// or abandons a full pass once its rows so far prove `ln w1 < floor`.
    fn step(&mut self, x: &[f64], next: &mut [f64], floor: f64) -> Stepped {
        if let Some(c) = &self.candidates {
            let drift = self.lambda * self.max_norm * distance(x, &c.anchor);
            let pass = rows_pass(&c.rows, self.src.n, x, self.lambda);
            if c.ln_excluded + drift + ROUNDING_SLACK - pass.ln_z() <= self.ln_tolerance {
                self.pruned += 1;
                return Stepped::Whole(pass.finish(next));
            }
        }
        let first = self.full_passes == 0;
        self.full_passes += 1;
        let keep = self.keep(x);
        let mut pass = match full_pass(self.src, x, self.lambda, first, floor, keep.as_ref()) {
            Ok(pass) => pass,
            Err(bound) => return Stepped::Abandoned(bound),
        };
        if first {
            self.max_norm = pass.max_norm_sq.sqrt();
        }
        self.candidates = self.draw(&mut pass, x);
        Stepped::Whole(pass.finish(next))
    }

    /// What a full pass at `x` keeps, when pruning is on: at most half the
    /// candidate budget, so that the kept rows' buffer, which doubles as it
    /// grows, stays within the budget.
    fn keep(&self, x: &[f64]) -> Option<Keep> {
        (self.ln_tolerance > f64::NEG_INFINITY).then(|| Keep {
            reference: score(&self.xi1, x, self.lambda).ceil(),
            depth: self.keep_depth,
            cap: self.max_candidates / 2,
            collect: true,
        })
    }

    /// A candidate set after a full pass at `anchor`, when pruning is on
    /// and the bins allow one that fits (module doc): picked from the rows
    /// the pass kept when they hold it, else from a second pass.
    fn draw(&mut self, pass: &mut Partial, anchor: &[f64]) -> Option<Candidates> {
        if self.ln_tolerance == f64::NEG_INFINITY {
            return None;
        }
        let budget = (self.ln_tolerance - self.headroom).exp();
        let (cut, kept, ln_excluded) = choose_cut(pass, budget)?;
        if kept > self.max_candidates {
            return None;
        }
        let (n, lambda, reference) = (self.src.n, self.lambda, pass.reference);
        let limit = cut as f64 + ROUNDING_SLACK;
        let rows = match pass.kept.take() {
            // A candidate's gap is below `limit` against the pass's
            // reference, so below `keep_depth` against its chunk's.
            Some(rows) if limit <= self.keep_depth => retain_rows(rows, n, |i, row| {
                is_candidate(i, row, anchor, lambda, reference, limit)
            }),
            _ => {
                self.full_passes += 1;
                collect_candidates(self.src, anchor, lambda, reference, limit)
            }
        };
        Some(Candidates {
            anchor: anchor.to_vec(),
            rows,
            ln_excluded,
        })
    }
}

/// Euclidean distance.
fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(u, v)| (u - v).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// The dynamics of [`crate::dynamics::run_dynamics`] on streamed patterns
/// (row 0 is xi^1): the same stopping rule, retrieval criterion and
/// pruning; `memory_limit` caps the bytes of stored candidate rows.
/// Returns the outcome, the final state and the number of full passes.
///
/// # Errors
/// [`ValidationError::InvalidParameter`] for a state of the wrong dimension or with non-finite entries, or invalid `params`; [`ValidationError::Theory`] for an invalid `lambda`.
pub fn run_streamed(
    src: &StreamedPatterns,
    x0: &[f64],
    lambda: f64,
    params: &DynamicsParams,
    memory_limit: u64,
) -> Result<(Outcome, Vec<f64>, usize), ValidationError> {
    check_dimension(src.n, x0)?;
    damcap_theory::check_lambda(lambda)?;
    params.validate()?;
    let mut stepper = StreamedStepper::new(src, lambda, params, memory_limit);
    let (mut outcome, x) = iterate(x0, &src.row(0), lambda, params, |x, next, floor| {
        stepper.step(x, next, floor)
    });
    outcome.pruned_steps = stepper.pruned;
    Ok((outcome, x, stepper.full_passes))
}

/// Trial number `trial` of the batch `key` on streamed patterns: rows from
/// [`StreamedPatterns`] keyed by the trial seed, the start drawn from the
/// trial's own generator. `memory_limit` caps the stored candidate rows.
///
/// # Errors
/// As [`Setup::pattern_count`] and [`run_streamed`].
pub fn run_streamed_trial(
    setup: &Setup,
    params: &DynamicsParams,
    memory_limit: u64,
    key: &SeedKey,
    trial: u64,
) -> Result<Trial, ValidationError> {
    let p = setup.pattern_count_usize()?;
    let seed = key.trial(trial);
    let src = StreamedPatterns::new(&setup.law, setup.n, p, seed)?;
    let xi1 = src.row(0);
    let x0 = crate::start_state(setup, &xi1, &mut trial_rng(seed))?;
    let (outcome, _, _) = run_streamed(&src, &x0, setup.lambda, params, memory_limit)?;
    Ok(Trial::new(trial, seed, &x0, &xi1, &outcome))
}

/// Whether the trials of `setup` stream their patterns: exactly when one
/// trial's patterns (packed for discrete laws) and pruning buffers would
/// exceed `memory_limit`, a rule that does not depend on the thread count
/// (so neither do the patterns drawn).
///
/// # Errors
/// As [`Setup::pattern_count`].
pub fn streams(setup: &Setup, memory_limit: u64) -> Result<bool, ValidationError> {
    let buffers = crate::pruning_bytes_per_pattern(&setup.law);
    Ok(crate::trial_bytes(setup, buffers)? > u128::from(memory_limit))
}

/// `trials` independent trials of the full dynamics, returned in trial
/// order, stored or streamed as [`streams`] decides. Stored matrices that
/// fit one at a time but not one per worker thread are run one trial at a
/// time. Streamed trials run one after another, each storing candidate
/// rows of at most `memory_limit` (their passes are parallel within): a
/// share of the budget per worker thread would make the candidates, and
/// so the last bits of the pruned steps, depend on the thread count.
/// Trial `t` is seeded with `key.trial(t)` either way, so the output does
/// not depend on the number of threads.
///
/// # Errors
/// As [`crate::run_trial`] and [`run_streamed_trial`].
pub fn run_dynamics_trials(
    setup: &Setup,
    params: &DynamicsParams,
    memory_limit: u64,
    key: &SeedKey,
    trials: u64,
) -> Result<Vec<Trial>, ValidationError> {
    params.validate()?;
    if streams(setup, memory_limit)? {
        return (0..trials)
            .map(|t| run_streamed_trial(setup, params, memory_limit, key, t))
            .collect();
    }
    let buffers = crate::dynamics_buffer_bytes(setup, params);
    match crate::per_matrix_budget(setup, trials, memory_limit, buffers) {
        Err(ValidationError::TooLarge { .. }) => (0..trials)
            .map(|t| crate::run_trial(setup, params, memory_limit, key, t))
            .collect(),
        _ => crate::run_trials(setup, params, memory_limit, key, trials),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamics::run_to_state;
    use crate::dynamics::tests::{check_pruning_bound, Drawn};
    use crate::patterns::initial_state;
    use crate::patterns::DEFAULT_MEMORY_LIMIT;
    use crate::Start;
    use damcap_theory::law::{EntryLaw, Family};
    use std::sync::Arc;

    fn ternary() -> PatternLaw {
        PatternLaw::Iid(Arc::new(
            EntryLaw::new(Family::Ternary {
                zero_probability: 0.5,
            })
            .unwrap(),
        ))
    }

    fn laws() -> [PatternLaw; 4] {
        [
            PatternLaw::Gaussian,
            PatternLaw::Spherical,
            PatternLaw::Binary,
            ternary(),
        ]
    }

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    }

    /// Streamed rows equal the stored matrix built from the same generator
    /// bit for bit, whether drawn one at a time in reverse order, in odd
    /// blocks, or on one or two threads; other seeds give other rows, and
    /// the rows follow the law's norm convention.
    #[test]
    fn streamed_rows_equal_stored_rows_bit_for_bit() {
        let (n, p) = (9, 3 * CHUNK + 17);
        for law in laws() {
            let src = StreamedPatterns::new(&law, n, p, 41).unwrap();
            let one = pool(1).install(|| src.to_stored(DEFAULT_MEMORY_LIMIT).unwrap());
            let two = pool(2).install(|| src.to_stored(DEFAULT_MEMORY_LIMIT).unwrap());
            let bits = |m: &[f32]| m.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(one.as_slice()), bits(two.as_slice()), "{law:?}");
            for mu in (0..p).rev().step_by(7) {
                assert_eq!(bits(&src.row(mu)), bits(one.row(mu)), "{law:?} row {mu}");
            }
            let mut block = vec![0.0; 5 * n];
            src.fill_rows(1000, &mut block);
            assert_eq!(bits(&block), bits(&one.as_slice()[1000 * n..1005 * n]));
            let other = StreamedPatterns::new(&law, n, p, 42).unwrap();
            assert_ne!(bits(&other.row(5)), bits(one.row(5)), "{law:?}");
            let mean_sq = one
                .rows()
                .map(|r| r.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / n as f64)
                .sum::<f64>()
                / p as f64;
            assert!((mean_sq - 1.0).abs() < 0.05, "{law:?}: {mean_sq}");
        }
        // The stored copy takes 4 N P bytes: a limit of exactly that
        // allows it, one byte less refuses it.
        let src = StreamedPatterns::new(&PatternLaw::Binary, n, p, 41).unwrap();
        assert_eq!((src.n(), src.p()), (n, p));
        let bytes = 4 * (n * p) as u64;
        assert!(src.to_stored(bytes).is_ok());
        assert!(matches!(
            src.to_stored(bytes - 1),
            Err(ValidationError::TooLarge { .. })
        ));
    }

    /// A state or a next state of the wrong length is refused, each alone.
    #[test]
    fn streamed_step_checks_both_lengths() {
        let src = StreamedPatterns::new(&PatternLaw::Binary, 6, 50, 3).unwrap();
        let x = [0.5; 6];
        assert!(streamed_step(&src, &x[..5], 1.0, &mut [0.0; 6]).is_err());
        assert!(streamed_step(&src, &x, 1.0, &mut [0.0; 5]).is_err());
        assert!(streamed_step(&src, &x, 1.0, &mut [0.0; 6]).is_ok());
    }

    /// The fused chunked pass equals the textbook softmax step over the
    /// stored rows (to rounding), its gap bins count every row in the
    /// right unit bin below the reference, and xi^1's top-score flag is
    /// right both ways.
    #[test]
    fn fused_pass_matches_direct_softmax() {
        let (n, p, lambda) = (7, 5 * CHUNK + 3, 0.8);
        let src = StreamedPatterns::new(&PatternLaw::Gaussian, n, p, 43).unwrap();
        let stored = src.to_stored(DEFAULT_MEMORY_LIMIT).unwrap();
        let x: Vec<f64> = (0..n).map(|i| (i as f64 * 0.7).sin() * 1.5).collect();
        let z: Vec<f64> = stored.rows().map(|r| score(r, &x, lambda)).collect();
        let top = block_max(&z);
        let total: f64 = z.iter().map(|v| (v - top).exp()).sum();
        let mut expected = vec![0.0; n];
        for (zi, r) in z.iter().zip(stored.rows()) {
            for (e, &a) in expected.iter_mut().zip(r) {
                *e += (zi - top).exp() / total * f64::from(a);
            }
        }
        let pass = full_pass(&src, &x, lambda, true, f64::NEG_INFINITY, None).unwrap();
        let mut next = vec![0.0; n];
        let fs = pass.finish(&mut next);
        assert!(distance(&next, &expected) < 1e-12);
        assert!((pass.ln_z() - top - total.ln()).abs() < 1e-12);
        assert!((fs.w1 - (z[0] - top).exp() / total).abs() < 1e-14);
        assert_eq!(fs.xi1_largest, z[1..].iter().all(|&v| z[0] > v));
        assert_eq!(pass.reference, top.ceil());
        let mut bins = vec![0u64; GAP_BINS + 1];
        z.iter().for_each(|&v| bins[gap_bin(top.ceil(), v)] += 1);
        assert_eq!(pass.bins, bins);
        let norm = stored.max_norm();
        assert!((pass.max_norm_sq.sqrt() - norm).abs() < 1e-12);
        // Where xi^1 does have the top score (three rows, at x = xi^1),
        // the flag says so.
        let few = StreamedPatterns::new(&PatternLaw::Gaussian, n, 3, 43).unwrap();
        let at: Vec<f64> = few.row(0).iter().map(|&v| f64::from(v)).collect();
        let z: Vec<f64> = (0..3).map(|mu| score(&few.row(mu), &at, lambda)).collect();
        assert!(z[1..].iter().all(|&v| z[0] > v), "{z:?}");
        let pass = full_pass(&few, &at, lambda, false, f64::NEG_INFINITY, None).unwrap();
        assert!(pass.xi1_observed().xi1_largest);
    }

    /// Streamed against stored dynamics on the same patterns, 120 runs:
    /// gaussian, spherical, binary and ternary, lambda from 0.5
    /// (paramagnetic, every pattern matters, many steps) to 6 (frozen,
    /// pruned steps over few candidates), starts at xi^1 and at overlap
    /// 0.6, with pruning on and off. Final states agree to 1e-9, flags,
    /// step counts and convergence are identical; pruning is used by the
    /// streamed runs; one and two threads give the same bits.
    #[test]
    fn streamed_dynamics_equals_stored_dynamics() {
        let cases = [
            (PatternLaw::Gaussian, 0.5, 14, 0.4, 1.0),
            (PatternLaw::Gaussian, 5.0, 14, 0.4, 0.6),
            (PatternLaw::Gaussian, 1.0, 14, 0.5, 1.0),
            (PatternLaw::Spherical, 4.0, 14, 0.5, 0.6),
            (PatternLaw::Binary, 6.0, 14, 0.4, 0.6),
            (PatternLaw::Binary, 1.1, 14, 0.6, 1.0),
            (ternary(), 3.0, 12, 0.4, 0.6),
            (ternary(), 0.7, 12, 0.5, 1.0),
        ];
        // Failures run to their fixed points (abandoned passes are tested
        // apart), so that the long runs exercise pruning.
        let params = DynamicsParams {
            max_steps: 100,
            tolerance: 1e-9,
            stop_certain_failures: false,
            ..DynamicsParams::default()
        };
        let (mut runs, mut pruned_runs, mut retrieved) = (0, 0, 0);
        for (c, (law, lambda, n, alpha, rho)) in cases.iter().enumerate() {
            let p = (alpha * *n as f64).exp().round() as usize;
            for seed in 0..15 {
                let seed = 1000 * c as u64 + seed;
                let src = StreamedPatterns::new(law, *n, p, seed).unwrap();
                let stored = src.to_stored(DEFAULT_MEMORY_LIMIT).unwrap();
                let x0 = match rho {
                    1.0 => stored.xi1().iter().map(|&v| f64::from(v)).collect(),
                    _ => initial_state(law, stored.xi1(), *rho, &mut trial_rng(seed)).unwrap(),
                };
                let what = format!("{law:?} lambda {lambda} rho {rho} seed {seed}");
                let prune = if seed.is_multiple_of(2) {
                    params
                } else {
                    params.full()
                };
                let (full, x_full) = run_to_state(&stored, &x0, *lambda, &params.full()).unwrap();
                let run = |threads| {
                    pool(threads)
                        .install(|| run_streamed(&src, &x0, *lambda, &prune, 1 << 30))
                        .unwrap()
                };
                let (fast, x_fast, _) = run(1);
                let (_, x_two, _) = run(2);
                let bits = |v: &[f64]| v.iter().map(|a| a.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&x_fast), bits(&x_two), "{what}");
                assert!(distance(&x_full, &x_fast) <= 1e-9, "{what}");
                assert_eq!(
                    (fast.retrieved, fast.steps, fast.converged),
                    (full.retrieved, full.steps, full.converged),
                    "{what}"
                );
                assert!(
                    (fast.final_weight - full.final_weight).abs() <= 1e-9,
                    "{what}"
                );
                runs += 1;
                pruned_runs += usize::from(fast.pruned_steps > 0);
                retrieved += usize::from(full.retrieved);
            }
        }
        assert_eq!(runs, 120);
        assert!(pruned_runs >= 10, "pruning used in {pruned_runs} runs");
        assert!((10..=110).contains(&retrieved), "{retrieved} retrieved");
    }

    /// The candidates picked from the rows a full pass kept are those a
    /// second pass collects, bit for bit, on one thread and two, for
    /// gaussian patterns in the frozen phase over two groups of chunks; with
    /// a cap below the kept count (but above the candidates) the kept rows
    /// are dropped and the second pass gives the same rows.
    #[test]
    fn kept_rows_hold_the_candidates() {
        let params = DynamicsParams::default();
        let budget = (params.prune_tolerance.ln() - params.prune_headroom).exp();
        let bits = |m: &[f32]| m.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        let p = 2 * GROUP * CHUNK + 100;
        let mut from_kept = 0;
        for (lambda, n, seed) in [(6.0, 24, 3), (4.0, 28, 2), (3.0, 24, 1), (5.0, 24, 4)] {
            let src = StreamedPatterns::new(&PatternLaw::Gaussian, n, p, seed).unwrap();
            let x: Vec<f64> = src.row(0).iter().map(|&v| f64::from(v)).collect();
            let draw = |threads, limit| {
                pool(threads).install(|| {
                    let mut stepper = StreamedStepper::new(&src, lambda, &params, limit);
                    let keep = stepper.keep(&x).unwrap();
                    let inf = f64::NEG_INFINITY;
                    let mut pass = full_pass(&src, &x, lambda, true, inf, Some(&keep)).unwrap();
                    let (cut, _, _) = choose_cut(&pass, budget).unwrap();
                    let limit = cut as f64 + ROUNDING_SLACK;
                    let expected = collect_candidates(&src, &x, lambda, pass.reference, limit);
                    let kept = pass.kept_count;
                    let rows = stepper.draw(&mut pass, &x).unwrap().rows;
                    assert_eq!(bits(&rows), bits(&expected), "lambda {lambda}");
                    (rows.len() / n, kept, stepper.full_passes)
                })
            };
            let (candidates, kept, second) = draw(1, 1 << 30);
            assert_eq!(draw(2, 1 << 30), (candidates, kept, second));
            // The keep rule counted row by row on the stored matrix: xi^1,
            // and every row less than `2 + ceil(1 + ln P - ln budget)` below
            // the larger of its chunk's integer reference and xi^1's.
            let stored = src.to_stored(DEFAULT_MEMORY_LIMIT).unwrap();
            let z: Vec<f64> = stored.rows().map(|r| score(r, &x, lambda)).collect();
            let depth = (1.0 + (p as f64).ln() - budget.ln()).ceil() + 2.0;
            let counted: usize = z
                .chunks(CHUNK)
                .enumerate()
                .map(|(c, chunk)| {
                    let local = block_max(chunk).ceil().max(z[0].ceil());
                    (0..chunk.len())
                        .filter(|&i| c * CHUNK + i == 0 || local - chunk[i] < depth)
                        .count()
                })
                .sum();
            assert_eq!(kept, counted as u64, "lambda {lambda}");
            // A second pass exactly when the kept rows pass the cap, half
            // the candidate budget of P/8.
            assert_eq!(second, usize::from(kept > p as u64 / 16), "lambda {lambda}");
            assert!(candidates as u64 + 1 < kept, "lambda {lambda}");
            if second == 0 {
                from_kept += 1;
                // Room for exactly the kept rows, and for one fewer.
                let room = |rows: u64| 2 * rows * (n * 4) as u64;
                assert_eq!(
                    draw(2, room(kept)),
                    (candidates, kept, 0),
                    "lambda {lambda}"
                );
                assert_eq!(
                    draw(2, room(kept - 1)),
                    (candidates, kept, 1),
                    "lambda {lambda}"
                );
            }
        }
        assert!(from_kept >= 2, "{from_kept} of 4 drawn from the kept rows");
        // Without pruning a pass keeps nothing.
        let src = StreamedPatterns::new(&PatternLaw::Gaussian, 8, 100, 5).unwrap();
        let stepper = StreamedStepper::new(&src, 2.0, &params.full(), 1 << 30);
        assert!(stepper.keep(&[1.0; 8]).is_none());
    }

    /// A draw's guards: a candidate set larger than the budget is not
    /// drawn (room for the candidate rows, counted row by row, draws them;
    /// one row less does not), and rows kept to a depth shallower than the cut
    /// are not used: the second pass collects the candidates instead.
    #[test]
    fn draws_respect_the_budget_and_the_kept_depth() {
        let params = DynamicsParams::default();
        let budget = (params.prune_tolerance.ln() - params.prune_headroom).exp();
        let (n, p, lambda) = (24, 2 * GROUP * CHUNK + 100, 5.0);
        let src = StreamedPatterns::new(&PatternLaw::Gaussian, n, p, 4).unwrap();
        let x: Vec<f64> = src.row(0).iter().map(|&v| f64::from(v)).collect();
        let inf = f64::NEG_INFINITY;
        let row_bytes = (n * 4) as u64;
        let pass = |stepper: &StreamedStepper, depth: Option<f64>| {
            let keep = stepper.keep(&x).map(|k| Keep {
                depth: depth.unwrap_or(k.depth),
                ..k
            });
            full_pass(&src, &x, lambda, true, inf, keep.as_ref()).unwrap()
        };
        let probe = StreamedStepper::new(&src, lambda, &params, 1 << 30);
        let (cut, count, _) = choose_cut(&pass(&probe, None), budget).unwrap();
        // The count, row by row: the rows less than `cut` below the integer
        // reference above the top score, and xi^1 once more (a candidate
        // wherever its score lies).
        let stored = src.to_stored(DEFAULT_MEMORY_LIMIT).unwrap();
        let z: Vec<f64> = stored.rows().map(|r| score(r, &x, lambda)).collect();
        let reference = block_max(&z).ceil();
        let above = z.iter().filter(|&&v| reference - v < cut as f64).count();
        assert_eq!(count, above as u64 + 1);
        assert!(count < p as u64 / 8);
        for (rows, drawn) in [(count, true), (count - 1, false)] {
            let mut stepper = StreamedStepper::new(&src, lambda, &params, rows * row_bytes);
            let mut full = pass(&stepper, None);
            assert_eq!(
                stepper.draw(&mut full, &x).is_some(),
                drawn,
                "room for {rows}"
            );
        }
        let limit = cut as f64 + ROUNDING_SLACK;
        let mut full = pass(&probe, None);
        let expected = collect_candidates(&src, &x, lambda, full.reference, limit);
        let mut shallow = StreamedStepper::new(&src, lambda, &params, 1 << 30);
        shallow.keep_depth = 1.0;
        let mut kept = pass(&shallow, Some(1.0));
        let rows = shallow.draw(&mut kept, &x).unwrap().rows;
        assert_eq!(rows, expected);
        assert_eq!(shallow.full_passes, 1, "a second pass");
        let mut deep = StreamedStepper::new(&src, lambda, &params, 1 << 30);
        assert_eq!(deep.draw(&mut full, &x).unwrap().rows, expected);
        assert_eq!(deep.full_passes, 0, "drawn from the kept rows");
    }

    /// Passes abandoned part-way once their partial sums prove the run
    /// lost keep every retrieved flag: 24 gaussian runs at lambda = 0.8
    /// near the crossing (P = 1.0e5, two groups of rows), streamed with
    /// the certificate against the stored runs taken to the step cap. Some
    /// first passes are abandoned, and one and two threads agree.
    #[test]
    fn abandoned_passes_keep_the_flags() {
        let (n, lambda) = (24, 0.8);
        let p = (0.48 * n as f64).exp().round() as usize;
        let params = DynamicsParams {
            max_steps: 30,
            ..DynamicsParams::default()
        };
        let whole = DynamicsParams {
            stop_certain_failures: false,
            ..params
        };
        let (mut failures, mut abandoned) = (0, 0);
        for seed in 0..24 {
            let src = StreamedPatterns::new(&PatternLaw::Gaussian, n, p, 7000 + seed).unwrap();
            let stored = src.to_stored(DEFAULT_MEMORY_LIMIT).unwrap();
            let x0: Vec<f64> = stored.xi1().iter().map(|&v| f64::from(v)).collect();
            let (full, _) = run_to_state(&stored, &x0, lambda, &whole).unwrap();
            let run = |threads| {
                pool(threads)
                    .install(|| run_streamed(&src, &x0, lambda, &params, 1 << 30))
                    .unwrap()
            };
            let (fast, x_fast, passes) = run(1);
            let (two, x_two, _) = run(2);
            assert_eq!((fast, &x_fast), (two, &x_two), "seed {seed}");
            assert_eq!(fast.retrieved, full.retrieved, "seed {seed}");
            if fast.certified_failure {
                assert!(fast.final_weight < 0.5 && fast.steps <= full.steps);
            }
            failures += usize::from(!full.retrieved);
            // A first pass abandoned leaves the start as the final state,
            // and an upper bound on xi^1's first-step weight.
            if fast.steps == 1 && x_fast == x0 {
                assert!(fast.certified_failure && fast.first_step.w1 >= full.first_step.w1);
                abandoned += 1;
            }
            assert!(passes <= full.steps, "seed {seed}");
        }
        assert!((8..=22).contains(&failures), "{failures} failures");
        assert!(abandoned >= 5, "{abandoned} first passes abandoned");
    }

    /// A pass is abandoned only while rows remain: with P = 2^16 (one group,
    /// exactly) and P = 5000 (part of one), runs lost at their first step
    /// end, as stored ones do, in the state after that step, not at the
    /// start.
    #[test]
    fn whole_passes_are_not_abandoned() {
        let mut lost = 0;
        for (p, seed) in [(1 << 16, 1), (1 << 16, 2), (5000, 3), (5000, 4)] {
            let src = StreamedPatterns::new(&PatternLaw::Gaussian, 8, p, 9000 + seed).unwrap();
            let stored = src.to_stored(DEFAULT_MEMORY_LIMIT).unwrap();
            let x0: Vec<f64> = stored.xi1().iter().map(|&v| f64::from(v)).collect();
            let params = DynamicsParams::default();
            let (full, x_full) = run_to_state(&stored, &x0, 0.5, &params).unwrap();
            let (fast, x_fast, _) = run_streamed(&src, &x0, 0.5, &params, 1 << 30).unwrap();
            assert_eq!((fast.retrieved, fast.steps), (full.retrieved, full.steps));
            assert!(distance(&x_full, &x_fast) <= 1e-9, "P = {p}");
            lost += usize::from(fast.certified_failure && fast.steps == 1);
        }
        assert_eq!(lost, 4, "every run is lost at its first step");
    }

    /// A study point whose matrix exceeds the memory cap streams, a
    /// smaller one is stored, and the streamed trials do not depend on the
    /// thread count; a candidate budget of zero bytes turns pruning off
    /// without changing the flags; stored matrices that fit one at a time
    /// but not one per thread give the same trials as with room to spare.
    #[test]
    fn trials_stream_beyond_the_memory_cap() {
        let setup = Setup {
            law: PatternLaw::Gaussian,
            n: 12,
            alpha: 0.3,
            lambda: 4.0,
            start: Start::Overlap(0.8),
        };
        // P = e^{3.6} = 37 rows of 48 bytes, plus 9 bytes of pruning
        // buffers per row: 2109 bytes.
        assert!(streams(&setup, 2108).unwrap());
        assert!(!streams(&setup, 2109).unwrap());
        let params = DynamicsParams::default();
        let key = SeedKey::new(5, &[3]);
        let run = |threads, limit| {
            pool(threads)
                .install(|| run_dynamics_trials(&setup, &params, limit, &key, 12))
                .unwrap()
        };
        let (one, two) = (run(1, 1000), run(2, 1000));
        assert_eq!(one, two);
        assert!(one.iter().zip(0..).all(|(r, t)| r.trial == t));
        let retrieved = one.iter().filter(|r| r.retrieved).count();
        assert!((3..=12).contains(&retrieved), "{retrieved}");
        let no_candidates = run(2, 0);
        for (a, b) in one.iter().zip(&no_candidates) {
            assert_eq!((a.retrieved, a.steps), (b.retrieved, b.steps));
            assert!((a.final_overlap - b.final_overlap).abs() < 1e-9);
        }
        let stored = run(2, 1 << 20);
        assert_ne!(stored[0].w1_first, one[0].w1_first, "another generator");
        // 3000 bytes hold one trial's patterns and buffers (2109) but not
        // one per thread: two threads run the stored trials one at a time,
        // with the same results.
        assert_eq!(run(2, 3000), stored);
        assert_eq!(run(1, 3000), stored);
    }

    /// The streamed stepper's pruning rule against brute force
    /// ([`check_pruning_bound`]): gaussian patterns, N = 16, P = 600,
    /// lambda = 4, anchored at xi^1. The first step is the run's one full
    /// pass so far: it finds the largest row norm and draws the candidates,
    /// rows of the matrix in row order. A later step is either pruned, with
    /// no pass, or makes another full pass (and perhaps a second one to
    /// collect its candidates).
    #[test]
    fn pruning_rule_keeps_its_bound() {
        let (n, p, lambda, tolerance) = (16, 600, 4.0, 1e-9);
        let src = StreamedPatterns::new(&PatternLaw::Gaussian, n, p, 30).unwrap();
        let stored = src.to_stored(DEFAULT_MEMORY_LIMIT).unwrap();
        let params = DynamicsParams {
            prune_tolerance: tolerance,
            prune_headroom: 0.0,
            ..DynamicsParams::default()
        };
        let anchor: Vec<f64> = src.row(0).iter().map(|&v| f64::from(v)).collect();
        let after_pass = || {
            let mut stepper = StreamedStepper::new(&src, lambda, &params, 1 << 30);
            stepper.step(&anchor, &mut vec![0.0; n], f64::NEG_INFINITY);
            stepper
        };
        let first = after_pass();
        assert_eq!((first.full_passes, first.pruned), (1, 0));
        assert!((first.max_norm - stored.max_norm()).abs() < 1e-12);
        let candidates = first
            .candidates
            .as_ref()
            .expect("a frozen state draws candidates");
        assert_eq!(candidates.anchor, anchor);
        let mut kept = vec![false; p];
        let mut rows = candidates.rows.chunks_exact(n).peekable();
        for (mu, row) in stored.rows().enumerate() {
            if rows.next_if(|&r| r == row).is_some() {
                kept[mu] = true;
            }
        }
        assert!(rows.next().is_none(), "the candidates are rows, in order");
        let drawn = Drawn {
            anchor: &anchor,
            kept: &kept,
            ln_excluded: candidates.ln_excluded,
        };
        check_pruning_bound(&stored, lambda, tolerance, &drawn, |x| {
            let mut stepper = after_pass();
            stepper.step(x, &mut vec![0.0; n], f64::NEG_INFINITY);
            let passes = stepper.full_passes;
            match stepper.pruned {
                1 => assert_eq!(passes, 1, "a pruned step makes no pass"),
                0 => assert!(passes == 2 || passes == 3, "{passes} passes"),
                other => panic!("{other} pruned steps of one"),
            }
            stepper.pruned == 1
        });
    }

    /// The candidates' pass, over a candidate set that holds every row, is
    /// the full pass bit for bit (the same blocks, combined in the same
    /// order): three chunks and a part, at a state where a row opening the
    /// second chunk outscores xi^1 (so xi^1's top-score flag is false
    /// only if that row is counted).
    #[test]
    fn rows_pass_over_every_row_is_the_full_pass() {
        let (n, p, lambda) = (64, 3 * CHUNK + 5, 0.5);
        let src = StreamedPatterns::new(&PatternLaw::Gaussian, n, p, 44).unwrap();
        let stored = src.to_stored(DEFAULT_MEMORY_LIMIT).unwrap();
        let (xi1, rival) = (src.row(0), src.row(CHUNK));
        let x: Vec<f64> = xi1
            .iter()
            .zip(&rival)
            .map(|(&a, &b)| f64::from(a) + 1.2 * f64::from(b))
            .collect();
        let z: Vec<f64> = stored.rows().map(|r| score(r, &x, lambda)).collect();
        let others = block_max(&z[1..CHUNK]).max(block_max(&z[CHUNK + 1..]));
        assert!(z[CHUNK] > z[0] && z[0] > others, "{z:?}");
        let full = full_pass(&src, &x, lambda, false, f64::NEG_INFINITY, None).unwrap();
        let all = rows_pass(stored.as_slice(), n, &x, lambda);
        let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
        let (fa, fb) = (full.finish(&mut a), all.finish(&mut b));
        assert_eq!(fa, fb);
        assert!(!fb.xi1_largest);
        assert_eq!(full.ln_z().to_bits(), all.ln_z().to_bits());
        let bits = |v: &[f64]| v.iter().map(|a| a.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a), bits(&b));
    }

    /// Streamed trials get the same candidate budget whatever the thread
    /// count. Gaussian patterns, N = 16, P = e^{6.4} = 602, lambda = 4,
    /// pruning to 1e-9 (so that pruned steps differ from full ones in their
    /// last bits), and room for 15 candidate rows: with a share of the
    /// budget per worker thread, two threads gave other bits than one.
    #[test]
    fn streamed_trials_do_not_depend_on_the_thread_count() {
        let setup = Setup {
            law: PatternLaw::Gaussian,
            n: 16,
            alpha: 0.4,
            lambda: 4.0,
            start: Start::Overlap(0.8),
        };
        let params = DynamicsParams {
            prune_tolerance: 1e-9,
            prune_headroom: 0.0,
            ..DynamicsParams::default()
        };
        let key = SeedKey::new(5, &[3]);
        let run = |threads, limit| {
            pool(threads)
                .install(|| run_dynamics_trials(&setup, &params, limit, &key, 12))
                .unwrap()
        };
        let limit = 15 * 64;
        assert!(streams(&setup, limit).unwrap());
        let one = run(1, limit);
        assert_eq!(run(2, limit), one);
        assert_ne!(run(1, 0), one, "some steps are pruned");
    }
}
