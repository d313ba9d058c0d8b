//! Transformer scaling: `lambda = beta / sqrt(N)` and `P = e^{a sqrt(N)}`.
//!
//! Scaled dot-product attention divides the scores by `sqrt(N)`. With
//! `lambda = beta / sqrt(N)` the signal of the retrieved pattern in the
//! softmax exponent is `lambda N s = beta sqrt(N) s`, so the number of keys
//! that can compete is `P = e^{a sqrt(N)}`: the load `a = ln(P) / sqrt(N)`.
//!
//! # Thresholds
//! In this regime the exponent of each noise pattern, `beta sqrt(N) u`, is
//! of order one, and the REM of the others is deep in its paramagnetic
//! phase (it would freeze only at `lambda ~ (a / sqrt N)^{1/2}`, i.e.
//! `beta ~ N^{1/4}`): `ln Z = a sqrt(N) + N Lambda(beta / sqrt N) + o(1)`.
//! These are exactly the general thresholds at `alpha = a / sqrt(N)`,
//! `lambda = beta / sqrt(N)`, so at finite `N`
//!
//! - `a_1(beta; N) = sqrt(N) alpha_1(beta / sqrt N)
//!    = beta - sqrt(N) Lambda(beta / sqrt N) = beta - beta^2 / (2 sqrt N) + O(1/N)`,
//!   where the `1/N` term is `-(E a^3)^2 beta^3 / (6 N)` (the third
//!   cumulant of the overlap); for symmetric entries it vanishes and the
//!   remainder is `O(N^{-3/2})` (docs/theory.md §8);
//! - `a_c(beta; N) = sqrt(N) alpha_c(beta / sqrt N)`, the union bound with the
//!   same failure routes. Their costs are of order `N`, against `a sqrt(N)`
//!   patterns to beat: only a *moderate* deviation of the retrieved
//!   pattern's norm, `1 - s ~ N^{-1/4}`, can matter. With a norm variance
//!   `v = Var(xi_i^2) = 1 / c''(1)` the cost is `N (1 - s)^2 / (2 v)` and
//!   `a_c = beta - beta sqrt(2 v beta) N^{-1/4} + O(N^{-1/2})`
//!   (gaussian, `v = 2`: `beta - 2 beta^{3/2} N^{-1/4}`). A pinned norm
//!   (spherical, binary) leaves only the route through another pattern,
//!   of cost `N I(1) >> a sqrt(N)`: `a_c = a_1`.
//!
//! Both tend to `beta` as `N -> infinity`: **the typical and the
//! all-patterns thresholds merge at `a = beta`**, i.e. a query with
//! scaled inverse temperature `beta` retrieves one key among up to
//! `e^{beta sqrt(N)}` random keys.

use crate::ensemble::Ensemble;
use crate::thresholds::{alpha_1, alpha_c_lower, FailureRoute};
use crate::TheoryError;

/// Thresholds on the load `a = ln(P) / sqrt(N)` under attention scaling.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct AttentionThresholds {
    /// Scaled inverse temperature, `lambda = beta / sqrt(N)`.
    pub beta: f64,
    /// Dimension, or `None` for the `N -> infinity` limit.
    pub n: Option<f64>,
    /// Typical-key threshold `a_1`.
    pub a_1: f64,
    /// Union-bound lower bound on the all-keys threshold `a_c`.
    pub a_c: f64,
    /// Leading-order expansion of `a_1` at this `N` (equal to `a_1` at infinite `N`).
    pub a_1_expansion: f64,
    /// Leading-order expansion of `a_c` at this `N`.
    pub a_c_expansion: f64,
    /// Failure route that sets `a_c`.
    pub route: FailureRoute,
}

/// Checks the dimension: a whole number of neurons, at least 2.
fn check_n(n: f64) -> Result<(), TheoryError> {
    if n >= 2.0 && n.is_finite() && n.fract() == 0.0 {
        Ok(())
    } else {
        Err(TheoryError::InvalidDimension(n))
    }
}

