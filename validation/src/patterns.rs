//! Stored patterns and initial states, sampled from the ensembles of
//! docs/theory.md (§1 and §7).
//!
//! Patterns are kept row-major in `f32` (P rows of N entries): memory, not
//! arithmetic, limits the accessible `N`, since `P = round(exp(alpha N))`.
//! All ensembles follow the convention `E|xi|^2 = N`; spherical patterns
//! have `|xi|^2 = N` up to `f32` rounding.

use damcap_theory::ensemble::PatternLaw;

use crate::sampler;
use crate::seeds::TrialRng;
use crate::ValidationError;

/// Default cap on the memory of one pattern matrix: 4 GiB.
pub const DEFAULT_MEMORY_LIMIT: u64 = 4 << 30;

/// `P` stored patterns of dimension `N`, row-major in `f32`.
#[derive(Clone, Debug)]
pub struct Patterns {
    n: usize,
    /// The entries, from `data[start]` on (sampled matrices start on a
    /// cache line, [`LINE_FLOATS`]).
    data: Vec<f32>,
    start: usize,
    /// Largest Euclidean norm of a row (for the pruned dynamics' bounds).
    max_norm: f64,
}

/// Two matrices are equal when their rows are, wherever they start (the
/// largest norm follows from the rows).
impl PartialEq for Patterns {
    fn eq(&self, other: &Self) -> bool {
        self.n == other.n && self.as_slice() == other.as_slice()
    }
}

/// `f32` entries per 64-byte cache line. A sampled matrix starts on a line,
/// so that the kernel's 32-byte loads never straddle two lines (the
/// allocator's large blocks start 16 bytes past a page boundary).
const LINE_FLOATS: usize = 16;

/// Bytes needed to store `p` patterns of dimension `n` in `f32`.
pub fn matrix_bytes(n: usize, p: u64) -> u128 {
    n as u128 * u128::from(p) * std::mem::size_of::<f32>() as u128
}

impl Patterns {
    /// Draws `p` i.i.d. patterns of dimension `n` from `law`.
    ///
    /// Refuses (without allocating) when the matrix would take more than
    /// `memory_limit` bytes, and reports a failed allocation as an error
    /// instead of aborting.
    ///
    /// # Errors
    /// [`ValidationError::InvalidParameter`] for `n = 0` or `p = 0`; [`ValidationError::TooLarge`] when the matrix exceeds `memory_limit` or cannot be allocated.
    pub fn sample(
        law: &PatternLaw,
        n: usize,
        p: usize,
        memory_limit: u64,
        rng: &mut TrialRng,
    ) -> Result<Self, ValidationError> {
        if n == 0 || p == 0 {
            return Err(ValidationError::InvalidParameter(format!(
                "need at least one pattern of at least one entry, got N = {n}, P = {p}"
            )));
        }
        let bytes = matrix_bytes(n, p as u64);
        if bytes > u128::from(memory_limit) {
            return Err(ValidationError::TooLarge {
                bytes,
                limit: memory_limit,
            });
        }
        let len = n * p;
        let mut data: Vec<f32> = Vec::new();
        data.try_reserve_exact(len + LINE_FLOATS - 1)
            .map_err(|_| ValidationError::TooLarge {
                bytes,
                limit: memory_limit,
            })?;
        advise_huge_pages(data.spare_capacity_mut());
        let start = data
            .as_ptr()
            .align_offset(4 * LINE_FLOATS)
            .min(LINE_FLOATS - 1);
        data.resize(start + len, 0.0);
        sampler::for_law(law).fill_patterns(&mut data[start..], n, rng);
        Ok(Self::new(n, data, start))
    }

    /// Wraps given row-major data as `data.len() / n` patterns of dimension
    /// `n` (for benchmarks and hand-made examples).
    ///
    /// # Errors
    /// [`ValidationError::InvalidParameter`] unless `data` holds a whole, non-zero number of rows of length `n`.
    pub fn from_rows(n: usize, data: Vec<f32>) -> Result<Self, ValidationError> {
        if n == 0 || data.is_empty() || !data.len().is_multiple_of(n) {
            return Err(ValidationError::InvalidParameter(format!(
                "{} entries do not form a non-empty set of rows of length N = {n}",
                data.len()
            )));
        }
        Ok(Self::new(n, data, 0))
    }

