//! Estimators turning trial outcomes into the numbers compared with the
//! theory: retrieval fractions with Wilson intervals, the crossing point of
//! the retrieval probability at one `N` (logistic fit plus bootstrap), and
//! the extrapolation of crossing points to `N -> infinity` (weighted least
//! squares in a chosen finite-size form).

use nalgebra::{DMatrix, DVector, Matrix2, Vector2};
use rand_distr::{Binomial, Distribution};
use rayon::prelude::*;
use statrs::distribution::{ContinuousCDF, Normal};
use statrs::statistics::{Data, OrderStatistics};

use crate::seeds::{trial_rng, trial_seed};
use crate::ValidationError;

fn invalid<T>(msg: String) -> Result<T, ValidationError> {
    Err(ValidationError::InvalidParameter(msg))
}

/// Two-sided standard normal quantile for a confidence level in (0, 1),
/// e.g. 1.96 for 0.95.
///
/// # Errors
/// [`ValidationError::InvalidParameter`] unless `0 < confidence < 1`.
pub fn normal_quantile(confidence: f64) -> Result<f64, ValidationError> {
    if !(confidence > 0.0 && confidence < 1.0) {
        return invalid(format!("confidence must lie in (0, 1), got {confidence}"));
    }
    let standard = Normal::standard();
    Ok(standard.inverse_cdf(0.5 + confidence / 2.0))
}

/// A success fraction with its Wilson score interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Proportion {
    pub successes: u64,
    pub trials: u64,
    /// `successes / trials`.
    pub estimate: f64,
    pub lower: f64,
    pub upper: f64,
}

/// Fraction of successes with its Wilson score interval at `confidence`
/// (which, unlike the normal-approximation interval, stays inside [0, 1]
/// and is sensible at 0 or `trials` successes).
///
/// # Errors
/// [`ValidationError::InvalidParameter`] for `trials = 0`, more successes than trials, or a confidence outside `(0, 1)`.
pub fn wilson_interval(
    successes: u64,
    trials: u64,
    confidence: f64,
) -> Result<Proportion, ValidationError> {
    if trials == 0 || successes > trials {
        return invalid(format!(
            "need 0 <= successes <= trials and trials > 0, got {successes}/{trials}"
        ));
    }
    let z = normal_quantile(confidence)?;
    let n = trials as f64;
    let p = successes as f64 / n;
    let z2n = z * z / n;
    let centre = (p + z2n / 2.0) / (1.0 + z2n);
    let half = z * (p * (1.0 - p) / n + z2n / (4.0 * n)).sqrt() / (1.0 + z2n);
    Ok(Proportion {
        successes,
        trials,
        estimate: p,
        lower: (centre - half).max(0.0),
        upper: (centre + half).min(1.0),
    })
}

/// Successes out of trials at one value of the control parameter (the load
/// alpha, or any other parameter the retrieval probability depends on).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SuccessCount {
    pub alpha: f64,
    pub successes: u64,
    pub trials: u64,
}

/// Logistic model `p(alpha) = 1 / (1 + exp((alpha - crossing) / width))`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogisticFit {
    /// Where `p = 1/2`.
    pub crossing: f64,
    /// Width of the transition; positive when `p` decreases with alpha.
    pub width: f64,
    /// Fisher-scoring iterations used.
    pub iterations: usize,
}

impl LogisticFit {
    /// The fitted success probability at `alpha`.
    pub fn probability(&self, alpha: f64) -> f64 {
        1.0 / (1.0 + ((alpha - self.crossing) / self.width).exp())
    }
}

/// Fits the logistic model to success counts by maximum likelihood with
/// Firth's penalty (Jeffreys prior, `+ (1/2) ln det I`), which removes the
/// O(1/n) bias and, unlike plain maximum likelihood, always has a finite
/// solution, also for perfectly separated data such as bootstrap
/// resamples with all successes below some alpha and none above.
///
/// Internally `p = sigmoid(b0 + b1 t)` with `t` the standardised alpha;
/// the log-likelihood is concave in `(b0, b1)` and Fisher scoring with step
/// halving converges from `b = 0`.
///
/// # Errors
/// [`ValidationError::InvalidParameter`] for fewer than two points, inconsistent counts, or a fit that does not converge.
pub fn fit_logistic(points: &[SuccessCount]) -> Result<LogisticFit, ValidationError> {
    check_counts(points)?;
    let lo = points.iter().map(|p| p.alpha).fold(f64::INFINITY, f64::min);
    let hi = points
        .iter()
        .map(|p| p.alpha)
        .fold(f64::NEG_INFINITY, f64::max);
    if hi <= lo {
        return invalid("the logistic fit needs at least two distinct alpha values".into());
    }
    let (centre, scale) = ((lo + hi) / 2.0, hi - lo);
    let data: Vec<(f64, f64, f64)> = points
        .iter()
        .map(|p| {
            (
                (p.alpha - centre) / scale,
                p.successes as f64,
                p.trials as f64,
            )
        })
        .collect();
    let mut b = Vector2::zeros();
    let mut current = firth_terms(&data, &b)?;
    for iteration in 1..=MAX_ITERATIONS {
        let step = current.inverse_information * current.score;
        let (next_b, next) = halve_until_ascent(&data, &b, &step, current.penalised_ll)?;
        let moved = (next_b - b).amax();
        (b, current) = (next_b, next);
        if moved < 1e-10 {
            return logistic_from(b, centre, scale, iteration);
        }
    }
    invalid(format!(
        "logistic fit did not converge in {MAX_ITERATIONS} iterations"
    ))
}

