//! `mpg bench`: run a benchmark profile's matrix (task × algorithm × variant × seed), each
//! cell an `mpg train` child process in its own run folder, N at a time; resumable, and
//! shardable for clusters (docs/bench.md).

use crate::InputError;
use anyhow::Result;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use mpg_harness::bench::collect::{self, Keep};
use mpg_harness::bench::estimate;
use mpg_harness::bench::scheduler::{self, CELL_CONFIG, Counts, Event, Job, Observer, Plan};
use mpg_harness::bench::select::{self, Selection};
use mpg_harness::bench::{Profile, cells, validate};
use mpg_runner::RunDir;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

#[derive(Args)]
pub struct BenchArgs {
    /// A profile: a name under bench-configs/profiles/ (paper, quick, scaling, smoke) or a path
    #[arg(long, required_unless_present = "collect")]
    profile: Option<String>,
    /// Runs at a time; each gets max(1, cores / jobs) intra-op threads [default: the cores]
    #[arg(long)]
    jobs: Option<usize>,
    /// The folder of the run folders [default: results/bench/<profile>]
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the selected cells (index, run folder name) in the matrix's stable order and exit
    #[arg(long)]
    list: bool,
    /// Run one cell, counting from 0, or a list of cells in the order given (the --jobs workers
    /// pull from it: a cell starts as soon as one is free); `env` takes one from
    /// SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX (the environment is read for nothing else)
    #[arg(long, value_name = "I|I,J,…|env", conflicts_with = "shard")]
    index: Option<String>,
    /// Run cells I, I+N, I+2N, … (0 ≤ I < N)
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// Validate, print what each selected cell needs (start, resume, skip), run nothing
    #[arg(long)]
    dry_run: bool,
    /// With --dry-run: estimate the selected cells' time on this machine from N calibration
    /// updates of each distinct configuration (minutes for the paper matrix; 0: no estimate)
    #[arg(long, value_name = "N", default_value_t = 0, requires = "dry_run")]
    calibrate: u64,
    /// Skip the cells whose finished copy is under DIR (--collect's folders, e.g.
    /// results/quick/runs: the same config, eval.csv complete), so that committed runs are not
    /// run again on a fresh clone
    #[arg(long, value_name = "DIR")]
    done: Option<PathBuf>,
    /// Run nothing: copy the finished runs under --out (of the selected cells, with a profile;
    /// every run folder there, without) into DIR for git: config.toml, provenance.toml,
    /// eval.csv, no checkpoints. Prints the runs copied (new or changed)
    #[arg(long, value_name = "DIR", conflicts_with_all = ["dry_run", "list", "done"])]
    collect: Option<PathBuf>,
    /// With --collect: keep train.csv and gradients.csv too (Fig. 6's policy-gradient times)
    #[arg(long, requires = "collect", conflicts_with = "train")]
    timings: bool,
    /// With --collect: keep train.csv too (the losses of control runs)
    #[arg(long, requires = "collect")]
    train: bool,
}

fn input(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::Error::new(InputError(e.to_string()))
}

/// `--collect DIR` without a profile: every run folder directly under --out.
fn collect_all(a: &BenchArgs, dest: &std::path::Path) -> Result<()> {
    let Some(out) = &a.out else {
        return Err(input(
            "--collect without --profile: give --out, the folder whose finished runs to copy",
        ));
    };
    if a.index.is_some() || a.shard.is_some() || a.jobs.is_some() {
        return Err(input(
            "--collect without --profile: --index, --shard and --jobs select cells of a profile; give --profile",
        ));
    }
    let runs = collect::folders_under(out).map_err(input)?;
    report_collected(&runs, dest, keep(a), out)
}

fn keep(a: &BenchArgs) -> Keep {
    match (a.timings, a.train) {
        (true, _) => Keep::Timings,
        (_, true) => Keep::Train,
        _ => Keep::Results,
    }
}

