//! The verdict of a validate run: each study's crossings, their
//! extrapolation to `N -> infinity`, and its agreement with the theory,
//! with the checks that the result does not hinge on the retrieval
//! criterion or on the finite-size form (docs/theory.md §7, §9).

use damcap_theory::ensemble::PatternLaw;
use serde::Serialize;
use statrs::distribution::{ChiSquared, ContinuousCDF};

use crate::checkpoint::Done;
use crate::estimators::{
    extrapolate_along, Extrapolation, FiniteSizeForm, SizePoint, SuccessCount,
};
use crate::spec::{name_hash, Observable, Plan};
use crate::streamed::streams;
use crate::study::{
    analyse, Analysis, Method, SizeCounts, SizeCrossing, StudyKind, TrialRecord, CONFIDENCE,
    LOGISTIC_REJECTION,
};
use crate::top_k;
use crate::ValidationError;

/// Alternative retrieval criteria whose crossings are reported beside the
/// configured one, to show the result does not hinge on it.
pub const OTHER_CRITERIA: [f64; 2] = [0.8, 0.95];

/// The finite-size forms of the form check.
pub const FORMS: [FiniteSizeForm; 4] = [
    FiniteSizeForm::InverseN,
    FiniteSizeForm::InverseSqrtN,
    FiniteSizeForm::LogNOverN,
    FiniteSizeForm::LogNOverSqrtN,
];

/// A typical threshold agrees when the extrapolation lies within the larger
/// of half its interval and this absolute tolerance.
pub const AGREEMENT_FLOOR: f64 = 0.02;

/// Summary of a whole config.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// The config's title.
    pub title: String,
    /// Its master seed.
    pub seed: u64,
    /// One report per study, in config order.
    pub studies: Vec<StudyReport>,
}

/// Crossing extrapolated under another retrieval criterion.
#[derive(Clone, Debug, Serialize)]
pub struct CriterionCheck {
    /// Overlap threshold of the criterion.
    pub criterion: f64,
    /// Extrapolated crossing.
    pub extrapolated: f64,
    /// Lower end of its 95% interval.
    pub ci_low: f64,
    /// Upper end.
    pub ci_high: f64,
}

/// One point's success count.
#[derive(Clone, Debug, Serialize)]
pub struct PointCount {
    /// System size.
    pub n: usize,
    /// Grid value.
    pub x: f64,
    /// Retrieved trials.
    pub successes: u64,
    /// All trials.
    pub trials: u64,
    /// Whether the trials regenerated their patterns instead of storing
    /// them (the matrix exceeded the memory cap; [`crate::streamed`]: the
    /// same law from another generator). Written only when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub streamed: bool,
}

/// The extrapolation under another finite-size form.
#[derive(Clone, Debug, Serialize)]
pub struct FormCheck {
    /// The form, as a formula.
    pub form: &'static str,
    /// Extrapolated crossing.
    pub extrapolated: f64,
    /// Lower end of its 95% interval.
    pub ci_low: f64,
    /// Upper end.
    pub ci_high: f64,
    /// Goodness of fit (`None` for an exactly determined fit).
    pub chi2_per_dof: Option<f64>,
}

/// The cutoff of the top-K first step and its bounds (docs/theory.md §7,
/// [`crate::top_k`]).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct TopKBounds {
    /// Up to this many other patterns every score is drawn (exact).
    pub stream_limit: f64,
    /// Above it, bound on the error of each point's retrieval probability.
    pub retrieval_tolerance: f64,
    /// Above it, bound on `E|Z - Z_sampled|` relative to the sampled `Z`.
    pub z_tolerance: f64,
}

impl TopKBounds {
    /// The bounds every first-step study of gaussian and spherical patterns runs with.
    pub const DEFAULT: TopKBounds = TopKBounds {
        stream_limit: top_k::STREAM_LIMIT,
        retrieval_tolerance: top_k::RETRIEVAL_TOLERANCE,
        z_tolerance: top_k::Z_TOLERANCE,
    };
}

