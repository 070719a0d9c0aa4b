//! The batching shared by both simulators: blocks of agents, per-block generators, threads.

use crate::{Rng, Sim, SimError, TaskSpec};
use rand::SeedableRng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// Agents per block. Each block owns its generator, so a batch steps identically on any number
/// of threads; 64 f64 lanes per state variable keep a block's working set in L1.
pub const BLOCK: usize = 64;

/// One task's physics, written over a block of at most [`BLOCK`] agents held as
/// structure-of-arrays (`Self::Block`). [`VecSim`] does the batching, threading and bookkeeping.
pub trait Kernel: Clone + Send + Sync + 'static {
    type Block: Clone + Send + Serialize + DeserializeOwned;
    fn spec(&self) -> &'static TaskSpec;
    /// A block of `n` agents (state unset until reset).
    fn new_block(&self, n: usize) -> Self::Block;
    /// Draw agent `i`'s state from the reset distribution.
    fn reset(&self, b: &mut Self::Block, i: usize, rng: &mut Rng);
    /// Rebuild agent `i`'s state from an observation.
    fn set_obs(&self, b: &mut Self::Block, i: usize, obs: &[f32]);
    /// Write the block's observations, row-major `[n, obs_dim]`.
    fn observe(&self, b: &Self::Block, obs: &mut [f32]);
    /// One environment step of the block: actions `[n, act_dim]`.
    fn step(&self, b: &mut Self::Block, act: &[f32], reward: &mut [f32], done: &mut [bool]);
}

/// Serialised state of a whole simulator (agents and generators), for checkpoints.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SimState {
    pub task: crate::Task,
    pub agents: usize,
    /// JSON of the blocks, generators and done flags (an opaque blob to callers).
    pub blob: String,
}

#[derive(Clone, Serialize, Deserialize)]
struct Part<B> {
    block: B,
    rng: Rng,
    done: Vec<bool>,
}

/// One block's share of a step: its part, actions, rewards and done flags.
type Chunk<'a, B> = (
    ((&'a mut Part<B>, &'a [f32]), &'a mut [f32]),
    &'a mut [bool],
);

/// A batch of `agents` simulated agents of one task.
#[derive(Clone)]
pub struct VecSim<K: Kernel> {
    kernel: K,
    parts: Vec<Part<K::Block>>,
    agents: usize,
    threads: usize,
}

impl<K: Kernel> VecSim<K> {
    /// `agents` agents, every one reset from the distribution, generators seeded from `seed`:
    /// block k uses the seed's xoshiro stream jumped k times (2¹²⁸ draws apart).
    pub fn new(kernel: K, agents: usize, seed: u64) -> Self {
        let mut rng = Rng::seed_from_u64(seed);
        let mut parts = Vec::new();
        let mut left = agents;
        while left > 0 {
            let n = left.min(BLOCK);
            parts.push(Part {
                block: kernel.new_block(n),
                rng: rng.clone(),
                done: vec![true; n],
            });
            rng.jump();
            left -= n;
        }
        let mut sim = VecSim {
            kernel,
            parts,
            agents,
            threads: 1,
        };
        Sim::reset_all(&mut sim);
        sim
    }

    pub fn kernel(&self) -> &K {
        &self.kernel
    }

    fn for_parts(&mut self, f: impl Fn(&K, usize, &mut Part<K::Block>) + Sync + Send) {
        let kernel = &self.kernel;
        if self.threads > 1 && self.parts.len() > 1 {
            self.parts
                .par_iter_mut()
                .enumerate()
                .for_each(|(k, p)| f(kernel, k * BLOCK, p));
        } else {
            for (k, p) in self.parts.iter_mut().enumerate() {
                f(kernel, k * BLOCK, p);
            }
        }
    }

    fn check(&self, what: &'static str, data: &[f32], per_agent: usize) -> Result<(), SimError> {
        let expected = self.agents * per_agent;
        if data.len() != expected {
            return Err(SimError::Shape {
                what,
                expected,
                got: data.len(),
            });
        }
        if let Some(j) = data.iter().position(|x| !x.is_finite()) {
            return Err(SimError::NonFinite {
                what,
                agent: j / per_agent,
                value: data[j],
            });
        }
        Ok(())
    }
}

