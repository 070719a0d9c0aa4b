//! n-step ADP (spec §3.7; code `NADP`).
//!
//! | critics | value target | policy objective | batch reuse | delay | explore σ |
//! |---|---|---|---|---|---|
//! | Q1 | 25-step MODEL rollout | 25-step model return, full BPTT | 1 | 1 | none |

use crate::batch::TchBatch;
use crate::nets::TchNets;
use crate::rollout::model_return;
use mpg_envs::TaskSpec;
use mpg_models::PriorModel;
use mpg_models::nets::{Mlp, q_value};
use tch::{Kind, Tensor};

/// y = Σ_{k<H} γᵏ r̂_k·scale + γᴴ·Q1'(ŝ_H, π(ŝ_H)) from (s, stored a) through the model, later
/// actions from the current policy, the TARGET Q1 with the CURRENT policy (spec §3.7); called
/// without gradient.
pub fn model_nstep_target(
    model: &dyn PriorModel,
    nets: &TchNets,
    b: &TchBatch,
    noises: &[Tensor],
    gamma: f64,
    spec: &TaskSpec,
) -> Tensor {
    let a0 = b.act.shallow_clone();
    policy_return(model, nets, &nets.q1_targ, &b.obs, a0, noises, gamma, spec)
}

/// −mean[Σ_{k<H} γᵏ r̂_k·scale + γᴴ·Q1(ŝ_H, π(ŝ_H))] with a₀ = π(s) and the trained policy at
/// every step: full BPTT (spec §3.7).
pub fn bptt_policy_loss(
    model: &dyn PriorModel,
    nets: &TchNets,
    obs: &Tensor,
    noises: &[Tensor],
    gamma: f64,
    spec: &TaskSpec,
) -> Tensor {
    let scale = Tensor::from_slice(spec.obs_scale);
    let a0 = nets.policy.act(&(obs * &scale));
    -policy_return(model, nets, &nets.q1, obs, a0, noises, gamma, spec).mean(Kind::Float)
}

/// Σ_{k<H} γᵏ r̂_k·scale + γᴴ·q(ŝ_H, π(ŝ_H)) along a model rollout from `obs` with first action
/// `a0` and every later action from the current policy (both n-step ADP terms, spec §3.7).
fn policy_return(
    model: &dyn PriorModel,
    nets: &TchNets,
    q: &Mlp,
    obs: &Tensor,
    a0: Tensor,
    noises: &[Tensor],
    gamma: f64,
    spec: &TaskSpec,
) -> Tensor {
    let scale = Tensor::from_slice(spec.obs_scale);
    let next_action = |s: &Tensor| nets.policy.act(&(s * &scale));
    let (ret, s_h, a_h) = model_return(
        model,
        obs,
        a0,
        &next_action,
        noises,
        gamma,
        spec.reward_scale as f64,
        spec.reward_shift as f64,
    );
    ret + q_value(q, &(s_h * &scale), &a_h) * gamma.powi(noises.len() as i32)
}
