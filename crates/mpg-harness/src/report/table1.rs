//! Table I (spec §5, D12): asymptotic performance, convergence speed in iterations and in
//! wall-clock seconds, and beside them the interquartile mean of final returns with bootstrap
//! intervals, per task and across tasks. As `table1.md` and `table1.csv`.

use super::curves;
use super::load::{GroupKey, Run, task_label};
use super::stats::{bootstrap_ci, iqm, mean, population_std, sample_std, seed_of};
use anyhow::Result;
use mpg_algos::Algo;
use mpg_envs::Task;
use std::collections::BTreeMap;

/// Bootstrap resamples of the IQM intervals (rliable uses thousands; 10 000 keeps the interval's
/// ends steady to about 1 % and costs milliseconds).
pub const IQM_REPS: usize = 10_000;

/// The returns the convergence speed counts up to (D12: −30 and −2 by default, configurable).
#[derive(Clone, Copy, Debug)]
pub struct Goals {
    pub path_tracking: f64,
    pub pendulum: f64,
}

impl Default for Goals {
    fn default() -> Goals {
        Goals {
            path_tracking: base_score(Task::PathTracking),
            pendulum: base_score(Task::InvertedPendulum),
        }
    }
}

impl Goals {
    pub fn of(&self, t: Task) -> f64 {
        match t {
            Task::PathTracking => self.path_tracking,
            Task::InvertedPendulum => self.pendulum,
        }
    }
}

/// The paper's "base score" (spec §5): the dashed line of Fig. 4–5, and the unit of the
/// normalised returns of the across-task aggregate.
pub fn base_score(t: Task) -> f64 {
    match t {
        Task::PathTracking => -30.0,
        Task::InvertedPendulum => -2.0,
    }
}

/// A mean and the standard deviation reported as "mean ± 2·std".
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    pub mean: f64,
    /// `None` where it is undefined (a sample std of one run).
    pub std: Option<f64>,
}

/// One row of Table I: a (task, algorithm, variant) cell.
#[derive(Clone, Debug)]
pub struct Row {
    pub key: GroupKey,
    pub seeds: Vec<u64>,
    /// The evaluation iteration whose across-run mean of the smoothed return is highest.
    pub asymptotic_iteration: u64,
    /// Mean and sample std across runs of the smoothed return there.
    pub asymptotic: Spread,
    pub goal: f64,
    /// Runs whose raw return beats the goal at some evaluation.
    pub reached: usize,
    /// Over the 3 fastest runs, population std; `None` ("—") when fewer than 3 reach the goal.
    pub convergence_iterations: Option<Spread>,
    pub convergence_seconds: Option<Spread>,
    /// IQM over runs of the raw return at each run's last evaluation, with its 95 % interval.
    pub final_iqm: f64,
    pub final_ci: (f64, f64),
}

/// The stratified bootstrap across tasks (D12) of one algorithm (and variant).
#[derive(Clone, Debug)]
pub struct Aggregate {
    pub algo: Algo,
    pub variant: Option<String>,
    pub tasks: Vec<Task>,
    pub runs: usize,
    /// IQM of the pooled normalised final returns (return / |base score|).
    pub iqm: f64,
    pub ci: (f64, f64),
}

impl Aggregate {
    pub fn label(&self) -> String {
        GroupKey {
            task: Task::PathTracking,
            algo: self.algo,
            variant: self.variant.clone(),
        }
        .label()
    }
}

pub struct Table1 {
    pub rows: Vec<Row>,
    pub aggregates: Vec<Aggregate>,
    pub goals: Goals,
}

/// Per run, the first evaluation whose raw return beats `goal`: (iteration, wall_s).
fn first_beating(run: &Run, goal: f64) -> Option<(f64, f64)> {
    let it = run.eval.values("iteration");
    let wall = run.eval.values("wall_s");
    let ret = run.eval.values("mean_return");
    (0..ret.len())
        .find(|&k| ret[k] > goal)
        .map(|k| (it[k], wall[k]))
}

/// Spec §5: keep the 3 fastest runs, mean ± 2·std with the population std; "—" unless 3 runs
/// reach the goal.
fn three_fastest(mut times: Vec<f64>) -> Option<Spread> {
    times.sort_by(f64::total_cmp);
    (times.len() >= 3).then(|| Spread {
        mean: mean(&times[..3]),
        std: Some(population_std(&times[..3])),
    })
}

