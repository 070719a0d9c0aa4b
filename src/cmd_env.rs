//! `mpg env …`: the simulators (and, with `--model`, the prior models) on users' data.

use crate::input_err;
use crate::table_io::{read_obs_act, write_atomic};
use anyhow::Result;
use clap::{Args, Subcommand};
use mpg_envs::policy::FixedPolicy;
use mpg_envs::{Task, Termination, make_sim};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Subcommand)]
pub enum EnvCommand {
    /// One step from each row of a CSV (columns o0.., u0..; others ignored): writes the rows
    /// back with reward, done and the next observation n0..
    Step(StepArgs),
    /// Roll a fixed policy over fresh episodes (done ignored, fixed length: decision D18) and
    /// print the mean return and the simulator's throughput
    Rollout(RolloutArgs),
}

#[derive(Args)]
pub struct StepArgs {
    /// The task: path-tracking or inverted-pendulum
    #[arg(long)]
    task: Task,
    /// Input CSV with the observation columns o0.. and the action columns u0..
    #[arg(long)]
    input: PathBuf,
    /// Output CSV (written whole or not at all)
    #[arg(long)]
    output: PathBuf,
    /// Path tracking termination rule (decision D1): paper or corrected
    #[arg(long, default_value = "paper")]
    termination: Termination,
}

#[derive(Args)]
pub struct RolloutArgs {
    /// The task: path-tracking or inverted-pendulum
    #[arg(long)]
    task: Task,
    /// The policy: zero, or linear (the task's state-feedback controller, spec §5)
    #[arg(long, default_value = "linear")]
    policy: FixedPolicy,
    /// Steps per episode (default: the task's evaluation length, 200 or 100)
    #[arg(long)]
    steps: Option<usize>,
    /// Episodes, run in parallel as agents of one batched simulator
    #[arg(long, default_value_t = 256)]
    agents: usize,
    /// Seed of the reset distribution (decision D8)
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Threads stepping the simulator
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Write every transition as CSV (agent, step, o.., u.., reward, done, n..): the format
    /// `mpg env step` reads
    #[arg(long)]
    output: Option<PathBuf>,
}

pub fn run(cmd: EnvCommand) -> Result<()> {
    match cmd {
        EnvCommand::Step(a) => step(a),
        EnvCommand::Rollout(a) => rollout(a),
    }
}

fn header(obs_dim: usize, act_dim: usize, with_agent: bool) -> Vec<String> {
    let mut h: Vec<String> = Vec::new();
    if with_agent {
        h.extend(["agent".to_string(), "step".to_string()]);
    }
    h.extend((0..obs_dim).map(|i| format!("o{i}")));
    h.extend((0..act_dim).map(|i| format!("u{i}")));
    h.extend(["reward".to_string(), "done".to_string()]);
    h.extend((0..obs_dim).map(|i| format!("n{i}")));
    h
}

fn step(a: StepArgs) -> Result<()> {
    let spec = a.task.spec();
    let table = read_obs_act(&a.input, spec.obs_dim, spec.act_dim)?;
    let n = table.rows;
    let mut sim = make_sim(a.task, n, 0, a.termination);
    sim.set_obs(&table.obs)
        .map_err(|e| input_err!("{}: {e}", a.input.display()))?;
    let (mut rew, mut done) = (vec![0.0; n], vec![false; n]);
    sim.step(&table.act, &mut rew, &mut done)
        .map_err(|e| input_err!("{}: {e}", a.input.display()))?;
    let mut next = vec![0.0; n * spec.obs_dim];
    sim.observe(&mut next);
    write_atomic(&a.output, |w| {
        let mut wr = csv::Writer::from_writer(w);
        wr.write_record(header(spec.obs_dim, spec.act_dim, false))?;
        for i in 0..n {
            let mut rec: Vec<String> = Vec::new();
            rec.extend(
                table.obs[i * spec.obs_dim..(i + 1) * spec.obs_dim]
                    .iter()
                    .map(f32::to_string),
            );
            rec.extend(
                table.act[i * spec.act_dim..(i + 1) * spec.act_dim]
                    .iter()
                    .map(f32::to_string),
            );
            rec.push(rew[i].to_string());
            rec.push(u8::from(done[i]).to_string());
            rec.extend(
                next[i * spec.obs_dim..(i + 1) * spec.obs_dim]
                    .iter()
                    .map(f32::to_string),
            );
            wr.write_record(&rec)?;
        }
        wr.flush()?;
        Ok(())
    })?;
    eprintln!("{n} steps of {} written to {}", a.task, a.output.display());
    Ok(())
}

fn rollout(a: RolloutArgs) -> Result<()> {
    if a.agents == 0 {
        return Err(input_err!("--agents must be at least 1"));
    }
    if a.threads == 0 {
        return Err(input_err!("--threads must be at least 1"));
    }
    let spec = a.task.spec();
    let steps = a.steps.unwrap_or(spec.eval_steps);
    let (n, od, ad) = (a.agents, spec.obs_dim, spec.act_dim);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(a.threads)
        .build()?;
    let mut sim = make_sim(a.task, n, a.seed, Termination::Paper);
    sim.set_threads(a.threads);
    let mut obs = vec![0.0; n * od];
    let mut act = vec![0.0; n * ad];
    let mut next = vec![0.0; n * od];
    let (mut rew, mut done) = (vec![0.0; n], vec![false; n]);
    let mut returns = vec![0.0f64; n];
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut sim_time = 0.0;
    sim.observe(&mut obs);
    for t in 0..steps {
        a.policy.act(a.task, &obs, &mut act);
        let t0 = Instant::now();
        pool.install(|| sim.step_unchecked(&act, &mut rew, &mut done));
        sim_time += t0.elapsed().as_secs_f64();
        sim.observe(&mut next);
        for i in 0..n {
            returns[i] += rew[i] as f64;
        }
        if a.output.is_some() {
            for i in 0..n {
                let mut rec = vec![i.to_string(), t.to_string()];
                rec.extend(obs[i * od..(i + 1) * od].iter().map(f32::to_string));
                rec.extend(act[i * ad..(i + 1) * ad].iter().map(f32::to_string));
                rec.push(rew[i].to_string());
                rec.push(u8::from(done[i]).to_string());
                rec.extend(next[i * od..(i + 1) * od].iter().map(f32::to_string));
                rows.push(rec);
            }
        }
        std::mem::swap(&mut obs, &mut next);
    }
    if returns.iter().any(|r| !r.is_finite()) {
        return Err(anyhow::anyhow!("the rollout produced a non-finite return"));
    }
    let mean = returns.iter().sum::<f64>() / n as f64;
    let std = (returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
    let min = returns.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = returns.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    println!(
        "{} · policy {:?} · {n} episodes × {steps} steps · seed {}",
        a.task, a.policy, a.seed
    );
    println!("return: mean {mean:.4}  std {std:.4}  min {min:.4}  max {max:.4}");
    println!(
        "simulator: {:.0} transitions/s on {} thread(s) ({} transitions in {:.3} s)",
        (n * steps) as f64 / sim_time.max(1e-12),
        a.threads,
        n * steps,
        sim_time
    );
    if let Some(path) = &a.output {
        write_atomic(path, |w| {
            let mut wr = csv::Writer::from_writer(w);
            wr.write_record(header(od, ad, true))?;
            for r in &rows {
                wr.write_record(r)?;
            }
            wr.flush()?;
            Ok(())
        })?;
        println!("trajectories written to {}", path.display());
    }
    Ok(())
}
