//! The minibatch a learner reads (spec §3.1): what the replay buffer samples.

use mpg_envs::{Rng, Task, Termination, make_sim};
use rand::SeedableRng;
use tch::Tensor;

/// A minibatch of transitions as f32 tensors: obs `[B, obs_dim]`, act `[B, act_dim]` (the stored,
/// unclipped behaviour action), rew `[B]` (raw), next_obs, done `[B]` (1.0 or 0.0).
#[derive(Debug)]
pub struct Batch {
    pub obs: Tensor,
    pub act: Tensor,
    pub rew: Tensor,
    pub next_obs: Tensor,
    pub done: Tensor,
}

impl Batch {
    pub fn shallow_clone(&self) -> Batch {
        Batch {
            obs: self.obs.shallow_clone(),
            act: self.act.shallow_clone(),
            rew: self.rew.shallow_clone(),
            next_obs: self.next_obs.shallow_clone(),
            done: self.done.shallow_clone(),
        }
    }

    pub fn len(&self) -> usize {
        self.obs.size()[0] as usize
    }

    /// `n` real transitions of `task` for tests and benchmarks: fresh resets (seeded), actions
    /// uniform over the policy's range (±1 path tracking, ±3 pendulum), one simulator step.
    pub fn random(task: Task, n: usize, seed: u64) -> Batch {
        use rand::Rng as _;
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
        sim.step_unchecked(&act, &mut rew, &mut done);
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

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
