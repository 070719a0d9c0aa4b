//! The fast path of the model-free learners equals the autograd reference (issue "fast
//! gradient path"): whole `Learner::compute` with `path = fast` against `path = reference` for
//! TD3, SAC and n-step DPG on both tasks — the critic targets, the Q1 and Q2 gradients and
//! losses, the policy gradient — per tensor ‖fast − ref‖/‖ref‖ ≤ 1e-4 (f32), with both paths
//! drawing the same normals from the learner's generator (D8).

use crate::fast_path::{TOL, both_paths, check, random_nets, small_cfg, worst};
use mpg_algos::{Algo, AlgoConfig, Batch, GradPath, Grads, Learner};
use mpg_envs::Task;

/// The critics' summed loss and gradient norms of the two paths agree too.
fn check_critics(name: &str, fast: &Grads, reference: &Grads) {
    let (sf, sr) = (&fast.stats, &reference.stats);
    let close = |a: f64, b: f64| (a - b).abs() <= TOL * b.abs().max(1e-6);
    assert!(
        close(sf.q_loss, sr.q_loss),
        "{name}: q loss {} vs {}",
        sf.q_loss,
        sr.q_loss
    );
    assert!(
        close(sf.q1_norm, sr.q1_norm),
        "{name}: q1 norm {} vs {}",
        sf.q1_norm,
        sr.q1_norm
    );
    assert_eq!(sf.q2_norm.is_some(), sr.q2_norm.is_some(), "{name}");
    if let (Some(a), Some(b)) = (sf.q2_norm, sr.q2_norm) {
        assert!(close(a, b), "{name}: q2 norm {a} vs {b}");
    }
}

/// TD3, SAC (squashed and not, log σ clipped and not, terminal masking) and n-step DPG on both
/// tasks, batch 64 (n-step DPG: H = 5), one `compute` each.
#[test]
fn fast_model_free_gradients_equal_the_reference() {
    tch::set_num_threads(1);
    let mut seed = 500;
    for task in Task::ALL {
        let batch = Batch::random(task, 64, 21);
        let mut cases: Vec<(String, Algo, AlgoConfig)> = Vec::new();
        for algo in [Algo::Td3, Algo::Sac, Algo::Ndpg] {
            cases.push((format!("{task} {algo}"), algo, small_cfg(algo, task, 64, 5)));
        }
        let mut c = small_cfg(Algo::Sac, task, 64, 5);
        c.log_std_clip = Some([-0.3, 0.2]);
        c.mask_terminal = true;
        cases.push((format!("{task} sac clip+mask"), Algo::Sac, c));
        let mut c = small_cfg(Algo::Sac, task, 64, 5);
        c.squash = false;
        cases.push((format!("{task} sac unsquashed"), Algo::Sac, c));
        let mut c = small_cfg(Algo::Td3, task, 64, 5);
        c.mask_terminal = true;
        cases.push((format!("{task} td3 mask"), Algo::Td3, c));
        for (name, algo, c) in cases {
            seed += 1;
            let [f, r] = both_paths(algo, task, &c, &batch, seed);
            check(&name, &f, &r);
            check_critics(&name, &f, &r);
        }
    }
}

/// Several consecutive calls on one learner per path, as the synchronous trainer makes them:
/// n-step DPG reusing its batch and targets (spec §3.4), TD3 with its delayed policy gradient
/// (computed on every 2nd call only). Every call's gradients agree.
#[test]
fn fast_model_free_gradients_equal_the_reference_over_calls() {
    tch::set_num_threads(1);
    for (algo, task) in [
        (Algo::Ndpg, Task::InvertedPendulum),
        (Algo::Ndpg, Task::PathTracking),
        (Algo::Td3, Task::PathTracking),
    ] {
        let mut c = small_cfg(algo, task, 32, 4);
        c.batch_reuse = if algo == Algo::Ndpg { 3 } else { 1 };
        let nets = random_nets(algo, task, 600);
        let batches: Vec<Batch> = (0..5).map(|k| Batch::random(task, 32, 30 + k)).collect();
        let mut learners = [GradPath::Fast, GradPath::Reference].map(|path| {
            let mut c = c.clone();
            c.path = path;
            Learner::new(algo, task, c, 601)
        });
        for (i, b) in batches.iter().enumerate() {
            let need_policy = i % c.delay_update.max(1) as usize == 0;
            let [f, r] = [0, 1].map(|k| learners[k].compute(&nets, b, i as u64, need_policy));
            let name = format!("{task} {algo} call {i}");
            assert_eq!(f.policy.is_some(), need_policy, "{name}");
            if need_policy {
                check(&name, &f, &r);
            } else {
                assert!(worst(&f.q1, &r.q1) <= TOL, "{name}: q1");
                assert!(worst(f.q2.as_ref().unwrap(), r.q2.as_ref().unwrap()) <= TOL);
            }
            check_critics(&name, &f, &r);
            assert_eq!(learners[0].rng(), learners[1].rng(), "{name}: draws differ");
        }
    }
}