    /// Wraps whole rows of length `n` from `data[start]` on, measuring the
    /// largest norm.
    fn new(n: usize, data: Vec<f32>, start: usize) -> Self {
        let max_norm = data[start..]
            .chunks_exact(n)
            .map(|r| r.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>())
            .fold(0.0, f64::max)
            .sqrt();
        Self {
            n,
            data,
            start,
            max_norm,
        }
    }

    /// Largest Euclidean norm `max_mu |xi^mu|` (in `f64`, from the `f32`
    /// entries).
    pub fn max_norm(&self) -> f64 {
        self.max_norm
    }

    /// Dimension `N`.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of patterns `P`.
    pub fn p(&self) -> usize {
        self.as_slice().len() / self.n
    }

    /// The first pattern, xi^1, the one to retrieve (there is always one).
    pub fn xi1(&self) -> &[f32] {
        &self.as_slice()[..self.n]
    }

    /// The row-major entries.
    pub fn as_slice(&self) -> &[f32] {
        &self.data[self.start..]
    }

    /// Pattern `mu` (0-based; panics past `P`).
    pub fn row(&self, mu: usize) -> &[f32] {
        &self.as_slice()[mu * self.n..(mu + 1) * self.n]
    }

    /// All patterns in order.
    pub fn rows(&self) -> std::slice::ChunksExact<'_, f32> {
        self.as_slice().chunks_exact(self.n)
    }
}

/// Asks the kernel to back `buffer` (not yet written) with 2 MiB pages.
/// A pass over a pattern matrix reads it once, end to end; with 4 KiB
/// pages every 4 KiB costs a page walk, and where transparent huge pages
/// are enabled only on request (`madvise`, a common default) the matrix
/// would not get them. Advice only: the contents and results are the
/// same either way, and a refusal is ignored.
pub(crate) fn advise_huge_pages<T>(buffer: &mut [T]) {
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        let start = buffer.as_mut_ptr() as usize;
        let end = start + std::mem::size_of_val(buffer);
        let first = start.next_multiple_of(PAGE);
        if end > first + PAGE {
            let len = (end - first) / PAGE * PAGE;
            // SAFETY: [first, first + len) lies inside `buffer`, which we
            // borrow mutably; MADV_HUGEPAGE changes no contents.
            unsafe { libc::madvise(first as *mut libc::c_void, len, libc::MADV_HUGEPAGE) };
        }
    }
}

/// `len` zeros in a buffer [`advise_huge_pages`] asked 2 MiB pages for (a
/// score buffer of `P` entries, read and written in passes like the
/// matrix).
pub(crate) fn zeroed_large(len: usize) -> Vec<f64> {
    let mut v = Vec::with_capacity(len);
    advise_huge_pages(v.spare_capacity_mut());
    v.resize(len, 0.0);
    v
}

/// Euclidean norm.
pub(crate) fn norm(v: &[f64]) -> f64 {
    v.iter().map(|a| a * a).sum::<f64>().sqrt()
}

/// Normalised overlap `x . xi / (|x| |xi|)`, the cosine of the angle between
/// a state and a pattern; 0 when either vector is null.
pub fn normalised_overlap(x: &[f64], xi: &[f32]) -> f64 {
    let dot: f64 = x.iter().zip(xi).map(|(a, &b)| a * f64::from(b)).sum();
    let xi_norm = xi.iter().map(|&b| f64::from(b).powi(2)).sum::<f64>().sqrt();
    let denominator = norm(x) * xi_norm;
    if denominator > 0.0 {
        dot / denominator
    } else {
        0.0
    }
}

