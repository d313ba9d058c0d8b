//! The figure of a validate run: per study, retrieval probability against
//! the scanned variable (one colour per N) and the crossings against the
//! finite-size variable with the extrapolation; for attention studies, the
//! merged threshold against beta.

use anyhow::Result;
use damcap_theory::attention::attention_thresholds;
use damcap_theory::Ensemble;
use damcap_validation::estimators::{wilson_interval, PREDICTED_FORM};
use damcap_validation::spec::predicted_crossing;
use damcap_validation::study::{Method, StudyKind, CONFIDENCE};
use damcap_validation::{StudyReport, Summary};

use super::{render_svg, Line, Panel, Points, PALETTE};

/// The SVG of a whole validate summary, two panels per row.
pub fn summary_svg(summary: &Summary, ensemble: &dyn Ensemble) -> Result<String> {
    let mut all = Vec::new();
    for r in &summary.studies {
        all.extend(panels(r, ensemble)?);
    }
    all.extend(attention_panel(&summary.studies, ensemble)?);
    render_svg(&summary.title, &all, 2)
}

/// Two panels per study: retrieval probability against the scanned
/// variable (one colour per N, theory as a vertical line), and the
/// crossings against the finite-size variable with the fit.
fn panels(r: &StudyReport, e: &dyn Ensemble) -> Result<Vec<Panel>> {
    let sizes: Vec<usize> = r.sizes.iter().map(|s| s.n).collect();
    let x_lo = r.points.iter().map(|p| p.x).fold(f64::INFINITY, f64::min);
    let x_hi = r
        .points
        .iter()
        .map(|p| p.x)
        .fold(f64::NEG_INFINITY, f64::max);
    // A margin of 2% so the points at the ends of the grid show whole.
    let margin = 0.02 * (x_hi - x_lo).max(1e-9);
    let symbol = symbol(r.scanned);
    let title = format!("{} {}: P(retrieved) vs {symbol}", r.ensemble, r.name);
    let mut left = Panel::new(
        &title,
        symbol,
        "retrieval probability",
        (x_lo - margin)..(x_hi + margin),
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
    Ok(vec![left, crossing_panel(r, symbol, e)?])
}

/// The study kind and method a report describes, to evaluate its
/// finite-N prediction at any N; `None` for lambda scans.
fn kind_of(r: &StudyReport) -> Option<(StudyKind, Method)> {
    let method = if r.method == "first-step" {
        Method::FirstStep
    } else {
        Method::Dynamics
    };
    let kind = match r.observable {
        "alpha_1" => StudyKind::Typical { lambda: r.lambda? },
        "alpha_c" => StudyKind::AllPatterns { lambda: r.lambda? },
        "rho_min" => StudyKind::Basin {
            alpha: r.alpha?,
            lambda: r.lambda?,
        },
        "a_1" => StudyKind::Attention { beta: r.beta? },
        _ => return None,
    };
    Some((kind, method))
}

/// Sizes at which the prediction curve is drawn, besides the simulated
/// ones: geometric from half the smallest simulated N to ten times the
/// largest.
const CURVE_POINTS: usize = 30;

/// The finite-N prediction `(N, prediction)` on a grid of N around the
/// simulated sizes (docs/theory.md §9), skipping sizes where the theory
/// finds no crossing; empty where none is derived.
fn prediction_curve(r: &StudyReport, e: &dyn Ensemble) -> Vec<(f64, f64)> {
    let Some((kind, method)) = kind_of(r) else {
        return Vec::new();
    };
    if r.sizes.iter().all(|s| s.prediction.is_none()) {
        return Vec::new();
    }
    let n_min = r.sizes.iter().map(|s| s.n).min().unwrap_or(2).max(4) as f64 / 2.0;
    let n_max = 10.0 * r.sizes.iter().map(|s| s.n).max().unwrap_or(2) as f64;
    // The simulated sizes themselves too, so that the curve reaches the
    // panel's edge at the smallest of them.
    let mut sizes: Vec<usize> = (0..CURVE_POINTS)
        .map(|k| {
            (n_min * (n_max / n_min).powf(k as f64 / (CURVE_POINTS - 1) as f64)).round() as usize
        })
        .chain(r.sizes.iter().map(|s| s.n))
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    let mut curve = Vec::new();
    for n in sizes {
        if let Ok(Some(p)) = predicted_crossing(&kind, method, e, n) {
            curve.push((n as f64, p));
        }
    }
    curve
}

/// Crossing against 1/N (or 1/sqrt N), fit line and theory at the origin.
fn crossing_panel(r: &StudyReport, symbol: &str, e: &dyn Ensemble) -> Result<Panel> {
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
        .map(|s| s.crossing)
        .chain(r.sizes.iter().filter_map(|s| s.prediction))
        .chain([r.theory, r.extrapolated]);
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    // The intervals, of each size and of the extrapolation, widen the axis
    // by at most the span of the values (a size or a fit with few trials
    // can make one huge; the extrapolation's ends are in the legend, and
    // longer bars are clipped).
    let span = (hi - lo).max(1e-3);
    let lows = r.sizes.iter().map(|s| s.ci_low).chain([r.ci_low]);
    let highs = r.sizes.iter().map(|s| s.ci_high).chain([r.ci_high]);
    let (lo, hi) = (
        lo.min(lows.fold(lo, f64::min).max(lo - span)),
        hi.max(highs.fold(hi, f64::max).min(hi + span)),
    );
    let pad = 0.1 * (hi - lo);
    // Bars drawn to the edge of the axis, so that a clipped one still shows.
    let clip = |v: f64| v.clamp(lo - pad, hi + pad);
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
    p.points.push(Points {
        label: "simulation crossing (95% CI)".into(),
        color: PALETTE[0],
        xyy: r
            .sizes
            .iter()
            .map(|s| (u(s.n), s.crossing, clip(s.ci_low), clip(s.ci_high)))
            .collect(),
    });
    p.points.push(Points {
        label: format!(
            "extrapolated {:.4} [{:.4}, {:.4}]",
            r.extrapolated, r.ci_low, r.ci_high
        ),
        color: PALETTE[1],
        xyy: vec![(0.0, r.extrapolated, clip(r.ci_low), clip(r.ci_high))],
    });
    let curve = prediction_curve(r, e);
    let shown = |n: f64| u((n.round()) as usize) <= u_max;
    let fit =
        if r.finite_size_form == PREDICTED_FORM {
            // x_inf + b (prediction(N) - theory), along the same curve.
            std::iter::once((0.0, r.extrapolated))
                .chain(curve.iter().rev().filter(|c| shown(c.0)).map(|&(n, pred)| {
                    (u(n as usize), r.extrapolated + r.slope * (pred - r.theory))
                }))
                .collect()
        } else {
            vec![
                (0.0, r.extrapolated),
                (u_max, r.extrapolated + r.slope * u_max),
            ]
        };
    p.lines.push(Line {
        label: format!("fit {}", r.finite_size_form),
        color: PALETTE[1],
        dashed: false,
        xy: fit,
    });
    if !curve.is_empty() {
        p.lines.push(Line {
            label: format!("finite-N prediction {symbol}_N (no fitted parameter)"),
            color: PALETTE[3],
            dashed: false,
            xy: std::iter::once((0.0, r.theory))
                .chain(
                    curve
                        .iter()
                        .rev()
                        .filter(|c| shown(c.0))
                        .map(|&(n, pred)| (u(n as usize), pred)),
                )
                .collect(),
        });
    }
    p.lines.push(Line {
        label: format!("theory {} = {:.4}", r.observable, r.theory),
        color: PALETTE[6],
        dashed: true,
        xy: vec![(0.0, r.theory), (u_max, r.theory)],
    });
    p.legend = p.emptiest_corner();
    Ok(p)
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
