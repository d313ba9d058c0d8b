//! Bit-packed storage of discrete patterns, and its score and update
//! kernels.
//!
//! A law with two atoms (binary `+-1`, sparse binary) is stored in one bit
//! per entry, one with three or four (ternary) in two: up to 32 times less
//! memory and memory traffic than `f32` rows. The atoms are the exact `f32`
//! values the sampler writes into a [`Patterns`] matrix, and packed
//! matrices are drawn by the same sampler from the same generator (in
//! chunks, then packed), so a packed matrix holds *the same patterns* as
//! the `f32` matrix of the same seed ([`PackedPatterns::sample`]).
//!
//! Scores `xi^mu . x` come from per-byte lookup tables of the state: for
//! byte position `j` of a row and each of its 256 values `v`, `T_j[v]` is
//! the dot product of the entries coded by `v` with the matching entries of
//! `x` (in `f64`, rebuilt once per state), so a score is one table lookup
//! and one `f64` addition per byte (8 entries of a binary pattern, 4 of a
//! ternary one). The update `sum_mu w_mu xi^mu` accumulates each weight
//! into a table `A_j[v]` per byte position and value and expands the
//! tables into the state at the end of the step. Both are exact in real
//! arithmetic and differ from the `f32` kernels only in the order of the
//! `f64` roundings (tested to 1e-12 relative).

use damcap_theory::ensemble::PatternLaw;

use crate::dynamics::{Rows, StepKernel, Store};
use crate::patterns::Patterns;
use crate::sampler;
use crate::seeds::TrialRng;
use crate::ValidationError;

/// Values a byte takes.
const BYTE_VALUES: usize = 256;

/// Rows sampled at once before packing: a multiple of 64, so that every
/// chunk holds a whole number of 64-entry words of the binary sampler
/// (which draws one `u64` per 64 entries) and the draws match those of one
/// `f32` matrix exactly.
const SAMPLE_ROWS: usize = 4096;

/// `P` patterns of dimension `N` from a law with at most four atoms, each
/// entry stored as the index of its atom in 1 or 2 bits.
#[derive(Clone, Debug, PartialEq)]
pub struct PackedPatterns {
    n: usize,
    p: usize,
    /// Bits per entry (1 or 2).
    bits: usize,
    /// `f32` value of each code.
    atoms: Vec<f32>,
    /// Bytes per row, `ceil(N bits / 8)`; unused high bits are 0.
    row_bytes: usize,
    data: Vec<u8>,
    /// Largest Euclidean norm of a row.
    max_norm: f64,
    /// The first pattern, decoded.
    xi1: Vec<f32>,
}

/// The distinct `f32` values of the entries of `law`, ascending, when it
/// has at most four atoms (the laws stored packed); `None` otherwise.
pub fn packed_atoms(law: &PatternLaw) -> Option<Vec<f32>> {
    let mut values: Vec<f32> = match law {
        PatternLaw::Binary => vec![-1.0, 1.0],
        PatternLaw::Iid(entry) => entry.atoms()?.iter().map(|a| a.value as f32).collect(),
        PatternLaw::Gaussian | PatternLaw::Spherical => return None,
    };
    values.sort_by(f32::total_cmp);
    values.dedup_by(|a, b| a.to_bits() == b.to_bits());
    (values.len() <= 4).then_some(values)
}

/// Bits per entry for `atoms` codes.
fn bits_for(atoms: usize) -> usize {
    if atoms <= 2 {
        1
    } else {
        2
    }
}

/// Bytes of `p` packed patterns of dimension `n` from a law with `atoms`
/// atoms.
pub fn packed_bytes(n: usize, p: u64, atoms: usize) -> u128 {
    (n * bits_for(atoms)).div_ceil(8) as u128 * u128::from(p)
}

impl PackedPatterns {
    /// Draws `p` patterns of dimension `n` from `law` exactly as
    /// [`Patterns::sample`] does (same generator, same draws, so the same
    /// patterns), [`SAMPLE_ROWS`] rows at a time, and packs them.
    ///
    /// # Errors
    /// [`ValidationError::InvalidParameter`] for `n = 0`, `p = 0` or a law
    /// with more than four atoms; [`ValidationError::TooLarge`] when the
    /// packed matrix exceeds `memory_limit` or cannot be allocated.
    pub fn sample(
        law: &PatternLaw,
        n: usize,
        p: usize,
        memory_limit: u64,
        rng: &mut TrialRng,
    ) -> Result<Self, ValidationError> {
        let atoms = packed_atoms(law).ok_or_else(|| {
            ValidationError::InvalidParameter(format!(
                "{law:?} patterns have no packed storage (it needs at most four atoms)"
            ))
        })?;
        if n == 0 || p == 0 {
            return Err(ValidationError::InvalidParameter(format!(
                "need at least one pattern of at least one entry, got N = {n}, P = {p}"
            )));
        }
        let mut packed = Self::empty(n, p, atoms, memory_limit)?;
        let sampler = sampler::for_law(law);
        let mut chunk = vec![0.0_f32; SAMPLE_ROWS * n];
        for first in (0..p).step_by(SAMPLE_ROWS) {
            let rows = SAMPLE_ROWS.min(p - first);
            let chunk = &mut chunk[..rows * n];
            sampler.fill_patterns(chunk, n, rng);
            packed.pack_rows(first, chunk)?;
        }
        packed.finish();
        Ok(packed)
    }

