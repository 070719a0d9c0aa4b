//! End-to-end reliability of `mpg train` (docs/reliability.md): one writer per run folder,
//! verified checkpoints, clean failures, resume that refuses before writing.

use super::{SMALL, assert_same_run, reference_run, rows_of, stderr, train_cmd, wait_until};
use std::process::Command;

fn signal(pid: u32, sig: &str) {
    assert!(
        Command::new("kill")
            .args([&format!("-{sig}"), &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
}

/// A holder stopped with SIGSTOP past the stale age keeps its lock: `--resume` is refused, and
/// after SIGCONT the holder finishes alone, its run equal to an uninterrupted one.
#[test]
fn a_stopped_holder_keeps_its_run_folder() {
    let reference = reference_run();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut first = train_cmd(SMALL).arg("--out").arg(&out).spawn().unwrap();
    wait_until(|| rows_of(&out.join("train.csv")) >= 3);
    signal(first.id(), "STOP");
    let eval_before = std::fs::read(out.join("eval.csv")).unwrap();
    // Its heartbeat ages past the stale age: here the test-only age of 0 s, and the lock's
    // heartbeat set back to 1970 as a stop of more than 600 s would leave it.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let lock = std::fs::read_to_string(out.join("lock")).unwrap();
    let aged: String = (lock.lines())
        .map(|l| match l.starts_with("heartbeat=") {
            true => "heartbeat=0\n".to_string(),
            false => format!("{l}\n"),
        })
        .collect();
    std::fs::write(out.join("lock"), aged).unwrap();
    let o = train_cmd("")
        .arg("--resume")
        .arg(&out)
        .env("MPG_TEST_STALE_LOCK_S", "0")
        .output()
        .unwrap();
    let err = stderr(&o);
    signal(first.id(), "CONT");
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("in use by process {}", first.id())),
        "{err}"
    );
    assert_eq!(std::fs::read(out.join("eval.csv")).unwrap(), eval_before);
    assert!(first.wait().unwrap().success());
    assert!(!out.join("lock").exists(), "lock released");
    assert_same_run(&reference.path().join("run"), &out, "stopped holder");
}

/// A run folder whose run was interrupted by SIGINT part-way (checkpoint at the interruption,
/// the previous one kept).
fn interrupted_run() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut child = train_cmd(SMALL).arg("--out").arg(&out).spawn().unwrap();
    wait_until(|| rows_of(&out.join("train.csv")) >= 8);
    signal(child.id(), "INT");
    assert_eq!(child.wait().unwrap().code(), Some(130));
    dir
}

/// Every row of every CSV of `out` is whole: as many fields as the header, a final newline.
fn assert_whole_rows(out: &std::path::Path, label: &str) {
    for f in ["eval.csv", "train.csv", "gradients.csv"] {
        let Ok(text) = std::fs::read_to_string(out.join(f)) else {
            continue;
        };
        if text.is_empty() {
            continue;
        }
        assert!(text.ends_with('\n'), "{label}: {f} ends in a partial row");
        let mut lines = text.lines();
        let n = lines.next().unwrap().split(',').count();
        for l in lines {
            assert_eq!(l.split(',').count(), n, "{label}: {f}: partial row {l:?}");
        }
    }
}

