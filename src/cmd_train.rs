//! `mpg train` and `mpg config`: one algorithm on one task, into a run folder.

use crate::InputError;
use anyhow::Result;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use mpg_algos::Algo;
use mpg_envs::Task;
use mpg_runner::config::{ConfigError, TrainerKind};
use mpg_runner::evaluator::Evaluation;
use mpg_runner::run_dir::{cpu_model, hostname, now_s};
use mpg_runner::{Outcome, Progress};
use mpg_runner::{RunConfig, RunDir};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

#[derive(Args)]
pub struct TrainArgs {
    /// A run config (TOML; see `mpg config`); the defaults of --algo/--task when absent
    #[arg(long)]
    config: Option<PathBuf>,
    /// Algorithm: mpg-v1, mpg-v2, ndpg, nadp, td3, sac
    #[arg(long)]
    algo: Option<Algo>,
    /// Task: path-tracking, inverted-pendulum
    #[arg(long)]
    task: Option<Task>,
    /// The run's seed (decision D8)
    #[arg(long)]
    seed: Option<u64>,
    /// Updates to run
    #[arg(long)]
    iterations: Option<u64>,
    /// Override a config key, e.g. --set learner.critic=q1 --set eval.interval=1000
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Use the asynchronous trainer (the paper's Fig. 2 as threads; same as --set trainer=async);
    /// its threads and queues are the config's [async] section
    #[arg(long = "async")]
    use_async: bool,
    /// Learner threads of the asynchronous trainer (same as --set async.learners=N)
    #[arg(long, value_name = "N")]
    learners: Option<usize>,
    /// The run folder [default: results/runs/<task>__<algo>__s<seed>]
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the run in this folder from its last checkpoint
    #[arg(long, value_name = "DIR", conflicts_with_all = ["out", "config"])]
    resume: Option<PathBuf>,
    /// Allow --resume with a config that differs from the run's (recorded in provenance.toml)
    #[arg(long, requires = "resume")]
    allow_config_change: bool,
    /// Print nothing but errors
    #[arg(long)]
    quiet: bool,
}

#[derive(Args)]
pub struct ConfigArgs {
    /// Algorithm: mpg-v1, mpg-v2, ndpg, nadp, td3, sac
    #[arg(long)]
    algo: Algo,
    /// Task: path-tracking, inverted-pendulum
    #[arg(long)]
    task: Task,
}

fn config_error(e: ConfigError) -> anyhow::Error {
    anyhow::Error::new(InputError(e.0))
}

/// `mpg config`: the resolved defaults, every key with its documentation.
pub fn config(a: ConfigArgs) -> Result<()> {
    print!(
        "{}",
        mpg_runner::config::documented_toml(&RunConfig::defaults(a.algo, a.task))
    );
    Ok(())
}

pub fn train(mut a: TrainArgs) -> Result<()> {
    if a.use_async {
        a.sets.push("trainer=\"async\"".into());
    }
    if let Some(n) = a.learners {
        a.sets.push(format!("async.learners={n}"));
    }
    let (cfg, dir, resume) = match &a.resume {
        Some(dir) => {
            let file = RunDir::new(dir).config();
            if !file.exists() {
                return Err(crate::input_err!(
                    "{}: not a run folder (no config.toml)",
                    dir.display()
                ));
            }
            let cfg =
                RunConfig::resolve(Some(&file), a.algo, a.task, a.seed, a.iterations, &a.sets)
                    .map_err(config_error)?;
            (cfg, RunDir::new(dir), true)
        }
        None => {
            let cfg = RunConfig::resolve(
                a.config.as_deref(),
                a.algo,
                a.task,
                a.seed,
                a.iterations,
                &a.sets,
            )
            .map_err(config_error)?;
            let out = a.out.clone().unwrap_or_else(|| {
                PathBuf::from(format!(
                    "results/runs/{}__{}__s{}",
                    cfg.task, cfg.algo, cfg.seed
                ))
            });
            (cfg, RunDir::new(out), false)
        }
    };
    if a.learners.is_some() && cfg.trainer != TrainerKind::Async {
        return Err(crate::input_err!(
            "--learners sets the asynchronous trainer's learner threads: add --async (or trainer = \"async\" in the config)"
        ));
    }
    dir.prepare()
        .map_err(|e| anyhow::Error::new(InputError(format!("{e:#}"))))?;
    // Written by the trainer once the start is accepted (nothing is written before).
    let session = mpg_runner::resume::Session {
        resume,
        allow_config_change: a.allow_config_change,
        provenance: Some(provenance_session(&cfg, resume)),
    };

    // SIGINT/SIGTERM: finish the iteration, checkpoint, exit 130/143; a second one exits at
    // once (every file is written atomically or truncated back on resume).
    let sigint = Arc::new(AtomicBool::new(false));
    let sigterm = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    for (sig, flag, code) in [
        (signal_hook::consts::SIGINT, &sigint, 130),
        (signal_hook::consts::SIGTERM, &sigterm, 143),
    ] {
        signal_hook::flag::register_conditional_shutdown(sig, code, Arc::clone(&stop))?;
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
        signal_hook::flag::register(sig, Arc::clone(flag))?;
    }

    let mut progress = Bar::new(&cfg, a.quiet);
    let outcome =
        mpg_runner::run_session(&cfg, &dir, &session, stop, &mut progress).map_err(|e| {
            // A refused request (a config change a resumed run cannot take, an existing run in
            // --out, …) is a usage error: exit 2.
            if e.chain().any(|c| c.is::<mpg_runner::resume::Refused>()) {
                anyhow::Error::new(InputError(format!("{e:#}")))
            } else {
                e
            }
        })?;
    progress.finish();
    match outcome {
        Outcome::AlreadyFinished { iteration } => {
            eprintln!(
                "{} already finished its {iteration} iterations; nothing changed (give a larger --iterations with --allow-config-change to continue it)",
                dir.root.display()
            );
            Ok(())
        }
        Outcome::Finished { last } => {
            if !a.quiet {
                let ret = last.map_or("—".to_string(), |e| format!("{:.3}", e.mean_return));
                println!(
                    "finished {} on {} (seed {}): {} iterations, final evaluation return {ret}",
                    cfg.algo, cfg.task, cfg.seed, cfg.iterations
                );
                println!("results in {}", dir.root.display());
            }
            Ok(())
        }
        Outcome::Interrupted { iteration } => {
            let code = if sigterm.load(std::sync::atomic::Ordering::SeqCst) {
                143
            } else {
                130
            };
            eprintln!(
                "interrupted at iteration {iteration}; checkpoint written. Continue with: mpg train --resume {}",
                dir.root.display()
            );
            std::process::exit(code);
        }
    }
}

/// This session's `[[session]]` table for `provenance.toml`: versions, machine, threads.
fn provenance_session(cfg: &RunConfig, resumed: bool) -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut t = format!(
        "[[session]]\nstarted_at = {}\nresumed = {resumed}\ngit_commit = {:?}\nmpg_version = {:?}\ntch_version = \"0.26.0\"\nlibtorch_version = {:?}\ncpu_model = {:?}\ncores = {cores}\nintra_op_threads = {}\nhost = {:?}\n\n",
        now_s(),
        env!("MPG_GIT_COMMIT"),
        env!("CARGO_PKG_VERSION"),
        env!("MPG_LIBTORCH_VERSION"),
        cpu_model(),
        cfg.threads,
        hostname(),
    );
    if cfg.trainer == TrainerKind::Async {
        let a = &cfg.r#async;
        t.push_str(&format!(
            "trainer = \"async\"\nlearners = {}\nlearner_intra_op_threads = {}\n\n",
            a.learners, a.learner_threads
        ));
    }
    t
}

