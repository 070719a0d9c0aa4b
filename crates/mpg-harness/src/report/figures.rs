//! The figures: Fig. 4–5 (learning curves per task, against iterations and wall-clock time),
//! Fig. 6 (policy-gradient time and update throughput) and the tracking metrics of spec §5.
//! PNGs through `plot.rs` with its bundled font.

use super::curves::{self, Curves};
use super::load::{GroupKey, Run, task_label};
use super::stats::{BoxStats, bootstrap_ci, box_stats, mean, median, percentile, seed_of, sorted};
use super::table1::base_score;
use crate::plot::{
    AnyPanel, BoxPanel, Legend, Panel, Series, draw_figure, draw_grid, draw_panels, grow,
    symlog_threshold,
};
use anyhow::{Context, Result};
use mpg_envs::Task;
use mpg_runner::output::write_output_bytes;
use std::collections::BTreeMap;
use std::path::Path;

/// Each panel of the every-run figures (one per algorithm): width × height; three columns.
pub const RUNS_PANEL: (u32, u32) = (560, 380);
pub const RUNS_COLUMNS: usize = 3;
/// Learning-curve figures: width × height in pixels.
pub const CURVE_SIZE: (u32, u32) = (1000, 600);
/// Each tracking-metric panel: width × height.
pub const METRIC_PANEL: (u32, u32) = (1000, 300);
/// Each panel of the every-run tracking metrics: taller, its axis spans decades.
pub const METRIC_RUNS_PANEL_HEIGHT: u32 = 380;
/// Fig. 6: height of each of its two panels; its width grows with the number of boxes.
pub const FIG6_PANEL_HEIGHT: u32 = 450;
/// Pixels per box in Fig. 6 (at least 1000 in all).
pub const FIG6_PX_PER_BOX: u32 = 110;
/// Resamples of the curves' bands (seaborn's `n_boot`).
pub const BAND_REPS: usize = 1000;
/// Policy-gradient timings dropped at the start of each learner's log (spec §5, Fig. 6).
pub const PG_WARMUP: usize = 200;

/// A written figure: what it shows and its file name in the report folder.
pub struct Figure {
    pub caption: String,
    pub file: String,
    /// What the figure cannot show (curves beyond the y-limits, runs without timings).
    pub notes: Vec<String>,
}

/// A note naming the lines whose mean leaves the paper's y-limits somewhere.
fn outside_note(series: &[Series], (lo, hi): (f64, f64)) -> Vec<String> {
    let out: Vec<&str> = series
        .iter()
        .filter(|s| s.points.iter().any(|p| !(lo..=hi).contains(&p.1)))
        .map(|s| s.label.as_str())
        .collect();
    if out.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "Part of the mean curve lies outside the paper's y-limits ({lo}, {hi}) and is cut off: {}.",
        out.join(", ")
    )]
}

/// Draw a PNG whole or not at all: into a temporary file beside it (plotters picks the format
/// from the `.png` extension), then written to `out/file` through `mpg_runner::output` (which
/// never renames over a symlink, FIFO or device).
fn write_png(out: &Path, file: &str, draw: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let tmp = out.join(format!(".{file}.tmp.png"));
    let res = draw(&tmp).and_then(|()| {
        let bytes =
            std::fs::read(&tmp).with_context(|| format!("cannot read {}", tmp.display()))?;
        write_output_bytes(&out.join(file), &bytes)
    });
    let _ = std::fs::remove_file(&tmp);
    res
}

/// The paper's y-limits of Fig. 4 and Fig. 5 (spec §5).
pub fn y_limits(t: Task) -> (f64, f64) {
    match t {
        Task::PathTracking => (-800.0, 50.0),
        Task::InvertedPendulum => (-60.0, 5.0),
    }
}

/// The paper's figure number of a task's learning curves.
fn fig_number(t: Task) -> u32 {
    match t {
        Task::PathTracking => 4,
        Task::InvertedPendulum => 5,
    }
}

