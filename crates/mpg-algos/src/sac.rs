//! SAC with fixed temperature (spec §3.8; D14).
//!
//! | critics | value target | policy objective | batch reuse | delay | explore |
//! |---|---|---|---|---|---|
//! | Q1, Q2 | r + γ·(min(Q1', Q2')(s', a') − α log π(a'\|s')), a' ~ π | α log π(a\|s) − min(Q1, Q2)(s, a) | 1 | 1 | stochastic policy, α = 0.03 |

use tch::{Kind, Tensor};

/// y = r + γ·not_done·(min(Q1', Q2')(s', a') − α·log π(a'|s')), a' from the CURRENT policy.
pub fn soft_target(
    r: &Tensor,
    q1_next: &Tensor,
    q2_next: &Tensor,
    logp_next: &Tensor,
    not_done: &Tensor,
    gamma: f64,
    alpha: f64,
) -> Tensor {
    r + (q1_next.minimum(q2_next) - logp_next * alpha) * not_done * gamma
}

/// mean(α·log π(a|s) − min(Q1, Q2)(s, a)) with a reparameterised (spec §3.8).
pub fn soft_policy_loss(min_q: &Tensor, logp: &Tensor, alpha: f64) -> Tensor {
    (logp * alpha - min_q).mean(Kind::Float)
}
