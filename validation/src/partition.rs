//! Online accumulation of the softmax partition function
//! `Z = sum_mu exp(z_mu)` in log space.
//!
//! Scores `z_mu = lambda xi^mu . x` reach `lambda N` and beyond, far out of
//! the range of `exp`. The sum is therefore kept relative to a running
//! reference `shift` (the largest score seen so far) and `ln Z = shift +
//! ln sum`, so that no term ever overflows and the largest term is exactly
//! 1. Scores arrive in blocks, so `P` never has to be held in memory.

use crate::fast_exp::exp_in_place;

/// Running `ln sum exp(z)` over the scores seen so far.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Partition {
    shift: f64,
    sum: f64,
}

impl Partition {
    /// The empty sum (`ln Z = -inf`).
    pub(crate) fn new() -> Self {
        Self {
            shift: f64::NEG_INFINITY,
            sum: 0.0,
        }
    }

    /// Raises the reference to `z_max` if that is larger. Returns the factor
    /// by which any sum kept relative to the old reference (the
    /// partition sum itself is rescaled here) must be multiplied.
    pub(crate) fn raise_shift(&mut self, z_max: f64) -> f64 {
        if z_max <= self.shift {
            return 1.0;
        }
        // exp(-inf) = 0 on the first block: nothing to carry over.
        let factor = (self.shift - z_max).exp();
        self.shift = z_max;
        self.sum *= factor;
        factor
    }

    /// Adds `exp(z)` (relative to the reference, which must be at least `z`)
    /// and returns that relative weight.
    pub(crate) fn add(&mut self, z: f64) -> f64 {
        let w = (z - self.shift).exp();
        self.sum += w;
        w
    }

