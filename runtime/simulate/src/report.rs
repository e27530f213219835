//! The report folder: `report.md` (the table), `report.json` (the same figures) and SVG plots
//! against the load (clusters × services): `latency.svg`, `loop.svg`, `rss.svg`.

use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;

use crate::{PointReport, Report, SimulateError};

/// Writes the report's files into `out`.
pub fn write(report: &Report, out: &Path) -> Result<(), SimulateError> {
    let put = |name: &str, text: String| {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(|source| SimulateError::Io { path, source })
    };
    let json = serde_json::to_string_pretty(report).unwrap_or_default();
    put("report.json", json + "\n")?;
    put("report.md", markdown(report))?;
    let mut points: Vec<&PointReport> = report.points.iter().collect();
    points.sort_by_key(|p| p.load);
    let slo_e2e = report.slo.end_to_end_p99.as_secs_f64();
    let slo_loop = report.slo.loop_p99.as_secs_f64() * 1000.0;
    plot(
        &out.join("latency.svg"),
        "End-to-end latency, publish/promote to Ready",
        "seconds",
        &[
            ("p50", series(&points, |p| p.end_to_end_p50_s)),
            ("p99", series(&points, |p| p.end_to_end_p99_s)),
            ("max", series(&points, |p| p.end_to_end_max_s)),
        ],
        Some(("SLO p99", slo_e2e)),
    )?;
    plot(
        &out.join("loop.svg"),
        "Controller loop duration",
        "milliseconds",
        &[
            ("p50 under traffic", series(&points, |p| p.loop_p50_ms)),
            ("p99 under traffic", series(&points, |p| p.loop_p99_ms)),
            ("max under traffic", series(&points, |p| p.loop_max_ms)),
            ("p99 idle", series(&points, |p| p.idle_loop_p99_ms)),
        ],
        Some(("SLO p99", slo_loop)),
    )?;
    plot(
        &out.join("rss.svg"),
        "Controller resident memory",
        "MiB",
        &[
            ("peak", series(&points, |p| p.rss_peak_mb)),
            ("at the end", series(&points, |p| p.rss_mb)),
        ],
        None,
    )?;
    Ok(())
}

fn series(points: &[&PointReport], f: impl Fn(&PointReport) -> Option<f64>) -> Vec<(f64, f64)> {
    points
        .iter()
        .filter_map(|p| f(p).map(|y| (p.load as f64, y)))
        .collect()
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v:.digits$}"))
}