/// Initial state at overlap `rho` with the pattern `xi1`, built by the
/// law's [`Sampler::initial_state`](crate::sampler::Sampler::initial_state)
/// so that `E|x0|^2 = N` (docs/theory.md §7): gaussian
/// `rho xi1 + sqrt(1 - rho^2) z`; spherical, on the sphere at angle
/// `arccos(rho)`; binary, entries flipped with probability `(1 - rho)/2`;
/// a law file, entries redrawn with probability `1 - rho`.
///
/// # Errors
/// [`ValidationError::InvalidParameter`] unless `-1 <= rho <= 1` and
/// `N >= 2` (and `rho >= 0` for law files).
pub fn initial_state(
    law: &PatternLaw,
    xi1: &[f32],
    rho: f64,
    rng: &mut TrialRng,
) -> Result<Vec<f64>, ValidationError> {
    if !(-1.0..=1.0).contains(&rho) {
        return Err(ValidationError::InvalidParameter(format!(
            "initial overlap rho must lie in [-1, 1], got {rho}"
        )));
    }
    if xi1.len() < 2 {
        return Err(ValidationError::InvalidParameter(format!(
            "initial states need N >= 2, got N = {}",
            xi1.len()
        )));
    }
    let xi1: Vec<f64> = xi1.iter().map(|&v| f64::from(v)).collect();
    sampler::for_law(law).initial_state(&xi1, rho, rng)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seeds::trial_rng;
    use damcap_theory::law::{EntryLaw, Family};
    use std::sync::Arc;

    const LAWS: [PatternLaw; 3] = [
        PatternLaw::Gaussian,
        PatternLaw::Spherical,
        PatternLaw::Binary,
    ];

    /// A sampled matrix starts on a 64-byte line whatever the allocator
    /// returns, holds exactly its `P N` entries, and equals the same rows
    /// wrapped without padding; the draws do not depend on the start (the
    /// same generator fills the rows either way).
    #[test]
    fn sampled_rows_start_on_a_cache_line() {
        for (n, p) in [(3, 5), (64, 300), (7, 20_000)] {
            let pats = Patterns::sample(
                &PatternLaw::Gaussian,
                n,
                p,
                DEFAULT_MEMORY_LIMIT,
                &mut trial_rng(4),
            )
            .unwrap();
            assert_eq!(pats.as_slice().as_ptr() as usize % 64, 0, "N = {n}");
            // Room for the shift to a line and no more.
            assert!(pats.data.capacity() < n * p + LINE_FLOATS, "N = {n}");
            assert_eq!(
                (pats.as_slice().len(), pats.p(), pats.rows().count()),
                (n * p, p, p)
            );
            assert_eq!(pats.xi1(), pats.row(0));
            let plain = Patterns::from_rows(n, pats.as_slice().to_vec()).unwrap();
            assert_eq!(plain, pats);
            // Rows swapped: the same entries and norms, another matrix.
            let mut swapped = pats.as_slice().to_vec();
            swapped.rotate_left(n);
            assert_ne!(Patterns::from_rows(n, swapped).unwrap(), pats);
            let mut direct = vec![0.0_f32; n * p];
            sampler::for_law(&PatternLaw::Gaussian).fill_patterns(
                &mut direct,
                n,
                &mut trial_rng(4),
            );
            assert_eq!(direct, pats.as_slice());
        }
        // The memory cap: a matrix of exactly the cap fits, one byte less
        // refuses it without allocating.
        let exact = matrix_bytes(8, 100) as u64;
        let law = PatternLaw::Gaussian;
        assert!(Patterns::sample(&law, 8, 100, exact, &mut trial_rng(1)).is_ok());
        let refused = Patterns::sample(&law, 8, 100, exact - 1, &mut trial_rng(1));
        assert!(matches!(
            refused,
            Err(ValidationError::TooLarge { bytes: 3200, .. })
        ));
        // The same entries cut into rows of another length.
        let flat: Vec<f32> = (0..12).map(|k| k as f32).collect();
        let (three, four) = (
            Patterns::from_rows(3, flat.clone()),
            Patterns::from_rows(4, flat),
        );
        assert_ne!(three.unwrap(), four.unwrap());
    }

    /// Norm convention: mean |xi|^2/N is 1 (within 5 standard errors for
    /// gaussian patterns, to f32 rounding for the two others, whose norm is
    /// fixed).
    #[test]
    fn norm_convention() {
        let (n, p) = (30, 2000);
        for law in LAWS {
            let pats =
                Patterns::sample(&law, n, p, DEFAULT_MEMORY_LIMIT, &mut trial_rng(1)).unwrap();
            let sq: Vec<f64> = pats
                .rows()
                .map(|r| r.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / n as f64)
                .collect();
            let mean = sq.iter().sum::<f64>() / p as f64;
            match law {
                PatternLaw::Gaussian => {
                    let se = (2.0 / n as f64 / p as f64).sqrt();
                    assert!((mean - 1.0).abs() < 5.0 * se, "{law:?}: {mean}");
                }
                _ => assert!(sq.iter().all(|s| (s - 1.0).abs() < 1e-6), "{law:?}"),
            }
        }
    }

    /// The empirical variance of the overlaps u = xi^mu . xi^1 / N of fresh
    /// patterns with xi^1 is 1/N (exact for spherical and binary, s/N with
    /// E s = 1 for gaussian), within 5 standard errors.
    #[test]
    fn overlap_variance_is_one_over_n() {
        let (n, p) = (25, 20_000);
        for law in LAWS {
            let pats =
                Patterns::sample(&law, n, p, DEFAULT_MEMORY_LIMIT, &mut trial_rng(2)).unwrap();
            let xi1: Vec<f64> = pats.xi1().iter().map(|&v| f64::from(v)).collect();
            let s = xi1.iter().map(|a| a * a).sum::<f64>() / n as f64;
            let u: Vec<f64> = pats
                .rows()
                .skip(1)
                .map(|r| {
                    r.iter()
                        .zip(&xi1)
                        .map(|(&a, b)| f64::from(a) * b)
                        .sum::<f64>()
                        / n as f64
                })
                .collect();
            let var = u.iter().map(|v| v * v).sum::<f64>() / u.len() as f64;
            let expected = s / n as f64;
            // Var of a sample second moment of a ~normal variable: 2 sigma^4 / m.
            let se = expected * (2.0 / u.len() as f64).sqrt();
            assert!(
                (var - expected).abs() < 5.0 * se,
                "{law:?}: {var} vs {expected}"
            );
        }
    }

    /// Initial states have the requested normalised overlap with xi^1 (up
    /// to O(1/sqrt N) fluctuations for gaussian and binary, exactly for
    /// spherical) and squared norm N on average.
    #[test]
    fn initial_states_have_requested_overlap() {
        let n = 400;
        let mut rng = trial_rng(3);
        for law in LAWS {
            for rho in [0.0, 0.3, 0.75, 1.0] {
                let (mut overlap, mut q) = (0.0, 0.0);
                let reps = 50;
                for _ in 0..reps {
                    let pats =
                        Patterns::sample(&law, n, 1, DEFAULT_MEMORY_LIMIT, &mut rng).unwrap();
                    let x0 = initial_state(&law, pats.xi1(), rho, &mut rng).unwrap();
                    let o = normalised_overlap(&x0, pats.xi1());
                    if law == PatternLaw::Spherical {
                        assert!((o - rho).abs() < 1e-6, "{o} vs {rho}");
                        assert!((norm(&x0).powi(2) / n as f64 - 1.0).abs() < 1e-9);
                    }
                    overlap += o / reps as f64;
                    q += norm(&x0).powi(2) / n as f64 / reps as f64;
                }
                // Per-state fluctuations are O(1/sqrt N) = 0.05; the mean of
                // 50 is good to ~0.01.
                assert!((overlap - rho).abs() < 0.02, "{law:?} rho={rho}: {overlap}");
                assert!((q - 1.0).abs() < 0.03, "{law:?} rho={rho}: q={q}");
            }
        }
    }

    /// Mean and variance of a sample, and the standard errors of both
    /// (the latter from the sample's central fourth moment).
    fn moments_with_errors(values: &[f64]) -> ((f64, f64), (f64, f64)) {
        let k = values.len() as f64;
        let mean = values.iter().sum::<f64>() / k;
        let central = |p: i32| values.iter().map(|v| (v - mean).powi(p)).sum::<f64>() / k;
        let (var, m4) = (central(2), central(4));
        (
            (mean, (var / k).sqrt()),
            (var, ((m4 - var * var) / k).sqrt()),
        )
    }

    /// The law of a start at overlap rho, checked on the products
    /// `x0_i xi1_i` of its entries with those of xi^1 (i.i.d. over `i` and
    /// over fresh patterns): `m = x0 . xi1 / N` is their mean, so their
    /// mean must be rho and their variance `N Var(m)`, from each
    /// construction of [`initial_state`] with `E xi^2 = 1`:
    /// - gaussian, `x0_i = rho a + sqrt(1 - rho^2) z`: products
    ///   `rho a^2 + sqrt(1 - rho^2) z a`, variance `2 rho^2 + (1 - rho^2)
    ///   = 1 + rho^2`;
    /// - binary, sign kept with probability `(1 + rho)/2`: products `+-1`
    ///   with mean rho, variance `1 - rho^2`;
    /// - a law file, entry kept with probability rho, else redrawn `b`:
    ///   products `a^2` or `a b`, second moment `rho E a^4 + (1 - rho)`,
    ///   variance `rho E a^4 + 1 - rho - rho^2` (ternary with P(0) = 1/2,
    ///   entries 0, +-sqrt 2: `E a^4 = 2`).
    ///
    /// The start's own entries keep `E x0_i^2 = 1`. Each sample moment
    /// must lie within 5 of its standard errors (200 000 products).
    #[test]
    fn starts_follow_their_law() {
        let ternary = EntryLaw::new(Family::Ternary {
            zero_probability: 0.5,
        })
        .unwrap();
        let m4 = ternary.fourth_moment();
        assert!((m4 - 2.0).abs() < 1e-12, "ternary E a^4 = {m4}");
        type Variance = fn(f64, f64) -> f64;
        let cases: [(PatternLaw, Variance); 3] = [
            (PatternLaw::Gaussian, |rho, _| 1.0 + rho * rho),
            (PatternLaw::Binary, |rho, _| 1.0 - rho * rho),
            (PatternLaw::Iid(Arc::new(ternary)), |rho, m4| {
                rho * m4 + 1.0 - rho - rho * rho
            }),
        ];
        let (n, reps) = (100, 2000);
        let mut rng = trial_rng(11);
        for (law, variance) in cases {
            for rho in [0.0, 0.3, 0.75, 1.0] {
                let (mut products, mut squares) = (Vec::new(), Vec::new());
                for _ in 0..reps {
                    let pats =
                        Patterns::sample(&law, n, 1, DEFAULT_MEMORY_LIMIT, &mut rng).unwrap();
                    let x0 = initial_state(&law, pats.xi1(), rho, &mut rng).unwrap();
                    for (x, &a) in x0.iter().zip(pats.xi1()) {
                        products.push(x * f64::from(a));
                        squares.push(x * x);
                    }
                }
                let close = |(value, se): (f64, f64), expected: f64| {
                    (value - expected).abs() <= 5.0 * se + 1e-12
                };
                let (mean, var) = moments_with_errors(&products);
                assert!(close(mean, rho), "{law:?} rho={rho}: mean {mean:?}");
                let expected = variance(rho, m4);
                assert!(
                    close(var, expected),
                    "{law:?} rho={rho}: variance {var:?}, expected {expected}"
                );
                let (q, _) = moments_with_errors(&squares);
                assert!(close(q, 1.0), "{law:?} rho={rho}: E x0^2 {q:?}");
            }
        }
    }

    /// Bad parameters are errors, not panics, and the memory guard refuses
    /// before allocating.
    #[test]
    fn bad_input_is_rejected() {
        let mut rng = trial_rng(4);
        let err = Patterns::sample(&PatternLaw::Gaussian, 1000, 1 << 30, 1 << 30, &mut rng);
        assert!(matches!(err, Err(ValidationError::TooLarge { .. })));
        assert!(
            Patterns::sample(&PatternLaw::Binary, 0, 5, DEFAULT_MEMORY_LIMIT, &mut rng).is_err()
        );
        assert!(initial_state(&PatternLaw::Binary, &[1.0, -1.0], 1.5, &mut rng).is_err());
        assert!(initial_state(&PatternLaw::Binary, &[1.0], 0.5, &mut rng).is_err());
        assert!(initial_state(&PatternLaw::Binary, &[1.0, -1.0], 0.5, &mut rng).is_ok());
        assert!(Patterns::from_rows(3, vec![0.0; 7]).is_err());
        assert!(Patterns::from_rows(3, Vec::new()).is_err());
        assert!(Patterns::from_rows(0, vec![0.0; 3]).is_err());
    }

    /// The cosine of two vectors at 60 degrees is 1/2; with a null vector
    /// it is 0 (not 0/0).
    #[test]
    fn normalised_overlap_is_a_cosine() {
        let half = normalised_overlap(&[2.0, 0.0], &[1.0, 3.0_f32.sqrt()]);
        assert!((half - 0.5).abs() < 1e-7, "{half}");
        assert_eq!(normalised_overlap(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
        assert_eq!(normalised_overlap(&[1.0, 0.0], &[0.0, 0.0]), 0.0);
    }

    /// The largest norm is that of the longest row (3-4-5 triangle),
    /// wherever it sits.
    #[test]
    fn max_norm_is_the_longest_row() {
        for rows in [[1.0f32, 0.0, 3.0, -4.0], [3.0, -4.0, 1.0, 0.0]] {
            let pats = Patterns::from_rows(2, rows.to_vec()).unwrap();
            assert_eq!(pats.max_norm(), 5.0);
        }
    }
}
