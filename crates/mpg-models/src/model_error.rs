//! Model error: how far a prior model's rollouts drift from the true simulator's
//! (the paper's Condition 1: ‖ŝ_i − s_i‖ grows at most linearly in the step i, with rate c_m).
//!
//! From `samples` states of the simulator's reset distribution (spec §1.7, §2.1) both systems
//! roll `horizon` steps side by side, each under the policy's action at its OWN state. Per step
//! i = 1..=H the report holds the mean and max absolute error per observation dimension and the
//! mean norm of the difference of the scaled observations (obs ⊙ `TaskSpec::obs_scale`,
//! spec §1.10, §2.4); c_m is the least-squares slope through the origin of that mean norm
//! against i. Path position X is compared unwrapped (the simulator wraps it at 1200 m, spec
//! §1.5) and angles (path Δφ, pendulum θ) modulo 2π.

use crate::{ModelNoise, PriorModel, make_model};
use mpg_envs::{Rng, Sim, SimError, Task, Termination, make_sim};
use rand::SeedableRng;
use std::f64::consts::PI;
use std::fmt::Write as _;
use tch::{Kind, Tensor};

/// Errors from bad inputs to a model-error measurement.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what} must be at least 1")]
    Empty { what: &'static str },
    #[error("{what} {value} is above the limit of {max}")]
    TooLarge {
        what: &'static str,
        value: usize,
        max: usize,
    },
    #[error("the systems compared differ in {what}: {a} vs {b}")]
    Mismatch {
        what: &'static str,
        a: String,
        b: String,
    },
    #[error(transparent)]
    Sim(#[from] SimError),
}

/// A batch of agents that can be observed and stepped: the simulator, a model, or anything
/// a test puts in their place.
pub trait System {
    fn task(&self) -> Task;
    fn num_agents(&self) -> usize;
    /// The current observations, row-major `[agents, obs_dim]`.
    fn observe(&self, obs: &mut [f64]);
    /// One step of every agent under `act`, row-major `[agents, act_dim]`.
    fn step(&mut self, act: &[f32]) -> Result<(), Error>;
}

/// The true simulator as a [`System`] (its `done` flags are ignored, spec §5).
pub struct SimSystem {
    sim: Box<dyn Sim>,
    reward: Vec<f32>,
    done: Vec<bool>,
    buf: Vec<f32>,
}

impl SimSystem {
    /// `samples` agents of `task`'s simulator, seeded by `seed`, each drawn from the reset
    /// distribution (spec §1.7, §2.1; D1 `paper` termination, which only affects `done`).
    pub fn new(task: Task, samples: usize, seed: u64) -> Self {
        Self::from_sim(make_sim(task, samples, seed, Termination::Paper))
    }

    pub fn from_sim(sim: Box<dyn Sim>) -> Self {
        let n = sim.num_agents();
        let obs_dim = sim.spec().obs_dim;
        SimSystem {
            sim,
            reward: vec![0.0; n],
            done: vec![false; n],
            buf: vec![0.0; n * obs_dim],
        }
    }
}

impl System for SimSystem {
    fn task(&self) -> Task {
        self.sim.spec().task
    }
    fn num_agents(&self) -> usize {
        self.sim.num_agents()
    }
    fn observe(&self, obs: &mut [f64]) {
        let mut buf = vec![0.0f32; obs.len()];
        self.sim.observe(&mut buf);
        for (o, b) in obs.iter_mut().zip(&buf) {
            *o = *b as f64;
        }
    }
    fn step(&mut self, act: &[f32]) -> Result<(), Error> {
        self.sim.step(act, &mut self.reward, &mut self.done)?;
        self.sim.observe(&mut self.buf);
        Ok(())
    }
}

/// A prior model as a [`System`]: its state is kept in f64, stepped without autograd, with
/// noise drawn from its own generator, plus an optional constant drift per step on one
/// observation dimension (a known error, for tests and what-if measurements).
pub struct ModelSystem {
    model: Box<dyn PriorModel>,
    state: Tensor,
    noise: ModelNoise,
    rng: Rng,
    drift: Option<(usize, f64)>,
}

impl ModelSystem {
    /// `model` started from the observations `obs0` (row-major `[agents, obs_dim]`).
    pub fn new(model: Box<dyn PriorModel>, obs0: &[f64], noise: ModelNoise, rng: Rng) -> Self {
        let obs_dim = model.task().spec().obs_dim as i64;
        let state = Tensor::from_slice(obs0).view([-1, obs_dim]);
        ModelSystem {
            model,
            state,
            noise,
            rng,
            drift: None,
        }
    }

    /// After every step, add `per_step` to observation dimension `dim` of every agent.
    pub fn with_drift(mut self, dim: usize, per_step: f64) -> Self {
        self.drift = Some((dim, per_step));
        self
    }
}

impl System for ModelSystem {
    fn task(&self) -> Task {
        self.model.task()
    }
    fn num_agents(&self) -> usize {
        self.state.size()[0] as usize
    }
    fn observe(&self, obs: &mut [f64]) {
        self.state.view([-1]).copy_data(obs, obs.len());
    }
    fn step(&mut self, act: &[f32]) -> Result<(), Error> {
        let n = self.num_agents();
        let spec = self.model.task().spec();
        let act = Tensor::from_slice(act)
            .view([n as i64, spec.act_dim as i64])
            .to_kind(Kind::Double);
        let eps = self.noise.draw(&mut self.rng, n, Kind::Double);
        let (next, _) = tch::no_grad(|| self.model.step(&self.state, &act, &eps));
        if let Some((dim, b)) = self.drift {
            let _ = next.select(1, dim as i64).g_add_scalar_(b);
        }
        self.state = next;
        Ok(())
    }
}

/// The largest horizon measured: 400 times the MPG horizon of 25 (spec §3.2). The report holds
/// one row per step, so a bound keeps an absurd horizon from exhausting memory.
pub const MAX_HORIZON: usize = 10_000;

/// The most start states compared: each costs a few hundred bytes in both systems, so the
/// limit keeps a measurement within about 100 MB.
pub const MAX_SAMPLES: usize = 100_000;

/// One model-error measurement between the simulator and the task's prior model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModelErrorConfig {
    pub task: Task,
    /// Steps compared, H (25 = the MPG horizon, spec §3.2).
    pub horizon: usize,
    /// Start states drawn from the simulator's reset distribution.
    pub samples: usize,
    /// Seeds the simulator (its reset draws) and, through a long jump of the same stream, the
    /// model noise (D8).
    pub seed: u64,
    /// The model's noise: [`ModelNoise::NONE`] for the noise-free model.
    pub noise: ModelNoise,
}

