//! Discrete entry laws on a lattice, for an exact first step in O(N^2).
//!
//! When every atom is an integer multiple `m_j` of one unit `delta`, the
//! score of a pattern `b` against a state `x0` whose entries are atoms is
//! `lambda delta^2 S` with the integer `S = sum_i m(x0_i) m(b_i)`. Given
//! how many entries of `x0` sit on each atom, `S` is a sum of independent
//! integer variables, so its law is an exact convolution over at most
//! `N max|m|^2` levels, and the `P - 1` scores enter as level counts, as
//! for binary patterns (`first_step`).

use damcap_theory::law::EntryLaw;

/// Largest `|m_j|` accepted (it bounds the number of levels).
const MAX_MULTIPLE: f64 = 64.0;
/// Denominators tried for the unit, as fractions of the smallest atom.
const MAX_DENOMINATOR: u32 = 16;

/// Atoms `m_j delta` with probabilities `p_j`.
#[derive(Clone, Debug, PartialEq)]
pub struct Lattice {
    /// The unit `delta`.
    pub unit: f64,
    /// `m_j` for each atom, in the law's order.
    pub multiples: Vec<i64>,
    /// `p_j` for each atom.
    pub probabilities: Vec<f64>,
}

impl Lattice {
    /// The lattice of a discrete law, if its atoms are small integer
    /// multiples of `smallest nonzero |atom| / q` for some `q <= 16`.
    pub fn of(law: &EntryLaw) -> Option<Lattice> {
        let atoms = law.atoms()?;
        let smallest = atoms
            .iter()
            .map(|a| a.value.abs())
            .filter(|v| *v > 0.0)
            .fold(f64::INFINITY, f64::min);
        (1..=MAX_DENOMINATOR).find_map(|q| {
            let unit = smallest / f64::from(q);
            let multiples: Option<Vec<i64>> = atoms
                .iter()
                .map(|a| {
                    let m = a.value / unit;
                    ((m - m.round()).abs() < 1e-9 * m.abs().max(1.0) && m.abs() <= MAX_MULTIPLE)
                        .then_some(m.round() as i64)
                })
                .collect();
            multiples.map(|multiples| Lattice {
                unit,
                multiples,
                probabilities: atoms.iter().map(|a| a.probability).collect(),
            })
        })
    }

    /// Law of `S = sum_i m(x0_i) m(b_i)` for a fresh pattern `b`, when
    /// `x0` has `counts[k]` entries on atom `k`: `(lowest S, pmf)` with
    /// `pmf[s]` the probability of `S = lowest + s`.
    pub fn score_pmf(&self, counts: &[usize]) -> (i64, Vec<f64>) {
        let mut lowest = 0_i64;
        let mut pmf = vec![1.0];
        for (&mx, &n) in self.multiples.iter().zip(counts) {
            let steps: Vec<(i64, f64)> = self
                .multiples
                .iter()
                .zip(&self.probabilities)
                .map(|(&mb, &p)| (mx * mb, p))
                .collect();
            let step_low = steps.iter().map(|s| s.0).min().unwrap_or(0);
            let step_high = steps.iter().map(|s| s.0).max().unwrap_or(0);
            for _ in 0..n {
                let width = (step_high - step_low) as usize;
                let mut next = vec![0.0; pmf.len() + width];
                for (s, &w) in pmf.iter().enumerate().filter(|(_, w)| **w > 0.0) {
                    for &(v, p) in &steps {
                        next[s + (v - step_low) as usize] += w * p;
                    }
                }
                pmf = next;
                lowest += step_low;
            }
        }
        (lowest, pmf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use damcap_theory::law::Family;

    #[test]
    fn ternary_and_sparse_laws_are_lattices() {
        let ternary = EntryLaw::new(Family::Ternary {
            zero_probability: 0.5,
        })
        .unwrap();
        let l = Lattice::of(&ternary).unwrap();
        assert_eq!(l.multiples, vec![-1, 0, 1]);
        assert!((l.unit - 2f64.sqrt()).abs() < 1e-12);
        let sparse = EntryLaw::new(Family::SparseBinary { density: 0.1 }).unwrap();
        assert_eq!(Lattice::of(&sparse).unwrap().multiples, vec![-1, 9]);
        let irrational = EntryLaw::new(Family::Discrete {
            values: vec![-1.0, 0.0, std::f64::consts::PI],
            probabilities: vec![0.3, 0.3, 0.4],
        })
        .unwrap();
        assert!(Lattice::of(&irrational).is_none());
        assert!(Lattice::of(&EntryLaw::new(Family::Uniform {}).unwrap()).is_none());
    }

    /// The convolution against brute-force enumeration of every pattern
    /// `b` for a small state: sparse law, `x0` with 2 entries on each atom.
    /// The unit may be a fraction `1/q` of the smallest magnitude, for
    /// `q` up to 16, multiples reach 64 at most, and a value may sit off
    /// its multiple by 1e-9 of it. Each law is symmetric, so standardising
    /// only rescales it.
    #[test]
    fn lattice_limits() {
        let multiples = |values: [f64; 4]| {
            let law = EntryLaw::new(Family::Discrete {
                values: values.to_vec(),
                probabilities: vec![0.25; 4],
            })
            .unwrap();
            Lattice::of(&law).map(|l| l.multiples)
        };
        assert_eq!(multiples([-3.0, -2.0, 2.0, 3.0]), Some(vec![-3, -2, 2, 3]));
        assert_eq!(
            multiples([-17.0, -16.0, 16.0, 17.0]),
            Some(vec![-17, -16, 16, 17])
        );
        assert_eq!(multiples([-18.0, -17.0, 17.0, 18.0]), None);
        assert_eq!(
            multiples([-64.0, -1.0, 1.0, 64.0]),
            Some(vec![-64, -1, 1, 64])
        );
        assert_eq!(multiples([-65.0, -1.0, 1.0, 65.0]), None);
        // Rounding is forgiven up to 1e-9 of the multiple: 3.15e-8 at 63.
        let near = 63.000_000_031_5;
        assert_eq!(
            multiples([-near, -1.0, 1.0, near]),
            Some(vec![-63, -1, 1, 63])
        );
        assert_eq!(multiples([-63.000_001, -1.0, 1.0, 63.000_001]), None);
    }

    #[test]
    fn score_pmf_matches_enumeration() {
        let law = EntryLaw::new(Family::SparseBinary { density: 0.3 }).unwrap();
        let l = Lattice::of(&law).unwrap();
        let x0 = [0usize, 0, 1, 1];
        let (lowest, pmf) = l.score_pmf(&[2, 2]);
        let mut exact = std::collections::HashMap::<i64, f64>::new();
        for code in 0..16usize {
            let b: Vec<usize> = (0..4).map(|i| (code >> i) & 1).collect();
            let s: i64 = x0
                .iter()
                .zip(&b)
                .map(|(&x, &y)| l.multiples[x] * l.multiples[y])
                .sum();
            let p: f64 = b.iter().map(|&y| l.probabilities[y]).product();
            *exact.entry(s).or_default() += p;
        }
        let total: f64 = pmf.iter().sum();
        assert!((total - 1.0).abs() < 1e-12);
        for (s, p) in exact {
            assert!((pmf[(s - lowest) as usize] - p).abs() < 1e-14, "S = {s}");
        }
    }
}
