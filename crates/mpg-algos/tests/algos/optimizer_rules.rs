//! Applying gradients (spec §3.1, D15): Q every iteration, the policy and the Polyak target
//! updates only when iteration % delay_update == 0, non-finite gradients dropped or zeroed.

use crate::reference::{plain, tiny_nets};
use mpg_algos::fast::mlp::FastMlp;
use mpg_algos::optimizer::MAX_NONFINITE_IN_ROW;
use mpg_algos::{Algo, AlgoConfig, GradStats, Grads, NonFinite, Optimizer};
use mpg_envs::{Rng, Task};
use rand::{Rng as _, SeedableRng};
use rand_distr::StandardNormal;
use tch::Kind;

/// Random finite gradients shaped like `net`'s parameters.
fn like(net: &FastMlp, rng: &mut Rng) -> Vec<Vec<f32>> {
    net.params()
        .iter()
        .map(|p| {
            (0..p.len())
                .map(|_| rng.sample::<f32, _>(StandardNormal))
                .collect()
        })
        .collect()
}

fn random_grads(opt: &Optimizer, rng: &mut Rng) -> Grads {
    let n = &opt.nets;
    Grads {
        q1: like(&n.q1, rng),
        q2: n.q2.as_ref().map(|q| like(q, rng)),
        policy: Some(like(&n.policy.net, rng)),
        stats: GradStats {
            version: opt.iteration,
            ..GradStats::default()
        },
    }
}

/// Copies of a network's parameters.
fn snap(net: &FastMlp) -> Vec<Vec<f32>> {
    net.params().iter().map(|p| p.to_vec()).collect()
}

fn equal(a: &[Vec<f32>], b: &[Vec<f32>]) -> bool {
    a == b
}

/// Every tensor of the network moved.
fn all_moved(a: &[Vec<f32>], b: &[Vec<f32>]) -> bool {
    a.iter().zip(b).all(|(x, y)| x != y)
}

/// A fresh optimiser on tiny networks.
fn optimizer(c: &AlgoConfig, seed: u64) -> Optimizer {
    Optimizer::new(
        plain(&tiny_nets(Task::PathTracking, true, Kind::Float, seed)),
        c,
    )
}

fn cfg(delay: u64) -> AlgoConfig {
    let mut c = AlgoConfig::defaults(Algo::MpgV2, Task::PathTracking);
    c.delay_update = delay;
    c
}

/// Spec §3.1, §3.9: the delays of the table (2 for MPG and TD3, 1 for n-step DPG, n-step ADP,
/// SAC); for delays 1, 2 and 3 over 7 iterations: Q1 and Q2 step every iteration; the policy
/// steps and every target network moves to τ·θ + (1 − τ)·θ' (θ after this iteration's step,
/// τ = 0.005) exactly when iteration % delay == 0, and neither changes otherwise.
#[test]
fn policy_and_targets_update_every_delay_iterations_q_every_iteration() {
    tch::set_num_threads(1);
    for algo in Algo::ALL {
        let want = if matches!(algo, Algo::MpgV1 | Algo::MpgV2 | Algo::Td3) {
            2
        } else {
            1
        };
        assert_eq!(
            AlgoConfig::defaults(algo, Task::InvertedPendulum).delay_update,
            want
        );
    }
    let mut rng = Rng::seed_from_u64(5);
    for delay in [1u64, 2, 3] {
        let c = cfg(delay);
        assert_eq!(c.tau, 0.005);
        let mut opt = optimizer(&c, 91);
        for i in 0..7u64 {
            let n = &opt.nets;
            let (p0, q10, q20) = (
                snap(&n.policy.net),
                snap(&n.q1),
                snap(n.q2.as_ref().unwrap()),
            );
            let (pt0, q1t0, q2t0) = (
                snap(&n.policy_targ.net),
                snap(&n.q1_targ),
                snap(n.q2_targ.as_ref().unwrap()),
            );
            let g = random_grads(&opt, &mut rng);
            let st = opt.apply(&g).unwrap();
            assert_eq!(st.iteration, i);
            assert!(!st.dropped);
            let n = &opt.nets;
            let (p1, q11, q21) = (
                snap(&n.policy.net),
                snap(&n.q1),
                snap(n.q2.as_ref().unwrap()),
            );
            assert!(
                all_moved(&q10, &q11) && all_moved(&q20, &q21),
                "Q every iteration"
            );
            let due = i % delay == 0;
            assert_eq!(st.policy_applied, due, "delay {delay} iteration {i}");
            let targets = [
                (pt0, snap(&n.policy_targ.net), &p1),
                (q1t0, snap(&n.q1_targ), &q11),
                (q2t0, snap(n.q2_targ.as_ref().unwrap()), &q21),
            ];
            if due {
                assert!(
                    all_moved(&p0, &p1),
                    "delay {delay} iteration {i}: policy step"
                );
                for (before, after, source) in &targets {
                    for ((b, a), s) in before.iter().zip(after).zip(source.iter()) {
                        for ((&b, &a), &s) in b.iter().zip(a).zip(s) {
                            let want = b * 0.995 + s * 0.005;
                            assert!((a - want).abs() < 1e-7, "delay {delay} it {i}: Polyak");
                        }
                    }
                    assert!(all_moved(before, after));
                }
            } else {
                assert!(equal(&p0, &p1), "delay {delay} iteration {i}: policy moved");
                for (before, after, _) in &targets {
                    assert!(
                        equal(before, after),
                        "delay {delay} iteration {i}: target moved"
                    );
                }
            }
        }
    }
}

