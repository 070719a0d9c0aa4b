//! The run folder: the unit of everything a run writes (config, provenance, CSVs, checkpoint,
//! status, lock).

use anyhow::{Context, Result, bail};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// A run's state as written in the `status` file.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    Running,
    Finished,
    Interrupted(String),
    Failed(String),
}

impl Status {
    pub fn line(&self) -> String {
        match self {
            Status::Running => "running".into(),
            Status::Finished => "finished".into(),
            Status::Interrupted(why) => format!("interrupted: {why}"),
            Status::Failed(why) => format!("failed: {why}"),
        }
    }
}

/// Paths of a run folder.
#[derive(Clone, Debug)]
pub struct RunDir {
    pub root: PathBuf,
}

impl RunDir {
    pub fn new(root: impl Into<PathBuf>) -> RunDir {
        RunDir { root: root.into() }
    }
    pub fn config(&self) -> PathBuf {
        self.root.join("config.toml")
    }
    pub fn provenance(&self) -> PathBuf {
        self.root.join("provenance.toml")
    }
    pub fn eval_csv(&self) -> PathBuf {
        self.root.join("eval.csv")
    }
    pub fn train_csv(&self) -> PathBuf {
        self.root.join("train.csv")
    }
    pub fn gradients_csv(&self) -> PathBuf {
        self.root.join("gradients.csv")
    }
    pub fn checkpoint(&self) -> PathBuf {
        self.root.join("checkpoint")
    }
    pub fn status_file(&self) -> PathBuf {
        self.root.join("status")
    }
    pub fn lock_file(&self) -> PathBuf {
        self.root.join("lock")
    }

    /// Create the folder (and parents) and check that it can be written, before any work.
    pub fn prepare(&self) -> Result<()> {
        fs::create_dir_all(&self.root)
            .with_context(|| format!("cannot create the run folder {}", self.root.display()))?;
        let probe = self.root.join(".write-test");
        File::create(&probe)
            .and_then(|mut f| f.write_all(b"ok"))
            .with_context(|| format!("the run folder {} is not writable", self.root.display()))?;
        let _ = fs::remove_file(probe);
        Ok(())
    }

    pub fn write_status(&self, s: &Status) -> Result<()> {
        crate::fault::check("status", &self.status_file())?;
        write_atomic(&self.status_file(), format!("{}\n", s.line()).as_bytes())
    }

    pub fn read_status(&self) -> Option<String> {
        fs::read_to_string(self.status_file())
            .ok()
            .map(|s| s.trim().to_string())
    }
}

/// Write a file whole or not at all, never replacing what is not a regular file
/// ([`crate::output`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::output::write_output_bytes(path, bytes)
}

/// Append lines to a CSV, writing the header first when the file is new or empty: whole rows
/// in one write, and on any error the file is cut back to its length before, so it never
/// keeps a partial row (a full disk mid-row included). Errors name the file.
pub fn append_csv(path: &Path, header: &[String], rows: &[Vec<String>]) -> Result<()> {
    let fresh = fs::metadata(path).map(|m| m.len() == 0).unwrap_or(true);
    let mut out = Vec::new();
    {
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(&mut out);
        if fresh {
            w.write_record(header)?;
        }
        for r in rows {
            w.write_record(r)?;
        }
        w.flush()?;
    }
    if fs::symlink_metadata(path).is_ok_and(|m| !m.is_file()) {
        bail!("{} is not a regular file", path.display());
    }
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot append to {}", path.display()))?;
    let start = f
        .metadata()
        .with_context(|| format!("cannot append to {}", path.display()))?
        .len();
    let site = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let written = crate::fault::check_append(&site, path, &mut f, &out).and_then(|()| {
        f.write_all(&out)
            .and_then(|()| f.sync_data())
            .with_context(|| format!("cannot append to {}", path.display()))
    });
    if let Err(e) = written {
        // Drop whatever part of the rows reached the file.
        let _ = f.set_len(start);
        return Err(e);
    }
    Ok(())
}

/// The length of a file, 0 when absent.
pub fn file_len(path: &Path) -> u64 {
    fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Cut a file back to `len` bytes (rows past the last checkpoint are dropped on resume).
pub fn truncate(path: &Path, len: u64) -> Result<()> {
    if path.exists() {
        let cut = || -> std::io::Result<u64> {
            let f = OpenOptions::new().write(true).open(path)?;
            let had = f.metadata()?.len();
            if had >= len {
                f.set_len(len)?;
                f.sync_all()?;
            }
            Ok(had)
        };
        let had = cut().with_context(|| format!("cannot cut back {}", path.display()))?;
        if had < len {
            bail!(
                "{} is shorter than its checkpoint says ({had} < {len} bytes)",
                path.display()
            );
        }
    } else if len > 0 {
        bail!(
            "{} is missing but the checkpoint says it had {len} bytes",
            path.display()
        );
    }
    Ok(())
}

/// Seconds since the epoch.
pub fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The machine's host name.
pub fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown-host".into())
}

/// The CPU model, from /proc/cpuinfo.
pub fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// An exclusive claim on a run folder: host, PID, the PID's start time and a heartbeat in
/// `lock`. Released on drop, only if the lock is still this process's own.
pub struct RunLock {
    path: PathBuf,
    last_beat: u64,
}

