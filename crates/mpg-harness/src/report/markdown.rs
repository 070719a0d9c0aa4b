//! report.md: Table I inline, the figures linked, and what the numbers rest on — the runs, the
//! folders left out and why, the configurations, the machines, the wall-clock time, the versions.

use super::figures::Figure;
use super::load::{Loaded, Run, sorted_walls, task_label};
use super::stats;
use super::table1::{Table1, seeds};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::Path;

/// config.toml flattened to dotted keys.
fn flatten(prefix: &str, t: &toml::Table, out: &mut BTreeMap<String, String>) {
    for (k, v) in t {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(sub) => flatten(&key, sub, out),
            other => {
                out.insert(key, other.to_string());
            }
        }
    }
}

fn flat(run: &Run) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    flatten("", &run.raw_config, &mut m);
    m
}

/// A session field of provenance.toml, as text.
fn field(s: &toml::Table, key: &str) -> String {
    match s.get(key) {
        Some(toml::Value::String(v)) => v.clone(),
        Some(v) => v.to_string(),
        None => "?".into(),
    }
}

fn hours(s: f64) -> String {
    if s >= 3600.0 {
        format!("{:.2} h", s / 3600.0)
    } else if s >= 60.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{s:.1} s")
    }
}

/// Rows of (values…) → runs, counted once per run.
fn tally(runs: &[Run], row: impl Fn(&toml::Table) -> Vec<String>) -> BTreeMap<Vec<String>, usize> {
    let mut t = BTreeMap::new();
    for r in runs {
        let distinct: BTreeSet<Vec<String>> = r.sessions.iter().map(&row).collect();
        for d in distinct {
            *t.entry(d).or_insert(0) += 1;
        }
    }
    t
}

fn table(md: &mut String, header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) {
    let _ = writeln!(md, "| {} |", header.join(" | "));
    let _ = writeln!(md, "|{}", "---|".repeat(header.len()));
    for r in rows {
        let cells: Vec<String> = r
            .iter()
            .map(|c| c.replace('|', "\\|").replace('\n', " "))
            .collect();
        let _ = writeln!(md, "| {} |", cells.join(" | "));
    }
    md.push('\n');
}

