//! Bit-packed storage of discrete patterns, and its score and update
//! kernels.
//!
//! A law with two atoms (binary `+-1`, sparse binary) is stored in one bit
//! per entry, one with three or four (ternary) in two: up to 32 times less
//! memory and memory traffic than `f32` rows. The atoms are the exact `f32`
//! values the sampler writes into a [`Patterns`] matrix, and packed
//! matrices are drawn with the same draws from the same generator, so a
//! packed matrix holds *the same patterns* as the `f32` matrix of the same
//! seed ([`PackedPatterns::sample`]; tested entry by entry).
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

use damcap_theory::law::EntryLaw;
use rand::Rng;

use crate::dynamics::{Rows, StepKernel, Store};
use crate::entries::EntrySampler;
use crate::patterns::{advise_huge_pages, Patterns};
use crate::seeds::TrialRng;
use crate::ValidationError;

/// Values a byte takes.
const BYTE_VALUES: usize = 256;

/// Binary rows drawn at once: a multiple of 64, so that every chunk holds
/// a whole number of 64-entry words of the binary sampler (which draws one
/// `u64` per 64 entries) and the draws match those of one `f32` matrix
/// exactly.
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

/// Whole packed bytes of a dyadic law looked up from the random bits
/// their picks take (for ternary: 8 random bits give 4 codes), when those
/// bits divide a 64-bit word: the same patterns as pick by pick, without
/// the per-entry work (which cost 1.7 ns per ternary entry).
struct ByteTable {
    /// Random bits per packed byte.
    bits: u32,
    /// The packed byte of each value of those bits.
    byte_of: Vec<u8>,
}

/// Largest number of random bits a [`ByteTable`] looks up.
const MAX_TABLE_BITS: u32 = 16;

/// The byte table of `picker`'s law for rows of `n` entries with atom
/// codes `codes` of `code_bits` bits, if its picks are chunks of random
/// bits (a dyadic law), rows fill whole bytes, and a byte's chunks fit
/// whole words and the table.
fn byte_table(
    picker: &EntrySampler,
    n: usize,
    codes: &[u8],
    code_bits: usize,
) -> Option<ByteTable> {
    let (pick_bits, atom_of) = picker.chunk_atoms()?;
    let per_byte = (8 / code_bits) as u32;
    let bits = per_byte * pick_bits;
    if !n.is_multiple_of(per_byte as usize) || bits > MAX_TABLE_BITS || 64 % bits != 0 {
        return None;
    }
    let mask = (1usize << pick_bits) - 1;
    let byte_of = (0..1usize << bits)
        .map(|r| {
            (0..per_byte).fold(0u8, |byte, e| {
                let chunk = (r >> (e * pick_bits)) & mask;
                byte | codes[usize::from(atom_of[chunk])] << (e as usize * code_bits)
            })
        })
        .collect();
    Some(ByteTable { bits, byte_of })
}

impl ByteTable {
    /// Fills whole packed rows (no byte shared by two rows), one random
    /// word per `64 / bits` bytes.
    fn fill(&self, data: &mut [u8], rng: &mut TrialRng) {
        let mask = (1u64 << self.bits) - 1;
        for bytes in data.chunks_mut((64 / self.bits) as usize) {
            let mut word = rng.next_u64();
            for byte in bytes {
                *byte = self.byte_of[(word & mask) as usize];
                word >>= self.bits;
            }
        }
    }
}

