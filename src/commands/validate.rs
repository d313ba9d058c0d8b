//! `damcap validate CONFIG`: Monte Carlo studies checked against the
//! theory, with a per-trial CSV that doubles as a checkpoint.
//!
//! Points `(study, N, x)` run one after the other, their trials in
//! parallel. After each point the raw CSV is rewritten atomically, so
//! Ctrl-C (or a crash) loses at most the point in progress, and a rerun
//! of the same command skips every point already in the CSV whose seeds
//! match the config.

use anyhow::{bail, Context, Result};
use damcap_theory::attention::attention_thresholds;
use damcap_theory::basins::{lambda_star, rho_min};
use damcap_theory::thresholds::{alpha_1, alpha_c_lower};
use damcap_theory::Ensemble;
use damcap_validation::dynamics::DynamicsParams;
use damcap_validation::estimators::{wilson_interval, FiniteSizeForm, SuccessCount};
use damcap_validation::seeds::SeedKey;
use damcap_validation::study::{
    analyse, run_point, Analysis, Method, SizeCounts, StudyKind, StudyParams, TrialRecord,
    CONFIDENCE,
};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::config::{self, Config, FiniteSize, Observable, Study, Validate};
use crate::output::{self, Csv};
use crate::plot::{render_svg, Line, Panel, Points, PALETTE};

/// Arguments of `damcap validate`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Path of a `kind = "validate"` config.
    config: PathBuf,
    /// Print the summary JSON on standard output.
    #[arg(long)]
    json: bool,
}

/// Bytes of pattern matrices allowed in memory at once.
const MEMORY_LIMIT: u64 = 4 << 30;
/// Alternative retrieval criteria whose crossings are reported beside the
/// configured one, to show the result does not hinge on it.
const OTHER_CRITERIA: [f64; 2] = [0.8, 0.95];

/// `damcap validate`.
pub fn run(args: &Args) -> Result<()> {
    let Config::Validate(config) = config::load(&args.config)? else {
        bail!(
            "{} is not a validate config: set kind = \"validate\"",
            args.config.display()
        );
    };
    let summary = run_config(&config)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    }
    Ok(())
}

/// Runs (or resumes) every study of a config and writes its outputs.
pub fn run_config(config: &Validate) -> Result<Summary> {
    let ensemble = super::ensemble(&config.ensemble)?;
    let plans: Vec<Plan> = config
        .study
        .iter()
        .map(|s| Plan::new(s, ensemble.as_ref(), config.seed))
        .collect::<Result<_>>()?;
    check_unique_names(&config.study)?;
    for path in [&config.raw_csv, &config.summary_json, &config.svg] {
        output::check_writable(path)?;
    }
    let mut done = load_checkpoint(&config.raw_csv, &plans)?;
    let interrupted = interrupt_flag()?;
    simulate(&plans, &mut done, &config.raw_csv, &interrupted)?;
    if interrupted.load(Ordering::SeqCst) {
        bail!(
            "interrupted: {} finished points kept in {}; rerun the same command to resume",
            done.len(),
            config.raw_csv.display()
        );
    }
    let reports: Vec<StudyReport> = plans
        .iter()
        .map(|p| report(p, &done, ensemble.as_ref(), config.seed))
        .collect::<Result<_>>()?;
    let summary = Summary {
        title: config.title.clone(),
        seed: config.seed,
        studies: reports,
    };
    output::write_atomic(
        &config.summary_json,
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    let mut all_panels: Vec<Panel> = summary.studies.iter().flat_map(panels).collect();
    all_panels.extend(attention_panel(&summary.studies, ensemble.as_ref())?);
    let svg = render_svg(&config.title, &all_panels, 2)?;
    output::write_atomic(&config.svg, svg.as_bytes())?;
    eprintln!(
        "wrote {}, {} and {}",
        config.raw_csv.display(),
        config.summary_json.display(),
        config.svg.display()
    );
    Ok(summary)
}

fn check_unique_names(studies: &[Study]) -> Result<()> {
    let mut seen = HashSet::new();
    for s in studies {
        if s.name.contains(',') || !seen.insert(&s.name) {
            bail!("study name '{}' is repeated or contains a comma; give each study a unique plain name", s.name);
        }
    }
    Ok(())
}

/// Ctrl-C sets the flag; the run stops after the point in progress. A
/// second Ctrl-C exits at once (files are only ever replaced atomically).
/// One handler and one flag per process: `figures --validate` runs several
/// configs, and an interrupt stops them all.
fn interrupt_flag() -> Result<Arc<AtomicBool>> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    if let Some(flag) = FLAG.get() {
        return Ok(flag.clone());
    }
    let flag = FLAG
        .get_or_init(|| Arc::new(AtomicBool::new(false)))
        .clone();
    let handler_flag = flag.clone();
    ctrlc::set_handler(move || {
        if handler_flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!(
            "\ninterrupt: finishing the current point, then saving (Ctrl-C again to quit now)"
        );
    })
    .context("cannot install the Ctrl-C handler")?;
    Ok(flag)
}

