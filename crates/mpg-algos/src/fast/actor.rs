//! The model-free policy gradients on the fast path: n-step DPG's −mean Q1(s, π(s))
//! (spec §3.6), TD3's −mean min(Q1, Q2)(s, π(s)) (spec §3.8) and SAC's
//! mean(α·log π(a|s) − min(Q1, Q2)(s, a)) with a reparameterised squashed Gaussian
//! (spec §3.8, D14); the policy's heads are [`super::heads`]. The references are
//! [`crate::ndpg::dpg_policy_loss`], [`crate::td3::min_q_policy_loss`],
//! [`crate::sac::soft_policy_loss`] and [`mpg_models::nets::Policy`] under autograd;
//! `fast/tests.rs` holds them equal.
//!
//! One forward pass of the policy and of each critic, one backward pass through each critic to
//! its action input only, one backward pass through the policy to its parameters.

use super::PolicyGrad;
use super::heads::{deterministic_action, deterministic_action_backward, gaussian_sample, q_input};
use super::mlp::{FastMlp, MlpCache};
use super::pool::join;
use mpg_models::nets::Squash;

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
/// (observation ⊙ obs_scale); `critics` holds Q1 and, for min(Q1, Q2), Q2. With two critics
/// their passes run side by side when `threads > 1`; the result does not depend on `threads`.
pub fn policy_grad_in(
    ws: &mut ActorWorkspace,
    threads: usize,
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
    // With two critics and more than one thread, their passes (this forward and the backward
    // below) run side by side on the pool, each with its own cache: independent computations,
    // so the values do not depend on `threads`.
    match (critics, ws.critics.as_mut_slice()) {
        ([q1, q2], [c1, c2]) => {
            join(threads, || q1.forward(&x, n, c1), || q2.forward(&x, n, c2));
        }
        _ => critics[0].forward(&x, n, &mut ws.critics[0]),
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
    // Critic c's dL/d input rows, or None when its share of the gradient is zero everywhere.
    let input_grad = |c: usize, q: &FastMlp, cache: &MlpCache| -> Option<Vec<f32>> {
        let d_q: Vec<f32> = share1
            .iter()
            .map(|&s| d_min * if c == 0 { s } else { 1.0 - s })
            .collect();
        if d_q.iter().all(|&v| v == 0.0) {
            return None;
        }
        let mut dx = vec![0.0f32; n * q_in];
        q.backward(cache, &d_q, &mut dx, None);
        Some(dx)
    };
    let dxs = match (critics, ws.critics.as_slice()) {
        ([q1, q2], [c1, c2]) => {
            let (a, b) = join(threads, || input_grad(0, q1, c1), || input_grad(1, q2, c2));
            vec![a, b]
        }
        _ => vec![input_grad(0, critics[0], &ws.critics[0])],
    };
    // Summed in critic order, as on one thread.
    let mut d_act = vec![0.0f32; n * act_dim];
    for dx in dxs.iter().flatten() {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fast::critic::tests::{random_mlp, values};

    fn bits(g: &PolicyGrad) -> (u64, Vec<Vec<u32>>) {
        let grads = g
            .grads
            .iter()
            .map(|t| t.iter().map(|x| x.to_bits()).collect())
            .collect();
        (g.loss.to_bits(), grads)
    }

    #[test]
    fn td3_and_sac_policy_gradients_are_bit_equal_on_one_and_two_threads() {
        let (obs, act, n) = (3, 1, 256);
        let policy = random_mlp(11, &[obs, 256, 256, 2 * act]);
        let q1 = random_mlp(12, &[obs + act, 256, 256, 1]);
        let mut q2 = random_mlp(13, &[obs + act, 256, 256, 1]);
        let s_scaled = values(14, n * obs, 1.0);
        let eps = values(15, n * act, 2.0);
        let squash = Squash::ScaledTanh(2.0);
        // Shift Q2 by the median of Q1 − Q2 at π(s), so that each critic is the smaller one on
        // about half the samples and both backward passes carry gradient.
        let mut cache = MlpCache::default();
        policy.forward(&s_scaled, n, &mut cache);
        let x = q_input(
            &s_scaled,
            &deterministic_action(cache.output(), act, squash),
            obs,
            act,
        );
        let (mut c1, mut c2) = (MlpCache::default(), MlpCache::default());
        q1.forward(&x, n, &mut c1);
        q2.forward(&x, n, &mut c2);
        let mut gap: Vec<f32> = c1
            .output()
            .iter()
            .zip(c2.output())
            .map(|(a, b)| a - b)
            .collect();
        gap.sort_by(f32::total_cmp);
        q2.b.last_mut().unwrap()[0] += gap[n / 2];
        let objectives = [
            Objective::Deterministic,
            Objective::Soft {
                eps: &eps,
                alpha: 0.2,
                log_std_clip: Some((-20.0, 2.0)),
            },
        ];
        let run = |threads: usize, critics: &[&FastMlp]| {
            let mut ws = ActorWorkspace::default();
            objectives
                .iter()
                .flat_map(|&o| {
                    // Twice on one workspace: a reused cache gives the same values.
                    [0, 1].map(|_| {
                        bits(&policy_grad_in(
                            &mut ws, threads, &policy, squash, critics, &s_scaled, o,
                        ))
                    })
                })
                .collect::<Vec<_>>()
        };
        for critics in [vec![&q1, &q2], vec![&q1]] {
            let one = run(1, &critics);
            assert!(one[0] == one[1], "a reused workspace changes the result");
            assert!(one[0] != one[2], "the two objectives agree");
            assert!(one[0].1.iter().flatten().any(|&b| f32::from_bits(b) != 0.0));
            for threads in [2, 3] {
                assert!(run(threads, &critics) == one, "{threads} threads differ");
            }
        }
        // With both critics each takes part: the gradients differ from Q1's alone.
        let (both, q1_only) = (run(1, &[&q1, &q2]), run(1, &[&q1]));
        assert!(
            both[0] != q1_only[0] && both[2] != q1_only[2],
            "Q2 takes no part"
        );
    }
}
