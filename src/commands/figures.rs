//! `damcap phase-diagram CONFIG` and `damcap figures`: figures described
//! by TOML configs, written as SVG plus the CSV of their curves.

use anyhow::{bail, Context, Result};
use damcap_theory::basins::rho_min;
use damcap_theory::rem::Rem;
use damcap_theory::thresholds::alpha_1;
use damcap_theory::Ensemble;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

use super::thresholds::{csv_rows, CSV_COLUMNS};
use crate::config::{self, Basins, Config, PhaseDiagram};
use crate::output::{self, Csv};
use crate::plot::{render_svg, Line, Panel, Region, PALETTE};
use damcap_theory::phase::{scan_with_progress, Thresholds};

/// Arguments of `damcap figures`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Directory holding the figure configs.
    #[arg(long, default_value = "configs")]
    configs: PathBuf,
    /// Also run the Monte Carlo validation configs (minutes each; they
    /// resume from their raw CSV checkpoints).
    #[arg(long)]
    validate: bool,
}

/// `damcap phase-diagram`: draws the figure of one figure config (a
/// simulation config is refused: it belongs to `damcap validate`).
pub fn run_config(path: &Path) -> Result<()> {
    let config = config::load(path)?;
    if matches!(config, Config::Validate(_)) {
        bail!(
            "{} is a simulation config (kind = \"validate\"): run it with `damcap validate {}`",
            path.display(),
            path.display()
        );
    }
    run(config, path)
}

/// Runs one parsed config, read from `path`.
pub fn run(config: Config, path: &Path) -> Result<()> {
    match config {
        Config::PhaseDiagram(c) => phase_diagram(&c, path),
        Config::LawComparison(c) => law_comparison(&c, path),
        Config::Basins(c) => basins(&c, path),
        Config::Validate(c) => super::validate::run_config(&c, path).map(drop),
    }
}

/// `damcap figures`: every `*.toml` in the configs directory, in name order.
pub fn run_all(args: &Args) -> Result<()> {
    for path in config_paths(&args.configs)? {
        let config = config::load(&path)?;
        if matches!(config, Config::Validate(_)) && !args.validate {
            eprintln!(
                "skipping simulation config {} (add --validate to run it)",
                path.display()
            );
            continue;
        }
        eprintln!("figure config {}", path.display());
        run(config, &path)?;
    }
    Ok(())
}

