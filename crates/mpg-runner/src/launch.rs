//! The start of a run: its folder, its lock and the resume check (docs/reliability.md), then
//! the trainer its config names — [`crate::sync`] or [`crate::async_trainer`] — takes over.

use crate::config::{RunConfig, TrainerKind};
use crate::recorder::Outcome;
use crate::resume::{self, Session};
use crate::run_dir::{RunDir, RunLock};
use crate::trainer::{Progress, Start};
use anyhow::Result;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

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
    let start = Start::new(dir, session, accepted, lock);
    match cfg.trainer {
        TrainerKind::Sync => crate::sync::train(cfg, start, stop, progress),
        TrainerKind::Async => crate::async_trainer::train(cfg, start, stop, progress),
    }
}
