//! The critics on the fast path: the Q regression gradient ½·mean((Q(s, a) − y)²) with respect
//! to Q's parameters (spec §3.1), the one-step value targets of TD3 / MPG-v2 (clipped double
//! Q, spec §3.5, §3.8) and SAC (soft target, spec §3.8, D14). The references are
//! [`crate::grads::q_loss`], [`crate::td3`] and [`crate::sac`] under autograd; `fast/tests.rs`
//! holds them equal. The clip is [`crate::grads::clip_by_global_norm`].

use super::heads::{deterministic_action, gaussian_sample, q_input};
use super::mlp::{FastMlp, MlpCache, ParamGrads};
use super::pool::join;
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

/// min(Q1′, Q2′)(s′, a′) per sample. With more than one thread the two target critics'
/// forwards run side by side on [`super::pool`], each into its own cache: two independent
/// computations, so the values are the same on any number of threads.
fn min_q_next(
    ws: &mut Workspace,
    threads: usize,
    nets: &TargetNets,
    next_scaled: &[f32],
    act: &[f32],
) -> Vec<f32> {
    let obs_dim = nets.policy.input_dim();
    let act_dim = nets.policy.output_dim() / 2;
    let n = act.len() / act_dim;
    let x = q_input(next_scaled, act, obs_dim, act_dim);
    let (c1, c2) = (&mut ws.q1, &mut ws.q2);
    join(
        threads,
        || nets.q1_targ.forward(&x, n, c1),
        || nets.q2_targ.forward(&x, n, c2),
    );
    c1.output()
        .iter()
        .zip(c2.output())
        .map(|(&a, &b)| a.min(b))
        .collect()
}

/// y = r + γ·not_done·min(Q1′, Q2′)(s′, a′), a′ = π′(s′) [+ clip(σ·ε, ±c)] (spec §3.5, §3.8):
/// TD3 with `smoothing = Some((ε, σ, c))`, MPG-v2 without. The smoothed action is not
/// re-clipped to the action range (spec §3.8). The twin critics run side by side when
/// `threads > 1` ([`min_q_next`]); the result does not depend on `threads`.
pub fn clipped_double_q_target(
    ws: &mut Workspace,
    threads: usize,
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
    let min_q = min_q_next(ws, threads, nets, t.next_scaled, &act);
    let g = gamma as f32;
    (0..n)
        .map(|i| t.reward[i] + min_q[i] * t.not_done[i] * g)
        .collect()
}

/// y = r + γ·not_done·(min(Q1′, Q2′)(s′, a′) − α·log π(a′|s′)), a′ ~ π(s′) reparameterised
/// with ε from the learner's generator (spec §3.8, D14). The twin critics run side by side
/// when `threads > 1`, as in [`clipped_double_q_target`].
#[allow(clippy::too_many_arguments)]
pub fn soft_target(
    ws: &mut Workspace,
    threads: usize,
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
    let min_q = min_q_next(ws, threads, nets, t.next_scaled, &sample.act);
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Values in [−scale, scale) from a fixed 64-bit LCG: the same nets and batches on every run.
    pub(crate) fn values(seed: u64, len: usize, scale: f32) -> Vec<f32> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                ((x >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
            })
            .collect()
    }

    /// An MLP of widths `sizes` with seeded weights and biases.
    pub(crate) fn random_mlp(seed: u64, sizes: &[usize]) -> FastMlp {
        let (mut w, mut b) = (Vec::new(), Vec::new());
        for l in 0..sizes.len() - 1 {
            let scale = 1.0 / (sizes[l] as f32).sqrt();
            w.push(values(
                seed * 100 + 2 * l as u64,
                sizes[l] * sizes[l + 1],
                scale,
            ));
            b.push(values(seed * 100 + 2 * l as u64 + 1, sizes[l + 1], 0.1));
        }
        FastMlp::from_values(sizes.to_vec(), w, b)
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// The pendulum's shapes (3 observations, 1 action) with the default 256-wide layers.
    const OBS: usize = 3;
    const ACT: usize = 1;
    const N: usize = 256;

    #[test]
    fn targets_are_bit_equal_on_one_and_two_threads() {
        let policy = random_mlp(1, &[OBS, 256, 256, 2 * ACT]);
        let q1 = random_mlp(2, &[OBS + ACT, 256, 256, 1]);
        let q2 = random_mlp(3, &[OBS + ACT, 256, 256, 1]);
        let nets = TargetNets {
            policy: &policy,
            squash: Squash::ScaledTanh(2.0),
            q1_targ: &q1,
            q2_targ: &q2,
        };
        let next_scaled = values(4, N * OBS, 1.0);
        let reward = values(5, N, 1.0);
        let not_done: Vec<f32> = (0..N).map(|i| if i % 7 == 0 { 0.0 } else { 1.0 }).collect();
        let t = Transition {
            next_scaled: &next_scaled,
            reward: &reward,
            not_done: &not_done,
        };
        let eps = values(6, N * ACT, 2.0);
        let run = |threads: usize| {
            // Twice on one workspace: a reused cache gives the same values as a fresh one.
            let mut ws = Workspace::default();
            (0..2)
                .map(|_| {
                    let td3 = clipped_double_q_target(
                        &mut ws,
                        threads,
                        &nets,
                        &t,
                        Some((&eps, 0.2, 0.5)),
                        0.99,
                    );
                    let sac = soft_target(
                        &mut ws,
                        threads,
                        &nets,
                        &t,
                        &eps,
                        Some((-20.0, 2.0)),
                        0.99,
                        0.2,
                    );
                    (bits(&td3), bits(&sac))
                })
                .collect::<Vec<_>>()
        };
        let one = run(1);
        assert_eq!(one[0], one[1]);
        // Both critics matter: the min takes each on some samples.
        let mut ws = Workspace::default();
        clipped_double_q_target(&mut ws, 1, &nets, &t, None, 0.99);
        let smaller = ws
            .q1
            .output()
            .iter()
            .zip(ws.q2.output())
            .filter(|(a, b)| a < b);
        assert!((1..N).contains(&smaller.count()));
        for threads in [2, 3] {
            assert_eq!(run(threads), one, "{threads} threads");
        }
    }
}
