//! The vehicle path-tracking simulator (spec §1), batched, in f64 (D13).
//!
//! Observation `[v_x − 20, v_y, r, Δy, Δφ, X]`, action `u ∈ [−1, 1]²` scaled to steering
//! δ = u₀·1.2π/9 rad and acceleration a_x = u₁·3 m/s², then clipped (spec §1.1).

use crate::fastmath::{atan_unit, sin_cos};
use crate::{BLOCK, Kernel, Rng, Task, TaskSpec, Termination, wrap_angle};
use rand::Rng as _;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

pub static SPEC: TaskSpec = TaskSpec {
    task: Task::PathTracking,
    obs_dim: 6,
    act_dim: 2,
    obs_scale: &[1.0, 1.0, 2.0, 1.0, 2.4, 1.0 / 1200.0],
    reward_scale: 0.01,
    reward_shift: 0.0,
    eval_steps: 200,
    base_score: -30.0,
};

// Vehicle constants, spec §1.3.
pub const MASS: f64 = 1412.0;
pub const I_Z: f64 = 1536.7;
pub const A: f64 = 1.06;
pub const B: f64 = 1.85;
pub const C_F: f64 = -128_915.5;
pub const C_R: f64 = -85_943.6;
pub const MU: f64 = 1.0;
pub const G: f64 = 9.81;
pub const F_ZF: f64 = B * MASS * G / (A + B);
pub const F_ZR: f64 = A * MASS * G / (A + B);

/// Expected speed v_ref (spec §1.1).
pub const V_REF: f64 = 20.0;
/// Steering scale and bound: 1.2π/9 rad = 24° (spec §1.1).
pub const STEER_MAX: f64 = 1.2 * PI / 9.0;
/// Acceleration scale and bound, m/s² (spec §1.1).
pub const ACC_MAX: f64 = 3.0;
/// Simulator sub-steps per 0.1 s environment step, and their length (spec §1.5).
pub const SUBSTEPS: usize = 20;
pub const TAU: f64 = 0.005;
/// Period of the reference path, m (spec §1.2).
pub const PATH_PERIOD: f64 = 1200.0;
/// Episode limit under D1 `corrected` (the evaluation length, spec §1.11).
pub const CORRECTED_LIMIT: u32 = 200;

/// Reference path y_ref(X) and its heading φ_ref(X) = atan(dy_ref/dX) (spec §1.2).
#[inline(always)]
pub fn reference(x: f64) -> (f64, f64) {
    const W1: f64 = 2.0 * PI / 200.0;
    const W2: f64 = 2.0 * PI / 300.0;
    const W3: f64 = 2.0 * PI / 400.0;
    let (s1, c1) = sin_cos(W1 * x);
    let (s2, c2) = sin_cos(W2 * x);
    let (s3, c3) = sin_cos(W3 * x);
    let y = 7.5 * s1 + 2.5 * s2 - 5.0 * s3;
    // |slope| ≤ 0.3665 everywhere, inside atan_unit's range.
    let slope = 7.5 * W1 * c1 + 2.5 * W2 * c2 - 5.0 * W3 * c3;
    (y, atan_unit(slope))
}

/// Raw reward of spec §1.6, on the pre-step state and the clipped physical action.
#[inline(always)]
pub fn reward(vx: f64, dy: f64, dphi: f64, r: f64, steer: f64, acc: f64) -> f64 {
    -(0.01 * (vx - V_REF).powi(2)
        + 0.04 * dy * dy
        + 0.1 * dphi * dphi
        + 0.02 * r * r
        + 5.0 * steer * steer
        + 0.05 * acc * acc)
}

/// Normalised action → clipped physical (δ, a_x) (spec §1.1: scale, then clip).
#[inline(always)]
pub fn physical_action(u0: f32, u1: f32) -> (f64, f64) {
    (
        (u0 as f64 * STEER_MAX).clamp(-STEER_MAX, STEER_MAX),
        (u1 as f64 * ACC_MAX).clamp(-ACC_MAX, ACC_MAX),
    )
}