/// One study's result against the theory.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(test, derive(Default))]
pub struct StudyReport {
    /// Study name.
    pub name: String,
    /// Ensemble name.
    pub ensemble: String,
    /// What is measured (`alpha_1`, `alpha_c`, ...).
    pub observable: &'static str,
    /// The scanned variable (`alpha`, `rho`, `lambda`, `a`).
    pub scanned: &'static str,
    /// `dynamics` or `first-step`.
    pub method: &'static str,
    /// Inverse temperature, where fixed.
    pub lambda: Option<f64>,
    /// Load, where fixed.
    pub alpha: Option<f64>,
    /// Scaled inverse temperature, where fixed.
    pub beta: Option<f64>,
    /// Overlap threshold of the retrieval criterion.
    pub criterion: f64,
    /// Softmax mass a pruned step of the dynamics may leave out, relative
    /// to the partition function ([`crate::dynamics::DynamicsParams::prune_tolerance`]:
    /// each step's state within `2 prune_tolerance max|xi|` of the full
    /// step's); absent where the dynamics does not run.
    pub prune_tolerance: Option<f64>,
    /// The bounds of the top-K first step (docs/theory.md §7), for
    /// first-step studies of gaussian and spherical patterns; absent
    /// elsewhere.
    pub top_k: Option<TopKBounds>,
    /// The theory value.
    pub theory: f64,
    /// The crossing extrapolated to `N -> infinity`.
    pub extrapolated: f64,
    /// Lower end of its 95% interval.
    pub ci_low: f64,
    /// Upper end.
    pub ci_high: f64,
    /// `(extrapolated - theory) / sigma` of the extrapolation.
    pub deviation_sigma: f64,
    /// See [`agrees`].
    pub agrees: bool,
    /// Retrieval becomes more likely as the scanned variable grows.
    pub increasing: bool,
    /// The configured finite-size form, as a formula.
    pub finite_size_form: &'static str,
    /// The fitted finite-size coefficient.
    pub slope: f64,
    /// Residuals of the fit in units of sigma.
    pub residuals_sigma: Vec<f64>,
    /// Goodness of fit.
    pub chi2_per_dof: Option<f64>,
    /// `sum z^2 / sizes` of the crossings against the finite-`N`
    /// predictions (no fitted parameter, so every size is a degree of
    /// freedom); `None` without a prediction at every size.
    pub chi2_per_dof_prediction: Option<f64>,
    /// Chance that a chi-square variable with one degree of freedom per
    /// size exceeds `sum z^2`; below [`PREDICTION_REJECTION`] the
    /// extrapolation is in the configured form, not along the prediction.
    pub prediction_p_value: Option<f64>,
    /// The crossing at each size.
    pub sizes: Vec<SizeCrossing>,
    /// The analysis under other retrieval criteria.
    pub criterion_check: Vec<CriterionCheck>,
    /// The extrapolation in every finite-size form.
    pub form_check: Vec<FormCheck>,
    /// Every point's success count.
    pub points: Vec<PointCount>,
}

impl Summary {
    /// One line per study: theory, extrapolated crossing with its 95%
    /// interval, and the verdict, under a header line.
    pub fn verdict_table(&self) -> String {
        let mut table = format!(
            "{:<20} {:<12} {:<12} {:>8}  {:<30} agrees\n",
            "study", "method", "observable", "theory", "extrapolated [95% CI]"
        );
        for s in &self.studies {
            let ci = format!("{:.4} [{:.4}, {:.4}]", s.extrapolated, s.ci_low, s.ci_high);
            let verdict = match (s.agrees, s.observable == Observable::AlphaC.name()) {
                (true, true) => "yes (not below the bound)",
                (true, false) => "yes",
                (false, true) => "NO (below the bound)",
                (false, false) => "NO",
            };
            table += &format!(
                "{:<20} {:<12} {:<12} {:>8.4}  {ci:<30} {verdict}\n",
                s.name, s.method, s.observable, s.theory
            );
        }
        table
    }
}

/// Whether an extrapolated interval agrees with the theory. A typical
/// threshold (or basin, lambda_*, a_1) agrees when `|extrapolated - theory|`
/// is at most the larger of half the interval and [`AGREEMENT_FLOOR`]. The
/// all-patterns `alpha_c` is a lower bound, so it agrees unless the
/// simulation lies clearly below it (the upper end under the bound).
pub fn agrees(observable: Observable, theory: f64, extrapolated: f64, ci: (f64, f64)) -> bool {
    if observable == Observable::AlphaC {
        ci.1 >= theory
    } else {
        (extrapolated - theory).abs() <= (0.5 * (ci.1 - ci.0)).max(AGREEMENT_FLOOR)
    }
}

