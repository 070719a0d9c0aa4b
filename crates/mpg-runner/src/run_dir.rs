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

/// Append lines to a CSV, writing the header first when the file is new or empty.
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
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot append to {}", path.display()))?;
    f.write_all(&out)?;
    f.sync_data()?;
    Ok(())
}

/// The length of a file, 0 when absent.
pub fn file_len(path: &Path) -> u64 {
    fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Cut a file back to `len` bytes (rows past the last checkpoint are dropped on resume).
pub fn truncate(path: &Path, len: u64) -> Result<()> {
    if path.exists() {
        let f = OpenOptions::new().write(true).open(path)?;
        if f.metadata()?.len() < len {
            bail!(
                "{} is shorter than its checkpoint says ({} < {len} bytes)",
                path.display(),
                f.metadata()?.len()
            );
        }
        f.set_len(len)?;
        f.sync_all()?;
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

/// An exclusive claim on a run folder: host, PID and a heartbeat in `lock`. Dropped on release.
pub struct RunLock {
    path: PathBuf,
    last_beat: u64,
}

/// A lock older than this (no heartbeat) may be taken over from another host.
pub const STALE_LOCK_S: u64 = 600;
const BEAT_EVERY_S: u64 = 30;

impl RunLock {
    /// Take the folder's lock, or refuse naming its holder. A lock is taken over only when its
    /// holder is a dead process on this host, or its heartbeat is older than [`STALE_LOCK_S`].
    pub fn acquire(dir: &RunDir) -> Result<RunLock> {
        let path = dir.lock_file();
        let me = hostname();
        for _ in 0..2 {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    let now = now_s();
                    f.write_all(lock_text(&me, std::process::id(), now).as_bytes())?;
                    f.sync_all()?;
                    return Ok(RunLock {
                        path,
                        last_beat: now,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = fs::read_to_string(&path).unwrap_or_default();
                    let field = |k: &str| {
                        text.lines()
                            .find_map(|l| l.strip_prefix(k).map(|v| v.trim().to_string()))
                            .unwrap_or_default()
                    };
                    let (host, pid, beat) = (field("host="), field("pid="), field("heartbeat="));
                    let pid_n: u32 = pid.parse().unwrap_or(0);
                    let beat_n: u64 = beat.parse().unwrap_or(0);
                    let dead_here =
                        host == me && pid_n != 0 && !Path::new(&format!("/proc/{pid_n}")).exists();
                    let stale = now_s().saturating_sub(beat_n) > STALE_LOCK_S;
                    if dead_here || stale || pid_n == std::process::id() && host == me {
                        fs::remove_file(&path)?;
                        continue;
                    }
                    bail!(
                        "the run folder {} is in use by process {pid} on host {host} (heartbeat {}s ago); \
                         wait for it to finish, or remove {} if you are sure it is gone",
                        dir.root.display(),
                        now_s().saturating_sub(beat_n),
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

    /// Refresh the heartbeat (cheap: writes at most every 30 s).
    pub fn beat(&mut self) {
        let now = now_s();
        if now >= self.last_beat + BEAT_EVERY_S {
            let _ = write_atomic(
                &self.path,
                lock_text(&hostname(), std::process::id(), now).as_bytes(),
            );
            self.last_beat = now;
        }
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

fn lock_text(host: &str, pid: u32, beat: u64) -> String {
    format!("host={host}\npid={pid}\nheartbeat={beat}\n")
}
