//! The prior models of the paper's two tasks in plain Rust: one step per sample in f64 and its
//! hand-derived vector-Jacobian product, with the models' constants (spec §1.9, §2.3).
//!
//! No libtorch: the fast gradient path of `mpg-algos` and the Python package `mpg-py` use these
//! directly; `mpg-models` (the tch models, the autograd reference) takes its constants from here,
//! so every constant has one copy.
//!
//! * [`path_model`]: the path-tracking prior model (spec §1.9), constants in [`path_tracking`].
//! * [`pendulum_model`]: the inverted-pendulum prior model (spec §2.3), constants in
//!   [`pendulum`].

pub mod path_model;
pub mod pendulum_model;

/// The path-tracking prior model's own constants (spec §1.9); the vehicle's are the
/// simulator's (`mpg_envs::path_tracking`).
pub mod path_tracking {
    /// One model step length, s: a single 0.1 s update (spec §1.9, mismatch (i)).
    pub const MODEL_TAU: f64 = 0.1;
    /// Speed bounds applied to v_x⁺ (spec §1.4, §1.9).
    pub const VX_MIN: f64 = 1.0;
    pub const VX_MAX: f64 = 35.0;
}

/// The inverted-pendulum prior model's constants (spec §2.3).
pub mod pendulum {
    /// Cart mass M, kg (spec §2.3; the simulator's is 10.472, §2.2).
    pub const CART_MASS: f64 = 9.42;
    /// Rod mass m₁, kg (spec §2.3; the simulator's pole is 5.019, §2.2).
    pub const ROD_MASS: f64 = 4.89;
    /// Rod length l, m, centre of mass at l/2 (spec §2.3).
    pub const ROD_LENGTH: f64 = 0.6;
    /// Gravity, m/s² (spec §2.3).
    pub const GRAVITY: f64 = 9.81;
    /// Actuator gear: force = 100·a N (spec §2.1, §2.3).
    pub const GEAR: f64 = 100.0;
    /// One explicit-Euler step, s (spec §2.3).
    pub const MODEL_TAU: f64 = 0.04;
    /// Reward weights on the post-step model state (p, θ, ṗ, θ̇): velocity weights 1e-3 as
    /// coded, not the simulator's 0.1 (spec §2.3, D3).
    pub const REWARD_WEIGHTS: [f64; 4] = [0.01, 1.0, 1e-3, 1e-3];
}

pub use path_model::PathModel;
pub use pendulum_model::PendulumModel;

/// A prior model's one-step map for one sample, in f64, with its vector-Jacobian product.
/// Observations are raw (not scaled), actions in policy units (as `mpg_models::PriorModel`).
pub trait FastModel {
    const OBS: usize;
    const ACT: usize;

    /// Writes the next observation into `next` (`OBS` values) and returns the raw reward.
    fn step(s: &[f64], a: &[f64], noise: f64, next: &mut [f64]) -> f64;

    /// Given dL/d next observation `g` and dL/d reward `g_rew` at (`s`, `a`, `noise`), writes
    /// dL/d`s` into `gs` and dL/d`a` into `ga` (overwriting both).
    fn step_vjp(
        s: &[f64],
        a: &[f64],
        noise: f64,
        g: &[f64],
        g_rew: f64,
        gs: &mut [f64],
        ga: &mut [f64],
    );
}