/// The progress display: a bar on a terminal, a line every 10 s otherwise, nothing if quiet.
struct Bar {
    bar: Option<ProgressBar>,
    plain: bool,
    last_line: Instant,
    last_return: Option<f64>,
}

impl Bar {
    fn new(cfg: &RunConfig, quiet: bool) -> Bar {
        let tty = std::io::stderr().is_terminal();
        let bar = (!quiet && tty).then(|| {
            let b = ProgressBar::new(cfg.iterations);
            b.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} it · {msg} · ETA {eta}",
                )
                .unwrap()
                .progress_chars("=> "),
            );
            b.set_prefix(format!("{} {}", cfg.algo, cfg.task));
            b
        });
        Bar {
            bar,
            plain: !quiet && !tty,
            last_line: Instant::now(),
            last_return: None,
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Progress for Bar {
    fn iteration(&mut self, done: u64, total: u64, rate: f64) {
        let ret = self.last_return.map_or("—".into(), |r| format!("{r:.2}"));
        if let Some(b) = &self.bar {
            b.set_position(done);
            b.set_message(format!("{rate:.1} it/s · last return {ret}"));
        } else if self.plain && self.last_line.elapsed().as_secs() >= 10 {
            self.last_line = Instant::now();
            eprintln!("iteration {done}/{total} · {rate:.1} it/s · last return {ret}");
        }
    }

    fn evaluation(&mut self, iteration: u64, eval: &Evaluation) {
        self.last_return = Some(eval.mean_return);
        if self.plain {
            eprintln!(
                "evaluation at iteration {iteration}: mean return {:.3}",
                eval.mean_return
            );
        }
    }
}

#[derive(Args)]
pub struct EvalArgs {
    /// The run folder whose last checkpoint is evaluated
    #[arg(long, value_name = "DIR")]
    run: PathBuf,
    /// Episodes (fresh resets, deterministic action, fixed length: spec §5, D7), 1 to 100 000
    #[arg(long, default_value_t = 5)]
    episodes: usize,
    /// Seed of the evaluation's resets
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// `eval --episodes` at most (documented in its help).
const MAX_EVAL_EPISODES: usize = 100_000;

/// `mpg eval`: evaluate a run's checkpoint as the trainer's evaluator does.
pub fn eval(a: EvalArgs) -> Result<()> {
    // Each episode is an agent of one batched simulator and evaluator, about 1 kB each: an
    // absurd count panicked on allocation (issue 23).
    crate::table_io::check_size("--episodes", a.episodes, MAX_EVAL_EPISODES)?;
    let t = mpg_runner::trained::Trained::load(&RunDir::new(&a.run))
        .map_err(|e| anyhow::Error::new(InputError(format!("{e:#}"))))?;
    let sim = mpg_envs::make_sim(t.cfg.task, a.episodes, a.seed, t.cfg.env.termination);
    let mut ev = mpg_runner::evaluator::Evaluator::new(
        sim,
        mpg_runner::config::EvalReset::Fresh,
        a.episodes,
    );
    let e = ev.evaluate(&t.nets);
    let std = (e
        .returns
        .iter()
        .map(|r| (r - e.mean_return).powi(2))
        .sum::<f64>()
        / e.returns.len() as f64)
        .sqrt();
    println!(
        "{} on {} at iteration {} · {} episodes · seed {}",
        t.cfg.algo, t.cfg.task, t.iteration, a.episodes, a.seed
    );
    println!("return: mean {:.4}  std {std:.4}", e.mean_return);
    for (name, v) in &e.metrics {
        println!("{name}: {v:.5}");
    }
    Ok(())
}
