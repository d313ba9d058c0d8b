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

    /// Softmax weight `exp(z - ln Z)` of a score `z` that is part of the sum.
    pub(crate) fn weight_of(&self, z: f64) -> f64 {
        (z - self.ln()).exp()
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
}
