//! Capture of the several-step dynamics by one close competitor
//! (docs/theory.md §9, "Several steps: capture by a close competitor").
//!
//! After a first step from xi^1 that xi^1 wins, the state is close to
//! `w_1 xi^1 + w_nu xi^nu` for the strongest competitor `nu`. With
//! `A = lambda (|xi^1|^2 - xi^nu . xi^1)` (xi^1's score lead at xi^1) and
//! `B = lambda (|xi^nu|^2 - xi^nu . xi^1)` (nu's lead at xi^nu), the gap
//! `g = ln(w_1 / w_nu)` maps to `g' = A w_1 - B w_nu`, about
//! `A - (A + B) e^{-g}` for large `g`. A fixed point near xi^1 survives iff
//! `A >= 1 + ln(A + B)`; otherwise (or if `A <= 0`, a tie or worse at the
//! first step) the dynamics leaves xi^1 for nu. Such a competitor is rare,
//! but `P = e^{alpha N}` patterns make one likely at small `N`: the
//! probability that none of the `P - 1` others captures is
//! `E_{xi^1} (1 - p(xi^1))^{P - 1}`, and its crossing of 1/2 bounds the
//! several-step crossing from above. As `N` grows, a capturing competitor
//! needs an overlap ever closer to `|xi^1|^2`, so this crossing tends to
//! `alpha_max >= alpha_1` and the bulk lag of §9 takes over.
//!
//! Computed exactly, by sums over the counts of entry types, for laws whose
//! xi^1 is summarised by one count: two atoms (binary, sparse binary) and
//! the symmetric three atoms `{-c, 0, c}` (ternary). Other laws get `None`.

use statrs::function::factorial::ln_binomial;

use crate::ensemble::{Ensemble, PatternLaw};
use crate::finite_n::check_dimension;
use crate::numeric::root;
use crate::TheoryError;

/// Whether a competitor with leads `a` (xi^1's) and `b` (nu's) captures
/// the dynamics. `scale` sets the size of rounding in `a`: a lead below
/// `1e-9 scale` is a tie.
fn captures(a: f64, b: f64, scale: f64) -> bool {
    a <= 1e-9 * scale || a < 1.0 + (a + b).ln()
}

/// The classes of xi^1 (by its one summarising count), each with the log
/// of its probability and the probability that one random pattern
/// captures the dynamics started at it.
#[derive(Clone, Debug)]
pub struct CaptureTable {
    classes: Vec<(f64, f64)>,
}

impl CaptureTable {
    /// The table of `ensemble` at inverse temperature `lambda` and
    /// dimension `n`, or `None` for a law without an exact table.
    ///
    /// # Errors
    /// [`TheoryError::InvalidLambda`] and [`TheoryError::InvalidDimension`].
    pub fn new<E: Ensemble + ?Sized>(
        ensemble: &E,
        lambda: f64,
        n: usize,
    ) -> Result<Option<Self>, TheoryError> {
        crate::check_lambda(lambda)?;
        check_dimension(n as f64)?;
        let classes = match ensemble.pattern_law() {
            PatternLaw::Binary => Some(two_atoms(1.0, -1.0, 0.5, lambda, n)),
            PatternLaw::Iid(law) => match law.atoms() {
                Some([b, a]) => Some(two_atoms(a.value, b.value, a.probability, lambda, n)),
                _ => symmetric_three_atom_law(&law)
                    .map(|(c, q)| symmetric_three_atoms(c, q, lambda, n)),
            },
            PatternLaw::Gaussian | PatternLaw::Spherical => None,
        };
        Ok(classes.map(|classes| CaptureTable { classes }))
    }

    /// Probability that none of `patterns - 1` random patterns captures
    /// the dynamics, averaged over xi^1.
    pub fn no_capture(&self, patterns: f64) -> f64 {
        let others = (patterns - 1.0).max(0.0);
        self.classes
            .iter()
            .map(|&(ln_class, p)| {
                // No other pattern, or none that can capture, keeps xi^1
                // (the product would be 0 * ln 0, or inf * 0 at huge P).
                let ln_kept = if others == 0.0 || p == 0.0 {
                    0.0
                } else {
                    others * (-p).ln_1p()
                };
                (ln_class + ln_kept).exp()
            })
            .sum()
    }

    /// The load at which the probability of no capture among
    /// `P = e^{alpha N}` patterns is 1/2, `None` if no competitor can
    /// capture (the probability stays 1).
    ///
    /// # Errors
    /// Solver errors of the root finder.
    pub fn crossing(&self, n: usize) -> Result<Option<f64>, TheoryError> {
        let n = n as f64;
        let excess = |alpha: f64| self.no_capture((alpha * n).exp()) - 0.5;
        let mut hi = 0.05;
        while excess(hi) > 0.0 {
            hi *= 2.0;
            if hi > 1e3 {
                return Ok(None);
            }
        }
        root(excess, 0.0, hi, "capture crossing").map(Some)
    }
}

