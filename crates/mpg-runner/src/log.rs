//! The rows both trainers write: `eval.csv`, `train.csv` and `gradients.csv` (columns in
//! docs/run-folder.md), so that a header cannot drift between the trainers.

use crate::evaluator::{Evaluation, metric_names};
use crate::run_dir::append_csv;
use anyhow::{Context, Result};
use mpg_algos::{ApplyStats, GradStats};
use mpg_envs::Task;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// `train.csv`'s columns (documented in docs/run-folder.md).
pub const TRAIN_HEADER: [&str; 21] = [
    "iteration",
    "wall_s",
    "env_steps",
    "q_loss",
    "q1_grad_norm",
    "q2_grad_norm",
    "policy_loss",
    "policy_grad_norm",
    "w_data",
    "w_model",
    "policy_updates",
    "dropped_nonfinite",
    "staleness",
    "pg_ms",
    "q_grad_ms",
    "apply_ms",
    "reapplied",
    "queue_wait_ms",
    "batch_wait_ms",
    "grad_cpu_ms",
    "apply_cpu_ms",
];

/// `gradients.csv`'s columns: one row per gradient counted as an iteration (Fig. 6's raw data).
pub const GRADIENTS_HEADER: [&str; 6] = [
    "iteration",
    "learner",
    "version",
    "staleness",
    "pg_ms",
    "q_grad_ms",
];

/// Columns of the run's CSVs that hold timings (excluded from determinism checks).
pub const TIMING_COLUMNS: [&str; 8] = [
    "wall_s",
    "pg_ms",
    "q_grad_ms",
    "apply_ms",
    "queue_wait_ms",
    "batch_wait_ms",
    "grad_cpu_ms",
    "apply_cpu_ms",
];

/// CPU time the calling thread has run, in ms (Linux's `/proc/thread-self/schedstat`); `None`
/// where unavailable. On a shared machine a thread's wall-clock times include the time it
/// waited for a core; its CPU time does not (the throughput model of docs/async.md uses both).
pub fn thread_cpu_ms() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e6)
}

/// A run's CSV (header first) without its timing columns: what two runs of one seed and config
/// share exactly, and a resumed run with an uninterrupted one (D8).
pub fn csv_without_timing(path: &Path) -> Result<Vec<Vec<String>>> {
    let mut rd =
        csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    let h: Vec<String> = rd.headers()?.iter().map(String::from).collect();
    let keep: Vec<usize> = (0..h.len())
        .filter(|&i| !TIMING_COLUMNS.contains(&h[i].as_str()))
        .collect();
    let mut rows = vec![keep.iter().map(|&i| h[i].clone()).collect::<Vec<_>>()];
    for r in rd.records() {
        let r = r?;
        rows.push(keep.iter().map(|&i| r[i].to_string()).collect());
    }
    Ok(rows)
}

fn num(x: f64) -> String {
    format!("{x}")
}

fn mean(sum: f64, n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        num(sum / n as f64)
    }
}

fn header(cols: &[&str]) -> Vec<String> {
    cols.iter().map(|s| s.to_string()).collect()
}

/// `eval.csv`'s columns for `task` with `episodes` returns.
fn eval_header(task: Task, episodes: usize) -> Vec<String> {
    let mut h = header(&["iteration", "wall_s", "env_steps", "mean_return"]);
    h.extend((0..episodes).map(|k| format!("return_{k}")));
    h.extend(metric_names(task).iter().map(|s| s.to_string()));
    h
}

/// Append one evaluation to `eval.csv`.
pub fn append_eval(
    path: &Path,
    task: Task,
    iteration: u64,
    wall_s: f64,
    env_steps: u64,
    ev: &Evaluation,
) -> Result<()> {
    let mut row = vec![
        iteration.to_string(),
        num(wall_s),
        env_steps.to_string(),
        num(ev.mean_return),
    ];
    row.extend(ev.returns.iter().map(|r| num(*r)));
    row.extend(ev.metrics.iter().map(|(_, v)| num(*v)));
    append_csv(path, &eval_header(task, ev.returns.len()), &[row])
}

/// Sums over the open `train.csv` interval (saved in checkpoints as JSON).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Interval {
    n: u64,
    q_loss: f64,
    q1_norm: f64,
    q2_norm: f64,
    policy_n: u64,
    policy_loss: f64,
    policy_norm: f64,
    w_data: f64,
    w_model: f64,
    pg_ms: f64,
    q_grad_ms: f64,
    apply_ms: f64,
    staleness: f64,
    dropped: u64,
    policy_applied: u64,
    /// Gradients re-applied from the last one (D11), and the gradients freshly computed.
    reapplied: u64,
    computed: u64,
    queue_wait_ms: f64,
    batch_wait_ms: f64,
    grad_cpu_ms: f64,
    grad_cpu_n: u64,
    apply_cpu_ms: f64,
    apply_cpu_n: u64,
}

