//! The "fast gradient path": the MPG policy gradient of path tracking in plain Rust, with no
//! libtorch op in the hot loop (the reference is [`crate::mpg::mixed_policy_loss`] and
//! autograd; the tests in `tests.rs` hold the two equal).
//!
//! * [`mlp`]: an f32 MLP (forward keeping the pre-activations, backward to inputs and
//!   parameters) on `matrixmultiply`'s sgemm.
//! * [`path_model`]: the path-tracking prior model step (spec §1.9) per sample and its
//!   hand-derived vector-Jacobian product.
//! * [`mpg_policy_grad`]: the mixed policy gradient (spec §3.2) with D2 = Q1 and
//!   `deriv_interval_policy = false`.
//!
//! Not used by the learners yet.

pub mod mlp;
pub mod path_model;
#[cfg(test)]
mod tests;

use mlp::{FastMlp, MlpCache, ParamGrads};
use mpg_envs::Task;
use path_model::{ACT_DIM, OBS_DIM};

/// The loss J and dJ/dθ of the policy, in [`mpg_models::nets::Mlp::params`] order.
#[derive(Clone, Debug)]
pub struct PolicyGrad {
    pub loss: f64,
    pub grads: ParamGrads,
}

/// The MPG policy gradient for path tracking (spec §3.2), equal to the gradient of
/// [`crate::mpg::mixed_policy_loss`] with Q1 as the critic of both return terms (D2 = Q1) and a
/// frozen rollout policy (`deriv_interval_policy = false`):
///
/// J = w_data·(−mean Q1(s₀, π(s₀))) + w_model·(−mean R_H),
/// R_H = Σ_{k<H} γᵏ·0.01·r̂_k + γᴴ·Q1(ŝ_H, a_H),
///
/// with a₀ = π_θ(s₀) and a_k = π(ŝ_k) for k ≥ 1 (same values, constant parameters; the
/// gradient flows through them along the states). Networks see observations scaled by the
/// task's `obs_scale`; the policy's action is tanh of the first `ACT_DIM` of its outputs.
///
/// * `obs`: `[B, 6]` raw observations (row-major).
/// * `noises`: H vectors of `B` model-noise values on Δy (H = `noises.len()`).
///
/// The networks run in f32, the model rollout and its vector-Jacobian products in f64.
pub fn mpg_policy_grad(
    policy: &FastMlp,
    q1: &FastMlp,
    obs: &[f32],
    noises: &[Vec<f32>],
    gamma: f64,
    w_data: f64,
    w_model: f64,
) -> PolicyGrad {
    let mut ws = Workspace::default();
    mpg_policy_grad_in(&mut ws, policy, q1, obs, noises, gamma, w_data, w_model)
}

/// The network passes [`mpg_policy_grad`] keeps for its reverse sweep; reusing one across
/// calls saves allocating (and page-faulting) them every time.
#[derive(Clone, Debug, Default)]
pub struct Workspace {
    policy: Vec<MlpCache>,
    q_data: MlpCache,
    q_boot: MlpCache,
}

