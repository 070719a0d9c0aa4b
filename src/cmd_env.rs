//! `mpg env …`: the simulators (and, with `--model`, the prior models) on users' data.

use crate::input_err;
use crate::table_io::{
    check_memory, check_output, check_size, is_stdout, read_obs_act, say, write_atomic,
};
use anyhow::Result;
use clap::{Args, Subcommand};
use mpg_envs::policy::FixedPolicy;
use mpg_envs::{Task, Termination, make_sim};
use std::path::PathBuf;
use std::time::Instant;

/// `env check --samples` at most (documented in its help): a few hundred MB.
const MAX_CHECK_SAMPLES: usize = 1_000_000;
/// `env rollout --agents` at most.
const MAX_AGENTS: usize = 1_000_000;
/// `env rollout --steps` at most: steps cost time, not memory (what `--output` holds is
/// bounded by `MAX_WRITTEN`), so long single-agent rollouts (a benchmark's) stay possible.
const MAX_STEPS: usize = 1_000_000_000;
/// `env rollout --threads` at most.
const MAX_THREADS: usize = 256;
/// Transitions `env rollout --output` writes at most (about 700 MB in memory for path
/// tracking).
const MAX_WRITTEN: usize = 10_000_000;

#[derive(Subcommand)]
pub enum EnvCommand {
    /// One step from each row of a CSV (columns o0.., u0..; others ignored, but an o/u column
    /// beyond the task's is refused): writes the rows back with reward, done and the next
    /// observation n0..
    Step(StepArgs),
    /// Roll a fixed policy over fresh episodes (done ignored, fixed length: decision D18) and
    /// print the mean return and the simulator's throughput
    Rollout(RolloutArgs),
    /// Check a task after changing it: shapes, finite outputs over many random states and
    /// actions, seeded resets, bad actions rejected (in the spirit of Gymnasium's env checker)
    Check(CheckArgs),
}

