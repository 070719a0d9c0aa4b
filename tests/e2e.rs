//! End-to-end tests of the `mpg` binary: what a user types, what comes back.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn mpg(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mpg"))
        .args(args)
        .output()
        .expect("run mpg")
}

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
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
    let o = mpg(&[
        "env",
        "step",
        "--task",
        "path-tracking",
        "--input",
        input.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
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
        let o = mpg(&[
            "env",
            "step",
            "--task",
            "path-tracking",
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(name) && stderr(&o).contains(expect),
            "{name}: {}",
            stderr(&o)
        );
        assert!(!out.exists(), "{name}: no partial output");
    }
    let o = mpg(&[
        "env",
        "step",
        "--task",
        "path-tracking",
        "--input",
        "/nonexistent/x.csv",
        "--output",
        "/tmp/never.csv",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/nonexistent/x.csv"));
}

/// `mpg env rollout`: the linear controller's mean return (≈ −6, spec §5), and trajectories
/// that `mpg env step` reads back to the same next observations.
#[test]
fn env_rollout_prints_the_return_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let traj = dir.path().join("traj.csv");
    let o = mpg(&[
        "env",
        "rollout",
        "--task",
        "path-tracking",
        "--policy",
        "linear",
        "--steps",
        "200",
        "--agents",
        "256",
        "--seed",
        "4",
        "--output",
        traj.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let mean: f64 = stdout
        .split("mean ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no mean in {stdout}"));
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
    let o = mpg(&[
        "env",
        "step",
        "--task",
        "path-tracking",
        "--input",
        traj.to_str().unwrap(),
        "--output",
        next.to_str().unwrap(),
    ]);
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
