//! The Learner box of Fig. 2: given parameters, a batch and the iteration, return gradients.
//!
//! Applying them is the optimiser's job ([`crate::optimizer`]); the synchronous trainer calls
//! both in a row, the asynchronous one puts a queue between them. The variants of the six
//! algorithms are data ([`CriticTarget`], [`PolicyObjective`]) matched once here; each
//! algorithm's own math lives in its file.

use crate::backend::{self, Backend, DpgCritic, Setting};
use crate::batch::Batch;
use crate::config::{Algo, AlgoConfig, CriticChoice, CriticTarget, PolicyObjective};
use crate::grads::{GradStats, Grads, ParamGrads, clip_by_global_norm};
use crate::ndpg;
use crate::nets::Nets;
use mpg_envs::{Rng, Sim, Task, TaskSpec, Termination, make_sim};
use mpg_models::ModelNoise;
use rand::SeedableRng;
use std::time::Instant;
use tch::Tensor;

/// Everything a learner needs besides the parameters: the task's preprocessing, a true
/// simulator for n-step targets, its own generator (D8), the reused batch, and the backend
/// (`learner.path`) that computes the targets and gradients.
pub struct Learner {
    pub algo: Algo,
    pub cfg: AlgoConfig,
    spec: &'static TaskSpec,
    noise: ModelNoise,
    sim: Option<Box<dyn Sim>>,
    rng: Rng,
    calls: u64,
    cache: Option<(Batch, Vec<f32>)>,
    termination: Termination,
    backend: Box<dyn Backend>,
}

impl Learner {
    /// A learner whose randomness (model noise, TD3 smoothing, SAC sampling) comes from `seed`.
    pub fn new(algo: Algo, task: Task, cfg: AlgoConfig, seed: u64) -> Learner {
        let spec = task.spec();
        let sim = (algo.critic_target() == CriticTarget::EnvRollout)
            .then(|| make_sim(task, cfg.batch_size, seed ^ 0x5157, Termination::Paper));
        Learner {
            algo,
            spec,
            noise: ModelNoise {
                mean: cfg.model_noise[0],
                std: cfg.model_noise[1],
            },
            sim,
            rng: Rng::seed_from_u64(seed),
            calls: 0,
            cache: None,
            termination: Termination::Paper,
            backend: backend::for_path(cfg.path, spec),
            cfg,
        }
    }

    /// The termination rule of the learner's simulator (D1), whose `done` flags the n-step
    /// targets read under D17 `mask_terminal`; `paper` unless set.
    pub fn set_termination(&mut self, termination: Termination) {
        self.termination = termination;
        if let Some(sim) = self.sim.as_mut() {
            *sim = make_sim(self.spec.task, sim.num_agents(), 0x5157, termination);
        }
    }

    /// The generator's state, for checkpoints (D8).
    pub fn rng(&self) -> &Rng {
        &self.rng
    }

    pub fn set_rng(&mut self, rng: Rng) {
        self.rng = rng;
    }

    /// Gradient computations so far (drives batch reuse); restored on resume.
    pub fn calls(&self) -> u64 {
        self.calls
    }

    /// The reused batch and its targets as tensors, `[obs, act, rew, next_obs, done, y]`, for
    /// checkpoints taken between two reuse boundaries.
    pub fn cached(&self) -> Option<Vec<Tensor>> {
        self.cache.as_ref().map(|(b, y)| {
            let t = b.tch();
            vec![
                t.obs,
                t.act,
                t.rew,
                t.next_obs,
                t.done,
                Tensor::from_slice(y),
            ]
        })
    }

    /// Restore the call count and the reused batch of [`Learner::cached`].
    pub fn restore(&mut self, calls: u64, cache: Option<Vec<Tensor>>) {
        self.calls = calls;
        self.cache = cache.map(|t| {
            let b = Batch::from_tch(&crate::batch::TchBatch {
                obs: t[0].shallow_clone(),
                act: t[1].shallow_clone(),
                rew: t[2].shallow_clone(),
                next_obs: t[3].shallow_clone(),
                done: t[4].shallow_clone(),
            });
            (b, crate::fast::values(&t[5]))
        });
    }

    /// One gradient computation. The policy gradient is skipped when `need_policy` is false
    /// (the synchronous trainer's iterations where the delayed update would not apply it).
    pub fn compute(
        &mut self,
        nets: &Nets,
        batch: &Batch,
        iteration: u64,
        need_policy: bool,
    ) -> Grads {
        let t0 = Instant::now();
        // Batch reuse (spec §3.4): targets are recomputed every `batch_reuse`-th call only.
        if self.cache.is_none() || self.calls.is_multiple_of(self.cfg.batch_reuse.max(1)) {
            let y = self.critic_target(nets, batch);
            match &mut self.cache {
                // The buffers of the last batch are reused.
                Some((b, old_y)) => {
                    b.clone_from(batch);
                    *old_y = y;
                }
                None => self.cache = Some((batch.clone(), y)),
            }
        }
        self.calls += 1;
        let (batch, y) = self.cache.take().expect("a batch is cached");
        let setting = Setting {
            spec: self.spec,
            cfg: &self.cfg,
        };
        let ((l1, mut g1), second) = self.backend.critic_grads(setting, nets, &batch, &y);
        let clip = self.cfg.grad_clip;
        let q1_norm = clip_by_global_norm(&mut g1, clip);
        let mut q_loss = l1;
        let (q2, q2_norm) = match second {
            Some((l2, mut g2)) => {
                q_loss += l2;
                let n = clip_by_global_norm(&mut g2, clip);
                (Some(g2), Some(n))
            }
            None => (None, None),
        };
        let mut stats = GradStats {
            version: iteration,
            q_loss,
            q1_norm,
            q2_norm,
            q_grad_ms: t0.elapsed().as_secs_f64() * 1e3,
            ..GradStats::default()
        };
        let policy = need_policy.then(|| {
            let t1 = Instant::now();
            let (loss, mut g) = self.policy_grad(nets, &batch.obs, iteration, &mut stats);
            stats.policy_loss = Some(loss);
            stats.policy_norm = Some(clip_by_global_norm(&mut g, clip));
            stats.pg_ms = Some(t1.elapsed().as_secs_f64() * 1e3);
            g
        });
        self.cache = Some((batch, y));
        Grads {
            q1: g1,
            q2,
            policy,
            stats,
        }
    }

