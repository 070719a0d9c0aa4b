//! The critics on the fast path: the Q regression gradient ½·mean((Q(s, a) − y)²) with respect
//! to Q's parameters (spec §3.1), the one-step value targets of TD3 / MPG-v2 (clipped double
//! Q, spec §3.5, §3.8) and SAC (soft target, spec §3.8, D14). The references are
//! [`crate::grads::q_loss`], [`crate::td3`] and [`crate::sac`] under autograd; `fast/tests.rs`
//! holds them equal. The clip is [`crate::grads::clip_by_global_norm`].

use super::heads::{deterministic_action, gaussian_sample, q_input};
use super::mlp::{FastMlp, MlpCache, ParamGrads};
use mpg_models::nets::Squash;

/// A critic's loss ½·mean((Q − y)²) and its gradient, in [`mpg_models::nets::Mlp::params`]
/// order.
#[derive(Clone, Debug)]
pub struct CriticGrad {
    pub loss: f64,
    pub grads: ParamGrads,
}

/// ½·mean((Q(x) − y)²) and its gradient with respect to Q's parameters (spec §3.1); `x` holds
/// the rows [s_scaled, a] ([`q_input`]), `cache` is reused across calls.
pub fn q_loss_grad(q: &FastMlp, x: &[f32], y: &[f32], cache: &mut MlpCache) -> CriticGrad {
    let n = y.len();
    q.forward(x, n, cache);
    let inv_n = 1.0 / n as f32;
    let mut loss = 0.0f64;
    let d_q: Vec<f32> = cache
        .output()
        .iter()
        .zip(y)
        .map(|(&q, &y)| {
            let d = q - y;
            loss += (d as f64) * (d as f64);
            d * inv_n
        })
        .collect();
    let mut grads = q.zero_grads();
    let mut d_in = vec![0.0f32; x.len()];
    q.backward(cache, &d_q, &mut d_in, Some(&mut grads));
    CriticGrad {
        loss: 0.5 * loss / n as f64,
        grads,
    }
}

/// The batch's pieces a one-step target reads: s′ scaled `[n, obs_dim]`, the training reward
/// (r + shift)·scale `[n]` (spec §1.10, D19), and 1 − done (or ones without D17 masking).
#[derive(Clone, Copy, Debug)]
pub struct Transition<'a> {
    pub next_scaled: &'a [f32],
    pub reward: &'a [f32],
    pub not_done: &'a [f32],
}

/// The target networks and the policy a one-step target uses.
#[derive(Clone, Copy, Debug)]
pub struct TargetNets<'a> {
    /// π′ for TD3 / MPG-v2, the current π for SAC (spec §3.8).
    pub policy: &'a FastMlp,
    pub squash: Squash,
    pub q1_targ: &'a FastMlp,
    pub q2_targ: &'a FastMlp,
}

/// min(Q1′, Q2′)(s′, a′) per sample.
fn min_q_next(ws: &mut Workspace, nets: &TargetNets, next_scaled: &[f32], act: &[f32]) -> Vec<f32> {
    let obs_dim = nets.policy.input_dim();
    let act_dim = nets.policy.output_dim() / 2;
    let n = act.len() / act_dim;
    let x = q_input(next_scaled, act, obs_dim, act_dim);
    let (c1, c2) = (&mut ws.q1, &mut ws.q2);
    nets.q1_targ.forward(&x, n, c1);
    nets.q2_targ.forward(&x, n, c2);
    c1.output()
        .iter()
        .zip(c2.output())
        .map(|(&a, &b)| a.min(b))
        .collect()
}

/// y = r + γ·not_done·min(Q1′, Q2′)(s′, a′), a′ = π′(s′) [+ clip(σ·ε, ±c)] (spec §3.5, §3.8):
/// TD3 with `smoothing = Some((ε, σ, c))`, MPG-v2 without. The smoothed action is not
/// re-clipped to the action range (spec §3.8).
pub fn clipped_double_q_target(
    ws: &mut Workspace,
    nets: &TargetNets,
    t: &Transition,
    smoothing: Option<(&[f32], f64, f64)>,
    gamma: f64,
) -> Vec<f32> {
    let obs_dim = nets.policy.input_dim();
    let act_dim = nets.policy.output_dim() / 2;
    let n = t.reward.len();
    let cache = &mut ws.policy;
    nets.policy.forward(t.next_scaled, n, cache);
    let mut act = deterministic_action(cache.output(), act_dim, nets.squash);
    if let Some((eps, std, clip)) = smoothing {
        assert_eq!(eps.len(), act.len(), "one ε per action entry");
        let (std, clip) = (std as f32, clip as f32);
        for (a, &e) in act.iter_mut().zip(eps) {
            *a += (e * std).clamp(-clip, clip);
        }
    }
    debug_assert_eq!(t.next_scaled.len(), n * obs_dim);
    let min_q = min_q_next(ws, nets, t.next_scaled, &act);
    let g = gamma as f32;
    (0..n)
        .map(|i| t.reward[i] + min_q[i] * t.not_done[i] * g)
        .collect()
}

/// y = r + γ·not_done·(min(Q1′, Q2′)(s′, a′) − α·log π(a′|s′)), a′ ~ π(s′) reparameterised
/// with ε from the learner's generator (spec §3.8, D14).
pub fn soft_target(
    ws: &mut Workspace,
    nets: &TargetNets,
    t: &Transition,
    eps: &[f32],
    log_std_clip: Option<(f64, f64)>,
    gamma: f64,
    alpha: f64,
) -> Vec<f32> {
    let act_dim = nets.policy.output_dim() / 2;
    let n = t.reward.len();
    let cache = &mut ws.policy;
    nets.policy.forward(t.next_scaled, n, cache);
    let sample = gaussian_sample(cache.output(), act_dim, nets.squash, eps, log_std_clip);
    let min_q = min_q_next(ws, nets, t.next_scaled, &sample.act);
    let (g, alpha) = (gamma as f32, alpha as f32);
    (0..n)
        .map(|i| t.reward[i] + (min_q[i] - sample.logp[i] * alpha) * t.not_done[i] * g)
        .collect()
}

/// The passes the targets and the critic and policy gradients keep, reused across calls
/// (allocating them afresh costs page faults every call).
#[derive(Clone, Debug, Default)]
pub struct Workspace {
    pub q1: MlpCache,
    pub q2: MlpCache,
    pub policy: MlpCache,
}