impl PackedPatterns {
    /// Draws `p` patterns of dimension `n` from `law` with exactly the
    /// draws of [`Patterns::sample`] (same generator, same order), so the
    /// same patterns, writing the codes directly: binary entries are the
    /// bits of the sampler's 64-bit words (bit `k` of word `w` is entry
    /// `64 w + k` of the row-major matrix, `1` for `+1`), law-file entries
    /// the atoms picked by its [`EntrySampler`] (one uniform per entry).
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
        match law {
            PatternLaw::Iid(entry) => packed.fill_picked(entry, rng),
            _ => packed.fill_bits(rng),
        }
        packed.finish();
        Ok(packed)
    }

    /// Binary rows from the sampler's stream of 64-bit words, drawn
    /// [`SAMPLE_ROWS`] rows at a time (a whole number of words, so the
    /// stream is the one of a single `f32` matrix).
    fn fill_bits(&mut self, rng: &mut TrialRng) {
        let (n, p, rb) = (self.n, self.p, self.row_bytes);
        let mut words = vec![0u64; (SAMPLE_ROWS * n).div_ceil(64) + 1];
        for first in (0..p).step_by(SAMPLE_ROWS) {
            let rows = SAMPLE_ROWS.min(p - first);
            let count = (rows * n).div_ceil(64);
            words[..count].iter_mut().for_each(|w| *w = rng.next_u64());
            words[count] = 0;
            let chunk = &mut self.data[first * rb..(first + rows) * rb];
            for (r, row) in chunk.chunks_exact_mut(rb).enumerate() {
                for (j, byte) in row.iter_mut().enumerate() {
                    let bit = r * n + 8 * j;
                    let len = 8.min(n - 8 * j);
                    let (k, offset) = (bit / 64, bit % 64);
                    let window = u128::from(words[k]) | (u128::from(words[k + 1]) << 64);
                    *byte = ((window >> offset) as u8) & (((1u16 << len) - 1) as u8);
                }
            }
        }
    }

    /// Law-file rows, entry by entry in row-major order, each the code of
    /// the atom the law's sampler picks (one stream of picks for the whole
    /// matrix, as for one `f32` matrix).
    fn fill_picked(&mut self, entry: &EntryLaw, rng: &mut TrialRng) {
        let codes: Vec<u8> = entry
            .atoms()
            .unwrap_or_default()
            .iter()
            .map(|a| {
                let v = (a.value as f32).to_bits();
                self.atoms
                    .iter()
                    .position(|b| b.to_bits() == v)
                    .unwrap_or(0) as u8
            })
            .collect();
        let picker = EntrySampler::new(entry);
        let (n, bits, rb) = (self.n, self.bits, self.row_bytes);
        if let Some(table) = byte_table(&picker, n, &codes, bits) {
            return table.fill(&mut self.data, rng);
        }
        let per_byte = 8 / bits;
        let mut picks = picker.picks(rng);
        for row in self.data.chunks_exact_mut(rb) {
            for (j, byte) in row.iter_mut().enumerate() {
                *byte = (0..per_byte.min(n - j * per_byte))
                    .fold(0, |b, e| b | codes[picks.next_atom()] << (e * bits));
            }
        }
    }

    /// Packs an `f32` matrix whose entries take at most four distinct
    /// values (for tests and benchmarks).
    ///
    /// # Errors
    /// [`ValidationError::InvalidParameter`] when the entries take more
    /// than four values; [`ValidationError::TooLarge`] when the packed
    /// matrix cannot be allocated.
    pub fn from_patterns(patterns: &Patterns) -> Result<Self, ValidationError> {
        let mut atoms: Vec<f32> = Vec::new();
        for &v in patterns.as_slice() {
            if !atoms.iter().any(|a| a.to_bits() == v.to_bits()) {
                atoms.push(v);
                if atoms.len() > 4 {
                    break;
                }
            }
        }
        atoms.sort_by(f32::total_cmp);
        if atoms.len() > 4 {
            return Err(ValidationError::InvalidParameter(format!(
                "the entries take {} values; packed storage holds at most four",
                atoms.len()
            )));
        }
        let mut packed = Self::empty(patterns.n(), patterns.p(), atoms, u64::MAX)?;
        packed.pack_rows(patterns.as_slice())?;
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
        advise_huge_pages(data.spare_capacity_mut());
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

    /// Writes the codes of the `f32` rows `values`, one packed row each.
    fn pack_rows(&mut self, values: &[f32]) -> Result<(), ValidationError> {
        let (n, bits, row_bytes) = (self.n, self.bits, self.row_bytes);
        let shift = 4 - bits;
        let atoms: Vec<u32> = self.atoms.iter().map(|a| a.to_bits()).collect();
        let rows = self.data.chunks_exact_mut(row_bytes);
        for (row, entries) in rows.zip(values.chunks_exact(n)) {
            for (i, &v) in entries.iter().enumerate() {
                let Some(code) = atoms.iter().position(|&a| a == v.to_bits()) else {
                    return Err(ValidationError::InvalidParameter(format!(
                        "entry {v} is not an atom of the packed law {:?}",
                        self.atoms
                    )));
                };
                row[i >> shift] |= (code as u8) << ((i & ((1 << shift) - 1)) * bits);
            }
        }
        Ok(())
    }

    /// Measures the largest norm (by per-byte tables of squared entries,
    /// one lookup per byte) and decodes xi^1 once all rows are in.
    fn finish(&mut self) {
        self.xi1 = self.decode(0);
        let ones = vec![1.0; self.n];
        let squares = self.tables_with(&ones, |a| a * a);
        self.max_norm = self
            .data
            .chunks_exact(self.row_bytes)
            .map(|row| Self::score(&squares, row))
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

    /// Bits per entry: 1 for two atoms, 2 for three or four.
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// The `f32` value of each code, ascending.
    pub fn atoms(&self) -> &[f32] {
        &self.atoms
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
        let row = self.packed_row(mu);
        (0..self.n).map(|i| self.atoms[self.code(row, i)]).collect()
    }

    /// The code of entry `i` of the packed row `row`.
    #[inline]
    fn code(&self, row: &[u8], i: usize) -> usize {
        // Entries per byte: 8 (shift 3) at 1 bit, 4 (shift 2) at 2 bits.
        let shift = 4 - self.bits;
        let offset = (i & ((1 << shift) - 1)) * self.bits;
        usize::from((row[i >> shift] >> offset) & ((1 << self.bits) - 1))
    }

    /// `|xi^mu|^2` in `f64`, summed in entry order like the `f32` rows'
    /// (so bitwise the same value).
    pub fn squared_norm(&self, mu: usize) -> f64 {
        let row = self.packed_row(mu);
        (0..self.n)
            .map(|i| self.code_value(self.code(row, i)).powi(2))
            .sum()
    }

    /// The value of a code; 0 for a code no atom uses (such codes occur
    /// in the tables, never in the rows).
    fn code_value(&self, code: usize) -> f64 {
        self.atoms.get(code).map_or(0.0, |&a| f64::from(a))
    }

    /// Per-byte lookup tables of `x`: `T[j 256 + v]` is the dot product of
    /// the entries coded by byte value `v` at byte position `j` with the
    /// matching entries of `x`.
    pub(crate) fn tables(&self, x: &[f64]) -> Vec<f64> {
        self.tables_with(x, |a| a)
    }

    /// Per-byte tables of `sum_k f(atom_k) x_k` over the entries `k` of
    /// each byte.
    fn tables_with(&self, x: &[f64], f: impl Fn(f64) -> f64) -> Vec<f64> {
        let per_byte = 8 / self.bits;
        let mask = (1usize << self.bits) - 1;
        let mut tables = vec![0.0; self.row_bytes * BYTE_VALUES];
        for (j, table) in tables.chunks_exact_mut(BYTE_VALUES).enumerate() {
            let xs = &x[j * per_byte..((j + 1) * per_byte).min(self.n)];
            for (v, t) in table.iter_mut().enumerate() {
                *t = xs
                    .iter()
                    .enumerate()
                    .map(|(k, &xk)| f(self.code_value((v >> (k * self.bits)) & mask)) * xk)
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
            Rows::Range(first, end) => {
                // As the f32 kernel does: the range and the output agree.
                assert_eq!(end.wrapping_sub(first), out.len(), "rows {first}..{end}");
                self.patterns.score_range(&self.tables, first, out);
            }
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

    fn add(&mut self, terms: &[(f64, usize)]) {
        for &(w, mu) in terms {
            let row = self.patterns.packed_row(mu);
            for (acc, &b) in self.weights.chunks_exact_mut(BYTE_VALUES).zip(row) {
                acc[usize::from(b)] += w;
            }
        }
    }

    fn absorb(&mut self, other: Self) {
        self.weights
            .iter_mut()
            .zip(&other.weights)
            .for_each(|(a, b)| *a += b);
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
                        *o += a * p.code_value((v >> (k * p.bits)) & mask);
                    }
                }
            }
        }
    }
}

