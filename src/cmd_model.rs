//! `mpg model-error`: how far the prior model's rollouts drift from the simulator's.

use crate::table_io::{check_output, check_size, is_stdout, say, write_atomic};
use anyhow::Result;
use clap::Args;
use mpg_envs::Task;
use mpg_envs::policy::FixedPolicy;
use mpg_models::ModelNoise;
use mpg_models::model_error::{MAX_HORIZON, MAX_SAMPLES, ModelErrorConfig, model_error};
use std::path::PathBuf;

#[derive(Args)]
pub struct ModelErrorArgs {
    /// The task: path-tracking or inverted-pendulum (taken from the run with --run)
    #[arg(long, required_unless_present = "run")]
    task: Option<Task>,
    /// Steps compared, 1 to 10 000 (the MPG horizon is 25)
    #[arg(long, default_value_t = 25)]
    horizon: usize,
    /// Start states drawn from the reset distribution (1 to 100 000)
    #[arg(long, default_value_t = 256)]
    samples: usize,
    /// Seed of the start states and the model noise (decision D8)
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The policy both systems follow: zero or linear (spec §5; the pendulum's LQR)
    #[arg(long, default_value = "linear", conflicts_with = "run")]
    policy: FixedPolicy,
    /// Follow the trained policy of this run folder (its last checkpoint) instead
    #[arg(long, value_name = "DIR")]
    run: Option<PathBuf>,
    /// Use the model's noise (spec §1.9, §2.3) instead of the noise-free model
    #[arg(long)]
    noise: bool,
    /// Write the per-step errors as CSV
    #[arg(long)]
    output: Option<PathBuf>,
}

pub fn run(a: ModelErrorArgs) -> Result<()> {
    check_size("--horizon", a.horizon, MAX_HORIZON)?;
    check_size("--samples", a.samples, MAX_SAMPLES)?;
    if let Some(path) = &a.output {
        check_output("--output", path)?;
    }
    let (task, policy, label) = crate::cmd_env::pick_policy(a.task, a.policy, a.run.as_deref())?;
    let cfg = ModelErrorConfig {
        task,
        horizon: a.horizon,
        samples: a.samples,
        seed: a.seed,
        noise: if a.noise {
            ModelNoise::default_for(task)
        } else {
            ModelNoise::NONE
        },
    };
    let report = model_error(&cfg, &|o: &[f32], u: &mut [f32]| policy(o, u))?;
    // With `--output -` the CSV alone goes to standard output, the table to standard error.
    let quiet_stdout = a.output.as_deref().is_some_and(is_stdout);
    say(
        quiet_stdout,
        format_args!(
            "{task} · {label} · {} model · {} samples · H = {}",
            if a.noise { "noisy" } else { "noise-free" },
            a.samples,
            a.horizon
        ),
    );
    say(quiet_stdout, format_args!("{}", report.table().trim_end()));
    if let Some(path) = &a.output {
        write_atomic(path, |w| {
            report.write_csv(w)?;
            Ok(())
        })?;
        say(
            quiet_stdout,
            format_args!("per-step errors written to {}", path.display()),
        );
    }
    Ok(())
}