/// eval.csv's tracking metrics of spec §5, with axis labels.
pub fn metrics(t: Task) -> &'static [(&'static str, &'static str)] {
    match t {
        Task::PathTracking => &[
            ("rms_dy", "RMS Δy [m]"),
            ("rms_dphi", "RMS Δφ [rad]"),
            ("rms_dv", "RMS (v_x − 20) [m/s]"),
            ("rms_steer", "RMS steering δ [rad]"),
            ("rms_acc", "RMS a_x [m/s²]"),
        ],
        Task::InvertedPendulum => &[
            ("rms_p", "RMS p [m]"),
            ("rms_theta", "RMS θ [rad]"),
            ("rms_pdot", "RMS dp/dt [m/s]"),
            ("rms_thetadot", "RMS dθ/dt [rad/s]"),
        ],
    }
}

/// The mean across runs at each evaluation, with its 95 % bootstrap band (seaborn's
/// `lineplot` default), x from `x_of`.
fn mean_series(c: &Curves, label: &str, color: usize, x_of: impl Fn(usize) -> f64) -> Series {
    let seed = seed_of(label);
    let mut s = Series {
        label: label.to_string(),
        color: Some(color),
        ..Default::default()
    };
    for k in 0..c.iterations.len() {
        let v = c.at(k);
        let (lo, hi) = bootstrap_ci(
            std::slice::from_ref(&v),
            mean,
            BAND_REPS,
            seed.wrapping_add(k as u64),
        );
        s.points.push((x_of(k), mean(&v)));
        s.band.push((x_of(k), lo, hi));
    }
    s
}

/// Each run as a thin line, then the median across runs with the interquartile band (25th to
/// 75th percentile): what the runs did, whatever a few of them do to the mean.
fn spread_series(
    c: &Curves,
    label: &str,
    color: usize,
    band: bool,
    x_of: impl Fn(usize) -> f64,
) -> Vec<Series> {
    let mut out: Vec<Series> = c
        .values
        .iter()
        .map(|v| Series {
            label: String::new(),
            points: v.iter().enumerate().map(|(k, &y)| (x_of(k), y)).collect(),
            color: Some(color),
            thin: true,
            ..Default::default()
        })
        .collect();
    let mut m = Series {
        label: format!("{label} (median of {})", c.values.len()),
        color: Some(color),
        ..Default::default()
    };
    for k in 0..c.iterations.len() {
        let v = sorted(&c.at(k));
        m.points.push((x_of(k), median(&v)));
        if band {
            m.band
                .push((x_of(k), percentile(&v, 25.0), percentile(&v, 75.0)));
        }
    }
    out.push(m);
    out
}

/// Every finite y of the panels' series (the symmetric-log threshold is fitted to them).
fn all_y(series: &[Series]) -> impl Iterator<Item = f64> + '_ {
    series.iter().flat_map(|s| s.points.iter().map(|p| p.1))
}

fn iterations_x(c: &Curves) -> impl Fn(usize) -> f64 + '_ {
    |k| c.iterations[k] as f64 / 1e4
}

/// Seconds shown in the unit that keeps the axis' numbers short.
fn time_unit(max_s: f64) -> (&'static str, f64) {
    if max_s > 7200.0 {
        ("h", 3600.0)
    } else if max_s > 120.0 {
        ("min", 60.0)
    } else {
        ("s", 1.0)
    }
}

fn base_line(t: Task, x0: f64, x1: f64) -> Series {
    Series {
        label: format!("Base score ({})", base_score(t)),
        points: vec![(x0, base_score(t)), (x1, base_score(t))],
        dashed: true,
        color: Some(7),
        ..Default::default()
    }
}

