//! Every algorithm on both tasks for a few updates: every output finite, parameters moving.

use crate::common::random_batch;
use mpg_algos::{Algo, AlgoConfig, Learner, Nets, Optimizer};
use mpg_envs::{Rng, Task};
use rand::SeedableRng;

#[test]
fn every_algorithm_on_both_tasks_runs_and_stays_finite() {
    tch::set_num_threads(1);
    for task in Task::ALL {
        for algo in Algo::ALL {
            let mut cfg = AlgoConfig::defaults(algo, task);
            cfg.batch_size = 32;
            cfg.horizon = 5;
            let mut rng = Rng::seed_from_u64(1);
            let nets = Nets::new(algo, task, cfg.init, cfg.squash, &mut rng);
            let before = nets.snapshot();
            let mut opt = Optimizer::new(nets, &cfg);
            let mut learner = Learner::new(algo, task, cfg.clone(), 2);
            for it in 0..4u64 {
                let batch = random_batch(task, 32, it);
                let need_policy = opt.policy_due(opt.iteration);
                let grads = learner.compute(&opt.nets, &batch, opt.iteration, need_policy);
                let s = &grads.stats;
                assert!(
                    s.q_loss.is_finite() && s.q1_norm.is_finite(),
                    "{algo} {task}: {s:?}"
                );
                assert_eq!(grads.q2.is_some(), algo.twin_critics(), "{algo}");
                assert_eq!(grads.policy.is_some(), need_policy, "{algo}");
                if let Some(l) = s.policy_loss {
                    assert!(l.is_finite(), "{algo} {task}: {s:?}");
                }
                let applied = opt.apply(&grads).unwrap();
                assert!(!applied.dropped);
            }
            let after = opt.nets.snapshot();
            for (k, t) in after.iter().enumerate() {
                assert!(
                    bool::try_from(t.isfinite().all()).unwrap(),
                    "{algo} {task} tensor {k}"
                );
            }
            // the policy (first tensors) and Q1 moved
            assert!(
                !before[0].equal(&after[0]),
                "{algo} {task}: policy did not move"
            );
            assert!(
                !before[6].equal(&after[6]),
                "{algo} {task}: q1 did not move"
            );
        }
    }
}