const MAX_ITERATIONS: usize = 200;

/// Penalised log-likelihood, modified score and inverse Fisher information
/// at one parameter value.
struct FirthTerms {
    penalised_ll: f64,
    score: Vector2<f64>,
    inverse_information: Matrix2<f64>,
}

/// Firth's modified score for binomial counts `(t, s, n)`:
/// `U* = sum_k x_k (s_k - n_k p_k + h_k (1/2 - p_k))`, `x_k = (1, t_k)`,
/// with leverages `h_k = W_k x_k^T I^{-1} x_k`, `W_k = n_k p_k (1 - p_k)`
/// and `I = sum_k W_k x_k x_k^T`.
fn firth_terms(data: &[(f64, f64, f64)], b: &Vector2<f64>) -> Result<FirthTerms, ValidationError> {
    let probabilities: Vec<(Vector2<f64>, f64, f64)> = data
        .iter()
        .map(|&(t, _, n)| {
            let x = Vector2::new(1.0, t);
            let p = sigmoid(b.dot(&x));
            (x, p, n * p * (1.0 - p))
        })
        .collect();
    let information: Matrix2<f64> = probabilities
        .iter()
        .map(|(x, _, w)| *w * x * x.transpose())
        .sum();
    let Some((inverse_information, ln_det)) = inverse_and_ln_det(information) else {
        return invalid(
            "logistic fit: singular Fisher information (probabilities saturated)".into(),
        );
    };
    let mut ll = 0.5 * ln_det;
    let mut score = Vector2::zeros();
    for (&(_, s, n), (x, p, w)) in data.iter().zip(&probabilities) {
        let eta = b.dot(x);
        // ln p = -ln(1 + e^-eta), ln(1 - p) = -ln(1 + e^eta), both stable.
        ll -= s * softplus(-eta) + (n - s) * softplus(eta);
        let leverage = w * (x.transpose() * inverse_information * x)[0];
        score += (s - n * p + leverage * (0.5 - p)) * x;
    }
    Ok(FirthTerms {
        penalised_ll: ll,
        score,
        inverse_information,
    })
}

/// The inverse and log-determinant of a Fisher information, or `None`
/// unless it is positive definite (the Jeffreys penalty `ln det I` is then
/// defined): by its Cholesky factor `L`, `ln det I = 2 sum_i ln L_ii`, which
/// cannot overflow. Saturated probabilities make the information singular.
fn inverse_and_ln_det(information: Matrix2<f64>) -> Option<(Matrix2<f64>, f64)> {
    let cholesky = information.cholesky()?;
    let ln_det = 2.0 * cholesky.l_dirty().diagonal().map(f64::ln).sum();
    Some((cholesky.inverse(), ln_det))
}

/// Takes the scoring step, halving it until the penalised likelihood does
/// not decrease.
fn halve_until_ascent(
    data: &[(f64, f64, f64)],
    b: &Vector2<f64>,
    step: &Vector2<f64>,
    ll: f64,
) -> Result<(Vector2<f64>, FirthTerms), ValidationError> {
    let mut factor = 1.0;
    for _ in 0..60 {
        let candidate = b + factor * step;
        if let Ok(terms) = firth_terms(data, &candidate) {
            if terms.penalised_ll >= ll - 1e-12 * ll.abs().max(1.0) {
                return Ok((candidate, terms));
            }
        }
        factor /= 2.0;
    }
    invalid("logistic fit: no ascent direction".into())
}

/// Converts `(b0, b1)` in standardised units to crossing and width.
fn logistic_from(
    b: Vector2<f64>,
    centre: f64,
    scale: f64,
    iterations: usize,
) -> Result<LogisticFit, ValidationError> {
    if b[1] == 0.0 {
        return invalid("logistic fit: success probability does not depend on alpha".into());
    }
    Ok(LogisticFit {
        crossing: centre - scale * b[0] / b[1],
        width: -scale / b[1],
        iterations,
    })
}

fn sigmoid(eta: f64) -> f64 {
    1.0 / (1.0 + (-eta).exp())
}

/// `ln(1 + e^x)` without overflow.
fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// Counts must be non-empty, finite, with `0 <= successes <= trials`,
/// `trials > 0`.
fn check_counts(points: &[SuccessCount]) -> Result<(), ValidationError> {
    if points.is_empty() {
        return invalid("no success counts given".into());
    }
    match points
        .iter()
        .find(|p| !p.alpha.is_finite() || p.trials == 0 || p.successes > p.trials)
    {
        Some(p) => invalid(format!("bad success count {p:?}")),
        None => Ok(()),
    }
}

/// Crossing point with a bootstrap percentile interval.
#[derive(Clone, Debug, PartialEq)]
pub struct Crossing {
    /// Fit to the observed counts.
    pub fit: LogisticFit,
    /// Confidence level of the interval.
    pub confidence: f64,
    pub lower: f64,
    pub upper: f64,
    /// Bootstrap replicates whose fit succeeded (the interval uses these).
    pub replicates: usize,
    /// Replicates whose fit failed (degenerate resamples).
    pub failed_replicates: usize,
}

