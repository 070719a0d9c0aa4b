//! Batch reuse (spec §3.4, §3.9; paper §IV-B): MPG-v1 and n-step DPG recompute (batch,
//! targets) only every 10th call; every other algorithm uses each batch it is given.

use crate::reference::{balance_twins, plain, rel_err_plain, tiny_nets, wide_batch};
use mpg_algos::{Algo, AlgoConfig, Batch, Grads, Learner, Nets};
use mpg_envs::{Rng, Task};
use tch::Kind;

const B: usize = 4;

fn cfg(algo: Algo, task: Task) -> AlgoConfig {
    let mut c = AlgoConfig::defaults(algo, task);
    c.batch_size = B;
    // deterministic model noise, so that two calls on the same batch give the same policy
    // gradient
    c.model_noise[1] = 0.0;
    // reuse does not depend on the rollout length; a short one keeps 700 computations quick
    c.horizon = 5;
    c
}

/// Q1, Q2 and policy gradients of two computations agree (to rounding).
fn same(a: &Grads, b: &Grads) -> bool {
    let close = |x: &[Vec<f32>], y: &[Vec<f32>]| rel_err_plain(x, y) < 1e-6;
    close(&a.q1, &b.q1)
        && match (&a.q2, &b.q2) {
            (Some(x), Some(y)) => close(x, y),
            (None, None) => true,
            _ => false,
        }
        && close(a.policy.as_ref().unwrap(), b.policy.as_ref().unwrap())
}

/// The gradients a FRESH learner computes on `batch` (its first call always takes the batch),
/// its generator in the state `rng` (TD3's and SAC's noise draws).
fn fresh(algo: Algo, task: Task, nets: &Nets, batch: &Batch, it: u64, rng: &Rng) -> Grads {
    let mut l = Learner::new(algo, task, cfg(algo, task), 14);
    l.set_rng(rng.clone());
    l.compute(nets, batch, it, true)
}

/// The reuse counts of spec §3.9: 10 for MPG-v1 and n-step DPG, 1 for the others.
#[test]
fn batch_reuse_defaults_follow_the_spec_table() {
    for task in Task::ALL {
        for algo in Algo::ALL {
            let want = if matches!(algo, Algo::MpgV1 | Algo::Ndpg) {
                10
            } else {
                1
            };
            assert_eq!(AlgoConfig::defaults(algo, task).batch_reuse, want, "{algo}");
        }
    }
}

/// 21 calls with 21 different batches (same parameters, same iteration). MPG-v1 and n-step
/// DPG: calls 1–10 all compute on batch 0 (calls 2–10 ignore the batch passed in), calls
/// 11–20 on batch 10, call 21 on batch 20 — both the critic's gradient (cached targets) and
/// the policy's (cached observations). MPG-v2 (and TD3, SAC, n-step ADP): call k on batch k.
#[test]
fn mpg_v1_and_ndpg_reuse_a_batch_ten_times_mpg_v2_never() {
    tch::set_num_threads(1);
    for task in Task::ALL {
        for algo in Algo::ALL {
            let tn = tiny_nets(task, algo.twin_critics(), Kind::Float, 81);
            let batches: Vec<Batch> = (0..21).map(|k| wide_batch(task, B, 100 + k)).collect();
            let b0 = batches[0].tch();
            balance_twins(task, &tn, &b0.obs, &b0.next_obs);
            let nets = plain(&tn);
            let it = 3000;
            let mut learner = Learner::new(algo, task, cfg(algo, task), 14);
            let reuse = AlgoConfig::defaults(algo, task).batch_reuse as usize;
            for (k, b) in batches.iter().enumerate() {
                let rng = learner.rng().clone();
                let g = learner.compute(&nets, b, it, true);
                let used = k - k % reuse;
                let want = fresh(algo, task, &nets, &batches[used], it, &rng);
                assert!(
                    same(&g, &want),
                    "{algo} {task}: call {} should use batch {used}",
                    k + 1
                );
                if used != k {
                    let other = fresh(algo, task, &nets, b, it, &rng);
                    assert!(
                        !same(&g, &other),
                        "{algo} {task}: batches {k} and {used} alike"
                    );
                }
            }
        }
    }
}
