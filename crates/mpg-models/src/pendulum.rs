//! The authors' inverted-pendulum prior model (spec §2.3).

use crate::PriorModel;
use mpg_envs::Task;
use tch::Tensor;

/// The model's constants (spec §2.3, D3), one copy in `mpg-prior`.
pub use mpg_prior::pendulum::{
    CART_MASS, GEAR, GRAVITY, MODEL_TAU, REWARD_WEIGHTS, ROD_LENGTH, ROD_MASS,
};

/// `InvertedPendulumModel` (spec §2.3): textbook cart + uniform rod without damping, one
/// explicit-Euler step of 0.04 s, additive noise on the cart position.
///
/// Observation `[p, θ, ṗ, θ̇]`; action `a`, cart force F = 100·a (not clipped, D5).
#[derive(Clone, Copy, Debug, Default)]
pub struct PendulumModel;

impl PriorModel for PendulumModel {
    fn task(&self) -> Task {
        Task::InvertedPendulum
    }

    /// Spec §2.3.
    fn step(&self, obs: &Tensor, act: &Tensor, noise: &Tensor) -> (Tensor, Tensor) {
        let (big_m, m1, l, g, tau) = (CART_MASS, ROD_MASS, ROD_LENGTH, GRAVITY, MODEL_TAU);
        let p = obs.select(1, 0);
        let theta = obs.select(1, 1);
        let p_dot = obs.select(1, 2);
        let theta_dot = obs.select(1, 3);
        let force = act.select(1, 0) * GEAR;
        let (sin, cos) = (theta.sin(), theta.cos());

        // Mass matrix D = [[M + m₁, (m₁/2) l cos θ], [(m₁/2) l cos θ, (m₁/3) l²]] and
        // rhs = [(m₁/2) l sin θ θ̇² + F, (m₁/2) l g sin θ] (spec §2.3), solved by Cramer's rule.
        let d00 = big_m + m1;
        let d01 = &cos * (m1 / 2.0 * l);
        let d11 = m1 / 3.0 * l * l;
        let rhs0 = &sin * theta_dot.square() * (m1 / 2.0 * l) + &force;
        let rhs1 = &sin * (m1 / 2.0 * l * g);
        let det = d00 * d11 - d01.square();
        let p_acc = (&rhs0 * d11 - &d01 * &rhs1) / &det;
        let theta_acc = (&rhs1 * d00 - &d01 * &rhs0) / &det;

        // One explicit-Euler step s⁺ = s + τ·[ṗ, θ̇, p̈, θ̈], then p⁺ += ε (spec §2.3).
        let p1 = &p + &p_dot * tau + noise;
        let theta1 = &theta + &theta_dot * tau;
        let p_dot1 = &p_dot + p_acc * tau;
        let theta_dot1 = &theta_dot + theta_acc * tau;

        // Reward on the post-step model state: −[0.01p² + θ² + 1e-3ṗ² + 1e-3θ̇²] (§2.3, D3).
        let [wp, wt, wpd, wtd] = REWARD_WEIGHTS;
        let reward = -(p1.square() * wp
            + theta1.square() * wt
            + p_dot1.square() * wpd
            + theta_dot1.square() * wtd);

        let next = Tensor::stack(&[p1, theta1, p_dot1, theta_dot1], 1);
        (next, reward)
    }
}
