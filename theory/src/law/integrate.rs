//! Piecewise double-exponential quadrature over a law's support.
//!
//! One tanh-sinh rule over a wide range resolves a narrow peak badly, so
//! the range is cut into pieces a few scales of the density wide, and the
//! `quadrature` crate integrates each piece to a fixed absolute error.
//! The error estimates of the pieces add up.

use crate::numeric::minimise;

/// Absolute error asked of each piece.
const PIECE_TOLERANCE: f64 = 1e-14;

/// A value with the quadrature's error estimate (0 for exact sums).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Integral {
    /// The integral.
    pub value: f64,
    /// Estimated absolute error.
    pub error: f64,
}

impl Integral {
    /// An exactly computed value.
    pub fn exact(value: f64) -> Self {
        Integral { value, error: 0.0 }
    }
}

/// Break points from `lo` to `hi`, pieces at most `width` wide.
pub fn pieces(lo: f64, hi: f64, width: f64) -> Vec<f64> {
    let count = (((hi - lo) / width).ceil() as usize).max(1);
    (0..=count)
        .map(|k| lo + (hi - lo) * k as f64 / count as f64)
        .collect()
}

/// `int f` over the union of consecutive pieces.
pub fn integrate<F: Fn(f64) -> f64>(f: F, breaks: &[f64]) -> Integral {
    breaks.windows(2).fold(Integral::exact(0.0), |sum, w| {
        let piece = quadrature::double_exponential::integrate(&f, w[0], w[1], PIECE_TOLERANCE);
        Integral {
            value: sum.value + piece.integral,
            error: sum.error + piece.error_estimate,
        }
    })
}

/// Points of the grid that locates the peak of a log-integrand.
const PEAK_GRID: usize = 256;
/// Half-width of the piece around a narrow peak, in peak widths.
const PEAK_REACH: f64 = 40.0;

/// `ln int exp(g)` over the pieces, for a log-integrand `g` that may be
/// huge or sharply peaked (a strongly tilted density). The peak is found
/// on a grid and refined by Brent; `exp(g - peak)` is integrated, with
/// break points at the peak and 40 peak widths either side, so that the
/// double-exponential rule (dense near the ends of each piece) sees it.
pub fn ln_integral_of_exp<G: Fn(f64) -> f64>(g: &G, breaks: &[f64]) -> f64 {
    // 0 * inf (zero density times an infinite exponent) counts as no mass.
    let g = |x: f64| {
        Some(g(x))
            .filter(|v| !v.is_nan())
            .unwrap_or(f64::NEG_INFINITY)
    };
    let (lo, hi) = (breaks[0], breaks[breaks.len() - 1]);
    let at = |k: usize| lo + (hi - lo) * k as f64 / PEAK_GRID as f64;
    let k = (0..=PEAK_GRID)
        .max_by(|&i, &j| g(at(i)).total_cmp(&g(at(j))))
        .unwrap_or(0);
    let (a, b) = (at(k.saturating_sub(1)), at((k + 1).min(PEAK_GRID)));
    let Ok((peak, neg)) = minimise(|x| -g(x), a, b, "quadrature: peak of the integrand") else {
        return f64::NAN;
    };
    let shift = -neg;
    if !shift.is_finite() {
        return shift;
    }
    let mut points = breaks.to_vec();
    if let Some(width) = peak_width(&g, peak, hi - lo) {
        let reach = PEAK_REACH * width;
        points.extend(
            [peak - reach, peak, peak + reach]
                .into_iter()
                .filter(|x| *x > lo && *x < hi),
        );
        points.sort_by(f64::total_cmp);
        points.dedup();
    }
    shift + integrate(|x| (g(x) - shift).exp(), &points).value.ln()
}

/// `1 / sqrt(-g'')` at an interior maximum, when it is narrower than a
/// hundredth of the range (wider peaks need no extra break points).
fn peak_width<G: Fn(f64) -> f64>(g: &G, peak: f64, range: f64) -> Option<f64> {
    let h = 1e-4 * (1.0 + peak.abs());
    let curvature = (g(peak + h) - 2.0 * g(peak) + g(peak - h)) / (h * h);
    let width = 1.0 / (-curvature).sqrt();
    (width.is_finite() && width < 0.01 * range).then_some(width)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The width is `1 / sqrt(-D)`, with `D` the central second difference
    /// at step `h = 1e-4 (1 + |peak|)`. For
    /// `g = -u^2 / (2 s^2) + c u^3 - u^4 / s^4` (`u = x - peak`) that
    /// difference is exactly `-1 / s^2 - 2 h^2 / s^4`: the cubic term
    /// cancels only when both sides are sampled, and the quartic one
    /// measures the step (0.5% of `D` at `peak = 50`).
    #[test]
    fn peak_width_is_the_second_difference_at_a_relative_step() {
        let s: f64 = 0.1;
        for peak in [0.0, -3.0, 50.0] {
            let g = |x: f64| {
                let u = x - peak;
                -u * u / (2.0 * s * s) + 1e3 * u.powi(3) - u.powi(4) / s.powi(4)
            };
            let h: f64 = 1e-4 * (1.0 + f64::abs(peak));
            let expected = 1.0 / (1.0 / (s * s) + 2.0 * h * h / s.powi(4)).sqrt();
            let width = peak_width(&g, peak, 20.0).unwrap();
            assert!(
                (width - expected).abs() < 1e-9 * expected,
                "{peak}: {width} vs {expected}"
            );
        }
    }

    /// No width for a peak wider than a hundredth of the range, nor where
    /// `g` is flat or curved upwards (no maximum).
    #[test]
    fn peak_width_only_for_narrow_maxima() {
        let normal = |s: f64| move |x: f64| -x * x / (2.0 * s * s);
        assert!(peak_width(&normal(0.19), 0.0, 20.0).is_some());
        assert!(peak_width(&normal(0.21), 0.0, 20.0).is_none());
        assert!(peak_width(&normal(1.0), 0.0, 20.0).is_none());
        assert!(peak_width(&|x: f64| 3.0 * x, 0.0, 20.0).is_none());
        assert!(peak_width(&|x: f64| x * x, 0.0, 20.0).is_none());
    }
}