/// Load at which the several-step dynamics from xi^1 is captured by a
/// close competitor with probability 1/2 at dimension `n`, or `None` for a
/// law without an exact table or above [`MAX_CAPTURE_N`].
///
/// # Errors
/// As [`CaptureTable::new`] and [`CaptureTable::crossing`].
pub fn alpha_capture_n<E: Ensemble + ?Sized>(
    ensemble: &E,
    lambda: f64,
    n: usize,
) -> Result<Option<f64>, TheoryError> {
    if n > MAX_CAPTURE_N {
        check_dimension(n as f64)?;
        return Ok(None);
    }
    match CaptureTable::new(ensemble, lambda, n)? {
        Some(table) => table.crossing(n),
        None => Ok(None),
    }
}

/// Largest `N` at which [`alpha_capture_n`] sums over entry types (`O(N^3)`
/// terms). Beyond it the capture crossing of every supported law is above
/// `alpha_1` (±1 patterns from `N = 64`, ternary from 128, sparse binary
/// with density 0.1 near 512), so the bulk lag decides the dynamics.
pub const MAX_CAPTURE_N: usize = 512;

/// `ln [C(n, k) p^k (1 - p)^(n - k)]`.
fn ln_binomial_pmf(n: usize, k: usize, p: f64) -> f64 {
    ln_binomial(n as u64, k as u64) + k as f64 * p.ln() + (n - k) as f64 * (-p).ln_1p()
}

/// Entries `a` with probability `f`, else `b`. xi^1 has `k` entries `a`;
/// a competitor has `m` of them on those `k` and `j` on the other `n - k`.
fn two_atoms(a: f64, b: f64, f: f64, lambda: f64, n: usize) -> Vec<(f64, f64)> {
    (0..=n)
        .map(|k| {
            let self_overlap = k as f64 * a * a + (n - k) as f64 * b * b;
            let mut p = 0.0;
            for m in 0..=k {
                let ln_m = ln_binomial_pmf(k, m, f);
                for j in 0..=n - k {
                    let (m_, j_, k_, n_) = (m as f64, j as f64, k as f64, n as f64);
                    let dot = m_ * a * a + (k_ - m_ + j_) * a * b + (n_ - k_ - j_) * b * b;
                    let norm = (m_ + j_) * a * a + (n_ - m_ - j_) * b * b;
                    let lead = lambda * (self_overlap - dot);
                    let other = lambda * (norm - dot);
                    if captures(lead, other, lambda * (self_overlap + norm)) {
                        p += (ln_m + ln_binomial_pmf(n - k, j, f)).exp();
                    }
                }
            }
            (ln_binomial_pmf(n, k, f), p.min(1.0))
        })
        .collect()
}

/// Entries `±c` with probability `q / 2` each, else 0. xi^1 has `k`
/// non-zero entries; on them a competitor has `m` equal, `r` opposite and
/// `k - m - r` zero entries, and `j` non-zero ones elsewhere. Then
/// `A = lambda c^2 (k - m + r)` and `B = lambda c^2 (2 r + j)`, so capture
/// needs `j` above a threshold: a binomial tail.
fn symmetric_three_atoms(c: f64, q: f64, lambda: f64, n: usize) -> Vec<(f64, f64)> {
    let unit = lambda * c * c;
    (0..=n)
        .map(|k| {
            let tail = binomial_tails(n - k, q);
            let mut p = 0.0;
            for m in 0..=k {
                for r in 0..=k - m {
                    let lead = unit * (k - m + r) as f64;
                    let ln_type = ln_support_type(k, m, r, q);
                    p += ln_type.exp() * tail[first_capturing_j(lead, unit, r, n - k)];
                }
            }
            (ln_binomial_pmf(n, k, q), p.min(1.0))
        })
        .collect()
}

/// `ln` of the probability that a competitor has `m` equal, `r` opposite
/// and `k - m - r` zero entries on the `k` non-zero entries of xi^1
/// (entries `±c` with probability `q / 2` each, else 0).
fn ln_support_type(k: usize, m: usize, r: usize, q: f64) -> f64 {
    ln_binomial(k as u64, m as u64)
        + ln_binomial((k - m) as u64, r as u64)
        + (m + r) as f64 * (0.5 * q).ln()
        + (k - m - r) as f64 * (-q).ln_1p()
}

