//! MPG-v1 and MPG-v2 (spec §3.2–3.5; paper eq. 9–11, Algorithm 1).
//!
//! | | MPG-v1 | MPG-v2 |
//! |---|---|---|
//! | critics | Q1 | Q1, Q2 |
//! | value target | 25-step TRUE-env rollout ([`crate::ndpg::env_nstep_target`]) | clipped double-Q, one step ([`crate::td3::clipped_double_q_target`], no smoothing) |
//! | policy objective | mixed, H = 25 | mixed, H = 25 |
//! | batch reuse / delay / explore σ | 10 / 2 / 0.1 | 1 / 2 / 0.1 |
//! | η, T | 0.1, 9000 / 4000 | 0.1, 9000 / 4000 |
//!
//! Only the policy objective is MPG's own; it lives here.

use crate::rollout::model_return;
use mpg_models::PriorModel;
use mpg_models::nets::Policy;
use tch::{Kind, Tensor};

/// What the two return terms of spec §3.2 are made of.
pub struct Returns<'a> {
    pub model: &'a dyn PriorModel,
    pub policy: &'a Policy,
    pub obs_scale: &'a Tensor,
    /// The critic of every return term (D2): Q(scaled obs, action) → `[B]`.
    pub q: &'a dyn Fn(&Tensor, &Tensor) -> Tensor,
    pub gamma: f64,
    pub reward_scale: f64,
    pub reward_shift: f64,
}

/// J = w_data·(−mean R₀) + w_model·(−mean R_H) (spec §3.2, paper eq. 9), the weights
/// stop-gradient (plain numbers). R₀ = Q(s₀, π(s₀)) is the data return, R_H the model return
/// Σ_{k<H} γᵏ r̂_k·c_r + γᴴ·Q(ŝ_H, a_H). The first action a₀ = π_θ(s₀) carries θ's gradient;
/// later actions come from a frozen copy of the policy, through which the gradient still
/// flows along the model states — or from π_θ itself with `full_bptt`
/// (`deriv_interval_policy`).
pub fn mixed_policy_loss(
    r: &Returns,
    obs: &Tensor,
    noises: &[Tensor],
    w_data: f64,
    w_model: f64,
    full_bptt: bool,
) -> Tensor {
    let horizon = noises.len() as i32;
    let s0 = obs * r.obs_scale;
    let a0 = r.policy.act(&s0);
    let data_return = (r.q)(&s0, &a0);
    let frozen = Policy {
        net: r.policy.net.frozen(),
        act_dim: r.policy.act_dim,
        squash: r.policy.squash,
    };
    let rollout_policy = if full_bptt { r.policy } else { &frozen };
    let next_action = |s: &Tensor| rollout_policy.act(&(s * r.obs_scale));
    let (ret, s_h, a_h) = model_return(
        r.model,
        obs,
        a0,
        &next_action,
        noises,
        r.gamma,
        r.reward_scale,
        r.reward_shift,
    );
    let model_return = ret + (r.q)(&(&s_h * r.obs_scale), &a_h) * r.gamma.powi(horizon);
    mixed_objective(&data_return, &model_return, w_data, w_model)
}

/// −(w_data·mean(data_return) + w_model·mean(model_return)).
pub fn mixed_objective(
    data_return: &Tensor,
    model_return: &Tensor,
    w_data: f64,
    w_model: f64,
) -> Tensor {
    -(data_return.mean(Kind::Float) * w_data + model_return.mean(Kind::Float) * w_model)
}
