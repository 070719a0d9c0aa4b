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
    let o = train_cmd(&[])
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