impl Crossing {
    /// Standard error implied by the interval: half its width over the
    /// normal quantile (robust against outlying bootstrap replicates,
    /// unlike their standard deviation); the `sigma` of an extrapolation.
    pub fn sigma(&self) -> f64 {
        let z = normal_quantile(self.confidence).unwrap_or(f64::NAN);
        (self.upper - self.lower) / (2.0 * z)
    }
}

/// Crossing point `p = 1/2` of the logistic fit, with a percentile
/// bootstrap interval: each of `replicates` replicates resamples the trials
/// within every alpha point with replacement (that is, draws
/// `Binomial(n_k, s_k / n_k)` successes) and refits. Replicate `r` uses
/// the generator seeded by `trial_seed(seed, [r])`, so the result is
/// deterministic and independent of the thread count.
///
/// # Errors
/// [`ValidationError::InvalidParameter`] for fewer than two points, inconsistent counts, or a fit that does not converge.
pub fn estimate_crossing(
    points: &[SuccessCount],
    replicates: usize,
    confidence: f64,
    seed: u64,
) -> Result<Crossing, ValidationError> {
    normal_quantile(confidence)?;
    if replicates < 2 {
        return invalid(format!(
            "need at least 2 bootstrap replicates, got {replicates}"
        ));
    }
    let fit = fit_logistic(points)?;
    let crossings: Vec<Option<f64>> = (0..replicates as u64)
        .into_par_iter()
        .map(|r| {
            let mut rng = trial_rng(trial_seed(seed, &[r]));
            let resampled: Option<Vec<SuccessCount>> = points
                .iter()
                .map(|p| {
                    let share = p.successes as f64 / p.trials as f64;
                    let successes = Binomial::new(p.trials, share).ok()?.sample(&mut rng);
                    Some(SuccessCount { successes, ..*p })
                })
                .collect();
            fit_logistic(&resampled?).ok().map(|f| f.crossing)
        })
        .collect();
    let good: Vec<f64> = crossings.iter().flatten().copied().collect();
    if good.len() < 2 {
        return invalid("bootstrap: fewer than two replicates could be fitted".into());
    }
    let failed_replicates = replicates - good.len();
    let replicates = good.len();
    let mut data = Data::new(good);
    Ok(Crossing {
        fit,
        confidence,
        lower: data.quantile((1.0 - confidence) / 2.0),
        upper: data.quantile((1.0 + confidence) / 2.0),
        replicates,
        failed_replicates,
    })
}

/// Finite-size form `value(N) = a_inf + corrections` used to extrapolate
/// (docs/theory.md §9 says which form fits which study). Written in
/// configs as `finite_size = "inverse-n"` and so on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FiniteSizeForm {
    /// `a_inf + b / N`.
    #[default]
    InverseN,
    /// `a_inf + b / sqrt(N)`.
    InverseSqrtN,
    /// `a_inf + b ln(N) / N`.
    LogNOverN,
    /// `a_inf + b ln(N) / sqrt(N)`.
    LogNOverSqrtN,
    /// `a_inf + b / N + c ln(N) / N`.
    InverseNAndLogNOverN,
}

impl FiniteSizeForm {
    /// Basis functions at `n`, the constant first.
    fn basis(&self, n: f64) -> Vec<f64> {
        match self {
            Self::InverseN => vec![1.0, 1.0 / n],
            Self::InverseSqrtN => vec![1.0, 1.0 / n.sqrt()],
            Self::LogNOverN => vec![1.0, n.ln() / n],
            Self::LogNOverSqrtN => vec![1.0, n.ln() / n.sqrt()],
            Self::InverseNAndLogNOverN => vec![1.0, 1.0 / n, n.ln() / n],
        }
    }

    /// The form as a formula, for outputs.
    pub fn label(&self) -> &'static str {
        match self {
            Self::InverseN => "x_inf + b / N",
            Self::InverseSqrtN => "x_inf + b / sqrt(N)",
            Self::LogNOverN => "x_inf + b ln(N) / N",
            Self::LogNOverSqrtN => "x_inf + b ln(N) / sqrt(N)",
            Self::InverseNAndLogNOverN => "x_inf + b / N + c ln(N) / N",
        }
    }

    /// Number of fitted coefficients.
    pub fn parameters(&self) -> usize {
        self.basis(1.0).len()
    }
}

/// A finite-`N` estimate with its standard error.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SizePoint {
    pub n: f64,
    pub value: f64,
    pub sigma: f64,
}

/// Weighted least-squares fit of a finite-size form.
#[derive(Clone, Debug, PartialEq)]
pub struct Extrapolation {
    /// The fitted form, as a formula.
    pub label: &'static str,
    /// Coefficients in the order of the form's terms (`a_inf` first).
    pub coefficients: Vec<f64>,
    /// Their standard errors, from the given sigmas (not rescaled by the
    /// goodness of fit).
    pub std_errors: Vec<f64>,
    /// Interval for `a_inf` at the requested confidence.
    pub a_inf_lower: f64,
    pub a_inf_upper: f64,
    /// `(value - fit) / sigma` per point.
    pub residuals: Vec<f64>,
    /// Sum of squared residuals.
    pub chi2: f64,
    /// Points minus coefficients.
    pub dof: usize,
}

impl Extrapolation {
    /// The `N -> infinity` limit.
    pub fn a_inf(&self) -> f64 {
        self.coefficients[0]
    }

