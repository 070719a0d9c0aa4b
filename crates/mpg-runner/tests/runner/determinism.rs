//! The synchronous trainer is deterministic (D8) and resumes exactly.

use super::common::{self, assert_same_csvs, go, run_in, without_timing};
use mpg_algos::Algo;
use mpg_envs::Task;
use mpg_runner::{Outcome, RunConfig, RunDir};

/// A small but complete run (seed 7): every box exercised in seconds.
fn small(algo: Algo, task: Task) -> RunConfig {
    common::small(algo, task, 7)
}

#[test]
fn same_seed_same_csvs_for_every_algorithm() {
    tch::set_num_threads(1);
    for algo in Algo::ALL {
        let cfg = small(algo, Task::PathTracking);
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        go(&cfg, a.path(), false, None);
        go(&cfg, b.path(), false, None);
        assert_same_csvs(a.path(), b.path(), &format!("{algo}: two runs of one seed"));
        let rows = without_timing(&a.path().join("eval.csv"));
        assert_eq!(rows.len(), 1 + 4, "{algo}: evaluations at 0, 20, 40, 60");
        let mut other = cfg.clone();
        other.seed = 8;
        let c = tempfile::tempdir().unwrap();
        go(&other, c.path(), false, None);
        assert_ne!(
            without_timing(&a.path().join("train.csv")),
            without_timing(&c.path().join("train.csv")),
            "{algo}"
        );
    }
}

#[test]
fn an_interrupted_run_resumes_to_the_same_csvs() {
    tch::set_num_threads(1);
    for (algo, task, stop_at) in [
        (Algo::MpgV1, Task::PathTracking, 33),
        (Algo::MpgV2, Task::PathTracking, 20),
        (Algo::Sac, Task::InvertedPendulum, 47),
        (Algo::Nadp, Task::InvertedPendulum, 12),
    ] {
        let cfg = small(algo, task);
        let (whole, parts) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        go(&cfg, whole.path(), false, None);
        let out = go(&cfg, parts.path(), false, Some(stop_at));
        assert_eq!(out, Outcome::Interrupted { iteration: stop_at }, "{algo}");
        let status = RunDir::new(parts.path()).read_status().unwrap();
        assert!(status.starts_with("interrupted"), "{status}");
        let out = go(&cfg, parts.path(), true, None);
        assert!(matches!(out, Outcome::Finished { .. }));
        let label = format!("{algo} {task}: after resume at {stop_at}");
        assert_same_csvs(whole.path(), parts.path(), &label);
        assert_eq!(RunDir::new(parts.path()).read_status().unwrap(), "finished");
    }
}

#[test]
fn resume_refuses_a_changed_config_and_a_new_run_refuses_an_old_folder() {
    tch::set_num_threads(1);
    let cfg = small(Algo::Td3, Task::InvertedPendulum);
    let dir = tempfile::tempdir().unwrap();
    go(&cfg, dir.path(), false, Some(10));
    let mut changed = cfg.clone();
    changed.learner.gamma = 0.9;
    let e = run_in(&changed, dir.path(), true, false).unwrap_err();
    assert!(
        format!("{e:#}").contains("learner.gamma: 0.98 → 0.9"),
        "{e:#}"
    );
    let e = run_in(&cfg, dir.path(), false, false).unwrap_err();
    assert!(format!("{e:#}").contains("already holds a run"), "{e:#}");
    // allowed explicitly: recorded in provenance.toml
    run_in(&changed, dir.path(), true, true).unwrap();
    let prov = std::fs::read_to_string(dir.path().join("provenance.toml")).unwrap();
    assert!(
        prov.contains("config changed on resume at iteration 10: learner.gamma"),
        "{prov}"
    );
}

#[test]
fn a_damaged_checkpoint_is_refused_with_the_reason() {
    tch::set_num_threads(1);
    let cfg = small(Algo::Td3, Task::InvertedPendulum);
    let dir = tempfile::tempdir().unwrap();
    go(&cfg, dir.path(), false, Some(10));
    let replay = dir.path().join("checkpoint/replay.bin");
    let bytes = std::fs::read(&replay).unwrap();
    std::fs::write(&replay, &bytes[..bytes.len() / 2]).unwrap();
    let e = run_in(&cfg, dir.path(), true, false).unwrap_err();
    assert!(format!("{e:#}").contains("replay.bin is"), "{e:#}");
    assert!(format!("{e:#}").contains("truncated"), "{e:#}");
}

#[test]
fn sync_staleness_computes_on_old_parameters_and_resumes_exactly() {
    tch::set_num_threads(1);
    let depth = 5;
    let mut cfg = small(Algo::MpgV2, Task::PathTracking);
    cfg.iterations = 40;
    let fresh = tempfile::tempdir().unwrap();
    go(&cfg, fresh.path(), false, None);
    cfg.sync.staleness = depth;
    let whole = tempfile::tempdir().unwrap();
    go(&cfg, whole.path(), false, None);
    // Each gradient names the parameters it was computed on: those of max(0, i − depth).
    let rows = without_timing(&whole.path().join("gradients.csv"));
    let col = |name: &str| rows[0].iter().position(|c| c == name).unwrap();
    let (it, version, staleness) = (col("iteration"), col("version"), col("staleness"));
    assert_eq!(rows.len(), 41);
    for r in &rows[1..] {
        let i: u64 = r[it].parse().unwrap();
        assert_eq!(r[version].parse::<u64>().unwrap(), i.saturating_sub(depth));
        assert_eq!(r[staleness].parse::<u64>().unwrap(), i.min(depth));
    }
    // Stale gradients change the run (the first `depth`+1 iterations' parameters aside).
    assert_ne!(
        without_timing(&fresh.path().join("train.csv")),
        without_timing(&whole.path().join("train.csv"))
    );
    // Interrupted while the window fills (3) and once it is full (23): the same CSVs.
    for stop_at in [3, 23] {
        let parts = tempfile::tempdir().unwrap();
        let out = go(&cfg, parts.path(), false, Some(stop_at));
        assert_eq!(out, Outcome::Interrupted { iteration: stop_at });
        go(&cfg, parts.path(), true, None);
        let label = format!("after resume at {stop_at}");
        assert_same_csvs(whole.path(), parts.path(), &label);
    }
}
