//! The minibatch a learner reads (spec §3.1): what the replay buffer samples, as plain f32
//! rows; the reference path views it as tensors ([`Batch::tch`]).

use mpg_envs::{Rng, Task, Termination, make_sim};
use rand::SeedableRng;
use tch::Tensor;

/// A minibatch of transitions, row-major f32: obs `[B, obs_dim]`, act `[B, act_dim]` (the
/// stored, unclipped behaviour action), rew `[B]` (raw), next_obs, done `[B]` (1.0 or 0.0).
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    pub obs_dim: usize,
    pub act_dim: usize,
    pub obs: Vec<f32>,
    pub act: Vec<f32>,
    pub rew: Vec<f32>,
    pub next_obs: Vec<f32>,
    pub done: Vec<f32>,
}

/// A [`Batch`] as f32 tensors of the same shapes (the reference path's view).
#[derive(Debug)]
pub struct TchBatch {
    pub obs: Tensor,
    pub act: Tensor,
    pub rew: Tensor,
    pub next_obs: Tensor,
    pub done: Tensor,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.rew.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The same values as tensors.
    pub fn tch(&self) -> TchBatch {
        let b = self.len() as i64;
        let rows = |v: &[f32], d: usize| Tensor::from_slice(v).reshape([b, d as i64]);
        TchBatch {
            obs: rows(&self.obs, self.obs_dim),
            act: rows(&self.act, self.act_dim),
            rew: Tensor::from_slice(&self.rew),
            next_obs: rows(&self.next_obs, self.obs_dim),
            done: Tensor::from_slice(&self.done),
        }
    }

    /// The values of tensors shaped as [`Batch::tch`] gives them (f32 or not).
    pub fn from_tch(t: &TchBatch) -> Batch {
        let v = |t: &Tensor| crate::fast::values(&t.to_kind(tch::Kind::Float));
        Batch {
            obs_dim: t.obs.size()[1] as usize,
            act_dim: t.act.size()[1] as usize,
            obs: v(&t.obs),
            act: v(&t.act),
            rew: v(&t.rew),
            next_obs: v(&t.next_obs),
            done: v(&t.done),
        }
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
        let mut next_obs = vec![0.0; n * spec.obs_dim];
        sim.observe(&mut next_obs);
        Batch {
            obs_dim: spec.obs_dim,
            act_dim: spec.act_dim,
            obs,
            act,
            rew,
            next_obs,
            done: done.iter().map(|&d| d as u8 as f32).collect(),
        }
    }
}