/// Fig. 4–5 of one task, against iterations and against wall-clock time.
pub fn learning_curves(
    out: &Path,
    task: Task,
    groups: &[(&GroupKey, &Vec<&Run>)],
    color: &dyn Fn(&GroupKey) -> usize,
) -> Result<Vec<Figure>> {
    let curves: Vec<(String, usize, Curves)> = groups
        .iter()
        .filter_map(|(k, runs)| {
            curves::smoothed(runs, "mean_return").map(|c| (k.label(), color(k), c))
        })
        .collect();
    if curves.is_empty() {
        return Ok(Vec::new());
    }
    let n = fig_number(task);
    let name = task.name();
    let mut by_iter: Vec<Series> = curves
        .iter()
        .map(|(l, col, c)| mean_series(c, l, *col, iterations_x(c)))
        .collect();
    let x1 = by_iter
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(0.0, f64::max);
    let notes = outside_note(&by_iter, y_limits(task));
    by_iter.push(base_line(task, 0.0, x1));
    let file = format!("fig{n}_{name}.png");
    let panel = Panel {
        title: format!("Fig. {n}: {} — evaluation return", task_label(task)),
        x_label: "Iteration [×10⁴]".into(),
        y_label: "Average return".into(),
        series: by_iter,
        x_range: Some((0.0, x1.max(1e-9))),
        y_range: Some(y_limits(task)),
        ..Default::default()
    };
    write_png(out, &file, |p| {
        draw_panels(p, &[panel], CURVE_SIZE.0, CURVE_SIZE.1)
    })?;
    let mut figs = vec![Figure {
        caption: format!(
            "Fig. {n}: {} learning curves against iterations",
            task_label(task)
        ),
        file,
        notes,
    }];
    figs.push(learning_runs(out, task, &curves, x1)?);
    // against wall-clock time: x is the mean across the runs of the seconds at each evaluation
    let max_s = curves
        .iter()
        .flat_map(|(_, _, c)| (0..c.iterations.len()).map(|k| mean(&c.wall_at(k))))
        .fold(0.0, f64::max);
    let (unit, div) = time_unit(max_s);
    let mut by_time: Vec<Series> = curves
        .iter()
        .map(|(l, col, c)| mean_series(c, l, *col, |k| mean(&c.wall_at(k)) / div))
        .collect();
    let notes = outside_note(&by_time, y_limits(task));
    by_time.push(base_line(task, 0.0, max_s / div));
    let file = format!("fig{n}_{name}_wallclock.png");
    let panel = Panel {
        title: format!(
            "Fig. {n} (wall-clock): {} — evaluation return",
            task_label(task)
        ),
        x_label: format!("Training time [{unit}] (mean across runs)"),
        y_label: "Average return".into(),
        series: by_time,
        x_range: Some((0.0, (max_s / div).max(1e-9))),
        y_range: Some(y_limits(task)),
        ..Default::default()
    };
    write_png(out, &file, |p| {
        draw_panels(p, &[panel], CURVE_SIZE.0, CURVE_SIZE.1)
    })?;
    figs.push(Figure {
        caption: format!(
            "Fig. {n} against wall-clock time: {} learning curves",
            task_label(task)
        ),
        file,
        notes,
    });
    Ok(figs)
}

/// Fig. 4–5 with every run: a panel per algorithm (same axes), each run a thin line, the
/// median across runs with its interquartile band, the base score dashed, on a symmetric-log y
/// axis that keeps diverged runs (returns of −10⁴ and below) beside converged ones in view.
fn learning_runs(
    out: &Path,
    task: Task,
    curves: &[(String, usize, Curves)],
    x1: f64,
) -> Result<Figure> {
    let n = fig_number(task);
    let per_algo: Vec<Vec<Series>> = curves
        .iter()
        .map(|(l, col, c)| spread_series(c, l, *col, true, iterations_x(c)))
        .collect();
    // linear within ± the power of ten below the base score's size (10 on path tracking, 1 on
    // the pendulum): converged runs (−5, −30, −80) stay apart, diverged ones on the decades
    let c = 10f64.powf(base_score(task).abs().log10().floor());
    let (mut lo, mut hi) = (base_score(task).min(0.0), 0.0f64);
    for s in per_algo.iter().flatten() {
        for p in &s.points {
            lo = lo.min(p.1);
            hi = hi.max(p.1);
        }
    }
    let range = (grow(lo, c), grow(hi, c));
    let panels: Vec<Panel> = curves
        .iter()
        .zip(per_algo)
        .map(|((l, _, cv), mut series)| {
            series.push(base_line(task, 0.0, x1));
            Panel {
                title: format!(
                    "{} — {l}, {}",
                    task_label(task),
                    match cv.values.len() {
                        1 => "1 run".to_string(),
                        n => format!("{n} runs"),
                    }
                ),
                x_label: "Iteration [×10⁴]".into(),
                y_label: "Average return (symlog)".into(),
                series,
                x_range: Some((0.0, x1.max(1e-9))),
                y_range: Some(range),
                y_symlog: Some(c),
                legend: Legend::None,
                ..Default::default()
            }
        })
        .collect();
    let file = format!("fig{n}_{}_runs.png", task.name());
    write_png(out, &file, |p| {
        draw_grid(p, &panels, RUNS_COLUMNS, RUNS_PANEL.0, RUNS_PANEL.1)
    })?;
    Ok(Figure {
        caption: format!(
            "Fig. {n}, every run: {} — a panel per algorithm: each run (thin), the median across runs (thick) and its interquartile band, the base score dashed; symmetric-log axis (linear within ±{})",
            task_label(task),
            crate::plot::tick_label(c)
        ),
        file,
        notes: Vec::new(),
    })
}