/// Full size (batch 256, the default H): TD3 and SAC on the pendulum, the bench setting.
#[test]
fn fast_td3_and_sac_equal_the_reference_at_full_size() {
    tch::set_num_threads(1);
    let task = Task::InvertedPendulum;
    let batch = Batch::random(task, 256, 40);
    for algo in [Algo::Td3, Algo::Sac] {
        let c = AlgoConfig::defaults(algo, task);
        let [f, r] = both_paths(algo, task, &c, &batch, 700);
        let name = format!("full-size {task} {algo}");
        check(&name, &f, &r);
        check_critics(&name, &f, &r);
    }
}

/// With 2 intra-op threads the fast path computes the twin critics' gradients side by side;
/// the results are bitwise those of 1 thread (determinism does not depend on the threads).
#[test]
fn fast_twin_critic_gradients_do_not_depend_on_the_threads() {
    let task = Task::InvertedPendulum;
    let batch = Batch::random(task, 64, 50);
    let c = small_cfg(Algo::Sac, task, 64, 5);
    let nets = random_nets(Algo::Sac, task, 800);
    let run = |threads: i32| {
        tch::set_num_threads(threads);
        Learner::new(Algo::Sac, task, c.clone(), 801).compute(&nets, &batch, 0, true)
    };
    let (one, two) = (run(1), run(2));
    tch::set_num_threads(1);
    let same = |a: &[Vec<f32>], b: &[Vec<f32>]| a == b;
    assert!(same(&one.q1, &two.q1));
    assert!(same(one.q2.as_ref().unwrap(), two.q2.as_ref().unwrap()));
    assert!(same(
        one.policy.as_ref().unwrap(),
        two.policy.as_ref().unwrap()
    ));
    assert_eq!(one.stats.q_loss, two.stats.q_loss);
}

/// The env-rollout target of MPG-v1 and n-step DPG (spec §3.4: n steps of the TRUE simulator
/// from the stored action, π after, Q1'(s_n, π'(s_n)) at the end, pendulum's bootstrap clip)
/// with the plain policy passes equals the reference's libtorch passes, per sample, at full
/// size and H = 25, with and without D17's terminal masking.
#[test]
fn fast_env_rollout_target_equals_the_reference() {
    tch::set_num_threads(1);
    for (k, task) in Task::ALL.into_iter().enumerate() {
        for (algo, mask) in [(Algo::Ndpg, false), (Algo::MpgV1, true)] {
            let batch = Batch::random(task, 256, 60 + k as u64);
            let nets = random_nets(algo, task, 900 + k as u64);
            let ys = [GradPath::Fast, GradPath::Reference].map(|path| {
                let mut c = AlgoConfig::defaults(algo, task);
                c.path = path;
                c.mask_terminal = mask;
                Learner::new(algo, task, c, 9).critic_target(&nets, &batch)
            });
            let e = worst(&ys[..1], &ys[1..]);
            eprintln!("{task} {algo} env target: relative error {e:.2e}");
            assert!(e <= TOL, "{task} {algo}: fast target off by {e:.2e}");
            // The comparison can fail: another batch's targets differ by far more.
            let other = Batch::random(task, 256, 99);
            let mut c = AlgoConfig::defaults(algo, task);
            c.path = GradPath::Reference;
            let y_other = Learner::new(algo, task, c, 9).critic_target(&nets, &other);
            assert!(worst(&ys[..1], &[y_other]) > 100.0 * TOL);
        }
    }
}