/// The velocity update of spec §1.4 (implicit in v_y, r), shared in form with the prior model.
#[inline(always)]
pub fn velocity_update(
    vx: f64,
    vy: f64,
    r: f64,
    steer: f64,
    acc: f64,
    tau: f64,
) -> (f64, f64, f64) {
    let vx1 = (vx + tau * (acc + vy * r)).clamp(1.0, 35.0);
    let vy1 = (MASS * vx * vy + tau * (A * C_F - B * C_R) * r
        - tau * C_F * steer * vx
        - tau * MASS * vx * vx * r)
        / (MASS * vx - tau * (C_F + C_R));
    let r1 = (-I_Z * vx * r - tau * (A * C_F - B * C_R) * vy + tau * A * C_F * steer * vx)
        / (tau * (A * A * C_F + B * B * C_R) - I_Z * vx);
    (vx1, vy1, r1)
}

/// The coded termination test of spec §1.8 on the state after a step. With `Paper` the bounds
/// keep the coded (negative) sign, so the test is true for every finite state (D1).
pub fn coded_done(
    vx: f64,
    vy: f64,
    r: f64,
    dy: f64,
    dphi: f64,
    steer: f64,
    acc: f64,
    termination: Termination,
) -> bool {
    let f_xf = if acc < 0.0 { MASS * acc / 2.0 } else { 0.0 };
    let f_xr = if acc < 0.0 {
        MASS * acc / 2.0
    } else {
        MASS * acc
    };
    let mu_f = ((MU * F_ZF).powi(2) - f_xf * f_xf).sqrt() / F_ZF;
    let mu_r = ((MU * F_ZR).powi(2) - f_xr * f_xr).sqrt() / F_ZR;
    let mut b_f = 3.0 * mu_f * F_ZF / C_F;
    let mut b_r = 3.0 * mu_r * F_ZR / C_R;
    let b_yaw = mu_r * G / vx.abs();
    if termination == Termination::Corrected {
        b_f = b_f.abs();
        b_r = b_r.abs();
    }
    let alpha_f = ((vy + A * r) / vx).atan() - steer;
    let alpha_r = ((vy - B * r) / vx).atan();
    dy.abs() > 3.0
        || dphi.abs() > PI / 4.0
        || vx < 2.0
        || alpha_f < -b_f
        || alpha_f > b_f
        || alpha_r < -b_r
        || alpha_r > b_r
        || r < -b_yaw
        || r > b_yaw
}

/// The path-tracking physics for [`crate::VecSim`].
#[derive(Clone, Debug, Default)]
pub struct PathTracking {
    pub termination: Termination,
}

impl PathTracking {
    pub fn new(termination: Termination) -> Self {
        PathTracking { termination }
    }
}

/// A block's state: the global pose (y, φ, X), the velocities, and the path-relative errors
/// (Δy, Δφ), all kept as the authors' env keeps them (spec §1.1).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Block {
    vx: Vec<f64>,
    vy: Vec<f64>,
    r: Vec<f64>,
    y: Vec<f64>,
    phi: Vec<f64>,
    x: Vec<f64>,
    dy: Vec<f64>,
    dphi: Vec<f64>,
    /// Steps since reset (only read under D1 `corrected`).
    steps: Vec<u32>,
}

impl Kernel for PathTracking {
    type Block = Block;

