//! Pattern ensembles, each described by the large-deviation law of one
//! overlap.
//!
//! The whole theory is written against [`Ensemble`]: an ensemble says how
//! the overlap `u = xi . x / N` between a fresh pattern `xi` and a state `x`
//! with `|x|^2 = N` (the retrieved pattern itself, or a typical initial
//! state) behaves at large `N`, through its scaled cumulant generating
//! function `Lambda(t) = lim (1/N) ln E exp(N t u)` and the rate function
//! `I(u)`, its Legendre transform. An ensemble implements whichever of the
//! two is its definition; the crate's numerical Legendre transform supplies the other
//! numerically. Closed forms of derived quantities never appear here; they
//! live in the tests as oracles.

mod binary;
mod gaussian;
mod iid;
mod spherical;

pub use binary::Binary;
pub use gaussian::Gaussian;
pub use iid::Iid;
pub use spherical::Spherical;

use std::sync::Arc;

use crate::law::EntryLaw;
use crate::TheoryError;

/// How patterns of an ensemble are drawn, for simulation. The theory does
/// not sample; the validation crate reads this description.
#[derive(Clone, Debug, PartialEq)]
pub enum PatternLaw {
    /// Entries i.i.d. standard normal.
    Gaussian,
    /// Uniform on the sphere of radius `sqrt(N)`.
    Spherical,
    /// Entries i.i.d. uniform on `{-1, +1}`.
    Binary,
    /// Entries i.i.d. from a standardised law (a law file).
    Iid(Arc<EntryLaw>),
}

/// Large-deviation description of a pattern ensemble.
pub trait Ensemble: Send + Sync + std::fmt::Debug {
    /// Short lower-case name used on the command line and in outputs.
    fn name(&self) -> &str;

    /// `(Lambda(t), Lambda'(t))` for the overlap with a state of squared
    /// norm `N`. `Lambda'(t)` is the mean overlap under the tilt `exp(N t u)`.
    fn cgf_with_slope(&self, t: f64) -> (f64, f64);

    /// Rate function `I(u)` for `u >= 0`; `+inf` beyond the support.
    /// The default is the numerical Legendre transform of the cgf.
    fn rate(&self, u: f64) -> f64 {
        crate::legendre::rate_from_cgf(self, u)
    }

    /// Right end of the support of `u` (`+inf` for unbounded overlaps).
    fn overlap_max(&self) -> f64;

    /// How patterns are sampled in simulations.
    fn pattern_law(&self) -> PatternLaw;

    /// Large-deviation cost `c(s)` of the retrieved pattern having squared
    /// norm `s N` instead of `N`. `None` when `s` is pinned to 1.
    ///
    /// Ensembles that return `Some` promise rotation-invariant noise: given
    /// `|xi^1|^2 = s N`, the overlaps of the other patterns with `xi^1` have
    /// the cgf `Lambda(t sqrt(s))`.
    fn self_overlap_cost(&self, _s: f64) -> Option<f64> {
        None
    }

    /// Whether the retrieved pattern's norm fluctuates (a `Some` cost).
    fn norm_fluctuates(&self) -> bool {
        self.self_overlap_cost(1.0).is_some()
    }

    /// The law of one entry, for ensembles with i.i.d. entries described
    /// by a law file. Their all-patterns bound optimises over the whole
    /// empirical law of the retrieved pattern ([`crate::empirical`]),
    /// not only over its norm.
    fn entry_law(&self) -> Option<&EntryLaw> {
        None
    }

    /// Variance `v` of the squared entries, `|xi|^2 / N = 1 + O(sqrt(v / N))`,
    /// from the curvature `c''(1) = 1 / v` of the norm cost; `None` for a
    /// pinned norm. The central difference drops `c(1)`, which is zero: the
    /// typical norm costs nothing.
    fn norm_variance(&self) -> Option<f64> {
        let h = 1e-4;
        let c = |s: f64| self.self_overlap_cost(s);
        let curvature = (c(1.0 + h)? + c(1.0 - h)?) / (h * h);
        Some(1.0 / curvature)
    }

    /// `t - Lambda(t)` for `t > 0`: by how much the signal `t` of the
    /// retrieved pattern exceeds the cgf of another one. `alpha_1` is this
    /// margin at the right `t`. The default subtracts; ensembles whose
    /// overlap support ends at 1 ([`Ensemble::overlap_exceeds_one`] false)
    /// have `Lambda(t) ~ t` at large `t`, where the subtraction cancels
    /// every digit, and override it with a form that does not cancel.
    fn signal_margin(&self, t: f64) -> f64 {
        t - self.cgf(t)
    }

    /// Whether another pattern can overlap a typical state by more than 1
    /// (`overlap_max > 1`), so that `Lambda'(t) = 1` has a root. False when
    /// the support ends exactly at 1 (the retrieved pattern itself is the
    /// best-aligned one): then `Lambda'(t) < 1` for every `t`.
    fn overlap_exceeds_one(&self) -> bool {
        self.overlap_max() > 1.0
    }

