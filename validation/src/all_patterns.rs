//! The all-patterns check of a pattern matrix: is every pattern retrieved,
//! i.e. does each `xi^mu` carry more than half of its own softmax weight
//! at `x = xi^mu`, `w_mu(xi^mu) > 1/2`?
//!
//! The outcome is decided by the first failing pattern, so the fast check
//! ([`CheckMode::EarlyExit`]) visits the patterns in the order in which the
//! theory's failure routes make them likely to fail (exact duplicates,
//! whose weight is capped at 1/2, then atypically small squared norms, the
//! self-overlap route), scores [`STATES`] start states at once against each
//! block of rows (every row is read once per group of states instead of
//! once per state), and stops at the first weight `<= 1/2`.
//!
//! Each state's weight is computed with exactly the arithmetic of the
//! one-state-at-a-time reference ([`CheckMode::Reference`]): the same dot
//! product (f64 accumulation in four lanes), the same blocks of rows for
//! the online log-sum-exp. The weights are therefore bitwise identical
//! whatever the order, grouping or exit, so the retrieved flag is the
//! reference's, and so is the smallest weight when every pattern passes.
//! After an early exit only the first failing weight is known: it is at
//! most 1/2 and an upper bound on the smallest weight.

use crate::dynamics::{dot, BLOCK, LANES};
use crate::packed::PackedPatterns;
use crate::partition::Partition;
use crate::patterns::{zeroed_large, Patterns};

/// Start states scored together against each block of rows (four keep
/// their 16 accumulators in registers; eight measured no faster).
pub const STATES: usize = 4;

/// How the check visits the patterns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckMode {
    /// Every pattern in storage order, one matrix-vector pass each (the
    /// algorithm before early exit; kept for tests and benchmarks).
    Reference,
    /// Likely failures first, [`STATES`] states per pass, stop at the first
    /// failure.
    EarlyExit,
}

/// Outcome of the all-patterns check.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SelfCheck {
    /// Every pattern carries more than half of its own weight.
    pub retrieved: bool,
    /// The smallest self-weight when `retrieved` (or after a full check);
    /// after an early exit, the first failing weight (`<= 1/2`, an upper
    /// bound on the smallest).
    pub weight: f64,
    /// Patterns whose self-weight was computed.
    pub checked: usize,
}

/// Runs the all-patterns check of `patterns` at inverse temperature `lambda`.
pub fn check_self_weights(patterns: &Patterns, lambda: f64, mode: CheckMode) -> SelfCheck {
    match mode {
        CheckMode::Reference => reference(patterns, lambda),
        CheckMode::EarlyExit => early_exit(patterns, lambda),
    }
}

/// One full matrix-vector pass per pattern, in storage order.
fn reference(patterns: &Patterns, lambda: f64) -> SelfCheck {
    let mut z = zeroed_large(patterns.p());
    let mut worst = f64::INFINITY;
    for (mu, row) in patterns.rows().enumerate() {
        let x = widen(row);
        for (zi, r) in z.iter_mut().zip(patterns.rows()) {
            *zi = lambda * dot(r, &x);
        }
        let mut partition = Partition::new();
        z.chunks(BLOCK).for_each(|b| partition.add_block(b));
        worst = worst.min(partition.weight_of(z[mu]));
    }
    SelfCheck {
        retrieved: worst > 0.5,
        weight: worst,
        checked: patterns.p(),
    }
}

