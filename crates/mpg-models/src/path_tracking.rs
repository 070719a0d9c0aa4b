//! The authors' path-tracking prior model (spec §1.9).

use crate::PriorModel;
use mpg_envs::Task;
use mpg_envs::path_tracking::{A, ACC_MAX, B, C_F, C_R, I_Z, MASS, STEER_MAX, V_REF};
use std::f64::consts::PI;
use tch::Tensor;

/// The model's constants (spec §1.9), one copy in `mpg-prior`.
pub use mpg_prior::path_tracking::{MODEL_TAU, VX_MAX, VX_MIN};

/// `PathTrackingModel` (spec §1.9): the §1.4 velocity update with τ = 0.1, forward-Euler
/// kinematics relative to a straight reference line, additive noise on Δy.
///
/// Observation `[v_x − 20, v_y, r, Δy, Δφ, X]` (spec §1.1); action `u`, scaled to
/// δ = u₀·1.2π/9 and a_x = u₁·3 but not clipped (spec §1.9, mismatch (v)).
#[derive(Clone, Copy, Debug, Default)]
pub struct PathTrackingModel;

/// Wrap to (−π, π] by one shift of 2π, as the authors' `tf.where`-based `deal_with_phi`:
/// the gradient is 1 everywhere (spec §1.9).
pub(crate) fn wrap_angle(x: &Tensor) -> Tensor {
    let x = (x - 2.0 * PI).where_self(&x.gt(PI), x);
    (&x + 2.0 * PI).where_self(&x.le(-PI), &x)
}

impl PriorModel for PathTrackingModel {
    fn task(&self) -> Task {
        Task::PathTracking
    }

    /// Spec §1.9, with the reward of §1.6 on the pre-step state and the unclipped action.
    fn step(&self, obs: &Tensor, act: &Tensor, noise: &Tensor) -> (Tensor, Tensor) {
        let tau = MODEL_TAU;
        // Model state from the observation: v_x = o₀ + 20 (spec §1.9).
        let vx = obs.select(1, 0) + V_REF;
        let vy = obs.select(1, 1);
        let r = obs.select(1, 2);
        let dy = obs.select(1, 3);
        let dphi = obs.select(1, 4);
        let x = obs.select(1, 5);
        // Physical action, scaled but not clipped (spec §1.1, §1.9).
        let steer = act.select(1, 0) * STEER_MAX;
        let acc = act.select(1, 1) * ACC_MAX;

        // Reward, spec §1.6: −[0.01(v_x−20)² + 0.04Δy² + 0.1Δφ² + 0.02r² + 5δ² + 0.05a_x²].
        let reward = -((&vx - V_REF).square() * 0.01
            + dy.square() * 0.04
            + dphi.square() * 0.1
            + r.square() * 0.02
            + steer.square() * 5.0
            + acc.square() * 0.05);

        // Velocities, spec §1.4 with τ = 0.1 (implicit in v_y and r):
        // v_x⁺ = v_x + τ(a_x + v_y·r), clipped to [1, 35] (zero gradient outside, as
        // tf.clip_by_value);
        let vx1 = (&vx + (&acc + &vy * &r) * tau).clamp(VX_MIN, VX_MAX);
        // v_y⁺ = [m v_x v_y + τ(aC_f − bC_r) r − τ C_f δ v_x − τ m v_x² r] / [m v_x − τ(C_f + C_r)];
        let vy1 = (&vx * &vy * MASS + &r * (tau * (A * C_F - B * C_R))
            - &steer * &vx * (tau * C_F)
            - vx.square() * &r * (tau * MASS))
            / (&vx * MASS - tau * (C_F + C_R));
        // r⁺ = [−I_z v_x r − τ(aC_f − bC_r) v_y + τ a C_f δ v_x] / [τ(a²C_f + b²C_r) − I_z v_x].
        let r1 = (&vx * &r * (-I_Z) - &vy * (tau * (A * C_F - B * C_R))
            + &steer * &vx * (tau * A * C_F))
            / (&vx * (-I_Z) + tau * (A * A * C_F + B * B * C_R));

        // Path-relative forward-Euler kinematics with pre-step values (spec §1.9):
        // Δy⁺ = Δy + τ(v_x sin Δφ + v_y cos Δφ) + ε,
        // Δφ⁺ = wrap(Δφ + τ r), X⁺ = X + τ(v_x cos Δφ − v_y sin Δφ) (X not wrapped).
        let (sin, cos) = (dphi.sin(), dphi.cos());
        let dy1 = &dy + (&vx * &sin + &vy * &cos) * tau + noise;
        let dphi1 = wrap_angle(&(&dphi + &r * tau));
        let x1 = &x + (&vx * &cos - &vy * &sin) * tau;

        let next = Tensor::stack(&[vx1 - V_REF, vy1, r1, dy1, dphi1, x1], 1);
        (next, reward)
    }
}