/// The table.
pub fn markdown(report: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Load simulation\n");
    let _ = writeln!(
        s,
        "Agents long-poll every {:.1} s; a simulated release is Ready {:.1} s after it is \
         applied; a new version every {:.1} s for {:.0} s per point, promoted through every \
         environment.\n",
        report.poll_s, report.ready_after_s, report.every_s, report.duration_s
    );
    let _ = writeln!(
        s,
        "SLO: end-to-end p99 ≤ {:.2} s, reconcile loop p99 ≤ {:.0} ms, every deployment Ready \
         on every targeted cluster, every agent Ready.\n",
        report.slo.end_to_end_p99.as_secs_f64(),
        report.slo.loop_p99.as_secs_f64() * 1000.0
    );
    let _ = writeln!(
        s,
        "| point | load | agents Ready | deployments | e2e p50 s | e2e p99 s | e2e max s | loop p50 ms | loop p99 ms | loop max ms | idle loop p99 ms | req/s | errors | RSS MiB | peak RSS MiB | CPU % | store ops | SLO |"
    );
    let _ = writeln!(
        s,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    );
    for p in &report.points {
        let slo = if p.slo_broken.is_empty() {
            "met".to_owned()
        } else {
            format!("**broken**: {}", p.slo_broken.join("; "))
        };
        let _ = writeln!(
            s,
            "| {} | {} | {}/{} | {} ({} timed out) | {} | {} | {} | {} | {} | {} | {} | {:.0} | {:.2}% | {} | {} | {} | {:.0} | {slo} |",
            p.point,
            p.load,
            p.agents_ready,
            p.agents,
            p.deployments,
            p.deployments_timed_out,
            opt(p.end_to_end_p50_s, 2),
            opt(p.end_to_end_p99_s, 2),
            opt(p.end_to_end_max_s, 2),
            opt(p.loop_p50_ms, 1),
            opt(p.loop_p99_ms, 1),
            opt(p.loop_max_ms, 1),
            opt(p.idle_loop_p99_ms, 1),
            p.requests_per_s,
            p.error_rate * 100.0,
            opt(p.rss_mb, 0),
            opt(p.rss_peak_mb, 0),
            opt(p.cpu_percent, 0),
            p.store_operations,
        );
    }
    let _ = writeln!(s);
    let several: Vec<&PointReport> = report
        .points
        .iter()
        .filter(|p| p.replicas.len() > 1)
        .collect();
    if !several.is_empty() {
        let _ = writeln!(
            s,
            "Each replica's reconcile loop (the agents spread over the replicas, deployments through the first):\n"
        );
        let _ = writeln!(
            s,
            "| point | replica | idle loop p50 ms | idle loop p99 ms | loop p50 ms | loop p99 ms | RSS MiB |"
        );
        let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|");
        for p in several {
            for r in &p.replicas {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    p.point,
                    r.server,
                    opt(r.idle_loop_p50_ms, 1),
                    opt(r.idle_loop_p99_ms, 1),
                    opt(r.loop_p50_ms, 1),
                    opt(r.loop_p99_ms, 1),
                    opt(r.rss_mb, 0),
                );
            }
        }
        let _ = writeln!(s);
    }
    match report.tipping_point {
        Some(p) => {
            let _ = writeln!(
                s,
                "Tipping point: **{p}** (load {}), the smallest load that broke the SLO.",
                p.load()
            );
        }
        None => {
            let _ = writeln!(s, "Tipping point: not reached; every point kept the SLO.");
        }
    }
    let _ = writeln!(
        s,
        "\nPlots: [latency](latency.svg), [loop](loop.svg), [RSS](rss.svg). Loop figures are of \
         every pass the server ran while watched (its metrics read every half second); warm-up (start to every agent \
         Ready), per point: {}.",
        report
            .points
            .iter()
            .map(|p| format!("{} {:.1} s", p.point, p.warm_up_s))
            .collect::<Vec<_>>()
            .join(", ")
    );
    s
}

const COLOURS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
];

/// A line plot of `lines` against the load, with an optional horizontal limit.
fn plot(
    path: &Path,
    title: &str,
    unit: &str,
    lines: &[(&str, Vec<(f64, f64)>)],
    limit: Option<(&str, f64)>,
) -> Result<(), SimulateError> {
    let fail = |e: &dyn std::fmt::Display| SimulateError::Plot {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let xs = lines.iter().flat_map(|(_, l)| l.iter().map(|p| p.0));
    let (x_min, x_max) = xs.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
    let (x_min, x_max) = if x_min > x_max {
        (0.0, 1.0)
    } else if x_min == x_max {
        (x_min * 0.5, x_max * 1.5 + 1.0)
    } else {
        (x_min, x_max)
    };
    let y_max = lines
        .iter()
        .flat_map(|(_, l)| l.iter().map(|p| p.1))
        .chain(limit.map(|l| l.1))
        .fold(0.0_f64, f64::max)
        .max(1e-3)
        * 1.15;
    let root = SVGBackend::new(path, (800, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(x_min..x_max, 0.0..y_max)
        .map_err(|e| fail(&e))?;
    chart
        .configure_mesh()
        .x_desc("load (clusters × services)")
        .y_desc(unit)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .draw()
        .map_err(|e| fail(&e))?;
    for (i, (name, points)) in lines.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                colour.stroke_width(2),
            ))
            .map_err(|e| fail(&e))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(2)));
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 4, colour.filled())))
            .map_err(|e| fail(&e))?;
    }
    if let Some((name, y)) = limit {
        let grey = RGBColor(120, 120, 120);
        chart
            .draw_series(LineSeries::new(
                [(x_min, y), (x_max, y)],
                grey.stroke_width(1),
            ))
            .map_err(|e| fail(&e))?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], grey.stroke_width(1)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| fail(&e))?;
    root.present().map_err(|e| fail(&e))?;
    Ok(())
}