impl Store for PackedPatterns {
    const RECORDS_SCORES: bool = false;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamics::{run_to_state, DynamicsParams, Store};
    use crate::patterns::{initial_state, DEFAULT_MEMORY_LIMIT};
    use crate::seeds::trial_rng;
    use damcap_theory::law::{EntryLaw, Family};
    use std::sync::Arc;

    /// Laws of every packed sampling path: binary words; dyadic law files
    /// by byte tables (ternary, +-1 as a law file), chunk by chunk (four
    /// atoms in eighths: 3 random bits a pick) and one uniform per entry
    /// (sparse binary).
    pub(crate) fn discrete_laws() -> [PatternLaw; 5] {
        let file = |family| PatternLaw::Iid(Arc::new(EntryLaw::new(family).unwrap()));
        [
            PatternLaw::Binary,
            file(Family::Ternary {
                zero_probability: 0.5,
            }),
            file(Family::SparseBinary { density: 0.1 }),
            file(Family::Discrete {
                values: vec![-1.0, 1.0],
                probabilities: vec![0.5, 0.5],
            }),
            file(Family::Discrete {
                values: vec![-3.0, -1.0, 1.0, 3.0],
                probabilities: vec![0.125, 0.375, 0.375, 0.125],
            }),
        ]
    }

