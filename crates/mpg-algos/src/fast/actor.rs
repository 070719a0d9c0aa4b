//! The policy's heads and the model-free policy gradients on the fast path: n-step DPG's
//! −mean Q1(s, π(s)) (spec §3.6), TD3's −mean min(Q1, Q2)(s, π(s)) (spec §3.8) and SAC's
//! mean(α·log π(a|s) − min(Q1, Q2)(s, a)) with a reparameterised squashed Gaussian
//! (spec §3.8, D14). The references are [`crate::ndpg::dpg_policy_loss`],
//! [`crate::td3::min_q_policy_loss`], [`crate::sac::soft_policy_loss`] and
//! [`mpg_models::nets::Policy`] under autograd; `fast/tests.rs` holds them equal.
//!
//! One forward pass of the policy and of each critic, one backward pass through each critic to
//! its action input only, one backward pass through the policy to its parameters.

use super::PolicyGrad;
use super::critic::q_input;
use super::mlp::{FastMlp, MlpCache};
use mpg_models::nets::Squash;

/// ½·ln 2π, the Gaussian's log-normaliser per dimension.
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// squash(x) in f32, as [`Squash::apply`] computes it (tanh, then the range's product).
fn squash_value(squash: Squash, x: f32) -> f32 {
    match squash {
        Squash::Tanh => x.tanh(),
        Squash::ScaledTanh(range) => x.tanh() * range as f32,
        Squash::None => x,
    }
}

/// dL/dx from dL/d squash(x), with autograd's order of operations (tanh′ = 1 − tanh²).
fn squash_backward(squash: Squash, x: f32, grad: f32) -> f32 {
    match squash {
        Squash::Tanh => {
            let t = x.tanh();
            grad * (1.0 - t * t)
        }
        Squash::ScaledTanh(range) => {
            let t = x.tanh();
            grad * range as f32 * (1.0 - t * t)
        }
        Squash::None => grad,
    }
}

/// The deterministic actions squash(mean) of a policy output `[n, 2·act_dim]` (mean first,
/// then log σ, spec §3.1): `[n, act_dim]`.
pub fn deterministic_action(out: &[f32], act_dim: usize, squash: Squash) -> Vec<f32> {
    out.chunks_exact(2 * act_dim)
        .flat_map(|row| row[..act_dim].iter().map(|&m| squash_value(squash, m)))
        .collect()
}

/// dL/d(policy output) of [`deterministic_action`] from dL/d action; zero on the log σ half.
pub fn deterministic_action_backward(
    out: &[f32],
    act_dim: usize,
    squash: Squash,
    d_act: &[f32],
) -> Vec<f32> {
    let mut g = vec![0.0f32; out.len()];
    for ((g, row), da) in g
        .chunks_exact_mut(2 * act_dim)
        .zip(out.chunks_exact(2 * act_dim))
        .zip(d_act.chunks_exact(act_dim))
    {
        for j in 0..act_dim {
            g[j] = squash_backward(squash, row[j], da[j]);
        }
    }
    g
}

/// A reparameterised sample of the policy's Gaussian and what its backward pass needs, as
/// [`mpg_models::nets::Policy::sample`]: log σ optionally clipped (D14), u = μ + σ·ε,
/// a = squash(u), log π(a|s) = Σ(−½ε² − log σ − ½ log 2π) − Σ log|da/du|.
#[derive(Clone, Debug)]
pub struct GaussianSample {
    pub act: Vec<f32>,
    pub logp: Vec<f32>,
    /// u = μ + σ·ε, `[n, act_dim]`.
    u: Vec<f32>,
    /// σ·ε = du/d log σ.
    std_eps: Vec<f32>,
    /// Whether log σ lies inside the clip (autograd's clamp passes the gradient there,
    /// bounds included).
    inside: Vec<bool>,
    act_dim: usize,
    squash: Squash,
}