impl<K: Kernel> Sim for VecSim<K> {
    fn spec(&self) -> &'static TaskSpec {
        self.kernel.spec()
    }

    fn num_agents(&self) -> usize {
        self.agents
    }

    fn reset_all(&mut self) {
        self.for_parts(|k, _, p| {
            for i in 0..p.done.len() {
                k.reset(&mut p.block, i, &mut p.rng);
                p.done[i] = false;
            }
        });
    }

    fn reset_done(&mut self) {
        self.for_parts(|k, _, p| {
            for i in 0..p.done.len() {
                if p.done[i] {
                    k.reset(&mut p.block, i, &mut p.rng);
                    p.done[i] = false;
                }
            }
        });
    }

    fn reset_agents(&mut self, mask: &[bool]) -> Result<(), SimError> {
        if mask.len() != self.agents {
            return Err(SimError::Shape {
                what: "reset mask",
                expected: self.agents,
                got: mask.len(),
            });
        }
        // Block by block in agent order, each from its own generator: the same draws whatever
        // the number of threads.
        self.for_parts(|k, start, p| {
            for i in 0..p.done.len() {
                if mask[start + i] {
                    k.reset(&mut p.block, i, &mut p.rng);
                    p.done[i] = false;
                }
            }
        });
        Ok(())
    }

    fn set_obs(&mut self, obs: &[f32]) -> Result<(), SimError> {
        let d = self.spec().obs_dim;
        self.check("observation", obs, d)?;
        self.for_parts(|k, start, p| {
            for i in 0..p.done.len() {
                let row = &obs[(start + i) * d..(start + i + 1) * d];
                k.set_obs(&mut p.block, i, row);
                p.done[i] = false;
            }
        });
        Ok(())
    }

    fn observe(&self, obs: &mut [f32]) {
        let d = self.spec().obs_dim;
        assert_eq!(obs.len(), self.agents * d, "observation buffer size");
        for (p, out) in self.parts.iter().zip(obs.chunks_mut(BLOCK * d)) {
            self.kernel.observe(&p.block, out);
        }
    }

    fn step(&mut self, act: &[f32], reward: &mut [f32], done: &mut [bool]) -> Result<(), SimError> {
        self.check("action", act, self.spec().act_dim)?;
        if reward.len() != self.agents || done.len() != self.agents {
            return Err(SimError::Shape {
                what: "reward/done buffers",
                expected: self.agents,
                got: reward.len().min(done.len()),
            });
        }
        self.step_unchecked(act, reward, done);
        Ok(())
    }

    fn step_unchecked(&mut self, act: &[f32], reward: &mut [f32], done: &mut [bool]) {
        let a = self.spec().act_dim;
        let kernel = &self.kernel;
        let work = |(((p, act), reward), done): Chunk<K::Block>| {
            kernel.step(&mut p.block, act, reward, done);
            p.done.copy_from_slice(done);
        };
        if self.threads > 1 && self.parts.len() > 1 {
            self.parts
                .par_iter_mut()
                .zip(act.par_chunks(BLOCK * a))
                .zip(reward.par_chunks_mut(BLOCK))
                .zip(done.par_chunks_mut(BLOCK))
                .for_each(work);
        } else {
            self.parts
                .iter_mut()
                .zip(act.chunks(BLOCK * a))
                .zip(reward.chunks_mut(BLOCK))
                .zip(done.chunks_mut(BLOCK))
                .for_each(work);
        }
    }

    fn set_threads(&mut self, threads: usize) {
        self.threads = threads.max(1);
    }

    fn save(&self) -> SimState {
        SimState {
            task: self.spec().task,
            agents: self.agents,
            blob: serde_json::to_string(&self.parts).expect("simulator state serialises"),
        }
    }

    fn load(&mut self, state: &SimState) -> Result<(), String> {
        if state.task != self.spec().task || state.agents != self.agents {
            return Err(format!(
                "simulator state is for {} agents of {}, this simulator has {} agents of {}",
                state.agents,
                state.task,
                self.agents,
                self.spec().task
            ));
        }
        let parts: Vec<Part<K::Block>> =
            serde_json::from_str(&state.blob).map_err(|e| format!("simulator state: {e}"))?;
        if parts.len() != self.parts.len() {
            return Err("simulator state: wrong number of blocks".into());
        }
        self.parts = parts;
        Ok(())
    }
}
