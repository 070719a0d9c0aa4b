//! n-step DPG (spec §3.6; code `NDPG`).
//!
//! | critics | value target | policy objective | batch reuse | delay | explore σ |
//! |---|---|---|---|---|---|
//! | Q1 | 25-step TRUE-env rollout | Q1(s, π(s)) | 10 | 1 | none |
//!
//! Its critic target is also MPG-v1's (spec §3.4).

use crate::batch::Batch;
use crate::nets::Nets;
use mpg_envs::{Sim, TaskSpec};
use mpg_models::nets::q_value;
use tch::{Kind, Tensor};

/// y = Σ_{t<n} γᵗ·r_t·scale + γⁿ·Q1'(s_n, π'(s_n)) through the TRUE simulator (spec §3.4):
/// reset to the batch's observations, a₀ = the stored action, a_t = π(s_t) (current policy,
/// deterministic) for t ≥ 1, n steps ignoring done; the bootstrap optionally clipped
/// (pendulum [−0.5, 0]). With `mask_terminal` (D17) nothing is added past a termination.
pub fn env_nstep_target(
    sim: &mut dyn Sim,
    nets: &Nets,
    b: &Batch,
    n: usize,
    gamma: f64,
    spec: &TaskSpec,
    bootstrap_clip: Option<[f64; 2]>,
    mask_terminal: bool,
) -> Tensor {
    let batch = b.len();
    let scale = Tensor::from_slice(spec.obs_scale);
    let obs: Vec<f32> = Vec::try_from(b.obs.flatten(0, -1)).unwrap();
    sim.set_obs(&obs).expect("batch observations are finite");
    let mut act: Vec<f32> = Vec::try_from(b.act.flatten(0, -1)).unwrap();
    let mut obs_t = vec![0.0f32; batch * spec.obs_dim];
    let (mut rew, mut done) = (vec![0.0f32; batch], vec![false; batch]);
    let (mut ret, mut alive) = (vec![0.0f64; batch], vec![1.0f64; batch]);
    let mut discount = 1.0;
    for t in 0..n {
        if t > 0 {
            let s = Tensor::from_slice(&obs_t).reshape([batch as i64, spec.obs_dim as i64]);
            act = Vec::try_from(nets.policy.act(&(s * &scale)).flatten(0, -1)).unwrap();
        }
        sim.step_unchecked(&act, &mut rew, &mut done);
        for i in 0..batch {
            ret[i] += discount
                * alive[i]
                * (rew[i] as f64 + spec.reward_shift as f64)
                * spec.reward_scale as f64;
            if mask_terminal && done[i] {
                alive[i] = 0.0;
            }
        }
        discount *= gamma;
        sim.observe(&mut obs_t);
    }
    let s_n = Tensor::from_slice(&obs_t).reshape([batch as i64, spec.obs_dim as i64]) * &scale;
    let mut boot = q_value(&nets.q1_targ, &s_n, &nets.policy_targ.act(&s_n));
    if let Some([lo, hi]) = bootstrap_clip {
        boot = boot.clamp(lo, hi);
    }
    let ret = Tensor::from_slice(&ret).to_kind(Kind::Float);
    let alive = Tensor::from_slice(&alive).to_kind(Kind::Float);
    ret + boot * alive * discount
}

/// −mean Q1(s, π(s)) (spec §3.6).
pub fn dpg_policy_loss(q1_of_policy: &Tensor) -> Tensor {
    -q1_of_policy.mean(Kind::Float)
}
