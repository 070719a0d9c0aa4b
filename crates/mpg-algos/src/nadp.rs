//! n-step ADP (spec §3.7; code `NADP`).
//!
//! | critics | value target | policy objective | batch reuse | delay | explore σ |
//! |---|---|---|---|---|---|
//! | Q1 | 25-step MODEL rollout | 25-step model return, full BPTT | 1 | 1 | none |

use crate::learner::{Batch, Nets};
use crate::rollout::model_return;
use mpg_envs::TaskSpec;
use mpg_models::PriorModel;
use mpg_models::nets::q_value;
use tch::{Kind, Tensor};

/// y = Σ_{k<H} γᵏ r̂_k·scale + γᴴ·Q1'(ŝ_H, π(ŝ_H)) from (s, stored a) through the model, later
/// actions from the current policy, the TARGET Q1 with the CURRENT policy (spec §3.7); called
/// without gradient.
pub fn model_nstep_target(
    model: &dyn PriorModel,
    nets: &Nets,
    b: &Batch,
    noises: &[Tensor],
    gamma: f64,
    spec: &TaskSpec,
) -> Tensor {
    let scale = Tensor::from_slice(spec.obs_scale);
    let next_action = |s: &Tensor| nets.policy.act(&(s * &scale));
    let (ret, s_h, a_h) = model_return(
        model,
        &b.obs,
        b.act.shallow_clone(),
        &next_action,
        noises,
        gamma,
        spec.reward_scale as f64,
        spec.reward_shift as f64,
    );
    ret + q_value(&nets.q1_targ, &(s_h * &scale), &a_h) * gamma.powi(noises.len() as i32)
}

/// −mean[Σ_{k<H} γᵏ r̂_k·scale + γᴴ·Q1(ŝ_H, π(ŝ_H))] with a₀ = π(s) and the trained policy at
/// every step: full BPTT (spec §3.7).
pub fn bptt_policy_loss(
    model: &dyn PriorModel,
    nets: &Nets,
    obs: &Tensor,
    noises: &[Tensor],
    gamma: f64,
    spec: &TaskSpec,
) -> Tensor {
    let scale = Tensor::from_slice(spec.obs_scale);
    let next_action = |s: &Tensor| nets.policy.act(&(s * &scale));
    let a0 = next_action(obs);
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
    let total = ret + q_value(&nets.q1, &(s_h * &scale), &a_h) * gamma.powi(noises.len() as i32);
    -total.mean(Kind::Float)
}
