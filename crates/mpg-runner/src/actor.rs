//! The Actor box of Fig. 2: a batched simulator driven by the current policy plus the
//! algorithm's exploration noise, producing transitions for the buffer (spec §4, D6).

use crate::buffer::TransitionSink;
use mpg_algos::fast::mlp::MlpCache;
use mpg_algos::{Algo, Nets};
use mpg_envs::{Rng, Sim, SimState, Task, TaskSpec};
use rand::Rng as _;
use rand_distr::StandardNormal;

/// An actor: its simulator, its generator (exploration noise, SAC's sampling), the noise std.
pub struct Actor {
    pub sim: Box<dyn Sim>,
    pub rng: Rng,
    spec: &'static TaskSpec,
    algo: Algo,
    sigma: f64,
    /// SAC's log σ clip (D14), as the learner applies it.
    log_std_clip: Option<(f64, f64)>,
    obs: Vec<f32>,
    /// The policy pass's buffers, reused across steps.
    cache: MlpCache,
}

impl Actor {
    pub fn new(
        sim: Box<dyn Sim>,
        rng: Rng,
        algo: Algo,
        sigma: f64,
        log_std_clip: Option<[f64; 2]>,
    ) -> Actor {
        let spec = sim.spec();
        let mut obs = vec![0.0; sim.num_agents() * spec.obs_dim];
        sim.observe(&mut obs);
        Actor {
            sim,
            rng,
            spec,
            algo,
            sigma,
            log_std_clip: log_std_clip.map(|[lo, hi]| (lo, hi)),
            obs,
            cache: MlpCache::default(),
        }
    }

    /// Behaviour actions for the current observations: the deterministic action plus
    /// N(0, σ²) per dimension, NOT clipped (spec §3.1); SAC samples its stochastic policy.
    fn behaviour(&mut self, nets: &Nets) -> Vec<f32> {
        let n = self.sim.num_agents();
        let s = mpg_algos::backend::scaled(self.spec, &self.obs);
        let mut act = if self.algo == Algo::Sac {
            let k = n * self.spec.act_dim;
            let eps: Vec<f32> = (0..k).map(|_| self.rng.sample(StandardNormal)).collect();
            let sample = nets
                .policy
                .sample(&s, &eps, self.log_std_clip, &mut self.cache);
            sample.act
        } else {
            nets.policy.act(&s, &mut self.cache)
        };
        if self.sigma > 0.0 {
            for a in &mut act {
                *a += (self.rng.sample::<f64, _>(StandardNormal) * self.sigma) as f32;
            }
        }
        act
    }

    /// Collect `count` transitions (a multiple of the agent count) into `buffer` (a replay
    /// buffer, or a chunk the async trainer sends to one); after each step the agents that
    /// reported done are reset (the authors' worker loop).
    pub fn collect(&mut self, nets: &Nets, buffer: &mut impl TransitionSink, count: usize) {
        let n = self.sim.num_agents();
        let (mut rew, mut done) = (vec![0.0; n], vec![false; n]);
        let mut next = vec![0.0; self.obs.len()];
        for _ in 0..count / n {
            let act = self.behaviour(nets);
            self.sim.step_unchecked(&act, &mut rew, &mut done);
            self.sim.observe(&mut next);
            buffer.push_many(&self.obs, &act, &rew, &next, &done);
            self.sim.reset_done();
            self.sim.observe(&mut self.obs);
        }
    }

    pub fn task(&self) -> Task {
        self.spec.task
    }

    pub fn save(&self) -> SimState {
        self.sim.save()
    }

    pub fn load(&mut self, state: &SimState) -> Result<(), String> {
        self.sim.load(state)?;
        self.sim.observe(&mut self.obs);
        Ok(())
    }
}