/// Smallest `j` in `0..=outside` with `captures(lead, unit (2 r + j))`, or
/// `outside + 1` if none does. `B` grows with `j`, so capture is monotone
/// in `j`: start from the solution of `unit (2 r + j) = e^{lead - 1} - lead`
/// and correct it for rounding.
fn first_capturing_j(lead: f64, unit: f64, r: usize, outside: usize) -> usize {
    let scale = unit * outside.max(1) as f64;
    let holds = |j: usize| captures(lead, unit * (2 * r + j) as f64, scale);
    let estimate = ((lead - 1.0).exp() - lead) / unit - (2 * r) as f64;
    let mut j = if estimate.is_finite() && estimate > 0.0 {
        (estimate.floor() as usize).min(outside + 1)
    } else {
        0
    };
    while j > 0 && holds(j - 1) {
        j -= 1;
    }
    while j <= outside && !holds(j) {
        j += 1;
    }
    j
}

/// `(c, q)` of a symmetric three-atom law `{-c, 0, c}` with `P(a != 0) =
/// q`, or `None` for any other law.
fn symmetric_three_atom_law(law: &crate::law::EntryLaw) -> Option<(f64, f64)> {
    match law.atoms() {
        Some([lo, zero, hi])
            if zero.value.abs() < 1e-12 * hi.value
                && (lo.value + hi.value).abs() < 1e-12 * hi.value
                && (lo.probability - hi.probability).abs() < 1e-12 =>
        {
            Some((hi.value, 2.0 * hi.probability))
        }
        _ => None,
    }
}

/// Steps of the type map of [`xi1_weight`]: enough for every fixed point
/// outside a `1e-12` neighbourhood of its saddle-node.
const MAP_STEPS: usize = 5000;

/// One entry of the symmetric three-atom law `{-c, 0, c}` (`q = P(≠ 0)`):
/// `kappa(y) = ln E e^{y a}` and its slope, the tilted mean.
fn three_atom_cgf(c: f64, q: f64, y: f64) -> (f64, f64) {
    let (ch, sh) = ((c * y).cosh(), (c * y).sinh());
    let den = 1.0 - q + q * ch;
    (den.ln(), q * c * sh / den)
}

/// The weight on xi^1 (k non-zero entries) where the several-step
/// dynamics from xi^1 settles (xi^1 is kept when it is above 1/2), with
/// the other `e^{ln_bulk}`
/// patterns as an annealed bulk and, if `competitor = Some((m, r, j))`,
/// one explicit competitor with `m` equal, `r` opposite entries on the
/// support of xi^1 and `j` non-zero entries off it (docs/theory.md §9,
/// "capture with the bulk"). The state is constant on the five entry
/// types; the bulk contributes `ln Z_b = ln_bulk + sum_i kappa(lambda x_i)`
/// and the tilted mean `kappa'(lambda x_i)` entry by entry, which on the
/// silent entries of xi^1 amplifies the competitor's part of the state.
fn xi1_weight(
    c: f64,
    q: f64,
    lambda: f64,
    k: usize,
    competitor: Option<(usize, usize, usize)>,
    ln_bulk: f64,
) -> f64 {
    let (m, r, j) = competitor.unwrap_or((0, 0, 0));
    let (mf, rf, jf, zf) = (m as f64, r as f64, j as f64, (k - m - r) as f64);
    // Entries of the state on: equal, opposite, zero (of nu) on the support
    // of xi^1, and nu's non-zero entries off it; signed along xi^1 / nu.
    let (mut ye, mut yo, mut yz, mut yn) = (c, c, c, 0.0);
    let mut w1 = 0.0;
    for _ in 0..MAP_STEPS {
        let (ke, se) = three_atom_cgf(c, q, lambda * ye);
        let (ko, so) = three_atom_cgf(c, q, lambda * yo);
        let (kz, sz) = three_atom_cgf(c, q, lambda * yz);
        let (kn, sn) = three_atom_cgf(c, q, lambda * yn);
        let z1 = lambda * c * (mf * ye + rf * yo + zf * yz);
        let zb = ln_bulk + mf * ke + rf * ko + zf * kz + jf * kn;
        let zn = if competitor.is_some() {
            lambda * c * (mf * ye - rf * yo + jf * yn)
        } else {
            f64::NEG_INFINITY
        };
        let top = z1.max(zb).max(zn);
        let (e1, eb, en) = ((z1 - top).exp(), (zb - top).exp(), (zn - top).exp());
        let total = e1 + eb + en;
        let (wb, wn) = (eb / total, en / total);
        w1 = e1 / total;
        let next = (
            c * (w1 + wn) + wb * se,
            c * (w1 - wn) + wb * so,
            c * w1 + wb * sz,
            c * wn + wb * sn,
        );
        let moved = (next.0 - ye)
            .abs()
            .max((next.1 - yo).abs())
            .max((next.2 - yz).abs())
            .max((next.3 - yn).abs());
        (ye, yo, yz, yn) = next;
        if moved < 1e-13 {
            break;
        }
    }
    w1
}

