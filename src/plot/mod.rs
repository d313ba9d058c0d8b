//! SVG figures: panels of theory lines, shaded regions and simulation
//! points with error bars, drawn with plotters.
//!
//! A figure is described as data ([`Panel`]) and rendered in one place, so
//! every figure of the project shares axis styling, legends and the
//! logarithmic-axis convention (a log axis is drawn as log10 of the value
//! with tick labels showing the value itself).

use anyhow::{anyhow, Result};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use std::ops::Range;

pub mod validation;

/// Colours cycled through for curves (colour-blind friendly, Okabe-Ito).
pub const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];

/// A theory curve.
#[derive(Clone, Debug)]
pub struct Line {
    /// Legend entry.
    pub label: String,
    /// Colour.
    pub color: RGBColor,
    /// Dashed rather than solid.
    pub dashed: bool,
    /// Points in data coordinates.
    pub xy: Vec<(f64, f64)>,
}

/// A shaded region between two curves sharing their x values, named by a
/// text label placed inside it.
#[derive(Clone, Debug)]
pub struct Region {
    /// Text drawn inside the region.
    pub label: String,
    /// Fill colour (drawn translucent).
    pub color: RGBColor,
    /// `(x, y_low, y_high)` along the region.
    pub band: Vec<(f64, f64, f64)>,
    /// Where the label goes, in data coordinates.
    pub label_at: (f64, f64),
}

/// Simulation points with vertical error bars.
#[derive(Clone, Debug)]
pub struct Points {
    /// Legend entry.
    pub label: String,
    /// Colour.
    pub color: RGBColor,
    /// `(x, y, y_low, y_high)`.
    pub xyy: Vec<(f64, f64, f64, f64)>,
}

/// One plot panel.
#[derive(Clone, Debug)]
pub struct Panel {
    /// Caption above the panel.
    pub title: String,
    /// Horizontal axis label.
    pub x_label: String,
    /// Vertical axis label.
    pub y_label: String,
    /// Horizontal range (data units, positive if `log_x`).
    pub x_range: Range<f64>,
    /// Vertical range.
    pub y_range: Range<f64>,
    /// Logarithmic horizontal axis.
    pub log_x: bool,
    /// Shaded regions, drawn first.
    pub regions: Vec<Region>,
    /// Theory curves.
    pub lines: Vec<Line>,
    /// Simulation points.
    pub points: Vec<Points>,
    /// Corner of the legend box.
    pub legend: SeriesLabelPosition,
}

impl Panel {
    /// An empty panel with axes.
    pub fn new(title: &str, x_label: &str, y_label: &str, x: Range<f64>, y: Range<f64>) -> Self {
        Panel {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            x_range: x,
            y_range: y,
            log_x: false,
            regions: Vec::new(),
            lines: Vec::new(),
            points: Vec::new(),
            legend: SeriesLabelPosition::UpperLeft,
        }
    }

    /// The corner whose legend-sized box (half the width, two fifths of
    /// the height) covers the fewest drawn features: point markers and
    /// the ends of their bars, and points sampled along every line
    /// segment (the first of the four corners on a tie).
    pub fn emptiest_corner(&self) -> SeriesLabelPosition {
        const SAMPLES: usize = 16;
        let (x0, x1) = (self.to_x(self.x_range.start), self.to_x(self.x_range.end));
        let (y0, y1) = (self.y_range.start, self.y_range.end);
        let mut features: Vec<(f64, f64)> = Vec::new();
        for pts in &self.points {
            for &(x, y, lo, hi) in &pts.xyy {
                features.extend([(x, y), (x, lo), (x, hi)].map(|(x, y)| (self.to_x(x), y)));
            }
        }
        for line in &self.lines {
            for w in line.xy.windows(2) {
                let (a, b) = ((self.to_x(w[0].0), w[0].1), (self.to_x(w[1].0), w[1].1));
                features.extend((0..=SAMPLES).map(|k| {
                    let t = k as f64 / SAMPLES as f64;
                    (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1))
                }));
            }
        }
        let (w, h) = (0.5 * (x1 - x0), 0.4 * (y1 - y0));
        let corners = [
            (SeriesLabelPosition::LowerLeft, x0, y0),
            (SeriesLabelPosition::UpperRight, x1 - w, y1 - h),
            (SeriesLabelPosition::LowerRight, x1 - w, y0),
            (SeriesLabelPosition::UpperLeft, x0, y1 - h),
        ];
        let covered = |&(_, cx, cy): &(SeriesLabelPosition, f64, f64)| {
            features
                .iter()
                .filter(|&&(x, y)| (cx..=cx + w).contains(&x) && (cy..=cy + h).contains(&y))
                .count()
        };
        let best = corners
            .iter()
            .min_by_key(|c| covered(c))
            .expect("four corners");
        best.0.clone()
    }

    fn to_x(&self, x: f64) -> f64 {
        if self.log_x {
            x.log10()
        } else {
            x
        }
    }
}