    /// Adds a block of scores, all at most the reference, and writes their
    /// relative weights `e^{z - shift}` to `w` (by the vectorised
    /// exponential of [`crate::fast_exp`], a few ulp from the library's).
    pub(crate) fn add_weights(&mut self, z: &[f64], w: &mut [f64]) {
        for (wk, &zk) in w.iter_mut().zip(z) {
            *wk = zk - self.shift;
        }
        exp_in_place(w);
        let mut lanes = [0.0_f64; 4];
        let chunks = w.chunks_exact(4);
        let tail: f64 = chunks.remainder().iter().sum();
        for c in chunks {
            for (l, &v) in lanes.iter_mut().zip(c) {
                *l += v;
            }
        }
        self.sum += (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + tail;
    }

    /// Adds `other`'s sum to this one, both relative to the larger of the
    /// two references. Returns the factors by which sums kept relative to
    /// this one's old reference and to `other`'s must be multiplied.
    pub(crate) fn merge(&mut self, other: Partition) -> (f64, f64) {
        let shift = self.shift.max(other.shift);
        if shift == f64::NEG_INFINITY {
            return (1.0, 1.0);
        }
        let (mine, theirs) = ((self.shift - shift).exp(), (other.shift - shift).exp());
        self.sum = self.sum * mine + other.sum * theirs;
        self.shift = shift;
        (mine, theirs)
    }

    /// Adds `count` copies of `exp(z)`.
    pub(crate) fn add_many(&mut self, z: f64, count: f64) {
        self.raise_shift(z);
        self.sum += count * (z - self.shift).exp();
    }

    /// Adds a block of scores.
    pub(crate) fn add_block(&mut self, z: &[f64]) {
        self.raise_shift(block_max(z));
        for &zi in z {
            self.add(zi);
        }
    }

    /// `Z` relative to the reference, `exp(-shift) Z`.
    pub(crate) fn relative_sum(&self) -> f64 {
        self.sum
    }

    /// `ln Z`.
    pub(crate) fn ln(&self) -> f64 {
        self.shift + self.sum.ln()
    }

    /// Softmax weight `exp(z - ln Z)` of a score `z` that is part of the
    /// sum, as `exp(z - shift) / sum`: exact when `z` is the reference, so
    /// that a pattern tied with one exact duplicate at the top gets exactly
    /// 1/2 (through `ln Z` it got `exp(-ln 2)` rounded at the scale of `z`,
    /// above 1/2 by 3e-14 at `z = 1000`).
    pub(crate) fn weight_of(&self, z: f64) -> f64 {
        (z - self.shift).exp() / self.sum
    }
}

/// Largest entry (`-inf` for an empty block), in four lanes that the
/// compiler vectorises (the maximum is exact in any order).
pub(crate) fn block_max(z: &[f64]) -> f64 {
    let mut lanes = [f64::NEG_INFINITY; 4];
    let chunks = z.chunks_exact(4);
    let tail = chunks
        .remainder()
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    for c in chunks {
        for k in 0..4 {
            lanes[k] = if c[k] > lanes[k] { c[k] } else { lanes[k] };
        }
    }
    lanes.into_iter().fold(tail, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocked online accumulation equals the direct sum, and survives
    /// scores far beyond the range of exp.
    #[test]
    fn online_log_sum_exp() {
        let z: Vec<f64> = (0..1000)
            .map(|k| ((k * 37) % 101) as f64 * 0.1 - 3.0)
            .collect();
        let direct = z.iter().map(|v| v.exp()).sum::<f64>().ln();
        let mut part = Partition::new();
        z.chunks(64).for_each(|b| part.add_block(b));
        assert!((part.ln() - direct).abs() < 1e-12);

        let mut huge = Partition::new();
        huge.add_block(&[1e5, 1e5 - 1.0]);
        huge.add_block(&[2e5]);
        huge.add_many(1e5, 1e9);
        assert!((huge.ln() - 2e5).abs() < 1e-12);
        assert_eq!(huge.weight_of(2e5), 1.0);
    }

    /// A score tied at the top with `k - 1` others, the rest far below,
    /// carries exactly `1/k` of the weight, at any scale of the scores
    /// (through `ln Z` the pair at `z = 1000` got `1/2 + 3e-14`).
    #[test]
    fn tied_tops_share_the_weight_exactly() {
        for top in [1.0, 64.0, 1000.0, 1e5] {
            for k in [2, 3] {
                let mut part = Partition::new();
                let mut z = vec![top; k];
                z.push(top - 100.0);
                part.add_block(&z);
                assert_eq!(part.weight_of(top), 1.0 / k as f64, "z = {top}, k = {k}");
            }
        }
    }

    /// `ln sum e^z` computed directly.
    fn direct(z: &[f64]) -> f64 {
        z.iter().map(|v| v.exp()).sum::<f64>().ln()
    }

    /// The pieces a step uses: raising the reference rescales the sum and
    /// returns the factor; `add` and `add_weights` return weights relative
    /// to the reference; `relative_sum` is `e^{-shift} Z`.
    #[test]
    fn reference_and_weights() {
        let mut part = Partition::new();
        assert_eq!(part.ln(), f64::NEG_INFINITY);
        assert_eq!(part.raise_shift(1.0), 0.0);
        assert_eq!(part.add(1.0), 1.0);
        assert!((part.add(0.0) - (-1.0f64).exp()).abs() < 1e-16);
        assert_eq!(
            part.raise_shift(0.5),
            1.0,
            "a lower maximum changes nothing"
        );
        assert_eq!(part.raise_shift(1.0), 1.0, "nor an equal one");
        let factor = part.raise_shift(3.0);
        assert!((factor - (-2.0f64).exp()).abs() < 1e-16);
        let sum = (-2.0f64).exp() + (-3.0f64).exp();
        assert!((part.relative_sum() - sum).abs() < 1e-16);
        // Eleven scores: two lanes of four and a tail of three.
        let z: Vec<f64> = (0..11).map(|k| 3.0 - 0.25 * k as f64).collect();
        let mut w = vec![0.0; z.len()];
        part.add_weights(&z, &mut w);
        for (wk, zk) in w.iter().zip(&z) {
            assert!((wk - (zk - 3.0).exp()).abs() < 1e-15, "{zk}");
        }
        let all: Vec<f64> = [1.0, 0.0].iter().chain(&z).copied().collect();
        assert!((part.ln() - direct(&all)).abs() < 1e-14);
        let ln = part.ln();
        assert!((part.weight_of(3.0) - (3.0 - ln).exp()).abs() < 1e-16);
        part.add_many(-1.0, 1e3);
        let more = (ln.exp() + 1e3 * (-1.0f64).exp()).ln();
        assert!((part.ln() - more).abs() < 1e-14);
    }

    /// Merging two sums gives the sum over both, relative to the larger
    /// reference, in either order; the factors rescale what was kept
    /// relative to each old reference. Empty sums merge to an empty sum.
    #[test]
    fn merged_sums() {
        let (a, b) = ([0.5, -1.0, 2.0], [7.0, 6.5]);
        let sum = |z: &[f64]| {
            let mut part = Partition::new();
            part.add_block(z);
            part
        };
        let both: Vec<f64> = a.iter().chain(&b).copied().collect();
        let mut first = sum(&a);
        let (mine, theirs) = first.merge(sum(&b));
        assert!((mine - (-5.0f64).exp()).abs() < 1e-16 && theirs == 1.0);
        assert!((first.ln() - direct(&both)).abs() < 1e-14);
        let mut second = sum(&b);
        assert_eq!(second.merge(sum(&a)).0, 1.0);
        assert!((second.ln() - direct(&both)).abs() < 1e-14);
        let mut empty = Partition::new();
        assert_eq!(empty.merge(sum(&a)), (0.0, 1.0));
        assert!((empty.ln() - direct(&a)).abs() < 1e-14);
        let mut none = Partition::new();
        assert_eq!(none.merge(Partition::new()), (1.0, 1.0));
        assert_eq!((none.ln(), none.relative_sum()), (f64::NEG_INFINITY, 0.0));
    }

    /// The maximum wherever it lies: in a lane, in the tail, or nowhere.
    #[test]
    fn block_maximum() {
        assert_eq!(block_max(&[]), f64::NEG_INFINITY);
        for len in [1, 4, 5, 7, 8, 9] {
            for at in 0..len {
                let mut z = vec![-1.0; len];
                z[at] = 2.0;
                assert_eq!(block_max(&z), 2.0, "length {len}, at {at}");
            }
        }
        assert_eq!(block_max(&[-3.0, -2.0, -5.0, -4.0, -6.0]), -2.0);
    }
}