fn final_return(run: &Run) -> f64 {
    *run.eval
        .values("mean_return")
        .last()
        .expect("eval.csv has rows")
}

/// Per task, the runs' normalised final returns.
type Strata = Vec<(Task, Vec<f64>)>;

pub fn compute(groups: &BTreeMap<GroupKey, Vec<&Run>>, goals: Goals) -> Table1 {
    let mut rows = Vec::new();
    for (key, runs) in groups {
        let Some(c) = curves::smoothed(runs, "mean_return") else {
            continue;
        };
        // spec §5 / the authors' `sorted(result, key=mean)[-1]`: the highest mean, the later
        // iteration on a tie
        let mut best = 0;
        for k in 0..c.iterations.len() {
            if mean(&c.at(k)) >= mean(&c.at(best)) {
                best = k;
            }
        }
        let goal = goals.of(key.task);
        let hits: Vec<(f64, f64)> = runs.iter().filter_map(|r| first_beating(r, goal)).collect();
        let finals: Vec<f64> = runs.iter().map(|r| final_return(r)).collect();
        rows.push(Row {
            key: key.clone(),
            seeds: runs.iter().map(|r| r.seed()).collect(),
            asymptotic_iteration: c.iterations[best],
            asymptotic: Spread {
                mean: mean(&c.at(best)),
                std: sample_std(&c.at(best)),
            },
            goal,
            reached: hits.len(),
            convergence_iterations: three_fastest(hits.iter().map(|h| h.0).collect()),
            convergence_seconds: three_fastest(hits.iter().map(|h| h.1).collect()),
            final_iqm: iqm(&finals),
            final_ci: bootstrap_ci(
                &[finals],
                iqm,
                IQM_REPS,
                seed_of(&format!("final/{}/{}", key.task, key.label())),
            ),
        });
    }
    // D12's stratified bootstrap: runs resampled within each task, the IQM over all tasks'
    // runs pooled; returns divided by |base score| so the tasks share a scale
    let mut by_algo: BTreeMap<(usize, Option<String>), Strata> = BTreeMap::new();
    for (key, runs) in groups {
        let a = Algo::ALL.iter().position(|&a| a == key.algo).unwrap_or(0);
        let scale = base_score(key.task).abs();
        by_algo.entry((a, key.variant.clone())).or_default().push((
            key.task,
            runs.iter().map(|r| final_return(r) / scale).collect(),
        ));
    }
    let aggregates = by_algo
        .into_iter()
        .map(|((a, variant), strata)| {
            let scores: Vec<Vec<f64>> = strata.iter().map(|s| s.1.clone()).collect();
            let pooled: Vec<f64> = scores.concat();
            let algo = Algo::ALL[a];
            let label = GroupKey {
                task: Task::PathTracking,
                algo,
                variant: variant.clone(),
            }
            .label();
            Aggregate {
                algo,
                variant,
                tasks: strata.iter().map(|s| s.0).collect(),
                runs: pooled.len(),
                iqm: iqm(&pooled),
                ci: bootstrap_ci(
                    &scores,
                    iqm,
                    IQM_REPS,
                    seed_of(&format!("stratified/{label}")),
                ),
            }
        })
        .collect();
    Table1 {
        rows,
        aggregates,
        goals,
    }
}

/// Decimals for a return: as many as its size needs (returns span −10⁴ to −10⁻²).
fn return_decimals(x: f64) -> usize {
    match x.abs() {
        a if a >= 100.0 => 1,
        a if a >= 1.0 => 2,
        _ => 4,
    }
}

fn seconds_decimals(x: f64) -> usize {
    if x.abs() >= 100.0 { 0 } else { 1 }
}

/// "estimate [low, high]", all with the decimals the estimate needs.
fn with_ci(x: f64, (lo, hi): (f64, f64)) -> String {
    let d = return_decimals(x);
    format!("{x:.d$} [{lo:.d$}, {hi:.d$}]")
}

/// "mean ± 2·std", both with the decimals the mean needs.
fn spread(s: &Spread, decimals: fn(f64) -> usize) -> String {
    let d = decimals(s.mean);
    match s.std {
        Some(sd) => format!("{:.*} ± {:.*}", d, s.mean, d, 2.0 * sd),
        None => format!("{:.*} (one run)", d, s.mean),
    }
}

