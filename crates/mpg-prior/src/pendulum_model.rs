//! The inverted-pendulum prior model step of spec §2.3 (as `mpg_models::PendulumModel`), per
//! sample in f64, and its hand-derived vector-Jacobian product.

use crate::FastModel;
use crate::pendulum::{
    CART_MASS, GEAR, GRAVITY, MODEL_TAU as TAU, REWARD_WEIGHTS, ROD_LENGTH, ROD_MASS,
};

/// d₀₀ = M + m₁ of the mass matrix (spec §2.3).
const D00: f64 = CART_MASS + ROD_MASS;
/// d₁₁ = (m₁/3)·l².
const D11: f64 = ROD_MASS / 3.0 * ROD_LENGTH * ROD_LENGTH;
/// (m₁/2)·l: d₀₁ = K1·cos θ, the rod's terms of the right-hand side.
const K1: f64 = ROD_MASS / 2.0 * ROD_LENGTH;

/// The pendulum prior model: observation `[p, θ, ṗ, θ̇]`, action `a` (force 100·a, unclipped,
/// D5), additive noise on p (spec §2.3).
#[derive(Clone, Copy, Debug, Default)]
pub struct PendulumModel;

/// The intermediate values of one step that both the step and its product need.
struct Step {
    sin: f64,
    cos: f64,
    d01: f64,
    rhs0: f64,
    rhs1: f64,
    det: f64,
    p_acc: f64,
    theta_acc: f64,
}

fn dynamics(s: &[f64], a: &[f64]) -> Step {
    let (theta, theta_dot) = (s[1], s[3]);
    let force = a[0] * GEAR;
    let (sin, cos) = theta.sin_cos();
    // D = [[d₀₀, d₀₁], [d₀₁, d₁₁]], rhs = [(m₁/2) l sin θ θ̇² + F, (m₁/2) l g sin θ], solved by
    // Cramer's rule (spec §2.3).
    let d01 = K1 * cos;
    let rhs0 = K1 * sin * theta_dot * theta_dot + force;
    let rhs1 = K1 * GRAVITY * sin;
    let det = D00 * D11 - d01 * d01;
    Step {
        sin,
        cos,
        d01,
        rhs0,
        rhs1,
        det,
        p_acc: (rhs0 * D11 - d01 * rhs1) / det,
        theta_acc: (rhs1 * D00 - d01 * rhs0) / det,
    }
}

impl FastModel for PendulumModel {
    const OBS: usize = 4;
    const ACT: usize = 1;

    /// One explicit-Euler step of 0.04 s, then p⁺ += ε; the reward on the post-step state
    /// −[0.01p² + θ² + 1e-3ṗ² + 1e-3θ̇²] (spec §2.3, D3).
    fn step(s: &[f64], a: &[f64], noise: f64, next: &mut [f64]) -> f64 {
        let d = dynamics(s, a);
        let [p, theta, p_dot, theta_dot] = s[..4] else {
            unreachable!()
        };
        next[0] = p + p_dot * TAU + noise;
        next[1] = theta + theta_dot * TAU;
        next[2] = p_dot + d.p_acc * TAU;
        next[3] = theta_dot + d.theta_acc * TAU;
        -(0..4)
            .map(|i| REWARD_WEIGHTS[i] * next[i] * next[i])
            .sum::<f64>()
    }

    /// The product of [`PendulumModel::step`]'s Jacobian with (dL/d next state `g`, dL/d reward
    /// `g_rew`). The noise is additive, but the reward reads p⁺ = p + τṗ + ε, so it enters.
    fn step_vjp(
        s: &[f64],
        a: &[f64],
        noise: f64,
        g: &[f64],
        g_rew: f64,
        gs: &mut [f64],
        ga: &mut [f64],
    ) {
        let d = dynamics(s, a);
        let [p, theta, p_dot, theta_dot] = s[..4] else {
            unreachable!()
        };
        let next = [
            p + p_dot * TAU + noise,
            theta + theta_dot * TAU,
            p_dot + d.p_acc * TAU,
            theta_dot + d.theta_acc * TAU,
        ];
        // dL/d next state, the reward's share included.
        let gn: [f64; 4] =
            std::array::from_fn(|i| g[i] - 2.0 * REWARD_WEIGHTS[i] * next[i] * g_rew);
        // Euler step: p⁺ = p + τṗ, θ⁺ = θ + τθ̇, ṗ⁺ = ṗ + τp̈, θ̇⁺ = θ̇ + τθ̈.
        let (g_pacc, g_tacc) = (TAU * gn[2], TAU * gn[3]);
        // p̈ = N₁/det, N₁ = d₁₁·rhs₀ − d₀₁·rhs₁; θ̈ = N₂/det, N₂ = d₀₀·rhs₁ − d₀₁·rhs₀;
        // det = d₀₀d₁₁ − d₀₁².
        let (g_n1, g_n2) = (g_pacc / d.det, g_tacc / d.det);
        let g_det = -(g_pacc * d.p_acc + g_tacc * d.theta_acc) / d.det;
        let g_rhs0 = D11 * g_n1 - d.d01 * g_n2;
        let g_rhs1 = -d.d01 * g_n1 + D00 * g_n2;
        let g_d01 = -d.rhs1 * g_n1 - d.rhs0 * g_n2 - 2.0 * d.d01 * g_det;
        // d₀₁ = K1·cos θ, rhs₀ = K1·sin θ·θ̇² + F, rhs₁ = K1·g·sin θ, F = 100·a.
        gs[0] = gn[0];
        gs[1] = gn[1] - K1 * d.sin * g_d01
            + K1 * d.cos * theta_dot * theta_dot * g_rhs0
            + K1 * GRAVITY * d.cos * g_rhs1;
        gs[2] = TAU * gn[0] + gn[2];
        gs[3] = TAU * gn[1] + gn[3] + 2.0 * K1 * d.sin * theta_dot * g_rhs0;
        ga[0] = GEAR * g_rhs0;
    }
}
