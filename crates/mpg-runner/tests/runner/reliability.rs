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
    assert!(
        text.contains(&format!("pid={}", std::process::id())),
        "{text}"
    );
    drop(lock);
    assert!(!dir.lock_file().exists(), "released on drop");
}

#[test]
fn a_lock_from_another_host_is_taken_over_only_when_its_heartbeat_is_stale() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = RunDir::new(tmp.path());
    std::fs::write(dir.lock_file(), lock_text("elsewhere", 1, now_s())).unwrap();
    let err = acquire_err(&dir);
    assert!(
        err.contains("in use by process 1 on host elsewhere"),
        "{err}"
    );
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
    assert!(
        err.contains(&dir.lock_file().display().to_string()),
        "{err}"
    );
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
    assert!(
        err.contains(&dir.lock_file().display().to_string()),
        "{err}"
    );
    assert!(err.contains("folder"), "{err}");
}

// ---------------------------------------------------------------------------------------
// Verified checkpoints

use super::common::{self, assert_same_csvs, try_go, without_timing};
use mpg_algos::Algo;
use mpg_envs::Task;
use mpg_runner::Outcome;
use mpg_runner::RunConfig;
use mpg_runner::checkpoint;

fn small() -> RunConfig {
    common::small(Algo::Td3, Task::InvertedPendulum, 11)
}

#[derive(Clone, Copy, Debug)]
enum Damage {
    /// 64 bytes of 0xff in the middle (the probe)
    Middle,
    /// the first 16 bytes flipped
    Header,
    /// cut to half its length
    Truncate,
}

fn damage(path: &Path, how: Damage) {
    let mut b = std::fs::read(path).unwrap();
    match how {
        Damage::Middle => {
            let m = b.len() / 2;
            let end = (m + 64).min(b.len());
            b[m..end].iter_mut().for_each(|x| *x = 0xff);
        }
        Damage::Header => b[..16].iter_mut().for_each(|x| *x ^= 0xff),
        Damage::Truncate => b.truncate(b.len() / 2),
    }
    std::fs::write(path, b).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    assert!(
        Command::new("cp")
            .arg("-a")
            .arg(from)
            .arg(to)
            .status()
            .unwrap()
            .success()
    );
}

/// A run interrupted at iteration 33: `checkpoint/` at 33, the previous `checkpoint.old/` at 20.
fn interrupted(cfg: &RunConfig) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let o = try_go(cfg, &out, false, Some(33)).unwrap();
    assert_eq!(o, Outcome::Interrupted { iteration: 33 });
    tmp
}

#[test]
fn every_damaged_checkpoint_file_is_passed_over_for_the_previous_checkpoint() {
    tch::set_num_threads(1);
    let cfg = small();
    let base = interrupted(&cfg);
    let run_dir = base.path().join("run");
    let previous = checkpoint::load_meta(&run_dir.join("checkpoint.old")).unwrap();
    assert_eq!(previous.iteration, 20, "the previous checkpoint is kept");
    let newest = checkpoint::load_meta(&run_dir.join("checkpoint")).unwrap();
    assert_eq!(newest.iteration, 33);
    for file in ["tensors.pt", "replay.bin", "meta.json"] {
        for how in [Damage::Middle, Damage::Header, Damage::Truncate] {
            let tmp = tempfile::tempdir().unwrap();
            let out = tmp.path().join("run");
            copy_dir(&run_dir, &out);
            let victim = out.join("checkpoint").join(file);
            damage(&victim, how);
            let found = checkpoint::find(&out.join("checkpoint")).unwrap().unwrap();
            assert_eq!(found.meta.iteration, 20, "{file} {how:?}");
            assert_eq!(found.dir, out.join("checkpoint.old"), "{file} {how:?}");
            let why = found.fallback.unwrap();
            assert!(
                why.contains(&victim.display().to_string()),
                "{file} {how:?}: {why}"
            );
        }
    }
    // a meta.json that still parses but says another iteration
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    copy_dir(&run_dir, &out);
    let meta = out.join("checkpoint/meta.json");
    let text = std::fs::read_to_string(&meta).unwrap();
    assert!(text.contains("\"iteration\": 33"));
    std::fs::write(
        &meta,
        text.replace("\"iteration\": 33", "\"iteration\": 34"),
    )
    .unwrap();
    let found = checkpoint::find(&out.join("checkpoint")).unwrap().unwrap();
    assert_eq!(found.meta.iteration, 20);
    assert!(found.fallback.unwrap().contains("meta.json is damaged"));
}

#[test]
fn a_run_resumed_from_the_previous_checkpoint_equals_an_uninterrupted_one() {
    tch::set_num_threads(1);
    let cfg = small();
    let reference = tempfile::tempdir().unwrap();
    try_go(&cfg, reference.path(), false, None).unwrap();
    for (file, how) in [
        ("replay.bin", Damage::Middle),
        ("tensors.pt", Damage::Header),
    ] {
        let base = interrupted(&cfg);
        let out = base.path().join("run");
        damage(&out.join("checkpoint").join(file), how);
        let o = try_go(&cfg, &out, true, None).unwrap();
        assert!(matches!(o, Outcome::Finished { .. }), "{file}: {o:?}");
        assert_same_csvs(reference.path(), &out, file);
        let prov = std::fs::read_to_string(out.join("provenance.toml")).unwrap();
        assert!(
            prov.contains("newest checkpoint is damaged") && prov.contains(file),
            "{prov}"
        );
        // the damaged one was set aside, not rotated in as the next previous checkpoint
        assert!(out.join("checkpoint.damaged").join(file).exists());
    }
}

#[test]
fn no_good_checkpoint_is_refused_naming_the_files_and_nothing_is_written() {
    tch::set_num_threads(1);
    let cfg = small();
    let base = interrupted(&cfg);
    let out = base.path().join("run");
    damage(&out.join("checkpoint/replay.bin"), Damage::Middle);
    damage(&out.join("checkpoint.old/tensors.pt"), Damage::Header);
    let before: Vec<_> = ["eval.csv", "train.csv", "status", "config.toml"]
        .iter()
        .map(|f| std::fs::read(out.join(f)).unwrap())
        .collect();
    let err = format!("{:#}", try_go(&cfg, &out, true, None).unwrap_err());
    assert!(err.contains("checkpoint/replay.bin"), "{err}");
    assert!(err.contains("checkpoint.old/tensors.pt"), "{err}");
    let after: Vec<_> = ["eval.csv", "train.csv", "status", "config.toml"]
        .iter()
        .map(|f| std::fs::read(out.join(f)).unwrap())
        .collect();
    assert_eq!(before, after, "a refused resume writes nothing");
    assert!(!out.join("lock").exists());
}

#[test]
fn a_missing_meta_json_is_refused_not_restarted_from_zero() {
    tch::set_num_threads(1);
    let cfg = small();
    let base = interrupted(&cfg);
    let out = base.path().join("run");
    std::fs::remove_file(out.join("checkpoint/meta.json")).unwrap();
    std::fs::remove_file(out.join("checkpoint.old/meta.json")).unwrap();
    let err = format!("{:#}", try_go(&cfg, &out, true, None).unwrap_err());
    assert!(err.contains("checkpoint/meta.json is missing"), "{err}");
    // nothing was restarted: the evaluations up to the interruption are still there
    assert_eq!(without_timing(&out.join("eval.csv")).len(), 1 + 2);
}
