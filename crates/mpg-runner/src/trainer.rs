//! What the two trainers share: the start of a run (its folder, its lock and the resume check,
//! docs/reliability.md) before the trainer its config names ([`crate::sync`] or
//! [`crate::async_trainer`]) takes over, how a run ends ([`Outcome`]), the progress it reports,
//! the seeds of its generators and its simulators.

use crate::config::{EvalReset, RunConfig, TrainerKind};
use crate::evaluator::{Evaluation, Evaluator};
use crate::recorder::record_outcome;
use crate::resume::{self, Accepted, Session};
use crate::run_dir::{RunDir, RunLock, Status};
use anyhow::Result;
use mpg_envs::pendulum::Pendulum;
use mpg_envs::{Sim, Task, VecSim, make_sim};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

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

/// Progress reported to the caller after each iteration and evaluation (the CLI's bar).
pub trait Progress {
    fn iteration(&mut self, _done: u64, _total: u64, _updates_per_s: f64) {}
    fn evaluation(&mut self, _iteration: u64, _eval: &Evaluation) {}
}

/// A progress sink that shows nothing.
pub struct Silent;
impl Progress for Silent {}

/// Start a new run in `dir` (which must not hold one) or continue the one there (`resume`),
/// with the trainer `cfg.trainer` names. `stop` (set by SIGINT/SIGTERM) makes the run
/// checkpoint and return [`Outcome::Interrupted`].
pub fn run(
    cfg: &RunConfig,
    dir: &RunDir,
    resume: bool,
    allow_config_change: bool,
    stop: Arc<AtomicBool>,
    progress: &mut dyn Progress,
) -> Result<Outcome> {
    let session = Session::without_provenance(resume, allow_config_change);
    run_session(cfg, dir, &session, stop, progress)
}

/// [`run`], with the session's provenance text written once the start is accepted.
pub fn run_session(
    cfg: &RunConfig,
    dir: &RunDir,
    session: &Session,
    stop: Arc<AtomicBool>,
    progress: &mut dyn Progress,
) -> Result<Outcome> {
    dir.prepare()?;
    let lock = RunLock::acquire(dir)?;
    // Everything is checked and loaded before anything is written (docs/reliability.md).
    let accepted = resume::check(dir, cfg, session)?;
    if accepted.finished {
        return Ok(Outcome::AlreadyFinished {
            iteration: cfg.iterations,
        });
    }
    let start = Start {
        dir,
        session,
        accepted,
        lock,
    };
    match cfg.trainer {
        TrainerKind::Sync => crate::sync::train(cfg, start, stop, progress),
        TrainerKind::Async => crate::async_trainer::train(cfg, start, stop, progress),
    }
}

/// An accepted start, handed to a trainer: it builds its components and loads the checkpoint
/// (writing nothing, so a refusal leaves the folder as it was), then [`Start::go`]es.
pub(crate) struct Start<'a> {
    pub dir: &'a RunDir,
    pub session: &'a Session,
    pub accepted: Accepted,
    lock: RunLock,
}

impl Start<'_> {
    /// Write what the accepted start writes (config, provenance, the CSVs cut back to the
    /// checkpoint, `status: running`), train, and record how the run ended in `status`.
    pub fn go(
        mut self,
        cfg: &RunConfig,
        train: impl FnOnce(&mut RunLock) -> Result<Outcome>,
    ) -> Result<Outcome> {
        let result = resume::commit(self.dir, cfg, &self.accepted, self.session)
            .and_then(|()| self.dir.write_status(&Status::Running))
            .and_then(|()| train(&mut self.lock));
        record_outcome(self.dir, result)
    }
}

/// Derived seeds of the run's generators (D8): one run seed, a fixed stream per component.
pub(crate) fn sub_seed(seed: u64, component: u64) -> u64 {
    // SplitMix64 of (seed, component): well-separated streams for every component.
    let mut z = seed ^ component.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A simulator of the run's task with `agents` agents; pendulum episodes end after
/// `max_episode_steps` (0: never).
fn task_sim(cfg: &RunConfig, agents: usize, seed: u64, max_episode_steps: u32) -> Box<dyn Sim> {
    match cfg.task {
        Task::InvertedPendulum => {
            Box::new(VecSim::new(Pendulum { max_episode_steps }, agents, seed))
        }
        Task::PathTracking => make_sim(cfg.task, agents, seed, cfg.env.termination),
    }
}

/// A training simulator of `agents` agents (the actors' and the learners' tasks, D1, D20).
pub(crate) fn train_sim(cfg: &RunConfig, agents: usize, seed: u64) -> Box<dyn Sim> {
    task_sim(cfg, agents, seed, cfg.env.max_episode_steps)
}

/// The evaluator of a run: its own simulator, seeded from `seed` (spec §5, D7). Evaluation
/// episodes run the full fixed length: no episode limit in its simulator.
pub(crate) fn make_evaluator(cfg: &RunConfig, seed: u64) -> Evaluator {
    let agents = if cfg.eval.reset == EvalReset::Fresh {
        cfg.eval.episodes
    } else {
        1
    };
    Evaluator::new(
        task_sim(cfg, agents, seed, 0),
        cfg.eval.reset,
        cfg.eval.episodes,
    )
}