    /// Both storages of the same seed, `P = round(e^{alpha N})`.
    pub(crate) fn both(
        law: &PatternLaw,
        n: usize,
        p: usize,
        seed: u64,
    ) -> (Patterns, PackedPatterns) {
        let rows = Patterns::sample(law, n, p, DEFAULT_MEMORY_LIMIT, &mut trial_rng(seed)).unwrap();
        let packed =
            PackedPatterns::sample(law, n, p, DEFAULT_MEMORY_LIMIT, &mut trial_rng(seed)).unwrap();
        (rows, packed)
    }

    /// Sampled packed and `f32` matrices of the same seed hold bitwise the
    /// same patterns (sizes with partial bytes, P over one sampling chunk,
    /// N = 40 in whole bytes for the byte tables), in 1 bit per entry for
    /// two atoms and 2 bits for three or four; packing an
    /// `f32` matrix gives the same bytes; the largest norms agree to
    /// rounding (summed in another order; the pruning bound allows for it).
    #[test]
    fn packed_sampling_holds_the_same_patterns() {
        for (law, bits) in discrete_laws().iter().zip([1, 2, 1, 1, 2]) {
            for (n, p) in [(5, 300), (13, 5000), (40, 700)] {
                let (rows, packed) = both(law, n, p, 7 + n as u64);
                assert_eq!(packed.bytes(), (n * bits).div_ceil(8) * p, "{law:?}");
                for mu in 0..p {
                    let decoded: Vec<u32> = packed.decode(mu).iter().map(|v| v.to_bits()).collect();
                    let stored: Vec<u32> = rows.row(mu).iter().map(|v| v.to_bits()).collect();
                    assert_eq!(decoded, stored, "{law:?} N {n} row {mu}");
                }
                assert_eq!(
                    PackedPatterns::from_patterns(&rows).unwrap().data,
                    packed.data
                );
                let (a, b) = (packed.max_norm(), rows.max_norm());
                assert!((a - b).abs() <= 1e-15 * b, "{a} vs {b}");
                // The dynamics' pruning bound reads it through the store.
                assert_eq!(Store::max_norm(&packed), a);
                assert_eq!(packed.xi1(), rows.xi1());
            }
        }
        assert!(PackedPatterns::sample(
            &PatternLaw::Gaussian,
            4,
            4,
            DEFAULT_MEMORY_LIMIT,
            &mut trial_rng(1)
        )
        .is_err());
        let big =
            PackedPatterns::sample(&PatternLaw::Binary, 64, 1 << 20, 1 << 20, &mut trial_rng(1));
        assert!(matches!(big, Err(ValidationError::TooLarge { .. })));
    }

