//! `mpg bench --dry-run --calibrate N`: an estimate of the selected matrix's time on this
//! machine before a long job starts. Each distinct configuration among the cells (cells that
//! differ by seed only share one) is run for N updates in a scratch folder with the cell's own
//! trainer and threads, and timed through the trainer's progress callbacks:
//! * the start (building, filling the buffers to `sampling.replay_start`, the first
//!   evaluation) up to the end of the first update;
//! * the updates after the first (their mean is the cost per update);
//! * the final evaluation (the cost of each of the cell's evaluations; the asynchronous
//!   trainer evaluates beside training, so it costs its cells nothing).
//!
//! A cell's time is start + remaining updates × cost per update + remaining evaluations × cost
//! per evaluation (checkpoint writes and the learning dynamics' effect on episode lengths left
//! out); the matrix's is the sum over cells divided by the runs at a time (each with its own
//! share of the cores, as `mpg bench` runs them), and never below its longest cell.

use super::Cell;
use anyhow::{Context, Result};
use mpg_algos::Algo;
use mpg_runner::Progress;
use mpg_runner::config::TrainerKind;
use mpg_runner::evaluator::Evaluation;
use mpg_runner::{RunConfig, RunDir};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// What one configuration costs on this machine.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cost {
    /// Seconds from the start to the end of the first update.
    pub start_s: f64,
    pub per_update_s: f64,
    /// Seconds per evaluation on the training thread (0 for the asynchronous trainer).
    pub per_eval_s: f64,
}

impl Cost {
    /// Seconds to run `remaining` of a cell's updates (`fresh`: from the start).
    pub fn cell_s(&self, cfg: &RunConfig, remaining: u64, fresh: bool) -> f64 {
        let evals = remaining.div_ceil(cfg.eval.interval) + u64::from(fresh);
        let start = if fresh { self.start_s } else { 0.0 };
        start + remaining as f64 * self.per_update_s + evals as f64 * self.per_eval_s
    }
}

/// What one update of `algo` costs beside the other algorithms' updates, for the running
/// bench's ETA (`scheduler::eta_s`; a calibration would cost minutes before the job starts,
/// and the ratios between the algorithms carry across machines far better than the times).
/// Milliseconds per update of the `paper` profile's runs, two at a time on a 2-core AMD EPYC
/// (Zen 4), from `results/paper/report` ("Every run's training time"); the two tasks cost
/// the same within a few per cent.
pub fn update_weight(algo: Algo) -> f64 {
    match algo {
        Algo::Nadp => 47.0,
        Algo::MpgV2 => 20.0,
        Algo::MpgV1 => 17.0,
        Algo::Sac => 8.2,
        Algo::Td3 => 6.5,
        Algo::Ndpg => 6.2,
    }
}

/// Times the callbacks of a calibration run.
struct Clock {
    began: Instant,
    first_update: Option<Instant>,
    last_update: Option<Instant>,
    updates: u64,
    last_eval_s: Option<f64>,
}

impl Progress for Clock {
    fn iteration(&mut self, done: u64, _total: u64, _rate: f64) {
        let now = Instant::now();
        self.first_update.get_or_insert(now);
        self.last_update = Some(now);
        self.updates = done;
    }
    fn evaluation(&mut self, _iteration: u64, _eval: &Evaluation) {
        if let Some(t) = self.last_update {
            self.last_eval_s = Some(t.elapsed().as_secs_f64());
        }
    }
}

