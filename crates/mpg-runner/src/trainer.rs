//! What the two trainers ([`crate::sync`], [`crate::async_trainer`]) share: the accepted start
//! they are handed ([`Start`], made by [`crate::launch`]), the progress they report, the seeds
//! of their generators, their simulators and the evaluator.

use crate::config::{EvalReset, RunConfig};
use crate::evaluator::{Evaluation, Evaluator};
pub use crate::recorder::Outcome;
use crate::recorder::record_outcome;
use crate::resume::{self, Accepted, Session};
use crate::run_dir::{RunDir, RunLock, Status};
use anyhow::Result;
use mpg_envs::pendulum::Pendulum;
use mpg_envs::{Sim, Task, VecSim, make_sim};

/// Progress reported to the caller after each iteration and evaluation (the CLI's bar).
pub trait Progress {
    fn iteration(&mut self, _done: u64, _total: u64, _updates_per_s: f64) {}
    fn evaluation(&mut self, _iteration: u64, _eval: &Evaluation) {}
}

/// A progress sink that shows nothing.
pub struct Silent;
impl Progress for Silent {}

/// An accepted start, handed to a trainer: it builds its components and loads the checkpoint
/// (writing nothing, so a refusal leaves the folder as it was), then [`Start::go`]es.
pub(crate) struct Start<'a> {
    pub dir: &'a RunDir,
    pub session: &'a Session,
    pub accepted: Accepted,
    lock: RunLock,
}

impl<'a> Start<'a> {
    /// The start of a run whose folder `lock` holds and whose check `accepted` passed.
    pub(crate) fn new(
        dir: &'a RunDir,
        session: &'a Session,
        accepted: Accepted,
        lock: RunLock,
    ) -> Self {
        Start {
            dir,
            session,
            accepted,
            lock,
        }
    }

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