    /// What a packed matrix says about itself: sizes, bits, atoms
    /// (ascending), and squared norms bitwise those of the `f32` rows
    /// (summed in entry order); which laws pack, and their bytes.
    #[test]
    fn packed_matrices_describe_themselves() {
        for (law, (bits, atoms)) in
            discrete_laws()
                .iter()
                .zip([(1, 2), (2, 3), (1, 2), (1, 2), (2, 4)])
        {
            let (rows, packed) = both(law, 13, 70, 3);
            assert_eq!(
                (packed.n(), packed.p(), packed.bits()),
                (13, 70, bits),
                "{law:?}"
            );
            assert_eq!(packed.atoms(), packed_atoms(law).unwrap().as_slice());
            assert_eq!(packed.atoms().len(), atoms);
            assert!(packed.atoms().windows(2).all(|w| w[0] < w[1]));
            assert_eq!(packed_bytes(13, 70, atoms), packed.bytes() as u128);
            for mu in 0..70 {
                let direct: f64 = rows.row(mu).iter().map(|&v| f64::from(v).powi(2)).sum();
                assert_eq!(
                    packed.squared_norm(mu).to_bits(),
                    direct.to_bits(),
                    "{law:?} {mu}"
                );
            }
        }
        // 10 binary rows of 8 entries are 10 bytes: accepted at a limit of
        // exactly 10 bytes, refused at 9.
        let at =
            |limit| PackedPatterns::sample(&PatternLaw::Binary, 8, 10, limit, &mut trial_rng(1));
        assert!(at(10).is_ok());
        assert!(matches!(
            at(9),
            Err(ValidationError::TooLarge {
                bytes: 10,
                limit: 9
            })
        ));
        let five = Patterns::from_rows(5, vec![-2.0, -1.0, 0.0, 1.0, 2.0]).unwrap();
        let text = PackedPatterns::from_patterns(&five)
            .unwrap_err()
            .to_string();
        assert!(text.contains("the entries take 5 values"), "{text}");
        for (n, p) in [(0, 5), (5, 0)] {
            let empty =
                PackedPatterns::sample(&PatternLaw::Binary, n, p, 1 << 20, &mut trial_rng(1));
            assert!(empty.is_err(), "N = {n}, P = {p}");
        }
        assert_eq!(packed_atoms(&PatternLaw::Binary).unwrap(), [-1.0, 1.0]);
        assert_eq!(packed_atoms(&PatternLaw::Gaussian), None);
        assert_eq!(packed_atoms(&PatternLaw::Spherical), None);
        let five = EntryLaw::new(Family::Discrete {
            values: vec![-2.0, -1.0, 0.0, 1.0, 2.0],
            probabilities: vec![0.2; 5],
        });
        assert_eq!(
            packed_atoms(&PatternLaw::Iid(Arc::new(five.unwrap()))),
            None
        );
        // 1 bit for two atoms, 2 for three or four: 13 entries in 2 or 4 bytes.
        assert_eq!(packed_bytes(13, 5, 2), 10);
        assert_eq!(packed_bytes(13, 5, 3), 20);
        assert_eq!(packed_bytes(16, 5, 4), 20);
    }

    /// Byte tables exist for dyadic laws whose picks fill a byte in at most
    /// 16 random bits that divide a 64-bit word, for rows of whole bytes:
    /// ternary (4 entries of 2 random bits: 8 bits) and +-1 as a law file
    /// (8 entries of 1 bit), not four atoms in eighths (4 x 3 = 12 bits),
    /// not a row that ends inside a byte; two atoms in quarters reach the
    /// largest table, 16 bits. (Without a table the same
    /// patterns are drawn pick by pick, more slowly.)
    #[test]
    fn byte_tables_where_picks_fill_bytes() {
        let laws = discrete_laws();
        let table = |law: &PatternLaw, n: usize, atoms: usize| {
            let PatternLaw::Iid(entry) = law else {
                unreachable!("law files only")
            };
            let codes: Vec<u8> = (0..atoms as u8).collect();
            byte_table(&EntrySampler::new(entry), n, &codes, bits_for(atoms)).map(|t| t.bits)
        };
        assert_eq!(table(&laws[1], 40, 3), Some(8));
        assert_eq!(table(&laws[1], 41, 3), None);
        assert_eq!(table(&laws[3], 40, 2), Some(8));
        assert_eq!(table(&laws[3], 44, 2), None);
        assert_eq!(table(&laws[4], 40, 4), None);
        assert_eq!(table(&laws[2], 40, 2), None, "sparse binary is not dyadic");
        // Two atoms in quarters: 8 entries of 2 random bits, 16 bits, the
        // largest table; in eighths, 24 bits, too large.
        let two = |p: f64| {
            let entry = EntryLaw::new(Family::Discrete {
                values: vec![-1.0, 1.0],
                probabilities: vec![p, 1.0 - p],
            });
            PatternLaw::Iid(Arc::new(entry.unwrap()))
        };
        assert_eq!(table(&two(0.25), 40, 2), Some(16));
        assert_eq!(table(&two(0.125), 40, 2), None);
    }