    /// The critic's regression target y (spec §3.4–3.8), without gradient: one arm per
    /// target, each drawing its random numbers from the learner's generator (D8) and calling
    /// the backend, so the fast and the reference path see the same randomness.
    pub fn critic_target(&mut self, nets: &Nets, b: &Batch) -> Vec<f32> {
        let setting = Setting {
            spec: self.spec,
            cfg: &self.cfg,
        };
        let cfg = &self.cfg;
        let eps_len = b.len() * nets.policy.act_dim;
        match self.algo.critic_target() {
            CriticTarget::EnvRollout => {
                let sim = self
                    .sim
                    .as_mut()
                    .expect("a learner with an env-rollout target owns a simulator");
                if sim.num_agents() != b.len() {
                    *sim = make_sim(self.spec.task, b.len(), 0x5157, self.termination);
                }
                ndpg::env_nstep_target(
                    sim.as_mut(),
                    self.backend.env_rollout_nets(nets).as_mut(),
                    b,
                    cfg.horizon,
                    cfg.gamma,
                    self.spec,
                    cfg.bootstrap_clip,
                    cfg.mask_terminal,
                )
            }
            CriticTarget::ModelRollout => {
                let noises = draw_noises(&mut self.rng, self.noise, cfg.horizon, b.len());
                self.backend.model_target(setting, nets, b, &noises)
            }
            CriticTarget::ClippedDoubleQ { smoothing } => {
                let eps = smoothing.then(|| normals(&mut self.rng, eps_len));
                (self.backend).clipped_double_q_target(setting, nets, b, eps.as_deref())
            }
            CriticTarget::Soft => {
                let eps = normals(&mut self.rng, eps_len);
                self.backend.soft_target(setting, nets, b, &eps)
            }
        }
    }

    /// The policy's loss (to be minimised) and its gradient, unclipped, in
    /// [`crate::fast::mlp::FastMlp::params`] order (spec §3.2, §3.6–3.8): one arm per
    /// objective, each drawing its random numbers (D8) and calling the backend. `obs` holds
    /// the raw observations `[B, obs_dim]`.
    pub fn policy_grad(
        &mut self,
        nets: &Nets,
        obs: &[f32],
        iteration: u64,
        stats: &mut GradStats,
    ) -> (f64, ParamGrads) {
        let setting = Setting {
            spec: self.spec,
            cfg: &self.cfg,
        };
        let cfg = &self.cfg;
        let batch = obs.len() / self.spec.obs_dim;
        let backend = self.backend.as_mut();
        match self.algo.policy_objective() {
            PolicyObjective::Mixed => {
                let (w_data, w_model) = crate::weights::rule_based_weights(
                    iteration,
                    cfg.weight_total_ite,
                    cfg.eta,
                    cfg.horizon,
                    cfg.weight_rule,
                );
                stats.w_data = Some(w_data);
                stats.w_model = Some(w_model);
                let noises = draw_noises(&mut self.rng, self.noise, cfg.horizon, batch);
                // D2: min(Q1, Q2) in every return term, or Q1 alone (MPG-v1 trains Q1 only).
                let use_q2 = cfg.critic == CriticChoice::Min;
                let full_bptt = cfg.deriv_interval_policy;
                backend.mixed_grad(
                    setting, nets, obs, &noises, use_q2, w_data, w_model, full_bptt,
                )
            }
            PolicyObjective::Q1 => backend.dpg_grad(setting, nets, obs, DpgCritic::Q1),
            // min(Q1, Q2) wherever Q2 exists (TD3).
            PolicyObjective::MinQ => backend.dpg_grad(setting, nets, obs, DpgCritic::MinQ),
            PolicyObjective::ModelBptt => {
                let noises = draw_noises(&mut self.rng, self.noise, cfg.horizon, batch);
                backend.model_bptt_grad(setting, nets, obs, &noises)
            }
            PolicyObjective::Soft => {
                let eps = normals(&mut self.rng, batch * nets.policy.act_dim);
                backend.soft_grad(setting, nets, obs, &eps)
            }
        }
    }
}

/// H model-noise draws of `[batch]` each from the learner's generator (D8): mean + std·z in
/// f64, rounded to f32, as [`ModelNoise::draw`] makes them (no draw at all with std 0).
fn draw_noises(rng: &mut Rng, noise: ModelNoise, horizon: usize, batch: usize) -> Vec<Vec<f32>> {
    use rand::Rng as _;
    (0..horizon)
        .map(|_| {
            if noise.std == 0.0 {
                vec![noise.mean as f32; batch]
            } else {
                (0..batch)
                    .map(|_| {
                        let z: f64 = rng.sample(rand_distr::StandardNormal);
                        (noise.mean + noise.std * z) as f32
                    })
                    .collect()
            }
        })
        .collect()
}

/// `n` standard normals from the learner's generator (D8).
fn normals(rng: &mut Rng, n: usize) -> Vec<f32> {
    use rand::Rng as _;
    (0..n)
        .map(|_| rng.sample::<f32, _>(rand_distr::StandardNormal))
        .collect()
}