/// Runs the all-patterns check of bit-packed discrete patterns: the same
/// check as [`check_self_weights`] (same order, same groups, same blocks of
/// rows), with scores from the lookup tables of each start state
/// ([`crate::packed`]). The weights differ from those of the `f32` rows
/// only by the order of `f64` roundings; the tests check that the flags
/// agree.
pub fn check_packed_self_weights(
    patterns: &PackedPatterns,
    lambda: f64,
    mode: CheckMode,
) -> SelfCheck {
    let words = (patterns.bits() == 1).then(|| Words::of(patterns));
    let weights = |group: &[usize]| match &words {
        Some(words) => two_atom_group_weights(patterns, words, lambda, group),
        None => packed_group_weights(patterns, lambda, group),
    };
    match mode {
        CheckMode::Reference => {
            let order: Vec<usize> = (0..patterns.p()).collect();
            let worst = order
                .chunks(1)
                .map(weights)
                .fold(f64::INFINITY, |w, v| w.min(v[0]));
            SelfCheck {
                retrieved: worst > 0.5,
                weight: worst,
                checked: patterns.p(),
            }
        }
        CheckMode::EarlyExit => first_failure(&packed_failure_order(patterns), weights),
    }
}

/// Likely failures first, [`STATES`] states per pass, first failure decides.
fn early_exit(patterns: &Patterns, lambda: f64) -> SelfCheck {
    first_failure(&failure_order(patterns), |group| {
        group_weights(patterns, lambda, group)
    })
}

/// Self-weights of the patterns in `order`, [`STATES`] at a time by
/// `weights`, up to the first one at most 1/2.
fn first_failure(order: &[usize], weights: impl Fn(&[usize]) -> Vec<f64>) -> SelfCheck {
    let mut worst = f64::INFINITY;
    let mut checked = 0;
    for group in order.chunks(STATES) {
        for w in weights(group) {
            checked += 1;
            if w <= 0.5 {
                return SelfCheck {
                    retrieved: false,
                    weight: w,
                    checked,
                };
            }
            worst = worst.min(w);
        }
    }
    SelfCheck {
        retrieved: true,
        weight: worst,
        checked,
    }
}

/// Pattern indices, likely failures first: patterns with an exact
/// duplicate (weight at most 1/2), then by squared norm ascending (a small
/// self-overlap `|xi|^2` is the single-pattern failure route), ties in
/// storage order.
pub fn failure_order(patterns: &Patterns) -> Vec<usize> {
    let bits = |mu: usize| patterns.row(mu).iter().map(|v| v.to_bits());
    likely_failures_first(
        patterns.p(),
        |a, b| bits(a).cmp(bits(b)),
        |a, b| patterns.row(a) == patterns.row(b),
        |mu| patterns.row(mu).iter().map(|&v| f64::from(v).powi(2)).sum(),
    )
}

/// [`failure_order`] of packed patterns: duplicates are equal packed rows,
/// squared norms are summed from the same `f32` entries, so the order is
/// that of the `f32` rows of the same patterns.
pub fn packed_failure_order(patterns: &PackedPatterns) -> Vec<usize> {
    likely_failures_first(
        patterns.p(),
        |a, b| patterns.packed_row(a).cmp(patterns.packed_row(b)),
        |a, b| patterns.packed_row(a) == patterns.packed_row(b),
        |mu| patterns.squared_norm(mu),
    )
}

/// The `p` indices with duplicates first (found as neighbours after sorting
/// by `row_order`, compared by `same`), then by `squared_norm` ascending,
/// ties in storage order.
fn likely_failures_first(
    p: usize,
    row_order: impl Fn(usize, usize) -> std::cmp::Ordering,
    same: impl Fn(usize, usize) -> bool,
    squared_norm: impl Fn(usize) -> f64,
) -> Vec<usize> {
    let mut order: Vec<usize> = (0..p).collect();
    order.sort_unstable_by(|&a, &b| row_order(a, b));
    let mut duplicated = vec![false; p];
    for pair in order.windows(2) {
        if same(pair[0], pair[1]) {
            duplicated[pair[0]] = true;
            duplicated[pair[1]] = true;
        }
    }
    let norms: Vec<f64> = (0..p).map(squared_norm).collect();
    order.sort_unstable_by(|&a, &b| {
        duplicated[b]
            .cmp(&duplicated[a])
            .then(norms[a].total_cmp(&norms[b]))
            .then(a.cmp(&b))
    });
    order
}