    /// Lookup-table scores equal the `f32` kernel's to 1e-12 of
    /// `|xi| |x|`, at continuous states (after a step) and at patterns.
    #[test]
    fn packed_scores_equal_f32_scores() {
        for law in discrete_laws() {
            for n in [3, 16, 37] {
                let (rows, packed) = both(&law, n, 999, 40 + n as u64);
                let wavy: Vec<f64> = (0..n).map(|i| (i as f64 * 0.77).sin() * 2.3).collect();
                let pattern: Vec<f64> = rows.row(5).iter().map(|&v| f64::from(v)).collect();
                for x in [wavy, pattern] {
                    let (mut a, mut b) = (vec![0.0; 999], vec![0.0; 999]);
                    crate::dynamics::scores(&rows, &x, &mut a).unwrap();
                    packed_scores(&packed, &x, &mut b).unwrap();
                    let x_norm = crate::patterns::norm(&x);
                    for ((s, t), mu) in a.iter().zip(&b).zip(0..) {
                        let scale = packed.squared_norm(mu).sqrt() * x_norm;
                        assert!((s - t).abs() <= 1e-12 * scale, "{law:?} N {n}: {s} vs {t}");
                    }
                }
            }
        }
    }

    /// A state or an output of the wrong length is refused, each alone.
    #[test]
    fn packed_scores_check_both_lengths() {
        let (_, packed) = both(&PatternLaw::Binary, 8, 10, 1);
        assert!(packed_scores(&packed, &[0.5; 7], &mut [0.0; 10]).is_err());
        assert!(packed_scores(&packed, &[0.5; 8], &mut [0.0; 9]).is_err());
        assert!(packed_scores(&packed, &[0.5; 8], &mut [0.0; 10]).is_ok());
    }

    /// The dynamics on packed patterns against the same dynamics on the
    /// `f32` rows of the same seeds, full and pruned, on 5 laws x 3 lambda
    /// x 2 starts x 10 seeds = 300 runs (P over a block of rows; lambda = 1
    /// includes paramagnetic runs that decay slowly): final states agree to
    /// 1e-9, retrieved flags, steps and convergence are identical, and
    /// pruning is used. (Pruned steps may differ in number: packed storage
    /// recomputes the scores and draws a candidate set at the first
    /// promising pass, `f32` rows record them at the next one.)
    #[test]
    fn packed_dynamics_equals_f32_dynamics() {
        let params = DynamicsParams {
            max_steps: 200,
            tolerance: 1e-10,
            ..DynamicsParams::default()
        };
        let (mut runs, mut pruned, mut retrieved) = (0, 0, 0);
        for (l, law) in discrete_laws().iter().enumerate() {
            for (lambda, alpha) in [(1.0, 0.5), (2.0, 0.45), (5.0, 0.4)] {
                for rho in [1.0, 0.6] {
                    for seed in 0..10 {
                        let n = 16;
                        let p = (alpha * n as f64).exp().round() as usize;
                        let s = 1000 * l as u64 + 100 * lambda as u64 + 10 * (rho == 1.0) as u64;
                        let (rows, packed) = both(law, n, p, s + seed);
                        let mut rng = trial_rng(s + seed + 1);
                        let x0 = initial_state(law, rows.xi1(), rho, &mut rng).unwrap();
                        for set in [params.full(), params] {
                            let (a, xa) = run_to_state(&rows, &x0, lambda, &set).unwrap();
                            let (b, xb) = run_to_state(&packed, &x0, lambda, &set).unwrap();
                            let what = format!("{law:?} lambda {lambda} rho {rho} seed {seed}");
                            let gap = xa
                                .iter()
                                .zip(&xb)
                                .map(|(u, v)| (u - v).abs())
                                .fold(0.0, f64::max);
                            assert!(gap <= 1e-9, "{what}: {gap}");
                            assert_eq!(
                                (a.retrieved, a.steps, a.converged),
                                (b.retrieved, b.steps, b.converged),
                                "{what}"
                            );
                            assert!((a.final_weight - b.final_weight).abs() <= 1e-9, "{what}");
                            runs += 1;
                            pruned += usize::from(b.pruned_steps > 0);
                            retrieved += usize::from(b.retrieved);
                        }
                    }
                }
            }
        }
        assert_eq!(runs, 600);
        assert!(
            pruned >= 30 && (40..=320).contains(&retrieved),
            "{pruned} {retrieved}"
        );
    }
}
