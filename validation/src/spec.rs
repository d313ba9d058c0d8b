//! What a simulation study is: the config a user writes ([`StudySpec`],
//! deserialised straight from TOML), resolved against the theory into a
//! [`Plan`] (simulation parameters, grid, seeds, theory value).

use damcap_theory::attention::attention_thresholds;
use damcap_theory::basins::{lambda_star, rho_min};
use damcap_theory::finite_n::{alpha_1_dynamics_n, alpha_1_first_step_n, alpha_c_n, rho_min_n};
use damcap_theory::{alpha_1, alpha_c_lower, Ensemble};
use serde::Deserialize;

use crate::dynamics::DynamicsParams;
use crate::estimators::FiniteSizeForm;
use crate::seeds::SeedKey;
use crate::study::{Method, StudyKind, StudyParams};
use crate::ValidationError;

/// What a study measures, which fixes what its grid scans.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Observable {
    /// Typical pattern, started at xi^1; the grid scans alpha.
    #[serde(rename = "alpha_1")]
    Alpha1,
    /// Every pattern retrieved; the grid scans alpha.
    AlphaC,
    /// Start at overlap rho at fixed `alpha`; the grid scans rho.
    RhoMin,
    /// Start at xi^1 at fixed `alpha`; the grid scans lambda.
    LambdaStar,
    /// Attention scaling at fixed `beta`; the grid scans a = ln(P) / sqrt(N).
    #[serde(rename = "a_1")]
    A1,
}

impl Observable {
    /// The observable's name in outputs.
    pub fn name(self) -> &'static str {
        match self {
            Observable::Alpha1 => "alpha_1",
            Observable::AlphaC => "alpha_c",
            Observable::RhoMin => "rho_min",
            Observable::LambdaStar => "lambda_star",
            Observable::A1 => "a_1",
        }
    }

    /// The range of the scanned variable: loads, temperatures and `a` are
    /// positive, overlaps lie in `(0, 1]`.
    pub fn domain(self) -> (f64, f64) {
        match self {
            Observable::RhoMin => (0.0, 1.0),
            _ => (0.0, f64::INFINITY),
        }
    }

    /// The variable its grid scans.
    pub fn scanned(self) -> &'static str {
        match self {
            Observable::Alpha1 | Observable::AlphaC => "alpha",
            Observable::RhoMin => "rho",
            Observable::LambdaStar => "lambda",
            Observable::A1 => "a",
        }
    }
}

/// The scanned values at each size.
///
/// Two placements:
/// - `{ min, max, points }`: the same uniform grid at every N;
/// - `{ half_width, points }` (optionally with `min`, `max` as walls): an
///   adaptive window of `points` values on `centre ± half_width`, where the
///   centre is the predicted crossing at that N.
///   The window is shifted, not shrunk, to stay inside the walls and the
///   observable's domain, so trials go where the retrieval probability
///   changes and not where `P = e^{alpha N}` is largest for nothing. The
///   placement depends on the config alone, and every raw CSV row records
///   its grid value.
#[derive(Debug, Deserialize, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    /// First value (uniform grid), or lower wall (adaptive window).
    #[serde(default)]
    pub min: Option<f64>,
    /// Last value (uniform grid), or upper wall (adaptive window).
    #[serde(default)]
    pub max: Option<f64>,
    /// Number of values (>= 3).
    pub points: usize,
    /// Half the width of the adaptive window around the predicted crossing.
    #[serde(default)]
    pub half_width: Option<f64>,
}

impl Grid {
    /// The values at a size whose predicted crossing is `centre`, inside
    /// the observable's `domain` (open at a zero end, closed at the other).
    fn values(&self, centre: f64, domain: (f64, f64)) -> Vec<f64> {
        let (lo, hi) = match self.half_width {
            None => (self.min.unwrap_or(domain.0), self.max.unwrap_or(domain.1)),
            Some(h) => {
                let floor = self.min.unwrap_or(domain.0).max(domain.0);
                let ceil = self.max.unwrap_or(domain.1).min(domain.1);
                window(centre, h, floor, ceil)
            }
        };
        (0..self.points)
            .map(|k| lo + (hi - lo) * k as f64 / (self.points - 1) as f64)
            .collect()
    }

