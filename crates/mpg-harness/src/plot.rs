//! PNG plots with plotters and a bundled font (DejaVu Sans, assets/fonts), so no system font
//! or fontconfig is needed.

use crate::report::stats::BoxStats;
use anyhow::{Result, anyhow};
use mpg_envs::Task;
use mpg_envs::path_tracking::reference;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

static FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// Register the bundled font once, under the family name plotters asks for.
pub fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// matplotlib's "tab10": distinct on white, and what the authors' seaborn plots resemble.
const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The palette's `k`-th colour (wrapping), so that one algorithm keeps its colour across figures.
pub fn color(k: usize) -> RGBColor {
    COLORS[k % COLORS.len()]
}

/// One line of a panel.
#[derive(Clone, Debug, Default)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub dashed: bool,
    /// A shaded band around the line: (x, low, high).
    pub band: Vec<(f64, f64, f64)>,
    /// Mark each point with a dot (few points, such as one per learner count).
    pub markers: bool,
    /// Palette index; the series' position in the panel when `None`.
    pub color: Option<usize>,
    /// A thin, light line without a legend entry: one run among many.
    pub thin: bool,
    /// Only the points, as dots without a line or legend entry (one per run).
    pub dots: bool,
}

/// A panel: title, axis labels and its lines.
#[derive(Clone, Debug, Default)]
pub struct Panel {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// Fixed axis ranges (the paper's y-limits); fitted to the data when `None`.
    pub x_range: Option<(f64, f64)>,
    pub y_range: Option<(f64, f64)>,
    /// Label the x axis at whole numbers only (counts, such as learners).
    pub integer_x: bool,
    /// A symmetric-log y axis, linear within ±the given threshold: curves that differ by orders
    /// of magnitude (diverged runs beside converged ones) all stay visible.
    pub y_symlog: Option<f64>,
    /// Where the legend goes.
    pub legend: Legend,
}

/// A panel's legend: inside the axes (plotters' default place), in a strip right of them (where
/// it covers no data), or none (the title names the one line).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Legend {
    #[default]
    Inside,
    Right,
    None,
}

/// The width of a [`Legend::Right`] strip.
const LEGEND_STRIP: u32 = 210;

/// A box-plot panel: one box per category (matplotlib's conventions, [`BoxStats`]).
#[derive(Clone, Debug, Default)]
pub struct BoxPanel {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub boxes: Vec<(String, BoxStats)>,
    /// Palette index of each box.
    pub colors: Vec<usize>,
}

/// Any panel of a figure.
pub enum AnyPanel {
    Lines(Panel),
    Boxes(BoxPanel),
}

