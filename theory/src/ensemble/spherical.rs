//! Spherical patterns: uniform on the sphere of radius sqrt(N).

use super::{Ensemble, PatternLaw};
use crate::legendre::cgf_from_rate;

/// Patterns uniform on the sphere `|xi|^2 = N`. The overlap with a unit
/// state has density proportional to `(1 - u^2)^((N-3)/2)`, so its rate is
/// `I(u) = -ln(1 - u^2) / 2` on `[-1, 1]`; that is the definition used
/// here, and the cgf is its numerical Legendre transform.
#[derive(Clone, Copy, Debug, Default)]
pub struct Spherical;

impl Spherical {
    /// `I'(u) = u / (1 - u^2)`, the inverse temperature tilting the mean
    /// overlap to `u`.
    fn rate_slope(u: f64) -> f64 {
        u / (1.0 - u * u)
    }
}

impl Ensemble for Spherical {
    fn name(&self) -> &str {
        "spherical"
    }

    fn cgf_with_slope(&self, t: f64) -> (f64, f64) {
        cgf_from_rate(|u| self.rate(u), Self::rate_slope, t, 1.0)
    }

    /// `t - Lambda(t) = t (1 - u*) + I(u*)`, with the tilted mean `u*`
    /// solving `I'(u*) = u* / (1 - u*^2) = t`, the quadratic
    /// `t u^2 + u - t = 0`, whose root in `[0, 1)` is
    /// `u* = (r - 1) / (2t)`, `r = sqrt(1 + 4t^2)`. Subtracting `u*` from 1
    /// cancels at large `t`; rationalising instead,
    /// `g = 1 - u* = (2t + 1 - r) / (2t) = 2 / (2t + 1 + r)`, and
    /// `1 - u*^2 = g (2 - g)`, so
    ///
    /// `t - Lambda(t) = t g - [ln g + ln(2 - g)] / 2`,
    ///
    /// with no cancellation for any `t` (`g` is written in `1/t` above
    /// `t = 1` so that nothing overflows up to `f64::MAX`). At large `t`,
    /// `g = 1/(2t) + O(t^-2)`: the margin tends to `ln(t)/2 + 1/2`.
    fn signal_margin(&self, t: f64) -> f64 {
        let (ln_g, g, t_g) = if t < 1.0 {
            let g = 2.0 / (2.0 * t + 1.0 + (2.0 * t).hypot(1.0));
            (g.ln(), g, t * g)
        } else {
            let t_g = 1.0 / (1.0 + 0.5 / t + (0.5 / t).hypot(1.0));
            (t_g.ln() - t.ln(), t_g / t, t_g)
        };
        t_g - 0.5 * (ln_g + (2.0 - g).ln())
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

    /// THEORY.md: the maximiser is u*(t) = (sqrt(1 + 4t^2) - 1) / (2t).
    #[test]
    fn tilted_overlap_matches_closed_form() {
        for t in [1e-3f64, 0.5, 1.0, 4.0, 100.0, 1e4] {
            let closed = ((1.0 + 4.0 * t * t).sqrt() - 1.0) / (2.0 * t);
            let (_, u) = Spherical.cgf_with_slope(t);
            assert!((u - closed).abs() < 1e-13, "t={t}: {u} vs {closed}");
        }
    }

    #[test]
    fn unbounded_load() {
        assert!(Spherical.alpha_max().is_infinite());
    }
}