    /// Whether the grid is well formed: a uniform grid with `min < max`,
    /// or a window with a positive half width and ordered walls.
    fn check(&self) -> Result<(), &'static str> {
        if self.points < 3 {
            return Err("the grid needs at least 3 points");
        }
        let finite = |v: Option<f64>| v.is_none_or(f64::is_finite);
        if !finite(self.min) || !finite(self.max) {
            return Err("the grid's min and max must be finite numbers");
        }
        if let (Some(a), Some(b)) = (self.min, self.max) {
            if a >= b {
                return Err("the grid needs min < max");
            }
        }
        match self.half_width {
            None if self.min.is_none() || self.max.is_none() => Err(
                "give the grid either min and max (a uniform grid) or half_width \
                 (a window around the predicted crossing at each N)",
            ),
            Some(h) if !(h > 0.0 && h.is_finite()) => {
                Err("the grid's half_width must be a positive number")
            }
            _ => Ok(()),
        }
    }
}

/// `[centre - h, centre + h]` shifted to fit inside `[floor, ceil]`, or the
/// whole of `[floor, ceil]` when it is narrower than `2 h`. A zero floor
/// (a load, a temperature, an overlap) is kept out by a margin of 1e-3 of
/// the window, since the scanned value must be positive.
fn window(centre: f64, h: f64, floor: f64, ceil: f64) -> (f64, f64) {
    let floor = if floor == 0.0 { 1e-3 * h } else { floor };
    if ceil - floor <= 2.0 * h {
        return (floor, ceil);
    }
    let lo = (centre - h).clamp(floor, ceil - 2.0 * h);
    (lo, lo + 2.0 * h)
}

/// One simulation study, as written in a validate config (`[[study]]`).
#[derive(Debug, Deserialize, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StudySpec {
    /// Identifier, unique within the config (used in the raw CSV).
    pub name: String,
    /// What is measured.
    pub observable: Observable,
    /// Inverse temperature (unused for `a_1`, which takes `beta`).
    #[serde(default)]
    pub lambda: Option<f64>,
    /// Fixed load for `rho_min` and `lambda_star`.
    #[serde(default)]
    pub alpha: Option<f64>,
    /// Scaled inverse temperature for `a_1`.
    #[serde(default)]
    pub beta: Option<f64>,
    /// System sizes N.
    pub sizes: Vec<usize>,
    /// The scanned variable.
    pub grid: Grid,
    /// Trials per (N, grid value) point.
    pub trials: u64,
    /// Simulation method.
    #[serde(default)]
    pub method: Method,
    /// Normalised final overlap above which a trial counts as retrieved
    /// (default 0.9).
    #[serde(default = "default_criterion")]
    pub criterion: f64,
    /// Step cap of the dynamics (default 100).
    #[serde(default = "default_max_steps")]
    pub max_steps: usize,
    /// Bootstrap replicates for the crossing's confidence interval.
    #[serde(default = "default_bootstrap")]
    pub bootstrap: usize,
    /// Extrapolation form in N.
    #[serde(default)]
    pub finite_size: FiniteSizeForm,
}

/// Most trials per point a study may ask for (the statistics saturate
/// long before; larger runs belong in several configs or shards).
pub const MAX_TRIALS: u64 = 1_000_000;

/// Most grid points a study may scan.
pub const MAX_GRID_POINTS: usize = 1000;

/// Most estimated multiply-adds a whole config may need
/// ([`crate::study::StudyParams::trial_cost`] summed over every trial):
/// about a day on two cores at the kernel's speed.
pub const MAX_WORK: f64 = 1e15;

fn default_criterion() -> f64 {
    0.9
}

fn default_max_steps() -> usize {
    100
}

