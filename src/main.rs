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

fn main() -> ExitCode {
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