fn report_collected(
    runs: &[(String, RunDir)],
    dest: &std::path::Path,
    keep: Keep,
    out: &std::path::Path,
) -> Result<()> {
    let done = collect::collect(runs, dest, keep)?;
    for n in &done.copied {
        println!("{n}");
    }
    eprintln!(
        "collected into {}: {} copied, {} unchanged, {} not finished (left out) of {} run folders under {}",
        dest.display(),
        done.copied.len(),
        done.unchanged,
        done.unfinished.len(),
        runs.len(),
        out.display()
    );
    Ok(())
}

pub fn bench(a: BenchArgs) -> Result<()> {
    let Some(profile_arg) = &a.profile else {
        // clap requires --profile unless --collect is given
        let dest = a.collect.clone().expect("--collect without --profile");
        return collect_all(&a, &dest);
    };
    let profile = Profile::load(profile_arg).map_err(input)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs = a.jobs.unwrap_or(cores);
    if jobs == 0 {
        return Err(input("--jobs: must be at least 1"));
    }
    let threads = (cores / jobs).max(1);
    let all = cells(&profile);
    // Every cell's config is resolved and checked before anything starts.
    let configs = validate(&profile, &all, threads).map_err(input)?;
    let selection = match (&a.index, &a.shard) {
        (Some(i), _) if i.contains(',') => select::parse_list(i).map_err(input)?,
        (Some(i), _) => {
            Selection::Index(select::parse_index(i, |v| std::env::var(v).ok()).map_err(input)?)
        }
        (None, Some(s)) => select::parse_shard(s).map_err(input)?,
        (None, None) => Selection::All,
    };
    let chosen = select::select(&all, selection).map_err(input)?;
    if a.list {
        // a closed pipe (`--list | head`) ends the listing quietly: main's quiet_on_broken_pipe
        for c in &chosen {
            println!("{}\t{}", c.index, c.name());
        }
        return Ok(());
    }
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results/bench").join(&profile.name));
    if let Some(dest) = &a.collect {
        // the selected cells' folders that hold the finished run of the profile's config
        let mut runs = Vec::new();
        for c in &chosen {
            let dir = RunDir::new(out.join(c.name()));
            match scheduler::inspect(&dir, &configs[c.index]) {
                Plan::Conflict(why) => return Err(input(why)),
                Plan::Skip | Plan::Resume { .. } | Plan::Locked(_) => runs.push((c.name(), dir)),
                Plan::Start => {}
            }
        }
        return report_collected(&runs, dest, keep(&a), &out);
    }

    // What each cell needs; a folder holding another run is an error before anything starts.
    let plans: Vec<_> = chosen
        .iter()
        .map(|c| {
            let dir = RunDir::new(out.join(c.name()));
            let kept = a
                .done
                .as_ref()
                .is_some_and(|d| scheduler::committed(&d.join(c.name()), &configs[c.index]));
            let plan = if kept {
                Plan::Skip
            } else {
                scheduler::inspect(&dir, &configs[c.index])
            };
            (*c, dir, plan)
        })
        .collect();
    let conflicts: Vec<String> = plans
        .iter()
        .filter_map(|(_, _, p)| match p {
            Plan::Conflict(why) => Some(format!("  {why}")),
            _ => None,
        })
        .collect();
    if !conflicts.is_empty() {
        return Err(input(format!(
            "{} run folder(s) under {} do not match profile {}:\n{}",
            conflicts.len(),
            out.display(),
            profile.path.display(),
            conflicts.join("\n")
        )));
    }
    if a.dry_run {
        for (c, _, p) in &plans {
            let what = match p {
                Plan::Start => "start".to_string(),
                Plan::Resume { done, .. } => format!("resume from iteration {done}"),
                Plan::Skip => "finished: skip".to_string(),
                Plan::Locked(_) => "locked by another process: skip".to_string(),
                Plan::Conflict(_) => unreachable!("refused above"),
            };
            println!("{}\t{}\t{what}", c.index, c.name());
        }
        println!(
            "{} of {} cells selected · {} iterations each · {jobs} at a time × {threads} intra-op threads · into {}",
            plans.len(),
            all.len(),
            profile.iterations,
            out.display()
        );
        if a.calibrate == 0 {
            println!("add --calibrate N (e.g. 200) for an estimate of the time on this machine");
            return Ok(());
        }
        let pending: Vec<_> = (plans.iter())
            .filter_map(|(c, _, p)| {
                let (remaining, fresh) = match p {
                    Plan::Start => (c.iterations, true),
                    Plan::Resume { done, .. } => (c.iterations.saturating_sub(*done), false),
                    _ => return None,
                };
                let cfg = &configs[c.index];
                Some(estimate::Pending {
                    cell: c,
                    cfg,
                    remaining,
                    fresh,
                })
            })
            .collect();
        let est = estimate::estimate(&pending, a.calibrate.max(2), jobs, |m| eprintln!("{m}"))?;
        print!("{}", est.render(a.calibrate.max(2)));
        return Ok(());
    }

    let exe = std::env::current_exe()?;
    let mut counts = Counts {
        total: plans.len(),
        ..Counts::default()
    };
    let mut queue = Vec::new();
    for (c, dir, plan) in plans {
        let mut cmd = Command::new(&exe);
        let mut write_first = None;
        let done_before = match plan {
            Plan::Skip => {
                counts.skipped += 1;
                continue;
            }
            Plan::Locked(why) => {
                counts.locked += 1;
                eprintln!("skipping {}: {why}", c.name());
                continue;
            }
            Plan::Conflict(_) => unreachable!("refused above"),
            Plan::Start => {
                // A new folder is checked writable now; the cell's config is written only
                // when it starts, under the folder's lock (scheduler::spawn).
                if !dir.root.exists() {
                    dir.prepare().map_err(input)?;
                }
                let file = dir.root.join(CELL_CONFIG);
                write_first = Some((file.clone(), configs[c.index].to_toml().into_bytes()));
                cmd.arg("train")
                    .arg("--config")
                    .arg(&file)
                    .arg("--out")
                    .arg(&dir.root);
                0
            }
            Plan::Resume {
                done,
                threads_changed,
            } => {
                cmd.arg("train").arg("--resume").arg(&dir.root);
                if threads_changed {
                    // Intra-op threads follow --jobs; the change is noted in provenance.toml.
                    cmd.arg("--set")
                        .arg(format!("threads={threads}"))
                        .arg("--allow-config-change");
                }
                done
            }
        };
        cmd.arg("--quiet");
        queue.push(Job {
            name: c.name(),
            dir,
            command: cmd,
            write_first,
            total: c.iterations,
            done_before,
            weight: estimate::update_weight(configs[c.index].algo),
        });
    }
    eprintln!(
        "bench {}: {} cells selected of {} · {} to run · {jobs} at a time × {threads} intra-op threads · into {}",
        profile.name,
        counts.total,
        all.len(),
        queue.len(),
        out.display()
    );

    // SIGINT/SIGTERM: no new run starts; each signal is forwarded once to the running ones.
    let signals = Arc::new(AtomicUsize::new(0));
    let first_signal = Arc::new(AtomicI32::new(0));
    {
        let mut it = signal_hook::iterator::Signals::new([
            signal_hook::consts::SIGINT,
            signal_hook::consts::SIGTERM,
        ])?;
        let (signals, first) = (Arc::clone(&signals), Arc::clone(&first_signal));
        std::thread::spawn(move || {
            for s in it.forever() {
                let _ = first.compare_exchange(0, s, Ordering::SeqCst, Ordering::SeqCst);
                signals.fetch_add(1, Ordering::SeqCst);
            }
        });
    }
    let mut display = Display::new(counts.total);
    let summary = scheduler::run(queue, jobs, counts, &signals, &mut display);
    display.finish();

    let c = &summary.counts;
    println!(
        "bench {}: {} finished, {} skipped (already finished), {} failed, {} locked by another process, {} interrupted · run folders in {}",
        profile.name,
        c.finished,
        c.skipped,
        c.failed,
        c.locked,
        c.interrupted,
        out.display()
    );
    if summary.interrupted {
        eprintln!(
            "interrupted: the running cells checkpointed; the same command resumes the matrix"
        );
        let code = if first_signal.load(Ordering::SeqCst) == signal_hook::consts::SIGTERM {
            143
        } else {
            130
        };
        std::process::exit(code);
    }
    if !summary.failures.is_empty() {
        for (name, why) in &summary.failures {
            eprintln!("failed: {name}: {why}");
        }
        anyhow::bail!(
            "{} of {} runs failed (listed above); the same command retries them from their checkpoints",
            summary.failures.len(),
            c.total
        );
    }
    if c.locked == 0 {
        println!("next: mpg report --runs {}", out.display());
    }
    Ok(())
}

