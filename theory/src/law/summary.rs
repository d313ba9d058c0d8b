//! What damcap makes of a law file: the standardised law and its
//! thresholds at one `lambda` (`damcap law`, and `damcap.law` in Python).

use crate::ensemble::{Ensemble, Iid};
use crate::law::{Family, Integral};
use crate::thresholds::{alpha_1, alpha_c_lower, FailureRoute};
use crate::TheoryError;

/// A law-file ensemble described at one `lambda`.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LawSummary {
    /// The ensemble's name.
    pub name: String,
    /// The law file's free-text description, if any.
    pub description: Option<String>,
    /// The law as written.
    pub family: Family,
    /// The standardised law, in words.
    pub standardised: String,
    /// `E a^4` (the squared norm per entry has variance `E a^4 - 1`).
    pub fourth_moment: f64,
    /// Largest overlap of another pattern with a typical one.
    pub overlap_max: f64,
    /// Largest meaningful load (`inf` for continuous laws).
    pub alpha_max: f64,
    /// The inverse temperature.
    pub lambda: f64,
    /// `Lambda(lambda)`; `None` where the quadrature cannot resolve it
    /// (overflow at huge `lambda`).
    pub cgf: Option<f64>,
    /// The quadrature's error estimate of `cgf` (0 for exact sums).
    pub cgf_error: Option<f64>,
    /// Typical-pattern threshold.
    pub alpha_1: f64,
    /// Union-bound lower bound on the all-patterns threshold.
    pub alpha_c_lower: f64,
    /// The failure route that sets the bound.
    pub alpha_c_route: FailureRoute,
}

impl LawSummary {
    /// The summary of `e` (whose law file says `description`) at `lambda`.
    ///
    /// # Errors
    /// As [`alpha_1`] and [`alpha_c_lower`].
    pub fn new(e: &Iid, description: Option<String>, lambda: f64) -> Result<Self, TheoryError> {
        let a1 = alpha_1(e, lambda)?;
        let bound = alpha_c_lower(e, lambda)?;
        let cgf = trusted_cgf(e, lambda, a1);
        Ok(LawSummary {
            name: e.name().to_string(),
            description,
            family: e.law().family().clone(),
            standardised: e.law().shape().to_string(),
            fourth_moment: e.law().fourth_moment(),
            overlap_max: e.overlap_max(),
            alpha_max: e.alpha_max(),
            lambda,
            cgf: cgf.map(|c| c.value),
            cgf_error: cgf.map(|c| c.error),
            alpha_1: a1,
            alpha_c_lower: bound.alpha_c_lower,
            alpha_c_route: bound.route,
        })
    }
}

/// `Lambda(lambda)` with its error estimate, or `None` where it cannot be
/// trusted. Discrete laws take `lambda - m(lambda)` with the margin
/// `m = t - Lambda(t)` computed without cancellation; continuous laws
/// take the quadrature, checked by [`consistent`].
fn trusted_cgf(e: &Iid, lambda: f64, a1: f64) -> Option<Integral> {
    if e.law().atoms().is_some() {
        return Some(Integral::exact(lambda - e.signal_margin(lambda)));
    }
    consistent(e.cgf_with_error(lambda), lambda, a1)
}