/// log|d squash(u)/du| = log(1 − tanh²u) (+ log range), with the stable form of the
/// reference: −2·(softplus(−2u) + u − log 2).
fn log_det(squash: Squash, u: f64) -> f64 {
    let softplus = |x: f64| if x > 20.0 { x } else { x.exp().ln_1p() };
    let tanh = -2.0 * (softplus(-2.0 * u) + u - std::f64::consts::LN_2);
    match squash {
        Squash::Tanh => tanh,
        Squash::ScaledTanh(range) => tanh + range.ln(),
        Squash::None => 0.0,
    }
}

/// The sample of every row of a policy output `[n, 2·act_dim]` with standard normals `eps`
/// (`[n, act_dim]`, from the learner's generator, D8).
pub fn gaussian_sample(
    out: &[f32],
    act_dim: usize,
    squash: Squash,
    eps: &[f32],
    log_std_clip: Option<(f64, f64)>,
) -> GaussianSample {
    let n = out.len() / (2 * act_dim);
    assert_eq!(eps.len(), n * act_dim, "one ε per action entry");
    let mut s = GaussianSample {
        act: Vec::with_capacity(n * act_dim),
        logp: Vec::with_capacity(n),
        u: Vec::with_capacity(n * act_dim),
        std_eps: Vec::with_capacity(n * act_dim),
        inside: Vec::with_capacity(n * act_dim),
        act_dim,
        squash,
    };
    for (row, e) in out.chunks_exact(2 * act_dim).zip(eps.chunks_exact(act_dim)) {
        let mut logp = 0.0f64;
        let mut log_det_sum = 0.0f64;
        for j in 0..act_dim {
            let (mean, raw) = (row[j], row[act_dim + j]);
            let (ls, inside) = match log_std_clip {
                Some((lo, hi)) => (
                    raw.clamp(lo as f32, hi as f32),
                    raw >= lo as f32 && raw <= hi as f32,
                ),
                None => (raw, true),
            };
            let std_eps = ls.exp() * e[j];
            let u = mean + std_eps;
            logp += -0.5 * (e[j] as f64).powi(2) - ls as f64 - HALF_LN_2PI;
            log_det_sum += log_det(squash, u as f64);
            s.act.push(squash_value(squash, u));
            s.u.push(u);
            s.std_eps.push(std_eps);
            s.inside.push(inside);
        }
        s.logp.push((logp - log_det_sum) as f32);
    }
    s
}

impl GaussianSample {
    /// dL/d(policy output) `[n, 2·act_dim]` from dL/d action and dL/d log π.
    pub fn backward(&self, d_act: &[f32], d_logp: &[f32]) -> Vec<f32> {
        let ad = self.act_dim;
        let mut g = vec![0.0f32; self.u.len() * 2];
        for (i, row) in g.chunks_exact_mut(2 * ad).enumerate() {
            for j in 0..ad {
                let k = i * ad + j;
                let u = self.u[k];
                // d(−log|da/du|)/du = 2·tanh(u) for a tanh squash.
                let d_log_det = match self.squash {
                    Squash::None => 0.0,
                    _ => 2.0 * u.tanh(),
                };
                let du = squash_backward(self.squash, u, d_act[k]) + d_logp[i] * d_log_det;
                row[j] = du;
                // log σ: through u (σ·ε) and the Gaussian's −log σ.
                let d_ls = du * self.std_eps[k] - d_logp[i];
                row[ad + j] = if self.inside[k] { d_ls } else { 0.0 };
            }
        }
        g
    }
}

/// What the policy maximises on the fast path (the model-free rows of spec §3.9).
#[derive(Clone, Copy, Debug)]
pub enum Objective<'a> {
    /// −mean Q(s, π(s)) with Q = Q1 (n-step DPG, one critic given) or min(Q1, Q2) (TD3, two
    /// critics given).
    Deterministic,
    /// SAC: mean(α·log π(a|s) − min(Q1, Q2)(s, a)), a = squash(μ + σ·ε), ε given.
    Soft {
        eps: &'a [f32],
        alpha: f64,
        log_std_clip: Option<(f64, f64)>,
    },
}

/// The passes [`policy_grad_in`] keeps; reusing one across calls saves allocating them.
#[derive(Clone, Debug, Default)]
pub struct ActorWorkspace {
    policy: MlpCache,
    critics: Vec<MlpCache>,
}