fn default_bootstrap() -> usize {
    400
}

impl StudySpec {
    /// An error about this study.
    pub(crate) fn error(&self, message: impl Into<String>) -> ValidationError {
        ValidationError::InvalidStudy {
            study: self.name.clone(),
            message: message.into(),
        }
    }

    /// The study kind, with the fixed parameters its observable needs.
    ///
    /// # Errors
    /// [`ValidationError::InvalidStudy`] when a needed parameter is missing.
    pub fn kind(&self) -> Result<StudyKind, ValidationError> {
        let need = |value: Option<f64>, key: &str| {
            value.ok_or_else(|| {
                self.error(format!(
                    "observable {} needs `{key}`",
                    self.observable.name()
                ))
            })
        };
        Ok(match self.observable {
            Observable::Alpha1 => StudyKind::Typical {
                lambda: need(self.lambda, "lambda")?,
            },
            Observable::AlphaC => StudyKind::AllPatterns {
                lambda: need(self.lambda, "lambda")?,
            },
            Observable::RhoMin => StudyKind::Basin {
                alpha: need(self.alpha, "alpha")?,
                lambda: need(self.lambda, "lambda")?,
            },
            Observable::LambdaStar => StudyKind::LambdaScan {
                alpha: need(self.alpha, "alpha")?,
            },
            Observable::A1 => StudyKind::Attention {
                beta: need(self.beta, "beta")?,
            },
        })
    }

    /// Checks the parts of a study that the simulation does not.
    ///
    /// # Errors
    /// [`ValidationError::InvalidStudy`] naming the problem and the fix.
    pub fn check(&self) -> Result<(), ValidationError> {
        let observable = self.observable.name();
        let unused = match self.observable {
            Observable::Alpha1 | Observable::AlphaC => {
                vec![("alpha", self.alpha), ("beta", self.beta)]
            }
            Observable::RhoMin => vec![("beta", self.beta)],
            Observable::LambdaStar => vec![("lambda", self.lambda), ("beta", self.beta)],
            Observable::A1 => vec![("lambda", self.lambda), ("alpha", self.alpha)],
        };
        if let Some((key, _)) = unused.iter().find(|(_, v)| v.is_some()) {
            return Err(self.error(format!(
                "`{key}` is not used by observable {observable}; remove it"
            )));
        }
        if self.name.is_empty()
            || self
                .name
                .contains(|c: char| c.is_control() || matches!(c, ',' | '"'))
        {
            return Err(self.error(
                "the name labels rows of the raw CSV: use a non-empty name without commas, \
                 quotes or control characters (line breaks, tabs)",
            ));
        }
        let mut distinct = self.sizes.clone();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() < 3 || self.sizes.iter().any(|&n| n < 2) {
            return Err(
                self.error("give at least 3 distinct sizes, each >= 2, to extrapolate in N")
            );
        }
        if distinct.len() < self.sizes.len() {
            return Err(self.error("a size is repeated in `sizes`; list each N once"));
        }
        if self.trials > MAX_TRIALS || self.grid.points > MAX_GRID_POINTS {
            return Err(self.error(format!(
                "at most {MAX_TRIALS} trials per point and {MAX_GRID_POINTS} grid points \
                 (got {} and {}); split the study",
                self.trials, self.grid.points
            )));
        }
        self.grid.check().map_err(|e| self.error(e))?;
        if self.trials < 10 || self.bootstrap < 20 {
            return Err(self.error("use at least 10 trials per point and 20 bootstrap replicates"));
        }
        if !(self.criterion > 0.0 && self.criterion < 1.0) {
            return Err(self.error(format!(
                "criterion is a normalised overlap in (0, 1), got {}",
                self.criterion
            )));
        }
        if self.method == Method::FirstStep && self.observable == Observable::AlphaC {
            return Err(self.error("the all-patterns study (alpha_c) needs method = \"dynamics\""));
        }
        Ok(())
    }
}

