//! Run configs: defaults, files, overrides, and every kind of bad input.

use mpg_algos::Algo;
use mpg_envs::Task;
use mpg_runner::RunConfig;
use std::path::Path;

fn resolve_text(text: &str, sets: &[&str]) -> Result<RunConfig, String> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("run.toml");
    std::fs::write(&p, text).unwrap();
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    RunConfig::resolve(Some(&p), None, None, None, None, &sets).map_err(|e| e.0)
}

#[test]
fn a_partial_file_fills_in_the_spec_defaults() {
    let cfg = resolve_text(
        "algo = \"td3\"\ntask = \"inverted-pendulum\"\n[learner]\ngamma = 0.9\n",
        &[],
    )
    .unwrap();
    let mut want = RunConfig::defaults(Algo::Td3, Task::InvertedPendulum);
    want.learner.gamma = 0.9;
    assert_eq!(cfg, want);
}

#[test]
fn set_overrides_apply_after_the_file() {
    let cfg = resolve_text(
        "algo = \"mpg-v2\"\ntask = \"path-tracking\"\n",
        &[
            "learner.critic=q1",
            "eval.interval=1000",
            "learner.bootstrap_clip=[-1.0, 0.0]",
        ],
    )
    .unwrap();
    assert_eq!(cfg.learner.critic, mpg_algos::CriticChoice::Q1);
    assert_eq!(cfg.eval.interval, 1000);
    assert_eq!(cfg.learner.bootstrap_clip, Some([-1.0, 0.0]));
}

#[test]
fn unknown_keys_are_named_with_line_and_suggestion() {
    let e = resolve_text(
        "algo = \"td3\"\ntask = \"path-tracking\"\n[learner]\ngama = 0.9\n",
        &[],
    )
    .unwrap_err();
    assert!(
        e.contains("line 4: unknown key 'gama' in [learner] (did you mean 'gamma'?)"),
        "{e}"
    );
    let e = resolve_text(
        "algo = \"td3\"\ntask = \"path-tracking\"\n",
        &["learner.horizn=3"],
    )
    .unwrap_err();
    assert!(
        e.contains("unknown key 'learner.horizn' (did you mean 'horizon'?)"),
        "{e}"
    );
}

#[test]
fn wrong_types_and_unknown_values_are_named() {
    let e = resolve_text(
        "algo = \"td3\"\ntask = \"path-tracking\"\n[learner]\ngamma = \"high\"\n",
        &[],
    )
    .unwrap_err();
    assert!(
        e.contains("line 4: key 'learner.gamma': invalid type: string \"high\", expected f64"),
        "{e}"
    );
    let e = resolve_text("algo = \"td4\"\ntask = \"path-tracking\"\n", &[]).unwrap_err();
    assert!(
        e.contains("unknown algorithm 'td4' (allowed: mpg-v1, mpg-v2, ndpg, nadp, td3, sac)"),
        "{e}"
    );
    let e = resolve_text(
        "algo = \"td3\"\ntask = \"path-tracking\"\n[learner]\ncritic = \"max\"\n",
        &[],
    )
    .unwrap_err();
    assert!(
        e.contains("key 'learner.critic'")
            && e.contains("max")
            && e.contains("min")
            && e.contains("q1"),
        "{e}"
    );
}

#[test]
fn every_out_of_range_value_is_listed_at_once() {
    let e = resolve_text(
        "algo = \"mpg-v1\"\ntask = \"path-tracking\"\n[learner]\ngamma = 1.5\nhorizon = 0\n[eval]\nepisodes = 0\n[log]\ncheckpoint_interval = 15\n",
        &[],
    )
    .unwrap_err();
    for want in [
        "learner.gamma: 1.5 not in (0, 1]",
        "learner.horizon: 0 not in 1..=1000",
        "eval.episodes: must be at least 1",
        "log.checkpoint_interval: 15 must be a positive multiple of learner.batch_reuse (10)",
    ] {
        assert!(e.contains(want), "missing '{want}' in: {e}");
    }
}

#[test]
fn inconsistent_combinations_are_refused() {
    let e = resolve_text(
        "algo = \"td3\"\ntask = \"path-tracking\"\n[eval]\nreset = \"persistent\"\n",
        &[],
    )
    .unwrap_err();
    assert!(
        e.contains("eval.reset") && e.contains("inverted-pendulum"),
        "{e}"
    );
    let e = resolve_text(
        "algo = \"td3\"\ntask = \"path-tracking\"\n[sampling]\nbuffer_size = 100\n",
        &[],
    )
    .unwrap_err();
    assert!(
        e.contains("sampling.buffer_size: 100 must be at least sampling.replay_start (3000)"),
        "{e}"
    );
    let e = resolve_text(
        "algo = \"td3\"\ntask = \"path-tracking\"\ntrainer = \"async\"\n[sync]\nstaleness = 4\n",
        &[],
    )
    .unwrap_err();
    assert!(
        e.contains("sync.staleness: 4 applies to trainer = \"sync\" only"),
        "{e}"
    );
}

#[test]
fn a_config_written_before_the_sync_section_still_reads() {
    let mut table =
        toml::Table::try_from(RunConfig::defaults(Algo::MpgV2, Task::PathTracking)).unwrap();
    table.remove("sync").unwrap();
    let cfg: RunConfig = toml::from_str(&toml::to_string(&table).unwrap()).unwrap();
    assert_eq!(cfg, RunConfig::defaults(Algo::MpgV2, Task::PathTracking));
}

#[test]
fn a_missing_file_or_missing_algorithm_is_named() {
    let e = RunConfig::resolve(
        Some(Path::new("/nonexistent/run.toml")),
        None,
        None,
        None,
        None,
        &[],
    )
    .unwrap_err();
    assert!(
        e.0.contains("/nonexistent/run.toml: cannot read"),
        "{}",
        e.0
    );
    let e = resolve_text("task = \"path-tracking\"\n", &[]).unwrap_err();
    assert!(e.contains("no algorithm"), "{e}");
}

/// The shipped configs under bench-configs/defaults/ are exactly the spec defaults.
#[test]
fn shipped_default_configs_are_the_spec_defaults() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench-configs/defaults");
    for algo in Algo::ALL {
        for task in Task::ALL {
            let p = dir.join(format!("{task}__{algo}.toml"));
            let cfg = RunConfig::resolve(Some(&p), None, None, None, None, &[]).unwrap();
            assert_eq!(cfg, RunConfig::defaults(algo, task), "{}", p.display());
            let text = std::fs::read_to_string(&p).unwrap();
            assert_eq!(
                text,
                mpg_runner::config::documented_toml(&cfg),
                "{} is stale: regenerate with `just configs`",
                p.display()
            );
        }
    }
}

/// D17: terminal masking defaults to on under D1 `corrected`, unless set explicitly.
#[test]
fn corrected_termination_turns_on_terminal_masking_by_default() {
    let base = "algo = \"mpg-v1\"\ntask = \"path-tracking\"\n";
    assert!(!resolve_text(base, &[]).unwrap().learner.mask_terminal);
    assert!(
        resolve_text(base, &["env.termination=corrected"])
            .unwrap()
            .learner
            .mask_terminal
    );
    let explicit = resolve_text(
        base,
        &["env.termination=corrected", "learner.mask_terminal=false"],
    )
    .unwrap();
    assert!(!explicit.learner.mask_terminal);
}
