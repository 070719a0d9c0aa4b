//! The run recorder: the one place both trainers write a run folder through — `eval.csv`,
//! `train.csv` and `gradients.csv` rows, checkpoints (with their checksums), the status and
//! the run's clock — so that every rule of docs/reliability.md lives once.

use crate::buffer::ReplayBuffer;
use crate::checkpoint::{self, Extra, Meta};
use crate::config::RunConfig;
use crate::evaluator::Evaluation;
use crate::log::{GradientLog, Interval, append_eval};
use crate::run_dir::{RunDir, Status, file_len};
use anyhow::Result;
use mpg_algos::{ApplyStats, GradStats, Optimizer};
use mpg_envs::{Rng, SimState};
use std::time::Instant;

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Finished {
        last: Option<Evaluation>,
    },
    /// Stopped by a signal after checkpointing at `iteration`.
    Interrupted {
        iteration: u64,
    },
    /// `--resume` of a run that had already finished its `iteration`s: nothing was changed.
    AlreadyFinished {
        iteration: u64,
    },
}

/// What a checkpoint holds beyond the recorder's own counters.
pub struct CheckpointState<'a> {
    pub iteration: u64,
    pub opt: &'a Optimizer,
    pub buffers: &'a [&'a ReplayBuffer],
    pub extra: Extra,
    pub learner_calls: u64,
    pub actor_rng: Rng,
    pub learner_rng: Rng,
    pub actor_sim: SimState,
    pub eval_sim: SimState,
}

pub struct Recorder {
    pub dir: RunDir,
    cfg: RunConfig,
    /// The last iteration whose evaluation is in `eval.csv`.
    pub evaluated_through: Option<u64>,
    /// The open `train.csv` interval.
    pub interval: Interval,
    gradients: GradientLog,
    elapsed_before: f64,
    started: Instant,
}

impl Recorder {
    /// A recorder for `cfg` in `dir`, continuing the counters and clock of `resumed`.
    pub fn new(cfg: &RunConfig, dir: &RunDir, resumed: Option<&Meta>) -> Result<Recorder> {
        let (evaluated_through, interval, elapsed_before) = match resumed {
            Some(m) => (
                m.evaluated_through,
                serde_json::from_str(&m.interval)?,
                m.elapsed_s,
            ),
            None => (None, Interval::default(), 0.0),
        };
        Ok(Recorder {
            dir: dir.clone(),
            cfg: cfg.clone(),
            evaluated_through,
            interval,
            gradients: GradientLog::default(),
            elapsed_before,
            started: Instant::now(),
        })
    }

    /// Seconds of training so far, across sessions.
    pub fn wall_s(&self) -> f64 {
        self.elapsed_before + self.started.elapsed().as_secs_f64()
    }

    /// Append an evaluation of the parameters of `iteration` to `eval.csv`.
    pub fn evaluation(
        &mut self,
        iteration: u64,
        wall_s: f64,
        env_steps: u64,
        ev: &Evaluation,
    ) -> Result<()> {
        append_eval(
            &self.dir.eval_csv(),
            self.cfg.task,
            iteration,
            wall_s,
            env_steps,
            ev,
        )?;
        self.evaluated_through = Some(iteration);
        Ok(())
    }

    /// One gradient counted as an iteration (`gradients.csv`, written with the next row).
    pub fn gradient(
        &mut self,
        learner: usize,
        version: u64,
        stats: Option<&GradStats>,
        applied: &ApplyStats,
    ) {
        self.gradients.push(learner, version, stats, applied);
    }

    /// Close the `train.csv` interval at `iteration` (and write the pending gradients).
    pub fn train_row(&mut self, iteration: u64, env_steps: u64, has_q2: bool) -> Result<()> {
        let wall_s = self.wall_s();
        self.gradients.flush(&self.dir.gradients_csv())?;
        self.interval
            .flush(&self.dir.train_csv(), iteration, wall_s, env_steps, has_q2)
    }

    /// A verified checkpoint of `s` and the recorder's counters (docs/run-folder.md).
    pub fn checkpoint(&mut self, s: CheckpointState) -> Result<()> {
        self.gradients.flush(&self.dir.gradients_csv())?;
        let mut meta = Meta {
            format: checkpoint::FORMAT,
            iteration: s.iteration,
            evaluated_through: self.evaluated_through,
            adam_steps: checkpoint::adam_steps(s.opt),
            dropped_total: s.opt.dropped_total,
            dropped_in_row: s.opt.dropped_in_row,
            learner_calls: s.learner_calls,
            actor_rng: s.actor_rng,
            learner_rng: s.learner_rng,
            actor_sim: s.actor_sim,
            eval_sim: s.eval_sim,
            eval_csv_len: file_len(&self.dir.eval_csv()),
            train_csv_len: file_len(&self.dir.train_csv()),
            gradients_csv_len: Some(file_len(&self.dir.gradients_csv())),
            elapsed_s: self.wall_s(),
            interval: serde_json::to_string(&self.interval)?,
            config: self.cfg.to_toml(),
            tensors_len: 0,
            replay_len: 0,
            more_replay_lens: Vec::new(),
            checksums: Default::default(),
            meta_crc: None,
        };
        checkpoint::save(&self.dir.checkpoint(), &mut meta, s.opt, s.buffers, s.extra)
    }
}

/// Write the run's final `status` (both trainers): `failed: <reason>` when the run failed and
/// the status can still be written (a failure to write it is added to the reason returned).
pub fn record_outcome(dir: &RunDir, result: Result<Outcome>) -> Result<Outcome> {
    let status = match &result {
        Ok(Outcome::Finished { .. }) | Ok(Outcome::AlreadyFinished { .. }) => Status::Finished,
        Ok(Outcome::Interrupted { iteration }) => {
            Status::Interrupted(format!("stopped by a signal at iteration {iteration}"))
        }
        Err(e) => Status::Failed(format!("{e:#}")),
    };
    match (result, dir.write_status(&status)) {
        (Ok(o), Ok(())) => Ok(o),
        (Ok(_), Err(w)) => Err(w),
        (Err(e), Ok(())) => Err(e),
        (Err(e), Err(w)) => Err(anyhow::anyhow!(
            "{e:#}; the status could not be written either: {w:#}"
        )),
    }
}