/// Whether the study's trials run the several-step dynamics.
fn runs_dynamics(plan: &Plan) -> bool {
    plan.params.method == Method::Dynamics
        && !matches!(plan.params.kind, StudyKind::AllPatterns { .. })
}

/// Whether the study's trials may take the top-K first step.
fn runs_top_k(plan: &Plan) -> bool {
    plan.params.method == Method::FirstStep
        && matches!(
            plan.params.law,
            PatternLaw::Gaussian | PatternLaw::Spherical
        )
}

/// The report of one finished study.
///
/// # Errors
/// [`ValidationError::InvalidStudy`] when a size has no crossing on the
/// grid or the crossing cannot be located.
pub fn report(
    plan: &Plan,
    done: &Done,
    ensemble: &str,
    seed: u64,
) -> Result<StudyReport, ValidationError> {
    let s = &plan.spec;
    let main = counts(plan, done, |r| r.retrieved);
    check_crossing(plan, &main)?;
    let a = analysis(plan, &main, seed, s.finite_size)?;
    let ex = &main_extrapolation(plan, &a)?;
    let ci = (ex.a_inf_lower, ex.a_inf_upper);
    let sizes = judged_sizes(plan, &a.sizes);
    let chi2_per_dof_prediction = prediction_chi2(&sizes).map(|chi2| chi2 / sizes.len() as f64);
    Ok(StudyReport {
        name: s.name.clone(),
        ensemble: ensemble.to_string(),
        observable: s.observable.name(),
        scanned: s.observable.scanned(),
        method: method_name(s.method),
        lambda: s.lambda,
        alpha: s.alpha,
        beta: s.beta,
        criterion: s.criterion,
        prune_tolerance: runs_dynamics(plan).then_some(plan.params.dynamics.prune_tolerance),
        top_k: runs_top_k(plan).then_some(TopKBounds::DEFAULT),
        theory: plan.theory,
        extrapolated: ex.a_inf(),
        ci_low: ci.0,
        ci_high: ci.1,
        deviation_sigma: (ex.a_inf() - plan.theory) / ex.std_errors[0],
        agrees: agrees(s.observable, plan.theory, ex.a_inf(), ci),
        increasing: plan.params.kind.retrieval_grows_with_x(),
        finite_size_form: ex.label,
        slope: ex.coefficients.get(1).copied().unwrap_or(0.0),
        residuals_sigma: ex.residuals.clone(),
        chi2_per_dof: ex.chi2_per_dof(),
        chi2_per_dof_prediction,
        prediction_p_value: prediction_p_value(&sizes),
        criterion_check: criterion_checks(plan, done, seed)?,
        form_check: form_checks(plan, &main, seed)?,
        points: point_counts(plan, &main),
        sizes,
    })
}

/// Reports of every study of a finished run.
///
/// # Errors
/// As [`report`].
pub fn summarise(
    title: &str,
    seed: u64,
    plans: &[Plan],
    done: &Done,
    ensemble: &str,
) -> Result<Summary, ValidationError> {
    Ok(Summary {
        title: title.to_string(),
        seed,
        studies: plans
            .iter()
            .map(|p| report(p, done, ensemble, seed))
            .collect::<Result<_, _>>()?,
    })
}

fn method_name(m: Method) -> &'static str {
    match m {
        Method::Dynamics => "dynamics",
        Method::FirstStep => "first-step",
    }
}

/// Success counts per size under a retrieval rule.
fn counts(plan: &Plan, done: &Done, retrieved: impl Fn(&TrialRecord) -> bool) -> Vec<SizeCounts> {
    plan.spec
        .sizes
        .iter()
        .map(|&n| SizeCounts {
            n,
            counts: (0..plan.grid(n).len())
                .map(|k| {
                    let (x, records) = &done[&(plan.spec.name.clone(), n, k)];
                    let successes = records.iter().filter(|r| retrieved(r)).count() as u64;
                    SuccessCount {
                        alpha: *x,
                        successes,
                        trials: records.len() as u64,
                    }
                })
                .collect(),
        })
        .collect()
}