fn bounds(series: &[Series]) -> (f64, f64, f64, f64) {
    let pts = series
        .iter()
        .flat_map(|s| {
            s.points
                .iter()
                .copied()
                .chain(s.band.iter().flat_map(|&(x, lo, hi)| [(x, lo), (x, hi)]))
        })
        .filter(|(x, y)| x.is_finite() && y.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for (x, y) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if !x0.is_finite() {
        return (0.0, 1.0, 0.0, 1.0);
    }
    let pad = ((y1 - y0) * 0.05).max(1e-6);
    (x0, x1.max(x0 + 1e-9), y0 - pad, y1 + pad)
}

/// The parts of a polyline inside y0 ≤ y ≤ y1, cut where it crosses a limit (plotters would
/// otherwise draw points beyond the axes along the frame, as if they were data there).
fn clip_y(points: &[(f64, f64)], y0: f64, y1: f64) -> Vec<Vec<(f64, f64)>> {
    let mut parts: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut open = false;
    for w in points.windows(2) {
        let (q, p) = (w[0], w[1]);
        // the segment's visible parameter range [t0, t1] (Liang–Barsky in y only)
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        let dy = p.1 - q.1;
        if dy == 0.0 {
            if !(y0..=y1).contains(&q.1) {
                open = false;
                continue;
            }
        } else {
            let (ta, tb) = ((y0 - q.1) / dy, (y1 - q.1) / dy);
            t0 = t0.max(ta.min(tb));
            t1 = t1.min(ta.max(tb));
            if t0 > t1 {
                open = false;
                continue;
            }
        }
        let at = |t: f64| (q.0 + t * (p.0 - q.0), q.1 + t * dy);
        if !(open && t0 == 0.0) {
            parts.push(vec![at(t0)]);
        }
        parts.last_mut().unwrap().push(at(t1));
        open = t1 == 1.0;
    }
    parts
}

/// A symmetric-log axis over `lo..hi`: position ∝ sign(y)·log10(1 + |y|/c), linear within ±c
/// (matplotlib's `symlog` with base 10), ticks at 0 and ±c·10^k.
#[derive(Clone, Debug)]
pub struct SymLog {
    pub lo: f64,
    pub hi: f64,
    pub c: f64,
}

impl SymLog {
    pub fn t(&self, y: f64) -> f64 {
        y.signum() * (1.0 + y.abs() / self.c).log10()
    }

    /// The ticks inside the range: 0 and ±c·10^k, thinned to at most `max` (every other decade
    /// first), with 2 and 5 times them when the range spans less than two decades.
    pub fn ticks(&self, max: usize) -> Vec<f64> {
        let mut v = Vec::new();
        let inside = |y: f64| y >= self.lo && y <= self.hi;
        if inside(0.0) {
            v.push(0.0);
        }
        let top = self.lo.abs().max(self.hi.abs());
        let mut decades = Vec::new();
        let mut m = self.c;
        while m <= top * 1.000_001 && decades.len() < 40 {
            decades.push(m);
            m *= 10.0;
        }
        let mut mags: Vec<f64> = decades.clone();
        if decades.len() < 3 {
            mags = decades
                .iter()
                .flat_map(|&d| [d, 2.0 * d, 5.0 * d])
                .filter(|&d| d <= top * 1.000_001)
                .collect();
        }
        let signed = |mags: &[f64]| -> Vec<f64> {
            let mut out: Vec<f64> = v.clone();
            for &d in mags {
                for y in [-d, d] {
                    if inside(y) {
                        out.push(y);
                    }
                }
            }
            out
        };
        let mut out = signed(&mags);
        let mut step = 2;
        while out.len() > max.max(2) && step < mags.len() {
            let kept: Vec<f64> = mags.iter().rev().step_by(step).copied().collect();
            out = signed(&kept);
            step += 1;
        }
        out.sort_by(f64::total_cmp);
        out
    }
}

impl Ranged for SymLog {
    type FormatOption = plotters::coord::ranged1d::NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let (a, b) = (self.t(self.lo), self.t(self.hi));
        if b == a {
            return (limit.0 + limit.1) / 2;
        }
        let f = (self.t(*v) - a) / (b - a);
        limit.0 + (f * (limit.1 - limit.0) as f64).round() as i32
    }

    fn key_points<H: plotters::coord::ranged1d::KeyPointHint>(&self, hint: H) -> Vec<f64> {
        self.ticks(hint.max_num_points())
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

impl plotters::coord::ranged1d::ValueFormatter<f64> for SymLog {
    fn format(v: &f64) -> String {
        tick_label(*v)
    }
}

/// A tick's value, short: `0`, `-0.01`, `-20`, `-1000`, `-1e4`.
pub fn tick_label(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if v.abs() >= 1e4 || v.abs() < 1e-3 {
        let e = v.abs().log10().floor();
        let m = v / 10f64.powf(e);
        let m = (m * 10.0).round() / 10.0;
        return if (m.abs() - 1.0).abs() < 1e-9 {
            format!("{}1e{e}", if v < 0.0 { "-" } else { "" })
        } else {
            format!("{m}e{e}")
        };
    }
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// The symmetric-log threshold for values `v`: the power of ten at or below their 10th
/// percentile of magnitude (at least 1e-6), so that most of the data lies on the log part.
pub fn symlog_threshold(v: impl IntoIterator<Item = f64>) -> f64 {
    let mut mags: Vec<f64> = v
        .into_iter()
        .filter(|x| x.is_finite() && *x != 0.0)
        .map(f64::abs)
        .collect();
    if mags.is_empty() {
        return 1.0;
    }
    mags.sort_by(f64::total_cmp);
    let q = mags[mags.len() / 10];
    10f64.powf(q.log10().floor()).max(1e-6)
}

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("{e}")
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

fn draw_lines(area: &Area, panel: &Panel) -> Result<()> {
    let (bx0, bx1, by0, by1) = bounds(&panel.series);
    let (x0, x1) = panel.x_range.unwrap_or((bx0, bx1));
    match panel.y_symlog {
        None => {
            let (y0, y1) = panel.y_range.unwrap_or((by0, by1));
            draw_lines_on(
                area,
                panel,
                (x0, x1),
                plotters::coord::types::RangedCoordf64::from(y0..y1),
                (y0, y1),
            )
        }
        Some(c) => {
            // the data's range (0 included), widened to the next tick beyond each end, so an
            // end has a label
            let (lo, hi) = panel.y_range.unwrap_or_else(|| {
                let ys = panel
                    .series
                    .iter()
                    .flat_map(|s| s.points.iter().map(|p| p.1))
                    .filter(|y| y.is_finite());
                let (lo, hi) = ys.fold((0.0f64, 0.0f64), |(a, b), y| (a.min(y), b.max(y)));
                (grow(lo, c), grow(hi, c))
            });
            let y = SymLog { lo, hi, c };
            draw_lines_on(area, panel, (x0, x1), y, (lo, hi))
        }
    }
}

/// `y` moved outwards to the next ±c·10^k (0 stays 0): an axis end with a tick.
pub fn grow(y: f64, c: f64) -> f64 {
    if y == 0.0 {
        return 0.0;
    }
    let mut m = c;
    while m < y.abs() * 0.999_999 {
        m *= 10.0;
    }
    m.copysign(y)
}

fn draw_lines_on<Y>(
    area: &Area,
    panel: &Panel,
    (x0, x1): (f64, f64),
    y_coord: Y,
    (y0, y1): (f64, f64),
) -> Result<()>
where
    Y: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
{
    let (area, strip) = if panel.legend == Legend::Right {
        let w = area.dim_in_pixel().0;
        let (a, b) = area.split_horizontally(w.saturating_sub(LEGEND_STRIP));
        (a, Some(b))
    } else {
        (area.clone(), None)
    };
    let mut chart = ChartBuilder::on(&area)
        .caption(&panel.title, ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y_coord)
        .map_err(err)?;
    let whole = |x: &f64| {
        if (x - x.round()).abs() < 1e-9 {
            format!("{x:.0}")
        } else {
            String::new()
        }
    };
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(panel.x_label.as_str())
        .y_desc(panel.y_label.as_str())
        .label_style(("sans-serif", 14));
    if panel.integer_x {
        mesh.x_labels((x1 - x0).round() as usize * 4 + 1)
            .x_label_formatter(&whole);
    }
    if panel.y_symlog.is_some() {
        // the decades are the grid; plotters' fine lines between x labels would crowd it
        mesh.light_line_style(TRANSPARENT);
    }
    mesh.draw().map_err(err)?;
    for (k, s) in panel.series.iter().enumerate() {
        let color = color(s.color.unwrap_or(k));
        if !s.band.is_empty() {
            // the band clamped to the axes (a filled area may end on the frame)
            let c = |y: f64| y.clamp(y0, y1);
            let outline: Vec<(f64, f64)> = s
                .band
                .iter()
                .map(|&(x, lo, _)| (x, c(lo)))
                .chain(s.band.iter().rev().map(|&(x, _, hi)| (x, c(hi))))
                .collect();
            chart
                .draw_series(std::iter::once(Polygon::new(
                    outline,
                    color.mix(0.2).filled(),
                )))
                .map_err(err)?;
        }
        let style = if s.thin {
            ShapeStyle::from(&color.mix(0.45)).stroke_width(1)
        } else {
            ShapeStyle::from(&color).stroke_width(2)
        };
        // the legend entry, whether or not any of the line is inside the axes
        if !s.thin {
            chart
                .draw_series(LineSeries::new(std::iter::empty(), style))
                .map_err(err)?
                .label(s.label.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
        }
        if s.dots {
            chart
                .draw_series(
                    s.points
                        .iter()
                        .filter(|p| (y0..=y1).contains(&p.1))
                        .map(|&p| Circle::new(p, 3, color.mix(0.6).filled())),
                )
                .map_err(err)?;
            continue;
        }
        for part in clip_y(&s.points, y0, y1) {
            if s.dashed {
                chart.draw_series(DashedLineSeries::new(part, 6, 4, style))
            } else {
                chart.draw_series(LineSeries::new(part, style))
            }
            .map_err(err)?;
        }
        if s.markers {
            chart
                .draw_series(
                    s.points
                        .iter()
                        .filter(|p| (y0..=y1).contains(&p.1))
                        .map(|&p| Circle::new(p, 4, color.filled())),
                )
                .map_err(err)?;
        }
    }
    match (panel.legend, strip) {
        (Legend::Inside, _) => chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(err)?,
        (Legend::Right, Some(strip)) => {
            // one entry per labelled line, from the top of the axes
            let mut y = 40;
            for (k, s) in panel.series.iter().enumerate() {
                if s.thin || s.label.is_empty() {
                    continue;
                }
                let c = color(s.color.unwrap_or(k));
                strip
                    .draw(&PathElement::new(
                        vec![(6, y), (30, y)],
                        c.stroke_width(if s.dashed { 1 } else { 2 }),
                    ))
                    .map_err(err)?;
                strip
                    .draw(&Text::new(
                        s.label.clone(),
                        (36, y - 8),
                        ("sans-serif", 14).into_font().color(&BLACK),
                    ))
                    .map_err(err)?;
                y += 22;
            }
        }
        _ => {}
    }
    Ok(())
}

fn draw_boxes(area: &Area, panel: &BoxPanel) -> Result<()> {
    let n = panel.boxes.len().max(1);
    let (mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY);
    for (_, b) in &panel.boxes {
        for y in b.outliers.iter().chain([&b.low, &b.high]) {
            y0 = y0.min(*y);
            y1 = y1.max(*y);
        }
    }
    if !y0.is_finite() {
        (y0, y1) = (0.0, 1.0);
    }
    let pad = ((y1 - y0) * 0.05).max(1e-6);
    let names: Vec<String> = panel.boxes.iter().map(|b| b.0.clone()).collect();
    let label = |v: &SegmentValue<i32>| match v {
        SegmentValue::CenterOf(i) => names.get(*i as usize).cloned().unwrap_or_default(),
        _ => String::new(),
    };
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((0..n as i32 - 1).into_segmented(), (y0 - pad)..(y1 + pad))
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(panel.x_label.as_str())
        .y_desc(panel.y_label.as_str())
        .x_labels(n)
        .x_label_formatter(&label)
        .disable_x_mesh()
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    // a quarter of each category's width on either side of its box
    let margin = (area.dim_in_pixel().0.saturating_sub(100) / n as u32 / 4).max(2);
    for (i, (_, b)) in panel.boxes.iter().enumerate() {
        let c = color(panel.colors.get(i).copied().unwrap_or(i));
        let (l, r, mid) = (
            SegmentValue::Exact(i as i32),
            SegmentValue::Exact(i as i32 + 1),
            SegmentValue::CenterOf(i as i32),
        );
        let rect = |lo: f64, hi: f64, m: u32, style: ShapeStyle| {
            let mut e = Rectangle::new([(l.clone(), hi), (r.clone(), lo)], style);
            e.set_margin(0, 0, m, m);
            e
        };
        chart
            .draw_series([
                rect(b.q1, b.q3, margin, c.mix(0.6).filled()),
                rect(b.q1, b.q3, margin, BLACK.stroke_width(1)),
                rect(b.median, b.median, margin, BLACK.stroke_width(2)),
                rect(b.low, b.low, margin + margin / 2, BLACK.stroke_width(1)),
                rect(b.high, b.high, margin + margin / 2, BLACK.stroke_width(1)),
            ])
            .map_err(err)?;
        chart
            .draw_series([
                PathElement::new(vec![(mid.clone(), b.low), (mid.clone(), b.q1)], BLACK),
                PathElement::new(vec![(mid.clone(), b.q3), (mid.clone(), b.high)], BLACK),
            ])
            .map_err(err)?;
        chart
            .draw_series(
                b.outliers
                    .iter()
                    .map(|&y| Circle::new((mid.clone(), y), 2, BLACK.stroke_width(1))),
            )
            .map_err(err)?;
    }
    Ok(())
}

/// Draw panels stacked vertically into one PNG of `width` × (`panel_height` × panels).
pub fn draw_figure(path: &Path, panels: &[AnyPanel], width: u32, panel_height: u32) -> Result<()> {
    register_font();
    let root =
        BitMapBackend::new(path, (width, panel_height * panels.len() as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let areas = root.split_evenly((panels.len(), 1));
    for (panel, area) in panels.iter().zip(areas) {
        match panel {
            AnyPanel::Lines(p) => draw_lines(&area, p)?,
            AnyPanel::Boxes(p) => draw_boxes(&area, p)?,
        }
    }
    root.present().map_err(err)?;
    Ok(())
}

/// Line panels in a grid of `cols` columns (filled row by row), each `panel_width` ×
/// `panel_height`.
pub fn draw_grid(
    path: &Path,
    panels: &[Panel],
    cols: usize,
    panel_width: u32,
    panel_height: u32,
) -> Result<()> {
    register_font();
    let cols = cols.clamp(1, panels.len().max(1));
    let rows = panels.len().div_ceil(cols).max(1);
    let root = BitMapBackend::new(
        path,
        (panel_width * cols as u32, panel_height * rows as u32),
    )
    .into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let areas = root.split_evenly((rows, cols));
    for (panel, area) in panels.iter().zip(areas) {
        draw_lines(&area, panel)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// Line panels stacked vertically into one PNG of `width` × (`panel_height` × panels).
pub fn draw_panels(path: &Path, panels: &[Panel], width: u32, panel_height: u32) -> Result<()> {
    let panels: Vec<AnyPanel> = panels.iter().cloned().map(AnyPanel::Lines).collect();
    draw_figure(path, &panels, width, panel_height)
}

/// A rolled-out trajectory: per agent, the observations at steps 0..=T (row-major).
pub struct Trajectory {
    pub task: Task,
    pub dt: f64,
    pub agents: Vec<Vec<Vec<f32>>>,
}

/// Path tracking: the vehicles' paths (X, y = Δy + y_ref(X)) against the reference, and the
/// tracking errors Δy, Δφ over time. Pendulum: p and θ over time.
pub fn trajectory_plot(path: &Path, traj: &Trajectory) -> Result<()> {
    let t = |k: usize| k as f64 * traj.dt;
    let per_agent = |dim: usize, label: &str| -> Vec<Series> {
        traj.agents
            .iter()
            .enumerate()
            .map(|(a, obs)| Series {
                label: format!("{label}, episode {a}"),
                points: obs
                    .iter()
                    .enumerate()
                    .map(|(k, o)| (t(k), o[dim] as f64))
                    .collect(),
                dashed: false,
                ..Default::default()
            })
            .collect()
    };
    let panels = match traj.task {
        Task::PathTracking => {
            let mut lateral: Vec<Series> = traj
                .agents
                .iter()
                .enumerate()
                .map(|(a, obs)| Series {
                    label: format!("vehicle, episode {a}"),
                    // X unwrapped so a lap past 1200 m stays continuous
                    points: unwrap_x(obs)
                        .into_iter()
                        .zip(obs)
                        .map(|(x, o)| (x, o[3] as f64 + reference(x).0))
                        .collect(),
                    dashed: false,
                    ..Default::default()
                })
                .collect();
            let (lo, hi) = lateral
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.0))
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                    (a.min(x), b.max(x))
                });
            lateral.push(Series {
                label: "reference path".into(),
                points: (0..=400)
                    .map(|k| lo + (hi - lo) * k as f64 / 400.0)
                    .map(|x| (x, reference(x).0))
                    .collect(),
                dashed: true,
                ..Default::default()
            });
            vec![
                Panel {
                    title: "Path".into(),
                    x_label: "X [m]".into(),
                    y_label: "y [m]".into(),
                    series: lateral,
                    ..Default::default()
                },
                Panel {
                    title: "Lateral error".into(),
                    x_label: "t [s]".into(),
                    y_label: "Δy [m]".into(),
                    series: per_agent(3, "Δy"),
                    ..Default::default()
                },
                Panel {
                    title: "Heading error".into(),
                    x_label: "t [s]".into(),
                    y_label: "Δφ [rad]".into(),
                    series: per_agent(4, "Δφ"),
                    ..Default::default()
                },
            ]
        }
        Task::InvertedPendulum => vec![
            Panel {
                title: "Cart position".into(),
                x_label: "t [s]".into(),
                y_label: "p [m]".into(),
                series: per_agent(0, "p"),
                ..Default::default()
            },
            Panel {
                title: "Pole angle".into(),
                x_label: "t [s]".into(),
                y_label: "θ [rad]".into(),
                series: per_agent(1, "θ"),
                ..Default::default()
            },
        ],
    };
    draw_panels(path, &panels, 900, 320)
}

fn unwrap_x(obs: &[Vec<f32>]) -> Vec<f64> {
    let mut out = Vec::with_capacity(obs.len());
    let mut offset = 0.0;
    let mut prev: Option<f64> = None;
    for o in obs {
        let x = o[5] as f64;
        if let Some(p) = prev {
            if x - p < -600.0 {
                offset += 1200.0;
            } else if x - p > 600.0 {
                offset -= 1200.0;
            }
        }
        prev = Some(x);
        out.push(x + offset);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::clip_y;

    #[test]
    fn lines_are_cut_where_they_leave_the_axes() {
        // in, out above, in, out below and back in: three visible pieces, cut at the limits
        let pts = [(0.0, 0.0), (1.0, 2.0), (2.0, 0.0), (3.0, -2.0), (4.0, 0.0)];
        assert_eq!(
            clip_y(&pts, -1.0, 1.0),
            vec![
                vec![(0.0, 0.0), (0.5, 1.0)],
                vec![(1.5, 1.0), (2.0, 0.0), (2.5, -1.0)],
                vec![(3.5, -1.0), (4.0, 0.0)],
            ]
        );
        // a segment passing through the whole range in one step
        assert_eq!(
            clip_y(&[(0.0, -3.0), (4.0, 5.0)], -1.0, 1.0),
            vec![vec![(1.0, -1.0), (2.0, 1.0)]]
        );
    }
}
