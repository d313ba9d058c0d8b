//! Binary patterns: entries i.i.d. uniform on {-1, +1}.

use super::{Ensemble, PatternLaw};
use std::f64::consts::LN_2;

/// Patterns with i.i.d. `+-1` entries. For a state in `{-1, +1}^N` the
/// overlap is `1 - 2B/N` with `B ~ Binomial(N, 1/2)`, so
/// `Lambda(t) = ln cosh t`; the rate is the binary relative entropy. The
/// support ends at `u = 1` (an exact duplicate), at cost `ln 2`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Binary;

impl Ensemble for Binary {
    fn name(&self) -> &str {
        "binary"
    }

    /// `ln cosh t`, written to stay finite for large `|t|`.
    fn cgf_with_slope(&self, t: f64) -> (f64, f64) {
        let a = t.abs();
        (a + (-2.0 * a).exp().ln_1p() - LN_2, t.tanh())
    }

    /// `t - ln cosh t`. Below `t = 1`, `ln cosh t = ln_1p(2 sinh^2(t/2))`
    /// keeps the relative precision of a margin of order `t`; above,
    /// `ln 2 - ln(1 + e^{-2t})` has no cancellation at large `t` and never
    /// exceeds `ln 2 = alpha_max`.
    fn signal_margin(&self, t: f64) -> f64 {
        if t < 1.0 {
            let half = (0.5 * t).sinh();
            t - (2.0 * half * half).ln_1p()
        } else {
            LN_2 - (-2.0 * t).exp().ln_1p()
        }
    }

    fn rate(&self, u: f64) -> f64 {
        let u = u.abs();
        if u > 1.0 {
            return f64::INFINITY;
        }
        let xlogx = |x: f64| if x > 0.0 { x * x.ln() } else { 0.0 };
        0.5 * (xlogx(1.0 + u) + xlogx(1.0 - u))
    }

    fn overlap_max(&self) -> f64 {
        1.0
    }

    fn pattern_law(&self) -> PatternLaw {
        PatternLaw::Binary
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::legendre::rate_from_cgf;

    #[test]
    fn numerical_rate_matches_definition() {
        for u in [0.0, 0.3, 0.9, 0.999, 1.0] {
            let numeric = rate_from_cgf(&Binary, u);
            assert!((numeric - Binary.rate(u)).abs() < 1e-12, "u={u}: {numeric}");
        }
    }

    #[test]
    fn duplicates_cost_ln2() {
        assert!((Binary.alpha_max() - LN_2).abs() < 1e-15);
    }
}