/// A study resolved against the theory: its simulation parameters, grid,
/// seeds and theory value.
struct Plan {
    study: Study,
    params: StudyParams,
    grid: Vec<f64>,
    theory: f64,
    master_seed: u64,
}

impl Plan {
    fn new(study: &Study, ensemble: &dyn Ensemble, master_seed: u64) -> Result<Plan> {
        let name = &study.name;
        let need = |value: Option<f64>, key: &str| {
            value.with_context(|| {
                let observable = observable_names(study.observable).0;
                format!("study '{name}': observable {observable} needs `{key}`")
            })
        };
        let kind = match study.observable {
            Observable::Alpha1 => StudyKind::Typical {
                lambda: need(study.lambda, "lambda")?,
            },
            Observable::AlphaC => StudyKind::AllPatterns {
                lambda: need(study.lambda, "lambda")?,
            },
            Observable::RhoMin => StudyKind::Basin {
                alpha: need(study.alpha, "alpha")?,
                lambda: need(study.lambda, "lambda")?,
            },
            Observable::LambdaStar => StudyKind::LambdaScan {
                alpha: need(study.alpha, "alpha")?,
            },
            Observable::A1 => StudyKind::Attention {
                beta: need(study.beta, "beta")?,
            },
        };
        let theory = theory_value(&kind, ensemble).with_context(|| format!("study '{name}'"))?;
        check_study(study)?;
        let method = match study.method {
            config::Method::Dynamics => Method::Dynamics,
            config::Method::FirstStep => Method::FirstStep,
        };
        let dynamics = DynamicsParams {
            tolerance: 1e-6,
            max_steps: study.max_steps,
            retrieval_threshold: study.criterion,
        };
        let params = StudyParams {
            kind,
            law: ensemble.pattern_law(),
            method,
            dynamics,
            memory_limit: MEMORY_LIMIT,
        };
        let g = &study.grid;
        let grid: Vec<f64> = (0..g.points)
            .map(|k| g.min + (g.max - g.min) * k as f64 / (g.points - 1) as f64)
            .collect();
        // Every point is checked before any is run, so a bad grid fails at once.
        for &n in &study.sizes {
            for &x in &grid {
                params
                    .kind
                    .setup(params.law.clone(), n, x)
                    .pattern_count()
                    .with_context(|| {
                        format!("study '{name}' at N = {n}, x = {x}: shrink the grid or the sizes")
                    })?;
            }
        }
        Ok(Plan {
            study: study.clone(),
            params,
            grid,
            theory,
            master_seed,
        })
    }

    /// Seeds of the trials at size `n`, grid index `k`: a function of the
    /// master seed, the study's name and the point only.
    fn key(&self, n: usize, k: usize) -> SeedKey {
        SeedKey::new(
            self.master_seed,
            &[name_hash(&self.study.name), n as u64, k as u64],
        )
    }
}

/// Validates the parts of a study that the simulation does not.
fn check_study(s: &Study) -> Result<()> {
    let name = &s.name;
    let (observable, _) = observable_names(s.observable);
    let unused = match s.observable {
        Observable::Alpha1 | Observable::AlphaC => vec![("alpha", s.alpha), ("beta", s.beta)],
        Observable::RhoMin => vec![("beta", s.beta)],
        Observable::LambdaStar => vec![("lambda", s.lambda), ("beta", s.beta)],
        Observable::A1 => vec![("lambda", s.lambda), ("alpha", s.alpha)],
    };
    if let Some((key, _)) = unused.iter().find(|(_, v)| v.is_some()) {
        bail!("study '{name}': `{key}` is not used by observable {observable}; remove it");
    }
    if s.sizes.len() < 3 || s.sizes.iter().any(|&n| n < 2) {
        bail!("study '{name}': give at least 3 sizes, each >= 2, to extrapolate in N");
    }
    let ordered = s.grid.min < s.grid.max && s.grid.min.is_finite() && s.grid.max.is_finite();
    if s.grid.points < 3 || !ordered {
        bail!("study '{name}': the grid needs min < max and at least 3 points");
    }
    if s.trials < 10 || s.bootstrap < 20 {
        bail!("study '{name}': use at least 10 trials per point and 20 bootstrap replicates");
    }
    if !(s.criterion > 0.0 && s.criterion < 1.0) {
        bail!(
            "study '{name}': criterion is a normalised overlap in (0, 1), got {}",
            s.criterion
        );
    }
    if s.method == config::Method::FirstStep && s.observable == Observable::AlphaC {
        bail!("study '{name}': the all-patterns study (alpha_c) needs method = \"dynamics\"");
    }
    Ok(())
}