/// The tracking metrics of spec §5 over training, one panel per metric.
pub fn metric_curves(
    out: &Path,
    task: Task,
    groups: &[(&GroupKey, &Vec<&Run>)],
    color: &dyn Fn(&GroupKey) -> usize,
) -> Result<Vec<Figure>> {
    let mut panels = Vec::new();
    for (col, y_label) in metrics(task) {
        let series: Vec<Series> = groups
            .iter()
            .filter_map(|(k, runs)| {
                curves::smoothed(runs, col)
                    .map(|c| mean_series(&c, &k.label(), color(k), iterations_x(&c)))
            })
            .collect();
        if !series.is_empty() {
            panels.push(Panel {
                title: format!("{} — {y_label}", task_label(task)),
                x_label: "Iteration [×10⁴]".into(),
                y_label: y_label.to_string(),
                series,
                ..Default::default()
            });
        }
    }
    if panels.is_empty() {
        return Ok(Vec::new());
    }
    let file = format!("metrics_{}.png", task.name());
    write_png(out, &file, |p| {
        draw_panels(p, &panels, METRIC_PANEL.0, METRIC_PANEL.1)
    })?;
    let mut figs = vec![Figure {
        caption: format!(
            "{}: tracking metrics over training (smoothed, mean across runs, 95 % bootstrap band)",
            task_label(task)
        ),
        file,
        notes: Vec::new(),
    }];
    // every run: thin lines and the median, a symmetric-log axis (a diverged run's RMS error is
    // orders of magnitude above a converged one's)
    let mut panels = Vec::new();
    for (col, y_label) in metrics(task) {
        let series: Vec<Series> = groups
            .iter()
            .filter_map(|(k, runs)| {
                curves::smoothed(runs, col)
                    .map(|c| spread_series(&c, &k.label(), color(k), false, iterations_x(&c)))
            })
            .flatten()
            .collect();
        if !series.is_empty() {
            let c = symlog_threshold(all_y(&series));
            panels.push(Panel {
                title: format!("{} — {y_label}, every run", task_label(task)),
                x_label: "Iteration [×10⁴]".into(),
                y_label: format!("{y_label} (symlog)"),
                series,
                y_symlog: Some(c),
                legend: Legend::Right,
                ..Default::default()
            });
        }
    }
    let file = format!("metrics_{}_runs.png", task.name());
    write_png(out, &file, |p| {
        draw_panels(p, &panels, METRIC_PANEL.0, METRIC_RUNS_PANEL_HEIGHT)
    })?;
    figs.push(Figure {
        caption: format!(
            "{}: tracking metrics, every run (thin) and the median across runs, on symmetric-log axes",
            task_label(task)
        ),
        file,
        notes: Vec::new(),
    });
    Ok(figs)
}