/// The simulator against the task's prior model (see the module doc). `policy` maps a batch
/// of observations (row-major `[samples, obs_dim]`) to actions (`[samples, act_dim]`, policy
/// units, e.g. [`mpg_envs::policy::FixedPolicy::act`]).
pub fn model_error(
    cfg: &ModelErrorConfig,
    policy: &dyn Fn(&[f32], &mut [f32]),
) -> Result<ModelErrorReport, Error> {
    if cfg.samples == 0 {
        return Err(Error::Empty { what: "samples" });
    }
    if cfg.samples > MAX_SAMPLES {
        return Err(Error::TooLarge {
            what: "samples",
            value: cfg.samples,
            max: MAX_SAMPLES,
        });
    }
    if cfg.horizon > MAX_HORIZON {
        return Err(Error::TooLarge {
            what: "horizon",
            value: cfg.horizon,
            max: MAX_HORIZON,
        });
    }
    let mut truth = SimSystem::new(cfg.task, cfg.samples, cfg.seed);
    let mut obs0 = vec![0.0; cfg.samples * cfg.task.spec().obs_dim];
    truth.observe(&mut obs0);
    let mut rng = Rng::seed_from_u64(cfg.seed);
    rng.long_jump();
    let mut model = ModelSystem::new(make_model(cfg.task), &obs0, cfg.noise, rng);
    compare(&mut truth, &mut model, cfg.horizon, policy)
}

