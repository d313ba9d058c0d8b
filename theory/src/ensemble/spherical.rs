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
    /// `g = 1 - u*(t)` for `t >= 0`, its logarithm and `t g`, without
    /// cancellation or overflow: `u* = (r - 1) / (2t)` with
    /// `r = sqrt(1 + 4t^2)`, so `g = (2t + 1 - r) / (2t) = 2 / (2t + 1 + r)`,
    /// written in `1/t` above `t = 1` so that nothing overflows up to
    /// `f64::MAX`.
    fn gap(t: f64) -> (f64, f64, f64) {
        if t < 1.0 {
            let g = 2.0 / (2.0 * t + 1.0 + (2.0 * t).hypot(1.0));
            (g, g.ln(), t * g)
        } else {
            let t_g = 1.0 / (1.0 + 0.5 / t + (0.5 / t).hypot(1.0));
            (t_g / t, t_g.ln() - t.ln(), t_g)
        }
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
            let u = 2.0 * a / (1.0 + (2.0 * a).hypot(1.0));
            (a * u + 0.5 * (-u * u).ln_1p(), u)
        } else {
            (a - self.signal_margin(a), 1.0 - Self::gap(a).0)
        };
        (value, t.signum() * u)
    }

    /// `t - Lambda(t) = t (1 - u*) + I(u*) = t g - [ln g + ln(2 - g)] / 2`
    /// with `1 - u*^2 = g (2 - g)`: no cancellation for any `t`. At large
    /// `t`, `g = 1/(2t) + O(t^-2)`, so the margin tends to `ln(t)/2 + 1/2`.
    fn signal_margin(&self, t: f64) -> f64 {
        let (g, ln_g, t_g) = Self::gap(t);
        t_g - 0.5 * (ln_g + (2.0 - g).ln())
    }

    /// `I(u*) = -ln(1 - u*^2) / 2`: from `u*` below `|t| = 1`, and as
    /// `-[ln g + ln(2 - g)] / 2` above, exact where `u*` itself has
    /// rounded to 1 (loads above 18).
    fn tilted_entropy(&self, t: f64) -> f64 {
        let a = t.abs();
        if a < 1.0 {
            let u = 2.0 * a / (1.0 + (2.0 * a).hypot(1.0));
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

    #[test]
    fn unbounded_load() {
        assert!(Spherical.alpha_max().is_infinite());
    }
}