/// The policy loss and its gradient with respect to the policy's parameters, through the
/// critics' action inputs (their parameters are constants here). `s_scaled` is `[n, obs_dim]`
/// (observation ⊙ obs_scale); `critics` holds Q1 and, for min(Q1, Q2), Q2.
pub fn policy_grad_in(
    ws: &mut ActorWorkspace,
    policy: &FastMlp,
    squash: Squash,
    critics: &[&FastMlp],
    s_scaled: &[f32],
    objective: Objective,
) -> PolicyGrad {
    assert!(matches!(critics.len(), 1 | 2), "Q1, or Q1 and Q2");
    let obs_dim = policy.input_dim();
    let act_dim = policy.output_dim() / 2;
    let n = s_scaled.len() / obs_dim;
    assert_eq!(s_scaled.len(), n * obs_dim);
    ws.critics.resize_with(critics.len(), MlpCache::default);

    policy.forward(s_scaled, n, &mut ws.policy);
    let out = ws.policy.output();
    let sample = match objective {
        Objective::Deterministic => None,
        Objective::Soft {
            eps, log_std_clip, ..
        } => Some(gaussian_sample(out, act_dim, squash, eps, log_std_clip)),
    };
    let act = match &sample {
        Some(s) => s.act.clone(),
        None => deterministic_action(out, act_dim, squash),
    };
    let x = q_input(s_scaled, &act, obs_dim, act_dim);
    for (q, cache) in critics.iter().zip(ws.critics.iter_mut()) {
        q.forward(&x, n, cache);
    }
    // min(Q1, Q2) and its gradient's share per critic: autograd's `minimum` gives the whole
    // gradient to the smaller one and half to each on a tie.
    let q1 = ws.critics[0].output();
    let (min_q, share1): (Vec<f32>, Vec<f32>) = match ws.critics.get(1) {
        None => (q1.to_vec(), vec![1.0; n]),
        Some(c2) => q1
            .iter()
            .zip(c2.output())
            .map(|(&a, &b)| {
                let share = if a < b {
                    1.0
                } else if a > b {
                    0.0
                } else {
                    0.5
                };
                (a.min(b), share)
            })
            .unzip(),
    };
    let inv_n = 1.0 / n as f64;
    let mean_q = min_q.iter().map(|&v| v as f64).sum::<f64>() * inv_n;
    let loss = match (&objective, &sample) {
        (Objective::Soft { alpha, .. }, Some(s)) => {
            alpha * s.logp.iter().map(|&v| v as f64).sum::<f64>() * inv_n - mean_q
        }
        _ => -mean_q,
    };

    // dL/d min Q = −1/n per sample, split between the critics; back to the action inputs.
    let d_min = -inv_n as f32;
    let q_in = obs_dim + act_dim;
    let mut d_act = vec![0.0f32; n * act_dim];
    let mut dx = vec![0.0f32; n * q_in];
    for (c, (q, cache)) in critics.iter().zip(&ws.critics).enumerate() {
        let d_q: Vec<f32> = share1
            .iter()
            .map(|&s| d_min * if c == 0 { s } else { 1.0 - s })
            .collect();
        if d_q.iter().all(|&v| v == 0.0) {
            continue;
        }
        q.backward(cache, &d_q, &mut dx, None);
        for (da, row) in d_act.chunks_exact_mut(act_dim).zip(dx.chunks_exact(q_in)) {
            for (d, &g) in da.iter_mut().zip(&row[obs_dim..]) {
                *d += g;
            }
        }
    }
    let d_out = match (&objective, &sample) {
        (Objective::Soft { alpha, .. }, Some(s)) => {
            s.backward(&d_act, &vec![(alpha * inv_n) as f32; n])
        }
        _ => deterministic_action_backward(ws.policy.output(), act_dim, squash, &d_act),
    };
    let mut grads = policy.zero_grads();
    let mut d_in = vec![0.0f32; n * obs_dim];
    policy.backward(&ws.policy, &d_out, &mut d_in, Some(&mut grads));
    PolicyGrad { loss, grads }
}
