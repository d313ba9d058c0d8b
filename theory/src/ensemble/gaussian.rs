//! Gaussian patterns: entries i.i.d. N(0, 1).

use super::{Ensemble, PatternLaw};

/// Patterns with i.i.d. standard normal entries. The overlap with a state
/// of squared norm `N` is exactly N(0, 1/N), so `Lambda(t) = t^2 / 2` and
/// `I(u) = u^2 / 2`. The squared norm `s N` of a pattern fluctuates
/// (chi-squared), with rate `(s - 1 - ln s) / 2`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Gaussian;

impl Ensemble for Gaussian {
    fn name(&self) -> &str {
        "gaussian"
    }

    fn cgf_with_slope(&self, t: f64) -> (f64, f64) {
        (0.5 * t * t, t)
    }

    fn rate(&self, u: f64) -> f64 {
        0.5 * u * u
    }

    fn overlap_max(&self) -> f64 {
        f64::INFINITY
    }

    fn pattern_law(&self) -> PatternLaw {
        PatternLaw::Gaussian
    }

    fn self_overlap_cost(&self, s: f64) -> Option<f64> {
        Some(if s > 0.0 {
            0.5 * (s - 1.0 - s.ln())
        } else {
            f64::INFINITY
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::legendre::rate_from_cgf;

    /// The numerical Legendre transform reproduces the quoted rate.
    #[test]
    fn numerical_rate_matches_definition() {
        for u in [0.0, 0.2, 1.0, 3.7] {
            assert!((rate_from_cgf(&Gaussian, u) - Gaussian.rate(u)).abs() < 1e-12);
        }
    }

    /// The chi-squared rate is the Legendre transform of -ln(1 - 2k)/2.
    #[test]
    fn self_overlap_cost_is_chi_squared_rate() {
        for s in [0.3f64, 1.0, 2.0] {
            let k = 0.5 * (1.0 - 1.0 / s);
            let legendre = k * s + 0.5 * (1.0 - 2.0 * k).ln();
            assert!((Gaussian.self_overlap_cost(s).unwrap() - legendre).abs() < 1e-14);
        }
    }
}