/// A run's policy-gradient times (ms) after each learner's first [`PG_WARMUP`]: gradients.csv's
/// rows, or, without it, train.csv's interval means, dropping the intervals that hold the first
/// [`PG_WARMUP`] policy gradients.
pub fn pg_times(run: &Run) -> Vec<f64> {
    if let Some(g) = &run.gradients {
        let mut per_learner: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
        for (l, pg) in g.column("learner").into_iter().zip(g.column("pg_ms")) {
            if let (Some(l), Some(pg)) = (l, pg) {
                per_learner.entry(l as i64).or_default().push(pg);
            }
        }
        return per_learner
            .into_values()
            .flat_map(|v| v.into_iter().skip(PG_WARMUP))
            .collect();
    }
    let updates = run.train.column("policy_updates");
    let mut before = 0.0;
    let mut out = Vec::new();
    for (k, pg) in run.train.column("pg_ms").into_iter().enumerate() {
        if let (Some(pg), true) = (pg, before >= PG_WARMUP as f64) {
            out.push(pg);
        }
        before += updates.get(k).copied().flatten().unwrap_or(0.0);
    }
    out
}

/// Update throughput of a run: iterations per second over train.csv (from its first row, so
/// the start-up before the first logged interval is not counted), or over eval.csv when the
/// run folder holds no train.csv (a committed copy).
pub fn throughput(run: &Run) -> Option<f64> {
    let csv = if run.train.rows.len() >= 2 {
        &run.train
    } else {
        &run.eval
    };
    let it = csv.values("iteration");
    let wall = csv.values("wall_s");
    let n = it.len();
    let (di, dw) = if n >= 2 && wall[n - 1] > wall[0] {
        (it[n - 1] - it[0], wall[n - 1] - wall[0])
    } else {
        (*it.last()?, *wall.last()?)
    };
    (dw > 0.0).then(|| di / dw)
}