/// Probability that the several-step dynamics from xi^1 retrieves it,
/// for the symmetric three-atom law at `P = e^{alpha N}` patterns:
/// `sum_k P(k) [bulk keeps xi^1 | k] (1 - p_k)^{P - 1}`, with `p_k` the
/// probability that one random pattern, with the rest as the bulk, takes
/// the weight from xi^1 (`xi1_weight` at most 1/2), summed over every
/// competitor type `(m, r)` on the support of xi^1. Capture is monotone in the count `j`
/// of the competitor's entries off the support (a binomial tail), so each
/// type needs one bisection. (No lead is too large to scan: at small `k`
/// a competitor opposite to xi^1 on its support but with many entries off
/// it can capture the state.)
pub fn three_atom_retrieval(c: f64, q: f64, lambda: f64, n: usize, alpha: f64) -> f64 {
    let patterns = (alpha * n as f64).exp();
    let ln_others = (patterns - 1.0).max(f64::MIN_POSITIVE).ln();
    let ln_bulk = (patterns - 2.0).max(f64::MIN_POSITIVE).ln();
    let mut total = 0.0;
    for k in 1..=n {
        if xi1_weight(c, q, lambda, k, None, ln_others) <= 0.5 {
            continue;
        }
        // Entries off the support of xi^1, where a competitor has j.
        let outside = n - k;
        let tail = binomial_tails(outside, q);
        let captures_at = |m: usize, r: usize, j: usize| {
            xi1_weight(c, q, lambda, k, Some((m, r, j)), ln_bulk) <= 0.5
        };
        let mut p = 0.0;
        for m in 0..=k {
            for r in 0..=k - m {
                if captures_at(m, r, outside) {
                    let j = first_capture(|j| captures_at(m, r, j), outside);
                    p += ln_support_type(k, m, r, q).exp() * tail[j];
                }
            }
        }
        let kept = ((patterns - 1.0).max(0.0) * (-p.min(1.0)).ln_1p()).exp();
        total += ln_binomial_pmf(n, k, q).exp() * kept;
    }
    total
}

/// Smallest `j` in `0..=last` with `captures(j)`, by bisection, given that
/// `captures(last)` holds and capture is monotone in `j`.
fn first_capture(captures: impl Fn(usize) -> bool, last: usize) -> usize {
    if captures(0) {
        return 0;
    }
    let (mut lo, mut hi) = (0, last);
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if captures(mid) {
            hi = mid
        } else {
            lo = mid
        }
    }
    hi
}

/// Largest `N` of [`alpha_capture_with_bulk_n`] (2 s at `N = 64`): by
/// `N = 48` no competitor is in reach and the crossing is the
/// class-averaged bulk, within `1e-3` of the median-norm bulk.
pub const MAX_JOINT_N: usize = 96;

/// Several-step crossing for the symmetric three-atom law with the bulk
/// and one close competitor in one map ([`three_atom_retrieval`] = 1/2),
/// or `None` for other laws.
///
/// # Errors
/// As [`CaptureTable::new`]; solver errors.
pub fn alpha_capture_with_bulk_n<E: Ensemble + ?Sized>(
    ensemble: &E,
    lambda: f64,
    n: usize,
) -> Result<Option<f64>, TheoryError> {
    crate::check_lambda(lambda)?;
    check_dimension(n as f64)?;
    if n > MAX_JOINT_N {
        return Ok(None);
    }
    let PatternLaw::Iid(law) = ensemble.pattern_law() else {
        return Ok(None);
    };
    let Some((c, q)) = symmetric_three_atom_law(&law) else {
        return Ok(None);
    };
    let excess = |alpha: f64| three_atom_retrieval(c, q, lambda, n, alpha) - 0.5;
    // A staircase in alpha: bisection on its sign.
    let (mut a, mut b) = (1e-9, ensemble.alpha_max());
    if excess(a) <= 0.0 {
        return Ok(Some(0.0));
    }
    while b - a > 1e-9 {
        let mid = 0.5 * (a + b);
        if excess(mid) > 0.0 {
            a = mid
        } else {
            b = mid
        }
    }
    Ok(Some(0.5 * (a + b)))
}