/// A damaged newest checkpoint: `--resume` says so and continues from the previous one, to the
/// same run as an uninterrupted one; with no good checkpoint it is refused naming the files,
/// without a libtorch backtrace.
#[test]
fn a_damaged_checkpoint_falls_back_or_is_refused_by_name() {
    let reference = reference_run();
    let dir = interrupted_run();
    let out = dir.path().join("run");
    let replay = out.join("checkpoint/replay.bin");
    let mut b = std::fs::read(&replay).unwrap();
    let m = b.len() / 2;
    b[m..m + 64].iter_mut().for_each(|x| *x = 0xff);
    std::fs::write(&replay, b).unwrap();
    let o = train_cmd("").arg("--resume").arg(&out).output().unwrap();
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("newest checkpoint is damaged"), "{err}");
    assert!(err.contains(&replay.display().to_string()), "{err}");
    assert_same_run(&reference.path().join("run"), &out, "fallback");

    let dir = interrupted_run();
    let out = dir.path().join("run");
    for ck in ["checkpoint", "checkpoint.old"] {
        let t = out.join(ck).join("tensors.pt");
        let mut b = std::fs::read(&t).unwrap();
        b[..16].iter_mut().for_each(|x| *x ^= 0xff);
        std::fs::write(&t, b).unwrap();
    }
    let status = std::fs::read(out.join("status")).unwrap();
    let o = train_cmd("").arg("--resume").arg(&out).output().unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("checkpoint/tensors.pt is damaged"), "{err}");
    assert!(
        err.contains("checkpoint.old/tensors.pt is damaged"),
        "{err}"
    );
    assert!(!err.contains("frame #") && !err.contains("c10::"), "{err}");
    assert_eq!(std::fs::read(out.join("status")).unwrap(), status);
}

/// A write that fails as a full disk would, at every write site: exit 1 (never an abort), the
/// error names the file, the status says `failed: …` where it can be written, the lock is
/// released, no CSV keeps a partial row, and the same command (or `--resume`) then completes
/// the run exactly.
#[test]
fn an_injected_write_failure_at_every_site_fails_cleanly_and_loses_nothing() {
    let reference = reference_run();
    for (site, file) in [
        ("checkpoint:2", "checkpoint.new/tensors.pt"),
        ("eval.csv:3", "eval.csv"),
        ("train.csv:5", "train.csv"),
        ("gradients.csv:4", "gradients.csv"),
        ("status:1", "status"),
        ("config:1", "config.toml"),
        ("provenance:1", "provenance.toml"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let o = train_cmd(SMALL)
            .arg("--out")
            .arg(&out)
            .env("MPG_TEST_FAIL_WRITE", site)
            .output()
            .unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{site}: {err}");
        assert!(err.contains("No space left on device"), "{site}: {err}");
        assert!(
            err.contains(&out.join(file).display().to_string()),
            "{site}: {err}"
        );
        if !site.starts_with("status") {
            let st = std::fs::read_to_string(out.join("status")).unwrap();
            assert!(st.starts_with("failed: "), "{site}: {st}");
            assert!(st.contains(file), "{site}: {st}");
        }
        assert!(!out.join("lock").exists(), "{site}: lock released");
        assert!(
            !out.join("checkpoint.new").exists(),
            "{site}: no half checkpoint"
        );
        assert_whole_rows(&out, site);
        // Nothing finished is lost: continue (or, with no config written, start again).
        let again = if out.join("config.toml").exists() {
            train_cmd("").arg("--resume").arg(&out).output().unwrap()
        } else {
            train_cmd(SMALL).arg("--out").arg(&out).output().unwrap()
        };
        assert!(again.status.success(), "{site}: {}", stderr(&again));
        assert_same_run(&reference.path().join("run"), &out, site);
    }
}

/// A real full disk where the test runs as root and may mount a small tmpfs (skipped, saying
/// so, otherwise): exit 1 with the path, never exit 134.
#[test]
fn a_real_full_disk_fails_cleanly_where_a_tmpfs_can_be_mounted() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
        .arg(&mnt)
        .output()
        .is_ok_and(|o| o.status.success());
    if !mounted {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    }
    let out = mnt.join("run");
    // Two checkpoints of a few hundred kB each do not fit: the disk fills mid-run.
    let o = train_cmd(SMALL).arg("--out").arg(&out).output().unwrap();
    let err = stderr(&o);
    let status = std::fs::read_to_string(out.join("status")).unwrap_or_default();
    let lock = out.join("lock").exists();
    let _ = Command::new("umount").arg(&mnt).status();
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(err.contains(&mnt.display().to_string()), "{err}");
    assert!(
        status.is_empty() || status.starts_with("failed: "),
        "{status}"
    );
    assert!(!lock, "lock released");
}