    /// `chi^2 / dof`; `None` for an exactly determined fit.
    pub fn chi2_per_dof(&self) -> Option<f64> {
        (self.dof > 0).then(|| self.chi2 / self.dof as f64)
    }
}

/// Fits `form` to the points by weighted least squares (weights
/// `1/sigma^2`), solving the normal equations by Cholesky; the inverse of
/// the normal matrix is the covariance of the coefficients.
///
/// # Errors
/// [`ValidationError::InvalidParameter`] for fewer points than coefficients, a point with `N <= 0`, a non-finite value or a non-positive sigma, or a singular fit.
pub fn extrapolate(
    points: &[SizePoint],
    form: FiniteSizeForm,
    confidence: f64,
) -> Result<Extrapolation, ValidationError> {
    let basis: Vec<Vec<f64>> = points.iter().map(|p| form.basis(p.n)).collect();
    fit(points, &basis, form.label(), confidence)
}

/// Label of [`extrapolate_along`].
pub const PREDICTED_FORM: &str = "x_inf + b (prediction(N) - theory)";

/// Fits `x_inf + b shape(N)` where `shape` is the finite-`N` prediction
/// minus its `N -> infinity` limit at each point (docs/theory.md §9): the
/// theory fixes the form, the fit only its amplitude `b` (1 if the
/// prediction is exact) and `x_inf`. A prediction that does not move with
/// `N` (spread below 1e-12) leaves `x_inf` alone to fit.
///
/// # Errors
/// As [`extrapolate`], and for a `shape` of another length than `points`.
pub fn extrapolate_along(
    points: &[SizePoint],
    shape: &[f64],
    confidence: f64,
) -> Result<Extrapolation, ValidationError> {
    if shape.len() != points.len() {
        return invalid(format!(
            "{} predictions for {} points",
            shape.len(),
            points.len()
        ));
    }
    let spread = shape
        .iter()
        .fold(0.0f64, |m, c| m.max((c - shape[0]).abs()));
    let basis: Vec<Vec<f64>> = if spread > 1e-12 {
        shape.iter().map(|&c| vec![1.0, c]).collect()
    } else {
        vec![vec![1.0]; shape.len()]
    };
    fit(points, &basis, PREDICTED_FORM, confidence)
}

