//! Differentiable prior models of the paper's two tasks, on tch tensors (issue 8).
//!
//! * [`PathTrackingModel`]: the authors' `PathTrackingModel` (spec §1.9).
//! * [`PendulumModel`]: the authors' `InvertedPendulumModel` (spec §2.3).
//!
//! A model maps a batch of raw observations and policy-unit actions to the next observations and
//! the raw rewards, in any float kind (f32 in training, D13; f64 in tests), differentiably in
//! both inputs. Models hold no state and draw no random numbers: the model noise is drawn by
//! [`ModelNoise::draw`] from the run's Rust generator (D8) and passed in.
//!
//! [`model_error`] measures how far a model's rollouts drift from the true simulator's
//! (the `mpg model-error` command).

pub mod model_error;
pub mod nets;
mod noise;
pub mod path_tracking;
pub mod pendulum;

pub use noise::ModelNoise;
pub use path_tracking::PathTrackingModel;
pub use pendulum::PendulumModel;

pub use mpg_envs::{Rng, Task};
use tch::Tensor;

/// A differentiable one-step prior model of a task (spec §1.9, §2.3).
///
/// Stateless and free of randomness, so one model may serve any number of rollouts and threads.
pub trait PriorModel: Send + Sync {
    /// The task this model stands in for.
    fn task(&self) -> Task;

    /// One model step of a batch.
    ///
    /// * `obs`: `[B, obs_dim]`, the raw observation (not scaled by `TaskSpec::obs_scale`).
    /// * `act`: `[B, act_dim]`, in policy units (path tracking: normalised `u`, scaled to δ and
    ///   a_x but not clipped; pendulum: `a`, force = 100·a).
    /// * `noise`: `[B]`, the model noise already drawn (see [`ModelNoise`]); zeros for a
    ///   noise-free step.
    ///
    /// Returns `(next_obs [B, obs_dim], reward [B])`, the reward raw (not scaled, spec §1.10,
    /// §2.4). Works in the kind and on the device of `obs`; differentiable w.r.t. `obs` and `act`.
    fn step(&self, obs: &Tensor, act: &Tensor, noise: &Tensor) -> (Tensor, Tensor);

    /// The task's default model noise (spec §1.9: N(0.5, 0.01²); §2.3: N(0.1, 0.5²)).
    fn default_noise(&self) -> ModelNoise {
        ModelNoise::default_for(self.task())
    }
}

/// The prior model of `task`.
pub fn make_model(task: Task) -> Box<dyn PriorModel> {
    match task {
        Task::PathTracking => Box::new(PathTrackingModel),
        Task::InvertedPendulum => Box::new(PendulumModel),
    }
}

/// An H-step model rollout (spec §3.2, §3.7): `a_k = policy(k, ŝ_k)`,
/// `(ŝ_{k+1}, r̂_k) = model(ŝ_k, a_k, ε_k)` with `ε_k` drawn from `noise` with `rng`
/// (in `obs0`'s kind, on its device).
///
/// The step index lets a caller take the first action from the trained policy and the later
/// ones from a frozen copy (MPG, spec §3.2), or all from the trained one (n-step ADP, §3.7).
/// Returns the `horizon + 1` states `[ŝ_0 = obs0, …, ŝ_H]` and the `horizon` raw rewards
/// `[r̂_0, …, r̂_{H−1}]`; gradients flow through all of them.
pub fn rollout(
    model: &dyn PriorModel,
    policy: &mut dyn FnMut(usize, &Tensor) -> Tensor,
    obs0: &Tensor,
    horizon: usize,
    noise: &ModelNoise,
    rng: &mut Rng,
) -> (Vec<Tensor>, Vec<Tensor>) {
    let batch = obs0.size()[0] as usize;
    let mut states = Vec::with_capacity(horizon + 1);
    let mut rewards = Vec::with_capacity(horizon);
    states.push(obs0.shallow_clone());
    for k in 0..horizon {
        let act = policy(k, &states[k]);
        let eps = noise.draw_on(rng, batch, obs0.kind(), obs0.device());
        let (next, reward) = model.step(&states[k], &act, &eps);
        states.push(next);
        rewards.push(reward);
    }
    (states, rewards)
}