/// Every size must have grid values on both sides of probability 1/2,
/// or there is no crossing to locate.
fn check_crossing(plan: &Plan, sizes: &[SizeCounts]) -> Result<(), ValidationError> {
    for size in sizes {
        if let Some(side) = side_without_crossing(&size.counts) {
            return Err(plan.spec.error(format!(
                "at N = {}: the retrieval probability stays {side} 1/2 over the whole grid; \
                 move the grid across the crossing",
                size.n
            )));
        }
    }
    Ok(())
}

/// `"above"` or `"below"` when every grid value's retrieved fraction is on
/// that side of 1/2; `None` when the grid reaches 1/2 from both sides. A
/// fraction of exactly 1/2 sits on the crossing, so it counts for both.
fn side_without_crossing(counts: &[SuccessCount]) -> Option<&'static str> {
    let reaches = |side: std::cmp::Ordering| {
        counts
            .iter()
            .any(|c| (2 * c.successes).cmp(&c.trials) != side)
    };
    if !reaches(std::cmp::Ordering::Greater) {
        Some("above")
    } else if !reaches(std::cmp::Ordering::Less) {
        Some("below")
    } else {
        None
    }
}

fn analysis(
    plan: &Plan,
    sizes: &[SizeCounts],
    seed: u64,
    form: FiniteSizeForm,
) -> Result<Analysis, ValidationError> {
    analyse(
        sizes,
        plan.spec.bootstrap,
        seed ^ name_hash(&plan.spec.name),
        form,
    )
    .map_err(|e| {
        plan.spec.error(format!(
            "cannot locate the crossing ({e}); widen the grid around it"
        ))
    })
}

/// Below this p-value the crossings reject their finite-`N` prediction
/// (`sum z^2` against a chi-square law with one degree of freedom per
/// size, nothing fitted), and the extrapolation does not follow it: the
/// threshold the analysis uses to reject the logistic shape.
pub const PREDICTION_REJECTION: f64 = LOGISTIC_REJECTION;

/// Each size's crossing judged against its finite-`N` prediction
/// (`prediction`, `z`), in size order.
fn judged_sizes(plan: &Plan, sizes: &[SizeCrossing]) -> Vec<SizeCrossing> {
    sizes
        .iter()
        .zip(&plan.predictions)
        .map(|(c, p)| c.with_prediction(*p))
        .collect()
}

/// `sum z^2` of judged crossings; `None` without a prediction at every
/// size.
fn prediction_chi2(sizes: &[SizeCrossing]) -> Option<f64> {
    sizes.iter().map(|c| c.z.map(|z| z * z)).sum()
}

/// The p-value of judged crossings against their finite-`N` predictions:
/// the chance that a chi-square variable with one degree of freedom per
/// size exceeds `sum z^2`. `None` without a prediction at every size.
fn prediction_p_value(sizes: &[SizeCrossing]) -> Option<f64> {
    let chi2 = prediction_chi2(sizes)?;
    let law = ChiSquared::new(sizes.len() as f64).ok()?;
    Some(law.sf(chi2))
}

/// The study's extrapolation: along its finite-`N` prediction
/// (docs/theory.md §9), `x_inf + b (prediction(N) - theory)`, so that the
/// shape of the approach comes from the theory and only its amplitude `b`
/// is fitted, when there is a prediction at every size and the crossings
/// do not reject it (p-value at least [`PREDICTION_REJECTION`]); else in
/// the configured form (`finite_size`). A rejected prediction has the
/// wrong shape at the simulated sizes (docs/theory.md §9 says where), and
/// a free amplitude along it would move the extrapolation by as much as
/// the prediction misses. `form_check` repeats the fit in every form.
///
/// # Errors
/// [`ValidationError::InvalidStudy`] when the fit fails.
fn main_extrapolation(plan: &Plan, a: &Analysis) -> Result<Extrapolation, ValidationError> {
    let judged = judged_sizes(plan, &a.sizes);
    let followed = prediction_p_value(&judged).is_some_and(|p| p >= PREDICTION_REJECTION);
    let predictions: Option<Vec<f64>> = plan.predictions.iter().copied().collect();
    let Some(predictions) = predictions.filter(|_| followed) else {
        return Ok(a.extrapolation.clone());
    };
    let points: Vec<SizePoint> = a.sizes.iter().map(SizeCrossing::point).collect();
    let shape: Vec<f64> = predictions.iter().map(|p| p - plan.theory).collect();
    extrapolate_along(&points, &shape, CONFIDENCE).map_err(|e| {
        plan.spec
            .error(format!("cannot extrapolate along the prediction ({e})"))
    })
}

