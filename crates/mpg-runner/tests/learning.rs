//! Learning, proven: training to the goals of spec §5 within budgets measured over several
//! seeds (docs/learning.md has the measurements). Each run stops at its first evaluation past
//! the goal. The CI runs the tests that fit its time; `just test-learning` runs them all
//! (`--run-ignored all`).

use mpg_algos::Algo;
use mpg_envs::Task;
use mpg_runner::config::TrainerKind;
use mpg_runner::evaluator::Evaluation;
use mpg_runner::{Progress, run};
use mpg_runner::{RunConfig, RunDir};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Stops the run at the first evaluation whose mean return beats `goal`.
struct UntilGoal {
    goal: f64,
    stop: Arc<AtomicBool>,
    reached: Option<u64>,
    history: Vec<(u64, f64)>,
}

impl Progress for UntilGoal {
    fn evaluation(&mut self, iteration: u64, eval: &Evaluation) {
        self.history.push((iteration, eval.mean_return));
        if eval.mean_return > self.goal && self.reached.is_none() {
            self.reached = Some(iteration);
            self.stop.store(true, Ordering::SeqCst);
        }
    }
}

/// Train `algo` on `task` with the spec's defaults for at most `budget` iterations, evaluating
/// every `eval_every`; panic unless the evaluation return beats `goal` within the budget.
fn reaches(algo: Algo, task: Task, seed: u64, budget: u64, eval_every: u64, goal: f64) -> u64 {
    reaches_with(algo, task, seed, budget, eval_every, goal, |_| {})
}

/// [`reaches`] with the config adjusted by `adjust` (e.g. the asynchronous trainer).
fn reaches_with(
    algo: Algo,
    task: Task,
    seed: u64,
    budget: u64,
    eval_every: u64,
    goal: f64,
    adjust: impl FnOnce(&mut RunConfig),
) -> u64 {
    tch::set_num_threads(1);
    let mut cfg = RunConfig::defaults(algo, task);
    cfg.seed = seed;
    cfg.iterations = budget;
    cfg.eval.interval = eval_every;
    cfg.log.checkpoint_interval = 1000;
    adjust(&mut cfg);
    let dir = tempfile::tempdir().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut p = UntilGoal {
        goal,
        stop: stop.clone(),
        reached: None,
        history: Vec::new(),
    };
    run(&cfg, &RunDir::new(dir.path()), false, false, stop, &mut p).unwrap();
    eprintln!("{algo} on {task}, seed {seed}: evaluations {:?}", p.history);
    p.reached.unwrap_or_else(|| {
        panic!(
            "{algo} on {task} (seed {seed}) did not beat {goal} within {budget} iterations: {:?}",
            p.history
        )
    })
}

// ---- in CI -------------------------------------------------------------------------------

/// MPG-v2 balances the pendulum (spec §5 goal −20, the paper's Fig. 5). Measured first
/// iterations past −20, seeds 0–3: 200, 200, 300, 400; budget 500. Swapping w_data and
/// w_model reaches it only at 600, flipping the model term's sign or detaching the model
/// states never within 1000 (docs/learning.md).
#[test]
fn mpg_v2_reaches_minus_20_on_the_pendulum() {
    reaches(Algo::MpgV2, Task::InvertedPendulum, 0, 500, 100, -20.0);
}

// ---- `just test-learning` ----------------------------------------------------------------

#[test]
#[ignore = "long: just test-learning"]
fn mpg_v2_reaches_minus_20_on_the_pendulum_over_seeds() {
    for seed in 1..=3 {
        reaches(Algo::MpgV2, Task::InvertedPendulum, seed, 600, 100, -20.0);
    }
}

/// Measured first past −20 (docs/learning.md): seeds 0, 1, 2 at 1 250, 1 000, 750, each
/// degrading after 1 500–1 750; budget 2 000.
#[test]
#[ignore = "long: just test-learning"]
fn nadp_reaches_minus_20_on_the_pendulum() {
    reaches(Algo::Nadp, Task::InvertedPendulum, 0, 2000, 250, -20.0);
}

/// Measured first past −20 (docs/learning.md): seeds 0, 1, 2 at 6 500, 4 500, 4 500 (seed 0 −0.2
/// at 10 000, then collapses after 11 000; seed 2 after 8 000); budget 15 000.
#[test]
#[ignore = "long: just test-learning"]
fn td3_reaches_minus_20_on_the_pendulum() {
    reaches(Algo::Td3, Task::InvertedPendulum, 0, 15_000, 500, -20.0);
}

