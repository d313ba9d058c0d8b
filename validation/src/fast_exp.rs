//! `e^x` for a block of non-positive arguments, in code the compiler
//! vectorises: the softmax weights of a step take one exponential per
//! pattern, and the scalar library call (about 7 ns here) cost more than
//! scoring a packed pattern.
//!
//! Range reduction `x = k ln 2 + r` with `|r| <= ln 2 / 2` (`k` rounded by
//! the `1.5 2^52` trick, `ln 2` split in two parts so `r` is exact to
//! about 2^-60 relative), `e^r` by its Taylor polynomial of degree 13
//! (truncation below `0.35^14 / 14! < 5e-18`, far under the half ulp
//! 1.1e-16 of the result) in Horner form, and `2^k` written into the
//! exponent bits. The relative error is a few ulp (tested against the
//! library's `exp` to 5e-16 on `[-708, 0]`). Arguments below -708, where
//! `2^k` would be subnormal, are handed to the library's `exp`.

/// `1.5 2^52`: adding and subtracting it rounds an `f64` of magnitude
/// below `2^51` to the nearest integer.
const ROUND: f64 = 6_755_399_441_055_744.0;

/// `ln 2` in a part with 32 significant bits, exact when multiplied by
/// the integer `k` (`|k| <= 1022`), and the rest.
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);

/// Smallest argument of the fast path: `2^k` stays normal.
const SMALLEST: f64 = -708.0;

/// `x[k] <- e^{x[k]}` for arguments `x[k] <= 0` (or `-inf`, giving 0),
/// compiled for AVX2 as well and chosen at run time when the processor
/// has it (the same operations, no fused multiply-add: the same bits).
pub(crate) fn exp_in_place(x: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor supports AVX2, checked just above.
        unsafe { exp_avx2(x) };
        return;
    }
    exp_portable(x);
}

/// [`exp_in_place`] compiled with AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn exp_avx2(x: &mut [f64]) {
    exp_portable(x);
}

/// [`exp_in_place`] for any processor: a branch-free loop, unless an
/// argument lies below [`SMALLEST`], where the library takes over.
#[inline(always)]
fn exp_portable(x: &mut [f64]) {
    let low = x.iter().fold(false, |low, &v| low | (v < SMALLEST));
    if low {
        for v in x.iter_mut() {
            *v = if *v < SMALLEST {
                v.exp()
            } else {
                reduced_exp(*v)
            };
        }
    } else {
        for v in x.iter_mut() {
            *v = reduced_exp(*v);
        }
    }
}

/// `e^x` for `-708 <= x <= 0` (module doc).
#[inline(always)]
fn reduced_exp(x: f64) -> f64 {
    let shifted = x * std::f64::consts::LOG2_E + ROUND;
    let k = shifted - ROUND;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    // Taylor coefficients 1/j! for j = 13 down to 2.
    const C: [f64; 12] = [
        1.0 / 6_227_020_800.0,
        1.0 / 479_001_600.0,
        1.0 / 39_916_800.0,
        1.0 / 3_628_800.0,
        1.0 / 362_880.0,
        1.0 / 40_320.0,
        1.0 / 5_040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
    ];
    let mut poly = C[0];
    for &c in &C[1..] {
        poly = poly * r + c;
    }
    let e_r = (poly * r + 1.0) * r + 1.0;
    // The low bits of `shifted` hold k as a two's-complement integer.
    let k_int = shifted.to_bits() as i64 - ROUND.to_bits() as i64;
    let scale = f64::from_bits(((k_int + 1023) as u64) << 52);
    e_r * scale
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The split of `ln 2`: its high part has 21 trailing zero bits (so
    /// `k LN2_HI` is exact for `|k| < 2^11`) and the parts add up to
    /// `ln 2`.
    #[test]
    fn ln2_split() {
        assert!(LN2_HI.to_bits().trailing_zeros() >= 21);
        assert_eq!(LN2_HI + LN2_LO, std::f64::consts::LN_2);
        assert!(LN2_LO.abs() < 1e-9);
    }

    /// Against the library's `exp` on 200 001 points of `[-760, 0]`
    /// (through the subnormal range) and special values: relative error
    /// at most 5e-16 (a few ulp) where the result is normal, exact 0 at
    /// `-inf`, 1 at 0, and the library's value below -708.
    #[test]
    fn matches_library_exp() {
        let x: Vec<f64> = (0..=200_000)
            .map(|k| -760.0 * k as f64 / 200_000.0)
            .chain([
                0.0,
                -0.0,
                -1e-300,
                -0.34657359,
                -0.34657360,
                f64::NEG_INFINITY,
            ])
            .collect();
        let mut out = x.clone();
        exp_in_place(&mut out);
        let mut worst = 0.0_f64;
        for (&v, &e) in x.iter().zip(&out) {
            let reference = v.exp();
            if v < SMALLEST {
                assert_eq!(e.to_bits(), reference.to_bits(), "{v}");
            } else {
                worst = worst.max((e - reference).abs() / reference);
            }
        }
        assert!(worst <= 5e-16, "largest relative error {worst:e}");
        // The fast path really serves [-708, 0] (its bits, which differ
        // from the library's at some points), in blocks with and without
        // arguments below -708.
        let fast: Vec<f64> = x.iter().map(|&v| reduced_exp(v)).collect();
        let differ = x
            .iter()
            .zip(&fast)
            .filter(|(&v, e)| v >= SMALLEST && v.exp() != **e)
            .count();
        assert!(differ > 100, "{differ}");
        for (k, (&v, &e)) in x.iter().zip(&out).enumerate() {
            if v >= SMALLEST {
                assert_eq!(e.to_bits(), fast[k].to_bits(), "{v}");
            }
        }
        // -708 itself takes the fast path, alone and beside a lower one.
        let mut edge = [SMALLEST, -709.0];
        exp_in_place(&mut edge);
        assert_eq!(edge[0].to_bits(), reduced_exp(SMALLEST).to_bits());
        assert_ne!(edge[0].to_bits(), SMALLEST.exp().to_bits());
        let mut normal_only = x[..1000].to_vec();
        exp_in_place(&mut normal_only);
        assert!(normal_only
            .iter()
            .zip(&fast)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
        assert_eq!(out[200_001], 1.0);
        assert_eq!(*out.last().unwrap(), 0.0);
    }
}