/// Weighted least squares of the points on one basis row per point (the
/// constant first).
fn fit(
    points: &[SizePoint],
    basis: &[Vec<f64>],
    label: &'static str,
    confidence: f64,
) -> Result<Extrapolation, ValidationError> {
    let z = normal_quantile(confidence)?;
    let k = basis.first().map_or(1, Vec::len);
    if points.len() < k {
        return invalid(format!(
            "{label} needs at least {k} points, got {}",
            points.len()
        ));
    }
    if let Some(p) = points
        .iter()
        .find(|p| !(p.n > 0.0 && p.value.is_finite() && p.sigma > 0.0 && p.sigma.is_finite()))
    {
        return invalid(format!(
            "bad size point {p:?} (need N > 0, finite value, sigma > 0)"
        ));
    }
    let mut sizes: Vec<f64> = points.iter().map(|p| p.n).collect();
    sizes.sort_by(f64::total_cmp);
    sizes.dedup();
    if sizes.len() < k {
        return invalid(format!(
            "{label} needs at least {k} distinct N, got {}",
            sizes.len()
        ));
    }
    let rows: Vec<f64> = points
        .iter()
        .zip(basis)
        .flat_map(|(p, row)| row.iter().map(move |b| b / p.sigma))
        .collect();
    let design = DMatrix::from_row_slice(points.len(), k, &rows);
    let target = DVector::from_iterator(points.len(), points.iter().map(|p| p.value / p.sigma));
    let cholesky = (design.transpose() * &design).cholesky().ok_or_else(|| {
        ValidationError::InvalidParameter(format!("{label}: singular normal equations"))
    })?;
    let coefficients = cholesky.solve(&(design.transpose() * &target));
    let covariance = cholesky.inverse();
    let residuals: Vec<f64> = (&target - &design * &coefficients)
        .iter()
        .copied()
        .collect();
    let std_errors: Vec<f64> = covariance.diagonal().iter().map(|v| v.sqrt()).collect();
    let a_inf = coefficients[0];
    Ok(Extrapolation {
        label,
        a_inf_lower: a_inf - z * std_errors[0],
        a_inf_upper: a_inf + z * std_errors[0],
        chi2: residuals.iter().map(|r| r * r).sum(),
        dof: points.len() - k,
        coefficients: coefficients.iter().copied().collect(),
        std_errors,
        residuals,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;
    use rand_distr::StandardNormal;

    /// Textbook values: 8/10 at 95% is (0.4902, 0.9433); 0/20 has lower
    /// bound 0 and upper z^2/(n + z^2) = 0.1611.
    #[test]
    fn wilson_known_values() {
        let p = wilson_interval(8, 10, 0.95).unwrap();
        assert!(
            (p.lower - 0.4902).abs() < 1e-4 && (p.upper - 0.9433).abs() < 1e-4,
            "{p:?}"
        );
        let p = wilson_interval(0, 20, 0.95).unwrap();
        assert!(p.lower == 0.0 && (p.upper - 0.1611).abs() < 1e-4, "{p:?}");
        assert_eq!(wilson_interval(20, 20, 0.95).unwrap().upper, 1.0);
        assert!(wilson_interval(3, 2, 0.95).is_err());
        assert!(wilson_interval(0, 0, 0.95).is_err());
        assert!(wilson_interval(1, 2, 1.0).is_err());
    }

    fn logistic(alpha: f64, crossing: f64, width: f64) -> f64 {
        1.0 / (1.0 + ((alpha - crossing) / width).exp())
    }

    fn alphas() -> Vec<f64> {
        (0..9).map(|k| 0.30 + 0.025 * k as f64).collect()
    }

    /// Counts at [`alphas`] equal to their expectations (rounded) under the
    /// logistic curve `(crossing, width)`, `n` trials each.
    fn expected_counts(crossing: f64, width: f64, n: u64) -> Vec<SuccessCount> {
        alphas()
            .into_iter()
            .map(|alpha| SuccessCount {
                alpha,
                successes: (n as f64 * logistic(alpha, crossing, width)).round() as u64,
                trials: n,
            })
            .collect()
    }

    /// Counts equal to their expectations under a known curve (n = 10^6 per
    /// point) give back its crossing and width.
    #[test]
    fn logistic_fit_recovers_noiseless_curve() {
        let (a0, w) = (0.4, 0.03);
        let points = expected_counts(a0, w, 1_000_000);
        let fit = fit_logistic(&points).unwrap();
        assert!(
            (fit.crossing - a0).abs() < 1e-4 && (fit.width / w - 1.0).abs() < 1e-2,
            "{fit:?}"
        );
    }

    /// The fit is equivariant: moving the grid to `1000 + 1e-3 alpha` moves
    /// the crossing and scales the width the same way, to rounding. This
    /// needs alpha standardised before the fit: on the raw values the
    /// slope would be about 4e4 and the intercept 4e7, beyond the fit's
    /// absolute convergence test of 1e-10.
    #[test]
    fn logistic_fit_follows_a_moved_and_narrowed_grid() {
        let counts = expected_counts(0.4, 0.03, 1_000);
        let moved: Vec<SuccessCount> = counts
            .iter()
            .map(|c| SuccessCount {
                alpha: 1000.0 + 1e-3 * c.alpha,
                ..*c
            })
            .collect();
        let (fit, far) = (
            fit_logistic(&counts).unwrap(),
            fit_logistic(&moved).unwrap(),
        );
        assert!(
            (far.crossing - (1000.0 + 1e-3 * fit.crossing)).abs() < 1e-9
                && (far.width / (1e-3 * fit.width) - 1.0).abs() < 1e-6,
            "{fit:?} moved to {far:?}"
        );
    }

    /// Only a positive definite information has an inverse and a log
    /// determinant: singular, indefinite or negative definite ones and NaN
    /// are refused.
    #[test]
    fn information_must_be_positive_definite() {
        // [[2, 1], [1, 3]]: det 5, inverse [[3, -1], [-1, 2]] / 5.
        let (inverse, ln_det) = inverse_and_ln_det(Matrix2::new(2.0, 1.0, 1.0, 3.0)).unwrap();
        assert!((ln_det - 5.0_f64.ln()).abs() < 1e-15, "{ln_det}");
        let want = Matrix2::new(0.6, -0.2, -0.2, 0.4);
        assert!((inverse - want).amax() < 1e-15, "{inverse}");
        // det 1e400 overflows a double; its logarithm does not.
        let (_, ln_det) = inverse_and_ln_det(Matrix2::new(1e200, 0.0, 0.0, 1e200)).unwrap();
        assert!((ln_det - 400.0 * 10.0_f64.ln()).abs() < 1e-12, "{ln_det}");
        for refused in [
            Matrix2::new(1.0, 1.0, 1.0, 1.0),   // singular
            Matrix2::new(1.0, 2.0, 2.0, 1.0),   // det -3
            Matrix2::new(-1.0, 0.0, 0.0, -1.0), // det +1, negative definite
            Matrix2::new(f64::NAN, 0.0, 0.0, 1.0),
        ] {
            assert!(inverse_and_ln_det(refused).is_none(), "{refused}");
        }
    }

    /// A step that overshoots (50 scoring steps from `b = 0`) is halved
    /// until the penalised likelihood does not fall.
    #[test]
    fn overshooting_steps_are_halved() {
        let data: Vec<(f64, f64, f64)> =
            [(-0.5, 9.0, 10.0), (0.0, 6.0, 10.0), (0.5, 1.0, 10.0)].into();
        let b = Vector2::zeros();
        let start = firth_terms(&data, &b).unwrap();
        let step = 50.0 * start.inverse_information * start.score;
        let overshoot = firth_terms(&data, &(b + step)).unwrap();
        assert!(
            overshoot.penalised_ll < start.penalised_ll - 1.0,
            "not an overshoot"
        );
        let (next, terms) = halve_until_ascent(&data, &b, &step, start.penalised_ll).unwrap();
        assert!(
            terms.penalised_ll >= start.penalised_ll,
            "{} fell",
            terms.penalised_ll
        );
        let factor = (next - b).norm() / step.norm();
        assert!(factor < 0.5, "step not halved: factor {factor}");
    }

    /// With two grid points the logistic model is saturated: each point has
    /// leverage 1, so Firth's score equations `s - n p + (1/2 - p) = 0`
    /// give `p = (s + 1/2) / (n + 1)` at each point, a closed form that
    /// holds for separated counts as well.
    #[test]
    fn two_point_fit_is_the_saturated_closed_form() {
        for (first, second) in [
            ((9, 10), (2, 10)),
            ((10, 10), (0, 10)),
            ((30, 40), (11, 25)),
        ] {
            let points =
                [(0.3, first), (0.5, second)].map(|(alpha, (successes, trials))| SuccessCount {
                    alpha,
                    successes,
                    trials,
                });
            let fit = fit_logistic(&points).unwrap();
            for c in points {
                let want = (c.successes as f64 + 0.5) / (c.trials as f64 + 1.0);
                let got = fit.probability(c.alpha);
                assert!((got - want).abs() < 1e-9, "{c:?}: {got} against {want}");
            }
        }
    }

    /// Each way a count can be wrong is refused on its own; a point with
    /// all trials successful is valid.
    #[test]
    fn each_bad_count_is_refused() {
        let good = |alpha: f64| SuccessCount {
            alpha,
            successes: 3,
            trials: 3,
        };
        assert!(fit_logistic(&[
            good(0.3),
            good(0.4),
            SuccessCount {
                successes: 0,
                ..good(0.5)
            }
        ])
        .is_ok());
        assert!(fit_logistic(&[]).is_err());
        for bad in [
            good(f64::NAN),
            good(f64::INFINITY),
            SuccessCount {
                trials: 0,
                successes: 0,
                alpha: 0.5,
            },
            SuccessCount {
                successes: 4,
                ..good(0.5)
            },
        ] {
            let error = fit_logistic(&[good(0.3), good(0.4), bad]).unwrap_err();
            assert!(
                error.to_string().contains("bad success count"),
                "{bad:?}: {error}"
            );
        }
    }

    /// Each way a size point can be wrong is refused on its own.
    #[test]
    fn each_bad_size_point_is_refused() {
        let good = |n: f64| SizePoint {
            n,
            value: 0.4,
            sigma: 0.01,
        };
        let base = [good(10.0), good(20.0)];
        assert!(extrapolate(&base, FiniteSizeForm::InverseN, 0.95).is_ok());
        for bad in [
            good(0.0),
            good(-30.0),
            SizePoint {
                value: f64::NAN,
                ..good(30.0)
            },
            SizePoint {
                value: f64::INFINITY,
                ..good(30.0)
            },
            SizePoint {
                sigma: 0.0,
                ..good(30.0)
            },
            SizePoint {
                sigma: -0.01,
                ..good(30.0)
            },
            SizePoint {
                sigma: f64::INFINITY,
                ..good(30.0)
            },
            SizePoint {
                sigma: f64::NAN,
                ..good(30.0)
            },
        ] {
            let points = [base[0], base[1], bad];
            let error = extrapolate(&points, FiniteSizeForm::InverseN, 0.95).unwrap_err();
            assert!(
                error.to_string().contains("bad size point"),
                "{bad:?}: {error}"
            );
        }
    }

    /// A prediction that does not move with N (here 0.3 at every size)
    /// leaves only x_inf, fitted as the inverse-variance weighted mean; one
    /// that moves is fitted with its amplitude.
    #[test]
    fn a_flat_prediction_leaves_the_weighted_mean() {
        let points = [(10.0, 0.40, 0.01), (20.0, 0.43, 0.02), (40.0, 0.37, 0.04)]
            .map(|(n, value, sigma)| SizePoint { n, value, sigma });
        let e = extrapolate_along(&points, &[0.3; 3], 0.95).unwrap();
        let weights: Vec<f64> = points.iter().map(|p| p.sigma.powi(-2)).collect();
        let mean = points
            .iter()
            .zip(&weights)
            .map(|(p, w)| w * p.value)
            .sum::<f64>()
            / weights.iter().sum::<f64>();
        assert_eq!(e.coefficients.len(), 1, "{e:?}");
        assert!(
            (e.a_inf() - mean).abs() < 1e-12,
            "{} against {mean}",
            e.a_inf()
        );
        // Values exactly on x_inf + b shape(N) give back x_inf and b.
        let shape = [0.05, 0.02, 0.01];
        let on_shape: Vec<SizePoint> = points
            .iter()
            .zip(shape)
            .map(|(p, c)| SizePoint {
                value: 0.3 + 1.5 * c,
                ..*p
            })
            .collect();
        let e = extrapolate_along(&on_shape, &shape, 0.95).unwrap();
        let [x_inf, b] = e.coefficients[..] else {
            panic!("{e:?}")
        };
        assert!(
            (x_inf - 0.3).abs() < 1e-12 && (b - 1.5).abs() < 1e-12,
            "{e:?}"
        );
    }

    /// Each form's label names its own formula and is the one the fit
    /// reports.
    #[test]
    fn labels_name_each_form() {
        let forms = [
            (FiniteSizeForm::InverseN, "x_inf + b / N"),
            (FiniteSizeForm::InverseSqrtN, "x_inf + b / sqrt(N)"),
            (FiniteSizeForm::LogNOverN, "x_inf + b ln(N) / N"),
            (FiniteSizeForm::LogNOverSqrtN, "x_inf + b ln(N) / sqrt(N)"),
            (
                FiniteSizeForm::InverseNAndLogNOverN,
                "x_inf + b / N + c ln(N) / N",
            ),
        ];
        let points = [10.0, 20.0, 40.0].map(|n| SizePoint {
            n,
            value: 0.3 + 1.0 / n,
            sigma: 0.01,
        });
        for (form, want) in forms {
            assert_eq!(form.label(), want);
            assert_eq!(extrapolate(&points, form, 0.95).unwrap().label, want);
        }
    }

    /// Perfectly separated data (all successes below 0.4, none above) still
    /// gives a finite crossing between the two middle points.
    #[test]
    fn logistic_fit_handles_separation() {
        let points: Vec<SuccessCount> = alphas()
            .into_iter()
            .map(|alpha| SuccessCount {
                alpha,
                successes: if alpha < 0.4 { 30 } else { 0 },
                trials: 30,
            })
            .collect();
        let fit = fit_logistic(&points).unwrap();
        assert!(
            fit.crossing > 0.375 && fit.crossing < 0.4 && fit.width > 0.0,
            "{fit:?}"
        );
        assert!(fit_logistic(&points[..1]).is_err());
        assert!(fit_logistic(&[]).is_err());
    }

    /// Success counts drawn from the logistic curve with crossing `a0` and
    /// width `w`, `n` Bernoulli trials at each alpha of [`alphas`].
    fn synthetic_counts(
        rng: &mut crate::seeds::TrialRng,
        a0: f64,
        w: f64,
        n: u64,
    ) -> Vec<SuccessCount> {
        alphas()
            .into_iter()
            .map(|alpha| SuccessCount {
                alpha,
                successes: Binomial::new(n, logistic(alpha, a0, w))
                    .unwrap()
                    .sample(rng),
                trials: n,
            })
            .collect()
    }

    /// Number of covered truths out of `trials` must lie within three
    /// binomial standard deviations of `confidence * trials` (a correct
    /// interval fails this with probability 0.3%). At 95% and 1000 trials
    /// the band is [930, 970]: an interval 30% wider covers about 98.9%
    /// (z = 2.55), one 30% narrower about 83% (z = 1.37), and both fail.
    fn assert_coverage(covered: usize, trials: usize, confidence: f64, what: &str) {
        let expected = confidence * trials as f64;
        let tolerance = 3.0 * (trials as f64 * confidence * (1.0 - confidence)).sqrt();
        assert!(
            (covered as f64 - expected).abs() <= tolerance,
            "{what}: coverage {covered}/{trials}, expected {expected} +- {tolerance:.1}"
        );
    }

    /// Sample standard deviation.
    fn std_dev(values: &[f64]) -> f64 {
        let m = values.len() as f64;
        let mean = values.iter().sum::<f64>() / m;
        (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (m - 1.0)).sqrt()
    }

    /// Calibration of the bootstrap interval of one crossing, on 1000 data
    /// sets drawn from a known logistic curve (crossing 0.4, width 0.03,
    /// 100 trials at each of 9 loads), checked on both sides:
    /// - the 95% interval covers the true crossing in 95% +- 3 binomial
    ///   standard deviations of the data sets (see [`assert_coverage`]);
    /// - `sigma` averages the spread of the fitted crossings over the data
    ///   sets to within 12% (the sample standard deviation of 1000 values
    ///   is good to 2.2%, so 12% is 5 of its standard errors, while a
    ///   sigma 30% off misses by more than 25%).
    ///
    /// Also: the fitted crossing lies inside its interval, and the
    /// bootstrap is reproducible from its seed.
    #[test]
    fn crossing_interval_is_calibrated() {
        let (a0, w, n) = (0.4, 0.03, 100);
        let data_sets = 1000;
        let mut covered = 0;
        let (mut crossings, mut sigma_sum) = (Vec::new(), 0.0);
        for data_set in 0..data_sets {
            let points = synthetic_counts(&mut trial_rng(trial_seed(99, &[data_set])), a0, w, n);
            let crossing = estimate_crossing(&points, 200, 0.95, data_set).unwrap();
            assert!(
                crossing.lower <= crossing.fit.crossing && crossing.fit.crossing <= crossing.upper
            );
            covered += usize::from(crossing.lower <= a0 && a0 <= crossing.upper);
            crossings.push(crossing.fit.crossing);
            sigma_sum += crossing.sigma();
            if data_set == 0 {
                assert_eq!(crossing, estimate_crossing(&points, 200, 0.95, 0).unwrap());
                assert_eq!(crossing.replicates + crossing.failed_replicates, 200);
            }
        }
        assert_coverage(covered, data_sets as usize, 0.95, "crossing");
        let ratio = sigma_sum / data_sets as f64 / std_dev(&crossings);
        assert!(
            (ratio - 1.0).abs() < 0.12,
            "mean sigma / spread of the crossings = {ratio}"
        );
    }

    /// `sigma` is the half-width over the two-sided normal quantile, from
    /// the normal table: z = 1.959964 at 95%, 0.674490 at 50%.
    #[test]
    fn sigma_is_half_width_over_the_normal_quantile() {
        let fit = LogisticFit {
            crossing: 0.0,
            width: 1.0,
            iterations: 1,
        };
        for (confidence, z) in [(0.95, 1.959_964), (0.5, 0.674_490)] {
            let crossing = Crossing {
                fit,
                confidence,
                lower: -z,
                upper: z,
                replicates: 2,
                failed_replicates: 0,
            };
            assert!((crossing.sigma() - 1.0).abs() < 1e-6, "{confidence}");
        }
    }

    /// Two bootstrap replicates are the minimum: fewer is an error, and two
    /// that both fit give an interval.
    #[test]
    fn bootstrap_needs_two_replicates() {
        let points = synthetic_counts(&mut trial_rng(3), 0.4, 0.03, 100);
        for replicates in [0, 1] {
            assert!(estimate_crossing(&points, replicates, 0.95, 1).is_err());
        }
        let two = estimate_crossing(&points, 2, 0.95, 1).unwrap();
        assert_eq!((two.replicates, two.failed_replicates), (2, 0));
        assert!(two.lower < two.upper);
    }

    /// Noiseless data built from known coefficients are fitted exactly by
    /// every form (zero residuals).
    #[test]
    fn extrapolation_recovers_exact_coefficients() {
        let sizes = [12.0, 16.0, 20.0, 24.0, 28.0];
        for form in [
            FiniteSizeForm::InverseN,
            FiniteSizeForm::InverseSqrtN,
            FiniteSizeForm::LogNOverN,
            FiniteSizeForm::LogNOverSqrtN,
            FiniteSizeForm::InverseNAndLogNOverN,
        ] {
            let truth = [0.375, -1.2, 0.8];
            let points: Vec<SizePoint> = sizes
                .iter()
                .map(|&n| {
                    let value = form.basis(n).iter().zip(truth).map(|(b, c)| b * c).sum();
                    SizePoint {
                        n,
                        value,
                        sigma: 0.01,
                    }
                })
                .collect();
            let fit = extrapolate(&points, form, 0.95).unwrap();
            for (c, t) in fit.coefficients.iter().zip(truth) {
                assert!((c - t).abs() < 1e-9, "{form:?}: {:?}", fit.coefficients);
            }
            assert!(fit.chi2 < 1e-12 && fit.dof == 5 - form.parameters());
            assert!(fit.a_inf_lower < fit.a_inf() && fit.a_inf() < fit.a_inf_upper);
        }
    }

    /// With Gaussian noise of the stated sigma, on 4000 data sets: the 95%
    /// interval of `a_inf` covers the truth in 95% +- 3 binomial standard
    /// deviations (band [3759, 3841]; a 30% wider or narrower interval
    /// covers about 98.9% or 83%); the pulls `(a_inf - truth) / se` have
    /// mean square 1 (its standard error is sqrt(2 / 4000) = 0.022; the
    /// tolerance 0.1 is 4.5 of them, while a standard error 30% off gives
    /// 0.59 or 2.0); and chi^2/dof, with 4 degrees of freedom, averages 1
    /// (standard error sqrt(2 / (4 * 4000)) = 0.011, tolerance 0.05).
    #[test]
    fn extrapolation_errors_are_calibrated() {
        let sizes = [12.0, 14.0, 16.0, 18.0, 20.0, 24.0];
        let (mut covered, mut pull_sq, mut chi2_per_dof) = (0, 0.0, 0.0);
        let reps = 4000;
        for rep in 0..reps {
            let mut rng = trial_rng(trial_seed(5, &[rep]));
            let points: Vec<SizePoint> = sizes
                .iter()
                .map(|&n| {
                    let sigma = 0.002 * n / 12.0;
                    let noise: f64 = rng.sample(StandardNormal);
                    SizePoint {
                        n,
                        value: 0.5 - 1.5 / n + sigma * noise,
                        sigma,
                    }
                })
                .collect();
            let fit = extrapolate(&points, FiniteSizeForm::InverseN, 0.95).unwrap();
            covered += usize::from(fit.a_inf_lower <= 0.5 && 0.5 <= fit.a_inf_upper);
            pull_sq += ((fit.a_inf() - 0.5) / fit.std_errors[0]).powi(2) / reps as f64;
            chi2_per_dof += fit.chi2_per_dof().unwrap() / reps as f64;
        }
        assert_coverage(covered, reps as usize, 0.95, "a_inf");
        assert!((pull_sq - 1.0).abs() < 0.1, "mean squared pull {pull_sq}");
        assert!(
            (chi2_per_dof - 1.0).abs() < 0.05,
            "mean chi2/dof {chi2_per_dof}"
        );
    }

    /// Too few points, equal sizes or bad sigmas are errors.
    #[test]
    fn extrapolation_rejects_bad_input() {
        let p = |n: f64, sigma: f64| SizePoint {
            n,
            value: 0.4,
            sigma,
        };
        assert!(extrapolate(&[p(10.0, 0.1)], FiniteSizeForm::InverseN, 0.95).is_err());
        assert!(extrapolate(
            &[p(10.0, 0.1), p(10.0, 0.1)],
            FiniteSizeForm::InverseN,
            0.95
        )
        .is_err());
        assert!(extrapolate(
            &[p(10.0, 0.0), p(12.0, 0.1)],
            FiniteSizeForm::InverseN,
            0.95
        )
        .is_err());
        assert!(extrapolate(
            &[p(10.0, 0.1), p(12.0, 0.1)],
            FiniteSizeForm::InverseNAndLogNOverN,
            0.95
        )
        .is_err());
        let exact = extrapolate(
            &[p(10.0, 0.1), p(12.0, 0.1)],
            FiniteSizeForm::InverseN,
            0.95,
        )
        .unwrap();
        assert_eq!(exact.chi2_per_dof(), None);
    }
}