    /// Packs an `f32` matrix whose entries take at most four distinct
    /// values (for tests and benchmarks).
    ///
    /// # Errors
    /// [`ValidationError::InvalidParameter`] when the entries take more
    /// than four values; [`ValidationError::TooLarge`] when the packed
    /// matrix cannot be allocated.
    pub fn from_patterns(patterns: &Patterns) -> Result<Self, ValidationError> {
        let mut atoms: Vec<f32> = patterns.as_slice().to_vec();
        atoms.sort_by(f32::total_cmp);
        atoms.dedup_by(|a, b| a.to_bits() == b.to_bits());
        if atoms.len() > 4 {
            return Err(ValidationError::InvalidParameter(format!(
                "the entries take {} values; packed storage holds at most four",
                atoms.len()
            )));
        }
        let mut packed = Self::empty(patterns.n(), patterns.p(), atoms, u64::MAX)?;
        packed.pack_rows(0, patterns.as_slice())?;
        packed.finish();
        Ok(packed)
    }

    /// A zeroed matrix, after the memory check.
    fn empty(
        n: usize,
        p: usize,
        atoms: Vec<f32>,
        memory_limit: u64,
    ) -> Result<Self, ValidationError> {
        let bits = bits_for(atoms.len());
        let row_bytes = (n * bits).div_ceil(8);
        let bytes = packed_bytes(n, p as u64, atoms.len());
        let too_large = ValidationError::TooLarge {
            bytes,
            limit: memory_limit,
        };
        if bytes > u128::from(memory_limit) {
            return Err(too_large);
        }
        let mut data = Vec::new();
        data.try_reserve_exact(row_bytes * p)
            .map_err(|_| too_large)?;
        data.resize(row_bytes * p, 0);
        Ok(Self {
            n,
            p,
            bits,
            atoms,
            row_bytes,
            data,
            max_norm: 0.0,
            xi1: Vec::new(),
        })
    }

    /// Writes the codes of the `f32` rows `values` from row `first` on.
    fn pack_rows(&mut self, first: usize, values: &[f32]) -> Result<(), ValidationError> {
        let (n, bits, row_bytes) = (self.n, self.bits, self.row_bytes);
        let per_byte = 8 / bits;
        let rows = self.data[first * row_bytes..].chunks_exact_mut(row_bytes);
        for (row, entries) in rows.zip(values.chunks_exact(n)) {
            for (i, &v) in entries.iter().enumerate() {
                let code = self
                    .atoms
                    .iter()
                    .position(|a| a.to_bits() == v.to_bits())
                    .ok_or_else(|| {
                        ValidationError::InvalidParameter(format!(
                            "entry {v} is not an atom of the packed law {:?}",
                            self.atoms
                        ))
                    })?;
                row[i / per_byte] |= (code as u8) << ((i % per_byte) * bits);
            }
        }
        Ok(())
    }

    /// Measures the largest norm and decodes xi^1 once all rows are in.
    fn finish(&mut self) {
        self.xi1 = self.decode(0);
        self.max_norm = (0..self.p)
            .map(|mu| self.squared_norm(mu))
            .fold(0.0, f64::max)
            .sqrt();
    }

    /// Dimension `N`.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of patterns `P`.
    pub fn p(&self) -> usize {
        self.p
    }

    /// Bytes of the packed matrix.
    pub fn bytes(&self) -> usize {
        self.data.len()
    }

    /// Largest Euclidean norm `max_mu |xi^mu|`.
    pub fn max_norm(&self) -> f64 {
        self.max_norm
    }

    /// The first pattern, xi^1, decoded.
    pub fn xi1(&self) -> &[f32] {
        &self.xi1
    }

    /// The packed bytes of pattern `mu`.
    pub fn packed_row(&self, mu: usize) -> &[u8] {
        &self.data[mu * self.row_bytes..(mu + 1) * self.row_bytes]
    }

    /// Pattern `mu` as `f32` entries.
    pub fn decode(&self, mu: usize) -> Vec<f32> {
        let per_byte = 8 / self.bits;
        let mask = (1u8 << self.bits) - 1;
        let row = self.packed_row(mu);
        (0..self.n)
            .map(|i| {
                let code = (row[i / per_byte] >> ((i % per_byte) * self.bits)) & mask;
                self.atoms[usize::from(code)]
            })
            .collect()
    }

    /// `|xi^mu|^2` in `f64`, summed in entry order like the `f32` rows'.
    pub fn squared_norm(&self, mu: usize) -> f64 {
        self.decode(mu).iter().map(|&v| f64::from(v).powi(2)).sum()
    }