#[derive(Args)]
pub struct CheckArgs {
    /// The task: path-tracking or inverted-pendulum
    #[arg(long)]
    task: Task,
    /// Random states and actions to try (1 to 1 000 000)
    #[arg(long, default_value_t = 4096)]
    samples: usize,
    /// Seed of the random states and actions
    #[arg(long, default_value_t = 0)]
    seed: u64,
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
    /// Step the task's prior model (spec §1.9, §2.3) instead of the simulator; its noise is
    /// at its mean (the golden model files' convention) unless --model-noise
    #[arg(long)]
    model: bool,
    /// With --model: draw the model noise N(mean, std²) with --seed
    #[arg(long, requires = "model")]
    model_noise: bool,
    /// Seed of the model noise (decision D8)
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

#[derive(Args)]
pub struct RolloutArgs {
    /// The task: path-tracking or inverted-pendulum (taken from the run with --run)
    #[arg(long, required_unless_present = "run")]
    task: Option<Task>,
    /// The policy: zero, or linear (the task's state-feedback controller, spec §5)
    #[arg(long, default_value = "linear", conflicts_with = "run")]
    policy: FixedPolicy,
    /// Roll out the trained policy of this run folder (its last checkpoint) instead
    #[arg(long, value_name = "DIR")]
    run: Option<PathBuf>,
    /// Steps per episode, 1 to 1 000 000 000 (default: the task's evaluation length, 200 or 100)
    #[arg(long)]
    steps: Option<usize>,
    /// Episodes, run in parallel as agents of one batched simulator (1 to 1 000 000)
    #[arg(long, default_value_t = 256)]
    agents: usize,
    /// Seed of the reset distribution (decision D8)
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Threads stepping the simulator (1 to 256)
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Write every transition as CSV (agent, step, o.., u.., reward, done, n..): the format
    /// `mpg env step` reads; at most 10 000 000 transitions (agents × steps), held in memory
    /// until the end
    #[arg(long)]
    output: Option<PathBuf>,
    /// Draw the first episodes (up to 3) as a PNG: path tracking, the path against the
    /// reference and the tracking errors; pendulum, p and θ over time
    #[arg(long, value_name = "FILE.png")]
    plot: Option<PathBuf>,
}

/// A policy for rollouts: a fixed controller or a trained run's policy.
pub type PolicyFn = Box<dyn Fn(&[f32], &mut [f32])>;

/// The task and policy named by `--task/--policy` or `--run`.
pub fn pick_policy(
    task: Option<Task>,
    policy: FixedPolicy,
    run: Option<&std::path::Path>,
) -> Result<(Task, PolicyFn, String)> {
    match (run, task) {
        (Some(dir), _) => {
            let t = mpg_runner::trained::Trained::load(&mpg_runner::RunDir::new(dir))
                .map_err(|e| input_err!("{e:#}"))?;
            let label = format!(
                "{} trained to iteration {} ({})",
                t.cfg.algo,
                t.iteration,
                dir.display()
            );
            let task = t.cfg.task;
            Ok((task, Box::new(move |o, u| t.act(o, u)), label))
        }
        (None, Some(task)) => Ok((
            task,
            Box::new(move |o, u| policy.act(task, o, u)),
            format!("policy {policy:?}"),
        )),
        (None, None) => Err(input_err!("give --task (with --policy) or --run")),
    }
}

pub fn run(cmd: EnvCommand) -> Result<()> {
    match cmd {
        EnvCommand::Step(a) => step(a),
        EnvCommand::Rollout(a) => rollout(a),
        EnvCommand::Check(a) => check(a),
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
    let (od, ad) = (spec.obs_dim, spec.act_dim);
    check_output("--output", &a.output)?;
    let table = read_obs_act(&a.input, &a.task.to_string(), od, ad)?;
    let n = table.rows;
    let (rew, done, next) = if a.model {
        let (rew, next) = model_step(a.task, &table.obs, &table.act, a.model_noise, a.seed);
        (rew, None, next)
    } else {
        let mut sim = make_sim(a.task, n, 0, a.termination);
        sim.set_obs(&table.obs)
            .map_err(|e| input_err!("{}: {e}", a.input.display()))?;
        let (mut rew, mut done) = (vec![0.0; n], vec![false; n]);
        sim.step(&table.act, &mut rew, &mut done)
            .map_err(|e| input_err!("{}: {e}", a.input.display()))?;
        let mut next = vec![0.0; n * od];
        sim.observe(&mut next);
        (rew, Some(done), next)
    };
    // Finite inputs can still overflow f32 inside a step (3e38 squared): an error naming the
    // row, never NaN or ±inf written with success (issue 23).
    for i in 0..n {
        let bad = !rew[i].is_finite() || next[i * od..(i + 1) * od].iter().any(|x| !x.is_finite());
        if bad {
            return Err(input_err!(
                "{}: line {}: this row's step gives a non-finite result (reward {}, next observation {:?}): its values are beyond what the {} can compute",
                a.input.display(),
                table.lines[i],
                rew[i],
                &next[i * od..(i + 1) * od],
                if a.model { "model" } else { "simulator" }
            ));
        }
    }
    let mut head = header(od, ad, false);
    if done.is_none() {
        head.retain(|h| h != "done");
    }
    write_atomic(&a.output, |w| {
        let mut wr = csv::Writer::from_writer(w);
        wr.write_record(&head)?;
        for i in 0..n {
            let mut rec: Vec<String> = Vec::new();
            rec.extend(table.obs[i * od..(i + 1) * od].iter().map(f32::to_string));
            rec.extend(table.act[i * ad..(i + 1) * ad].iter().map(f32::to_string));
            rec.push(rew[i].to_string());
            if let Some(done) = &done {
                rec.push(u8::from(done[i]).to_string());
            }
            rec.extend(next[i * od..(i + 1) * od].iter().map(f32::to_string));
            wr.write_record(&rec)?;
        }
        wr.flush()?;
        Ok(())
    })?;
    let what = if a.model { "model" } else { "simulator" };
    eprintln!(
        "{n} {what} steps of {} written to {}",
        a.task,
        a.output.display()
    );
    Ok(())
}

/// One prior-model step of every row (f32, as in training): (rewards, next observations).
fn model_step(
    task: Task,
    obs: &[f32],
    act: &[f32],
    noisy: bool,
    seed: u64,
) -> (Vec<f32>, Vec<f32>) {
    use rand::SeedableRng;
    let spec = task.spec();
    let n = obs.len() / spec.obs_dim;
    let model = mpg_models::make_model(task);
    let noise = model.default_noise();
    let noise = if noisy { noise } else { noise.mean_only() };
    let mut rng = mpg_envs::Rng::seed_from_u64(seed);
    let eps = noise.draw(&mut rng, n, tch::Kind::Float);
    let o = tch::Tensor::from_slice(obs).reshape([n as i64, spec.obs_dim as i64]);
    let u = tch::Tensor::from_slice(act).reshape([n as i64, spec.act_dim as i64]);
    let (next, rew) = tch::no_grad(|| model.step(&o, &u, &eps));
    (
        Vec::try_from(rew).expect("model reward"),
        Vec::try_from(next.flatten(0, -1)).expect("model state"),
    )
}

/// `mpg env check`: each check printed with its verdict; any failure is an error.
fn check(a: CheckArgs) -> Result<()> {
    use rand::{Rng as _, SeedableRng};
    // Zero samples would check nothing and report success (issue 23).
    check_size("--samples", a.samples, MAX_CHECK_SAMPLES)?;
    let spec = a.task.spec();
    let (n, od, ad) = (a.samples, spec.obs_dim, spec.act_dim);
    let mut failures = Vec::new();
    let mut report = |name: &str, ok: bool, detail: String| {
        println!(
            "{} {name}{}",
            if ok { "ok  " } else { "FAIL" },
            if detail.is_empty() {
                detail.clone()
            } else {
                format!(": {detail}")
            }
        );
        if !ok {
            failures.push(name.to_string());
        }
    };
    // 1. shapes and dimensions
    let mut sim = make_sim(a.task, n, a.seed, Termination::Paper);
    let mut obs = vec![0.0f32; n * od];
    sim.observe(&mut obs);
    report(
        "dimensions",
        sim.num_agents() == n && obs.len() == n * od,
        format!("obs {od}, action {ad}, {n} agents"),
    );
    // 2. seeded resets: same seed same states, other seed other states
    let mut again = vec![0.0f32; n * od];
    make_sim(a.task, n, a.seed, Termination::Paper).observe(&mut again);
    let mut other = vec![0.0f32; n * od];
    make_sim(a.task, n, a.seed.wrapping_add(1), Termination::Paper).observe(&mut other);
    report("seeded resets", obs == again && obs != other, String::new());
    report(
        "finite resets",
        obs.iter().all(|x| x.is_finite()),
        String::new(),
    );
    // 3. finite outputs over random states near the reset distribution and wide actions
    let mut rng = mpg_envs::Rng::seed_from_u64(a.seed ^ 0xC4EC);
    let states: Vec<f32> = obs
        .iter()
        .map(|&x| x * (0.5 + rng.random::<f32>() * 1.5))
        .collect();
    let acts: Vec<f32> = (0..n * ad)
        .map(|_| rng.random::<f32>() * 6.0 - 3.0)
        .collect();
    sim.set_obs(&states)
        .map_err(|e| anyhow::anyhow!("set_obs: {e}"))?;
    let (mut rew, mut done) = (vec![0.0; n], vec![false; n]);
    sim.step(&acts, &mut rew, &mut done)
        .map_err(|e| anyhow::anyhow!("step: {e}"))?;
    let mut next = vec![0.0f32; n * od];
    sim.observe(&mut next);
    let bad = rew.iter().chain(&next).filter(|x| !x.is_finite()).count();
    report(
        "finite simulator outputs",
        bad == 0,
        format!("{n} random states and actions in [-3, 3], {bad} non-finite values"),
    );
    let (mrew, mnext) = model_step(a.task, &states, &acts, true, a.seed);
    let bad = mrew.iter().chain(&mnext).filter(|x| !x.is_finite()).count();
    report(
        "finite model outputs",
        bad == 0 && mnext.len() == n * od,
        format!("{bad} non-finite values"),
    );
    // 4. a NaN action is rejected with an error naming it
    let mut nan = acts.clone();
    nan[ad * (n / 2)] = f32::NAN;
    match sim.step(&nan, &mut rew, &mut done) {
        Err(e) => report(
            "NaN action rejected",
            e.to_string().contains(&format!("agent {}", n / 2)),
            e.to_string(),
        ),
        Ok(()) => report("NaN action rejected", false, "accepted".into()),
    }
    match sim.step(&acts[1..], &mut rew, &mut done) {
        Err(e) => report("wrong action count rejected", true, e.to_string()),
        Ok(()) => report("wrong action count rejected", false, "accepted".into()),
    }
    if failures.is_empty() {
        println!("{}: all checks passed", a.task);
        Ok(())
    } else {
        Err(anyhow::anyhow!(
            "{}: {} check(s) failed: {}",
            a.task,
            failures.len(),
            failures.join(", ")
        ))
    }
}

fn rollout(a: RolloutArgs) -> Result<()> {
    check_size("--agents", a.agents, MAX_AGENTS)?;
    check_size("--threads", a.threads, MAX_THREADS)?;
    if let Some(steps) = a.steps {
        check_size("--steps", steps, MAX_STEPS)?;
    }
    if let Some(path) = &a.output {
        check_output("--output", path)?;
    }
    if let Some(path) = &a.plot {
        check_output("--plot", path)?;
    }
    let (task, policy, label) = pick_policy(a.task, a.policy, a.run.as_deref())?;
    let spec = task.spec();
    let steps = a.steps.unwrap_or(spec.eval_steps);
    let (n, od, ad) = (a.agents, spec.obs_dim, spec.act_dim);
    // Every transition written is held until the end (the summary comes first): bounded by
    // a documented count and by the memory available.
    let width = 2 * od + ad + 1;
    if a.output.is_some() {
        let transitions = (n as u64) * (steps as u64);
        if transitions > MAX_WRITTEN as u64 {
            return Err(input_err!(
                "--output with --agents {n} × --steps {steps} = {transitions} transitions: at most {MAX_WRITTEN} can be written"
            ));
        }
        check_memory(
            &format!("--output of {transitions} transitions"),
            transitions * (width as u64 * 4 + 1),
        )?;
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(a.threads)
        .build()?;
    let mut sim = make_sim(task, n, a.seed, Termination::Paper);
    sim.set_threads(a.threads);
    let mut obs = vec![0.0; n * od];
    let mut act = vec![0.0; n * ad];
    let mut next = vec![0.0; n * od];
    let (mut rew, mut done) = (vec![0.0; n], vec![false; n]);
    let mut returns = vec![0.0f64; n];
    // Per transition: o.., u.., reward, n.. as f32 (`width` values) and done; agent and step
    // follow from the position.
    let mut rows: Vec<f32> = Vec::new();
    let mut dones: Vec<bool> = Vec::new();
    let plotted = n.min(3);
    let mut traj: Vec<Vec<Vec<f32>>> = vec![Vec::new(); plotted];
    let mut sim_time = 0.0;
    sim.observe(&mut obs);
    for _ in 0..steps {
        policy(&obs, &mut act);
        for (k, tr) in traj.iter_mut().enumerate() {
            tr.push(obs[k * od..(k + 1) * od].to_vec());
        }
        let t0 = Instant::now();
        // A batch of one block runs on this thread anyway (the simulator splits by blocks of
        // `BLOCK` agents): entering the pool would only add its hand-over, which dominated a
        // 1-agent rollout.
        if a.threads > 1 && n > mpg_envs::BLOCK {
            pool.install(|| sim.step_unchecked(&act, &mut rew, &mut done));
        } else {
            sim.step_unchecked(&act, &mut rew, &mut done);
        }
        sim_time += t0.elapsed().as_secs_f64();
        sim.observe(&mut next);
        for i in 0..n {
            returns[i] += rew[i] as f64;
        }
        if a.output.is_some() {
            for i in 0..n {
                rows.extend_from_slice(&obs[i * od..(i + 1) * od]);
                rows.extend_from_slice(&act[i * ad..(i + 1) * ad]);
                rows.push(rew[i]);
                rows.extend_from_slice(&next[i * od..(i + 1) * od]);
            }
            dones.extend_from_slice(&done);
        }
        std::mem::swap(&mut obs, &mut next);
    }
    for (k, tr) in traj.iter_mut().enumerate() {
        tr.push(obs[k * od..(k + 1) * od].to_vec());
    }
    if returns.iter().any(|r| !r.is_finite()) {
        return Err(anyhow::anyhow!("the rollout produced a non-finite return"));
    }
    let mean = returns.iter().sum::<f64>() / n as f64;
    let std = (returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
    let min = returns.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = returns.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    // With `--output -` or `--plot -` the data alone goes to standard output.
    let quiet_stdout =
        a.output.as_deref().is_some_and(is_stdout) || a.plot.as_deref().is_some_and(is_stdout);
    say(
        quiet_stdout,
        format_args!(
            "{task} · {label} · {n} episodes × {steps} steps · seed {}",
            a.seed
        ),
    );
    say(
        quiet_stdout,
        format_args!("return: mean {mean:.4}  std {std:.4}  min {min:.4}  max {max:.4}"),
    );
    say(
        quiet_stdout,
        format_args!(
            "simulator: {:.0} transitions/s on {} thread(s) ({} transitions in {:.3} s)",
            (n * steps) as f64 / sim_time.max(1e-12),
            a.threads,
            n * steps,
            sim_time
        ),
    );
    if let Some(path) = &a.output {
        write_atomic(path, |w| {
            let mut wr = csv::Writer::from_writer(w);
            wr.write_record(header(od, ad, true))?;
            for (k, (r, d)) in rows.chunks_exact(width).zip(&dones).enumerate() {
                let mut rec = vec![(k % n).to_string(), (k / n).to_string()];
                rec.extend(r[..od + ad + 1].iter().map(f32::to_string));
                rec.push(u8::from(*d).to_string());
                rec.extend(r[od + ad + 1..].iter().map(f32::to_string));
                wr.write_record(&rec)?;
            }
            wr.flush()?;
            Ok(())
        })?;
        say(
            quiet_stdout,
            format_args!("trajectories written to {}", path.display()),
        );
    }
    if let Some(path) = &a.plot {
        let dt = if task == Task::PathTracking {
            0.1
        } else {
            0.04
        };
        let t = mpg_harness::plot::Trajectory {
            task,
            dt,
            agents: traj,
        };
        // Drawn into a private temporary folder, then written by the one output writer: a
        // symlink's target is written, a FIFO or device streamed, never renamed over.
        let tmp = tempfile::tempdir()?;
        let drawn = tmp.path().join("plot.png");
        mpg_harness::plot::trajectory_plot(&drawn, &t)
            .map_err(|e| input_err!("{}: cannot draw: {e:#}", path.display()))?;
        let bytes = std::fs::read(&drawn)?;
        mpg_runner::output::write_output_bytes(path, &bytes)?;
        say(
            quiet_stdout,
            format_args!("plot written to {}", path.display()),
        );
    }
    Ok(())
}
