//! Reliability of the run folder (docs/reliability.md): one writer per folder, verified
//! checkpoints with fallback, clean write failures.

use mpg_runner::RunDir;
use mpg_runner::run_dir::{RunLock, hostname, now_s};
use std::path::Path;
use std::process::{Child, Command};

fn lock_text(host: &str, pid: u32, heartbeat: u64) -> String {
    format!("host={host}\npid={pid}\nheartbeat={heartbeat}\n")
}

/// A live process on this host (a `sleep`), stopped with SIGSTOP like the holder.
fn stopped_process() -> Child {
    let child = Command::new("sleep").arg("60").spawn().unwrap();
    Command::new("kill")
        .args(["-STOP", &child.id().to_string()])
        .status()
        .unwrap();
    child
}

fn end(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn acquire_err(dir: &RunDir) -> String {
    match RunLock::acquire(dir) {
        Ok(_) => panic!("the lock was taken"),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn a_live_process_on_this_host_keeps_its_lock_whatever_its_heartbeats_age() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = RunDir::new(tmp.path());
    let holder = stopped_process();
    // a heartbeat from 1970: far past any stale age, yet the holder is alive here
    std::fs::write(dir.lock_file(), lock_text(&hostname(), holder.id(), 0)).unwrap();
    let err = acquire_err(&dir);
    assert!(
        err.contains(&format!("in use by process {}", holder.id())),
        "{err}"
    );
    assert!(Path::new(&dir.lock_file()).exists());
    end(holder);
    // once the holder is gone the lock is taken over
    let lock = RunLock::acquire(&dir).unwrap();
    let text = std::fs::read_to_string(dir.lock_file()).unwrap();
    assert!(text.contains(&format!("pid={}", std::process::id())), "{text}");
    drop(lock);
    assert!(!dir.lock_file().exists(), "released on drop");
}

#[test]
fn a_lock_from_another_host_is_taken_over_only_when_its_heartbeat_is_stale() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = RunDir::new(tmp.path());
    std::fs::write(dir.lock_file(), lock_text("elsewhere", 1, now_s())).unwrap();
    let err = acquire_err(&dir);
    assert!(err.contains("in use by process 1 on host elsewhere"), "{err}");
    std::fs::write(dir.lock_file(), lock_text("elsewhere", 1, now_s() - 601)).unwrap();
    let _lock = RunLock::acquire(&dir).unwrap();
}

#[test]
fn a_lock_that_is_no_longer_ours_is_left_alone_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = RunDir::new(tmp.path());
    let lock = RunLock::acquire(&dir).unwrap();
    lock.verify().unwrap();
    // another host took it over (it judged ours stale)
    let theirs = lock_text("elsewhere", 42, now_s());
    std::fs::write(dir.lock_file(), &theirs).unwrap();
    let err = format!("{:#}", lock.verify().unwrap_err());
    assert!(err.contains("no longer this process's"), "{err}");
    assert!(err.contains(&dir.lock_file().display().to_string()), "{err}");
    drop(lock);
    assert_eq!(
        std::fs::read_to_string(dir.lock_file()).unwrap(),
        theirs,
        "another process's lock must survive our exit"
    );
}

#[test]
fn a_lock_path_that_is_a_folder_is_refused_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = RunDir::new(tmp.path());
    std::fs::create_dir(dir.lock_file()).unwrap();
    let err = acquire_err(&dir);
    assert!(err.contains(&dir.lock_file().display().to_string()), "{err}");
    assert!(err.contains("folder"), "{err}");
}