/// Run `cfg` for `updates` (≥ 2) updates in a scratch folder and time it.
pub fn calibrate(cfg: &RunConfig, updates: u64) -> Result<Cost> {
    let mut c = cfg.clone();
    c.iterations = updates.max(2);
    // Evaluations at 0 and after the last update only; no checkpoint before the end.
    c.eval.interval = c.iterations;
    let reuse = c.learner.batch_reuse.max(1);
    c.log.checkpoint_interval = c.iterations.div_ceil(reuse) * reuse;
    // A scratch folder of this process, removed afterwards whatever happens.
    let scratch = std::env::temp_dir().join(format!("mpg-calibrate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).context("a scratch folder for the calibration")?;
    struct Remove(std::path::PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let scratch = Remove(scratch);
    let dir = RunDir::new(scratch.0.join("run"));
    let mut clock = Clock {
        began: Instant::now(),
        first_update: None,
        last_update: None,
        updates: 0,
        last_eval_s: None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    mpg_runner::run(&c, &dir, false, false, stop, &mut clock)?;
    let (Some(first), Some(last)) = (clock.first_update, clock.last_update) else {
        anyhow::bail!("the calibration run applied no update");
    };
    let per_update_s =
        last.duration_since(first).as_secs_f64() / clock.updates.saturating_sub(1).max(1) as f64;
    Ok(Cost {
        start_s: first.duration_since(clock.began).as_secs_f64(),
        per_update_s,
        per_eval_s: match c.trainer {
            TrainerKind::Sync => clock.last_eval_s.unwrap_or(0.0),
            TrainerKind::Async => 0.0,
        },
    })
}

/// One selected cell to estimate: its config, the updates it still has to run, and whether it
/// starts from nothing.
pub struct Pending<'a> {
    pub cell: &'a Cell,
    pub cfg: &'a RunConfig,
    pub remaining: u64,
    pub fresh: bool,
}

/// The estimate of a matrix.
pub struct Estimate {
    /// Per distinct configuration: a label, its cost, its cells and their summed seconds.
    pub rows: Vec<(String, Cost, usize, f64)>,
    pub total_s: f64,
    pub longest_s: f64,
    pub jobs: usize,
}

impl Estimate {
    /// Seconds of wall-clock with `jobs` runs at a time.
    pub fn wall_s(&self) -> f64 {
        (self.total_s / self.jobs.max(1) as f64).max(self.longest_s)
    }

    pub fn render(&self, updates: u64) -> String {
        let mut s = format!(
            "estimate from {updates} calibration updates of each distinct configuration on this machine:\n"
        );
        for (label, c, n, secs) in &self.rows {
            s += &format!(
                "  {label}: {:.1} ms/update, {:.2} s/evaluation, start {:.1} s; {n} cell(s): {}\n",
                c.per_update_s * 1e3,
                c.per_eval_s,
                c.start_s,
                hours(*secs)
            );
        }
        s += &format!(
            "  total {} of runs; with {} at a time about {} of wall-clock (longest cell {})\n",
            hours(self.total_s),
            self.jobs,
            hours(self.wall_s()),
            hours(self.longest_s)
        );
        s
    }
}

fn hours(s: f64) -> String {
    if s >= 3600.0 {
        format!("{:.1} h", s / 3600.0)
    } else {
        format!("{:.1} min", s / 60.0)
    }
}

/// The configuration a cell shares with the cells that differ from it by seed only.
fn shared_key(cfg: &RunConfig) -> String {
    let mut c = cfg.clone();
    c.seed = 0;
    c.iterations = 0;
    c.to_toml()
}

/// Calibrate each distinct configuration of `pending` (`updates` updates each, with
/// `say` told which one starts) and estimate the matrix with `jobs` runs at a time.
pub fn estimate(
    pending: &[Pending],
    updates: u64,
    jobs: usize,
    mut say: impl FnMut(&str),
) -> Result<Estimate> {
    let mut costs: BTreeMap<String, (String, Cost)> = BTreeMap::new();
    let mut rows: Vec<(String, Cost, usize, f64)> = Vec::new();
    let (mut total_s, mut longest_s) = (0.0, 0.0f64);
    for p in pending.iter().filter(|p| p.remaining > 0) {
        let key = shared_key(p.cfg);
        if !costs.contains_key(&key) {
            let label = match &p.cell.variant {
                Some(v) => format!("{} {} {v}", p.cell.task, p.cell.algo),
                None => format!("{} {}", p.cell.task, p.cell.algo),
            };
            say(&format!("calibrating {label} ({updates} updates)"));
            let cost = calibrate(p.cfg, updates).with_context(|| format!("calibrating {label}"))?;
            costs.insert(key.clone(), (label, cost));
        }
        let (label, cost) = &costs[&key];
        let secs = cost.cell_s(p.cfg, p.remaining, p.fresh);
        total_s += secs;
        longest_s = longest_s.max(secs);
        match rows.iter_mut().find(|r| &r.0 == label) {
            Some(r) => {
                r.2 += 1;
                r.3 += secs;
            }
            None => rows.push((label.clone(), *cost, 1, secs)),
        }
    }
    Ok(Estimate {
        rows,
        total_s,
        longest_s,
        jobs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpg_envs::Task;

    #[test]
    fn a_cell_costs_its_start_updates_and_evaluations() {
        let mut cfg = RunConfig::defaults(Algo::Td3, Task::InvertedPendulum);
        cfg.eval.interval = 3000;
        let c = Cost {
            start_s: 10.0,
            per_update_s: 0.01,
            per_eval_s: 2.0,
        };
        // 100 000 updates: 35 evaluations (0, every 3 000, the end) and the start.
        assert_eq!(c.cell_s(&cfg, 100_000, true), 10.0 + 1000.0 + 35.0 * 2.0);
        // Resumed with 6 000 to go: about two more evaluations, no start.
        assert_eq!(c.cell_s(&cfg, 6000, false), 60.0 + 2.0 * 2.0);
    }

    #[test]
    fn calibration_times_a_short_sync_run() {
        let mut cfg = RunConfig::defaults(Algo::Td3, Task::InvertedPendulum);
        cfg.sampling.replay_start = 256;
        cfg.eval.episodes = 1;
        cfg.learner.batch_size = 32;
        let c = calibrate(&cfg, 5).unwrap();
        assert!(
            c.per_update_s > 0.0 && c.start_s > 0.0 && c.per_eval_s > 0.0,
            "{c:?}"
        );
    }
}