/// Roll `truth` and `model` side by side for `horizon` steps from their current states and
/// measure the model's error (see the module doc).
pub fn compare(
    truth: &mut dyn System,
    model: &mut dyn System,
    horizon: usize,
    policy: &dyn Fn(&[f32], &mut [f32]),
) -> Result<ModelErrorReport, Error> {
    let task = truth.task();
    if model.task() != task {
        return Err(Error::Mismatch {
            what: "task",
            a: task.to_string(),
            b: model.task().to_string(),
        });
    }
    let n = truth.num_agents();
    if model.num_agents() != n {
        return Err(Error::Mismatch {
            what: "agents",
            a: n.to_string(),
            b: model.num_agents().to_string(),
        });
    }
    if n == 0 {
        return Err(Error::Empty { what: "samples" });
    }
    if horizon == 0 {
        return Err(Error::Empty { what: "horizon" });
    }
    if horizon > MAX_HORIZON {
        return Err(Error::TooLarge {
            what: "horizon",
            value: horizon,
            max: MAX_HORIZON,
        });
    }
    let spec = task.spec();
    let (od, ad) = (spec.obs_dim, spec.act_dim);
    let mut sides = [Side::new(&*truth, n * od), Side::new(&*model, n * od)];
    let mut act = vec![0.0f32; n * ad];
    let mut obs32 = vec![0.0f32; n * od];
    let mut steps = Vec::with_capacity(horizon);
    for step in 1..=horizon {
        let [t, m] = &mut sides;
        t.step(truth, policy, &mut obs32, &mut act)?;
        m.step(model, policy, &mut obs32, &mut act)?;
        steps.push(step_error(
            task,
            step,
            &sides[0].unwrapped,
            &sides[1].unwrapped,
        ));
    }
    let norms: Vec<f64> = steps.iter().map(|s| s.mean_scaled_norm).collect();
    Ok(ModelErrorReport {
        task,
        samples: n,
        c_m: slope_through_origin(&norms),
        steps,
    })
}

/// Observation dimensions compared modulo 2π: path Δφ, pendulum θ.
fn angle_dims(task: Task) -> &'static [usize] {
    match task {
        Task::PathTracking => &[4],
        Task::InvertedPendulum => &[1],
    }
}

/// Observation dimensions the simulator wraps, with their period: path X at 1200 m (§1.5).
fn wrapped_dims(task: Task) -> &'static [(usize, f64)] {
    match task {
        Task::PathTracking => &[(5, mpg_envs::path_tracking::PATH_PERIOD)],
        Task::InvertedPendulum => &[],
    }
}

/// One system's observations, raw and with wrapped dimensions unwrapped by tracking.
struct Side {
    raw: Vec<f64>,
    unwrapped: Vec<f64>,
}

impl Side {
    fn new(sys: &dyn System, len: usize) -> Self {
        let mut raw = vec![0.0; len];
        sys.observe(&mut raw);
        Side {
            unwrapped: raw.clone(),
            raw,
        }
    }

    /// Step `sys` under the policy's action at its own observation, then read the new
    /// observations; a jump of more than half a period in a wrapped dimension is a wrap, undone
    /// in `unwrapped`.
    fn step(
        &mut self,
        sys: &mut dyn System,
        policy: &dyn Fn(&[f32], &mut [f32]),
        obs32: &mut [f32],
        act: &mut [f32],
    ) -> Result<(), Error> {
        for (o, s) in obs32.iter_mut().zip(&self.raw) {
            *o = *s as f32;
        }
        policy(obs32, act);
        sys.step(act)?;
        let task = sys.task();
        let prev = std::mem::take(&mut self.raw);
        self.raw = vec![0.0; prev.len()];
        sys.observe(&mut self.raw);
        let od = task.spec().obs_dim;
        for (i, (new, old)) in self.raw.iter().zip(&prev).enumerate() {
            let d = i % od;
            let mut delta = new - old;
            if let Some(&(_, period)) = wrapped_dims(task).iter().find(|(k, _)| *k == d) {
                if delta > period / 2.0 {
                    delta -= period;
                } else if delta < -period / 2.0 {
                    delta += period;
                }
                self.unwrapped[i] += delta;
            } else {
                self.unwrapped[i] = *new;
            }
        }
        Ok(())
    }
}

/// `x` wrapped to (−π, π].
fn wrap_to_pi(x: f64) -> f64 {
    let w = (x + PI).rem_euclid(2.0 * PI) - PI;
    if w == -PI { PI } else { w }
}

