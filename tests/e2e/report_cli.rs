//! `mpg bench` and `mpg report` options that replaced shell scripts (issue 24), and the
//! report/bench faults of issue 23, as a user meets them.

use super::{mpg, mpg_with, stderr};
use std::process::Command;

/// issue 23: a concurrent bench (here: another profile) on the same --out does not write into
/// a cell another live process holds — not `bench-cell.toml`, not `bench.log` — and says it is
/// locked elsewhere.
#[test]
fn a_bench_writes_nothing_into_a_cell_locked_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let list = mpg(&["bench", "--profile", "smoke", "--list", "--index", "0"]);
    assert!(list.status.success(), "{}", stderr(&list));
    let name = String::from_utf8_lossy(&list.stdout)
        .split('\t')
        .nth(1)
        .unwrap()
        .trim()
        .to_string();
    // a run just started by another bench: its lock and its cell file, no config.toml yet
    let cell = out.join(&name);
    std::fs::create_dir_all(&cell).unwrap();
    let mut holder = Command::new("sleep").arg("60").spawn().unwrap();
    std::fs::write(
        cell.join("lock"),
        format!(
            "host={}\npid={}\nheartbeat={}\n",
            mpg_runner::run_dir::hostname(),
            holder.id(),
            mpg_runner::run_dir::now_s()
        ),
    )
    .unwrap();
    std::fs::write(cell.join("bench-cell.toml"), "# the other bench's cell\n").unwrap();
    let o = mpg_with("bench --profile smoke --index 0", &[("--out", &out)]);
    holder.kill().unwrap();
    holder.wait().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    assert!(o.status.success(), "{text}");
    assert!(text.contains("1 locked by another process"), "{text}");
    assert_eq!(
        std::fs::read_to_string(cell.join("bench-cell.toml")).unwrap(),
        "# the other bench's cell\n",
        "bench-cell.toml of a locked cell rewritten"
    );
    assert!(!cell.join("bench.log").exists(), "bench.log written");
    assert!(!cell.join("config.toml").exists());
}

/// issue 23: `mpg report --out` inside a run folder exits 2 naming it, and writes nothing.
#[test]
fn report_out_inside_a_run_folder_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let rep = dir.path().join("rep");
    let s1 = rep.join("s1");
    std::fs::create_dir_all(&s1).unwrap();
    std::fs::write(s1.join("config.toml"), "seed = 1\n").unwrap();
    for out in [s1.clone(), s1.join("report")] {
        let o = mpg_with("report", &[("--runs", &rep), ("--out", &out)]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("inside the run folder") && stderr(&o).contains("s1"),
            "{}",
            stderr(&o)
        );
    }
    assert_eq!(
        std::fs::read_dir(&s1).unwrap().count(),
        1,
        "nothing written"
    );
}

/// `--profile` and `--readme-block` are checked before anything is written: an unknown profile
/// and a block name that would break the README's markers exit 2 naming the flag.
#[test]
fn report_profile_and_readme_block_are_checked_first() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    std::fs::create_dir_all(&runs).unwrap();
    let readme = dir.path().join("README.md");
    std::fs::write(&readme, "# R\n").unwrap();
    let out = dir.path().join("rep");
    let r = runs.to_str().unwrap();
    let o = out.to_str().unwrap();
    let m = readme.to_str().unwrap();
    for (args, flag) in [
        (
            vec![
                "report",
                "--runs",
                r,
                "--out",
                o,
                "--profile",
                "no-such-profile",
            ],
            "--profile no-such-profile",
        ),
        (
            vec![
                "report",
                "--runs",
                r,
                "--out",
                o,
                "--readme",
                m,
                "--readme-block",
                "a b",
            ],
            "--readme-block",
        ),
    ] {
        let out_ = mpg(&args);
        assert_eq!(out_.status.code(), Some(2), "{}", stderr(&out_));
        assert!(stderr(&out_).contains(flag), "{}", stderr(&out_));
        assert!(!out.exists(), "nothing written for {flag}");
    }
    assert_eq!(std::fs::read_to_string(&readme).unwrap(), "# R\n");
}

/// `mpg bench --collect DIR` without a profile: the finished run folders under --out, only
/// their plain files (with `--train`, train.csv too); an unfinished one is left out; a second
/// collection copies nothing; the usage errors exit 2.
#[test]
fn bench_collect_copies_finished_runs_only() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("controls");
    for (name, status) in [("a__q1", "finished"), ("b__d0", "interrupted: SIGINT")] {
        let run = src.join(name);
        std::fs::create_dir_all(run.join("checkpoint")).unwrap();
        for f in [
            "config.toml",
            "provenance.toml",
            "eval.csv",
            "train.csv",
            "gradients.csv",
            "bench.log",
        ] {
            std::fs::write(run.join(f), format!("{name} {f}\n")).unwrap();
        }
        std::fs::write(run.join("status"), format!("{status}\n")).unwrap();
    }
    let dest = dir.path().join("kept");
    let collect = |extra: &[&str]| {
        let mut args = vec![
            "bench",
            "--out",
            src.to_str().unwrap(),
            "--collect",
            dest.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        mpg(&args)
    };
    let o = collect(&["--train"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "a__q1\n");
    let mut files: Vec<String> = std::fs::read_dir(dest.join("a__q1"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["config.toml", "eval.csv", "provenance.toml", "train.csv"]
    );
    assert_eq!(
        std::fs::read_to_string(dest.join("a__q1/eval.csv")).unwrap(),
        "a__q1 eval.csv\n"
    );
    assert!(
        !dest.join("b__d0").exists(),
        "an unfinished run is left out"
    );
    let o = collect(&["--train"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "", "nothing changed");
    assert!(stderr(&o).contains("1 unchanged"), "{}", stderr(&o));
    // without --train the copy loses train.csv
    let o = collect(&[]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "a__q1\n");
    assert!(!dest.join("a__q1/train.csv").exists());
    // usage errors
    let o = mpg(&["bench", "--collect", dest.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--out"), "{}", stderr(&o));
    let o = mpg(&["bench", "--profile", "smoke", "--timings"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = mpg(&["bench", "--profile", "smoke", "--list", "--index", "1,1"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("listed twice"), "{}", stderr(&o));
    // a list keeps its order
    let o = mpg(&["bench", "--profile", "smoke", "--list", "--index", "4,1"]);
    let idx: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect();
    assert_eq!(idx, ["4", "1"]);
}
