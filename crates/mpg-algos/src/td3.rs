//! TD3 (spec §3.8).
//!
//! | critics | value target | policy objective | batch reuse | delay | explore σ |
//! |---|---|---|---|---|---|
//! | Q1, Q2 | r + γ·min(Q1', Q2')(s', π'(s') + clip(N(0, 0.2²), ±0.5)) | min(Q1, Q2)(s, π(s)) | 1 | 2 | 0.1 |
//!
//! [`clipped_double_q_target`] is also MPG-v2's critic target (without the smoothing).

use tch::{Kind, Tensor};

/// π'(s') + clip(σ·ε, −c, c); NOT re-clipped to the action range (spec §3.8).
pub fn smoothed_action(a: &Tensor, eps: &Tensor, std: f64, clip: f64) -> Tensor {
    a + (eps * std).clamp(-clip, clip)
}

/// y = r + γ·not_done·min(Q1'(s', a'), Q2'(s', a')) (spec §3.5, §3.8); r already scaled.
pub fn clipped_double_q_target(
    r: &Tensor,
    q1_next: &Tensor,
    q2_next: &Tensor,
    not_done: &Tensor,
    gamma: f64,
) -> Tensor {
    r + q1_next.minimum(q2_next) * not_done * gamma
}

/// −mean min(Q1, Q2)(s, π(s)) (spec §3.8).
pub fn min_q_policy_loss(min_q_of_policy: &Tensor) -> Tensor {
    -min_q_of_policy.mean(Kind::Float)
}