/// Put a NaN (or an infinity) into the first tensor of a gradient list.
fn poison(g: &mut [Vec<f32>], v: f32) {
    g[0][0] = v;
}

/// Every parameter of every network.
fn all_params(opt: &Optimizer) -> Vec<Vec<f32>> {
    opt.nets.all().into_iter().flat_map(snap).collect()
}

/// D15 `drop` (the default): a gradient with any non-finite entry (Q1, Q2, or the policy on an
/// iteration that applies it) is dropped whole — no network changes — and counted; a finite
/// one resets the run; the 100th in a row is an error naming the network and the iteration.
/// A non-finite policy gradient on an iteration that does not apply it is harmless.
#[test]
fn nonfinite_gradients_are_dropped_counted_and_100_in_a_row_stop_the_run() {
    tch::set_num_threads(1);
    let c = cfg(2);
    assert_eq!(c.nonfinite_grads, NonFinite::Drop);
    assert_eq!(MAX_NONFINITE_IN_ROW, 100);
    let mut rng = Rng::seed_from_u64(6);
    let mut opt = optimizer(&c, 92);

    // a NaN in Q1: nothing applied, counted
    let before = all_params(&opt);
    let mut g = random_grads(&opt, &mut rng);
    poison(&mut g.q1, f32::NAN);
    let st = opt.apply(&g).unwrap();
    assert!(st.dropped && !st.policy_applied);
    assert!(
        equal(&before, &all_params(&opt)),
        "a dropped gradient changed a network"
    );
    assert_eq!((opt.dropped_total, opt.dropped_in_row), (1, 1));

    // a finite gradient ends the run of drops
    let g = random_grads(&opt, &mut rng);
    assert!(!opt.apply(&g).unwrap().dropped);
    assert_eq!((opt.dropped_total, opt.dropped_in_row), (1, 0));

    // a NaN policy gradient on an iteration that does not apply the policy: applied (Q only)
    while opt.policy_due(opt.iteration) {
        let g = random_grads(&opt, &mut rng);
        opt.apply(&g).unwrap();
    }
    let mut g = random_grads(&opt, &mut rng);
    poison(g.policy.as_mut().unwrap(), f32::NAN);
    let st = opt.apply(&g).unwrap();
    assert!(!st.dropped && !st.policy_applied);

    // ... but dropped where it would be applied
    assert!(opt.policy_due(opt.iteration));
    let mut g = random_grads(&opt, &mut rng);
    poison(g.policy.as_mut().unwrap(), f32::INFINITY);
    let before = all_params(&opt);
    assert!(opt.apply(&g).unwrap().dropped);
    assert!(equal(&before, &all_params(&opt)));
    assert_eq!(opt.dropped_in_row, 1);

    // 99 in a row are tolerated, the 100th is an error naming Q2
    for k in 2..MAX_NONFINITE_IN_ROW {
        let mut g = random_grads(&opt, &mut rng);
        poison(g.q2.as_mut().unwrap(), f32::NEG_INFINITY);
        assert!(opt.apply(&g).unwrap().dropped);
        assert_eq!(opt.dropped_in_row, k);
    }
    let mut g = random_grads(&opt, &mut rng);
    poison(g.q2.as_mut().unwrap(), f32::NAN);
    let it = opt.iteration;
    let err = opt.apply(&g).unwrap_err();
    assert_eq!((err.count, err.network, err.iteration), (100, "q2", it));
    let msg = err.to_string();
    assert!(msg.contains("q2") && msg.contains("100"), "{msg}");
}

/// D15 `zero` (the paper-era code): non-finite entries are replaced by zeros and the gradient
/// applied — exactly as applying the zeroed gradient by hand.
#[test]
fn nonfinite_zero_option_zeroes_and_applies() {
    tch::set_num_threads(1);
    let mut c = cfg(2);
    c.nonfinite_grads = NonFinite::Zero;
    let mut rng = Rng::seed_from_u64(7);
    let mut a = optimizer(&c, 93);
    let mut b = optimizer(&c, 93);
    assert!(equal(&all_params(&a), &all_params(&b)));
    let before = all_params(&a);
    let mut g = random_grads(&a, &mut rng);
    poison(&mut g.q1, f32::NAN);
    poison(g.policy.as_mut().unwrap(), f32::INFINITY);
    // By hand: the poisoned entries (the first of q1 and of the policy) become 0.
    let mut zeroed = g.clone();
    zeroed.q1[0][0] = 0.0;
    zeroed.policy.as_mut().unwrap()[0][0] = 0.0;
    let st = a.apply(&g).unwrap();
    assert!(!st.dropped && st.policy_applied);
    assert_eq!(a.dropped_total, 0);
    b.apply(&zeroed).unwrap();
    let (pa, pb) = (all_params(&a), all_params(&b));
    assert!(
        equal(&pa, &pb),
        "zeroing differs from applying the zeroed gradient"
    );
    assert!(pa.iter().flatten().all(|x| x.is_finite()));
    assert!(!equal(&before, &pa));
}