/// The theory value a study's extrapolated crossing is compared with
/// (docs/theory.md §3, §4, §6, §8): `alpha_1` for typical studies, the
/// union-bound `alpha_c` for all-patterns studies, `rho_min` for basins,
/// `lambda_*` (from overlap 1) for lambda scans, and `a_1` in the
/// `N -> infinity` limit for attention studies.
///
/// # Errors
/// [`ValidationError::Theory`] when the theory refuses the parameters, and
/// [`ValidationError::InvalidParameter`] when there is nothing to measure
/// (no basin above `alpha_1`, no `lambda` that retrieves).
pub fn theory_value(kind: &StudyKind, e: &dyn Ensemble) -> Result<f64, ValidationError> {
    let nothing = |msg: &str| ValidationError::InvalidParameter(msg.to_string());
    Ok(match *kind {
        StudyKind::Typical { lambda } => alpha_1(e, lambda)?,
        StudyKind::AllPatterns { lambda } => alpha_c_lower(e, lambda)?.alpha_c_lower,
        StudyKind::Basin { alpha, lambda } => rho_min(e, alpha, lambda)?
            .rho_min
            .ok_or_else(|| nothing("alpha >= alpha_1: no basin to measure; lower alpha"))?,
        StudyKind::LambdaScan { alpha } => lambda_star(e, alpha, 1.0)?
            .ok_or_else(|| nothing("no lambda retrieves at this alpha; lower alpha"))?,
        StudyKind::Attention { beta } => attention_thresholds(e, beta, None)?.a_1,
    })
}

/// The finite-`N` prediction of a study's crossing at size `n`
/// (docs/theory.md §9), or `None` where none is derived (lambda scans,
/// all-patterns studies of law files and spherical patterns).
///
/// # Errors
/// [`ValidationError::Theory`] when the theory refuses the parameters.
pub fn predicted_crossing(
    kind: &StudyKind,
    method: Method,
    e: &dyn Ensemble,
    n: usize,
) -> Result<Option<f64>, ValidationError> {
    let nf = n as f64;
    let typical = |lambda: f64| match method {
        Method::FirstStep => alpha_1_first_step_n(e, lambda, nf),
        Method::Dynamics => alpha_1_dynamics_n(e, lambda, nf),
    };
    Ok(match *kind {
        StudyKind::Typical { lambda } => Some(typical(lambda)?),
        StudyKind::AllPatterns { lambda } => alpha_c_n(e, lambda, nf)?,
        StudyKind::Basin { alpha, lambda } => Some(rho_min_n(e, alpha, lambda, nf)?),
        StudyKind::LambdaScan { .. } => None,
        StudyKind::Attention { beta } => Some(nf.sqrt() * typical(beta / nf.sqrt())?),
    })
}

/// A study resolved against the theory: its simulation parameters, grid,
/// seeds and theory value.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The study as configured.
    pub spec: StudySpec,
    /// Everything that defines its trials.
    pub params: StudyParams,
    /// The grid values at each size, in the order of `spec.sizes`.
    pub grids: Vec<Vec<f64>>,
    /// The theory value its crossing is compared with.
    pub theory: f64,
    /// The finite-`N` prediction of the crossing at each size, in size
    /// order ([`predicted_crossing`]).
    pub predictions: Vec<Option<f64>>,
    /// The sizes whose prediction the theory could not give, each with the
    /// reason (in the frozen phase at very small `N` there is no crossing
    /// at all): their grids centre on the theory value instead, and the
    /// caller should say so.
    pub unpredicted: Vec<(usize, String)>,
    master_seed: u64,
}