/// Every `*.toml` in `dir`, in name order; an error if there is none.
pub fn config_paths(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| {
            format!(
                "cannot read config directory {}; run from the repository root or pass --configs",
                dir.display()
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        bail!("no *.toml configs in {}", dir.display());
    }
    Ok(paths)
}

/// Resolves ensemble names, failing on the first unknown one.
fn ensembles(names: &[String]) -> Result<Vec<Box<dyn Ensemble>>> {
    if names.is_empty() {
        bail!("the config lists no ensembles; add e.g. ensembles = [\"gaussian\"]");
    }
    names.iter().map(|n| super::ensemble(n)).collect()
}

/// Most curve points a figure config may ask for (points per curve times
/// curves): a figure shows a few thousand at most, and the CSV and SVG
/// of ten million already take gigabytes.
pub const MAX_FIGURE_POINTS: usize = 1_000_000;

/// Refuses a figure whose grid would take more than [`MAX_FIGURE_POINTS`],
/// before any work, with the estimate.
fn check_grid_work(points_per_curve: usize, curves: usize) -> Result<()> {
    let total = points_per_curve.saturating_mul(curves.max(1));
    if total > MAX_FIGURE_POINTS {
        bail!(
            "the config asks for {total} curve points ({points_per_curve} per curve x {} curves, \
             about {} MB of CSV and SVG); the cap is {MAX_FIGURE_POINTS}: use fewer points",
            curves.max(1),
            total / 10_000
        );
    }
    Ok(())
}

/// Writes a figure and its CSV, each atomically; callers check both paths
/// before computing anything.
fn write_figure(svg_path: &Path, csv_path: &Path, svg: &str, csv: &Csv) -> Result<()> {
    output::write_atomic(csv_path, csv.as_str().as_bytes())?;
    output::write_atomic(svg_path, svg.as_bytes())?;
    eprintln!("wrote {} and {}", svg_path.display(), csv_path.display());
    Ok(())
}

/// An ensemble's name and its thresholds along a lambda grid.
type NamedCurve = (String, Vec<Thresholds>);

/// Thresholds on the config's lambda grid for each of its ensembles, in
/// order, and their CSV; the output paths are checked first.
fn scan_config(c: &PhaseDiagram, path: &Path) -> Result<(Vec<NamedCurve>, Csv)> {
    check_grid_work(c.lambda.points, c.ensembles.len())?;
    let lambdas = c.lambda.values()?;
    super::plan_run(path, &c.ensembles, &[("svg", &c.svg), ("csv", &c.csv)])?;
    let ensembles = ensembles(&c.ensembles)?;
    let bar = output::progress_bar(ensembles.len() * lambdas.len(), "lambda points");
    let mut csv = Csv::new(&CSV_COLUMNS);
    let mut curves = Vec::new();
    for ensemble in ensembles {
        bar.suspend(|| eprintln!("  {}", ensemble.name()));
        bar.set_message(ensemble.name().to_string());
        let rows = scan_with_progress(ensemble.as_ref(), &lambdas, &|| bar.inc(1))?;
        csv_rows(&mut csv, &rows);
        curves.push((ensemble.name().to_string(), rows));
    }
    bar.finish_and_clear();
    Ok((curves, csv))
}

/// The alpha-lambda plane: alpha_1 and alpha_c with the three regions.
fn phase_diagram(c: &PhaseDiagram, path: &Path) -> Result<()> {
    let (curves, csv) = scan_config(c, path)?;
    let panels: Vec<Panel> = curves
        .iter()
        .map(|(name, rows)| phase_panel(name, rows, c.lambda.log))
        .collect();
    let svg = render_svg(&c.title, &panels, panels.len())?;
    write_figure(&c.svg, &c.csv, &svg, &csv)
}

/// Every law's alpha_1 in one panel and alpha_c in another, one colour
/// per law, so that laws can be compared at a glance.
fn law_comparison(c: &PhaseDiagram, path: &Path) -> Result<()> {
    let (curves, csv) = scan_config(c, path)?;
    let top = curves
        .iter()
        .flat_map(|(_, rows)| rows.iter().map(|r| r.alpha_1))
        .fold(0.0, f64::max)
        * 1.1;
    let rows = &curves[0].1;
    let range = rows[0].lambda..rows[rows.len() - 1].lambda;
    let panel = |title: &str, y_label: &str, value: fn(&Thresholds) -> f64| {
        let mut panel = Panel::new(
            title,
            "inverse temperature λ",
            y_label,
            range.clone(),
            0.0..top,
        );
        panel.log_x = c.lambda.log;
        panel.legend = plotters::prelude::SeriesLabelPosition::UpperLeft;
        for (k, (name, rows)) in curves.iter().enumerate() {
            panel.lines.push(Line {
                label: name.clone(),
                color: PALETTE[k % PALETTE.len()],
                dashed: k % 2 == 1,
                xy: rows.iter().map(|r| (r.lambda, value(r))).collect(),
            });
        }
        panel
    };
    let panels = [
        panel(
            "typical pattern",
            "α₁(λ): typical-pattern threshold",
            |r| r.alpha_1,
        ),
        panel("all patterns", "α_c(λ) lower bound (union bound)", |r| {
            r.alpha_c_lower
        }),
    ];
    let svg = render_svg(&c.title, &panels, panels.len())?;
    write_figure(&c.svg, &c.csv, &svg, &csv)
}

/// One ensemble's phase-diagram panel.
fn phase_panel(name: &str, rows: &[Thresholds], log_x: bool) -> Panel {
    let top = rows.iter().map(|r| r.alpha_1).fold(0.0, f64::max) * 1.25;
    let (first, last) = (rows[0].lambda, rows[rows.len() - 1].lambda);
    let mut panel = Panel::new(
        &format!("{name} patterns"),
        "inverse temperature λ",
        "load α = ln(P)/N",
        first..last,
        0.0..top,
    );
    panel.log_x = log_x;
    let band = |lo: fn(&Thresholds) -> f64, hi: fn(&Thresholds) -> f64| -> Vec<(f64, f64, f64)> {
        rows.iter().map(|r| (r.lambda, lo(r), hi(r))).collect()
    };
    // Labels sit at 65% of the horizontal axis (clear of the legend, upper
    // left), in the middle of each band wide enough to hold one.
    let at = &rows[rows.len() * 13 / 20];
    let label_x = at.lambda;
    let regions = [
        (
            "all patterns retrieved",
            PALETTE[2],
            band(|_| 0.0, |r| r.alpha_c_lower),
            0.0,
            at.alpha_c_lower,
        ),
        (
            "typical pattern retrieved",
            PALETTE[4],
            band(|r| r.alpha_c_lower, |r| r.alpha_1),
            at.alpha_c_lower,
            at.alpha_1,
        ),
        (
            "no retrieval",
            PALETTE[6],
            band(|r| r.alpha_1, |_| f64::INFINITY),
            at.alpha_1,
            top,
        ),
    ];
    for (label, color, band, lo, hi) in regions {
        let band = band
            .into_iter()
            .map(|(x, l, h)| (x, l, h.min(top)))
            .collect();
        let label = if hi - lo > 0.06 * top { label } else { "" };
        panel.regions.push(Region {
            label: label.into(),
            color,
            band,
            label_at: (label_x, 0.5 * (lo + hi) + 0.02 * top),
        });
    }
    panel.lines.push(Line {
        label: "α₁(λ): typical-pattern threshold".into(),
        color: PALETTE[0],
        dashed: false,
        xy: rows.iter().map(|r| (r.lambda, r.alpha_1)).collect(),
    });
    panel.lines.push(Line {
        label: "α_c(λ) lower bound (union bound)".into(),
        color: PALETTE[1],
        dashed: true,
        xy: rows.iter().map(|r| (r.lambda, r.alpha_c_lower)).collect(),
    });
    panel
}

/// A point of a basin curve.
struct BasinPoint {
    lambda: f64,
    alpha: f64,
    rho_min: f64,
    phase: String,
}

/// rho_min against alpha at several lambda, one panel per ensemble, with
/// the frozen-phase envelope u_max(alpha) they all share.
fn basins(c: &Basins, path: &Path) -> Result<()> {
    if c.alpha_points < 2 || c.lambdas.is_empty() {
        bail!("a basins config needs alpha_points >= 2 and at least one lambda");
    }
    if let Some(bad) = c.lambdas.iter().find(|l| !(**l > 0.0 && l.is_finite())) {
        bail!("lambdas contains {bad}: every inverse temperature must be a finite number > 0");
    }
    check_grid_work(
        c.alpha_points.saturating_mul(c.lambdas.len()),
        c.ensembles.len(),
    )?;
    super::plan_run(path, &c.ensembles, &[("svg", &c.svg), ("csv", &c.csv)])?;
    let mut csv = Csv::new(&["ensemble", "lambda", "alpha", "rho_min", "phase"]);
    let mut panels = Vec::new();
    for ensemble in ensembles(&c.ensembles)? {
        let e = ensemble.as_ref();
        let curves: Vec<Vec<BasinPoint>> = c
            .lambdas
            .iter()
            .map(|&l| basin_curve(e, l, c.alpha_points))
            .collect::<Result<_>>()?;
        for p in curves.iter().flatten() {
            let cells = [
                e.name().to_string(),
                output::number(p.lambda),
                output::number(p.alpha),
                output::number(p.rho_min),
                p.phase.clone(),
            ];
            csv.row(&cells);
        }
        panels.push(basin_panel(e, &c.lambdas, &curves)?);
    }
    let svg = render_svg(&c.title, &panels, panels.len())?;
    write_figure(&c.svg, &c.csv, &svg, &csv)
}

/// rho_min(alpha, lambda) for alpha on a grid of (0, alpha_1(lambda)].
fn basin_curve(e: &dyn Ensemble, lambda: f64, points: usize) -> Result<Vec<BasinPoint>> {
    let a1 = alpha_1(e, lambda)?;
    (1..=points)
        .into_par_iter()
        .map(|k| {
            // The last point sits just below alpha_1, where rho_min reaches 1.
            let alpha = a1 * (k as f64 / points as f64).min(1.0 - 1e-9);
            let basin = rho_min(e, alpha, lambda)?;
            let rho_min = basin.rho_min.context("rho_min undefined below alpha_1")?;
            Ok(BasinPoint {
                lambda,
                alpha,
                rho_min,
                phase: basin.phase.to_string(),
            })
        })
        .collect()
}

fn basin_panel(e: &dyn Ensemble, lambdas: &[f64], curves: &[Vec<BasinPoint>]) -> Result<Panel> {
    let alpha_end = curves.iter().flatten().map(|p| p.alpha).fold(0.0, f64::max);
    let mut panel = Panel::new(
        &format!("{} patterns", e.name()),
        "load α",
        "basin edge ρ_min",
        0.0..alpha_end * 1.02,
        0.0..1.05,
    );
    panel.legend = plotters::prelude::SeriesLabelPosition::LowerRight;
    for (k, (curve, l)) in curves.iter().zip(lambdas).enumerate() {
        panel.lines.push(Line {
            label: format!("λ = {l}"),
            color: PALETTE[k % (PALETTE.len() - 1)],
            dashed: false,
            xy: curve.iter().map(|p| (p.alpha, p.rho_min)).collect(),
        });
    }
    let envelope: Vec<(f64, f64)> = (1..=200)
        .map(|k| {
            let alpha = alpha_end * k as f64 / 200.0;
            Ok((alpha, Rem::new(e, alpha)?.u_max().min(1.05)))
        })
        .collect::<Result<_>>()?;
    panel.lines.push(Line {
        label: "frozen phase: ρ_min = u_max(α)".into(),
        color: PALETTE[6],
        dashed: true,
        xy: envelope,
    });
    Ok(panel)
}