/// The analysis repeated with the other overlap thresholds. Criteria on
/// the final overlap exist only where the dynamics ran to its end.
fn criterion_checks(
    plan: &Plan,
    done: &Done,
    seed: u64,
) -> Result<Vec<CriterionCheck>, ValidationError> {
    let s = &plan.spec;
    if s.method != Method::Dynamics || s.observable == Observable::AlphaC {
        return Ok(Vec::new());
    }
    OTHER_CRITERIA
        .iter()
        .map(|&c| {
            let sizes = counts(plan, done, |r| r.final_overlap >= c && r.w1_last > 0.5);
            let e = main_extrapolation(plan, &analysis(plan, &sizes, seed, s.finite_size)?)?;
            Ok(CriterionCheck {
                criterion: c,
                extrapolated: e.a_inf(),
                ci_low: e.a_inf_lower,
                ci_high: e.a_inf_upper,
            })
        })
        .collect()
}

/// The extrapolation repeated in every finite-size form.
fn form_checks(
    plan: &Plan,
    sizes: &[SizeCounts],
    seed: u64,
) -> Result<Vec<FormCheck>, ValidationError> {
    FORMS
        .iter()
        .map(|&f| {
            let e = analysis(plan, sizes, seed, f)?.extrapolation;
            Ok(FormCheck {
                form: f.label(),
                extrapolated: e.a_inf(),
                ci_low: e.a_inf_lower,
                ci_high: e.a_inf_upper,
                chi2_per_dof: e.chi2_per_dof(),
            })
        })
        .collect()
}