    /// `I(Lambda'(t)) = t Lambda'(t) - Lambda(t)`: the large-deviation
    /// cost of the tilted mean overlap, which the REM's freezing point
    /// equates with `alpha`. The default subtracts; ensembles whose tilted
    /// mean creeps up to 1 override it where the subtraction cancels.
    fn tilted_entropy(&self, t: f64) -> f64 {
        let (value, slope) = self.cgf_with_slope(t);
        t * slope - value
    }

    /// `Lambda(t)`.
    fn cgf(&self, t: f64) -> f64 {
        self.cgf_with_slope(t).0
    }

    /// `Lambda'(t)`.
    fn cgf_slope(&self, t: f64) -> f64 {
        self.cgf_with_slope(t).1
    }

    /// Largest meaningful load: `I(overlap_max)`, the entropy of distinct
    /// patterns (`ln 2` for binary patterns, unbounded otherwise).
    fn alpha_max(&self) -> f64 {
        self.rate(self.overlap_max())
    }
}

/// Names accepted by [`by_name`].
pub const NAMES: [&str; 3] = ["gaussian", "spherical", "binary"];

/// The built-in ensemble called `name`.
///
/// # Errors
/// [`TheoryError::UnknownEnsemble`] for any other name.
pub fn by_name(name: &str) -> Result<Box<dyn Ensemble>, TheoryError> {
    match name {
        "gaussian" => Ok(Box::new(Gaussian)),
        "spherical" => Ok(Box::new(Spherical)),
        "binary" => Ok(Box::new(Binary)),
        _ => Err(TheoryError::UnknownEnsemble(name.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The gaussian ensemble described by its cgf alone, so that every
    /// other method is the trait's default.
    #[derive(Debug)]
    struct CgfOnly;

    impl Ensemble for CgfOnly {
        fn name(&self) -> &str {
            "cgf-only"
        }
        fn cgf_with_slope(&self, t: f64) -> (f64, f64) {
            Gaussian.cgf_with_slope(t)
        }
        fn overlap_max(&self) -> f64 {
            f64::INFINITY
        }
        fn pattern_law(&self) -> PatternLaw {
            PatternLaw::Gaussian
        }
    }

    /// The default rate is the Legendre transform of the cgf: for the
    /// gaussian cgf t^2 / 2, the closed form u^2 / 2; and the defaults
    /// built on it agree with the gaussian ensemble's own methods.
    #[test]
    fn default_methods_follow_from_the_cgf() {
        for u in [0.05, 0.5, 1.0, 2.5] {
            let rate = CgfOnly.rate(u);
            assert!((rate - u * u / 2.0).abs() < 1e-9, "I({u}) = {rate}");
        }
        for t in [0.1, 1.0, 3.0] {
            assert!((CgfOnly.tilted_entropy(t) - Gaussian.tilted_entropy(t)).abs() < 1e-12);
            assert!((CgfOnly.signal_margin(t) - Gaussian.signal_margin(t)).abs() < 1e-12);
        }
        assert_eq!(CgfOnly.alpha_max(), Gaussian.alpha_max());
    }

    /// Every ensemble's cgf is normalised: Lambda(0) = 0, Lambda'(0) = 0 and
    /// Lambda''(0) = 1 (patterns have unit variance per entry).
    #[test]
    fn cgf_normalisation() {
        for name in NAMES {
            let e = by_name(name).unwrap();
            let h = 1e-4;
            let (l0, s0) = e.cgf_with_slope(0.0);
            assert!(l0.abs() < 1e-15 && s0.abs() < 1e-15, "{name}");
            let curvature = (e.cgf_slope(h) - e.cgf_slope(-h)) / (2.0 * h);
            assert!((curvature - 1.0).abs() < 1e-6, "{name}: {curvature}");
        }
    }

    /// Lambda' is the derivative of Lambda (central difference).
    #[test]
    fn slope_is_derivative() {
        for name in NAMES {
            let e = by_name(name).unwrap();
            for t in [0.3, 1.0, 2.5, 7.0] {
                let h = 1e-5;
                let numeric = (e.cgf(t + h) - e.cgf(t - h)) / (2.0 * h);
                assert!((numeric - e.cgf_slope(t)).abs() < 1e-8, "{name} t={t}");
            }
        }
    }

    /// Rate and cgf are Legendre pairs: I(Lambda'(t)) = t Lambda'(t) - Lambda(t).
    #[test]
    fn rate_and_cgf_are_legendre_pairs() {
        for name in NAMES {
            let e = by_name(name).unwrap();
            for t in [0.1, 0.7, 1.0, 3.0, 10.0] {
                let (l, u) = e.cgf_with_slope(t);
                assert!((e.rate(u) - (t * u - l)).abs() < 1e-11, "{name} t={t}");
            }
        }
    }

    /// Each built-in ensemble answers to the name it is looked up by (the
    /// name that output files and error messages carry).
    #[test]
    fn built_ins_carry_their_names() {
        for name in NAMES {
            assert_eq!(by_name(name).unwrap().name(), name);
        }
    }

    #[test]
    fn unknown_name_is_an_error() {
        let err = by_name("gauss").unwrap_err().to_string();
        assert!(err.contains("gauss") && err.contains("gaussian, spherical, binary"));
    }
}
