//! End-to-end tests of the `mpg` binary: what a user types, what comes back.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "e2e/citations.rs"]
mod citations;
#[path = "e2e/reliability_cli.rs"]
mod reliability_cli;
#[path = "e2e/reliability_run.rs"]
mod reliability_run;
#[path = "e2e/report_cli.rs"]
mod report_cli;

fn mpg(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mpg"))
        .args(args)
        .output()
        .expect("run mpg")
}

/// `mpg` with `words` (fixed options, split at spaces) and then each `(option, path)` pair, so
/// that a path is passed as one argument whatever it holds.
fn mpg_with(words: &str, paths: &[(&str, &Path)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mpg"));
    c.args(words.split_whitespace());
    for (option, path) in paths {
        c.arg(option).arg(path);
    }
    c.output().expect("run mpg")
}

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The number printed right after `marker` in a command's output.
fn number_after(text: &str, marker: &str) -> f64 {
    text.split(marker)
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no number after '{marker}' in {text}"))
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<f64>>) {
    let mut rd = csv::Reader::from_path(path).unwrap();
    let h = rd.headers().unwrap().iter().map(String::from).collect();
    let rows = rd
        .records()
        .map(|r| r.unwrap().iter().map(|v| v.parse().unwrap()).collect())
        .collect();
    (h, rows)
}

#[test]
fn help_on_every_subcommand_and_usage_errors_exit_2() {
    for args in [
        vec!["--help"],
        vec!["env", "--help"],
        vec!["env", "step", "--help"],
        vec!["env", "rollout", "--help"],
    ] {
        let o = mpg(&args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("Usage"),
            "{args:?}"
        );
    }
    let o = mpg(&["env", "rollout", "--task", "cartpole"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("allowed: path-tracking, inverted-pendulum"),
        "{}",
        stderr(&o)
    );
    let o = mpg(&["env", "frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
}

/// `mpg env step` on the golden file reproduces its next-observation columns (issue 7).
#[test]
fn env_step_reproduces_the_golden_next_observations() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("next.csv");
    let input = golden("path_tracking_env_golden.csv");
    let o = mpg_with(
        "env step --task path-tracking",
        &[("--input", &input), ("--output", &out)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let (gh, gold) = read_csv(&input);
    let (oh, ours) = read_csv(&out);
    assert_eq!(gold.len(), ours.len());
    for col in [
        "o0", "o5", "u1", "reward", "done", "n0", "n1", "n2", "n3", "n4", "n5",
    ] {
        let gi = gh.iter().position(|h| h == col).unwrap();
        let oi = oh
            .iter()
            .position(|h| h == col)
            .unwrap_or_else(|| panic!("no column {col}"));
        for (g, w) in gold.iter().zip(&ours) {
            let rel = (g[gi] - w[oi]).abs() / (g[gi].abs() + 1.0);
            assert!(rel <= 1e-4, "{col}: ours {} golden {}", w[oi], g[gi]);
        }
    }
}

/// A malformed file: exit 2, the file, line and column named, and no output file.
#[test]
fn env_step_rejects_malformed_files() {
    let dir = tempfile::tempdir().unwrap();
    let good_header = "o0,o1,o2,o3,o4,o5,u0,u1\n";
    let cases = [
        (
            "missing.csv",
            "o0,o1,o2,o3,o4,o5,u0\n1,2,3,4,5,6,7\n",
            "line 1: missing column 'u1'",
        ),
        (
            "nan.csv",
            &*format!("{good_header}0,0,0,0,0,100,0,0\n0,0,0,abc,0,100,0,0\n"),
            "line 3, column 'o3': 'abc' is not a number",
        ),
        (
            "short.csv",
            &*format!("{good_header}0,0,0,0,0,100,0\n"),
            "line 2: 7 fields, the header has 8",
        ),
        ("empty.csv", good_header, "no data rows"),
        (
            "inf.csv",
            &*format!("{good_header}0,0,0,0,0,100,0,inf\n"),
            "column 'u1': inf is not finite",
        ),
    ];
    for (name, text, expect) in cases {
        let input = dir.path().join(name);
        std::fs::write(&input, text).unwrap();
        let out = dir.path().join(format!("out-{name}"));
        let o = mpg_with(
            "env step --task path-tracking",
            &[("--input", &input), ("--output", &out)],
        );
        assert_eq!(o.status.code(), Some(2), "{name}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(name) && stderr(&o).contains(expect),
            "{name}: {}",
            stderr(&o)
        );
        assert!(!out.exists(), "{name}: no partial output");
    }
    let o = mpg_with(
        "env step --task path-tracking --input /nonexistent/x.csv --output /tmp/never.csv",
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/nonexistent/x.csv"));
}

/// `mpg env rollout`: the linear controller's mean return (≈ −6, spec §5), and trajectories
/// that `mpg env step` reads back to the same next observations.
#[test]
fn env_rollout_prints_the_return_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let traj = dir.path().join("traj.csv");
    let o = mpg_with(
        "env rollout --task path-tracking --policy linear --steps 200 --agents 256 --seed 4",
        &[("--output", &traj)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let mean = number_after(&stdout, "mean ");
    assert!((-7.0..=-5.0).contains(&mean), "{stdout}");
    assert!(stdout.contains("transitions/s"));
    let (h, rows) = read_csv(&traj);
    assert_eq!(rows.len(), 256 * 200);
    let ret: f64 = rows
        .iter()
        .map(|r| r[h.iter().position(|c| c == "reward").unwrap()])
        .sum::<f64>()
        / 256.0;
    assert!((ret - mean).abs() < 1e-3, "{ret} vs {mean}");

    let next = dir.path().join("next.csv");
    let o = mpg_with(
        "env step --task path-tracking",
        &[("--input", &traj), ("--output", &next)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let (nh, again) = read_csv(&next);
    let n0 = nh.iter().position(|c| c == "n0").unwrap();
    let t0 = h.iter().position(|c| c == "n0").unwrap();
    for (a, b) in again.iter().zip(&rows).take(2000) {
        for d in 0..6 {
            let rel = (a[n0 + d] - b[t0 + d]).abs() / (b[t0 + d].abs() + 1.0);
            assert!(rel < 1e-5, "{a:?} vs {b:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// mpg train: run folders, signals, kill -9, locks, bad input

/// A small TD3 pendulum run that takes a few seconds.
const SMALL: &str = "--algo td3 \
    --task inverted-pendulum \
    --seed 3 \
    --iterations 300 \
    --set sampling.replay_start=256 \
    --set sampling.transitions_per_call=64 \
    --set sampling.updates_per_call=5 \
    --set eval.interval=50 \
    --set eval.episodes=2 \
    --set log.interval=10 \
    --set log.checkpoint_interval=20 \
    --set learner.batch_size=64";

/// `mpg train --quiet` with `words` (options without paths, split at spaces).
fn train_cmd(words: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mpg"));
    c.arg("train").args(words.split_whitespace()).arg("--quiet");
    c
}

/// A CSV's rows without the timing columns (they differ between runs by nature).
fn csv_without_timing(path: &Path) -> Vec<Vec<String>> {
    mpg_runner::log::csv_without_timing(path).unwrap()
}

/// The run in `out` has the same eval.csv, train.csv and gradients.csv as the reference run,
/// timings aside.
fn assert_same_run(reference: &Path, out: &Path, label: &str) {
    for f in ["eval.csv", "train.csv", "gradients.csv"] {
        assert_eq!(
            csv_without_timing(&reference.join(f)),
            csv_without_timing(&out.join(f)),
            "{label}: {f}"
        );
    }
}

fn rows_of(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

fn wait_until(mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(
            start.elapsed().as_secs() < 300,
            "timed out waiting (generous bound, not a speed test)"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn reference_run() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = train_cmd(SMALL).arg("--out").arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    dir
}

#[test]
fn train_writes_a_complete_run_folder() {
    let dir = reference_run();
    let run = dir.path().join("run");
    for f in [
        "config.toml",
        "provenance.toml",
        "eval.csv",
        "train.csv",
        "status",
        "checkpoint/meta.json",
    ] {
        assert!(run.join(f).exists(), "{f} missing");
    }
    assert_eq!(
        std::fs::read_to_string(run.join("status")).unwrap().trim(),
        "finished"
    );
    assert!(!run.join("lock").exists(), "lock released");
    let prov = std::fs::read_to_string(run.join("provenance.toml")).unwrap();
    for key in [
        "git_commit",
        "libtorch_version",
        "cpu_model",
        "intra_op_threads",
    ] {
        assert!(prov.contains(key), "{prov}");
    }
    let eval = csv_without_timing(&run.join("eval.csv"));
    let iters: Vec<&str> = eval[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(iters, ["0", "50", "100", "150", "200", "250", "300"]);
    assert_eq!(rows_of(&run.join("train.csv")), 1 + 30);
}

/// SIGINT: finish the iteration, checkpoint, exit 130; `--resume` then ends with the same
/// CSVs as an uninterrupted run.
#[test]
fn sigint_checkpoints_exits_130_and_resumes_exactly() {
    let reference = reference_run();
    for (sig, code) in [("INT", 130), ("TERM", 143)] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let mut child = train_cmd(SMALL).arg("--out").arg(&out).spawn().unwrap();
        wait_until(|| rows_of(&out.join("train.csv")) >= 8);
        Command::new("kill")
            .args([&format!("-{sig}"), &child.id().to_string()])
            .status()
            .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(code), "SIG{sig}");
        let st = std::fs::read_to_string(out.join("status")).unwrap();
        assert!(st.starts_with("interrupted"), "{st}");
        let o = train_cmd("").arg("--resume").arg(&out).output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        assert_same_run(&reference.path().join("run"), &out, &format!("SIG{sig}"));
    }
}

/// kill -9 at moments drawn from a fixed seed — one of them inside a checkpoint write — then
/// `--resume`: the same CSVs as an uninterrupted run.
#[test]
fn kill_9_anywhere_then_resume_gives_the_same_run() {
    let reference = reference_run();
    // moments: train.csv row counts drawn from a fixed LCG seed, plus one inside a checkpoint
    let mut x: u64 = 12345;
    let mut moments = Vec::new();
    for _ in 0..2 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        moments.push(3 + (x >> 33) as usize % 25);
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    for (k, &rows) in moments.iter().enumerate() {
        let mut cmd = if k == 0 {
            train_cmd(SMALL)
        } else {
            train_cmd("")
        };
        if k == 0 {
            cmd.arg("--out").arg(&out);
        } else {
            cmd.arg("--resume").arg(&out);
        }
        let mut child = cmd.spawn().unwrap();
        wait_until(|| {
            rows_of(&out.join("train.csv")) >= rows || child.try_wait().unwrap().is_some()
        });
        let _ = child.kill();
        let _ = child.wait();
    }
    // once more, killed while it is inside a checkpoint write (the test hook holds it there)
    let mut child = train_cmd("")
        .arg("--resume")
        .arg(&out)
        .env("MPG_TEST_CHECKPOINT_PAUSE_S", "30")
        .spawn()
        .unwrap();
    wait_until(|| {
        out.join("checkpoint.new/replay.bin").exists() || child.try_wait().unwrap().is_some()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let o = train_cmd("").arg("--resume").arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_same_run(
        &reference.path().join("run"),
        &out,
        &format!("after kills at {moments:?} and in a checkpoint"),
    );
}

#[test]
fn a_second_launch_on_a_running_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    // held inside its first checkpoint write, so it is certainly still running
    let mut first = train_cmd(SMALL)
        .arg("--out")
        .arg(&out)
        .env("MPG_TEST_CHECKPOINT_PAUSE_S", "60")
        .spawn()
        .unwrap();
    wait_until(|| out.join("checkpoint.new/replay.bin").exists());
    let o = train_cmd("").arg("--resume").arg(&out).output().unwrap();
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains(&format!("in use by process {}", first.id())),
        "{}",
        stderr(&o)
    );
    first.kill().unwrap();
    first.wait().unwrap();
}

#[test]
fn bad_train_input_exits_2_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(
        &cfg,
        "algo = \"td3\"\ntask = \"path-tracking\"\n[learner]\ngama = 0.9\n",
    )
    .unwrap();
    let out = dir.path().join("never");
    let cases: [(&str, Option<&Path>, &str); 6] = [
        (
            "",
            Some(&cfg),
            "unknown key 'gama' in [learner] (did you mean 'gamma'?)",
        ),
        (
            "--config /nonexistent/x.toml",
            None,
            "/nonexistent/x.toml: cannot read",
        ),
        ("--task path-tracking", None, "no algorithm"),
        (
            "--algo td3 --task path-tracking --set learner.gamma=2",
            None,
            "learner.gamma: 2 not in (0, 1]",
        ),
        (
            "--algo td3 --task path-tracking --learners 3",
            None,
            "--learners sets the asynchronous trainer's learner threads: add --async",
        ),
        (
            "--algo td3 --task path-tracking --async --set async.sample_ratio=\"fast\"",
            None,
            "key 'async.sample_ratio': unknown sample ratio 'fast' (allowed: a positive number of transitions per update, or \"unlimited\")",
        ),
    ];
    for (args, config, want) in cases {
        let mut c = train_cmd(args);
        if let Some(cfg) = config {
            c.arg("--config").arg(cfg);
        }
        let o = c.arg("--out").arg(&out).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
        assert!(!out.exists(), "{args:?}: no run folder made");
    }
    // an output folder that cannot be written
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "x").unwrap();
    let o = train_cmd("--algo td3 --task path-tracking")
        .arg("--out")
        .arg(blocker.join("run"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cannot create the run folder"),
        "{}",
        stderr(&o)
    );
}

// ---------------------------------------------------------------------------------------
// The prior models from the command line (issue 8)

/// `mpg env step --model` reproduces both golden model files' next observations and rewards.
#[test]
fn env_step_model_reproduces_the_golden_model_files() {
    for (task, file) in [
        ("path-tracking", "path_tracking_model_golden.csv"),
        ("inverted-pendulum", "inverted_pendulum_model_golden.csv"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("next.csv");
        let input = golden(file);
        let o = mpg_with(
            &format!("env step --task {task} --model"),
            &[("--input", &input), ("--output", &out)],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let (gh, gold) = read_csv(&input);
        let (oh, ours) = read_csv(&out);
        assert!(!oh.iter().any(|h| h == "done"), "a model has no done");
        let dims = if task == "path-tracking" { 6 } else { 4 };
        let cols: Vec<String> = (0..dims)
            .map(|d| format!("n{d}"))
            .chain(["reward".to_string()])
            .collect();
        for col in &cols {
            let gi = gh.iter().position(|h| h == col).unwrap();
            let oi = oh.iter().position(|h| h == col).unwrap();
            for (g, w) in gold.iter().zip(&ours) {
                let rel = (g[gi] - w[oi]).abs() / (g[gi].abs() + 1.0);
                assert!(rel <= 1e-5, "{task} {col}: ours {} golden {}", w[oi], g[gi]);
            }
        }
        // with --model-noise the noise is drawn: the lateral error / cart position moves
        let noisy = dir.path().join("noisy.csv");
        let o = mpg_with(
            &format!("env step --task {task} --model --model-noise --seed 1"),
            &[("--input", &input), ("--output", &noisy)],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        assert_ne!(read_csv(&noisy).1, ours, "{task}: noise drawn");
    }
}

#[test]
fn env_check_passes_on_both_tasks() {
    for task in ["path-tracking", "inverted-pendulum"] {
        let o = mpg(&["env", "check", "--task", task, "--samples", "512"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            out.contains("all checks passed") && !out.contains("FAIL"),
            "{out}"
        );
        assert!(
            out.contains("NaN action rejected: action of agent 256 is not finite"),
            "{out}"
        );
    }
}

#[test]
fn model_error_prints_the_table_and_writes_csv() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("err.csv");
    let o = mpg_with(
        "model-error --task inverted-pendulum --horizon 25 --samples 64 --seed 2 --policy linear --noise",
        &[("--output", &out)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let c_m = number_after(&stdout, "c_m = ");
    assert!(c_m > 0.0 && c_m.is_finite(), "{stdout}");
    let (h, rows) = read_csv(&out);
    assert_eq!(rows.len(), 25);
    assert_eq!(h[0], "step");
    let o = mpg_with("model-error --task inverted-pendulum --samples 0", &[]);
    assert_eq!(o.status.code(), Some(2));
}

/// A trained run's policy from the command line: eval, rollout with a plot, model error.
#[test]
fn eval_rollout_plot_and_model_error_read_a_trained_run() {
    let dir = reference_run();
    let run = dir.path().join("run");
    let o = mpg(&["eval", "--run", run.to_str().unwrap(), "--episodes", "3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("td3 on inverted-pendulum at iteration 300") && out.contains("rms_theta"),
        "{out}"
    );
    let png = dir.path().join("plot.png");
    let o = mpg_with(
        "env rollout --agents 2",
        &[("--run", &run), ("--plot", &png)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
    // 900 × (2 panels × 320): width and height from the IHDR chunk
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((w, h), (900, 640));
    assert!(
        bytes.len() > 20_000,
        "a drawn plot, not an empty canvas: {} bytes",
        bytes.len()
    );
    let o = mpg_with("model-error --samples 16 --horizon 5", &[("--run", &run)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("c_m = "));
    let o = mpg(&["eval", "--run", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "not a run folder");
    assert!(stderr(&o).contains("not a run folder"), "{}", stderr(&o));
}

/// A second SIGINT exits at once (130) and leaves every file valid: the run resumes.
#[test]
fn a_second_sigint_exits_at_once_with_valid_files() {
    let reference = reference_run();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    // held inside its first checkpoint write, so the first SIGINT cannot finish quickly
    let mut child = train_cmd(SMALL)
        .arg("--out")
        .arg(&out)
        .env("MPG_TEST_CHECKPOINT_PAUSE_S", "60")
        .spawn()
        .unwrap();
    wait_until(|| out.join("checkpoint.new/replay.bin").exists());
    let pid = child.id().to_string();
    Command::new("kill").args(["-INT", &pid]).status().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    Command::new("kill").args(["-INT", &pid]).status().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let o = train_cmd("").arg("--resume").arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_same_run(&reference.path().join("run"), &out, "after a second SIGINT");
}

// ---------------------------------------------------------------------------------------
// The asynchronous trainer from the command line (issue 12): signals, injected faults

/// A small asynchronous TD3 path-tracking run with two learners: a few seconds.
const SMALL_ASYNC: &str = "--algo td3 \
    --task path-tracking \
    --async \
    --learners 2 \
    --iterations 200 \
    --set sampling.replay_start=256 \
    --set sampling.transitions_per_call=64 \
    --set async.sample_ratio=6.4 \
    --set eval.interval=40 \
    --set eval.episodes=2 \
    --set log.interval=10 \
    --set log.checkpoint_interval=20 \
    --set learner.batch_size=64";

/// One column of a CSV, as numbers.
fn csv_column(path: &Path, name: &str) -> Vec<f64> {
    let (h, rows) = read_csv(path);
    let i = h.iter().position(|c| c == name).unwrap();
    rows.iter().map(|r| r[i]).collect()
}

/// Run `cmd` to its end (failing the test if it has not ended within a generous bound: a hang)
/// and return its output.
fn finish(mut cmd: Command) -> Output {
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed().as_secs() > 300 {
            let _ = child.kill();
            panic!("the run hung (generous bound, not a speed test)");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// SIGINT stops the asynchronous trainer as it does the synchronous one: exit 130 and a
/// loadable checkpoint; `--resume` continues from it to a run with every point exactly once.
#[test]
fn async_sigint_checkpoints_exits_130_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut child = train_cmd(SMALL_ASYNC)
        .arg("--out")
        .arg(&out)
        .spawn()
        .unwrap();
    wait_until(|| rows_of(&out.join("train.csv")) >= 5);
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let st = std::fs::read_to_string(out.join("status")).unwrap();
    assert!(st.starts_with("interrupted"), "{st}");
    let o = mpg(&["eval", "--run", out.to_str().unwrap(), "--episodes", "2"]);
    assert!(o.status.success(), "a loadable checkpoint: {}", stderr(&o));
    let at = number_after(&String::from_utf8_lossy(&o.stdout), "at iteration ");
    assert!((40.0..200.0).contains(&at), "stopped at {at}");
    let o = train_cmd("").arg("--resume").arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        csv_column(&out.join("eval.csv"), "iteration"),
        (0..=5).map(|k| (40 * k) as f64).collect::<Vec<_>>()
    );
    assert_eq!(
        csv_column(&out.join("gradients.csv"), "iteration"),
        (0..200).map(|k| k as f64).collect::<Vec<_>>(),
        "rows past the checkpoint cut and written again"
    );
    let prov = std::fs::read_to_string(out.join("provenance.toml")).unwrap();
    assert!(prov.contains("trainer = \"async\"") && prov.contains("learners = 2"));
}

/// A learner, an actor, a buffer, the evaluator or the optimizer failing (an error or a panic,
/// injected by the test hook MPG_TEST_FAIL) ends the run with an error naming that thread, and
/// a thread that hangs is caught by the watchdog — never a hang.
#[test]
fn async_faults_end_the_run_with_an_error_naming_the_thread() {
    for (fault, thread, extra) in [
        ("learner-1", "learner-1", None),
        ("actor-0:panic", "actor-0", None),
        ("evaluator", "evaluator", None),
        ("buffer-1:panic", "buffer-1", None),
        ("optimizer", "optimizer", None),
        ("learner-0:hang", "watchdog", Some("async.watchdog_s=2")),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let args = match extra {
            // one learner, so that its hang stops the iterations
            Some(set) => SMALL_ASYNC.replace("--learners 2", "--learners 1") + " --set " + set,
            None => SMALL_ASYNC.to_string(),
        };
        let mut cmd = train_cmd(&args);
        cmd.arg("--out").arg(&out).env("MPG_TEST_FAIL", fault);
        let o = finish(cmd);
        assert_eq!(o.status.code(), Some(1), "{fault}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains(&format!("stopped: {thread}")),
            "{fault}: the error names {thread}: {err}"
        );
        let st = std::fs::read_to_string(out.join("status")).unwrap();
        assert!(
            st.starts_with("failed") && st.contains(thread),
            "{fault}: {st}"
        );
        if thread == "watchdog" {
            assert!(
                err.contains("learner-0: computing a gradient"),
                "the diagnostic says what each thread was doing: {err}"
            );
        }
        assert!(!out.join("lock").exists(), "{fault}: lock released");
    }
}

/// `mpg bench --profile smoke --jobs 2`: a Ctrl-C reaches the running cells, which checkpoint
/// (exit 130); the same command then resumes them and runs the rest; a third skips every
/// finished cell; `mpg report` reads the result.
#[test]
fn bench_smoke_interrupts_resumes_skips_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("smoke");
    let out_s = out.to_str().unwrap();
    let list = mpg(&["bench", "--profile", "smoke", "--list"]);
    assert!(list.status.success(), "{}", stderr(&list));
    let names: Vec<String> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .map(|l| l.split('\t').nth(1).unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 6, "{names:?}");
    assert!(names.contains(&"inverted-pendulum__mpg-v2__q1__s1".to_string()));
    let bench = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mpg"));
        c.args(["bench", "--profile", "smoke", "--jobs", "2", "--out", out_s]);
        c
    };

    let child = bench()
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until(|| rows_of(&out.join(&names[0]).join("train.csv")) >= 2);
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    let statuses: Vec<String> = names
        .iter()
        .map(|n| std::fs::read_to_string(out.join(n).join("status")).unwrap_or_default())
        .collect();
    assert!(
        statuses.iter().any(|s| s.starts_with("interrupted")),
        "a running cell checkpointed on the forwarded SIGINT: {statuses:?}"
    );
    assert!(
        statuses.iter().filter(|s| s.trim() == "finished").count() < 6,
        "no new cell started after the signal: {statuses:?}"
    );

    let o = bench().output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    for n in &names {
        let run = out.join(n);
        let st = std::fs::read_to_string(run.join("status")).unwrap();
        assert_eq!(st.trim(), "finished", "{n}");
        let cfg = std::fs::read_to_string(run.join("config.toml")).unwrap();
        let seed = n.rsplit("__s").next().unwrap();
        assert!(cfg.contains(&format!("seed = {seed}")), "{n}: {cfg}");
        assert_eq!(
            cfg.contains("critic = \"q1\""),
            n.contains("__q1__"),
            "{n}: the variant's override"
        );
        let (_, rows) = read_csv(&run.join("eval.csv"));
        let iters: Vec<f64> = rows.iter().map(|r| r[0]).collect();
        assert_eq!(
            iters,
            [0.0, 20.0, 40.0, 60.0],
            "{n}: every evaluation, once"
        );
    }
    let eval_before = std::fs::read_to_string(out.join(&names[0]).join("eval.csv")).unwrap();
    let o = bench().output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("0 finished, 6 skipped"), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(out.join(&names[0]).join("eval.csv")).unwrap(),
        eval_before
    );

    if mpg(&["report", "--help"]).status.success() {
        let o = mpg(&["report", "--runs", out_s]);
        assert!(o.status.success(), "mpg report: {}", stderr(&o));
        assert!(out.join("report/report.md").exists());
    }

    // committed copies (`mpg bench --collect`) are skipped by `--done` on a fresh --out; the
    // cell whose copy is removed is started
    let kept = dir.path().join("kept");
    let o = mpg_with(
        "bench --profile smoke",
        &[("--out", &out), ("--collect", &kept)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 6);
    std::fs::remove_dir_all(kept.join(&names[0])).unwrap();
    let fresh = dir.path().join("fresh");
    let o = mpg_with(
        "bench --profile smoke --dry-run",
        &[("--out", &fresh), ("--done", &kept)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let plan = String::from_utf8_lossy(&o.stdout);
    assert_eq!(plan.matches("finished: skip").count(), 5, "{plan}");
    assert!(plan.contains(&format!("{}\tstart", names[0])), "{plan}");
}

/// `--index env` reads the job-array variables; a number never reads the environment; the
/// selection and `--dry-run` run nothing; a profile with a bad key is refused before any work.
#[test]
fn bench_selection_and_validation() {
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mpg"));
        c.arg("bench").args(args).env_remove("SLURM_ARRAY_TASK_ID");
        c.env_remove("JOB_COMPLETION_INDEX");
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let o = run(
        &["--profile", "smoke", "--list", "--index", "env"],
        &[("SLURM_ARRAY_TASK_ID", "3")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "3\tinverted-pendulum__mpg-v2__q1__s1"
    );
    let o = run(
        &["--profile", "smoke", "--list", "--index", "1"],
        &[("SLURM_ARRAY_TASK_ID", "not a number")],
    );
    assert!(
        o.status.success(),
        "the environment is not read: {}",
        stderr(&o)
    );
    let o = run(&["--profile", "smoke", "--list", "--index", "env"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("SLURM_ARRAY_TASK_ID"), "{}", stderr(&o));
    let o = run(&["--profile", "paper", "--list", "--shard", "7/8"], &[]);
    let lines: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(lines.len(), 7, "{lines:?}");
    assert!(
        lines[0].starts_with("7\tpath-tracking__mpg-v2__s2"),
        "{lines:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = run(
        &[
            "--profile",
            "paper",
            "--dry-run",
            "--jobs",
            "1",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("60 of 60 cells selected"));
    assert!(!out.exists(), "a dry run writes nothing");

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "iterations = 10\n[matrix]\ntasks = [\"inverted-pendulum\"]\nalgos = [\"td3\"]\nseeds = [0]\n[set]\n\"learner.init\" = \"xavier\"\n",
    )
    .unwrap();
    let o = run(
        &[
            "--profile",
            bad.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("learner.init") && e.contains("glorot") && e.contains("bad.toml [set]"),
        "{e}"
    );
    assert!(!out.exists(), "nothing started");
}

/// `mpg report` over a trained run: Table I, the figures and report.md; a broken folder beside
/// it is named, and `--require-complete` turns it into exit 2 (issue 13).
#[test]
fn report_reads_a_trained_run_and_names_a_broken_one() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let run = runs.join("inverted-pendulum__td3__s3");
    let o = train_cmd(SMALL).arg("--out").arg(&run).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let o = mpg(&["report", "--runs", runs.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("1 runs in 1 cells; 0 folders left out"),
        "{out}"
    );
    let report = runs.join("report");
    let (h, rows) = read_csv_text(&report.join("table1.csv"));
    let col = |name: &str| h.iter().position(|c| c == name).unwrap();
    let td3 = rows
        .iter()
        .find(|r| r[col("task")] == "inverted-pendulum" && r[col("algo")] == "td3")
        .expect("a Table I row for the run");
    assert_eq!(td3[col("runs")], "1");
    assert_eq!(td3[col("seeds")], "3");
    // the run's own last evaluation return is its final-return IQM (one run)
    let (eh, erows) = read_csv(&run.join("eval.csv"));
    let last = erows.last().unwrap()[eh.iter().position(|c| c == "mean_return").unwrap()];
    let iqm: f64 = td3[col("final_iqm")].parse().unwrap();
    assert!(
        (iqm - last).abs() <= 1e-9 * last.abs().max(1.0),
        "{iqm} vs {last}"
    );
    for f in ["report.md", "table1.md", "fig5_inverted-pendulum.png"] {
        assert!(report.join(f).exists(), "{f} missing");
    }
    // a run folder that failed: left out and named, or an error with --require-complete
    let broken = runs.join("inverted-pendulum__sac__s1");
    std::fs::create_dir_all(&broken).unwrap();
    for f in ["config.toml", "provenance.toml", "eval.csv", "train.csv"] {
        std::fs::copy(run.join(f), broken.join(f)).unwrap();
    }
    std::fs::write(broken.join("status"), "failed: test\n").unwrap();
    let o = mpg(&["report", "--runs", runs.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(
        md.contains("`inverted-pendulum__sac__s1` | status is 'failed: test'"),
        "{md}"
    );
    let o = mpg_with("report --require-complete", &[("--runs", &runs)]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("inverted-pendulum__sac__s1"),
        "{}",
        stderr(&o)
    );
}

/// A CSV as text cells (Table I has empty cells and names).
fn read_csv_text(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut rd = csv::Reader::from_path(path).unwrap();
    let h = rd.headers().unwrap().iter().map(String::from).collect();
    let rows = rd
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    (h, rows)
}