impl Table1 {
    /// The Markdown tables (also inlined in report.md).
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        for task in Task::ALL {
            let rows: Vec<&Row> = self.rows.iter().filter(|r| r.key.task == task).collect();
            if rows.is_empty() {
                continue;
            }
            md += &format!(
                "### {}\n\nConvergence goal: raw evaluation return > {}.\n\n",
                task_label(task),
                self.goals.of(task)
            );
            md += "| Algorithm | Runs | Asymptotic performance | at iteration | Convergence [iterations] | Convergence [s] | Reached goal | IQM of final return [95 % CI] |\n";
            md += "|---|---|---|---|---|---|---|---|\n";
            for r in rows {
                let conv = |s: &Option<Spread>, d: fn(f64) -> usize| {
                    s.as_ref().map_or("—".to_string(), |s| spread(s, d))
                };
                md += &format!(
                    "| {} | {} | {} | {} | {} | {} | {}/{} | {} |\n",
                    r.key.label(),
                    r.seeds.len(),
                    spread(&r.asymptotic, return_decimals),
                    r.asymptotic_iteration,
                    conv(&r.convergence_iterations, |_| 0),
                    conv(&r.convergence_seconds, seconds_decimals),
                    r.reached,
                    r.seeds.len(),
                    with_ci(r.final_iqm, r.final_ci),
                );
            }
            md += "\n";
        }
        if !self.aggregates.is_empty() {
            md += "### Across tasks (stratified bootstrap)\n\nFinal return divided by the task's |base score| (30 path tracking, 2 pendulum): −1 is the base score, 0 a cost-free episode.\n\n";
            md += "| Algorithm | Tasks | Runs | IQM of normalised final return [95 % CI] |\n|---|---|---|---|\n";
            for a in &self.aggregates {
                md += &format!(
                    "| {} | {} | {} | {} |\n",
                    a.label(),
                    a.tasks
                        .iter()
                        .map(|t| task_label(*t))
                        .collect::<Vec<_>>()
                        .join(", "),
                    a.runs,
                    with_ci(a.iqm, a.ci),
                );
            }
            md += "\n";
        }
        md
    }

    /// One line per cell, full precision; the across-task rows have task `all` and fill only
    /// the IQM columns (scale `per-base-score`).
    pub fn csv(&self) -> Result<Vec<u8>> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record([
            "task",
            "algo",
            "variant",
            "runs",
            "seeds",
            "asymptotic_iteration",
            "asymptotic_mean",
            "asymptotic_sample_std",
            "goal",
            "reached",
            "convergence_iterations_mean",
            "convergence_iterations_population_std",
            "convergence_seconds_mean",
            "convergence_seconds_population_std",
            "final_scale",
            "final_iqm",
            "final_iqm_ci_low",
            "final_iqm_ci_high",
        ])?;
        let opt = |x: Option<f64>| x.map_or(String::new(), |x| x.to_string());
        for r in &self.rows {
            let ci = &r.convergence_iterations;
            let cs = &r.convergence_seconds;
            w.write_record([
                r.key.task.name().to_string(),
                r.key.algo.name().to_string(),
                r.key.variant.clone().unwrap_or_default(),
                r.seeds.len().to_string(),
                seeds(&r.seeds),
                r.asymptotic_iteration.to_string(),
                r.asymptotic.mean.to_string(),
                opt(r.asymptotic.std),
                r.goal.to_string(),
                r.reached.to_string(),
                opt(ci.map(|s| s.mean)),
                opt(ci.and_then(|s| s.std)),
                opt(cs.map(|s| s.mean)),
                opt(cs.and_then(|s| s.std)),
                "raw".into(),
                r.final_iqm.to_string(),
                r.final_ci.0.to_string(),
                r.final_ci.1.to_string(),
            ])?;
        }
        for a in &self.aggregates {
            let mut rec = vec![
                "all".to_string(),
                a.algo.name().to_string(),
                a.variant.clone().unwrap_or_default(),
                a.runs.to_string(),
            ];
            rec.extend(std::iter::repeat_n(String::new(), 10));
            rec.extend([
                "per-base-score".to_string(),
                a.iqm.to_string(),
                a.ci.0.to_string(),
                a.ci.1.to_string(),
            ]);
            w.write_record(rec)?;
        }
        Ok(w.into_inner()?)
    }
}

pub fn seeds(s: &[u64]) -> String {
    s.iter().map(u64::to_string).collect::<Vec<_>>().join(" ")
}