    fn spec(&self) -> &'static TaskSpec {
        &SPEC
    }

    fn new_block(&self, n: usize) -> Block {
        let z = vec![0.0; n];
        Block {
            vx: z.clone(),
            vy: z.clone(),
            r: z.clone(),
            y: z.clone(),
            phi: z.clone(),
            x: z.clone(),
            dy: z.clone(),
            dphi: z,
            steps: vec![0; n],
        }
    }

    /// Spec §1.7.
    fn reset(&self, b: &mut Block, i: usize, rng: &mut Rng) {
        let x = rng.random::<f64>() * 600.0;
        let dy: f64 = rng.sample(StandardNormal);
        let dphi = rng.sample::<f64, _>(StandardNormal) * (PI / 9.0);
        let vx = 15.0 + 10.0 * rng.random::<f64>();
        let beta = rng.sample::<f64, _>(StandardNormal) * 0.15;
        let r = rng.sample::<f64, _>(StandardNormal) * 0.3;
        let (y_ref, phi_ref) = reference(x);
        let phi = wrap_angle(dphi + phi_ref);
        b.vx[i] = vx;
        b.vy[i] = vx * beta.tan();
        b.r[i] = r;
        b.y[i] = dy + y_ref;
        b.phi[i] = phi;
        b.x[i] = x;
        b.dy[i] = dy;
        b.dphi[i] = phi - phi_ref;
        b.steps[i] = 0;
    }

    /// The authors' `reset(init_obs=obs)` (spec §1.7): φ is not wrapped here.
    fn set_obs(&self, b: &mut Block, i: usize, o: &[f32]) {
        let (x, dy, dphi) = (o[5] as f64, o[3] as f64, o[4] as f64);
        let (y_ref, phi_ref) = reference(x);
        b.vx[i] = o[0] as f64 + V_REF;
        b.vy[i] = o[1] as f64;
        b.r[i] = o[2] as f64;
        b.y[i] = dy + y_ref;
        b.phi[i] = dphi + phi_ref;
        b.x[i] = x;
        b.dy[i] = dy;
        b.dphi[i] = dphi;
        b.steps[i] = 0;
    }

    fn observe(&self, b: &Block, obs: &mut [f32]) {
        for (i, o) in obs.chunks_exact_mut(6).enumerate() {
            o[0] = (b.vx[i] - V_REF) as f32;
            o[1] = b.vy[i] as f32;
            o[2] = b.r[i] as f32;
            o[3] = b.dy[i] as f32;
            o[4] = b.dphi[i] as f32;
            o[5] = b.x[i] as f32;
        }
    }

    /// One 0.1 s step (spec §1.5): reward on the pre-step state, then 20 semi-implicit
    /// sub-steps. The reference-path values (Δy, Δφ) and the wraps are only read after the last
    /// sub-step, so they are computed once, with the same result.
    fn step(&self, b: &mut Block, act: &[f32], reward_out: &mut [f32], done: &mut [bool]) {
        let n = b.vx.len();
        let mut steer = [0.0f64; BLOCK];
        let mut acc = [0.0f64; BLOCK];
        for i in 0..n {
            (steer[i], acc[i]) = physical_action(act[2 * i], act[2 * i + 1]);
            reward_out[i] = reward(b.vx[i], b.dy[i], b.dphi[i], b.r[i], steer[i], acc[i]) as f32;
        }
        let (steer, acc) = (&steer[..n], &acc[..n]);
        let (vx, vy, r) = (&mut b.vx[..n], &mut b.vy[..n], &mut b.r[..n]);
        let (y, phi, x) = (&mut b.y[..n], &mut b.phi[..n], &mut b.x[..n]);
        for _ in 0..SUBSTEPS {
            for i in 0..n {
                let (vx0, vy0, r0) = (vx[i], vy[i], r[i]);
                let (vx1, vy1, r1) = velocity_update(vx0, vy0, r0, steer[i], acc[i], TAU);
                // Semi-implicit pose update: old velocities, new heading (spec §1.5 step 2).
                phi[i] += TAU * r0;
                let (s, c) = sin_cos(phi[i]);
                y[i] += TAU * (vx0 * s + vy0 * c);
                x[i] += TAU * (vx0 * c - vy0 * s);
                (vx[i], vy[i], r[i]) = (vx1, vy1, r1);
            }
        }
        // Spec §1.5 steps 4–5 after the last sub-step: errors from the unwrapped X, then wraps.
        let (dy, dphi) = (&mut b.dy[..n], &mut b.dphi[..n]);
        for i in 0..n {
            let (y_ref, phi_ref) = reference(x[i]);
            dy[i] = y[i] - y_ref;
            dphi[i] = wrap_angle(phi[i] - phi_ref);
            phi[i] = wrap_angle(phi[i]);
            x[i] = if x[i] > PATH_PERIOD {
                x[i] - PATH_PERIOD
            } else if x[i] <= 0.0 {
                x[i] + PATH_PERIOD
            } else {
                x[i]
            };
        }
        for i in 0..n {
            done[i] = coded_done(
                vx[i],
                vy[i],
                r[i],
                dy[i],
                dphi[i],
                steer[i],
                acc[i],
                self.termination,
            );
            if self.termination == Termination::Corrected {
                b.steps[i] += 1;
                done[i] |= b.steps[i] >= CORRECTED_LIMIT;
            }
        }
    }
}
