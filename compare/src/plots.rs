//! The SVG plots: one bar chart (median, min–max whisker) per metric, and W6b's drain on
//! log-log axes.

use crate::results::{Metric, Results};
use crate::stats::{median, min_max};
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::io::Error;
use std::path::{Path, PathBuf};

/// The colour of the `i`-th contender of a chart.
fn colour(i: usize) -> RGBAColor {
    Palette99::pick(i).to_rgba()
}

/// Draws every plot into `dir` (created if missing) and returns the files written: a bar
/// chart per metric but W6b's and the floor's, `NN-Wx.svg` with `NN` the metric's row in
/// the table, and `w6-drain-loglog.svg` when W6b ran.
pub fn plots(results: &Results, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for (k, m) in results.metrics.iter().enumerate() {
        if m.workload == "W6b" || m.workload == "floor" {
            continue;
        }
        let path = dir.join(format!("{:02}-{}.svg", k, m.workload));
        bar_chart(m, &path)?;
        written.push(path);
    }
    let drains: Vec<&Metric> = results
        .metrics
        .iter()
        .filter(|m| m.workload == "W6b")
        .collect();
    if !drains.is_empty() {
        let path = dir.join("w6-drain-loglog.svg");
        drain_chart(&drains, &path)?;
        written.push(path);
    }
    Ok(written)
}

/// One metric's bars: one per contender, at its row, from the axis to the median, with a
/// min–max whisker. A log axis when the values span more than 20×, so small ones stay
/// visible.
fn bar_chart(m: &Metric, path: &Path) -> std::io::Result<()> {
    let names = m.order.clone();
    let stats: Vec<(f64, f64, f64)> = names
        .iter()
        .map(|n| {
            let v = &m.samples[n];
            let (lo, hi) = min_max(v);
            (median(v), lo, hi)
        })
        .collect();
    let top = stats.iter().map(|s| s.2).fold(0.0, f64::max) * 1.15 + 1e-9;
    let bottom = stats.iter().map(|s| s.1).fold(f64::MAX, f64::min).max(1e-9);
    let rows = names.len();
    let root = SVGBackend::new(path, (760, 90 + 46 * rows as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(Error::other)?;
    let caption = format!("{} {} ({})", m.workload, m.what, m.unit);
    let y = || -0.5..rows as f64 - 0.5;
    let label = |v: &f64| {
        let i = v.round();
        if (v - i).abs() < 1e-6 && i >= 0.0 {
            names.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    macro_rules! draw {
        ($x:expr, $base:expr) => {{
            let mut chart = ChartBuilder::on(&root)
                .caption(&caption, ("sans-serif", 18))
                .margin(12)
                .x_label_area_size(30)
                .y_label_area_size(200)
                .build_cartesian_2d($x, y())
                .map_err(Error::other)?;
            chart
                .configure_mesh()
                .disable_y_mesh()
                .y_labels(rows)
                .y_label_formatter(&label)
                .x_desc(m.unit)
                .draw()
                .map_err(Error::other)?;
            for (i, (med, lo, hi)) in stats.iter().enumerate() {
                let row = i as f64;
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [($base, row - 0.35), (*med, row + 0.35)],
                        colour(i).filled(),
                    )))
                    .map_err(Error::other)?;
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(*lo, row), (*hi, row)],
                        BLACK.stroke_width(2),
                    )))
                    .map_err(Error::other)?;
            }
        }};
    }
    if top / bottom > 20.0 {
        draw!((bottom * 0.5..top * 2.0).log_scale(), bottom * 0.5);
    } else {
        draw!(0.0..top, 0.0);
    }
    root.present().map_err(Error::other)
}

/// W6b on log-log axes: n vs ms, one line per contender.
fn drain_chart(drains: &[&Metric], path: &Path) -> std::io::Result<()> {
    let mut series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for m in drains {
        let n: f64 = m.what.trim_start_matches("n=").parse().unwrap_or(1.0);
        for (who, v) in &m.samples {
            series.entry(who.clone()).or_default().push((n, median(v)));
        }
    }
    let ys = series.values().flatten().map(|p| p.1);
    let (ymin, ymax) = ys.fold((f64::MAX, f64::MIN), |(a, b), y| (a.min(y), b.max(y)));
    let xs = series.values().flatten().map(|p| p.0);
    let (xmin, xmax) = xs.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
    let root = SVGBackend::new(path, (760, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(Error::other)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "W6b wait(pending, FirstCompleted) drain loop",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(
            (xmin * 0.8..xmax * 1.25).log_scale(),
            (ymin * 0.5..ymax * 2.0).log_scale(),
        )
        .map_err(Error::other)?;
    chart
        .configure_mesh()
        .x_desc("futures drained (n)")
        .y_desc("ms")
        .draw()
        .map_err(Error::other)?;
    for (i, (who, pts)) in series.iter().enumerate() {
        let c = colour(i);
        chart
            .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))
            .map_err(Error::other)?
            .label(who.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        chart
            .draw_series(pts.iter().map(|p| Circle::new(*p, 3, c.filled())))
            .map_err(Error::other)?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(Error::other)?;
    root.present().map_err(Error::other)
}