/// Thresholds under attention scaling, at dimension `n` or in the limit.
///
/// # Errors
/// [`TheoryError::InvalidBeta`] unless `beta` is finite and positive, [`TheoryError::InvalidDimension`] for `n` below 2 or not whole, [`TheoryError::Solver`] if a root cannot be found.
pub fn attention_thresholds<E: Ensemble + ?Sized>(
    ensemble: &E,
    beta: f64,
    n: Option<f64>,
) -> Result<AttentionThresholds, TheoryError> {
    if !(beta > 0.0 && beta.is_finite()) {
        return Err(TheoryError::InvalidBeta(beta));
    }
    let Some(n) = n else {
        return Ok(AttentionThresholds {
            beta,
            n: None,
            a_1: beta,
            a_c: beta,
            a_1_expansion: beta,
            a_c_expansion: beta,
            route: FailureRoute::Typical,
        });
    };
    check_n(n)?;
    let root_n = n.sqrt();
    let lambda = beta / root_n;
    let bound = alpha_c_lower(ensemble, lambda)?;
    let a_1_expansion = beta - beta * beta / (2.0 * root_n);
    let a_c_expansion = match ensemble.norm_variance() {
        Some(v) => beta - beta * (2.0 * v * beta).sqrt() * n.powf(-0.25),
        None => a_1_expansion,
    };
    Ok(AttentionThresholds {
        beta,
        n: Some(n),
        a_1: root_n * alpha_1(ensemble, lambda)?,
        a_c: root_n * bound.alpha_c_lower,
        a_1_expansion,
        a_c_expansion,
        route: bound.route,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ensemble::{Binary, Gaussian, Spherical};

    #[test]
    fn thresholds_merge_at_beta_in_the_limit() {
        for e in [&Gaussian as &dyn Ensemble, &Spherical, &Binary] {
            for beta in [0.5, 1.0, 2.0] {
                let far = attention_thresholds(e, beta, Some(1e12)).unwrap();
                assert!((far.a_1 - beta).abs() < 1e-5, "{} {beta}", e.name());
                assert!(
                    (far.a_c - beta).abs() < 2e-2,
                    "{} {beta}: {}",
                    e.name(),
                    far.a_c
                );
                let limit = attention_thresholds(e, beta, None).unwrap();
                assert_eq!((limit.a_1, limit.a_c), (beta, beta));
            }
        }
    }

    /// a_1 = beta - beta^2 / (2 sqrt N) + O(N^{-3/2}): the remainder times
    /// N^{3/2} stays bounded (kurtosis term, -kappa_4 beta^4 / 24).
    #[test]
    fn a_1_follows_its_expansion() {
        for n in [100.0, 1e4, 1e6] {
            let t = attention_thresholds(&Binary, 1.5, Some(n)).unwrap();
            let remainder = (t.a_1 - t.a_1_expansion) * n.powf(1.5);
            // Binary: kappa_4 = -2, so the remainder tends to +2 * 1.5^4 / 24.
            assert!(
                (remainder - 2.0 * 1.5f64.powi(4) / 24.0).abs() < 0.05,
                "{n}: {remainder}"
            );
        }
        let g = attention_thresholds(&Gaussian, 1.5, Some(400.0)).unwrap();
        assert!((g.a_1 - g.a_1_expansion).abs() < 1e-12);
    }

    /// Gaussian a_c: the N^{-1/4} coefficient tends to -2 beta^{3/2}.
    #[test]
    fn gaussian_a_c_correction_is_n_to_minus_quarter() {
        let beta: f64 = 1.0;
        let coefficient = |n: f64| {
            let t = attention_thresholds(&Gaussian, beta, Some(n)).unwrap();
            (t.a_c - beta) * n.powf(0.25)
        };
        let (c1, c2) = (coefficient(1e8), coefficient(1e12));
        assert!((c2 + 2.0 * beta.powf(1.5)).abs() < 0.02, "{c1} {c2}");
        assert!((c2 + 2.0).abs() < (c1 + 2.0).abs(), "converging: {c1} {c2}");
        assert!((Gaussian.norm_variance().unwrap() - 2.0).abs() < 1e-6);
    }

    /// The reported expansions are the closed forms of the module doc:
    /// `a_1 ~ beta - beta^2 / (2 sqrt N)` for every ensemble; gaussian
    /// (`v = 2`) `a_c ~ beta - 2 beta^{3/2} N^{-1/4}`; pinned norms
    /// `a_c ~ a_1`. The exact gaussian `a_c` agrees with its expansion to
    /// leading order: the gap times `N^{1/4}` vanishes as N grows (0.006
    /// at beta = 1.5, N = 10^12, against the coefficient 2 beta^{3/2} =
    /// 3.7 itself, which a wrong coefficient would leave in the gap).
    #[test]
    fn expansions_are_the_closed_forms() {
        let (beta, n): (f64, f64) = (1.5, 1e12);
        for e in [&Gaussian as &dyn Ensemble, &Spherical, &Binary] {
            let t = attention_thresholds(e, beta, Some(n)).unwrap();
            let a_1 = beta - beta * beta / (2.0 * n.sqrt());
            assert!((t.a_1_expansion - a_1).abs() < 1e-12, "{}", e.name());
            let a_c = match e.name() {
                "gaussian" => beta - 2.0 * beta.powf(1.5) * n.powf(-0.25),
                _ => a_1,
            };
            assert!((t.a_c_expansion - a_c).abs() < 1e-9, "{}", e.name());
        }
        let g = attention_thresholds(&Gaussian, beta, Some(n)).unwrap();
        let gap = (g.a_c - g.a_c_expansion) * n.powf(0.25);
        assert!(
            gap.abs() < 0.05,
            "gaussian a_c - expansion = {gap} N^(-1/4)"
        );
    }

    #[test]
    fn pinned_norms_have_a_c_equal_a_1() {
        for e in [&Spherical as &dyn Ensemble, &Binary] {
            let t = attention_thresholds(e, 1.2, Some(256.0)).unwrap();
            assert!((t.a_c - t.a_1).abs() < 1e-9, "{}", e.name());
        }
    }

    #[test]
    fn bad_parameters_are_rejected() {
        assert!(attention_thresholds(&Gaussian, -1.0, None).is_err());
        assert!(attention_thresholds(&Gaussian, 1.0, Some(0.0)).is_err());
        assert!(attention_thresholds(&Gaussian, 1.0, Some(2.5)).is_err());
        let err = attention_thresholds(&Gaussian, 0.0, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("beta"), "{err}");
    }

    /// Skewed entries: the `1/N` term of `a_1` is `-(E a^3)^2 beta^3 / 6`
    /// (third cumulant of the overlap, docs/theory.md §8). Sparse binary
    /// entries with density `f` have `E a^3 = (1 - 2f) / sqrt(f (1 - f))`
    /// once standardised; the next term is `O(N^{-1/2})` relative.
    #[test]
    fn a_1_of_skewed_entries_has_a_one_over_n_term() {
        let f: f64 = 0.1;
        let law =
            crate::law::from_toml("[law]\nfamily = \"sparse-binary\"\ndensity = 0.1", "s").unwrap();
        let skew = (1.0 - 2.0 * f) / (f * (1.0 - f)).sqrt();
        let beta = 1.0;
        let expected = -skew * skew * beta * beta * beta / 6.0;
        for (n, tolerance) in [(1e6, 0.02), (1e8, 0.002)] {
            let t = attention_thresholds(&law, beta, Some(n)).unwrap();
            let term = (t.a_1 - t.a_1_expansion) * n;
            assert!(
                (term - expected).abs() < tolerance,
                "N = {n}: {term} vs {expected}"
            );
        }
    }
}