/// Every point's success count, for the summary.
fn point_counts(plan: &Plan, sizes: &[SizeCounts]) -> Vec<PointCount> {
    let streamed = |n, x| {
        let setup = plan.params.kind.setup(plan.params.law.clone(), n, x);
        runs_dynamics(plan) && streams(&setup, plan.params.memory_limit).unwrap_or(false)
    };
    sizes
        .iter()
        .flat_map(|sc| {
            sc.counts.iter().map(|c| PointCount {
                n: sc.n,
                x: c.alpha,
                successes: c.successes,
                trials: c.trials,
                streamed: streamed(sc.n, c.alpha),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The verdict rule: typical thresholds within max(half CI, 0.02); the
    /// all-patterns bound only must not be clearly above the simulation.
    #[test]
    fn agreement_rule() {
        let typical = Observable::Alpha1;
        // Within the 0.02 floor although outside the narrow interval.
        assert!(agrees(typical, 0.375, 0.39, (0.385, 0.395)));
        assert!(!agrees(typical, 0.375, 0.40, (0.395, 0.405)));
        assert!(agrees(typical, 0.375, 0.45, (0.30, 0.60)));
        assert!(!agrees(typical, 0.375, 0.45, (0.40, 0.50)));
        let bound = Observable::AlphaC;
        assert!(agrees(bound, 0.17, 0.30, (0.25, 0.35)));
        assert!(agrees(bound, 0.17, 0.16, (0.15, 0.17)));
        assert!(!agrees(bound, 0.17, 0.10, (0.08, 0.12)));
    }

    /// A grid locates a crossing when its fractions reach 1/2 from both
    /// sides; a fraction of exactly 1/2 is on the crossing (both sides).
    #[test]
    fn a_grid_must_reach_one_half_from_both_sides() {
        let grid = |successes: &[u64]| -> Vec<SuccessCount> {
            successes
                .iter()
                .zip(0..)
                .map(|(&s, k)| SuccessCount {
                    alpha: 0.4 + 0.02 * f64::from(k),
                    successes: s,
                    trials: 16,
                })
                .collect()
        };
        assert_eq!(side_without_crossing(&grid(&[12, 10, 9])), Some("above"));
        assert_eq!(side_without_crossing(&grid(&[7, 3, 0])), Some("below"));
        assert_eq!(side_without_crossing(&grid(&[12, 10, 8])), None);
        assert_eq!(side_without_crossing(&grid(&[8, 3, 0])), None);
        assert_eq!(side_without_crossing(&grid(&[8, 8, 8])), None);
        assert_eq!(side_without_crossing(&grid(&[12, 9, 2])), None);
    }

    /// The crossings at three sizes, each `z` standard errors (0.01) from
    /// its prediction.
    fn judged(predictions: &[f64], z: f64) -> Analysis {
        let sizes: Vec<SizeCrossing> = [8, 10, 12]
            .into_iter()
            .zip(predictions)
            .map(|(n, &p)| {
                let crossing = p + z * 0.01;
                SizeCrossing {
                    n,
                    crossing,
                    ci_low: crossing - 0.0196,
                    ci_high: crossing + 0.0196,
                    sigma: 0.01,
                    logistic_rejected: false,
                    prediction: None,
                    z: None,
                }
            })
            .collect();
        let points: Vec<SizePoint> = sizes.iter().map(SizeCrossing::point).collect();
        let extrapolation =
            crate::estimators::extrapolate(&points, FiniteSizeForm::InverseN, CONFIDENCE).unwrap();
        Analysis {
            sizes,
            extrapolation,
        }
    }

    /// The extrapolation follows the finite-N prediction unless the
    /// crossings reject it: at three sizes the 0.999 quantile of chi-square
    /// with 3 degrees of freedom is 16.27, so z = 2.30 at every size
    /// (sum 15.87) keeps it and z = 2.36 (16.71) falls back to the
    /// configured form. The p-value matches the closed form of the
    /// chi-square tail with 3 degrees of freedom at 3:
    /// `2 (1 - Phi(sqrt 3)) + sqrt(6 / pi) e^{-3/2} = 0.3916`.
    #[test]
    fn extrapolation_follows_the_prediction_unless_rejected() {
        let spec: crate::StudySpec = toml::from_str(
            "name = \"s\"\nobservable = \"alpha_1\"\nlambda = 0.5\nsizes = [8, 10, 12]\n\
             grid = { min = 0.3, max = 0.5, points = 3 }\ntrials = 10\nfinite_size = \"inverse-n\"\n",
        )
        .expect("parses");
        let gaussian = damcap_theory::by_name("gaussian").expect("built-in");
        let mut plan = Plan::new(&spec, gaussian.as_ref(), 1, 1 << 40).expect("valid");
        let predictions = [0.30, 0.33, 0.35];
        plan.predictions = predictions.iter().map(|&p| Some(p)).collect();
        let kept = main_extrapolation(&plan, &judged(&predictions, 2.30)).unwrap();
        assert_eq!(kept.label, crate::estimators::PREDICTED_FORM);
        // Every crossing 0.023 above its prediction, whose shape the fit
        // follows exactly: x_inf = theory + 0.023.
        assert!(
            (kept.a_inf() - (plan.theory + 0.023)).abs() < 1e-9,
            "{kept:?}"
        );
        let rejected = judged(&predictions, 2.36);
        let fallback = main_extrapolation(&plan, &rejected).unwrap();
        assert_eq!(fallback, rejected.extrapolation);
        assert_eq!(fallback.label, FiniteSizeForm::InverseN.label());
        let sizes = judged_sizes(&plan, &judged(&predictions, 1.0).sizes);
        let p = prediction_p_value(&sizes).unwrap();
        assert!((p - 0.3916).abs() < 1e-3, "{p}");
        plan.predictions[1] = None;
        assert_eq!(
            main_extrapolation(&plan, &judged(&predictions, 0.0))
                .unwrap()
                .label,
            FiniteSizeForm::InverseN.label()
        );
    }

    /// A dynamics point is marked streamed exactly when its matrix exceeds
    /// the memory limit: with 8192 bytes, `N = 12` at `alpha = 0.5`
    /// (`P = 403`, 19 344 bytes) streams, `N = 10` there (`P = 148`, 5920
    /// bytes) and `N = 12` at `alpha = 0.4` (`P = 122`, 5856 bytes) do
    /// not; only marked points write the field.
    #[test]
    fn streamed_points_are_marked() {
        let spec: crate::StudySpec = toml::from_str(
            "name = \"s\"\nobservable = \"alpha_1\"\nlambda = 0.5\nsizes = [8, 10, 12]\n\
             grid = { min = 0.3, max = 0.5, points = 3 }\ntrials = 10\n",
        )
        .expect("parses");
        let gaussian = damcap_theory::by_name("gaussian").expect("built-in");
        let plan = Plan::new(&spec, gaussian.as_ref(), 1, 8192).expect("valid");
        let sizes: Vec<SizeCounts> = [8, 10, 12]
            .into_iter()
            .map(|n| SizeCounts {
                n,
                counts: [0.3, 0.4, 0.5]
                    .map(|x| SuccessCount {
                        alpha: x,
                        successes: 5,
                        trials: 10,
                    })
                    .to_vec(),
            })
            .collect();
        let points = point_counts(&plan, &sizes);
        let marked: Vec<(usize, f64)> = points
            .iter()
            .filter(|p| p.streamed)
            .map(|p| (p.n, p.x))
            .collect();
        assert_eq!(marked, vec![(12, 0.5)]);
        let json = serde_json::to_string(&points[0]).unwrap();
        assert!(!json.contains("streamed"), "{json}");
        assert!(serde_json::to_string(&points[8])
            .unwrap()
            .contains("\"streamed\":true"));
    }

    /// The verdict table: a header, then one line per study with its
    /// theory value, interval and the verdict in the words of its kind
    /// (the all-patterns bound is judged one-sided).
    #[test]
    fn verdict_table_states_each_verdict() {
        let study = |name: &str, observable: Observable, agrees: bool| StudyReport {
            name: name.into(),
            method: "dynamics",
            observable: observable.name(),
            theory: 0.375,
            extrapolated: 0.38,
            ci_low: 0.36,
            ci_high: 0.4,
            agrees,
            ..StudyReport::default()
        };
        let summary = Summary {
            title: "t".into(),
            seed: 1,
            studies: vec![
                study("typical-yes", Observable::Alpha1, true),
                study("typical-no", Observable::Alpha1, false),
                study("bound-yes", Observable::AlphaC, true),
                study("bound-no", Observable::AlphaC, false),
            ],
        };
        let table = summary.verdict_table();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 5, "{table}");
        assert!(
            lines[0].starts_with("study") && lines[0].ends_with("agrees"),
            "{table}"
        );
        let verdicts = [
            "yes",
            "NO",
            "yes (not below the bound)",
            "NO (below the bound)",
        ];
        for ((line, verdict), name) in lines[1..].iter().zip(verdicts).zip([
            "typical-yes",
            "typical-no",
            "bound-yes",
            "bound-no",
        ]) {
            assert!(line.starts_with(name) && line.ends_with(verdict), "{line}");
            assert!(line.contains("0.3750  0.3800 [0.3600, 0.4000]"), "{line}");
        }
    }

    /// A plan from a study's TOML lines, for the gaussian ensemble.
    fn plan(toml_lines: &str) -> Plan {
        let spec: crate::StudySpec = toml::from_str(toml_lines).expect("parses");
        let gaussian = damcap_theory::by_name("gaussian").expect("built-in");
        Plan::new(&spec, gaussian.as_ref(), 1, 1 << 40).expect("valid")
    }

    /// Records of every point of `plan` whose retrieved counts follow a
    /// logistic of width 0.03 around `crossing(i)` at the `i`-th size. Every
    /// trial ends at overlap 0.99; the retrieved ones with `w1_last` 0.9,
    /// the others with exactly 0.5 (not retrieved: `w1` must exceed 1/2).
    fn synthetic_done(plan: &Plan, crossing: impl Fn(usize) -> f64) -> Done {
        let mut done = Done::new();
        for (i, &n) in plan.spec.sizes.iter().enumerate() {
            for (k, &x) in plan.grid(n).iter().enumerate() {
                let p = 1.0 / (1.0 + ((x - crossing(i)) / 0.03).exp());
                let successes = (p * plan.spec.trials as f64).round() as u64;
                let records = (0..plan.spec.trials)
                    .map(|trial| TrialRecord {
                        trial,
                        seed: trial,
                        retrieved: trial < successes,
                        final_overlap: 0.99,
                        steps: 3,
                        w1_first: 0.6,
                        w1_last: if trial < successes { 0.9 } else { 0.5 },
                    })
                    .collect();
                done.insert((plan.spec.name.clone(), n, k), (x, records));
            }
        }
        done
    }

    const STUDY: &str = "name = \"s\"\nlambda = 0.5\nsizes = [16, 24, 32]\n\
                         grid = { min = 0.25, max = 0.55, points = 7 }\ntrials = 60\n\
                         bootstrap = 200\n";

    /// The report of a dynamics study of alpha_1 whose crossings sit on
    /// their finite-N predictions: its fields follow from the analysis
    /// (deviation in standard errors, chi2 per size, the interval), the
    /// other criteria see the same counts here (every overlap is 0.99 and
    /// a weight of exactly 1/2 is not retrieved), and every form is
    /// checked.
    #[test]
    fn a_dynamics_report_follows_its_analysis() {
        let plan = plan(&format!("{STUDY}observable = \"alpha_1\"\n"));
        let predicted: Vec<f64> = plan.predictions.iter().map(|p| p.unwrap()).collect();
        let done = synthetic_done(&plan, |i| predicted[i]);
        let r = report(&plan, &done, "gaussian", 7).unwrap();
        assert_eq!(
            (r.name.as_str(), r.method, r.observable),
            ("s", "dynamics", "alpha_1")
        );
        assert_eq!(r.theory, plan.theory);
        assert_eq!(
            r.prune_tolerance,
            Some(plan.params.dynamics.prune_tolerance)
        );
        assert!(r.top_k.is_none());
        let z = crate::estimators::normal_quantile(CONFIDENCE).unwrap();
        let se = (r.ci_high - r.ci_low) / (2.0 * z);
        assert!(
            (r.deviation_sigma * se - (r.extrapolated - r.theory)).abs() < 1e-9,
            "{r:?}"
        );
        let chi2: f64 = r.sizes.iter().map(|c| c.z.unwrap().powi(2)).sum();
        let per_size = r.chi2_per_dof_prediction.unwrap();
        assert!(
            (per_size - chi2 / 3.0).abs() < 1e-12,
            "{per_size} against {chi2} / 3"
        );
        let criteria: Vec<f64> = r.criterion_check.iter().map(|c| c.criterion).collect();
        assert_eq!(criteria, OTHER_CRITERIA);
        for c in &r.criterion_check {
            assert_eq!(
                (c.extrapolated, c.ci_low, c.ci_high),
                (r.extrapolated, r.ci_low, r.ci_high)
            );
        }
        let forms: Vec<&str> = r.form_check.iter().map(|f| f.form).collect();
        assert_eq!(forms, FORMS.map(|f| f.label()));
        assert_eq!(r.points.len(), 3 * 7);
    }

    /// A first-step study may take the top-K step and has no pruning and
    /// no other criteria; an all-patterns study neither.
    #[test]
    fn reports_name_what_their_trials_ran() {
        for (extra, method, top_k) in [
            (
                "observable = \"alpha_1\"\nmethod = \"first-step\"\n",
                "first-step",
                true,
            ),
            ("observable = \"alpha_c\"\n", "dynamics", false),
        ] {
            let plan = plan(&format!("{STUDY}{extra}"));
            let middle = |i: usize| plan.grid(plan.spec.sizes[i])[3];
            let done = synthetic_done(&plan, middle);
            let r = report(&plan, &done, "gaussian", 7).unwrap();
            assert_eq!(r.method, method);
            assert!(r.prune_tolerance.is_none(), "{extra}");
            assert_eq!(r.top_k.is_some(), top_k, "{extra}");
            assert!(r.criterion_check.is_empty(), "{extra}");
        }
    }

    /// A size whose retrieved fraction never falls to 1/2 stops the
    /// report with the size and the fix.
    #[test]
    fn a_size_without_crossing_is_named() {
        let plan = plan(&format!("{STUDY}observable = \"alpha_1\"\n"));
        let done = synthetic_done(&plan, |i| if i == 1 { 5.0 } else { plan.theory });
        let error = report(&plan, &done, "gaussian", 7).unwrap_err().to_string();
        assert!(
            error.contains("at N = 24") && error.contains("stays above 1/2"),
            "{error}"
        );
    }
}