/// Self-weights of the packed patterns `group`, from one pass over the
/// matrix in blocks of [`BLOCK`] rows with one lookup table per state.
fn packed_group_weights(patterns: &PackedPatterns, lambda: f64, group: &[usize]) -> Vec<f64> {
    let tables: Vec<Vec<f64>> = group
        .iter()
        .map(|&mu| patterns.tables(&widen(&patterns.decode(mu))))
        .collect();
    let mut partitions = vec![Partition::new(); group.len()];
    let mut z = [0.0_f64; BLOCK];
    for first in (0..patterns.p()).step_by(BLOCK) {
        let zb = &mut z[..BLOCK.min(patterns.p() - first)];
        for (partition, table) in partitions.iter_mut().zip(&tables) {
            patterns.score_range(table, first, zb);
            zb.iter_mut().for_each(|v| *v *= lambda);
            partition.add_block(zb);
        }
    }
    group
        .iter()
        .zip(&partitions)
        .zip(&tables)
        .map(|((&mu, partition), table)| {
            let own = PackedPatterns::score(table, patterns.packed_row(mu));
            partition.weight_of(lambda * own)
        })
        .collect()
}

/// One-bit packed rows as 64-bit words (`words` per row, the last one
/// zero-padded), with the popcount of each row: built once per check.
struct Words {
    words: usize,
    data: Vec<u64>,
    ones: Vec<u32>,
}

impl Words {
    fn of(patterns: &PackedPatterns) -> Self {
        let words = patterns.n().div_ceil(64);
        let mut data = Vec::with_capacity(words * patterns.p());
        for mu in 0..patterns.p() {
            let row = patterns.packed_row(mu);
            data.extend(row.chunks(8).map(|c| {
                let mut bytes = [0u8; 8];
                bytes[..c.len()].copy_from_slice(c);
                u64::from_le_bytes(bytes)
            }));
        }
        let ones = data
            .chunks_exact(words)
            .map(|r| r.iter().map(|w| w.count_ones()).sum())
            .collect();
        Self { words, data, ones }
    }

    fn row(&self, mu: usize) -> &[u64] {
        &self.data[mu * self.words..(mu + 1) * self.words]
    }
}

/// Self-weights of two-atom packed patterns (atoms `a < b`, code 1 for
/// `b`) by level counts. At the state `xi^i` with `k_i` entries `b`, a
/// pattern with `k` entries `b`, `m` of them where `xi^i` has `b` too, has
/// the score `lambda (a^2 (N - k_i - k + m) + a b (k_i + k - 2m) + b^2 m)`:
/// it depends on `(k, m)` only, two popcounts per row and state. The pass
/// counts the patterns at each of the `(N + 1)^2` levels and the partition
/// sum takes one exponential per occupied level instead of one per
/// pattern. The same patterns and scores as the lookup-table and `f32`
/// checks, summed in another order (flags compared in the tests).
fn two_atom_group_weights(
    patterns: &PackedPatterns,
    words: &Words,
    lambda: f64,
    group: &[usize],
) -> Vec<f64> {
    let n = patterns.n();
    let levels = n + 1;
    let mut counts = vec![vec![0u64; levels * levels]; group.len()];
    if words.words == 1 {
        // One word per row (N <= 64): the common case, without inner loops.
        let states: Vec<u64> = group.iter().map(|&mu| words.data[mu]).collect();
        for (&row, &k) in words.data.iter().zip(&words.ones) {
            for (&state, count) in states.iter().zip(&mut counts) {
                count[k as usize * levels + (row & state).count_ones() as usize] += 1;
            }
        }
    } else {
        for (row, &k) in words.data.chunks_exact(words.words).zip(&words.ones) {
            for (&mu, count) in group.iter().zip(&mut counts) {
                let state = words.row(mu);
                let m: u32 = row
                    .iter()
                    .zip(state)
                    .map(|(r, s)| (r & s).count_ones())
                    .sum();
                count[k as usize * levels + m as usize] += 1;
            }
        }
    }
    let (a, b) = (
        f64::from(patterns.atoms()[0]),
        f64::from(patterns.atoms()[1]),
    );
    group
        .iter()
        .zip(&counts)
        .map(|(&mu, count)| {
            let own = words.ones[mu] as usize;
            let score = |k: usize, m: usize| {
                let (aa, ab) = (n + m - own - k, own + k - 2 * m);
                lambda * (a * a * aa as f64 + a * b * ab as f64 + b * b * m as f64)
            };
            let mut partition = Partition::new();
            for (level, &c) in count.iter().enumerate() {
                if c > 0 {
                    partition.add_many(score(level / levels, level % levels), c as f64);
                }
            }
            partition.weight_of(score(own, own))
        })
        .collect()
}