/// Pixel size of one panel.
const PANEL_SIZE: (u32, u32) = (560, 440);

/// Renders panels on a grid with `columns` columns under a common title.
pub fn render_svg(title: &str, panels: &[Panel], columns: usize) -> Result<String> {
    let columns = columns.clamp(1, panels.len().max(1));
    let rows = panels.len().div_ceil(columns).max(1);
    let size = (
        PANEL_SIZE.0 * columns as u32,
        PANEL_SIZE.1 * rows as u32 + 40,
    );
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let root = root.titled(title, ("sans-serif", 24)).map_err(plot_err)?;
        for (panel, area) in panels.iter().zip(root.split_evenly((rows, columns))) {
            draw_panel(&area, panel)?;
        }
        root.present().map_err(plot_err)?;
    }
    Ok(svg)
}

fn plot_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing the figure failed: {e:?}")
}

/// Tick label of a log axis: the value `10^v` at whole decades, nothing
/// in between (plotters places ticks evenly in `v`).
fn log_tick(v: f64) -> String {
    if (v - v.round()).abs() > 1e-9 {
        return String::new();
    }
    let x = 10f64.powi(v.round() as i32);
    if (0.001..10000.0).contains(&x) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    p: &Panel,
) -> Result<()> {
    let x_range = p.to_x(p.x_range.start)..p.to_x(p.x_range.end);
    let mut chart = ChartBuilder::on(area)
        .caption(&p.title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(x_range, p.y_range.clone())
        .map_err(plot_err)?;
    let log_x = p.log_x;
    let format_x = move |v: &f64| {
        if log_x {
            log_tick(*v)
        } else {
            format!("{}", (v * 1e3).round() / 1e3)
        }
    };
    chart
        .configure_mesh()
        .x_desc(p.x_label.as_str())
        .y_desc(p.y_label.as_str())
        .axis_desc_style(("sans-serif", 18))
        .x_label_formatter(&format_x)
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(plot_err)?;
    draw_regions(&mut chart, p)?;
    draw_lines(&mut chart, p)?;
    draw_points(&mut chart, p)?;
    if !(p.lines.is_empty() && p.points.is_empty()) {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .label_font(("sans-serif", 14))
            .position(p.legend.clone())
            .draw()
            .map_err(plot_err)?;
    }
    Ok(())
}

/// The chart of one panel: linear axes in (possibly log10) data units.
type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Shaded regions with their labels.
fn draw_regions<DB: DrawingBackend>(chart: &mut Chart<'_, DB>, p: &Panel) -> Result<()> {
    for r in &p.regions {
        let mut polygon: Vec<(f64, f64)> =
            r.band.iter().map(|&(x, lo, _)| (p.to_x(x), lo)).collect();
        polygon.extend(r.band.iter().rev().map(|&(x, _, hi)| (p.to_x(x), hi)));
        let fill = Polygon::new(polygon, r.color.mix(0.18).filled());
        chart.draw_series(std::iter::once(fill)).map_err(plot_err)?;
        let at = (p.to_x(r.label_at.0), r.label_at.1);
        let text = Text::new(
            r.label.clone(),
            at,
            ("sans-serif", 15).into_font().color(&BLACK),
        );
        chart.draw_series(std::iter::once(text)).map_err(plot_err)?;
    }
    Ok(())
}

/// Theory curves, solid or dashed, with legend entries.
fn draw_lines<'a, DB: DrawingBackend + 'a>(chart: &mut Chart<'a, DB>, p: &Panel) -> Result<()> {
    for l in &p.lines {
        let xy: Vec<(f64, f64)> = l.xy.iter().map(|&(x, y)| (p.to_x(x), y)).collect();
        let style = l.color.stroke_width(2);
        let series = if l.dashed {
            chart.draw_series(DashedLineSeries::new(xy, 8, 5, style))
        } else {
            chart.draw_series(LineSeries::new(xy, style))
        };
        let color = l.color;
        // Dashed lines get a gap in their legend sample too.
        let gap = if l.dashed { 5 } else { 0 };
        series
            .map_err(plot_err)?
            .label(l.label.clone())
            .legend(move |(x, y)| {
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(0, 0), (8, 0)], color.stroke_width(2))
                    + PathElement::new(vec![(8 + gap, 0), (20, 0)], color.stroke_width(2))
            });
    }
    Ok(())
}

