//! `mpg`: the command-line front of the workspace. Each subcommand is a short function over
//! library calls; errors are printed once, with their chain, and pick the exit code here:
//! 2 for bad input (usage, files, values), 1 for everything else.

mod cmd_bench;
mod cmd_env;
mod cmd_model;
mod cmd_report;
mod cmd_train;
mod table_io;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Mixed Policy Gradient: simulators, prior models, learners and the paper's benchmark.
#[derive(Parser)]
#[command(name = "mpg", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Step, roll out and check the tasks' simulators
    #[command(subcommand)]
    Env(cmd_env::EnvCommand),
    /// Train one algorithm on one task into a run folder (resumable)
    Train(cmd_train::TrainArgs),
    /// Measure the prior model's error against the simulator along rollouts (Condition 1's c_m)
    ModelError(cmd_model::ModelErrorArgs),
    /// Evaluate a run's last checkpoint (deterministic episodes, spec §5)
    Eval(cmd_train::EvalArgs),
    /// Print the default run config of an algorithm and task, every key documented
    Config(cmd_train::ConfigArgs),
    /// Run a benchmark profile's matrix of runs, N at a time (resumable, shardable)
    Bench(cmd_bench::BenchArgs),
    /// Build Table I, the learning curves and the report from run folders
    Report(cmd_report::ReportArgs),
}

/// An error caused by the user's input: exit code 2, like clap's usage errors.
#[derive(Debug)]
pub struct InputError(pub String);

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for InputError {}

/// Shorthand for returning an [`InputError`].
#[macro_export]
macro_rules! input_err {
    ($($arg:tt)*) => { anyhow::Error::new($crate::InputError(format!($($arg)*))) };
}

/// Make libtorch's OpenMP workers sleep instead of spin (issue 23). libgomp reads
/// `OMP_WAIT_POLICY` and `GOMP_SPINCOUNT` once, when the library is loaded, before `main`:
/// unset, its idle workers busy-wait, and with `threads = 2` beside other work on two cores a
/// training run fell from about 90 to 0.5 iterations/s. So when the user has not chosen a wait
/// policy, the program replaces itself once (same process id, arguments and descriptors) with
/// the policy set to PASSIVE and no spinning; a policy the user set is respected, which also
/// ends the recursion. If the re-exec fails the program simply carries on.
fn sleep_not_spin() {
    use std::os::unix::process::CommandExt;
    if std::env::var_os("OMP_WAIT_POLICY").is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let mut cmd = std::process::Command::new(exe);
    if let Some(arg0) = args.next() {
        cmd.arg0(arg0);
    }
    cmd.args(args).env("OMP_WAIT_POLICY", "PASSIVE");
    if std::env::var_os("GOMP_SPINCOUNT").is_none() {
        cmd.env("GOMP_SPINCOUNT", "0");
    }
    // `exec` returns only on failure.
    let _ = cmd.exec();
}

/// A reader that stops early (`mpg config … | head -3`, `mpg bench --list | head`) closes the
/// pipe, and Rust's `println!` then panics ("failed printing to stdout: Broken pipe"): exit 101 and a panic
/// message for what `head` and every Unix tool treat as the normal end of a reader. The printed
/// lines are summaries and listings; the files a command writes never depend on them (they are
/// written atomically before the summary, or by child processes). So that one panic ends the
/// program quietly with success, as `grep` or `ripgrep` do; every other panic is reported as
/// before.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // `payload_as_str` would do this from Rust 1.91; rust-version is 1.89
        let p = info.payload();
        let msg = (p.downcast_ref::<String>().map(String::as_str))
            .or_else(|| p.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info)
    }));
}

fn main() -> ExitCode {
    sleep_not_spin();
    quiet_on_broken_pipe();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Env(c) => cmd_env::run(c),
        Command::Train(a) => cmd_train::train(a),
        Command::Config(a) => cmd_train::config(a),
        Command::ModelError(a) => cmd_model::run(a),
        Command::Eval(a) => cmd_train::eval(a),
        Command::Bench(a) => cmd_bench::bench(a),
        Command::Report(a) => cmd_report::report(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            if e.chain().any(|c| c.is::<InputError>()) {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
