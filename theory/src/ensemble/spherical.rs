//! Spherical patterns: uniform on the sphere of radius sqrt(N).

use super::{Ensemble, PatternLaw};

/// Patterns uniform on the sphere `|xi|^2 = N`. The overlap with a unit
/// state has density proportional to `(1 - u^2)^((N-3)/2)`, so its rate is
/// `I(u) = -ln(1 - u^2) / 2` on `[-1, 1]`; that is the definition used
/// here. The cgf's stationarity condition `I'(u*) = u* / (1 - u*^2) = t`
/// is the quadratic `t u^2 + u - t = 0`, solved in closed form rather than
/// by the numerical Legendre transform: the tilted mean approaches 1 as
/// `1 - u* ~ 1/(2t)`, which a root in `u` cannot resolve beyond
/// `t ~ 1e16` (`u*` rounds to 1 and every threshold built on it is lost).
#[derive(Clone, Copy, Debug, Default)]
pub struct Spherical;

impl Spherical {
    /// `u*(t) = 2t / (1 + sqrt(1 + 4t^2))` for `0 <= t < 1`, where it keeps
    /// its relative precision (`u* ~ t`); [`Spherical::gap`] takes over above.
    fn small_t_overlap(t: f64) -> f64 {
        2.0 * t / (1.0 + (2.0 * t).hypot(1.0))
    }

    /// `g = 1 - u*(t)` for `t >= 1`, its logarithm and `t g`, without
    /// cancellation or overflow: `u* = (r - 1) / (2t)` with
    /// `r = sqrt(1 + 4t^2)`, so `g = (2t + 1 - r) / (2t) = 2 / (2t + 1 + r)`,
    /// written in `1/t` so that nothing overflows up to `f64::MAX`. (Below
    /// `t = 1` the callers work with `u*` itself: `g` rounds near 1 there,
    /// and `ln g ~ -t` would carry that rounding into results of order `t`.)
    fn gap(t: f64) -> (f64, f64, f64) {
        let t_g = 1.0 / (1.0 + 0.5 / t + (0.5 / t).hypot(1.0));
        (t_g / t, t_g.ln() - t.ln(), t_g)
    }
}

impl Ensemble for Spherical {
    fn name(&self) -> &str {
        "spherical"
    }

    /// `Lambda(t) = t u* - I(u*)` and `Lambda'(t) = u*` (envelope
    /// theorem). Below `|t| = 1`, `u* = 2t / (1 + r)` directly (`Lambda ~
    /// t^2/2` keeps its relative precision); above, `Lambda = t - margin`
    /// and `u* = 1 - g`, which keep theirs.
    fn cgf_with_slope(&self, t: f64) -> (f64, f64) {
        let a = t.abs();
        let (value, u) = if a < 1.0 {
            let u = Self::small_t_overlap(a);
            (a * u + 0.5 * (-u * u).ln_1p(), u)
        } else {
            (a - self.signal_margin(a), 1.0 - Self::gap(a).0)
        };
        (value, t.signum() * u)
    }

    /// `t - Lambda(t)`. Below `t = 1`, `Lambda ~ t^2 / 2` is small against
    /// `t` and is subtracted. Above, `t (1 - u*) + I(u*) = t g - [ln g +
    /// ln(2 - g)] / 2` with `1 - u*^2 = g (2 - g)`: no cancellation. At
    /// large `t`, `g = 1/(2t) + O(t^-2)`, so the margin tends to
    /// `ln(t)/2 + 1/2`.
    fn signal_margin(&self, t: f64) -> f64 {
        if t < 1.0 {
            return t - self.cgf(t);
        }
        let (g, ln_g, t_g) = Self::gap(t);
        t_g - 0.5 * (ln_g + (2.0 - g).ln())
    }

    /// `I(u*) = -ln(1 - u*^2) / 2`: from `u*` below `|t| = 1`, and as
    /// `-[ln g + ln(2 - g)] / 2` above, exact where `u*` itself has
    /// rounded to 1 (loads above 18).
    fn tilted_entropy(&self, t: f64) -> f64 {
        let a = t.abs();
        if a < 1.0 {
            let u = Self::small_t_overlap(a);
            return -0.5 * (-u * u).ln_1p();
        }
        let (g, ln_g, _) = Self::gap(a);
        -0.5 * (ln_g + (2.0 - g).ln())
    }