/// A lock from another host whose heartbeat is older than this may be taken over (on this
/// host a live process keeps its lock whatever its heartbeat's age: it may be stopped).
pub const STALE_LOCK_S: u64 = 600;
const BEAT_EVERY_S: u64 = 30;

/// The stale age in force: [`STALE_LOCK_S`], or — test-only — the seconds in
/// `MPG_TEST_STALE_LOCK_S` (lets a test age a lock without waiting ten minutes).
fn stale_lock_s() -> u64 {
    std::env::var("MPG_TEST_STALE_LOCK_S")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(STALE_LOCK_S)
}

/// When process `pid` started (clock ticks since boot, field 22 of `/proc/<pid>/stat`): with
/// the PID it tells a live holder from a new process that reuses a dead holder's PID.
fn process_start(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

/// The fields of a lock file.
#[derive(Debug, Default, PartialEq)]
struct Holder {
    host: String,
    pid: u32,
    started: Option<u64>,
    heartbeat: u64,
}

impl Holder {
    fn me() -> Holder {
        let pid = std::process::id();
        Holder {
            host: hostname(),
            pid,
            started: process_start(pid),
            heartbeat: now_s(),
        }
    }

    fn parse(text: &str) -> Holder {
        let field = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(k).map(|v| v.trim().to_string()))
                .unwrap_or_default()
        };
        Holder {
            host: field("host="),
            pid: field("pid=").parse().unwrap_or(0),
            started: field("started=").parse().ok(),
            heartbeat: field("heartbeat=").parse().unwrap_or(0),
        }
    }

    fn text(&self) -> String {
        let started = self
            .started
            .map_or(String::new(), |s| format!("started={s}\n"));
        format!(
            "host={}\npid={}\n{started}heartbeat={}\n",
            self.host, self.pid, self.heartbeat
        )
    }

    /// The same process as `other` (the heartbeat aside).
    fn same_process(&self, other: &Holder) -> bool {
        self.host == other.host && self.pid == other.pid && self.started == other.started
    }

    /// Whether a process on this host holding this lock is alive: its PID exists and, where
    /// the lock records it, started when the lock says.
    fn alive_here(&self) -> bool {
        self.pid != 0
            && Path::new(&format!("/proc/{}", self.pid)).exists()
            && (self.started.is_none() || self.started == process_start(self.pid))
    }
}

impl RunLock {
    /// Take the folder's lock, or refuse naming its holder. A lock is taken over only when its
    /// holder is on this host and no longer alive (a stopped process is alive), or is on
    /// another host and its heartbeat is older than [`STALE_LOCK_S`].
    pub fn acquire(dir: &RunDir) -> Result<RunLock> {
        let path = dir.lock_file();
        let me = Holder::me();
        for _ in 0..2 {
            if fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                bail!(
                    "the lock {} is a folder, not a lock file; remove it if no run uses {}",
                    path.display(),
                    dir.root.display()
                );
            }
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    f.write_all(me.text().as_bytes())
                        .and_then(|()| f.sync_all())
                        .with_context(|| format!("cannot write the lock {}", path.display()))?;
                    return Ok(RunLock {
                        path,
                        last_beat: me.heartbeat,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = fs::read_to_string(&path)
                        .with_context(|| format!("cannot read the lock {}", path.display()))?;
                    let held = Holder::parse(&text);
                    let age = now_s().saturating_sub(held.heartbeat);
                    let free = if held.host == me.host {
                        !held.alive_here() || held.same_process(&me)
                    } else {
                        age > stale_lock_s()
                    };
                    if free {
                        fs::remove_file(&path).with_context(|| {
                            format!("cannot remove the abandoned lock {}", path.display())
                        })?;
                        continue;
                    }
                    bail!(
                        "the run folder {} is in use by process {} on host {} (heartbeat {age}s ago); \
                         wait for it to finish, or remove {} if you are sure it is gone",
                        dir.root.display(),
                        held.pid,
                        held.host,
                        path.display()
                    );
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot create {}", path.display()));
                }
            }
        }
        bail!("cannot take the lock {}", path.display())
    }

    /// Whether the lock file still names this process.
    fn still_mine(&self) -> bool {
        fs::read_to_string(&self.path).is_ok_and(|t| Holder::parse(&t).same_process(&Holder::me()))
    }

    /// An error naming the lock when it is no longer this process's (removed, or taken over
    /// by a process on another host that judged it stale).
    pub fn verify(&self) -> Result<()> {
        if !self.still_mine() {
            bail!(
                "the lock {} is no longer this process's (removed or taken over); stopping so \
                 that the run folder keeps one writer",
                self.path.display()
            );
        }
        Ok(())
    }

    /// Refresh the heartbeat (cheap: writes at most every 30 s). An error when the lock is no
    /// longer this process's (removed or taken over): the run must stop writing the folder.
    pub fn beat(&mut self) -> Result<()> {
        let now = now_s();
        if now >= self.last_beat + BEAT_EVERY_S {
            self.verify()?;
            // A failed heartbeat is not fatal: the lock is still ours, only its age grows.
            let _ = write_atomic(&self.path, Holder::me().text().as_bytes());
            self.last_beat = now;
        }
        Ok(())
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Another process's lock (one that took over a lock judged stale) is left alone.
        if self.still_mine() {
            let _ = fs::remove_file(&self.path);
        }
    }
}