/// `tails[j] = P(Binomial(n, q) >= j)` for `j = 0..=n + 1`.
fn binomial_tails(n: usize, q: f64) -> Vec<f64> {
    let mut tails = vec![0.0; n + 2];
    for j in (0..=n).rev() {
        tails[j] = tails[j + 1] + ln_binomial_pmf(n, j, q).exp();
    }
    tails
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::LN_2;

    use crate::law::{Family, LawFile};
    use crate::{alpha_1, by_name, Iid};

    fn law(text: &str) -> Iid {
        LawFile::parse(text).unwrap().into_ensemble("t").unwrap()
    }

    /// `(1 - p)^(P - 1) = 1/2` at `P = e^{alpha N}`: the crossing of one
    /// class whose competitors each capture with probability `p`.
    fn one_class_crossing(p: f64, n: usize) -> f64 {
        (1.0 + LN_2 / -(-p).ln_1p()).ln() / n as f64
    }

    fn ternary() -> Iid {
        law("[law]\nfamily = \"ternary\"\nzero_probability = 0.5\n")
    }

    fn sparse() -> Iid {
        law("[law]\nfamily = \"sparse-binary\"\ndensity = 0.1\n")
    }

    /// ±1 patterns at lambda = 1: a competitor at Hamming distance F has
    /// `A = B = 2F`, and `2F < 1 + ln(4F)` holds for F = 1 only (F = 0 is
    /// a tie). So `P(no capture) = (1 - (N + 1)/2^N)^(P - 1)` in closed form.
    #[test]
    fn binary_capture_is_hamming_distance_one() {
        let e = by_name("binary").unwrap();
        for n in [8, 12, 16, 24] {
            let table = CaptureTable::new(e.as_ref(), 1.0, n).unwrap().unwrap();
            let p_close = (n + 1) as f64 / 2f64.powi(n as i32);
            for patterns in [1.0, 10.0, 1e3, 1e5] {
                let exact = ((patterns - 1.0) * (-p_close).ln_1p()).exp();
                let got = table.no_capture(patterns);
                assert!(
                    (got - exact).abs() < 1e-12 * exact.max(1e-200),
                    "N {n}: {got} vs {exact}"
                );
            }
            let alpha = table.crossing(n).unwrap().unwrap();
            let closed = one_class_crossing(p_close, n);
            assert!((alpha - closed).abs() < 1e-9, "N {n}: {alpha} vs {closed}");
        }
    }

    /// The count sums against brute force over every competitor vector at
    /// N = 7: for each xi^1 of the class, enumerate all competitors, apply
    /// the capture rule to their actual scores, and weight by their law.
    #[test]
    fn count_sums_match_brute_force() {
        let skewed =
            law("[law]\nfamily = \"discrete\"\nvalues = [-1.0, 2.0]\nprobabilities = [0.6, 0.4]\n");
        let cases = [0.1, 0.2, 0.4, 0.7, 1.0, 1.6, 2.5, 4.0]
            .into_iter()
            .flat_map(|lambda| {
                [
                    (ternary(), lambda),
                    (sparse(), lambda),
                    (skewed.clone(), lambda),
                ]
            });
        for (e, lambda) in cases {
            let n = 7;
            let atoms = e.entry_law().unwrap().atoms().unwrap().to_vec();
            let table = CaptureTable::new(&e, lambda, n).unwrap().unwrap();
            // The class of a xi^1 is its count of non-b / non-zero entries:
            // take xi^1 = (rare atom) * k, then the rest.
            for k in 0..=n {
                let (rare, common) = if atoms.len() == 2 {
                    (atoms[1].value, atoms[0].value)
                } else {
                    (atoms[2].value, 0.0)
                };
                let xi1: Vec<f64> = (0..n).map(|i| if i < k { rare } else { common }).collect();
                let x1: f64 = xi1.iter().map(|v| v * v).sum();
                let mut p = 0.0;
                let total = atoms.len().pow(n as u32);
                for code in 0..total {
                    let (mut c, mut prob, mut dot, mut norm) = (code, 1.0, 0.0, 0.0);
                    for v in &xi1 {
                        let atom = atoms[c % atoms.len()];
                        c /= atoms.len();
                        prob *= atom.probability;
                        dot += v * atom.value;
                        norm += atom.value * atom.value;
                    }
                    let (a, b) = (lambda * (x1 - dot), lambda * (norm - dot));
                    if captures(a, b, lambda * (x1 + norm)) {
                        p += prob;
                    }
                }
                let got = table.classes[k].1;
                assert!(
                    (got - p).abs() < 1e-12,
                    "k {k}, lambda {lambda}: {got} vs {p}"
                );
            }
        }
    }

    /// The combined map's retrieval probability against brute force over
    /// every competitor vector at N = 6 and 7, at P from 3.3 to 33 (where
    /// P - 1 and P - 2 differ from P): for each count k of non-zero
    /// entries of xi^1, enumerate all 3^N competitors, judge each by the
    /// map with its own type and the other P - 2 patterns as the bulk,
    /// weight by its law, and raise the kept probability to P - 1; xi^1
    /// itself must survive the bulk of P - 1 (no lead scan, no bisection).
    #[test]
    fn three_atom_retrieval_matches_brute_force() {
        let (c, q) = (2f64.sqrt(), 0.5);
        for (lambda, n, alpha) in [
            (1.0, 6, 0.2),
            (1.0, 6, 0.35),
            (1.0, 7, 0.5),
            (2.5, 6, 0.3),
            (2.5, 7, 0.45),
            (0.6, 6, 0.4),
        ] {
            let patterns = (alpha * n as f64).exp();
            let choose = |k: usize| (0..k).fold(1.0, |b, i| b * (n - i) as f64 / (i + 1) as f64);
            let mut total = 0.0;
            for k in 0..=n {
                if xi1_weight(c, q, lambda, k, None, (patterns - 1.0).ln()) <= 0.5 {
                    continue;
                }
                let mut kept_by = std::collections::HashMap::new();
                let mut caught = 0.0;
                for code in 0..3usize.pow(n as u32) {
                    // Entry i of the competitor is digit i of `code` in
                    // base 3: 0 is a zero, 1 is +c, 2 is -c; xi^1 is +c on
                    // its first k entries.
                    let (mut m, mut r, mut j, mut prob, mut rest) = (0, 0, 0, 1.0, code);
                    for i in 0..n {
                        let digit = rest % 3;
                        rest /= 3;
                        prob *= if digit == 0 { 1.0 - q } else { q / 2.0 };
                        match (i < k, digit) {
                            (_, 0) => {}
                            (true, 1) => m += 1,
                            (true, _) => r += 1,
                            (false, _) => j += 1,
                        }
                    }
                    let keeps = *kept_by.entry((m, r, j)).or_insert_with(|| {
                        xi1_weight(c, q, lambda, k, Some((m, r, j)), (patterns - 2.0).ln()) > 0.5
                    });
                    if !keeps {
                        caught += prob;
                    }
                }
                let p_k = choose(k) * q.powi(k as i32) * (1.0 - q).powi((n - k) as i32);
                total += p_k * (1.0 - caught).powf(patterns - 1.0);
            }
            let got = three_atom_retrieval(c, q, lambda, n, alpha);
            assert!(
                (got - total).abs() < 1e-12 && total > 0.01 && total < 0.99,
                "lambda {lambda} N {n} alpha {alpha}: {got} vs brute force {total}"
            );
        }
    }

    /// The type map of `xi1_weight` against the same map written entry by
    /// entry on explicit vectors (xi^1 = c on its first k entries; the
    /// competitor c on m of them, -c on r, 0 on the rest, and c on j
    /// entries off the support; the bulk's `kappa` and tilted mean from
    /// the atoms' sums, not `three_atom_cgf`): the weights on xi^1 agree
    /// to 1e-9 on every type at N = 9, with and without a competitor,
    /// across bulks and lambda, on both sides of 1/2.
    #[test]
    fn type_map_matches_the_map_entry_by_entry() {
        let (c, q, n) = (2f64.sqrt(), 0.5, 9);
        let atoms = [(-c, q / 2.0), (0.0, 1.0 - q), (c, q / 2.0)];
        let kappa = |y: f64| {
            atoms
                .iter()
                .map(|(a, p)| p * (y * a).exp())
                .sum::<f64>()
                .ln()
        };
        let tilted = |y: f64| {
            let z: f64 = atoms.iter().map(|(a, p)| p * (y * a).exp()).sum();
            atoms
                .iter()
                .map(|(a, p)| a * p * (y * a).exp())
                .sum::<f64>()
                / z
        };
        let dot = |u: &[f64], v: &[f64]| u.iter().zip(v).map(|(a, b)| a * b).sum::<f64>();
        let (mut kept, mut lost) = (0, 0);
        for lambda in [0.7, 1.0, 2.0] {
            for ln_bulk in [0.5, 2.0, 4.0] {
                for k in 1..=n {
                    let xi1: Vec<f64> = (0..n).map(|i| if i < k { c } else { 0.0 }).collect();
                    let mut types = vec![None];
                    for m in 0..=k {
                        for r in 0..=k - m {
                            types.extend((0..=n - k).map(|j| Some((m, r, j))));
                        }
                    }
                    for competitor in types {
                        let nu: Option<Vec<f64>> = competitor.map(|(m, r, j)| {
                            (0..n)
                                .map(|i| match i {
                                    i if i < m => c,
                                    i if i < m + r => -c,
                                    i if i < k => 0.0,
                                    i if i < k + j => c,
                                    _ => 0.0,
                                })
                                .collect()
                        });
                        let mut x = xi1.clone();
                        let mut w1 = 0.0;
                        for _ in 0..MAP_STEPS {
                            let z1 = lambda * dot(&xi1, &x);
                            let zb = ln_bulk + x.iter().map(|&v| kappa(lambda * v)).sum::<f64>();
                            let zn = nu
                                .as_ref()
                                .map_or(f64::NEG_INFINITY, |nu| lambda * dot(nu, &x));
                            let top = z1.max(zb).max(zn);
                            let (e1, eb, en) =
                                ((z1 - top).exp(), (zb - top).exp(), (zn - top).exp());
                            let total = e1 + eb + en;
                            w1 = e1 / total;
                            let next: Vec<f64> = (0..n)
                                .map(|i| {
                                    let own = nu.as_ref().map_or(0.0, |nu| en / total * nu[i]);
                                    w1 * xi1[i] + own + eb / total * tilted(lambda * x[i])
                                })
                                .collect();
                            let moved = x
                                .iter()
                                .zip(&next)
                                .map(|(a, b)| (a - b).abs())
                                .fold(0.0, f64::max);
                            x = next;
                            if moved < 1e-13 {
                                break;
                            }
                        }
                        let typed = xi1_weight(c, q, lambda, k, competitor, ln_bulk);
                        assert!(
                            (typed - w1).abs() < 1e-9,
                            "lambda {lambda} ln_bulk {ln_bulk} k {k} {competitor:?}: {typed} vs {w1}"
                        );
                        if w1 > 0.5 {
                            kept += 1
                        } else {
                            lost += 1
                        }
                    }
                }
            }
        }
        assert!(kept > 100 && lost > 100, "{kept} kept, {lost} lost");
    }

    /// The capture crossing grows with N towards alpha_max and passes
    /// alpha_1, where the bulk lag takes over: by N = 64 for ±1 patterns,
    /// N = 128 for ternary ones, only near N = 512 for sparse binary ones.
    #[test]
    fn capture_crossing_grows_past_alpha_1() {
        let binary = by_name("binary").unwrap();
        let laws = [
            (binary.as_ref() as &dyn Ensemble, 64),
            (&ternary(), 128),
            (&sparse(), 512),
        ];
        for (e, past) in laws {
            let crossing = |n| alpha_capture_n(e, 1.0, n).unwrap().unwrap();
            let crossings: Vec<f64> = [16, 32, 64, 128].map(crossing).to_vec();
            assert!(crossings.windows(2).all(|w| w[0] < w[1]), "{crossings:?}");
            assert!(crossings[3] <= e.alpha_max(), "{crossings:?}");
            let alpha_1 = alpha_1(e, 1.0).unwrap();
            assert!(
                crossings[0] < alpha_1 && crossing(past) > alpha_1,
                "{crossings:?}"
            );
        }
    }

    /// A lead that is zero up to rounding is a tie, which captures (xi^1
    /// does not win); a clear lead is judged by the saddle-node
    /// `A >= 1 + ln(A + B)`: at `A + B = 10`, `A = 3 < 1 + ln 10 = 3.30`
    /// captures and `A = 4` does not.
    #[test]
    fn ties_and_the_saddle_node() {
        assert!(captures(1e-8, 0.0, 100.0), "1e-10 of the scale is a tie");
        assert!(captures(0.0, 0.0, 1.0) && captures(-1.0, 5.0, 1.0));
        assert!(captures(3.0, 7.0, 100.0));
        assert!(!captures(4.0, 6.0, 100.0));
        // On the saddle-node itself (`A = 1 + ln 1`) the fixed point survives.
        assert!(!captures(1.0, 0.0, 100.0));
    }

    /// The first capturing `j` against a plain scan from 0, over leads from
    /// a tie to far beyond reach, units from 0.05 (where the closed-form
    /// start overshoots a tie and must step down) to 5, and any `r`.
    #[test]
    fn first_capturing_j_matches_a_scan() {
        let outside = 40;
        for unit in [0.05, 0.2, 0.7, 2.0, 5.0] {
            for steps in 0..12 {
                let lead = unit * steps as f64;
                for r in 0..4 {
                    let scale = unit * outside as f64;
                    let scan = (0..=outside)
                        .find(|&j| captures(lead, unit * (2 * r + j) as f64, scale))
                        .unwrap_or(outside + 1);
                    let got = first_capturing_j(lead, unit, r, outside);
                    assert_eq!(got, scan, "unit {unit}, lead {lead}, r {r}");
                }
            }
        }
    }

    /// The joint map runs up to `N = MAX_JOINT_N` and not beyond (at
    /// `lambda = 4`, where its fixed points are found in a few steps).
    #[test]
    fn joint_map_stops_past_its_largest_n() {
        let e = ternary();
        let last = alpha_capture_with_bulk_n(&e, 4.0, MAX_JOINT_N).unwrap();
        assert!(
            last.is_some_and(|a| a > 0.0 && a < e.alpha_max()),
            "{last:?}"
        );
        assert_eq!(
            alpha_capture_with_bulk_n(&e, 1.0, MAX_JOINT_N + 1).unwrap(),
            None
        );
    }

    /// The crossing of one class of xi^1 whose competitors capture with
    /// probability `p`: `(1 - p)^(P - 1) = 1/2` at
    /// `alpha = ln(1 + ln 2 / -ln(1 - p)) / N`, found by doubling the
    /// bracket far beyond the first guess when `p` is tiny; with `p = 0`
    /// nothing captures at any load, and there is no crossing.
    #[test]
    fn crossing_of_one_class_in_closed_form() {
        let n = 100;
        for p in [0.3, 1e-6, 1e-200] {
            let table = CaptureTable {
                classes: vec![(0.0, p)],
            };
            let expected = one_class_crossing(p, n);
            let got = table.crossing(n).unwrap().unwrap();
            assert!(
                (got - expected).abs() < 1e-9 * expected,
                "{p}: {got} vs {expected}"
            );
        }
        let never = CaptureTable {
            classes: vec![(0.0, 0.0)],
        };
        assert_eq!(never.no_capture(f64::INFINITY), 1.0);
        assert_eq!(never.crossing(n).unwrap(), None);
    }

    /// The combined map for ternary patterns at lambda = 1: below the
    /// capture table alone at N = 16, 20, 24 (the bulk helps the
    /// competitor), and, with no competitor in reach at N = 48, the bulk
    /// averaged over the classes of xi^1, within 2e-3 of the median-norm
    /// bulk of `finite_n`. Two-atom laws get `None`. (Its agreement with
    /// the real dynamics is tested in validation/tests/finite_n.rs.)
    #[test]
    fn capture_with_bulk_ternary() {
        let e = ternary();
        for n in [16, 20, 24] {
            let joint = alpha_capture_with_bulk_n(&e, 1.0, n).unwrap().unwrap();
            let alone = alpha_capture_n(&e, 1.0, n).unwrap().unwrap();
            assert!(joint < alone, "N {n}: {joint} vs capture alone {alone}");
        }
        let joint = alpha_capture_with_bulk_n(&e, 1.0, 48).unwrap().unwrap();
        let bulk = crate::finite_n::bulk_dynamics_n(&e, 1.0, 48.0).unwrap();
        assert!((joint - bulk).abs() < 2e-3, "{joint} vs {bulk}");
        assert!(alpha_capture_with_bulk_n(&sparse(), 1.0, 16)
            .unwrap()
            .is_none());
    }

    /// Laws without an exact table get none; bad input is refused.
    #[test]
    fn other_laws_and_bad_input() {
        let gaussian = by_name("gaussian").unwrap();
        assert!(alpha_capture_n(gaussian.as_ref(), 1.0, 16)
            .unwrap()
            .is_none());
        let uniform = Iid::new("u", Family::Uniform {}).unwrap();
        assert!(alpha_capture_n(&uniform, 1.0, 16).unwrap().is_none());
        assert!(CaptureTable::new(&ternary(), -1.0, 16).is_err());
        assert!(CaptureTable::new(&ternary(), 1.0, 0).is_err());
        // Three atoms that are not {-c, 0, c} with equal weights once
        // standardised, each meeting one of the three conditions: a middle
        // atom at 0 (mean -0.4 + 0.4 = 0) between unequal outer atoms and
        // weights; equal outer weights (the centring then moves the middle
        // atom off 0); and neither.
        for (values, probabilities) in [
            (vec![-1.0, 0.0, 2.0], vec![0.4, 0.4, 0.2]),
            (vec![-1.0, 0.0, 2.0], vec![0.3, 0.4, 0.3]),
            (vec![-1.0, 0.0, 1.0], vec![0.2, 0.5, 0.3]),
        ] {
            let e = Iid::new(
                "three",
                Family::Discrete {
                    values,
                    probabilities,
                },
            )
            .unwrap();
            assert!(CaptureTable::new(&e, 1.0, 16).unwrap().is_none());
            assert!(alpha_capture_with_bulk_n(&e, 1.0, 16).unwrap().is_none());
        }
    }
}
