//! Running the matrix: what each cell's run folder needs (start, resume, skip), then the runs
//! as `mpg train` child processes, N at a time, with counts and an ETA for a display.
//!
//! Each run is its own process because tch's seed and thread settings are process-wide. The
//! children get their own process group, so a Ctrl-C on the terminal reaches only the bench,
//! which forwards exactly one SIGINT per signal it receives: a child checkpoints and exits 130
//! on the first (a second would make it exit at once).

use mpg_runner::run_dir::{RunDir, RunLock, write_atomic};
use mpg_runner::{RunConfig, Status};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The per-cell file the bench writes into the run folder and passes to `mpg train --config`.
pub const CELL_CONFIG: &str = "bench-cell.toml";
/// The children's stdout and stderr, appended per session.
pub const CELL_LOG: &str = "bench.log";

/// What a cell's run folder needs.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// No run yet: `mpg train --config … --out …`.
    Start,
    /// A run with the same config that did not finish: `mpg train --resume`, from `done`
    /// iterations (its last `train.csv` row). `threads` differs when --jobs changed.
    Resume { done: u64, threads_changed: bool },
    /// Finished with the same config.
    Skip,
    /// Another live process holds the folder's lock.
    Locked(String),
    /// The folder holds something else (another config, or files without a config).
    Conflict(String),
}

/// Decide what `dir` needs to become the finished run of `cfg`. Intra-op threads are not part
/// of the comparison: `--jobs` may differ between invocations.
pub fn inspect(dir: &RunDir, cfg: &RunConfig) -> Plan {
    if !dir.config().exists() {
        if dir.eval_csv().exists() || dir.checkpoint().exists() {
            return Plan::Conflict(format!(
                "{} holds run files but no config.toml; remove it to start the cell afresh",
                dir.root.display()
            ));
        }
        // a folder without a config may be a run just starting (its `mpg train` holds the
        // lock and has not yet written config.toml): nothing of it is touched then
        if dir.root.exists()
            && let Err(e) = RunLock::acquire(dir)
        {
            return Plan::Locked(format!("{e:#}"));
        }
        return Plan::Start;
    }
    let saved: RunConfig = match std::fs::read_to_string(dir.config())
        .map_err(|e| e.to_string())
        .and_then(|t| toml::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(c) => c,
        Err(e) => {
            return Plan::Conflict(format!(
                "{}: config.toml is not a run config of this version ({e})",
                dir.root.display()
            ));
        }
    };
    let same = with_threads(&saved, cfg.threads);
    if same != *cfg {
        return Plan::Conflict(format!(
            "{} holds a run with another config (differs in: {}); remove the folder, choose another --out, or restore the profile",
            dir.root.display(),
            crate::report::load::differing_keys(&same, cfg).join(", ")
        ));
    }
    if dir.read_status().as_deref() == Some(Status::Finished.line().as_str()) {
        return Plan::Skip;
    }
    // Taking the lock and releasing it at once: fails only while a live process holds it.
    if let Err(e) = RunLock::acquire(dir) {
        return Plan::Locked(format!("{e:#}"));
    }
    Plan::Resume {
        done: last_iteration(&dir.train_csv()),
        threads_changed: saved.threads != cfg.threads,
    }
}

/// Whether `dir` holds a finished copy of the run of `cfg` as `mpg bench --collect` keeps
/// it (config.toml, provenance.toml, an eval.csv reaching the iterations; what `mpg report`
/// accepts), with the same config but for the intra-op threads.
pub fn committed(dir: &std::path::Path, cfg: &RunConfig) -> bool {
    match crate::report::load::read_run(dir, "") {
        Ok(run) => with_threads(&run.config, cfg.threads) == *cfg,
        Err(_) => false,
    }
}

/// `cfg` with the intra-op `threads` replaced: the runs of a cell compare without them (`--jobs`
/// may differ between invocations).
fn with_threads(cfg: &RunConfig, threads: usize) -> RunConfig {
    let mut c = cfg.clone();
    c.threads = threads;
    c
}

/// The iteration of a `train.csv`'s last row (its first column), 0 when there is none. Reads
/// only the file's tail.
pub fn last_iteration(path: &Path) -> u64 {
    let Ok(mut f) = std::fs::File::open(path) else {
        return 0;
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(4096);
    let mut buf = String::new();
    if f.seek(SeekFrom::Start(start)).is_err() || f.read_to_string(&mut buf).is_err() {
        return 0;
    }
    buf.lines()
        .rev()
        .find_map(|l| l.split(',').next()?.trim().parse().ok())
        .unwrap_or(0)
}

/// One child to run.
pub struct Job {
    pub name: String,
    pub dir: RunDir,
    /// `mpg train …` with its arguments; stdout and stderr are sent to the folder's `bench.log`.
    pub command: Command,
    /// A file written into the folder just before the start, under the folder's lock
    /// (`bench-cell.toml` of a new cell): path and content.
    pub write_first: Option<(std::path::PathBuf, Vec<u8>)>,
    /// Iterations of the run, and those done before this invocation (for the ETA).
    pub total: u64,
    pub done_before: u64,
    /// What one of its iterations costs beside the other jobs' (`estimate::update_weight`):
    /// the ETA counts work in these units, so that a matrix whose algorithms differ eight-fold
    /// in cost per update is not estimated at the rate of whichever cells ran first.
    pub weight: f64,
}

/// The state of the whole selection, for the display.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counts {
    pub total: usize,
    /// Finished in this invocation.
    pub finished: usize,
    /// Found finished and skipped.
    pub skipped: usize,
    pub failed: usize,
    /// Held by another live process, skipped.
    pub locked: usize,
    pub interrupted: usize,
    pub running: usize,
    pub pending: usize,
    /// Seconds left at the rate of this invocation so far ([`eta_s`]).
    pub eta_s: Option<f64>,
}

