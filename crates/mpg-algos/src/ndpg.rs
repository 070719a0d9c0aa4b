//! n-step DPG (spec §3.6; code `NDPG`).
//!
//! | critics | value target | policy objective | batch reuse | delay | explore σ |
//! |---|---|---|---|---|---|
//! | Q1 | 25-step TRUE-env rollout | Q1(s, π(s)) | 10 | 1 | none |
//!
//! Its critic target is also MPG-v1's (spec §3.4).

use crate::batch::Batch;
use mpg_envs::{Sim, TaskSpec};
use tch::{Kind, Tensor};

/// The two policy passes of [`env_nstep_target`], on scaled observations `[n, obs_dim]`: the
/// current policy's deterministic action π(s) `[n, act_dim]`, and the bootstrap
/// Q1'(s, π'(s)) `[n]`. The fast path runs them on the plain networks, the reference on
/// libtorch's; the rollout around them is one code.
pub trait EnvRolloutNets {
    fn act(&mut self, s_scaled: &[f32]) -> Vec<f32>;
    fn bootstrap(&mut self, s_scaled: &[f32]) -> Vec<f32>;
}

/// y = Σ_{t<n} γᵗ·r_t·scale + γⁿ·Q1'(s_n, π'(s_n)) through the TRUE simulator (spec §3.4):
/// reset to the batch's observations, a₀ = the stored action, a_t = π(s_t) (current policy,
/// deterministic) for t ≥ 1, n steps ignoring done; the bootstrap optionally clipped
/// (pendulum [−0.5, 0]). With `mask_terminal` (D17) nothing is added past a termination. The
/// return is summed in f64, the bootstrap term in f32 as the tensors computed it.
#[allow(clippy::too_many_arguments)]
pub fn env_nstep_target(
    sim: &mut dyn Sim,
    nets: &mut dyn EnvRolloutNets,
    b: &Batch,
    n: usize,
    gamma: f64,
    spec: &TaskSpec,
    bootstrap_clip: Option<[f64; 2]>,
    mask_terminal: bool,
) -> Vec<f32> {
    let batch = b.len();
    let scaled = |obs: &[f32]| -> Vec<f32> {
        let mut v = obs.to_vec();
        for row in v.chunks_exact_mut(spec.obs_dim) {
            row.iter_mut()
                .zip(spec.obs_scale)
                .for_each(|(x, &c)| *x *= c);
        }
        v
    };
    sim.set_obs(&b.obs).expect("batch observations are finite");
    let mut act = b.act.clone();
    let mut obs_t = vec![0.0f32; batch * spec.obs_dim];
    let (mut rew, mut done) = (vec![0.0f32; batch], vec![false; batch]);
    let (mut ret, mut alive) = (vec![0.0f64; batch], vec![1.0f64; batch]);
    let mut discount = 1.0;
    for t in 0..n {
        if t > 0 {
            act = nets.act(&scaled(&obs_t));
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
    let mut boot = nets.bootstrap(&scaled(&obs_t));
    if let Some([lo, hi]) = bootstrap_clip {
        boot.iter_mut()
            .for_each(|v| *v = v.clamp(lo as f32, hi as f32));
    }
    (0..batch)
        .map(|i| ret[i] as f32 + boot[i] * alive[i] as f32 * discount as f32)
        .collect()
}

/// The reference's policy passes: libtorch forward passes of the autograd networks.
pub struct TchRolloutNets<'a> {
    pub nets: &'a crate::nets::TchNets,
}

impl EnvRolloutNets for TchRolloutNets<'_> {
    fn act(&mut self, s_scaled: &[f32]) -> Vec<f32> {
        let s = rows(s_scaled, self.nets.policy.net.w[0].size()[0]);
        crate::fast::values(&tch::no_grad(|| self.nets.policy.act(&s)))
    }

    fn bootstrap(&mut self, s_scaled: &[f32]) -> Vec<f32> {
        let s = rows(s_scaled, self.nets.policy.net.w[0].size()[0]);
        let q = tch::no_grad(|| {
            mpg_models::nets::q_value(&self.nets.q1_targ, &s, &self.nets.policy_targ.act(&s))
        });
        crate::fast::values(&q.to_kind(Kind::Float))
    }
}

fn rows(v: &[f32], d: i64) -> Tensor {
    Tensor::from_slice(v).reshape([v.len() as i64 / d, d])
}

/// −mean Q1(s, π(s)) (spec §3.6).
pub fn dpg_policy_loss(q1_of_policy: &Tensor) -> Tensor {
    -q1_of_policy.mean(Kind::Float)
}