/// Fig. 6 of one task: a box per (algorithm, learner count) of policy-gradient time, and the
/// update throughput by learner count.
pub fn fig6(
    out: &Path,
    task: Task,
    groups: &[(&GroupKey, &Vec<&Run>)],
    color: &dyn Fn(&GroupKey) -> usize,
) -> Result<Vec<Figure>> {
    let mut boxes: Vec<(String, BoxStats)> = Vec::new();
    let mut box_colors = Vec::new();
    let mut lines = Vec::new();
    // every run's throughput as a dot, the algorithms side by side at each learner count, and
    // the median across runs as the line
    let mut run_lines = Vec::new();
    let n_groups = groups.len();
    let mut no_timings = Vec::new();
    let (mut lmin, mut lmax) = (usize::MAX, 0);
    for (gi, (k, runs)) in groups.iter().enumerate() {
        let shift = (gi as f64 - (n_groups as f64 - 1.0) / 2.0) * 0.07;
        let mut dots = Series {
            label: String::new(),
            color: Some(color(k)),
            thin: true,
            dots: true,
            ..Default::default()
        };
        let mut medians = Series {
            label: k.label(),
            color: Some(color(k)),
            markers: true,
            ..Default::default()
        };
        let mut by_learners: BTreeMap<usize, Vec<&Run>> = BTreeMap::new();
        for r in runs.iter() {
            by_learners.entry(r.learners).or_default().push(r);
        }
        let several = by_learners.len() > 1;
        let mut line = Series {
            label: k.label(),
            color: Some(color(k)),
            markers: true,
            ..Default::default()
        };
        for (n, rs) in &by_learners {
            let times: Vec<f64> = rs.iter().flat_map(|r| pg_times(r)).collect();
            let label = if several || *n > 1 {
                format!("{} ×{n}", k.label())
            } else {
                k.label()
            };
            match box_stats(&times) {
                Some(b) => {
                    boxes.push((label, b));
                    box_colors.push(color(k));
                }
                None => no_timings.push(label),
            }
            let tp: Vec<f64> = rs.iter().filter_map(|r| throughput(r)).collect();
            if !tp.is_empty() {
                dots.points
                    .extend(tp.iter().map(|&t| (*n as f64 + shift, t)));
                medians
                    .points
                    .push((*n as f64 + shift, median(&sorted(&tp))));
                line.points.push((*n as f64, mean(&tp)));
                lmin = lmin.min(*n);
                lmax = lmax.max(*n);
            }
        }
        if !line.points.is_empty() {
            lines.push(line);
            run_lines.push(dots);
            run_lines.push(medians);
        }
    }
    let mut panels = Vec::new();
    if !boxes.is_empty() {
        panels.push(AnyPanel::Boxes(BoxPanel {
            title: format!(
                "Fig. 6: {} — policy-gradient time (first {PG_WARMUP} per learner dropped)",
                task_label(task)
            ),
            x_label: "Algorithm ×learners".into(),
            y_label: "ms per policy gradient".into(),
            boxes,
            colors: box_colors,
        }));
    }
    if !lines.is_empty() {
        panels.push(AnyPanel::Lines(Panel {
            title: format!("Fig. 6: {} — update throughput", task_label(task)),
            x_label: "Learners".into(),
            y_label: "Iterations per second".into(),
            series: lines,
            x_range: Some((lmin as f64 - 0.5, lmax as f64 + 0.5)),
            integer_x: true,
            ..Default::default()
        }));
    }
    if panels.is_empty() {
        return Ok(Vec::new());
    }
    let n_boxes = match &panels[0] {
        AnyPanel::Boxes(b) => b.boxes.len() as u32,
        AnyPanel::Lines(_) => 0,
    };
    let width = (FIG6_PX_PER_BOX * n_boxes).max(1000);
    let file = format!("fig6_{}.png", task.name());
    write_png(out, &file, |p| {
        draw_figure(p, &panels, width, FIG6_PANEL_HEIGHT)
    })?;
    let mut figs = Vec::new();
    if !run_lines.is_empty() {
        let runs_file = format!("fig6_{}_runs.png", task.name());
        let panel = Panel {
            title: format!(
                "Fig. 6, every run: {} — update throughput (dots: runs; line: median)",
                task_label(task)
            ),
            x_label: "Learners (algorithms side by side)".into(),
            y_label: "Iterations per second".into(),
            series: run_lines,
            x_range: Some((lmin as f64 - 0.5, lmax as f64 + 0.5)),
            integer_x: true,
            ..Default::default()
        };
        write_png(out, &runs_file, |p| {
            draw_panels(p, &[panel], 1000, FIG6_PANEL_HEIGHT)
        })?;
        figs.push(Figure {
            caption: format!(
                "Fig. 6, every run: {} update throughput of each run by learner count, with the median across runs",
                task_label(task)
            ),
            file: runs_file,
            notes: Vec::new(),
        });
    }
    figs.insert(0, Figure {
        caption: format!(
            "Fig. 6: {} time efficiency — policy-gradient time per algorithm and update throughput by learner count",
            task_label(task)
        ),
        file,
        notes: if no_timings.is_empty() {
            Vec::new()
        } else {
            vec![format!(
                "No policy-gradient timings after each learner's first {PG_WARMUP} (runs too short for spec §5's cut), so no box for: {}.",
                no_timings.join(", ")
            )]
        },
    });
    Ok(figs)
}

/// Every figure of the report, in order: per task Fig. 4/5 (two), Fig. 6, the metrics.
pub fn all(
    out: &Path,
    groups: &BTreeMap<GroupKey, Vec<&Run>>,
    fig6_groups: &BTreeMap<GroupKey, Vec<&Run>>,
    color: &dyn Fn(&GroupKey) -> usize,
) -> Result<Vec<Figure>> {
    let mut figs = Vec::new();
    for task in Task::ALL {
        let g: Vec<(&GroupKey, &Vec<&Run>)> =
            groups.iter().filter(|(k, _)| k.task == task).collect();
        let g6: Vec<(&GroupKey, &Vec<&Run>)> =
            fig6_groups.iter().filter(|(k, _)| k.task == task).collect();
        if !g.is_empty() {
            figs.extend(learning_curves(out, task, &g, color)?);
        }
        if !g6.is_empty() {
            figs.extend(fig6(out, task, &g6, color)?);
        }
        if !g.is_empty() {
            figs.extend(metric_curves(out, task, &g, color)?);
        }
    }
    Ok(figs)
}
