//! Rollouts through the prior model, shared by MPG's model term and n-step ADP (spec §3.2, §3.7).

use mpg_models::PriorModel;
use tch::Tensor;

/// Σ_{k<H} γᵏ·(r̂_k + shift)·scale along a model rollout from raw observations `s0` with first
/// action `a0`, later actions `next_action(ŝ_k)`, noise `noises[k]` at step k (H = its length).
/// Returns (the discounted model return `[B]`, ŝ_H, a_H = next_action(ŝ_H)).
pub fn model_return(
    model: &dyn PriorModel,
    s0: &Tensor,
    a0: Tensor,
    next_action: &dyn Fn(&Tensor) -> Tensor,
    noises: &[Tensor],
    gamma: f64,
    reward_scale: f64,
    reward_shift: f64,
) -> (Tensor, Tensor, Tensor) {
    let mut s = s0.shallow_clone();
    let mut a = a0;
    let mut ret = s0.zeros_like().sum_dim_intlist(-1, false, s0.kind());
    let mut discount = 1.0;
    for eps in noises {
        let (next, r) = model.step(&s, &a, eps);
        // Out of place on purpose: `+=` on a tensor is libtorch's in-place add inside the graph.
        #[allow(clippy::assign_op_pattern)]
        {
            ret = ret + (r + reward_shift) * (reward_scale * discount);
        }
        discount *= gamma;
        s = next;
        a = next_action(&s);
    }
    (ret, s, a)
}