/// Self-weights `w_mu(xi^mu)` of the patterns `group` (at most [`STATES`]),
/// from one pass over the matrix.
fn group_weights(patterns: &Patterns, lambda: f64, group: &[usize]) -> Vec<f64> {
    let n = patterns.n();
    // A short last group is padded with copies of its last state.
    let states: Vec<Vec<f64>> = (0..STATES)
        .map(|k| widen(patterns.row(group[k.min(group.len() - 1)])))
        .collect();
    let xs: [&[f64]; STATES] = std::array::from_fn(|k| states[k].as_slice());
    let mut partitions = [Partition::new(); STATES];
    let mut z = [[0.0_f64; BLOCK]; STATES];
    for block in patterns.as_slice().chunks(BLOCK * n) {
        let len = block.len() / n;
        block_dots(block, n, &xs, lambda, &mut z);
        for (partition, zk) in partitions.iter_mut().zip(&z) {
            partition.add_block(&zk[..len]);
        }
    }
    group
        .iter()
        .zip(&partitions)
        .map(|(&mu, partition)| {
            let row = patterns.row(mu);
            partition.weight_of(lambda * dot(row, &widen(row)))
        })
        .collect()
}

/// `z[k][r] = lambda row_r . x_k` for the rows of `block` (of length `n`)
/// by [`dots`]; compiled for AVX2 as well and chosen at run time when the
/// processor has it (the same operations, so the same bits).
fn block_dots(
    block: &[f32],
    n: usize,
    xs: &[&[f64]; STATES],
    lambda: f64,
    z: &mut [[f64; BLOCK]; STATES],
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor supports AVX2, checked just above.
        unsafe { block_dots_avx2(block, n, xs, lambda, z) };
        return;
    }
    block_dots_portable(block, n, xs, lambda, z);
}

/// [`block_dots`] for any processor.
#[inline(always)]
fn block_dots_portable(
    block: &[f32],
    n: usize,
    xs: &[&[f64]; STATES],
    lambda: f64,
    z: &mut [[f64; BLOCK]; STATES],
) {
    for (r, row) in block.chunks_exact(n).enumerate() {
        for (k, d) in dots(row, xs).into_iter().enumerate() {
            z[k][r] = lambda * d;
        }
    }
}

/// [`block_dots`] compiled with AVX2 (no FMA).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn block_dots_avx2(
    block: &[f32],
    n: usize,
    xs: &[&[f64]; STATES],
    lambda: f64,
    z: &mut [[f64; BLOCK]; STATES],
) {
    block_dots_portable(block, n, xs, lambda, z);
}

/// `row . x_k` for [`STATES`] states at once, each with exactly the
/// operations of [`dot`] (same lanes, same order), so the results are
/// bitwise equal to it while the row is loaded once.
#[inline(always)]
fn dots(row: &[f32], xs: &[&[f64]; STATES]) -> [f64; STATES] {
    let mut lanes = [[0.0_f64; LANES]; STATES];
    let chunks = row.chunks_exact(LANES);
    let head = row.len() - chunks.remainder().len();
    let tail = chunks.remainder();
    for (c, r) in chunks.enumerate() {
        for (acc, x) in lanes.iter_mut().zip(xs) {
            let xv = &x[c * LANES..(c + 1) * LANES];
            for ((a, &v), b) in acc.iter_mut().zip(r).zip(xv) {
                *a += f64::from(v) * b;
            }
        }
    }
    std::array::from_fn(|k| {
        let t: f64 = tail
            .iter()
            .zip(&xs[k][head..])
            .map(|(&a, b)| f64::from(a) * b)
            .sum();
        lanes[k].iter().sum::<f64>() + t
    })
}

