//! The critics' loss and the per-network gradient clipping (spec §3.1).

use crate::reference::{
    act, balance_twins, global_norm, grads, params, plain, q, rel_err, scaled, tensors, tiny_nets,
    wide_batch,
};
use mpg_algos::grads::clip_by_global_norm;
use mpg_algos::{Algo, AlgoConfig, Learner, TchBatch, TchNets};
use mpg_envs::Task;
use mpg_models::nets::Mlp;
use tch::{Kind, Tensor};

const B: usize = 8;

/// ½·mean((Q(s, a) − y)²) with the batch's stored action (spec §3.1).
fn half_mse(net: &Mlp, task: Task, b: &TchBatch, y: &Tensor) -> Tensor {
    let qv = q(&params(net), &scaled(task, &b.obs), &b.act);
    (qv - y).square().mean(Kind::Float) * 0.5
}

/// Spec §3.1: every algorithm's critic loss is ½·mean((Q(s, a) − y)²) at the STORED action,
/// for Q1 and (where used) Q2, both regressing to the SAME y — the learner's target, which a
/// second learner with the same seed reproduces (the target formulas have their own tests);
/// the reported q_loss is the sum of the two losses.
#[test]
fn q_loss_is_half_mse_of_each_critic_to_one_shared_target() {
    tch::set_num_threads(1);
    for task in Task::ALL {
        for algo in Algo::ALL {
            let nets = tiny_nets(task, algo.twin_critics(), Kind::Float, 71);
            let b = wide_batch(task, B, 31);
            let tb = b.tch();
            balance_twins(task, &nets, &tb.obs, &tb.next_obs);
            let mut cfg = AlgoConfig::defaults(algo, task);
            cfg.batch_size = B;
            cfg.grad_clip = 1e30;
            let pn = plain(&nets);
            let y = Tensor::from_slice(
                &Learner::new(algo, task, cfg.clone(), 12).critic_target(&pn, &b),
            );
            let mut learner = Learner::new(algo, task, cfg, 12);
            let g = learner.compute(&pn, &b, 0, false);
            let l1 = half_mse(&nets.q1, task, &tb, &y);
            let want = grads(&l1, &params(&nets.q1));
            let err = rel_err(&tensors(&g.q1, &want), &want);
            assert!(err < 1e-5, "{algo} {task} q1: {err}");
            let mut total = f64::try_from(&l1).unwrap();
            match (&nets.q2, &g.q2) {
                (Some(q2), Some(g2)) => {
                    let l2 = half_mse(q2, task, &tb, &y);
                    total += f64::try_from(&l2).unwrap();
                    let want = grads(&l2, &params(q2));
                    let err = rel_err(&tensors(g2, &want), &want);
                    assert!(err < 1e-5, "{algo} {task} q2: {err}");
                }
                (None, None) => {}
                _ => panic!("{algo}: Q2 gradient without Q2 or the reverse"),
            }
            let got = g.stats.q_loss;
            assert!(
                (got - total).abs() < 1e-5 * total.abs().max(1.0),
                "{algo} {task}: {got} vs {total}"
            );
            assert!(g.policy.is_none());
        }
    }
}

/// tf.clip_by_global_norm by hand: g·c / max(‖g‖, c), the norm taken over every tensor of
/// the list together; the returned norm is the one before clipping.
#[test]
fn clip_by_global_norm_by_hand() {
    // ‖(3, 4, 0)‖ = 5 > 3: scaled by 3/5
    let mut g = vec![vec![3.0f32, 4.0], vec![0.0]];
    assert_eq!(clip_by_global_norm(&mut g, 3.0), 5.0);
    assert!((g[0][0] - 1.8).abs() < 1e-6 && (g[0][1] - 2.4).abs() < 1e-6 && g[1][0] == 0.0);
    let norm = |g: &[Vec<f32>]| g.iter().flatten().map(|&x| (x as f64).powi(2)).sum::<f64>();
    assert!((norm(&g).sqrt() - 3.0).abs() < 1e-6);
    // ‖(0.3, 0.4)‖ = 0.5 < 3: unchanged
    let mut g = vec![vec![0.3f32], vec![0.4]];
    assert!((clip_by_global_norm(&mut g, 3.0) - 0.5).abs() < 1e-7);
    assert_eq!(g, vec![vec![0.3], vec![0.4]]);
    // global over tensors: ‖(2, 4, 4)‖ = 6: every tensor halved (not each by its own norm)
    let mut g = vec![vec![2.0f32, 4.0], vec![4.0]];
    assert_eq!(clip_by_global_norm(&mut g, 3.0), 6.0);
    assert_eq!(g, vec![vec![1.0, 2.0], vec![2.0]]);
    // exactly at the clip: unchanged
    let mut g = vec![vec![1.0f32, 2.0], vec![2.0]];
    clip_by_global_norm(&mut g, 3.0);
    assert_eq!(g, vec![vec![1.0, 2.0], vec![2.0]]);
    // a non-finite norm leaves the gradient to the optimiser's D15 rule
    let mut g = vec![vec![f32::NAN, 4.0]];
    assert!(clip_by_global_norm(&mut g, 3.0).is_nan());
    assert_eq!(g[0][1], 4.0);
}