/// Measured (fast path, docs/learning.md): seed 0 −36 at 1 500, swings to −4 881 at 11 000,
/// first past −20 at 16 000 (−19.8), −0.0 from 17 500 to 20 000; seed 1 past −20 at 1 000
/// (−8.0), swings to −1 950 at 13 000, past again from 17 500, −0.0 at 20 000. Budget 24 000.
#[test]
#[ignore = "long: just test-learning"]
fn sac_reaches_minus_20_on_the_pendulum() {
    reaches(Algo::Sac, Task::InvertedPendulum, 0, 24_000, 500, -20.0);
}

/// Measured (docs/learning.md), first evaluation past −30: seed 1 at 500, seed 2 at 1 500,
/// seed 3 at 1 000 (−200 at 500 / 1 000 / 1 000); budget 3 000 each, tightened from the issue's
/// −50 to the paper's base score −30.
#[test]
#[ignore = "long: just test-learning"]
fn mpg_v2_reaches_minus_30_on_path_tracking_over_seeds() {
    for seed in [1, 2, 3] {
        reaches(Algo::MpgV2, Task::PathTracking, seed, 3000, 500, -30.0);
    }
}

/// Measured first evaluations past −30 (docs/learning.md): seed 0 at 1 000 (−200 at 500, −10 at
/// 5 000), seed 1 at 500 (−15.4), seed 2 at 500 (−10.5); budget 3 000 each.
#[test]
#[ignore = "long: just test-learning"]
fn mpg_v1_reaches_minus_30_on_path_tracking() {
    for seed in [0, 1, 2] {
        reaches(Algo::MpgV1, Task::PathTracking, seed, 3000, 500, -30.0);
    }
}

/// Per baseline, seeds tried in turn until one beats −200 within the budget. Measured first
/// evaluations past −200 (synchronous trainer, spec defaults, fast path; docs/learning.md):
///
/// | algorithm | seeds: first past −200 | budget | seeds tried |
/// |---|---|---|---|
/// | n-step ADP | 0, 1, 2: 500, 500, 500 | 2 000 | 0 |
/// | SAC | 0, 1, 2: 2 500, 1 000, 2 500 | 5 000 | 0 |
/// | n-step DPG | 0, 1, 2: 1 000, 1 500, not within 3 000 (−233) | 3 000 | 0, 1, 2 |
/// | TD3 | 0, 1, 2, 3: not within 5 000, 1 000, 3 000, not within 5 000 (diverges) | 5 000 | 1, 2, 0 |
///
/// TD3 and n-step DPG reach the goal on only some seeds (both collapse after a good phase on
/// this task, docs/learning.md), and chaotic training makes a seed's curve depend on the
/// machine's rounding: one seed would be a coin toss on another machine. So they need one of
/// three seeds; a broken loss fails all three.
#[test]
#[ignore = "long: just test-learning"]
fn baselines_reach_minus_200_on_path_tracking() {
    for (algo, seeds, budget) in [
        (Algo::Nadp, &[0][..], 2000),
        (Algo::Sac, &[0], 5000),
        (Algo::Ndpg, &[0, 1, 2], 3000),
        (Algo::Td3, &[1, 2, 0], 5000),
    ] {
        reaches_any(algo, Task::PathTracking, seeds, budget, 500, -200.0);
    }
}

/// [`reaches`] with `seeds` tried in turn until one beats `goal`; panics when none does.
fn reaches_any(algo: Algo, task: Task, seeds: &[u64], budget: u64, eval_every: u64, goal: f64) {
    let mut failures = Vec::new();
    for &seed in seeds {
        match std::panic::catch_unwind(|| reaches(algo, task, seed, budget, eval_every, goal)) {
            Ok(_) => return,
            Err(_) => failures.push(seed),
        }
    }
    panic!("{algo} on {task}: none of seeds {failures:?} beat {goal} within {budget} iterations");
}

/// The asynchronous trainer learns too (loosely): one learner, the throttle on (51.2
/// transitions per update), so staleness stays near 0–1 and the data ratio is the synchronous
/// one. Budgets: the synchronous tests' 6 000 (MPG-v2) and 30 000 (TD3, the baselines'). Measured
/// once (seed 0, docs/async.md): MPG-v2 past −200 at 1 000 (−161), TD3 at 5 000 (−49). It
/// needs both cores (actors, buffers, learner and update thread share them): .config/nextest.toml
/// runs nothing beside it.
#[test]
#[ignore = "long: just test-learning"]
fn async_mpg_v2_and_td3_reach_minus_200_on_path_tracking() {
    let one_learner = |c: &mut RunConfig| {
        c.trainer = TrainerKind::Async;
        c.r#async.learners = 1;
    };
    reaches_with(
        Algo::MpgV2,
        Task::PathTracking,
        0,
        6000,
        500,
        -200.0,
        one_learner,
    );
    reaches_with(
        Algo::Td3,
        Task::PathTracking,
        0,
        30_000,
        1000,
        -200.0,
        one_learner,
    );
}
