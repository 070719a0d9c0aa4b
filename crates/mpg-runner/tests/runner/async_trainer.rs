//! The asynchronous trainer (spec §4): every algorithm runs to its end with every evaluation
//! and staleness logged; interrupt and resume; D11 re-application; the sample-ratio throttle;
//! its config section. Signals and injected faults are tested through the binary (tests/e2e.rs).

use crate::common::{self, go};
use mpg_algos::Algo;
use mpg_envs::Task;
use mpg_runner::Outcome;
use mpg_runner::config::{SampleRatio, TrainerKind};
use mpg_runner::{RunConfig, RunDir};
use std::path::Path;

/// A small asynchronous run: two learners, two actors, two buffers, finished in seconds
/// (`sampling.updates_per_call` is the synchronous trainer's; the actors follow the ratio).
fn small(algo: Algo, task: Task) -> RunConfig {
    let mut c = common::small(algo, task, 5);
    c.trainer = TrainerKind::Async;
    c.iterations = 40;
    c.sampling.replay_start = 128;
    c.r#async.sample_ratio = SampleRatio::PerUpdate(6.4);
    c
}

/// A CSV as a header and rows of strings.
fn read(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut rd = csv::Reader::from_path(path).unwrap();
    let h = rd.headers().unwrap().iter().map(String::from).collect();
    let rows = rd
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    (h, rows)
}

fn column(path: &Path, name: &str) -> Vec<String> {
    let (h, rows) = read(path);
    let i = h
        .iter()
        .position(|c| c == name)
        .unwrap_or_else(|| panic!("{}: no column {name}", path.display()));
    rows.into_iter().map(|r| r[i].clone()).collect()
}

fn numbers(path: &Path, name: &str) -> Vec<f64> {
    column(path, name)
        .iter()
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name}: '{v}'")))
        .collect()
}

/// `gradients.csv` holds one row per iteration 0..n, each with staleness = iteration − version,
/// and `train.csv` one row per `log.interval` with its staleness.
fn check_gradient_log(dir: &Path, n: u64, learners: usize, label: &str) {
    let g = dir.join("gradients.csv");
    let its = numbers(&g, "iteration");
    assert_eq!(
        its,
        (0..n).map(|i| i as f64).collect::<Vec<_>>(),
        "{label}: one gradients.csv row per iteration, in order"
    );
    for ((it, v), s) in its
        .iter()
        .zip(numbers(&g, "version"))
        .zip(numbers(&g, "staleness"))
    {
        assert_eq!(s, it - v, "{label}: staleness = iteration − version");
        assert!(v <= *it, "{label}: a gradient from the future");
    }
    assert!(
        numbers(&g, "learner")
            .iter()
            .all(|&l| l >= 0.0 && l < learners as f64),
        "{label}: learner ids"
    );
    let t = dir.join("train.csv");
    assert_eq!(
        numbers(&t, "iteration"),
        (1..=n / 10).map(|k| (10 * k) as f64).collect::<Vec<_>>(),
        "{label}: train.csv rows"
    );
    assert!(
        numbers(&t, "staleness").iter().all(|s| *s >= 0.0),
        "{label}"
    );
}

#[test]
fn every_algorithm_finishes_with_every_evaluation_and_staleness_logged() {
    let mut cases: Vec<(Algo, Task)> = Algo::ALL.iter().map(|&a| (a, Task::PathTracking)).collect();
    cases.push((Algo::MpgV2, Task::InvertedPendulum));
    for (algo, task) in cases {
        let cfg = small(algo, task);
        let dir = tempfile::tempdir().unwrap();
        let out = go(&cfg, dir.path(), false, None);
        let label = format!("{algo} {task}");
        let Outcome::Finished { last: Some(last) } = out else {
            panic!("{label}: {out:?}")
        };
        let eval = dir.path().join("eval.csv");
        assert_eq!(numbers(&eval, "iteration"), [0.0, 20.0, 40.0], "{label}");
        assert_eq!(
            *numbers(&eval, "mean_return").last().unwrap(),
            last.mean_return,
            "{label}: the last evaluation is the one returned"
        );
        check_gradient_log(dir.path(), 40, 2, &label);
        let rd = RunDir::new(dir.path());
        assert_eq!(rd.read_status().unwrap(), "finished", "{label}");
        assert!(
            dir.path().join("checkpoint/replay.1.bin").exists(),
            "{label}: both buffers saved"
        );
        assert!(!dir.path().join("lock").exists(), "{label}: lock released");
    }
}