/// Multiply the output layers of every critic (and target critic) by `k`.
fn scale_critics(nets: &TchNets, k: f64) {
    let mut all = vec![&nets.q1, &nets.q1_targ];
    all.extend(nets.q2.as_ref());
    all.extend(nets.q2_targ.as_ref());
    tch::no_grad(|| {
        for net in all {
            let _ = net.w.last().unwrap().shallow_clone().g_mul_scalar_(k);
            let _ = net.b.last().unwrap().shallow_clone().g_mul_scalar_(k);
        }
    });
}

/// Spec §3.1: gradients are clipped to global norm 3 SEPARATELY for Q1, Q2 and the policy
/// (TD3 here: policy loss −mean min(Q1, Q2)(s, π(s))). Critics scaled ×100: every raw norm is
/// above 3 and every clipped gradient is raw·3/‖raw‖, of norm exactly 3 each (a joint clip
/// would leave each below 3); the reported norms are the raw ones. Critics scaled ×1e-3 and
/// zero rewards: every raw norm is below 3 and the gradients are returned unchanged.
#[test]
fn learner_clips_each_network_separately_at_3() {
    tch::set_num_threads(1);
    for task in Task::ALL {
        for (k, zero_reward) in [(100.0, false), (1e-3, true)] {
            let nets = tiny_nets(task, true, Kind::Float, 72);
            let mut b = wide_batch(task, B, 32);
            if zero_reward {
                b.rew.fill(0.0);
            }
            let tb = b.tch();
            balance_twins(task, &nets, &tb.obs, &tb.next_obs);
            scale_critics(&nets, k);
            let pn = plain(&nets);
            let cfg = AlgoConfig::defaults(Algo::Td3, task);
            assert_eq!(cfg.grad_clip, 3.0);
            let y = Tensor::from_slice(
                &Learner::new(Algo::Td3, task, cfg.clone(), 13).critic_target(&pn, &b),
            );
            let mut learner = Learner::new(Algo::Td3, task, cfg, 13);
            let g = learner.compute(&pn, &b, 0, true);

            let q2 = nets.q2.as_ref().unwrap();
            let raw_q1 = grads(&half_mse(&nets.q1, task, &tb, &y), &params(&nets.q1));
            let raw_q2 = grads(&half_mse(q2, task, &tb, &y), &params(q2));
            let s = scaled(task, &tb.obs);
            let pol = params(&nets.policy.net);
            let a = act(task, &pol, &s);
            let min_q = q(&params(&nets.q1), &s, &a).minimum(&q(&params(q2), &s, &a));
            let raw_pi = grads(&(-min_q.mean(Kind::Float)), &pol);
            let st = &g.stats;
            let cases = [
                ("q1", raw_q1, g.q1, st.q1_norm),
                ("q2", raw_q2, g.q2.unwrap(), st.q2_norm.unwrap()),
                ("policy", raw_pi, g.policy.unwrap(), st.policy_norm.unwrap()),
            ];
            for (name, raw, got, reported) in cases {
                let got = tensors(&got, &raw);
                let n = global_norm(&raw);
                assert!(
                    (reported - n).abs() < 1e-4 * n,
                    "{task} {name}: norm {reported} vs {n}"
                );
                if k > 1.0 {
                    assert!(n > 3.5, "{task} {name}: raw norm {n} should exceed 3");
                    let want: Vec<Tensor> = raw.iter().map(|t| t * (3.0 / n)).collect();
                    let err = rel_err(&got, &want);
                    assert!(err < 1e-5, "{task} {name}: {err}");
                    let gn = global_norm(&got);
                    assert!((gn - 3.0).abs() < 1e-5, "{task} {name}: clipped norm {gn}");
                } else {
                    assert!(n < 3.0, "{task} {name}: raw norm {n} should be below 3");
                    let err = rel_err(&got, &raw);
                    assert!(err < 1e-5, "{task} {name}: {err}");
                }
            }
        }
    }
}