/// [`mpg_policy_grad`] with its buffers in `ws`.
pub fn mpg_policy_grad_in(
    ws: &mut Workspace,
    policy: &FastMlp,
    q1: &FastMlp,
    obs: &[f32],
    noises: &[Vec<f32>],
    gamma: f64,
    w_data: f64,
    w_model: f64,
) -> PolicyGrad {
    let spec = Task::PathTracking.spec();
    assert_eq!(spec.reward_shift, 0.0);
    let reward_scale = spec.reward_scale as f64;
    let scale: Vec<f32> = spec.obs_scale.to_vec();
    assert_eq!(scale.len(), OBS_DIM);
    assert_eq!(policy.input_dim(), OBS_DIM);
    assert_eq!(policy.output_dim(), 2 * ACT_DIM);
    assert_eq!(q1.input_dim(), OBS_DIM + ACT_DIM);
    assert_eq!(q1.output_dim(), 1);
    let n = obs.len() / OBS_DIM;
    assert_eq!(obs.len(), n * OBS_DIM);
    let horizon = noises.len();
    let p_out = policy.output_dim();

    // The scaled network input of raw states.
    let scaled = |s: &[f64]| -> Vec<f32> {
        s.chunks_exact(OBS_DIM)
            .flat_map(|row| row.iter().zip(&scale).map(|(&v, &c)| v as f32 * c))
            .collect()
    };
    // Actions (tanh of the mean half) from a policy pass.
    let actions = |cache: &MlpCache| -> Vec<f32> {
        cache
            .output()
            .chunks_exact(p_out)
            .flat_map(|row| row[..ACT_DIM].iter().map(|v| v.tanh()))
            .collect()
    };
    let q_input = |s_scaled: &[f32], a: &[f32]| -> Vec<f32> {
        s_scaled
            .chunks_exact(OBS_DIM)
            .zip(a.chunks_exact(ACT_DIM))
            .flat_map(|(s, a)| s.iter().chain(a).copied())
            .collect()
    };

    // ---- Forward.
    // States ŝ_0..ŝ_H (raw, f64), policy passes and actions a_0..a_H.
    let mut states: Vec<Vec<f64>> = Vec::with_capacity(horizon + 1);
    states.push(obs.iter().map(|&v| v as f64).collect());
    ws.policy.resize_with(horizon + 1, MlpCache::default);
    let Workspace {
        policy: pcaches,
        q_data,
        q_boot,
    } = ws;
    let mut acts: Vec<Vec<f32>> = Vec::with_capacity(horizon + 1);
    let s0_scaled = {
        // The reference scales the f32 observation in f32.
        obs.chunks_exact(OBS_DIM)
            .flat_map(|row| row.iter().zip(&scale).map(|(&v, &c)| v * c))
            .collect::<Vec<f32>>()
    };
    policy.forward(&s0_scaled, n, &mut pcaches[0]);
    acts.push(actions(&pcaches[0]));

    // Data return R₀ = Q1(s₀, a₀).
    q1.forward(&q_input(&s0_scaled, &acts[0]), n, q_data);
    let data_mean = q_data.output().iter().map(|&v| v as f64).sum::<f64>() / n as f64;

    // Model rollout.
    let mut model_ret = vec![0.0f64; n];
    let mut discount = 1.0;
    for (k, eps) in noises.iter().enumerate() {
        assert_eq!(eps.len(), n);
        let mut next = vec![0.0f64; n * OBS_DIM];
        for i in 0..n {
            let s: &[f64; OBS_DIM] = states[k][i * OBS_DIM..][..OBS_DIM].try_into().unwrap();
            let a = [acts[k][i * ACT_DIM] as f64, acts[k][i * ACT_DIM + 1] as f64];
            let (s1, r) = path_model::step(s, &a, eps[i] as f64);
            next[i * OBS_DIM..][..OBS_DIM].copy_from_slice(&s1);
            model_ret[i] += r * reward_scale * discount;
        }
        discount *= gamma;
        let s_scaled = scaled(&next);
        states.push(next);
        policy.forward(&s_scaled, n, &mut pcaches[k + 1]);
        acts.push(actions(&pcaches[k + 1]));
    }
    // Bootstrap γᴴ·Q1(ŝ_H, a_H).
    let sh_scaled = scaled(&states[horizon]);
    q1.forward(&q_input(&sh_scaled, &acts[horizon]), n, q_boot);
    let model_mean = model_ret
        .iter()
        .zip(q_boot.output())
        .map(|(&r, &q)| r + q as f64 * discount)
        .sum::<f64>()
        / n as f64;
    let loss = -(w_data * data_mean + w_model * model_mean);

    // ---- Reverse sweep.
    let q_in = OBS_DIM + ACT_DIM;
    let mut dq_in = vec![0.0f32; n * q_in];
    // dJ/da₀ from the data term (its state input is data: not followed).
    q1.backward(
        q_data,
        &vec![(-w_data / n as f64) as f32; n],
        &mut dq_in,
        None,
    );
    let mut da0: Vec<f64> = dq_in
        .chunks_exact(q_in)
        .flat_map(|row| row[OBS_DIM..].iter().map(|&v| v as f64))
        .collect();

    // Through the bootstrap: dJ/dŝ_H (raw) and dJ/da_H.
    q1.backward(
        q_boot,
        &vec![(-w_model * discount / n as f64) as f32; n],
        &mut dq_in,
        None,
    );
    let mut ds: Vec<f64> = dq_in
        .chunks_exact(q_in)
        .flat_map(|row| {
            row[..OBS_DIM]
                .iter()
                .zip(&scale)
                .map(|(&g, &c)| (g * c) as f64)
        })
        .collect();
    let mut da: Vec<f64> = dq_in
        .chunks_exact(q_in)
        .flat_map(|row| row[OBS_DIM..].iter().map(|&v| v as f64))
        .collect();

    // dJ/d(policy output) of a pass from dJ/d action: tanh′ on the mean half, 0 on log_std.
    let dout_of = |acts: &[f32], da: &[f64]| -> Vec<f32> {
        let mut g = vec![0.0f32; n * p_out];
        for i in 0..n {
            for j in 0..ACT_DIM {
                let a = acts[i * ACT_DIM + j];
                g[i * p_out + j] = (da[i * ACT_DIM + j] as f32) * (1.0 - a * a);
            }
        }
        g
    };
    let mut dpin = vec![0.0f32; n * OBS_DIM];
    for k in (0..=horizon).rev() {
        if k < horizon {
            // Through model step k: (ŝ_k, a_k) → (ŝ_{k+1}, r̂_k).
            let g_rew = -w_model / n as f64 * reward_scale * gamma.powi(k as i32);
            let mut ds_k = vec![0.0f64; n * OBS_DIM];
            let mut da_k = vec![0.0f64; n * ACT_DIM];
            for i in 0..n {
                let s: &[f64; OBS_DIM] = states[k][i * OBS_DIM..][..OBS_DIM].try_into().unwrap();
                let a = [acts[k][i * ACT_DIM] as f64, acts[k][i * ACT_DIM + 1] as f64];
                let g: &[f64; OBS_DIM] = ds[i * OBS_DIM..][..OBS_DIM].try_into().unwrap();
                let (gs, ga) = path_model::step_vjp(s, &a, g, g_rew);
                ds_k[i * OBS_DIM..][..OBS_DIM].copy_from_slice(&gs);
                da_k[i * ACT_DIM..][..ACT_DIM].copy_from_slice(&ga);
            }
            ds = ds_k;
            da = da_k;
        }
        if k == 0 {
            break;
        }
        // Through the frozen policy at ŝ_k, w.r.t. its input only.
        policy.backward(&pcaches[k], &dout_of(&acts[k], &da), &mut dpin, None);
        for (i, g) in dpin.iter().enumerate() {
            ds[i] += (g * scale[i % OBS_DIM]) as f64;
        }
    }
    // The first action: the data term's and the model term's gradients, into θ.
    for (d, g) in da0.iter_mut().zip(&da) {
        *d += g;
    }
    let mut grads = policy.zero_grads();
    policy.backward(
        &pcaches[0],
        &dout_of(&acts[0], &da0),
        &mut dpin,
        Some(&mut grads),
    );
    PolicyGrad { loss, grads }
}