/// The theory value the study's extrapolated crossing is compared with.
fn theory_value(kind: &StudyKind, e: &dyn Ensemble) -> Result<f64> {
    Ok(match *kind {
        StudyKind::Typical { lambda } => alpha_1(e, lambda)?,
        StudyKind::AllPatterns { lambda } => alpha_c_lower(e, lambda)?.alpha_c_lower,
        StudyKind::Basin { alpha, lambda } => rho_min(e, alpha, lambda)?
            .rho_min
            .context("alpha >= alpha_1: no basin to measure; lower alpha")?,
        StudyKind::LambdaScan { alpha } => {
            lambda_star(e, alpha, 1.0)?.context("no lambda retrieves at this alpha; lower alpha")?
        }
        StudyKind::Attention { beta } => attention_thresholds(e, beta, None)?.a_1,
    })
}

/// FNV-1a hash of a study name, so seeds do not depend on study order.
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Finished points: `(study name, N, grid index)` to the grid value and trials.
type Done = BTreeMap<(String, usize, usize), (f64, Vec<TrialRecord>)>;

const RAW_COLUMNS: [&str; 11] = [
    "study",
    "n",
    "x_index",
    "x",
    "trial",
    "seed",
    "retrieved",
    "final_overlap",
    "steps",
    "w1_first",
    "w1_last",
];

/// Reads the finished points of an earlier run, keeping those whose grid
/// value, trial count and seeds match the current config.
fn load_checkpoint(path: &Path, plans: &[Plan]) -> Result<Done> {
    let mut done = Done::new();
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(done);
    };
    let mut lines = text.lines();
    if lines.next() != Some(RAW_COLUMNS.join(",").as_str()) {
        bail!(
            "{} exists but is not a damcap raw CSV; move it away or change raw_csv",
            path.display()
        );
    }
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let parsed = parse_row(&cells)
            .with_context(|| format!("{}: malformed row '{line}'", path.display()))?;
        let (study, n, k, x, record) = parsed;
        done.entry((study, n, k))
            .or_insert_with(|| (x, Vec::new()))
            .1
            .push(record);
    }
    done.retain(|(study, n, k), (x, records)| {
        plans.iter().any(|p| {
            p.study.name == *study
                && p.study.sizes.contains(n)
                && p.grid
                    .get(*k)
                    .is_some_and(|g| (g - *x).abs() <= 1e-12 * g.abs().max(1.0))
                && records.len() as u64 == p.study.trials
                && records
                    .iter()
                    .all(|r| r.seed == p.key(*n, *k).trial(r.trial))
        })
    });
    if !done.is_empty() {
        eprintln!(
            "resuming: {} finished points found in {}",
            done.len(),
            path.display()
        );
    }
    Ok(done)
}

fn parse_row(c: &[&str]) -> Result<(String, usize, usize, f64, TrialRecord)> {
    if c.len() != RAW_COLUMNS.len() {
        bail!("expected {} columns", RAW_COLUMNS.len());
    }
    let record = TrialRecord {
        trial: c[4].parse()?,
        seed: c[5].parse()?,
        retrieved: c[6].parse()?,
        final_overlap: c[7].parse()?,
        steps: c[8].parse()?,
        w1_first: c[9].parse()?,
        w1_last: c[10].parse()?,
    };
    Ok((
        c[0].to_string(),
        c[1].parse()?,
        c[2].parse()?,
        c[3].parse()?,
        record,
    ))
}