/// Without a terminal (a log file, a batch job), the counts and the ETA are printed again
/// after this long even when nothing else changed: a matrix's first cells can run for more
/// than an hour, and a reader of the log should see that it is alive and how far it has got.
const LOG_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// A bar on a terminal; otherwise one line per change of the counts, per event, and at least
/// one per [`LOG_EVERY`].
struct Display {
    bar: Option<ProgressBar>,
    last: Option<(Counts, std::time::Instant)>,
}

/// Whether a log line is due: the counts (the ETA aside) changed since the last line, or that
/// line is older than `every`.
fn log_due(
    last: Option<&(Counts, std::time::Instant)>,
    key: &Counts,
    now: std::time::Instant,
    every: std::time::Duration,
) -> bool {
    match last {
        None => true,
        Some((k, at)) => k != key || now.duration_since(*at) >= every,
    }
}

impl Display {
    fn new(total: usize) -> Display {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = ProgressBar::new(total as u64);
            b.set_style(
                ProgressStyle::with_template("[{elapsed_precise}] [{bar:25}] {msg}")
                    .unwrap()
                    .progress_chars("=> "),
            );
            b.enable_steady_tick(std::time::Duration::from_secs(1));
            b
        });
        Display { bar, last: None }
    }

    fn show(&mut self, c: &Counts, line: Option<String>) {
        match &self.bar {
            Some(b) => {
                if let Some(l) = line {
                    b.println(l);
                }
                b.set_position((c.finished + c.skipped + c.failed + c.locked) as u64);
                b.set_message(c.line());
            }
            None => {
                // The ETA alone changing is not a change worth a line.
                let key = Counts {
                    eta_s: None,
                    ..c.clone()
                };
                let now = std::time::Instant::now();
                if let Some(l) = line {
                    eprintln!("{l}");
                } else if !log_due(self.last.as_ref(), &key, now, LOG_EVERY) {
                    return;
                }
                eprintln!("{}", c.line());
                self.last = Some((key, now));
            }
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Observer for Display {
    fn event(&mut self, e: &Event, c: &Counts) {
        let line = match e {
            Event::Started(n) => format!("started {n}"),
            Event::Finished { name, secs } => {
                format!("finished {name} in {}", scheduler::hms(*secs))
            }
            Event::Failed { name, why } => format!("FAILED {name}: {why}"),
            Event::Locked { name, why } => format!("skipped {name}: {why}"),
            Event::Interrupted(n) => format!("interrupted {n} (checkpointed)"),
        };
        self.show(c, Some(line));
    }

    fn tick(&mut self, c: &Counts) {
        self.show(c, None);
    }
}

#[cfg(test)]
mod tests {
    use super::{Counts, log_due};
    use std::time::{Duration, Instant};

    #[test]
    fn a_log_line_is_due_on_a_change_or_after_the_interval() {
        let every = Duration::from_secs(600);
        let t0 = Instant::now();
        let a = Counts {
            total: 4,
            running: 2,
            pending: 2,
            ..Counts::default()
        };
        assert!(log_due(None, &a, t0, every));
        let last = (a.clone(), t0);
        // the same counts: quiet until the interval has passed
        assert!(!log_due(
            Some(&last),
            &a,
            t0 + Duration::from_secs(599),
            every
        ));
        assert!(log_due(Some(&last), &a, t0 + every, every));
        // a change is printed at once
        let b = Counts {
            finished: 1,
            running: 1,
            ..a.clone()
        };
        assert!(log_due(Some(&last), &b, t0 + Duration::from_secs(1), every));
    }
}