/// Simulation points with vertical error bars and legend entries.
fn draw_points<DB: DrawingBackend>(chart: &mut Chart<'_, DB>, p: &Panel) -> Result<()> {
    for pts in &p.points {
        let color = pts.color;
        let bars = pts.xyy.iter().map(|&(x, _, lo, hi)| {
            let x = p.to_x(x);
            PathElement::new(vec![(x, lo), (x, hi)], color.stroke_width(1))
        });
        chart.draw_series(bars).map_err(plot_err)?;
        let dots = pts
            .xyy
            .iter()
            .map(|&(x, y, _, _)| Circle::new((p.to_x(x), y), 4, color.filled()));
        chart
            .draw_series(dots)
            .map_err(plot_err)?
            .label(pts.label.clone())
            .legend(move |(x, y)| Circle::new((x + 10, y), 4, color.filled()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The legend goes to the corner the data leave empty: a line rising
    /// from lower left to upper right leaves the two other corners, the
    /// first of which in the order tried is lower right; points in the
    /// three other corners leave upper left; on a log axis the corners are
    /// halves of the decades shown, not of the values.
    #[test]
    fn legend_goes_to_the_emptiest_corner() {
        let mut p = Panel::new("panel", "x", "y", 0.0..1.0, 0.0..1.0);
        p.lines.push(Line {
            label: "rising".into(),
            color: PALETTE[0],
            dashed: false,
            xy: vec![(0.0, 0.0), (1.0, 1.0)],
        });
        assert_eq!(p.emptiest_corner(), SeriesLabelPosition::LowerRight);
        p.lines.clear();
        p.points.push(Points {
            label: "points".into(),
            color: PALETTE[0],
            xyy: vec![
                (0.1, 0.1, 0.05, 0.15),
                (0.9, 0.1, 0.05, 0.15),
                (0.9, 0.9, 0.85, 0.95),
            ],
        });
        assert_eq!(p.emptiest_corner(), SeriesLabelPosition::UpperLeft);
        let mut log = Panel::new("panel", "x", "y", 1.0..100.0, 0.0..1.0);
        log.log_x = true;
        log.points.push(Points {
            label: "points".into(),
            color: PALETTE[0],
            // x = 20 lies in the right half of the log axis (above 10),
            // in the left half of the linear one.
            xyy: vec![
                (20.0, 0.1, 0.1, 0.1),
                (2.0, 0.9, 0.9, 0.9),
                (20.0, 0.9, 0.9, 0.9),
            ],
        });
        assert_eq!(log.emptiest_corner(), SeriesLabelPosition::LowerLeft);
    }

    #[test]
    fn svg_has_labels_legend_and_region_text() {
        let mut p = Panel::new("panel", "λ", "α", 0.1..10.0, 0.0..1.0);
        p.log_x = true;
        p.lines.push(Line {
            label: "α₁".into(),
            color: PALETTE[0],
            dashed: false,
            xy: vec![(0.1, 0.1), (10.0, 0.5)],
        });
        p.regions.push(Region {
            label: "no retrieval".into(),
            color: PALETTE[1],
            band: vec![(0.1, 0.1, 1.0), (10.0, 0.5, 1.0)],
            label_at: (1.0, 0.8),
        });
        p.points.push(Points {
            label: "N = 20".into(),
            color: PALETTE[2],
            xyy: vec![(1.0, 0.3, 0.25, 0.35)],
        });
        let svg = render_svg("figure", &[p], 1).unwrap();
        for text in [
            "figure",
            "panel",
            "λ",
            "α₁",
            "no retrieval",
            "N = 20",
            "<circle",
        ] {
            assert!(svg.contains(text), "missing {text}");
        }
    }
}