/// The quadrature of `Lambda(lambda)`, kept only if it and its error are
/// finite, the error is within 1e-6 of the value (relative, absolute
/// below 1), and `Lambda(lambda) >= lambda - alpha_1` holds (the margin
/// never exceeds `alpha_1`'s supremum, reached by then). The quadrature
/// of a continuous law overflows at huge `lambda`, and then fails one of
/// these.
fn consistent(c: Integral, lambda: f64, a1: f64) -> Option<Integral> {
    let trusted = c.value.is_finite()
        && c.error.is_finite()
        && c.error <= 1e-6 * c.value.abs().max(1.0)
        && c.value + a1 >= lambda * (1.0 - 1e-9);
    trusted.then_some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(family: Family, lambda: f64) -> LawSummary {
        let e = Iid::new("test", family).unwrap();
        LawSummary::new(&e, None, lambda).unwrap()
    }

    /// Binary entries as a discrete law: `Lambda(t) = ln cosh t`, exact.
    #[test]
    fn discrete_cgf_is_ln_cosh_for_binary_entries() {
        let binary = || Family::Discrete {
            values: vec![-1.0, 1.0],
            probabilities: vec![0.5, 0.5],
        };
        for lambda in [0.5, 3.0, 40.0] {
            let s = summary(binary(), lambda);
            let expected = lambda + (-2.0 * lambda).exp().ln_1p() - std::f64::consts::LN_2;
            let cgf = s.cgf.unwrap();
            assert!((cgf - expected).abs() < 1e-14 * expected, "{lambda}: {cgf}");
            assert_eq!(s.cgf_error, Some(0.0));
        }
    }

    /// Continuous laws: the Gaussian's `lambda^2 / 2`, also at `lambda = 1`
    /// where `Lambda(1) + alpha_1 = 1/2 + 1/2` meets the consistency bound
    /// exactly; the uniform law at `lambda = 1e10`, whose quadrature error
    /// (1e-4) is large but within 1e-6 of the value, against its
    /// asymptotic form `1.5 lambda - ln(6 lambda) + 1` (from
    /// `ln(sinh x / x) = x - ln(2 x) + O(e^-2x)`, `E|a| = sqrt(3) / 2` and
    /// `E ln|a| = ln sqrt(3) - 1`).
    #[test]
    fn continuous_cgf_where_the_quadrature_holds() {
        for lambda in [0.5, 1.0, 2.0] {
            let cgf = summary(Family::Gaussian {}, lambda).cgf.unwrap();
            assert!(
                (cgf - lambda * lambda / 2.0).abs() < 1e-14,
                "{lambda}: {cgf}"
            );
        }
        let lambda = 1e10;
        let s = summary(Family::Uniform {}, lambda);
        let expected = 1.5 * lambda - (6.0 * lambda).ln() + 1.0;
        assert!((s.cgf.unwrap() - expected).abs() < 1e-3, "{s:?}");
        assert!(s.cgf_error.unwrap() > 1e-5, "{s:?}");
    }

    /// Where the Gaussian's quadrature overflows: at `lambda = 1e160` it
    /// returns 1.2e302 with an error of a third of it (the true value
    /// 5e319 is beyond f64), and at `1e200` it returns 0, below
    /// `lambda - alpha_1`. Neither is reported.
    #[test]
    fn overflowing_quadratures_are_not_reported() {
        for lambda in [1e160, 1e200] {
            let s = summary(Family::Gaussian {}, lambda);
            assert_eq!((s.cgf, s.cgf_error), (None, None), "{lambda}");
        }
    }

    /// Each condition of [`consistent`] on its own, with `alpha_1 = 1/2`:
    /// finiteness, the error against `1e-6 max(|value|, 1)`, and
    /// `value + alpha_1 >= lambda (1 - 1e-9)`.
    #[test]
    fn each_consistency_condition_refuses() {
        let at = |value: f64, error: f64, lambda: f64| {
            consistent(Integral { value, error }, lambda, 0.5).is_some()
        };
        assert!(at(2.0, 1e-7, 2.0));
        assert!(!at(f64::INFINITY, 0.0, 2.0));
        assert!(!at(2.0, f64::NAN, 2.0) && !at(2.0, f64::INFINITY, 2.0));
        assert!(at(2.0, 1.9e-6, 2.0) && !at(2.0, 2.1e-6, 2.0));
        assert!(at(0.5, 0.9e-6, 1.0) && !at(0.5, 1.1e-6, 1.0));
        assert!(at(1.5 - 1.5e-9, 0.0, 2.0) && !at(1.5 - 2.5e-9, 0.0, 2.0));
    }
}