impl Counts {
    /// One line: `3/12 done (1 skipped) · 2 running · 7 pending · 0 failed · ETA 1h02m`.
    pub fn line(&self) -> String {
        let mut s = format!("{}/{} done", self.finished + self.skipped, self.total);
        if self.skipped > 0 {
            s += &format!(" ({} skipped)", self.skipped);
        }
        s += &format!(
            " · {} running · {} pending · {} failed",
            self.running, self.pending, self.failed
        );
        if self.locked > 0 {
            s += &format!(" · {} locked elsewhere", self.locked);
        }
        if self.interrupted > 0 {
            s += &format!(" · {} interrupted", self.interrupted);
        }
        s += &format!(" · ETA {}", self.eta_s.map_or("—".into(), hms));
        s
    }
}

/// Seconds left: the work still to do at the rate of the work done so far in `elapsed_s`,
/// work being iterations × the job's weight (`(iterations, weight)` pairs); `None` before
/// any is done.
pub fn eta_s(done: &[(u64, f64)], left: &[(u64, f64)], elapsed_s: f64) -> Option<f64> {
    let work = |v: &[(u64, f64)]| v.iter().map(|&(n, w)| n as f64 * w).sum::<f64>();
    let rate = work(done) / elapsed_s.max(1e-3);
    (rate > 0.0).then(|| work(left) / rate)
}

/// `1h02m`, `4m05s`, `12s`.
pub fn hms(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, m, sec) => format!("{m}m{sec:02}s"),
        (h, m, _) => format!("{h}h{m:02}m"),
    }
}

/// What happened to a run.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Started(String),
    Finished {
        name: String,
        secs: f64,
    },
    /// Exit status and the tail of its `bench.log`.
    Failed {
        name: String,
        why: String,
    },
    /// Refused because another process holds its folder.
    Locked {
        name: String,
        why: String,
    },
    /// Stopped by a forwarded signal, checkpointed; a later bench resumes it.
    Interrupted(String),
}

/// Receives the events and, about once a second, the counts.
pub trait Observer {
    fn event(&mut self, e: &Event, c: &Counts);
    fn tick(&mut self, _c: &Counts) {}
}

/// How the invocation ended.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub counts: Counts,
    /// (cell, why) of every failed run.
    pub failures: Vec<(String, String)>,
    /// Whether a signal stopped it.
    pub interrupted: bool,
}

struct Running {
    job: Job,
    child: Child,
    started: Instant,
    done: u64,
}