pub fn report(runs_dir: &Path, loaded: &Loaded, t1: &Table1, figures: &[Figure]) -> String {
    let mut md = String::new();
    let groups = loaded.groups();
    let _ = writeln!(md, "# MPG benchmark report\n");
    let _ = writeln!(
        md,
        "Run folders under `{}`: {} complete runs in {} cells (task × algorithm × variant); {} folders left out. Goals of the convergence speed: path tracking {}, pendulum {} (raw evaluation return). How every number is computed: docs/report.md.\n",
        runs_dir.display(),
        loaded.runs.len(),
        groups.len(),
        loaded.rejected.len(),
        t1.goals.path_tracking,
        t1.goals.pendulum
    );

    md += "## Runs\n\n";
    table(
        &mut md,
        &[
            "Task",
            "Algorithm",
            "Seeds",
            "Trainer",
            "Learners",
            "Iterations",
            "Wall-clock (sum over runs)",
        ],
        groups.iter().map(|(k, rs)| {
            let set = |f: &dyn Fn(&Run) -> String| {
                rs.iter()
                    .map(|r| f(r))
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            vec![
                task_label(k.task).to_string(),
                k.label(),
                seeds(&rs.iter().map(|r| r.seed()).collect::<Vec<_>>()),
                set(&|r| field(&r.raw_config, "trainer")),
                set(&|r| r.learners.to_string()),
                set(&|r| r.config.iterations.to_string()),
                hours(rs.iter().map(|r| r.wall_s()).sum()),
            ]
        }),
    );

    md += "## Missing or failed runs\n\n";
    if loaded.rejected.is_empty() {
        md += "None: every run folder found is complete and was used.\n\n";
    } else {
        md += "These folders are left out of every table and figure:\n\n";
        table(
            &mut md,
            &["Folder", "Reason"],
            loaded
                .rejected
                .iter()
                .map(|r| vec![format!("`{}`", r.name), r.reason.clone()]),
        );
    }

    md += "## Table I\n\n";
    md += "Asymptotic performance: the highest across-run mean of the smoothed return (s_k = 0.2·s_{k−1} + 0.8·v_k) ± 2 sample std, at that evaluation iteration. Convergence: first evaluation whose raw return beats the goal, mean ± 2 population std over the 3 fastest runs (— when fewer than 3 reach it). IQM: interquartile mean of the runs' last evaluation return, 95 % percentile bootstrap over runs (spec §5, D12). Also as `table1.md` and `table1.csv`.\n\n";
    md += &t1.markdown();

    md += "## Figures\n\n";
    md += "Curves: per run smoothed as above, the mean across runs, shaded: the 95 % percentile bootstrap of that mean (1 000 resamples, fixed seed; seaborn's default band). Dashed: the paper's base score. Beside each paper-style figure, its every-run version (`*_runs.png`): each run as a thin line, the median across runs with its interquartile band, on a symmetric-log y axis, so that runs the paper's y-limits cut off or a mean hides stay in view (docs/report.md, \"The figures\").\n\n";
    for f in figures {
        let _ = writeln!(md, "### {}\n\n![{}]({})\n", f.caption, f.caption, f.file);
        for n in &f.notes {
            let _ = writeln!(md, "{n}\n");
        }
    }

    md += "## Configuration\n\n";
    let flats: Vec<(String, BTreeMap<String, String>)> = loaded
        .runs
        .iter()
        .map(|r| (r.key.label(), flat(r)))
        .collect();
    let keys: BTreeSet<&String> = flats.iter().flat_map(|(_, f)| f.keys()).collect();
    let mut same = Vec::new();
    let mut differ = Vec::new();
    for key in keys {
        if ["seed", "algo", "task"].contains(&key.as_str()) {
            continue;
        }
        let mut values: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (label, f) in &flats {
            let v = f.get(key).cloned().unwrap_or_else(|| "(absent)".into());
            values.entry(v).or_default().insert(label.clone());
        }
        if values.len() == 1 {
            same.push(vec![
                format!("`{key}`"),
                values.into_keys().next().unwrap_or_default(),
            ]);
        } else {
            differ.push(vec![
                format!("`{key}`"),
                values
                    .into_iter()
                    .map(|(v, who)| {
                        format!("{v}: {}", who.into_iter().collect::<Vec<_>>().join(", "))
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            ]);
        }
    }
    if differ.is_empty() {
        md += "Every run has the same settings apart from task, algorithm and seed.\n\n";
    } else {
        md += "Settings that differ between runs (value: algorithms having it):\n\n";
        table(&mut md, &["Key", "Values"], differ);
    }
    // runs of one cell should differ only in their seed
    for (k, rs) in &groups {
        let base = flat(rs[0]);
        for r in &rs[1..] {
            let f = flat(r);
            let diff: Vec<&String> = base
                .keys()
                .chain(f.keys())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .filter(|key| key.as_str() != "seed" && base.get(*key) != f.get(*key))
                .collect();
            if !diff.is_empty() {
                let _ = writeln!(
                    md,
                    "Note: in {} / {}, `{}` differs from `{}` in {}.\n",
                    task_label(k.task),
                    k.label(),
                    r.name,
                    rs[0].name,
                    diff.iter()
                        .map(|d| format!("`{d}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
    }
    md += "<details><summary>Settings shared by every run</summary>\n\n";
    table(&mut md, &["Key", "Value"], same);
    md += "</details>\n\n";

    md += "## Machine\n\n";
    table(&mut md, &["CPU model", "Cores", "Hosts", "Runs"], {
        let mut by_cpu: BTreeMap<(String, String), (BTreeSet<String>, usize)> = BTreeMap::new();
        for r in &loaded.runs {
            let distinct: BTreeSet<(String, String, String)> = r
                .sessions
                .iter()
                .map(|s| (field(s, "cpu_model"), field(s, "cores"), field(s, "host")))
                .collect();
            let mut counted = BTreeSet::new();
            for (cpu, cores, host) in distinct {
                let e = by_cpu.entry((cpu.clone(), cores.clone())).or_default();
                e.0.insert(host);
                if counted.insert((cpu, cores)) {
                    e.1 += 1;
                }
            }
        }
        by_cpu
            .into_iter()
            .map(|((cpu, cores), (hosts, n))| {
                vec![cpu, cores, hosts.len().to_string(), n.to_string()]
            })
            .collect::<Vec<_>>()
    });

    md += "## Wall-clock time\n\n";
    let total: f64 = loaded.runs.iter().map(Run::wall_s).sum();
    let longest = loaded
        .runs
        .iter()
        .max_by(|a, b| a.wall_s().total_cmp(&b.wall_s()));
    let _ = writeln!(
        md,
        "Total training time, summed over the runs: {} ({:.0} s).{}\n",
        hours(total),
        total,
        longest.map_or(String::new(), |r| format!(
            " Longest run: `{}`, {}.",
            r.name,
            hours(r.wall_s())
        ))
    );
    // where the time goes, cell by cell (issue 25: the closing note says it if the matrix
    // costs more than planned)
    table(
        &mut md,
        &[
            "Task",
            "Algorithm",
            "Runs",
            "Per run (median)",
            "Shortest – longest",
            "ms per iteration (median)",
            "Total",
            "Share",
        ],
        groups.iter().map(|(k, rs)| {
            let walls = sorted_walls(rs);
            let per_it = stats::sorted(
                &(rs.iter())
                    .map(|r| r.wall_s() * 1e3 / r.config.iterations.max(1) as f64)
                    .collect::<Vec<_>>(),
            );
            let sum: f64 = walls.iter().sum();
            vec![
                task_label(k.task).to_string(),
                k.label(),
                rs.len().to_string(),
                hours(stats::median(&walls)),
                format!("{} – {}", hours(walls[0]), hours(walls[walls.len() - 1])),
                format!("{:.1}", stats::median(&per_it)),
                hours(sum),
                format!("{:.0} %", 100.0 * sum / total.max(1e-9)),
            ]
        }),
    );
    // every run's own time (issue 25: the paper matrix records the measured time of each run)
    let mut by_name: Vec<&Run> = loaded.runs.iter().collect();
    by_name.sort_by(|a, b| a.name.cmp(&b.name));
    md += "<details><summary>Every run's training time</summary>\n\n";
    table(
        &mut md,
        &[
            "Run",
            "Iterations",
            "Wall-clock",
            "ms per iteration",
            "Sessions",
        ],
        by_name.iter().map(|r| {
            let its = r.config.iterations.max(1);
            vec![
                format!("`{}`", r.name),
                r.config.iterations.to_string(),
                hours(r.wall_s()),
                format!("{:.1}", r.wall_s() * 1e3 / its as f64),
                r.sessions.len().to_string(),
            ]
        }),
    );
    md += "</details>\n\n";

    staleness(&mut md, &groups);

    md += "## Versions\n\n";
    table(
        &mut md,
        &["git commit", "mpg", "tch", "libtorch", "Runs"],
        tally(&loaded.runs, |s| {
            [
                "git_commit",
                "mpg_version",
                "tch_version",
                "libtorch_version",
            ]
            .iter()
            .map(|k| field(s, k))
            .collect()
        })
        .into_iter()
        .map(|(mut v, n)| {
            v.push(n.to_string());
            v
        }),
    );
    md
}

/// The staleness of the applied gradients (gradients.csv's `staleness`: how many updates old the
/// parameters a gradient was computed on were when it was applied), pooled over each cell's runs:
/// what the asynchronous learners did, or what the emulation (D21) drew. Absent when no run wrote
/// gradients.csv.
fn staleness(md: &mut String, groups: &BTreeMap<super::load::GroupKey, Vec<&Run>>) {
    let rows: Vec<Vec<String>> = groups
        .iter()
        .filter_map(|(k, rs)| {
            let mut d: Vec<f64> = rs
                .iter()
                .filter_map(|r| r.gradients.as_ref())
                .flat_map(|g| g.column("staleness").into_iter().flatten())
                .collect();
            if d.is_empty() {
                return None;
            }
            d.sort_by(f64::total_cmp);
            let with = rs.iter().filter(|r| r.gradients.is_some()).count();
            Some(vec![
                task_label(k.task).to_string(),
                k.label(),
                format!("{with} of {}", rs.len()),
                d.len().to_string(),
                format!("{:.2}", stats::mean(&d)),
                format!(
                    "{:.0} / {:.0} / {:.0}",
                    stats::percentile(&d, 5.0),
                    stats::percentile(&d, 50.0),
                    stats::percentile(&d, 95.0)
                ),
                format!("{:.0}", d[d.len() - 1]),
            ])
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    *md += "## Staleness of the applied gradients\n\n";
    *md += "From the runs' gradients.csv (one row per applied gradient; docs/async.md): how many updates old the parameters a gradient was computed on were when it was applied, pooled over each cell's runs that wrote the file. Percentiles interpolate between closest ranks.\n\n";
    table(
        md,
        &[
            "Task",
            "Algorithm",
            "Runs with gradients.csv",
            "Gradients",
            "Mean",
            "p5 / p50 / p95",
            "Max",
        ],
        rows,
    );
}

/// "The matrix so far": the profile's cells with runs still missing (`--profile`).
pub fn incomplete(e: &super::Expected, p: &super::Progress) -> String {
    let inc = &p.incomplete;
    let mut md = String::from("## The matrix so far\n\n");
    let here = e.runs.len() - inc.iter().map(|(_, _, m)| m.len()).sum::<usize>();
    let _ = writeln!(
        md,
        "The profile `{}` has {} runs; present here: {here}{}.\n",
        e.profile,
        e.runs.len(),
        if inc.is_empty() {
            ", the whole matrix".to_string()
        } else {
            format!(
                ". {} cells still miss runs: their rows in Table I, the figures and the claims that read them will change as the runs come in",
                inc.len()
            )
        }
    );
    if !inc.is_empty() {
        let missing: usize = inc.iter().map(|(_, _, m)| m.len()).sum();
        let _ = writeln!(
            md,
            "At each cell's median training time per run here, the {missing} runs to come take about {} of training{}.\n",
            hours(p.remaining_s),
            if p.unestimated > 0 {
                format!(
                    ", not counting {} runs of cells with no run here yet",
                    p.unestimated
                )
            } else {
                String::new()
            }
        );
    }
    if p.outside > 0 {
        let _ = writeln!(
            md,
            "{} runs here are not in the profile's matrix (another cell or seed); they are used like the others.\n",
            p.outside
        );
    }
    if !inc.is_empty() {
        table(
            &mut md,
            &["Task", "Algorithm", "Runs here", "Seeds to come"],
            inc.iter().map(|(k, n, missing)| {
                vec![
                    task_label(k.task).to_string(),
                    k.label(),
                    format!("{n} of {}", n + missing.len()),
                    seeds(missing),
                ]
            }),
        );
    }
    md
}
