//! The emulated asynchronous learners (D21, crate::staleness): a staleness model and the async
//! trainer's buffers in the deterministic synchronous trainer.

use super::common::{self, assert_same_csvs, go, without_timing};
use mpg_algos::Algo;
use mpg_algos::weights::rule_based_weights;
use mpg_envs::Task;
use mpg_runner::Outcome;
use mpg_runner::RunConfig;
use mpg_runner::staleness::{Model, Window, read_histogram};
use std::path::{Path, PathBuf};

fn authors_csv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../bench-configs/staleness/authors-12-learners.csv")
}

/// A small run of the emulation: the authors' histogram, two buffers.
fn small(algo: Algo, task: Task) -> RunConfig {
    let mut c = common::small(algo, task, 11);
    c.sync.staleness_counts = read_histogram(&authors_csv()).unwrap();
    c.sync.buffers = 2;
    c
}

/// A column of a CSV without timing, as strings (header dropped).
fn column(rows: &[Vec<String>], name: &str) -> Vec<String> {
    let c = rows[0].iter().position(|h| h == name).unwrap();
    rows[1..].iter().map(|r| r[c].clone()).collect()
}

#[test]
fn same_seed_and_config_give_the_same_csvs_and_another_seed_does_not() {
    tch::set_num_threads(1);
    let cfg = small(Algo::MpgV2, Task::InvertedPendulum);
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    go(&cfg, a.path(), false, None);
    go(&cfg, b.path(), false, None);
    assert_same_csvs(a.path(), b.path(), "two runs of one seed");
    let mut other = cfg.clone();
    other.seed = 12;
    let c = tempfile::tempdir().unwrap();
    go(&other, c.path(), false, None);
    let g = |d: &Path| column(&without_timing(&d.join("gradients.csv")), "staleness");
    assert_ne!(g(a.path()), g(c.path()), "another seed draws other d_k");
}

#[test]
fn an_interrupted_emulation_resumes_to_the_assert_same_csvs() {
    tch::set_num_threads(1);
    for (algo, task, stop_at) in [
        (Algo::MpgV2, Task::PathTracking, 7),
        (Algo::MpgV2, Task::PathTracking, 33),
        (Algo::Td3, Task::InvertedPendulum, 41),
    ] {
        let cfg = small(algo, task);
        let (whole, parts) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        go(&cfg, whole.path(), false, None);
        let out = go(&cfg, parts.path(), false, Some(stop_at));
        assert_eq!(out, Outcome::Interrupted { iteration: stop_at });
        go(&cfg, parts.path(), true, None);
        assert_same_csvs(
            whole.path(),
            parts.path(),
            &format!("{algo} {task} resumed at {stop_at}"),
        );
    }
}

#[test]
fn zero_staleness_and_one_buffer_is_the_plain_synchronous_trainer_bit_for_bit() {
    tch::set_num_threads(1);
    let mut plain = small(Algo::MpgV2, Task::PathTracking);
    plain.sync.staleness_counts = Vec::new();
    plain.sync.buffers = 1;
    let mut zero = plain.clone();
    zero.sync.staleness_counts = vec![7];
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    go(&plain, a.path(), false, None);
    go(&zero, b.path(), false, None);
    assert_same_csvs(a.path(), b.path(), "d_k = 0 against the plain trainer");
}

#[test]
fn a_constant_model_equals_sync_staleness() {
    tch::set_num_threads(1);
    let mut constant = small(Algo::MpgV2, Task::PathTracking);
    constant.sync.staleness_counts = Vec::new();
    constant.sync.buffers = 1;
    constant.sync.staleness = 3;
    let mut histogram = constant.clone();
    histogram.sync.staleness = 0;
    histogram.sync.staleness_counts = vec![0, 0, 0, 5];
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    go(&constant, a.path(), false, None);
    go(&histogram, b.path(), false, None);
    assert_same_csvs(
        a.path(),
        b.path(),
        "staleness = 3 against counts [0, 0, 0, 5]",
    );
}

#[test]
fn sampled_staleness_follows_the_histogram() {
    let counts = read_histogram(&authors_csv()).unwrap();
    let total: u64 = counts.iter().sum();
    let mut cfg = RunConfig::defaults(Algo::MpgV2, Task::PathTracking);
    cfg.seed = 3;
    cfg.sync.staleness_counts = counts.clone();
    let model = Model::from_config(&cfg).unwrap();
    assert_eq!(model.max(), counts.len() as u64 - 1);
    let window = Window::new(&cfg).unwrap();
    let n = 200_000u64;
    let mut seen = vec![0u64; counts.len()];
    // Past the cap (k ≥ max): d_k is the model's draw.
    for k in 1000..1000 + n {
        seen[window.staleness(k) as usize] += 1;
    }
    // Pearson's chi-square over the cells with an expected count ≥ 5, the rest pooled.
    let (mut chi2, mut cells) = (0.0, 0);
    let (mut pool_seen, mut pool_want) = (0.0, 0.0);
    for (d, &c) in counts.iter().enumerate() {
        let want = n as f64 * c as f64 / total as f64;
        if want >= 5.0 {
            chi2 += (seen[d] as f64 - want).powi(2) / want;
            cells += 1;
        } else {
            pool_seen += seen[d] as f64;
            pool_want += want;
        }
    }
    if pool_want > 0.0 {
        chi2 += (pool_seen - pool_want).powi(2) / pool_want;
        cells += 1;
    }
    // 99.9th percentile of chi-square with `cells − 1` (≤ 22) degrees of freedom is below 49.
    assert!(cells >= 15, "{cells} cells");
    assert!(chi2 < 49.0, "chi-square {chi2} over {cells} cells");
    // Staleness 0 never drawn (count 0) and the mean near the histogram's 12.0.
    assert_eq!(seen[0], 0);
    let mean = (seen.iter().enumerate())
        .map(|(d, &s)| d as f64 * s as f64)
        .sum::<f64>()
        / n as f64;
    assert!((mean - 12.0).abs() < 0.05, "mean {mean}");
    // Capped by the iterations done.
    assert!((0..30).all(|k| window.staleness(k) <= k));
}

