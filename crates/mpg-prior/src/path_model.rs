//! The path-tracking prior model step of spec §1.9 (as `mpg_models::PathTrackingModel`), per
//! sample in f64, and its hand-derived vector-Jacobian product.

use crate::FastModel;
use crate::path_tracking::{MODEL_TAU as TAU, VX_MAX, VX_MIN};
use mpg_envs::path_tracking::{A, ACC_MAX, B, C_F, C_R, I_Z, MASS, STEER_MAX, V_REF};
use std::f64::consts::PI;

pub const OBS_DIM: usize = 6;
pub const ACT_DIM: usize = 2;

/// a·C_f − b·C_r.
const K: f64 = A * C_F - B * C_R;

/// Wrap to (−π, π] by one shift of 2π (gradient 1 everywhere), as `wrap_angle`.
fn wrap(x: f64) -> f64 {
    let x = if x > PI { x - 2.0 * PI } else { x };
    if x <= -PI { x + 2.0 * PI } else { x }
}

/// One model step of one sample: observation `[v_x − 20, v_y, r, Δy, Δφ, X]`, action `u`
/// (policy units, scaled, not clipped), the Δy noise. Returns (next observation, raw reward).
pub fn step(s: &[f64; OBS_DIM], a: &[f64; ACT_DIM], noise: f64) -> ([f64; OBS_DIM], f64) {
    let [o0, vy, r, dy, dphi, x] = *s;
    let vx = o0 + V_REF;
    let steer = a[0] * STEER_MAX;
    let acc = a[1] * ACC_MAX;
    let dv = vx - V_REF;
    let reward = -(0.01 * dv * dv
        + 0.04 * dy * dy
        + 0.1 * dphi * dphi
        + 0.02 * r * r
        + 5.0 * steer * steer
        + 0.05 * acc * acc);
    let vx1 = (vx + TAU * (acc + vy * r)).clamp(VX_MIN, VX_MAX);
    let vy1 = (MASS * vx * vy + TAU * K * r - TAU * C_F * steer * vx - TAU * MASS * vx * vx * r)
        / (MASS * vx - TAU * (C_F + C_R));
    let r1 = (-I_Z * vx * r - TAU * K * vy + TAU * A * C_F * steer * vx)
        / (-I_Z * vx + TAU * (A * A * C_F + B * B * C_R));
    let (sin, cos) = dphi.sin_cos();
    let dy1 = dy + TAU * (vx * sin + vy * cos) + noise;
    let dphi1 = wrap(dphi + TAU * r);
    let x1 = x + TAU * (vx * cos - vy * sin);
    ([vx1 - V_REF, vy1, r1, dy1, dphi1, x1], reward)
}

/// The vector-Jacobian product of [`step`] at (`s`, `a`): given dL/d next observation `g`
/// and dL/d reward `g_rew`, returns (dL/d`s`, dL/d`a`). The v_x clip passes the gradient
/// where its input lies in [1, 35] (bounds included, as libtorch's `clamp`), the Δφ wrap
/// with gradient 1; the noise is additive (no effect on the product).
pub fn step_vjp(
    s: &[f64; OBS_DIM],
    a: &[f64; ACT_DIM],
    g: &[f64; OBS_DIM],
    g_rew: f64,
) -> ([f64; OBS_DIM], [f64; ACT_DIM]) {
    let [o0, vy, r, dy, dphi, _x] = *s;
    let vx = o0 + V_REF;
    let steer = a[0] * STEER_MAX;
    let acc = a[1] * ACC_MAX;
    let (mut gvx, mut gvy, mut gr, mut gdy, mut gdphi) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut gsteer, mut gacc) = (0.0, 0.0);

    // Reward.
    gvx += g_rew * -0.02 * (vx - V_REF);
    gdy += g_rew * -0.08 * dy;
    gdphi += g_rew * -0.2 * dphi;
    gr += g_rew * -0.04 * r;
    gsteer += g_rew * -10.0 * steer;
    gacc += g_rew * -0.1 * acc;

    // v_x⁺ = clip(v_x + τ(a_x + v_y r)).
    let vx1_raw = vx + TAU * (acc + vy * r);
    if (VX_MIN..=VX_MAX).contains(&vx1_raw) {
        gvx += g[0];
        gacc += TAU * g[0];
        gvy += TAU * r * g[0];
        gr += TAU * vy * g[0];
    }

    // v_y⁺ = N / D.
    let d = MASS * vx - TAU * (C_F + C_R);
    let n = MASS * vx * vy + TAU * K * r - TAU * C_F * steer * vx - TAU * MASS * vx * vx * r;
    let vy1 = n / d;
    let h = g[1] / d;
    gvx += h * (MASS * vy - TAU * C_F * steer - 2.0 * TAU * MASS * vx * r - vy1 * MASS);
    gvy += h * MASS * vx;
    gr += h * (TAU * K - TAU * MASS * vx * vx);
    gsteer += h * (-TAU * C_F * vx);

    // r⁺ = N₂ / D₂.
    let d2 = -I_Z * vx + TAU * (A * A * C_F + B * B * C_R);
    let n2 = -I_Z * vx * r - TAU * K * vy + TAU * A * C_F * steer * vx;
    let r1 = n2 / d2;
    let h2 = g[2] / d2;
    gvx += h2 * (-I_Z * r + TAU * A * C_F * steer + I_Z * r1);
    gvy += h2 * (-TAU * K);
    gr += h2 * (-I_Z * vx);
    gsteer += h2 * (TAU * A * C_F * vx);

    // Kinematics.
    let (sin, cos) = dphi.sin_cos();
    gdy += g[3];
    gvx += g[3] * TAU * sin;
    gvy += g[3] * TAU * cos;
    gdphi += g[3] * TAU * (vx * cos - vy * sin);
    gdphi += g[4];
    gr += g[4] * TAU;
    let gx = g[5];
    gvx += g[5] * TAU * cos;
    gvy -= g[5] * TAU * sin;
    gdphi += g[5] * TAU * (-vx * sin - vy * cos);

    (
        [gvx, gvy, gr, gdy, gdphi, gx],
        [gsteer * STEER_MAX, gacc * ACC_MAX],
    )
}

/// The path-tracking prior model as a [`FastModel`] (the Δy noise is additive and enters no
/// derivative).
#[derive(Clone, Copy, Debug, Default)]
pub struct PathModel;

impl FastModel for PathModel {
    const OBS: usize = OBS_DIM;
    const ACT: usize = ACT_DIM;

    fn step(s: &[f64], a: &[f64], noise: f64, next: &mut [f64]) -> f64 {
        let (s1, r) = step(s.try_into().unwrap(), a.try_into().unwrap(), noise);
        next.copy_from_slice(&s1);
        r
    }

    fn step_vjp(
        s: &[f64],
        a: &[f64],
        _noise: f64,
        g: &[f64],
        g_rew: f64,
        gs: &mut [f64],
        ga: &mut [f64],
    ) {
        let (s_grad, a_grad) = step_vjp(
            s.try_into().unwrap(),
            a.try_into().unwrap(),
            g.try_into().unwrap(),
            g_rew,
        );
        gs.copy_from_slice(&s_grad);
        ga.copy_from_slice(&a_grad);
    }
}