#[test]
fn an_interrupted_async_run_resumes_from_its_checkpoint() {
    let mut cfg = small(Algo::Td3, Task::PathTracking);
    cfg.iterations = 100;
    let dir = tempfile::tempdir().unwrap();
    let out = go(&cfg, dir.path(), false, Some(15));
    let Outcome::Interrupted { iteration } = out else {
        panic!("{out:?}")
    };
    assert!((15..100).contains(&iteration), "stopped at {iteration}");
    let rd = RunDir::new(dir.path());
    assert!(rd.read_status().unwrap().starts_with("interrupted"));
    let meta = mpg_runner::checkpoint::load_meta(&dir.path().join("checkpoint")).unwrap();
    assert_eq!(meta.iteration, iteration, "the checkpoint is at the stop");
    assert_eq!(meta.more_replay_lens.len(), 1, "two buffers");
    let trained = mpg_runner::trained::Trained::load(&rd).unwrap();
    assert_eq!(trained.iteration, iteration, "a loadable checkpoint");
    let out = go(&cfg, dir.path(), true, None);
    assert!(matches!(out, Outcome::Finished { .. }), "{out:?}");
    // Rows past the checkpoint were cut and written again: every point exactly once.
    let eval = dir.path().join("eval.csv");
    assert_eq!(
        numbers(&eval, "iteration"),
        [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
    );
    check_gradient_log(dir.path(), 100, 2, "resumed");
    // The resumed run continued the counters: env_steps never goes back.
    let steps = numbers(&dir.path().join("train.csv"), "env_steps");
    assert!(steps.windows(2).all(|w| w[0] <= w[1]), "{steps:?}");
    assert_eq!(rd.read_status().unwrap(), "finished");
}

/// D11: with one learner the queue is often empty, so the last gradient is re-applied; each
/// re-application is an iteration with an empty timing in gradients.csv.
#[test]
fn gradients_are_reapplied_while_the_queue_is_empty_when_d11_is_on() {
    let mut cfg = small(Algo::MpgV2, Task::PathTracking);
    cfg.r#async.learners = 1;
    cfg.r#async.grads_max_reuse = 3;
    let dir = tempfile::tempdir().unwrap();
    go(&cfg, dir.path(), false, None);
    let reapplied: f64 = numbers(&dir.path().join("train.csv"), "reapplied")
        .iter()
        .sum();
    assert!(reapplied > 0.0, "no gradient re-applied");
    let q_ms = column(&dir.path().join("gradients.csv"), "q_grad_ms");
    let empty = q_ms.iter().filter(|v| v.is_empty()).count();
    assert_eq!(empty as f64, reapplied, "re-applications in both logs");
    check_gradient_log(dir.path(), 40, 1, "D11");
    // never more than grads_max_reuse in a row
    let mut run = 0;
    for v in &q_ms {
        run = if v.is_empty() { run + 1 } else { 0 };
        assert!(
            run <= 3,
            "more than grads_max_reuse re-applications in a row"
        );
    }
}

/// The throttle: once learning has started the actors collect at most `sample_ratio`
/// transitions per update, plus the calls already started or queued (without it they would
/// collect tens of thousands in this run).
#[test]
fn the_sample_ratio_throttles_the_actors() {
    let mut cfg = small(Algo::Td3, Task::PathTracking);
    cfg.iterations = 80;
    let dir = tempfile::tempdir().unwrap();
    go(&cfg, dir.path(), false, None);
    let t = dir.path().join("train.csv");
    let (its, steps) = (numbers(&t, "iteration"), numbers(&t, "env_steps"));
    let a = &cfg.r#async;
    // a call per actor at the edge, the buffers' inboxes full, one chunk being sent per actor
    let chunks_in_flight = a.actors + 2 * a.actors * a.buffers + a.actors;
    let slack = (chunks_in_flight * cfg.sampling.transitions_per_call) as f64;
    let d_env = steps.last().unwrap() - steps[0];
    let it_end = *its.last().unwrap();
    assert!(
        d_env <= 6.4 * it_end + slack,
        "{d_env} transitions stored from iteration {} to {it_end} at 6.4 per update",
        its[0]
    );
    assert!(d_env > 0.0, "the actors kept sampling");
}

#[test]
fn the_async_section_is_validated_and_unlimited_is_accepted() {
    let resolve = |sets: &[&str]| {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        RunConfig::resolve(
            None,
            Some(Algo::Td3),
            Some(Task::PathTracking),
            None,
            None,
            &sets,
        )
    };
    let cfg = resolve(&[
        "trainer=async",
        "async.sample_ratio=\"unlimited\"",
        "async.learners=12",
    ])
    .unwrap();
    assert_eq!(cfg.trainer, TrainerKind::Async);
    assert_eq!(cfg.r#async.sample_ratio, SampleRatio::Unlimited);
    assert_eq!(cfg.r#async.learners, 12);
    let back: RunConfig = toml::from_str(&cfg.to_toml()).unwrap();
    assert_eq!(back, cfg, "round trip through config.toml");
    let cfg = resolve(&["async.sample_ratio=100"]).unwrap();
    assert_eq!(cfg.r#async.sample_ratio, SampleRatio::PerUpdate(100.0));
    let e = resolve(&["async.sample_ratio=\"lots\""]).unwrap_err().0;
    assert!(
        e.contains("async.sample_ratio") && e.contains("unlimited"),
        "{e}"
    );
    let e = resolve(&[
        "async.learners=0",
        "async.sample_ratio=-1",
        "async.grad_queue=0",
    ])
    .unwrap_err()
    .0;
    for want in [
        "async.learners: 0 not in 1..=256",
        "async.sample_ratio: -1 must be a positive number",
        "async.grad_queue: 0 not in 1..=100000",
    ] {
        assert!(e.contains(want), "missing '{want}' in: {e}");
    }
    let e = resolve(&["trainer=threads"]).unwrap_err().0;
    assert!(e.contains("trainer") && e.contains("async"), "{e}");
    // the paper's queue sizes (spec §4)
    assert_eq!(
        RunConfig::defaults(Algo::MpgV2, Task::PathTracking)
            .r#async
            .grad_queue,
        25
    );
    assert_eq!(
        RunConfig::defaults(Algo::MpgV2, Task::InvertedPendulum)
            .r#async
            .grad_queue,
        20
    );
}
