//! What several runner tests share: a small complete run, running it with an optional stop,
//! and comparing CSVs without their timing columns.

use mpg_algos::Algo;
use mpg_envs::Task;
use mpg_runner::{Outcome, Progress, Silent, run};
use mpg_runner::{RunConfig, RunDir};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A small but complete synchronous run: every box exercised in seconds.
pub fn small(algo: Algo, task: Task, seed: u64) -> RunConfig {
    let mut c = RunConfig::defaults(algo, task);
    c.iterations = 60;
    c.seed = seed;
    c.sampling.replay_start = 256;
    c.sampling.transitions_per_call = 64;
    c.sampling.updates_per_call = 5;
    c.eval.interval = 20;
    c.eval.episodes = 2;
    c.log.interval = 10;
    c.log.checkpoint_interval = 20;
    c.learner.batch_size = 32;
    c.learner.horizon = 4;
    c
}

/// Run (or resume) `cfg` in `dir` with the trainer it names, asking it to stop once iteration
/// `stop_at` is done (the asynchronous trainer may report past it before the stop is seen).
pub fn try_go(
    cfg: &RunConfig,
    dir: &Path,
    resume: bool,
    stop_at: Option<u64>,
) -> anyhow::Result<Outcome> {
    struct StopAt(Option<u64>, Arc<AtomicBool>);
    impl Progress for StopAt {
        fn iteration(&mut self, done: u64, _: u64, _: f64) {
            if self.0.is_some_and(|s| done >= s) {
                self.1.store(true, Ordering::SeqCst);
            }
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut p = StopAt(stop_at, stop.clone());
    run(cfg, &RunDir::new(dir), resume, false, stop, &mut p)
}

/// [`try_go`] that must succeed.
pub fn go(cfg: &RunConfig, dir: &Path, resume: bool, stop_at: Option<u64>) -> Outcome {
    try_go(cfg, dir, resume, stop_at).unwrap()
}

/// Run (or resume) `cfg` in `dir` to its end, allowing a changed config on resume or not: the
/// result as `mpg train` gets it.
pub fn run_in(
    cfg: &RunConfig,
    dir: &Path,
    resume: bool,
    allow_change: bool,
) -> anyhow::Result<Outcome> {
    let stop = Arc::new(AtomicBool::new(false));
    run(
        cfg,
        &RunDir::new(dir),
        resume,
        allow_change,
        stop,
        &mut Silent,
    )
}

/// A CSV without its timing columns.
pub fn without_timing(path: &Path) -> Vec<Vec<String>> {
    mpg_runner::log::csv_without_timing(path).unwrap()
}

/// The three CSVs of two run folders are equal, timing columns aside.
pub fn assert_same_csvs(a: &Path, b: &Path, label: &str) {
    for f in ["eval.csv", "train.csv", "gradients.csv"] {
        assert_eq!(
            without_timing(&a.join(f)),
            without_timing(&b.join(f)),
            "{label}: {f}"
        );
    }
}