#[test]
fn gradients_csv_records_each_drawn_staleness_and_w_data_is_that_of_k_minus_d() {
    tch::set_num_threads(1);
    let mut cfg = small(Algo::MpgV2, Task::PathTracking);
    cfg.iterations = 40;
    cfg.log.interval = 1;
    // A fast weight schedule, so that w_data differs from one iteration to the next.
    cfg.learner.weight_total_ite = 60;
    let dir = tempfile::tempdir().unwrap();
    go(&cfg, dir.path(), false, None);
    let window = Window::new(&cfg).unwrap();
    let g = without_timing(&dir.path().join("gradients.csv"));
    let (its, versions, stale) = (
        column(&g, "iteration"),
        column(&g, "version"),
        column(&g, "staleness"),
    );
    assert_eq!(its.len(), 40);
    let mut stale_seen = 0;
    for ((i, v), s) in its.iter().zip(&versions).zip(&stale) {
        let k: u64 = i.parse().unwrap();
        let d = window.staleness(k);
        assert_eq!(s.parse::<u64>().unwrap(), d, "staleness at {k}");
        assert_eq!(v.parse::<u64>().unwrap(), k - d, "version at {k}");
        stale_seen += (d > 0) as u32;
    }
    assert!(stale_seen > 30, "{stale_seen} stale gradients");
    let t = without_timing(&dir.path().join("train.csv"));
    let (rows, w) = (column(&t, "iteration"), column(&t, "w_data"));
    let l = &cfg.learner;
    let mut checked = 0;
    for (row, w) in rows.iter().zip(&w) {
        if w.is_empty() {
            continue; // no policy gradient applied at this iteration
        }
        let k = row.parse::<u64>().unwrap() - 1;
        let d = window.staleness(k);
        let want = rule_based_weights(k - d, l.weight_total_ite, l.eta, l.horizon, l.weight_rule).0;
        let now = rule_based_weights(k, l.weight_total_ite, l.eta, l.horizon, l.weight_rule).0;
        assert_eq!(w.parse::<f64>().unwrap(), want, "w_data at {k} (d = {d})");
        if d > 0 {
            assert_ne!(want, now, "the schedule must tell k from k − d at {k}");
        }
        checked += 1;
    }
    assert!(checked >= 20, "{checked} rows with w_data");
}

#[test]
fn learning_waits_until_both_buffers_hold_replay_start() {
    tch::set_num_threads(1);
    let cfg = small(Algo::Td3, Task::InvertedPendulum);
    let mut one = cfg.clone();
    one.sync.buffers = 1;
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    go(&cfg, a.path(), false, None);
    go(&one, b.path(), false, None);
    // Learning waits for both buffers to hold replay_start: more transitions at iteration 0.
    let steps = |d: &Path| column(&without_timing(&d.join("eval.csv")), "env_steps");
    let (two, single) = (steps(a.path()), steps(b.path()));
    let first = |v: &[String]| v[0].parse::<u64>().unwrap();
    assert!(first(&two) >= 2 * 256, "{two:?}");
    assert!(first(&single) < 2 * 256, "{single:?}");
}

#[test]
fn the_model_lands_in_the_config_and_bad_values_name_their_key() {
    let resolve = |sets: &[&str]| {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        RunConfig::resolve(
            None,
            Some(Algo::MpgV2),
            Some(Task::PathTracking),
            None,
            None,
            &sets,
        )
    };
    let file = authors_csv().display().to_string();
    let cfg = resolve(&[&format!("sync.staleness_file=\"{file}\""), "sync.buffers=2"]).unwrap();
    assert_eq!(cfg.sync.staleness_counts[12], 1292);
    assert_eq!(cfg.sync.staleness_counts.iter().sum::<u64>(), 8801);
    // The counts are in the run's config.toml and read back without the file.
    let back: RunConfig = toml::from_str(&cfg.to_toml()).unwrap();
    assert_eq!(back, cfg);
    let err = |sets: &[&str]| resolve(sets).unwrap_err().to_string();
    let e = err(&["sync.staleness=3", "sync.staleness_counts=[1, 2]"]);
    assert!(e.contains("give one staleness model"), "{e}");
    let e = err(&["sync.buffers=0"]);
    assert!(e.contains("sync.buffers: 0 not in 1..=64"), "{e}");
    let e = err(&["sync.staleness_counts=[0, 0]"]);
    assert!(
        e.contains("sync.staleness_counts: 2 entries summing to 0"),
        "{e}"
    );
    let e = err(&["sync.staleness_file=\"/no/such.csv\""]);
    assert!(
        e.contains("key 'sync.staleness_file': /no/such.csv: cannot read"),
        "{e}"
    );
    let e = err(&["trainer=\"async\"", "sync.staleness_counts=[1]"]);
    assert!(
        e.contains("sync.staleness_counts applies to trainer = \"sync\" only"),
        "{e}"
    );
}