/// Rewrites the raw CSV with every finished point.
fn save_checkpoint(path: &Path, done: &Done) -> Result<()> {
    let mut csv = Csv::new(&RAW_COLUMNS);
    for ((study, n, k), (x, records)) in done {
        for r in records {
            csv.row(&[
                study.clone(),
                n.to_string(),
                k.to_string(),
                x.to_string(),
                r.trial.to_string(),
                r.seed.to_string(),
                r.retrieved.to_string(),
                r.final_overlap.to_string(),
                r.steps.to_string(),
                r.w1_first.to_string(),
                r.w1_last.to_string(),
            ]);
        }
    }
    output::write_atomic(path, csv.as_str().as_bytes())
}

/// How often the raw CSV is rewritten while points finish: often enough
/// that a hard kill loses seconds of work, rarely enough that fast
/// first-step points are not dominated by rewriting the file.
const SAVE_INTERVAL: Duration = Duration::from_secs(2);

/// Runs every missing point until done or interrupted, saving the raw CSV
/// every [`SAVE_INTERVAL`], on interruption, on error and at the end.
fn simulate(plans: &[Plan], done: &mut Done, raw: &Path, interrupted: &AtomicBool) -> Result<()> {
    let todo: Vec<(&Plan, usize, usize)> = plans
        .iter()
        .flat_map(|p| {
            p.study
                .sizes
                .iter()
                .flat_map(move |&n| (0..p.grid.len()).map(move |k| (p, n, k)))
        })
        .filter(|(p, n, k)| !done.contains_key(&(p.study.name.clone(), *n, *k)))
        .collect();
    let bar = ProgressBar::new(todo.iter().map(|(p, _, _)| p.study.trials).sum());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} trials, eta {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut last_save = Instant::now();
    let mut unsaved = false;
    for (plan, n, k) in todo {
        if interrupted.load(Ordering::SeqCst) {
            break;
        }
        let x = plan.grid[k];
        bar.set_message(format!("{}: N = {n}, x = {x:.4}", plan.study.name));
        let records = match run_point(&plan.params, n, x, &plan.key(n, k), plan.study.trials) {
            Ok(records) => records,
            Err(e) => {
                if unsaved {
                    save_checkpoint(raw, done)?;
                }
                let context = format!("study '{}' at N = {n}, x = {x}", plan.study.name);
                return Err(anyhow::Error::new(e).context(context));
            }
        };
        done.insert((plan.study.name.clone(), n, k), (x, records));
        unsaved = true;
        if last_save.elapsed() >= SAVE_INTERVAL {
            save_checkpoint(raw, done)?;
            (last_save, unsaved) = (Instant::now(), false);
        }
        bar.inc(plan.study.trials);
    }
    if unsaved {
        save_checkpoint(raw, done)?;
    }
    bar.finish_and_clear();
    Ok(())
}

/// Summary of a whole config.
#[derive(Serialize)]
pub struct Summary {
    title: String,
    seed: u64,
    studies: Vec<StudyReport>,
}

/// Crossing extrapolated under another retrieval criterion.
#[derive(Serialize)]
struct CriterionCheck {
    criterion: f64,
    extrapolated: f64,
    ci_low: f64,
    ci_high: f64,
}

/// One point's success count.
#[derive(Serialize)]
struct PointCount {
    n: usize,
    x: f64,
    successes: u64,
    trials: u64,
}

/// One study's result against the theory.
#[derive(Serialize)]
struct StudyReport {
    name: String,
    ensemble: String,
    observable: &'static str,
    scanned: &'static str,
    method: &'static str,
    lambda: Option<f64>,
    alpha: Option<f64>,
    beta: Option<f64>,
    criterion: f64,
    theory: f64,
    extrapolated: f64,
    ci_low: f64,
    ci_high: f64,
    /// `(extrapolated - theory) / sigma` of the extrapolation.
    deviation_sigma: f64,
    /// Within `max(CI half-width, 0.02)` (typical thresholds), or not
    /// clearly below the bound (alpha_c is a lower bound).
    agrees: bool,
    /// Retrieval becomes more likely as the scanned variable grows.
    increasing: bool,
    finite_size_form: &'static str,
    slope: f64,
    residuals_sigma: Vec<f64>,
    chi2_per_dof: Option<f64>,
    sizes: Vec<damcap_validation::study::SizeCrossing>,
    criterion_check: Vec<CriterionCheck>,
    form_check: Vec<FormCheck>,
    points: Vec<PointCount>,
}