impl Plan {
    /// Resolves `spec` for `ensemble`, checking every point of the grid
    /// before any is run, so a bad grid fails at once. `memory_limit` caps
    /// the bytes of pattern matrices alive at once.
    ///
    /// # Errors
    /// [`ValidationError::InvalidStudy`] naming the study and the problem.
    pub fn new(
        spec: &StudySpec,
        ensemble: &dyn Ensemble,
        master_seed: u64,
        memory_limit: u64,
    ) -> Result<Plan, ValidationError> {
        let kind = spec.kind()?;
        spec.check()?;
        let theory = theory_value(&kind, ensemble).map_err(|e| spec.error(e.to_string()))?;
        let params = StudyParams {
            kind,
            law: ensemble.pattern_law(),
            method: spec.method,
            dynamics: DynamicsParams {
                tolerance: 1e-6,
                max_steps: spec.max_steps,
                retrieval_threshold: spec.criterion,
                ..DynamicsParams::default()
            },
            memory_limit,
        };
        // A size where the finite-N theory gives no crossing (the frozen
        // saddle-node at very small N) has no prediction, and the reason is
        // kept: the run goes on.
        let mut unpredicted = Vec::new();
        let predictions: Vec<Option<f64>> = spec
            .sizes
            .iter()
            .map(|&n| {
                predicted_crossing(&kind, spec.method, ensemble, n).unwrap_or_else(|e| {
                    unpredicted.push((n, e.to_string()));
                    None
                })
            })
            .collect();
        // An adaptive window centres on the prediction, or on the limit
        // where there is none.
        let grids: Vec<Vec<f64>> = predictions
            .iter()
            .map(|p| {
                spec.grid
                    .values(p.unwrap_or(theory), spec.observable.domain())
            })
            .collect();
        for (&n, grid) in spec.sizes.iter().zip(&grids) {
            for &x in grid {
                params
                    .trial_cost(n, x)
                    .and_then(|_| params.check_memory(n, x, spec.trials))
                    .map_err(|e| {
                        spec.error(format!(
                            "at N = {n}, x = {x}: {e}: shrink the grid or the sizes"
                        ))
                    })?;
            }
        }
        Ok(Plan {
            spec: spec.clone(),
            params,
            grids,
            theory,
            predictions,
            unpredicted,
            master_seed,
        })
    }

    /// The grid values at size `n` (empty for a size not in the study).
    pub fn grid(&self, n: usize) -> &[f64] {
        self.spec
            .sizes
            .iter()
            .position(|&m| m == n)
            .map_or(&[], |i| &self.grids[i])
    }

    /// Seeds of the trials at size `n`, grid index `k`: a function of the
    /// master seed, the study's name and the point only.
    pub fn key(&self, n: usize, k: usize) -> SeedKey {
        SeedKey::new(
            self.master_seed,
            &[name_hash(&self.spec.name), n as u64, k as u64],
        )
    }

    /// Estimated multiply-adds of the point `(n, grid index k)`, all its
    /// trials together.
    pub fn point_work(&self, n: usize, k: usize) -> f64 {
        self.params.trial_cost(n, self.grid(n)[k]).unwrap_or(0.0) * self.spec.trials as f64
    }

    /// Estimated multiply-adds of the whole study.
    pub fn work(&self) -> f64 {
        let points = self
            .spec
            .sizes
            .iter()
            .flat_map(|&n| (0..self.grid(n).len()).map(move |k| (n, k)));
        points.map(|(n, k)| self.point_work(n, k)).sum()
    }

    /// The master seed of the config.
    pub fn master_seed(&self) -> u64 {
        self.master_seed
    }
}