fn step_error(task: Task, step: usize, truth: &[f64], model: &[f64]) -> StepError {
    let spec = task.spec();
    let od = spec.obs_dim;
    let n = truth.len() / od;
    let mut mean_abs = vec![0.0; od];
    let mut max_abs = vec![0.0f64; od];
    let mut norm_sum = 0.0;
    for (t, m) in truth.chunks_exact(od).zip(model.chunks_exact(od)) {
        let mut sq = 0.0;
        for d in 0..od {
            let mut diff = m[d] - t[d];
            if angle_dims(task).contains(&d) {
                diff = wrap_to_pi(diff);
            }
            mean_abs[d] += diff.abs();
            max_abs[d] = max_abs[d].max(diff.abs());
            sq += (diff * spec.obs_scale[d] as f64).powi(2);
        }
        norm_sum += sq.sqrt();
    }
    mean_abs.iter_mut().for_each(|e| *e /= n as f64);
    StepError {
        step,
        mean_abs,
        max_abs,
        mean_scaled_norm: norm_sum / n as f64,
    }
}

/// Least-squares slope through the origin of `ys[i − 1]` against i = 1, 2, …:
/// c = Σ i·y_i / Σ i².
pub fn slope_through_origin(ys: &[f64]) -> f64 {
    let (num, den) = ys
        .iter()
        .enumerate()
        .fold((0.0, 0.0), |(num, den), (k, y)| {
            let i = (k + 1) as f64;
            (num + i * y, den + i * i)
        });
    num / den
}

/// The model's error after one step count.
#[derive(Clone, Debug, PartialEq)]
pub struct StepError {
    /// i, the number of steps both systems made (1..=H).
    pub step: usize,
    /// Mean over samples of |model − truth|, per observation dimension (raw units).
    pub mean_abs: Vec<f64>,
    /// Max over samples of |model − truth|, per observation dimension (raw units).
    pub max_abs: Vec<f64>,
    /// Mean over samples of ‖(model − truth) ⊙ obs_scale‖₂.
    pub mean_scaled_norm: f64,
}

/// The result of [`model_error`] / [`compare`].
#[derive(Clone, Debug, PartialEq)]
pub struct ModelErrorReport {
    pub task: Task,
    pub samples: usize,
    /// One entry per step i = 1..=H.
    pub steps: Vec<StepError>,
    /// c_m of Condition 1: least-squares slope through the origin of the mean scaled error
    /// norm against i.
    pub c_m: f64,
}

impl ModelErrorReport {
    /// A short text table: per step the mean scaled error norm and the mean absolute error of
    /// every dimension, then c_m.
    pub fn table(&self) -> String {
        let od = self.task.spec().obs_dim;
        let mut s = format!(
            "model error, {}, {} samples (mean over samples; |o_d| in raw units)\n{:>4} {:>11}",
            self.task, self.samples, "step", "scaled‖Δ‖"
        );
        for d in 0..od {
            let _ = write!(s, " {:>10}", format!("|Δo{d}|"));
        }
        s.push('\n');
        for e in &self.steps {
            let _ = write!(s, "{:>4} {:>11.4e}", e.step, e.mean_scaled_norm);
            for v in &e.mean_abs {
                let _ = write!(s, " {v:>10.3e}");
            }
            s.push('\n');
        }
        let _ = writeln!(s, "c_m = {:.4e} (scaled error per step)", self.c_m);
        s
    }

    /// CSV rows, one per step: `step,scaled_norm_mean,mean_abs_o0..,max_abs_o0..`, with header.
    pub fn write_csv<W: std::io::Write>(&self, w: W) -> csv::Result<()> {
        let od = self.task.spec().obs_dim;
        let mut wtr = csv::Writer::from_writer(w);
        let mut header = vec!["step".to_string(), "scaled_norm_mean".to_string()];
        header.extend((0..od).map(|d| format!("mean_abs_o{d}")));
        header.extend((0..od).map(|d| format!("max_abs_o{d}")));
        wtr.write_record(&header)?;
        for e in &self.steps {
            let mut row = vec![e.step.to_string(), e.mean_scaled_norm.to_string()];
            row.extend(e.mean_abs.iter().map(f64::to_string));
            row.extend(e.max_abs.iter().map(f64::to_string));
            wtr.write_record(&row)?;
        }
        wtr.flush()?;
        Ok(())
    }
}