/// Run `jobs` in order, `parallel` at a time. `signals` counts the SIGINT/SIGTERM the caller
/// received: on the first no new run starts, and each one is forwarded once to every child.
/// `counts` carries what the planning already knows (skipped, locked).
pub fn run(
    jobs: Vec<Job>,
    parallel: usize,
    mut counts: Counts,
    signals: &AtomicUsize,
    obs: &mut dyn Observer,
) -> Summary {
    let parallel = parallel.max(1);
    let t0 = Instant::now();
    let mut pending: std::collections::VecDeque<Job> = jobs.into();
    let mut running: Vec<Running> = Vec::new();
    let mut failures = Vec::new();
    let mut forwarded = 0;
    // (iterations, weight) of the runs that ended in this invocation
    let mut progressed_done: Vec<(u64, f64)> = Vec::new();
    let mut last_tick = Instant::now() - Duration::from_secs(10);
    counts.pending = pending.len();
    loop {
        let sig = signals.load(Ordering::SeqCst);
        while forwarded < sig {
            forwarded += 1;
            for r in &running {
                // `kill` rather than libc: the workspace denies unsafe code.
                let _ = Command::new("kill")
                    .args(["-INT", &r.child.id().to_string()])
                    .status();
            }
        }
        // Start what fits.
        while sig == 0 && running.len() < parallel {
            let Some(mut job) = pending.pop_front() else {
                break;
            };
            counts.pending = pending.len();
            match spawn(&mut job) {
                Err(Spawn::Locked(why)) => {
                    counts.locked += 1;
                    obs.event(
                        &Event::Locked {
                            name: job.name,
                            why,
                        },
                        &counts,
                    );
                }
                Ok(child) => {
                    counts.running += 1;
                    obs.event(&Event::Started(job.name.clone()), &counts);
                    running.push(Running {
                        done: job.done_before,
                        job,
                        child,
                        started: Instant::now(),
                    });
                }
                Err(Spawn::Failed(why)) => {
                    counts.failed += 1;
                    failures.push((job.name.clone(), why.clone()));
                    obs.event(
                        &Event::Failed {
                            name: job.name,
                            why,
                        },
                        &counts,
                    );
                }
            }
        }
        // Reap what ended.
        let mut i = 0;
        while i < running.len() {
            let status = match running[i].child.try_wait() {
                Ok(Some(status)) => Ok(status),
                Ok(None) => {
                    i += 1;
                    continue;
                }
                Err(e) => Err(format!("cannot poll the child process: {e}")),
            };
            let r = running.swap_remove(i);
            counts.running -= 1;
            progressed_done.push((
                last_iteration(&r.job.dir.train_csv())
                    .max(r.done)
                    .saturating_sub(r.job.done_before),
                r.job.weight,
            ));
            let event = match status {
                Ok(status) => classify(&r, status, sig > 0),
                Err(why) => Event::Failed {
                    name: r.job.name.clone(),
                    why,
                },
            };
            match &event {
                Event::Finished { .. } => counts.finished += 1,
                Event::Failed { name, why } => {
                    counts.failed += 1;
                    failures.push((name.clone(), why.clone()));
                }
                Event::Locked { .. } => counts.locked += 1,
                Event::Interrupted(_) => counts.interrupted += 1,
                Event::Started(_) => {}
            }
            if running.is_empty() && pending.is_empty() {
                counts.eta_s = Some(0.0);
            }
            obs.event(&event, &counts);
        }
        if running.is_empty() && (pending.is_empty() || sig > 0) {
            counts.pending = pending.len();
            counts.eta_s = (pending.is_empty()).then_some(0.0);
            break;
        }
        if last_tick.elapsed() >= Duration::from_secs(1) {
            last_tick = Instant::now();
            let mut progressed = progressed_done.clone();
            let mut remaining: Vec<(u64, f64)> = pending
                .iter()
                .map(|j| (j.total - j.done_before.min(j.total), j.weight))
                .collect();
            for r in &mut running {
                r.done = last_iteration(&r.job.dir.train_csv()).max(r.done);
                progressed.push((r.done.saturating_sub(r.job.done_before), r.job.weight));
                remaining.push((r.job.total.saturating_sub(r.done), r.job.weight));
            }
            counts.eta_s = eta_s(&progressed, &remaining, t0.elapsed().as_secs_f64());
            obs.tick(&counts);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Summary {
        counts,
        failures,
        interrupted: signals.load(Ordering::SeqCst) > 0,
    }
}

/// Why a job did not start.
enum Spawn {
    /// Another live process holds the folder's lock: nothing of the folder was written.
    Locked(String),
    Failed(String),
}

/// Start a job: the folder's lock is taken first, and only while it is held are the job's first
/// file and its `bench.log` written (issue 23: a concurrent bench never writes into a cell
/// another process runs); the lock is released just before the child, which takes it itself.
fn spawn(job: &mut Job) -> Result<Child, Spawn> {
    let root = &job.dir.root;
    std::fs::create_dir_all(root)
        .map_err(|e| Spawn::Failed(format!("cannot create {}: {e}", root.display())))?;
    let lock = RunLock::acquire(&job.dir).map_err(|e| {
        let why = format!("{e:#}");
        if why.contains("is in use by process") {
            Spawn::Locked(why)
        } else {
            Spawn::Failed(why)
        }
    })?;
    if let Some((path, bytes)) = &job.write_first {
        write_atomic(path, bytes).map_err(|e| Spawn::Failed(format!("{e:#}")))?;
    }
    let log_path = root.join(CELL_LOG);
    let open = || {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
    };
    let (out, err) = match (open(), open()) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            return Err(Spawn::Failed(format!(
                "cannot write {}: {e}",
                log_path.display()
            )));
        }
    };
    drop(lock);
    job.command
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .process_group(0)
        .spawn()
        .map_err(|e| Spawn::Failed(format!("cannot start {:?}: {e}", job.command.get_program())))
}

/// The event for a child that exited with `status`.
fn classify(r: &Running, status: ExitStatus, signalled: bool) -> Event {
    let name = r.job.name.clone();
    if status.success() {
        return Event::Finished {
            name,
            secs: r.started.elapsed().as_secs_f64(),
        };
    }
    let tail = log_tail(&r.job.dir.root.join(CELL_LOG), 15);
    if tail.contains("is in use by process") {
        return Event::Locked { name, why: tail };
    }
    // 130/143: checkpointed and stopped; killed by SIGINT itself: it had not yet installed its
    // handler (still starting), so there was nothing to checkpoint.
    if signalled && (matches!(status.code(), Some(130) | Some(143)) || status.signal() == Some(2)) {
        return Event::Interrupted(name);
    }
    let what = match status.code() {
        Some(c) => format!("exit status {c}"),
        None => "killed by a signal".to_string(),
    };
    Event::Failed {
        name,
        why: format!(
            "{what}; last lines of {}:\n{tail}",
            r.job.dir.root.join(CELL_LOG).display()
        ),
    }
}

/// The last `n` lines of a file (those written by the last session are what matter).
pub fn log_tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
