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
/// `m = t - Lambda(t)` computed without cancellation. The quadrature of a
/// continuous law overflows at huge `lambda`; its result is kept only if
/// finite and consistent with `Lambda(lambda) >= lambda - alpha_1`
/// (the margin never exceeds `alpha_1`'s supremum, reached by then).
fn trusted_cgf(e: &Iid, lambda: f64, a1: f64) -> Option<Integral> {
    if e.law().atoms().is_some() {
        return Some(Integral {
            value: lambda - e.signal_margin(lambda),
            error: 0.0,
        });
    }
    let c = e.cgf_with_error(lambda);
    let consistent = c.value.is_finite()
        && c.error.is_finite()
        && c.error <= 1e-6 * c.value.abs().max(1.0)
        && c.value + a1 >= lambda * (1.0 - 1e-9);
    consistent.then_some(c)
}