/// `--resume` refuses what it cannot do before writing anything, naming the key (exit 2).
#[test]
fn resume_refuses_before_writing_and_names_what_it_refuses() {
    let dir = interrupted_run();
    let out = dir.path().join("run");
    let files = [
        "config.toml",
        "provenance.toml",
        "status",
        "eval.csv",
        "train.csv",
    ];
    let snapshot = || -> Vec<Vec<u8>> {
        files
            .iter()
            .map(|f| std::fs::read(out.join(f)).unwrap())
            .collect()
    };
    let before = snapshot();
    for (args, names) in [
        (
            "--set eval.episodes=3 --allow-config-change",
            vec!["eval.episodes"],
        ),
        (
            "--set sampling.actor_agents=2 --set sampling.transitions_per_call=64 \
             --allow-config-change",
            vec!["sampling.actor_agents"],
        ),
        (
            "--iterations 30 --allow-config-change",
            vec!["--iterations 30", "below"],
        ),
        (
            "--set eval.interval=25",
            vec!["eval.interval", "--allow-config-change"],
        ),
        ("--algo sac", vec!["--algo sac", "td3"]),
    ] {
        let o = train_cmd(args).arg("--resume").arg(&out).output().unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        for n in names {
            assert!(err.contains(n), "{args:?}: {err}");
        }
        assert_eq!(snapshot(), before, "{args:?}: nothing written");
        assert!(!out.join("lock").exists());
    }
    // finish it, then resuming the finished run changes nothing
    let o = train_cmd("").arg("--resume").arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let finished = snapshot();
    let o = train_cmd("").arg("--resume").arg(&out).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("already finished"), "{}", stderr(&o));
    assert_eq!(snapshot(), finished, "a finished run is left as it was");
    // an --out that already holds a run is a usage error
    let o = train_cmd(SMALL).arg("--out").arg(&out).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("already holds a run"), "{}", stderr(&o));
    assert_eq!(snapshot(), finished);
    // every file of the run folder is readable by a teammate: mode 0644
    use std::os::unix::fs::PermissionsExt;
    for f in files
        .iter()
        .chain(&["gradients.csv", "checkpoint/meta.json"])
    {
        let mode = std::fs::metadata(out.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "{f}");
    }
}

/// A flag contradicting the config file names both; a range error names the file's line or
/// the `--set` that gave the value.
#[test]
fn config_contradictions_and_range_errors_name_their_source() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("td3.toml");
    std::fs::write(
        &cfg,
        "algo = \"td3\"\ntask = \"inverted-pendulum\"\n\n[eval]\nepisodes = 0\n",
    )
    .unwrap();
    let out = dir.path().join("run");
    // `mpg train` with `words` (and the file above where `config`): refused with exit 2
    let refused = |words: &str, config: bool| -> String {
        let mut c = train_cmd(words);
        if config {
            c.arg("--config").arg(&cfg);
        }
        let o = c.arg("--out").arg(&out).output().unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{words}: {err}");
        err
    };
    let err = refused("--algo sac", true);
    assert!(
        err.contains("--algo sac") && err.contains(&cfg.display().to_string()),
        "{err}"
    );
    assert!(err.contains("\"td3\""), "{err}");
    let err = refused("", true);
    assert!(
        err.contains(&format!("{}: line 5: eval.episodes", cfg.display())),
        "{err}"
    );
    let err = refused(
        "--algo td3 --task inverted-pendulum --set eval.interval=0",
        false,
    );
    assert!(
        err.contains("--set eval.interval=0: eval.interval"),
        "{err}"
    );
    assert!(!err.contains("(defaults)"), "{err}");
    assert!(!out.exists(), "nothing written for a refused config");
}