    fn rate(&self, u: f64) -> f64 {
        if u.abs() >= 1.0 {
            return f64::INFINITY;
        }
        -0.5 * (-u * u).ln_1p()
    }

    fn overlap_max(&self) -> f64 {
        1.0
    }

    fn pattern_law(&self) -> PatternLaw {
        PatternLaw::Spherical
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/theory.md §1: the maximiser is u*(t) = (sqrt(1 + 4t^2) - 1) / (2t).
    #[test]
    fn tilted_overlap_matches_closed_form() {
        for t in [1e-3f64, 0.5, 1.0, 4.0, 100.0, 1e4] {
            let closed = ((1.0 + 4.0 * t * t).sqrt() - 1.0) / (2.0 * t);
            let (_, u) = Spherical.cgf_with_slope(t);
            assert!((u - closed).abs() < 1e-13, "t={t}: {u} vs {closed}");
        }
    }

    /// `Lambda(t) = t u* + ln(1 - u*^2) / 2`, `u*`, the margin
    /// `t - Lambda(t)` and the tilted entropy `I(u*)` against mpmath at 50
    /// digits (rounded to the nearest f64), to 1e-14 relative on both
    /// sides of the switch at `t = 1`: at `t = 1e-6`, `Lambda = t^2 / 2`
    /// would lose every digit to `t - margin`, `u* = 1 - g` eight of them,
    /// and `I` from `ln g + ln(2 - g)` all of them. At `t = 0` all vanish;
    /// at `f64::MAX` the margin is `ln(t) / 2 + 1/2` (to `O(1/t)`).
    #[test]
    fn cgf_margin_and_entropy_against_mpmath() {
        // (t, Lambda, u*, t - Lambda, I(u*) = -ln(1 - u*^2) / 2)
        let table = [
            (
                1e-6,
                4.999_999_999_997_5e-13,
                9.999_999_999_99e-7,
                9.999_995e-7,
                4.999_999_999_992_5e-13,
            ),
            (
                0.01,
                4.999_750_033_327_085e-5,
                0.009_999_000_199_950_014,
                0.009_950_002_499_666_73,
                4.999_250_166_622_929_5e-5,
            ),
            (
                0.5,
                0.112_993_577_956_748_66,
                0.414_213_562_373_095,
                0.387_006_422_043_251_3,
                0.094_113_203_229_798_85,
            ),
            (
                3.0,
                1.909_122_845_680_404_4,
                0.847_127_088_383_036_6,
                1.090_877_154_319_595_6,
                0.632_258_419_468_705_4,
            ),
            (
                1e6,
                999_992.592_244_596,
                0.999_999_500_000_125,
                7.407_755_403_982_137,
                6.907_755_528_982_137,
            ),
        ];
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-14 * b.abs();
        for (t, cgf, u, margin, entropy) in table {
            for sign in [1.0, -1.0] {
                let (l, slope) = Spherical.cgf_with_slope(sign * t);
                assert!(close(l, cgf), "t = {t}: {l} vs {cgf}");
                assert!(close(sign * slope, u), "t = {t}: {slope} vs {u}");
            }
            let m = Spherical.signal_margin(t);
            assert!(close(m, margin), "t = {t}: {m} vs {margin}");
            let i = Spherical.tilted_entropy(t);
            assert!(close(i, entropy), "t = {t}: {i} vs {entropy}");
        }
        assert_eq!(Spherical.cgf_with_slope(0.0), (0.0, 0.0));
        assert_eq!(Spherical.signal_margin(0.0), 0.0);
        assert_eq!(Spherical.tilted_entropy(0.0), 0.0);
        let far = Spherical.signal_margin(f64::MAX);
        assert!(close(far, 0.5 * f64::MAX.ln() + 0.5), "{far}");
    }

    /// Overlaps end at 1 (the retrieved pattern itself), but reaching it
    /// costs an infinite rate, so any load is possible.
    #[test]
    fn overlaps_end_at_one_with_unbounded_load() {
        assert_eq!(Spherical.overlap_max(), 1.0);
        assert!(!Spherical.overlap_exceeds_one());
        assert_eq!(Spherical.rate(1.0), f64::INFINITY);
        assert!(Spherical.alpha_max().is_infinite());
    }
}