/// A pattern row as an `f64` state.
fn widen(row: &[f32]) -> Vec<f64> {
    row.iter().map(|&v| f64::from(v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patterns::DEFAULT_MEMORY_LIMIT;
    use crate::seeds::trial_rng;
    use damcap_theory::ensemble::PatternLaw;
    use damcap_theory::law::{EntryLaw, Family};
    use std::sync::Arc;

    fn sample(law: &PatternLaw, n: usize, alpha: f64, seed: u64) -> Patterns {
        let p = (alpha * n as f64).exp().round() as usize;
        Patterns::sample(law, n, p, DEFAULT_MEMORY_LIMIT, &mut trial_rng(seed)).unwrap()
    }

    /// The multi-state kernel is bitwise the one-state kernel, for lengths
    /// with and without a remainder after the four lanes.
    #[test]
    fn multi_state_dots_equal_dot_bitwise() {
        for n in [1, 4, 7, 13, 32] {
            let pats = sample(&PatternLaw::Gaussian, n, 0.5, 30 + n as u64);
            let states: Vec<Vec<f64>> = (0..STATES)
                .map(|k| {
                    (0..n)
                        .map(|i| ((i * 7 + k * 3) as f64 * 0.37).sin())
                        .collect()
                })
                .collect();
            let xs: [&[f64]; STATES] = std::array::from_fn(|k| states[k].as_slice());
            for row in pats.rows() {
                let many = dots(row, &xs);
                for (d, x) in many.iter().zip(&xs) {
                    assert_eq!(d.to_bits(), dot(row, x).to_bits(), "N = {n}");
                }
            }
        }
    }

    /// Exact duplicates come first, then squared norms ascending.
    #[test]
    fn likely_failures_come_first() {
        let rows = [
            [3.0f32, 0.0], // |xi|^2 = 9
            [1.0, 1.0],    // 2, duplicated below
            [0.5, 0.0],    // 0.25
            [2.0, 0.0],    // 4
            [1.0, 1.0],
        ];
        let pats = Patterns::from_rows(2, rows.concat()).unwrap();
        assert_eq!(failure_order(&pats), vec![1, 4, 2, 3, 0]);
    }

    /// A pattern with one exact duplicate, far above every other score
    /// (binary, N = 10, lambda = 100: the next score is 200 lower), carries
    /// exactly half of its weight at its own state, so it is not retrieved
    /// (`w > 1/2` is strict), in every mode, packed or not; the early exit
    /// visits the duplicate pair first and stops there.
    #[test]
    fn an_exact_duplicate_caps_the_weight_at_one_half() {
        let others = sample(&PatternLaw::Binary, 10, 0.3, 5);
        let mut data = others.row(0).to_vec();
        data.extend_from_slice(others.as_slice());
        let pats = Patterns::from_rows(10, data).unwrap();
        let packed = PackedPatterns::from_patterns(&pats).unwrap();
        for mode in [CheckMode::Reference, CheckMode::EarlyExit] {
            let checks = [
                check_self_weights(&pats, 100.0, mode),
                check_packed_self_weights(&packed, 100.0, mode),
            ];
            for check in checks {
                assert!(!check.retrieved, "{mode:?}: {check:?}");
                assert_eq!(check.weight, 0.5, "{mode:?}");
                let visited = if mode == CheckMode::EarlyExit {
                    1
                } else {
                    pats.p()
                };
                assert_eq!(check.checked, visited, "{mode:?}");
            }
        }
    }

    /// The packed checks of the same patterns give the `f32` checks' flags
    /// and visit the same patterns; their weights agree to 1e-12, and the
    /// packed early-exit weights are bitwise the packed reference's when
    /// every pattern passes.
    fn packed_agrees(pats: &Patterns, lambda: f64, full: &SelfCheck, fast: &SelfCheck) {
        let packed = PackedPatterns::from_patterns(pats).unwrap();
        assert_eq!(packed_failure_order(&packed), failure_order(pats));
        let p_full = check_packed_self_weights(&packed, lambda, CheckMode::Reference);
        let p_fast = check_packed_self_weights(&packed, lambda, CheckMode::EarlyExit);
        for (a, b) in [(full, &p_full), (fast, &p_fast)] {
            assert_eq!((a.retrieved, a.checked), (b.retrieved, b.checked));
            assert!((a.weight - b.weight).abs() <= 1e-12, "{a:?} {b:?}");
        }
        if p_full.retrieved {
            assert_eq!(p_full.weight.to_bits(), p_fast.weight.to_bits());
        }
    }

    /// Two-atom level counts over several 64-bit words (N = 70, 130) and
    /// exact duplicates: the packed reference check gives the `f32`
    /// reference's flag and smallest weight (to 1e-12) for binary and
    /// sparse-binary patterns at several lambda.
    #[test]
    fn two_atom_levels_beyond_one_word() {
        let sparse = PatternLaw::Iid(Arc::new(
            EntryLaw::new(Family::SparseBinary { density: 0.2 }).unwrap(),
        ));
        let mut retrieved = 0;
        for (c, law) in [PatternLaw::Binary, sparse].iter().enumerate() {
            for n in [70, 130] {
                for lambda in [0.02, 0.1, 0.3] {
                    let seed = 77 + c as u64 + n as u64;
                    let rows =
                        Patterns::sample(law, n, 90, DEFAULT_MEMORY_LIMIT, &mut trial_rng(seed));
                    let mut data = rows.unwrap().as_slice().to_vec();
                    if lambda == 0.3 {
                        data.extend_from_within(5 * n..6 * n);
                    }
                    let pats = Patterns::from_rows(n, data).unwrap();
                    let packed = PackedPatterns::from_patterns(&pats).unwrap();
                    let full = check_self_weights(&pats, lambda, CheckMode::Reference);
                    let fast = check_packed_self_weights(&packed, lambda, CheckMode::Reference);
                    let what = format!("{law:?} N {n} lambda {lambda}");
                    assert_eq!(full.retrieved, fast.retrieved, "{what}");
                    assert!((full.weight - fast.weight).abs() <= 1e-12, "{what}");
                    retrieved += usize::from(full.retrieved);
                }
            }
        }
        assert!((2..=8).contains(&retrieved), "{retrieved}");
    }

    /// Ternary entries, half of them zero.
    fn ternary_half() -> PatternLaw {
        PatternLaw::Iid(Arc::new(
            EntryLaw::new(Family::Ternary {
                zero_probability: 0.5,
            })
            .unwrap(),
        ))
    }

    /// Lookup-table weights (ternary entries, so not the two-atom level
    /// counts) over several blocks of rows with a short last one (P = 2
    /// BLOCK + 37) and lambda away from 1: the packed reference check gives
    /// the `f32` reference's smallest weight to 1e-12, at loads where it
    /// passes and where it fails.
    #[test]
    fn lookup_table_weights_cross_blocks() {
        let ternary = ternary_half();
        let p = 2 * BLOCK + 37;
        let mut flags = Vec::new();
        for (n, lambda) in [(40, 2.5), (40, 0.1)] {
            let rows = Patterns::sample(&ternary, n, p, DEFAULT_MEMORY_LIMIT, &mut trial_rng(8));
            let pats = rows.unwrap();
            let packed = PackedPatterns::from_patterns(&pats).unwrap();
            let full = check_self_weights(&pats, lambda, CheckMode::Reference);
            let fast = check_packed_self_weights(&packed, lambda, CheckMode::Reference);
            assert_eq!(full.retrieved, fast.retrieved, "lambda {lambda}");
            assert!(
                (full.weight - fast.weight).abs() <= 1e-12,
                "{full:?} {fast:?}"
            );
            flags.push(full.retrieved);
        }
        assert_eq!(flags, [true, false]);
    }

    /// The early-exit check against the reference (one matrix-vector pass
    /// per pattern, no exit) on 156 trials: gaussian, spherical, binary, a
    /// ternary and a sparse-binary law file, several lambda, loads around
    /// each crossing
    /// (binary ones with exact duplicates), P from 20 to 403 (over one
    /// block of rows, not a multiple of the group size). Flags are
    /// identical; a retrieved trial's smallest weight is bitwise the
    /// reference's (same arithmetic per state); a failed trial's recorded
    /// weight is a failing weight no smaller than the true smallest one.
    /// The binary, ternary and sparse-binary trials are also checked packed
    /// ([`packed_agrees`]: level counts for the two-atom laws, lookup
    /// tables for the ternary one).
    #[test]
    fn early_exit_equals_full_check() {
        let ternary = ternary_half();
        let sparse = PatternLaw::Iid(Arc::new(
            EntryLaw::new(Family::SparseBinary { density: 0.3 }).unwrap(),
        ));
        let cases = [
            (PatternLaw::Gaussian, 0.5, 12, 0.1),
            (PatternLaw::Gaussian, 0.5, 12, 0.18),
            (PatternLaw::Gaussian, 0.5, 12, 0.25),
            (PatternLaw::Gaussian, 2.0, 12, 0.3),
            (PatternLaw::Gaussian, 2.0, 12, 0.5),
            (PatternLaw::Spherical, 1.0, 10, 0.3),
            (PatternLaw::Spherical, 1.0, 10, 0.6),
            (PatternLaw::Binary, 1.0, 10, 0.3),
            (PatternLaw::Binary, 1.0, 10, 0.4),
            (ternary.clone(), 1.0, 10, 0.2),
            (ternary, 1.0, 10, 0.35),
            (sparse.clone(), 2.0, 12, 0.15),
            (sparse, 2.0, 12, 0.3),
        ];
        let (mut retrieved, mut failed, mut duplicates, mut early) = (0, 0, 0, 0);
        let mut packed = 0;
        for (c, (law, lambda, n, alpha)) in cases.iter().enumerate() {
            for seed in 0..12 {
                let pats = sample(law, *n, *alpha, 1000 * c as u64 + seed);
                let full = check_self_weights(&pats, *lambda, CheckMode::Reference);
                let fast = check_self_weights(&pats, *lambda, CheckMode::EarlyExit);
                if law != &PatternLaw::Gaussian && law != &PatternLaw::Spherical {
                    packed_agrees(&pats, *lambda, &full, &fast);
                    packed += 1;
                }
                let what = format!("{law:?} lambda {lambda} N {n} alpha {alpha} seed {seed}");
                assert_eq!(fast.retrieved, full.retrieved, "{what}");
                if full.retrieved {
                    retrieved += 1;
                    assert_eq!(fast.weight.to_bits(), full.weight.to_bits(), "{what}");
                    assert_eq!(fast.checked, pats.p(), "{what}");
                } else {
                    failed += 1;
                    assert!(fast.weight <= 0.5 && fast.weight >= full.weight, "{what}");
                    early += usize::from(fast.checked < pats.p());
                    let order = failure_order(&pats);
                    duplicates += usize::from(pats.row(order[0]) == pats.row(order[1]));
                }
            }
        }
        assert_eq!(retrieved + failed, 156);
        assert_eq!(packed, 72);
        assert!(retrieved >= 20 && failed >= 20, "{retrieved} / {failed}");
        assert!(duplicates >= 3 && early >= 20, "{duplicates} / {early}");
    }
}