fn observable_names(o: Observable) -> (&'static str, &'static str) {
    match o {
        Observable::Alpha1 => ("alpha_1", "alpha"),
        Observable::AlphaC => ("alpha_c", "alpha"),
        Observable::RhoMin => ("rho_min", "rho"),
        Observable::LambdaStar => ("lambda_star", "lambda"),
        Observable::A1 => ("a_1", "a"),
    }
}

fn form(f: FiniteSize) -> (FiniteSizeForm, &'static str) {
    match f {
        FiniteSize::InverseN => (FiniteSizeForm::InverseN, "x_inf + b / N"),
        FiniteSize::InverseSqrtN => (FiniteSizeForm::InverseSqrtN, "x_inf + b / sqrt(N)"),
        FiniteSize::LogNOverN => (FiniteSizeForm::LogNOverN, "x_inf + b ln(N) / N"),
        FiniteSize::LogNOverSqrtN => (FiniteSizeForm::LogNOverSqrtN, "x_inf + b ln(N) / sqrt(N)"),
    }
}

/// Every finite-size form, for the form check of each study.
const FORMS: [FiniteSize; 4] = [
    FiniteSize::InverseN,
    FiniteSize::InverseSqrtN,
    FiniteSize::LogNOverN,
    FiniteSize::LogNOverSqrtN,
];

/// The extrapolation under another finite-size form.
#[derive(Serialize)]
struct FormCheck {
    form: &'static str,
    extrapolated: f64,
    ci_low: f64,
    ci_high: f64,
    chi2_per_dof: Option<f64>,
}