    /// Per-byte lookup tables of `x`: `T[j 256 + v]` is the dot product of
    /// the entries coded by byte value `v` at byte position `j` with the
    /// matching entries of `x`.
    pub(crate) fn tables(&self, x: &[f64]) -> Vec<f64> {
        let per_byte = 8 / self.bits;
        let mask = (1usize << self.bits) - 1;
        let mut tables = vec![0.0; self.row_bytes * BYTE_VALUES];
        for (j, table) in tables.chunks_exact_mut(BYTE_VALUES).enumerate() {
            let xs = &x[j * per_byte..((j + 1) * per_byte).min(self.n)];
            for (v, t) in table.iter_mut().enumerate() {
                *t = xs
                    .iter()
                    .enumerate()
                    .map(|(k, &xk)| {
                        f64::from(self.atoms[(v >> (k * self.bits)) & mask]) * xk
                    })
                    .sum();
            }
        }
        tables
    }

    /// Score of the packed row `row` from the tables of a state.
    #[inline]
    pub(crate) fn score(tables: &[f64], row: &[u8]) -> f64 {
        let mut sum = 0.0;
        for (table, &b) in tables.chunks_exact(BYTE_VALUES).zip(row) {
            sum += table[usize::from(b)];
        }
        sum
    }

    /// Scores `xi^mu . x` of the rows `first..first + out.len()`.
    pub(crate) fn score_range(&self, tables: &[f64], first: usize, out: &mut [f64]) {
        let rb = self.row_bytes;
        let rows = self.data[first * rb..(first + out.len()) * rb].chunks_exact(rb);
        for (s, row) in out.iter_mut().zip(rows) {
            *s = Self::score(tables, row);
        }
    }
}

/// Scores `s_mu = xi^mu . x` of all packed patterns against `x`, written to
/// `out` (length `P`), by lookup tables (module doc); exposed so that its
/// throughput can be timed.
///
/// # Errors
/// [`ValidationError::InvalidParameter`] when `x` or `out` has the wrong length.
pub fn packed_scores(
    patterns: &PackedPatterns,
    x: &[f64],
    out: &mut [f64],
) -> Result<(), ValidationError> {
    if x.len() != patterns.n || out.len() != patterns.p {
        return Err(ValidationError::InvalidParameter(format!(
            "need a state of N = {} entries and P = {} scores, got {} and {}",
            patterns.n,
            patterns.p,
            x.len(),
            out.len()
        )));
    }
    patterns.score_range(&patterns.tables(x), 0, out);
    Ok(())
}

/// The step kernel of packed patterns at one state: its score tables and
/// the weight accumulated per byte position and value.
pub(crate) struct PackedKernel<'a> {
    patterns: &'a PackedPatterns,
    tables: Vec<f64>,
    weights: Vec<f64>,
}

impl StepKernel for PackedKernel<'_> {
    fn scores(&self, rows: Rows<'_>, out: &mut [f64]) {
        match rows {
            Rows::Range(first, _) => self.patterns.score_range(&self.tables, first, out),
            Rows::List(list) => {
                for (s, &mu) in out.iter_mut().zip(list) {
                    *s = PackedPatterns::score(&self.tables, self.patterns.packed_row(mu));
                }
            }
        }
    }

    fn rescale(&mut self, factor: f64) {
        self.weights.iter_mut().for_each(|w| *w *= factor);
    }

    fn add(&mut self, w: f64, mu: usize) {
        let row = self.patterns.packed_row(mu);
        for (acc, &b) in self.weights.chunks_exact_mut(BYTE_VALUES).zip(row) {
            acc[usize::from(b)] += w;
        }
    }

    /// `next_i = sum_v A_j[v] atom(code of entry i in v)`, `j` the byte of
    /// entry `i`.
    fn finish(self, next: &mut [f64]) {
        let p = self.patterns;
        let per_byte = 8 / p.bits;
        let mask = (1usize << p.bits) - 1;
        next.fill(0.0);
        for (j, acc) in self.weights.chunks_exact(BYTE_VALUES).enumerate() {
            let out = &mut next[j * per_byte..((j + 1) * per_byte).min(p.n)];
            for (v, &a) in acc.iter().enumerate() {
                if a != 0.0 {
                    for (k, o) in out.iter_mut().enumerate() {
                        *o += a * f64::from(p.atoms[(v >> (k * p.bits)) & mask]);
                    }
                }
            }
        }
    }
}

impl Store for PackedPatterns {
    type Kernel<'a> = PackedKernel<'a>;

    fn n(&self) -> usize {
        self.n
    }

    fn p(&self) -> usize {
        self.p
    }

    fn max_norm(&self) -> f64 {
        self.max_norm
    }

    fn xi1(&self) -> &[f32] {
        &self.xi1
    }

    fn kernel(&self, x: &[f64]) -> PackedKernel<'_> {
        PackedKernel {
            patterns: self,
            tables: self.tables(x),
            weights: vec![0.0; self.row_bytes * BYTE_VALUES],
        }
    }
}
