//! PNG plots with plotters and a bundled font (DejaVu Sans, assets/fonts), so no system font
//! or fontconfig is needed.

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

const COLORS: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
];

/// One line of a panel.
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub dashed: bool,
}

/// A panel: title, axis labels and its lines.
pub struct Panel {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
}

fn bounds(series: &[Series]) -> (f64, f64, f64, f64) {
    let pts = series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|(x, y)| x.is_finite() && y.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y) in pts {
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

/// Draw panels stacked vertically into one PNG of `width` × (`panel_height` × panels).
pub fn draw_panels(path: &Path, panels: &[Panel], width: u32, panel_height: u32) -> Result<()> {
    register_font();
    let root =
        BitMapBackend::new(path, (width, panel_height * panels.len() as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let areas = root.split_evenly((panels.len(), 1));
    for (panel, area) in panels.iter().zip(areas) {
        let (x0, x1, y0, y1) = bounds(&panel.series);
        let mut chart = ChartBuilder::on(&area)
            .caption(&panel.title, ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| anyhow!("{e}"))?;
        chart
            .configure_mesh()
            .x_desc(panel.x_label.as_str())
            .y_desc(panel.y_label.as_str())
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
        for (k, s) in panel.series.iter().enumerate() {
            let color = COLORS[k % COLORS.len()];
            let style = ShapeStyle::from(&color).stroke_width(2);
            let drawn = if s.dashed {
                chart.draw_series(DashedLineSeries::new(s.points.iter().copied(), 6, 4, style))
            } else {
                chart.draw_series(LineSeries::new(s.points.iter().copied(), style))
            }
            .map_err(|e| anyhow!("{e}"))?;
            drawn.label(s.label.as_str()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
    }
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
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
            });
            vec![
                Panel {
                    title: "Path".into(),
                    x_label: "X [m]".into(),
                    y_label: "y [m]".into(),
                    series: lateral,
                },
                Panel {
                    title: "Lateral error".into(),
                    x_label: "t [s]".into(),
                    y_label: "Δy [m]".into(),
                    series: per_agent(3, "Δy"),
                },
                Panel {
                    title: "Heading error".into(),
                    x_label: "t [s]".into(),
                    y_label: "Δφ [rad]".into(),
                    series: per_agent(4, "Δφ"),
                },
            ]
        }
        Task::InvertedPendulum => vec![
            Panel {
                title: "Cart position".into(),
                x_label: "t [s]".into(),
                y_label: "p [m]".into(),
                series: per_agent(0, "p"),
            },
            Panel {
                title: "Pole angle".into(),
                x_label: "t [s]".into(),
                y_label: "θ [rad]".into(),
                series: per_agent(1, "θ"),
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
