//! Batches of real transitions for the learner tests.

use mpg_algos::Batch;
use mpg_envs::{Rng, Task, Termination, make_sim};
use rand::{Rng as _, SeedableRng};
use tch::Tensor;

/// `n` transitions of `task` from fresh resets, with uniform random actions in ±`act_range`.
pub fn random_batch(task: Task, n: usize, seed: u64) -> Batch {
    let spec = task.spec();
    let mut sim = make_sim(task, n, seed, Termination::Paper);
    let mut rng = Rng::seed_from_u64(seed + 1000);
    let range = if task == Task::PathTracking { 1.0 } else { 3.0 };
    let act: Vec<f32> = (0..n * spec.act_dim)
        .map(|_| (rng.random::<f32>() * 2.0 - 1.0) * range)
        .collect();
    let mut obs = vec![0.0; n * spec.obs_dim];
    sim.observe(&mut obs);
    let (mut rew, mut done) = (vec![0.0; n], vec![false; n]);
    sim.step(&act, &mut rew, &mut done).unwrap();
    let mut next = vec![0.0; n * spec.obs_dim];
    sim.observe(&mut next);
    let (b, od, ad) = (n as i64, spec.obs_dim as i64, spec.act_dim as i64);
    Batch {
        obs: Tensor::from_slice(&obs).reshape([b, od]),
        act: Tensor::from_slice(&act).reshape([b, ad]),
        rew: Tensor::from_slice(&rew),
        next_obs: Tensor::from_slice(&next).reshape([b, od]),
        done: Tensor::from_slice(&done.iter().map(|&d| d as u8 as f32).collect::<Vec<_>>()),
    }
}