/// Success counts per size under a retrieval rule.
fn counts(plan: &Plan, done: &Done, retrieved: impl Fn(&TrialRecord) -> bool) -> Vec<SizeCounts> {
    plan.study
        .sizes
        .iter()
        .map(|&n| SizeCounts {
            n,
            counts: (0..plan.grid.len())
                .map(|k| {
                    let (x, records) = &done[&(plan.study.name.clone(), n, k)];
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
fn check_crossing(plan: &Plan, sizes: &[SizeCounts]) -> Result<()> {
    for size in sizes {
        let above = size
            .counts
            .iter()
            .filter(|c| 2 * c.successes >= c.trials)
            .count();
        if above == 0 || above == size.counts.len() {
            let side = if above == 0 { "below" } else { "above" };
            bail!(
                "study '{}' at N = {}: the retrieval probability stays {side} 1/2 over the whole grid; move the grid across the crossing",
                plan.study.name,
                size.n
            );
        }
    }
    Ok(())
}

fn analysis(plan: &Plan, sizes: &[SizeCounts], seed: u64) -> Result<Analysis> {
    analysis_in(plan, sizes, seed, plan.study.finite_size)
}

fn analysis_in(plan: &Plan, sizes: &[SizeCounts], seed: u64, f: FiniteSize) -> Result<Analysis> {
    analyse(
        sizes,
        plan.study.bootstrap,
        seed ^ name_hash(&plan.study.name),
        form(f).0,
    )
    .with_context(|| {
        format!(
            "study '{}': cannot locate the crossing; widen the grid around it",
            plan.study.name
        )
    })
}

fn report(plan: &Plan, done: &Done, ensemble: &dyn Ensemble, seed: u64) -> Result<StudyReport> {
    let s = &plan.study;
    let main = counts(plan, done, |r| r.retrieved);
    check_crossing(plan, &main)?;
    let a = analysis(plan, &main, seed)?;
    let ex = &a.extrapolation;
    let (ci_low, ci_high) = (ex.a_inf_lower, ex.a_inf_upper);
    let sigma = ex.std_errors[0];
    let deviation = ex.a_inf() - plan.theory;
    let agrees = if s.observable == Observable::AlphaC {
        ci_high >= plan.theory
    } else {
        deviation.abs() <= (0.5 * (ci_high - ci_low)).max(0.02)
    };
    let criterion_check = criterion_checks(plan, done, seed)?;
    let form_check = form_checks(plan, &main, seed)?;
    let points = point_counts(&main);
    let (observable, scanned) = observable_names(s.observable);
    Ok(StudyReport {
        name: s.name.clone(),
        ensemble: ensemble.name().to_string(),
        observable,
        scanned,
        method: if s.method == config::Method::Dynamics {
            "dynamics"
        } else {
            "first-step"
        },
        lambda: s.lambda,
        alpha: s.alpha,
        beta: s.beta,
        criterion: s.criterion,
        theory: plan.theory,
        extrapolated: ex.a_inf(),
        ci_low,
        ci_high,
        deviation_sigma: deviation / sigma,
        agrees,
        increasing: plan.params.kind.retrieval_grows_with_x(),
        finite_size_form: form(s.finite_size).1,
        slope: ex.coefficients[1],
        residuals_sigma: ex.residuals.clone(),
        chi2_per_dof: ex.chi2_per_dof(),
        sizes: a.sizes,
        criterion_check,
        form_check,
        points,
    })
}

/// The analysis repeated with the other overlap thresholds. Criteria on
/// the final overlap exist only where the dynamics ran to its end.
fn criterion_checks(plan: &Plan, done: &Done, seed: u64) -> Result<Vec<CriterionCheck>> {
    let s = &plan.study;
    if s.method != config::Method::Dynamics || s.observable == Observable::AlphaC {
        return Ok(Vec::new());
    }
    OTHER_CRITERIA
        .iter()
        .map(|&c| {
            let sizes = counts(plan, done, |r| r.final_overlap >= c && r.w1_last > 0.5);
            let e = analysis(plan, &sizes, seed)?.extrapolation;
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
fn form_checks(plan: &Plan, sizes: &[SizeCounts], seed: u64) -> Result<Vec<FormCheck>> {
    FORMS
        .iter()
        .map(|&f| {
            let e = analysis_in(plan, sizes, seed, f)?.extrapolation;
            Ok(FormCheck {
                form: form(f).1,
                extrapolated: e.a_inf(),
                ci_low: e.a_inf_lower,
                ci_high: e.a_inf_upper,
                chi2_per_dof: e.chi2_per_dof(),
            })
        })
        .collect()
}

/// Every point's success count, for the summary.
fn point_counts(sizes: &[SizeCounts]) -> Vec<PointCount> {
    sizes
        .iter()
        .flat_map(|sc| {
            sc.counts.iter().map(|c| PointCount {
                n: sc.n,
                x: c.alpha,
                successes: c.successes,
                trials: c.trials,
            })
        })
        .collect()
}

/// Two panels per study: retrieval probability against the scanned
/// variable (one colour per N, theory as a vertical line), and the
/// crossings against the finite-size variable with the fit.
fn panels(r: &StudyReport) -> Vec<Panel> {
    let sizes: Vec<usize> = r.sizes.iter().map(|s| s.n).collect();
    let x_lo = r.points.iter().map(|p| p.x).fold(f64::INFINITY, f64::min);
    let x_hi = r
        .points
        .iter()
        .map(|p| p.x)
        .fold(f64::NEG_INFINITY, f64::max);
    let symbol = symbol(r.scanned);
    let title = format!("{} {}: P(retrieved) vs {symbol}", r.ensemble, r.name);
    let mut left = Panel::new(
        &title,
        symbol,
        "retrieval probability",
        x_lo..x_hi,
        0.0..1.05,
    );
    // The legend goes to a corner the curves leave empty.
    left.legend = if r.increasing {
        plotters::prelude::SeriesLabelPosition::UpperLeft
    } else {
        plotters::prelude::SeriesLabelPosition::LowerLeft
    };
    for (i, &n) in sizes.iter().enumerate() {
        let xyy = r
            .points
            .iter()
            .filter(|p| p.n == n)
            .map(|p| {
                let w = wilson_interval(p.successes, p.trials, CONFIDENCE).expect("valid counts");
                (p.x, w.estimate, w.lower, w.upper)
            })
            .collect();
        left.points.push(Points {
            label: format!("N = {n}"),
            color: PALETTE[i % PALETTE.len()],
            xyy,
        });
    }
    left.lines.push(Line {
        label: format!("theory {} = {:.4}", r.observable, r.theory),
        color: PALETTE[6],
        dashed: true,
        xy: vec![(r.theory, 0.0), (r.theory, 1.05)],
    });
    vec![left, crossing_panel(r, symbol)]
}

/// Crossing against 1/N (or 1/sqrt N), fit line and theory at the origin.
fn crossing_panel(r: &StudyReport, symbol: &str) -> Panel {
    let sqrt_form = r.finite_size_form.contains("sqrt");
    let log_form = r.finite_size_form.contains("ln");
    let u = |n: usize| {
        let n = n as f64;
        let numerator = if log_form { n.ln() } else { 1.0 };
        numerator / if sqrt_form { n.sqrt() } else { n }
    };
    let u_max = r.sizes.iter().map(|s| u(s.n)).fold(0.0, f64::max) * 1.1;
    let values = r
        .sizes
        .iter()
        .flat_map(|s| [s.ci_low, s.ci_high])
        .chain([r.theory, r.ci_low, r.ci_high]);
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let pad = 0.1 * (hi - lo).max(1e-3);
    let x_label = match (log_form, sqrt_form) {
        (true, true) => "ln(N)/√N",
        (true, false) => "ln(N)/N",
        (false, true) => "1/√N",
        (false, false) => "1/N",
    };
    let title = format!("crossing {symbol}_N and extrapolation");
    let mut p = Panel::new(
        &title,
        x_label,
        &format!("crossing {symbol}_N"),
        -0.03 * u_max..u_max,
        (lo - pad)..(hi + pad),
    );
    p.legend = plotters::prelude::SeriesLabelPosition::LowerLeft;
    p.points.push(Points {
        label: "simulation crossing (95% CI)".into(),
        color: PALETTE[0],
        xyy: r
            .sizes
            .iter()
            .map(|s| (u(s.n), s.crossing, s.ci_low, s.ci_high))
            .collect(),
    });
    p.points.push(Points {
        label: format!(
            "extrapolated {:.4} [{:.4}, {:.4}]",
            r.extrapolated, r.ci_low, r.ci_high
        ),
        color: PALETTE[1],
        xyy: vec![(0.0, r.extrapolated, r.ci_low, r.ci_high)],
    });
    p.lines.push(Line {
        label: format!("fit {}", r.finite_size_form),
        color: PALETTE[1],
        dashed: false,
        xy: vec![
            (0.0, r.extrapolated),
            (u_max, r.extrapolated + r.slope * u_max),
        ],
    });
    p.lines.push(Line {
        label: format!("theory {} = {:.4}", r.observable, r.theory),
        color: PALETTE[6],
        dashed: true,
        xy: vec![(0.0, r.theory), (u_max, r.theory)],
    });
    p
}

/// The merged attention threshold against beta: theory `a_1 = a_c = beta`
/// in the limit, `a_1` at the largest simulated N, and each attention
/// study's extrapolated crossing. `None` without attention studies.
fn attention_panel(reports: &[StudyReport], e: &dyn Ensemble) -> Result<Option<Panel>> {
    let studies: Vec<&StudyReport> = reports.iter().filter(|r| r.observable == "a_1").collect();
    let Some(beta_max) = studies.iter().filter_map(|r| r.beta).reduce(f64::max) else {
        return Ok(None);
    };
    let n_max = studies
        .iter()
        .flat_map(|r| r.sizes.iter().map(|s| s.n))
        .max()
        .unwrap_or(1) as f64;
    let top = 1.2 * beta_max;
    let mut p = Panel::new(
        "merged threshold a = ln(P)/√N",
        "scaled inverse temperature β",
        "load a",
        0.0..top,
        0.0..top,
    );
    p.legend = plotters::prelude::SeriesLabelPosition::UpperLeft;
    let betas: Vec<f64> = (1..=60).map(|k| top * k as f64 / 60.0).collect();
    p.lines.push(Line {
        label: "theory a₁ = a_c = β (N → ∞)".into(),
        color: PALETTE[6],
        dashed: false,
        xy: betas.iter().map(|&b| (b, b)).collect(),
    });
    let finite: Vec<(f64, f64)> = betas
        .iter()
        .map(|&b| Ok((b, attention_thresholds(e, b, Some(n_max))?.a_1)))
        .collect::<Result<_>>()?;
    p.lines.push(Line {
        label: format!("theory a₁ at N = {n_max}"),
        color: PALETTE[6],
        dashed: true,
        xy: finite,
    });
    for (k, r) in studies.iter().enumerate() {
        let beta = r.beta.unwrap_or(f64::NAN);
        p.points.push(Points {
            label: format!("{} ({}), extrapolated", r.name, r.method),
            color: PALETTE[k % (PALETTE.len() - 1)],
            xyy: vec![(beta, r.extrapolated, r.ci_low, r.ci_high)],
        });
    }
    Ok(Some(p))
}

fn symbol(scanned: &str) -> &'static str {
    match scanned {
        "alpha" => "α",
        "rho" => "ρ",
        "lambda" => "λ",
        _ => "a",
    }
}