/// FNV-1a hash of a study name, so seeds do not depend on study order.
pub(crate) fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use damcap_theory::by_name;

    fn study(grid: &str) -> Result<StudySpec, toml::de::Error> {
        toml::from_str(&format!(
            "name = \"s\"\nobservable = \"alpha_1\"\nlambda = 0.5\nsizes = [8, 10, 12]\n\
             grid = {grid}\ntrials = 10\n"
        ))
    }

    fn plan(grid: &str) -> Result<Plan, ValidationError> {
        let e = by_name("gaussian").expect("built-in");
        Plan::new(&study(grid).expect("parses"), e.as_ref(), 1, 1 << 30)
    }

    /// The plan of a first-step study of 25 trials a point: `ensemble` at
    /// `lambda`, over `sizes` and `grid` (TOML), with `seed`.
    fn first_step_plan(
        ensemble: &str,
        lambda: f64,
        sizes: &[usize],
        grid: &str,
        seed: u64,
    ) -> Plan {
        let spec: StudySpec = toml::from_str(&format!(
            "name = \"s\"\nobservable = \"alpha_1\"\nlambda = {lambda:?}\nsizes = {sizes:?}\n\
             grid = {grid}\ntrials = 25\nmethod = \"first-step\"\n"
        ))
        .expect("parses");
        let e = by_name(ensemble).expect("built-in");
        Plan::new(&spec, e.as_ref(), seed, 1 << 30).expect("valid")
    }

    /// A uniform grid is the same at every size, ends included.
    #[test]
    fn uniform_grid_is_shared_by_sizes() {
        let p = plan("{ min = 0.1, max = 0.5, points = 5 }").expect("valid");
        for n in [8, 10, 12] {
            let g = p.grid(n);
            assert_eq!(g.len(), 5);
            assert!((g[0] - 0.1).abs() < 1e-15 && (g[4] - 0.5).abs() < 1e-15);
            assert!((g[1] - 0.2).abs() < 1e-15, "uniform spacing, got {g:?}");
        }
        assert!(p.grid(9).is_empty(), "no grid at a size outside the study");
    }

    /// A size with no finite-N prediction (gaussian, lambda = 2, the
    /// frozen first step at N = 2, whose condition fails at every load) is
    /// planned without one, and the reason is kept for the caller; the
    /// other sizes have theirs.
    #[test]
    fn sizes_without_a_prediction_keep_the_reason() {
        let grid = "{ min = 0.2, max = 1.2, points = 4 }";
        let plan = first_step_plan("gaussian", 2.0, &[2, 4, 6], grid, 1);
        assert_eq!(plan.predictions[0], None);
        assert!(plan.predictions[1..].iter().all(Option::is_some));
        assert_eq!(plan.unpredicted.len(), 1);
        let (n, why) = &plan.unpredicted[0];
        assert_eq!(*n, 2);
        assert!(
            why.contains("no frozen first-step crossing at N = 2"),
            "{why}"
        );
    }

    /// An adaptive window is centred on the finite-N prediction at each
    /// size (docs/theory.md §9), which moves with N below the limit
    /// `alpha_1(0.5) = 0.375`, and is shifted, keeping its width, to stay
    /// above a wall.
    #[test]
    fn adaptive_window_follows_the_prediction() {
        let centred = plan("{ half_width = 0.05, points = 5 }").expect("valid");
        for (i, n) in [8, 10, 12].into_iter().enumerate() {
            let centre = centred.predictions[i].expect("a typical study has a prediction");
            let g = centred.grid(n);
            assert!(
                centre < 0.375 && (g[2] - centre).abs() < 1e-12,
                "N {n}: {g:?}"
            );
            assert!((g[4] - g[0] - 0.1).abs() < 1e-12);
        }
        assert!(centred.predictions[0] < centred.predictions[2]);

        let wall = centred.predictions[1].unwrap() + 0.01;
        let walled = plan(&format!(
            "{{ half_width = 0.05, points = 5, min = {wall} }}"
        ))
        .expect("valid");
        let g = walled.grid(10);
        assert!(
            (g[0] - wall).abs() < 1e-12 && (g[4] - wall - 0.1).abs() < 1e-12,
            "{g:?}"
        );

        let narrow = plan("{ half_width = 0.5, points = 3, max = 0.4 }").expect("valid");
        let g = narrow.grid(10);
        assert!(
            g[0] > 0.0 && g[0] < 1e-3,
            "a load stays positive, got {g:?}"
        );
        assert!((g[2] - 0.4).abs() < 1e-12, "the walls bound a wide window");
    }

    /// Overlaps stay in (0, 1] whatever the window.
    #[test]
    fn windows_respect_the_domain() {
        let (lo, hi) = window(0.98, 0.1, 0.0, 1.0);
        assert!((hi - 1.0).abs() < 1e-15 && (lo - 0.8).abs() < 1e-15);
        let (lo, hi) = window(0.01, 0.1, 0.0, 1.0);
        assert!((lo - 1e-4).abs() < 1e-15 && (hi - lo - 0.2).abs() < 1e-15);
        // A window of 0.9998 does not fit in (0.0005, 1]: the whole domain.
        assert_eq!(window(0.5, 0.4999, 0.0, 1.0), (1e-3 * 0.4999, 1.0));
    }

    /// Keys a study may omit take the defaults its documentation gives.
    #[test]
    fn omitted_keys_take_their_defaults() {
        let s = study("{ min = 0.1, max = 0.5, points = 5 }").unwrap();
        assert_eq!(s.method, Method::Dynamics);
        assert_eq!((s.criterion, s.max_steps), (0.9, 100));
        assert_eq!(s.finite_size, FiniteSizeForm::InverseN);
    }

    /// Ill-formed grids are refused with the fix in the message.
    #[test]
    fn bad_grids_are_named() {
        let refusals = [
            ("{ min = 0.5, max = 0.1, points = 5 }", "min < max"),
            ("{ min = 0.1, points = 5 }", "either min and max"),
            ("{ half_width = 0.0, points = 5 }", "positive"),
            ("{ half_width = 0.1, points = 2 }", "at least 3 points"),
            (
                "{ half_width = 0.1, points = 5, min = 0.3, max = 0.2 }",
                "min < max",
            ),
            ("{ min = nan, max = 0.5, points = 5 }", "finite numbers"),
            ("{ min = 0.1, max = inf, points = 5 }", "finite numbers"),
        ];
        for (grid, fix) in refusals {
            let err = plan(grid).expect_err(grid).to_string();
            assert!(err.contains(fix), "{grid}: {err}");
        }
        assert!(study("{ half_width = 0.1, points = 5, centre = 1 }").is_err());
    }

    /// What each observable scans and over which range (the labels name
    /// the CSV's and summary's scanned variable).
    #[test]
    fn observables_scan_their_variable_over_its_range() {
        let all = [
            (Observable::Alpha1, "alpha", f64::INFINITY),
            (Observable::AlphaC, "alpha", f64::INFINITY),
            (Observable::RhoMin, "rho", 1.0),
            (Observable::LambdaStar, "lambda", f64::INFINITY),
            (Observable::A1, "a", f64::INFINITY),
        ];
        for (observable, scanned, top) in all {
            assert_eq!(observable.scanned(), scanned);
            assert_eq!(observable.domain(), (0.0, top), "{scanned}");
        }
    }

    /// Each rule of a study's check refuses on its own, with its fix; the
    /// limits themselves are accepted.
    #[test]
    fn each_study_rule_is_checked() {
        let spec = |name: &str, sizes: &str, trials: u64, points: usize, extra: &str| {
            let text = format!(
                "name = \"{name}\"\nobservable = \"alpha_1\"\nlambda = 0.5\nsizes = {sizes}\n\
                 grid = {{ min = 0.1, max = 0.5, points = {points} }}\ntrials = {trials}\n{extra}"
            );
            toml::from_str::<StudySpec>(&text).expect("parses")
        };
        let ok = |sizes: &str, trials, points, extra: &str| spec("s", sizes, trials, points, extra);
        for accepted in [
            ok("[2, 3, 4]", 10, 3, "bootstrap = 20\n"),
            ok("[8, 10, 12]", MAX_TRIALS, MAX_GRID_POINTS, ""),
            ok("[8, 10, 12]", 10, 3, "criterion = 0.999\n"),
        ] {
            assert!(accepted.check().is_ok(), "{accepted:?}");
        }
        let refused = [
            (spec("", "[8, 10, 12]", 10, 3, ""), "non-empty name"),
            (spec("a,b", "[8, 10, 12]", 10, 3, ""), "without commas"),
            (spec("a\\\"b", "[8, 10, 12]", 10, 3, ""), "without commas"),
            (spec("a\\tb", "[8, 10, 12]", 10, 3, ""), "without commas"),
            (ok("[8, 10]", 10, 3, ""), "at least 3 distinct sizes"),
            (ok("[8, 8, 10]", 10, 3, ""), "at least 3 distinct sizes"),
            (ok("[1, 8, 10]", 10, 3, ""), "each >= 2"),
            (ok("[8, 10, 12, 10]", 10, 3, ""), "list each N once"),
            (ok("[8, 10, 12]", MAX_TRIALS + 1, 3, ""), "split the study"),
            (
                ok("[8, 10, 12]", 10, MAX_GRID_POINTS + 1, ""),
                "split the study",
            ),
            (ok("[8, 10, 12]", 9, 3, ""), "at least 10 trials"),
            (ok("[8, 10, 12]", 10, 3, "bootstrap = 19\n"), "20 bootstrap"),
            (ok("[8, 10, 12]", 10, 3, "criterion = 1.0\n"), "in (0, 1)"),
            (ok("[8, 10, 12]", 10, 3, "criterion = 0.0\n"), "in (0, 1)"),
        ];
        for (spec, fix) in refused {
            let error = spec.check().expect_err(fix).to_string();
            assert!(error.contains(fix), "{spec:?}: {error}");
        }
    }

    /// Study names hash by 64-bit FNV-1a: the published test vectors of
    /// the FNV specification (offset basis for the empty string).
    #[test]
    fn study_names_hash_by_fnv_1a() {
        assert_eq!(name_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(name_hash("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(name_hash("foobar"), 0x8594_4171_f739_67e8);
    }

    /// The work of a binary first-step study is `N` level counts per
    /// trial (the cost model of `StudyParams::trial_cost`), so a point
    /// costs `N trials` and the study the sum over its grid; the plan
    /// keeps the master seed it was given.
    #[test]
    fn binary_first_step_work_counts_levels() {
        let grid = "{ min = 0.1, max = 0.3, points = 3 }";
        let plan = first_step_plan("binary", 0.5, &[8, 10, 12], grid, 987_654_321);
        assert_eq!(plan.master_seed(), 987_654_321);
        for n in [8, 10, 12] {
            for k in 0..3 {
                assert_eq!(plan.point_work(n, k), (n * 25) as f64, "N {n}, k {k}");
            }
        }
        assert_eq!(plan.work(), ((8 + 10 + 12) * 3 * 25) as f64);
    }

    /// Under attention scaling the prediction of `a = ln P / sqrt N` at
    /// `N` is `sqrt N` times the first-step crossing at `lambda = beta /
    /// sqrt N`. It must approach the REM value `sqrt N alpha_1(beta /
    /// sqrt N)` (the theory crate's attention thresholds at that `N`) as
    /// the finite-N correction vanishes: at `beta = 1` the gap is 6e-3 at
    /// `N = 100` and 4e-4 at `N = 1600`, close to `1/N`. A wrong scaling
    /// (`lambda = beta sqrt N`, `a = sqrt N + alpha`) misses by order 1.
    #[test]
    fn attention_prediction_approaches_the_scaled_rem_threshold() {
        let e = by_name("gaussian").expect("built-in");
        let kind = StudyKind::Attention { beta: 1.0 };
        let gap = |n: usize| {
            let predicted = predicted_crossing(&kind, Method::FirstStep, e.as_ref(), n)
                .expect("solves")
                .expect("derived");
            let rem = attention_thresholds(e.as_ref(), 1.0, Some(n as f64))
                .expect("solves")
                .a_1;
            (predicted - rem).abs()
        };
        let (near, far) = (gap(100), gap(1600));
        assert!(far < 2e-3, "gap at N = 1600: {far}");
        assert!(
            far < near / 4.0,
            "gaps {near} at N = 100, {far} at N = 1600"
        );
    }
}