impl Interval {
    /// Count one iteration: the gradient's statistics (`None` for a D11 re-application, which
    /// computed nothing), what applying it did, and the time it took.
    pub fn add(&mut self, s: Option<&GradStats>, applied: &ApplyStats, apply_ms: f64) {
        self.n += 1;
        self.apply_ms += apply_ms;
        self.staleness += applied.staleness as f64;
        self.dropped += applied.dropped as u64;
        self.policy_applied += applied.policy_applied as u64;
        let Some(s) = s else {
            self.reapplied += 1;
            return;
        };
        self.computed += 1;
        self.q_loss += s.q_loss;
        self.q1_norm += s.q1_norm;
        self.q2_norm += s.q2_norm.unwrap_or(0.0);
        self.q_grad_ms += s.q_grad_ms;
        if let Some(l) = s.policy_loss {
            self.policy_n += 1;
            self.policy_loss += l;
            self.policy_norm += s.policy_norm.unwrap_or(0.0);
            self.w_data += s.w_data.unwrap_or(0.0);
            self.w_model += s.w_model.unwrap_or(0.0);
            self.pg_ms += s.pg_ms.unwrap_or(0.0);
        }
    }

    /// Queue waits of the asynchronous trainer: the update thread's wait for this iteration's
    /// gradient, and the learner's wait for the batch of a freshly computed gradient.
    pub fn add_waits(&mut self, queue_wait_ms: f64, batch_wait_ms: f64) {
        self.queue_wait_ms += queue_wait_ms;
        self.batch_wait_ms += batch_wait_ms;
    }

    /// CPU times (when measurable): of a freshly computed gradient, and of an application.
    pub fn add_cpu(&mut self, grad_cpu_ms: Option<f64>, apply_cpu_ms: Option<f64>) {
        if let Some(g) = grad_cpu_ms {
            self.grad_cpu_ms += g;
            self.grad_cpu_n += 1;
        }
        if let Some(a) = apply_cpu_ms {
            self.apply_cpu_ms += a;
            self.apply_cpu_n += 1;
        }
    }

    /// Append the interval's means to `train.csv` and start a new interval.
    pub fn flush(
        &mut self,
        path: &Path,
        iteration: u64,
        wall_s: f64,
        env_steps: u64,
        has_q2: bool,
    ) -> Result<()> {
        let i = std::mem::take(self);
        let row = vec![
            iteration.to_string(),
            num(wall_s),
            env_steps.to_string(),
            mean(i.q_loss, i.computed),
            mean(i.q1_norm, i.computed),
            if has_q2 {
                mean(i.q2_norm, i.computed)
            } else {
                String::new()
            },
            mean(i.policy_loss, i.policy_n),
            mean(i.policy_norm, i.policy_n),
            mean(i.w_data, i.policy_n),
            mean(i.w_model, i.policy_n),
            i.policy_applied.to_string(),
            i.dropped.to_string(),
            mean(i.staleness, i.n),
            mean(i.pg_ms, i.policy_n),
            mean(i.q_grad_ms, i.computed),
            mean(i.apply_ms, i.n),
            i.reapplied.to_string(),
            mean(i.queue_wait_ms, i.n),
            mean(i.batch_wait_ms, i.computed),
            mean(i.grad_cpu_ms, i.grad_cpu_n),
            mean(i.apply_cpu_ms, i.apply_cpu_n),
        ];
        append_csv(path, &header(&TRAIN_HEADER), &[row])
    }
}

/// `gradients.csv` rows waiting to be written: appended at every `train.csv` row and before
/// every checkpoint, so a checkpoint's file length covers every gradient before it.
#[derive(Debug, Default)]
pub struct GradientLog {
    pending: Vec<Vec<String>>,
}

impl GradientLog {
    /// One gradient, counted as iteration `applied.iteration`, computed by `learner`; `stats` is
    /// `None` for a D11 re-application (nothing was computed: empty timings).
    pub fn push(
        &mut self,
        learner: usize,
        version: u64,
        stats: Option<&GradStats>,
        applied: &ApplyStats,
    ) {
        let opt = |x: Option<f64>| x.map(num).unwrap_or_default();
        self.pending.push(vec![
            applied.iteration.to_string(),
            learner.to_string(),
            version.to_string(),
            applied.staleness.to_string(),
            opt(stats.and_then(|s| s.pg_ms)),
            opt(stats.map(|s| s.q_grad_ms)),
        ]);
    }

    pub fn flush(&mut self, path: &Path) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.pending);
        append_csv(path, &header(&GRADIENTS_HEADER), &rows)
    }
}
