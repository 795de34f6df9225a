//! One SVG chart per scenario (plotters, SVG backend): grouped bars, one
//! group per case and one bar per peer, at each peer's median with a
//! whisker from its min to its max. A panel for the throughput, and one
//! more for each ranked figure (memory per task, latency percentiles) the
//! scenario recorded.
//!
//! With one case the bars show the figures themselves; with several cases
//! (whose scales differ, e.g. `O_DIRECT` and page-cache reads) each case is
//! shown relative to ringloop's median in that case, ringloop = 1.

use std::path::Path;

use plotters::prelude::*;

use crate::metric::Metric;
use crate::report::{CaseReport, RINGLOOP};
use crate::stats::Summary;

const WIDTH: u32 = 960;
/// X units per case (integer coordinates: plotters formats their labels).
const SPAN: i32 = 1000;
const PANEL_HEIGHT: u32 = 340;

/// Peer colours, in the order the scenario lists its peers (ringloop first).
const PALETTE: [RGBColor; 10] = [
    RGBColor(214, 39, 40),
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// What one panel plots.
#[derive(Clone, Copy)]
enum Figure {
    Throughput,
    Metric(Metric),
}

impl Figure {
    fn of(self, case: &CaseReport, peer: &str) -> Option<Summary> {
        let row = case.row(peer)?;
        match self {
            Figure::Throughput => row.result.as_ref().ok().copied(),
            Figure::Metric(m) => row.metric(m),
        }
    }

    /// The axis label, for absolute figures.
    fn label(self, rate: &str) -> String {
        match self {
            Figure::Throughput => format!("{rate} (higher is better)"),
            Figure::Metric(m) => format!("{} (lower is better)", m.heading()),
        }
    }

    fn scale(self) -> f64 {
        match self {
            Figure::Throughput => 1e-6,
            Figure::Metric(_) => 1.0,
        }
    }
}

/// Writes the chart of the scenario whose cases are `cases` to `path`.
pub fn write(path: &Path, cases: &[&CaseReport]) -> Result<(), String> {
    let first = cases.first().ok_or("no cases")?;
    let mut figures = vec![Figure::Throughput];
    figures.extend(
        Metric::ALL
            .into_iter()
            .filter(|m| m.ranked() && cases.iter().any(|c| c.metrics().contains(m)))
            .map(Figure::Metric),
    );
    let peers = peers(cases);
    let height = PANEL_HEIGHT * figures.len() as u32 + 40;
    let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let title = format!("ringloop-compare: {}", first.scenario);
    let root = root.titled(&title, ("sans-serif", 22)).map_err(err)?;
    let panels = root.split_evenly((figures.len(), 1));
    for (i, (panel, figure)) in panels.iter().zip(figures).enumerate() {
        draw_panel(panel, cases, &peers, figure, i == 0)?;
    }
    root.present().map_err(err)
}

/// Every peer with a result in any case, in the scenario's order.
fn peers(cases: &[&CaseReport]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for c in cases {
        for r in c.rows.iter().filter(|r| r.result.is_ok()) {
            if !out.contains(&r.peer) {
                out.push(r.peer);
            }
        }
    }
    out
}

/// Per case and peer: (median, min, max), as plotted.
fn values(cases: &[&CaseReport], peers: &[&str], figure: Figure) -> Vec<Vec<Option<[f64; 3]>>> {
    let relative = cases.len() > 1;
    cases
        .iter()
        .map(|c| {
            let base = if relative {
                figure.of(c, RINGLOOP).map(|s| s.median)
            } else {
                Some(1.0 / figure.scale())
            };
            peers
                .iter()
                .map(|p| {
                    let s = figure.of(c, p)?;
                    let b = base.filter(|b| *b > 0.0)?;
                    Some([s.median / b, s.min / b, s.max / b])
                })
                .collect()
        })
        .collect()
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    cases: &[&CaseReport],
    peers: &[&'static str],
    figure: Figure,
    legend: bool,
) -> Result<(), String> {
    let vals = values(cases, peers, figure);
    let top = vals
        .iter()
        .flatten()
        .flatten()
        .map(|v| v[2])
        .fold(0.0f64, f64::max);
    let top = if top > 0.0 { top * 1.15 } else { 1.0 };
    let n = cases.len();
    let centers: Vec<i32> = (0..n as i32).map(|i| i * SPAN + SPAN / 2).collect();
    let y_desc = if n > 1 {
        match figure {
            Figure::Throughput => "relative to ringloop (= 1), higher is better".to_string(),
            Figure::Metric(m) => format!(
                "{} relative to ringloop (= 1), lower is better",
                m.heading()
            ),
        }
    } else {
        figure.label(&cases[0].rate())
    };
    let ids: Vec<&str> = cases.iter().map(|c| c.case).collect();
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d((0..n as i32 * SPAN).with_key_points(centers), 0.0..top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .y_desc(y_desc)
        .x_label_formatter(&|x| {
            let i = (*x / SPAN) as usize;
            ids.get(i).map_or(String::new(), |s| s.to_string())
        })
        .draw()
        .map_err(err)?;
    // A group takes 80% of its case's span; each bar 90% of its slot.
    let slot = SPAN * 8 / 10 / peers.len().max(1) as i32;
    let left = |case: usize, peer: usize| case as i32 * SPAN + SPAN / 10 + peer as i32 * slot;
    for (j, peer) in peers.iter().enumerate() {
        let color = PALETTE[j % PALETTE.len()];
        let bars = vals.iter().enumerate().filter_map(move |(i, row)| {
            let [median, _, _] = row[j]?;
            let x0 = left(i, j);
            Some(Rectangle::new(
                [(x0, 0.0), (x0 + slot * 9 / 10, median)],
                color.filled(),
            ))
        });
        chart
            .draw_series(bars)
            .map_err(err)?
            .label(*peer)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
        let whiskers = vals.iter().enumerate().filter_map(move |(i, row)| {
            let [_, lo, hi] = row[j]?;
            let x = left(i, j) + slot * 9 / 20;
            Some(PathElement::new(
                vec![(x, lo), (x, hi)],
                BLACK.stroke_width(1),
            ))
        });
        chart.draw_series(whiskers).map_err(err)?;
    }
    if legend {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
    }
    Ok(())
}

fn err(e: impl std::fmt::Display) -> String {
    format!("chart: {e}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{case, row, summary};

    #[test]
    fn writes_an_svg_with_every_peer() {
        let mut a = case(vec![row("ringloop", 2e6), row("monoio", 4e6)]);
        a.rows[0].metrics = vec![(Metric::LatencyP99, summary(30.0))];
        let mut b = case(vec![row("ringloop", 1e6), row("monoio", 5e5)]);
        b.case = "second";
        let path = std::env::temp_dir().join(format!("ringloop-chart-{}.svg", std::process::id()));
        write(&path, &[&a, &b]).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
        for want in ["ringloop", "monoio", "second", "latency p99"] {
            assert!(svg.contains(want), "no {want} in the chart");
        }
    }
}
