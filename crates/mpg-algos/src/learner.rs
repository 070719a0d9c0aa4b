//! The Learner box of Fig. 2: given parameters, a batch and the iteration, return gradients.
//!
//! Applying them is the optimiser's job ([`crate::optimizer`]); the synchronous trainer calls
//! both in a row, the asynchronous one puts a queue between them. The variants of the six
//! algorithms are data ([`CriticTarget`], [`PolicyObjective`]) matched once here; each
//! algorithm's own math lives in its file.

use crate::config::{Algo, AlgoConfig, CriticChoice, CriticTarget, GradPath, PolicyObjective};
use crate::fast::mlp::FastMlp;
use crate::{fast, mpg, nadp, ndpg, sac, td3};
use mpg_envs::{Rng, Sim, Task, TaskSpec, Termination, make_sim};
use mpg_models::nets::{Init, Mlp, Policy, Squash, polyak, q_value};
use mpg_models::{ModelNoise, PriorModel, make_model};
use rand::SeedableRng;
use std::time::Instant;
use tch::{Kind, Tensor};

/// Every network of an algorithm: the policy, Q1, Q2 where used, and their targets.
#[derive(Debug)]
pub struct Nets {
    pub policy: Policy,
    pub q1: Mlp,
    pub q2: Option<Mlp>,
    pub policy_targ: Policy,
    pub q1_targ: Mlp,
    pub q2_targ: Option<Mlp>,
}

impl Nets {
    /// Fresh networks from the run's generator (D8, D9); targets start as copies.
    pub fn new(algo: Algo, task: Task, init: Init, squash: bool, rng: &mut Rng) -> Nets {
        let spec = task.spec();
        let squash = if algo == Algo::Sac && !squash {
            Squash::None
        } else {
            Squash::for_task(task)
        };
        let policy = Policy::new(spec.obs_dim, spec.act_dim, squash, init, rng);
        let q_in = spec.obs_dim + spec.act_dim;
        let q1 = Mlp::new(q_in, 1, init, rng);
        let q2 = algo.twin_critics().then(|| Mlp::new(q_in, 1, init, rng));
        Nets {
            policy_targ: Policy {
                net: policy.net.deep_copy(),
                act_dim: policy.act_dim,
                squash: policy.squash,
            },
            q1_targ: q1.deep_copy(),
            q2_targ: q2.as_ref().map(Mlp::deep_copy),
            policy,
            q1,
            q2,
        }
    }

    /// Every network in a fixed order (policy, q1, q2, policy', q1', q2').
    pub fn all(&self) -> Vec<&Mlp> {
        let mut v = vec![&self.policy.net, &self.q1];
        v.extend(self.q2.as_ref());
        v.extend([&self.policy_targ.net, &self.q1_targ]);
        v.extend(self.q2_targ.as_ref());
        v
    }

    /// Detached copies of every parameter, in [`Nets::all`] order: a snapshot that can move
    /// to another thread.
    pub fn snapshot(&self) -> Vec<Tensor> {
        self.all()
            .iter()
            .flat_map(|n| n.params())
            .map(|t| t.detach().copy())
            .collect()
    }

    /// Overwrite every parameter from a [`Nets::snapshot`].
    pub fn load(&self, values: &[Tensor]) {
        let mut k = 0;
        for net in self.all() {
            let n = net.params().len();
            net.load_values(&values[k..k + n]);
            k += n;
        }
        assert_eq!(k, values.len(), "snapshot of other networks");
    }

    /// Soft target updates of every target network in use (spec §3.1).
    pub fn update_targets(&self, tau: f64) {
        polyak(&self.policy_targ.net, &self.policy.net, tau);
        polyak(&self.q1_targ, &self.q1, tau);
        if let (Some(t), Some(s)) = (&self.q2_targ, &self.q2) {
            polyak(t, s, tau);
        }
    }
}

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

/// What one gradient computation reports (columns of `train.csv`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GradStats {
    /// The iteration the parameters were taken at (for staleness).
    pub version: u64,
    pub q_loss: f64,
    pub policy_loss: Option<f64>,
    pub w_data: Option<f64>,
    pub w_model: Option<f64>,
    /// Global norms before clipping.
    pub q1_norm: f64,
    pub q2_norm: Option<f64>,
    pub policy_norm: Option<f64>,
    pub q_grad_ms: f64,
    pub pg_ms: Option<f64>,
}

/// Gradients with one named field per network (parameters in [`Mlp::params`] order), clipped.
#[derive(Debug)]
pub struct Grads {
    pub q1: Vec<Tensor>,
    pub q2: Option<Vec<Tensor>>,
    pub policy: Option<Vec<Tensor>>,
    pub stats: GradStats,
}

/// tf.clip_by_global_norm: g · c / max(‖g‖, c). Returns the clipped gradients and ‖g‖.
pub fn clip_by_global_norm(grads: Vec<Tensor>, clip: f64) -> (Vec<Tensor>, f64) {
    let norm = grads
        .iter()
        .map(|g| f64::try_from(g.square().sum(Kind::Double)).unwrap())
        .sum::<f64>()
        .sqrt();
    let factor = clip / norm.max(clip);
    let clipped = if norm.is_finite() && factor < 1.0 {
        grads.iter().map(|g| g * factor).collect()
    } else {
        grads
    };
    (clipped, norm)
}

/// Gradients of `loss` with respect to `params`.
pub fn grad_of(loss: &Tensor, params: &[Tensor]) -> Vec<Tensor> {
    Tensor::run_backward(&[loss], params, false, false)
}

/// Half mean squared error of spec §3.1: 0.5·mean((Q(s, a) − y)²).
pub fn q_loss(q: &Tensor, y: &Tensor) -> Tensor {
    (q - y).square().mean(Kind::Float) * 0.5
}

/// Everything a learner needs besides the parameters: the task's preprocessing, the prior
/// model, a true simulator for n-step targets, its own generator (D8), the reused batch.
pub struct Learner {
    pub algo: Algo,
    pub cfg: AlgoConfig,
    spec: &'static TaskSpec,
    obs_scale: Tensor,
    model: Box<dyn PriorModel>,
    noise: ModelNoise,
    sim: Option<Box<dyn Sim>>,
    rng: Rng,
    calls: u64,
    cache: Option<(Batch, Tensor)>,
    termination: Termination,
    /// The fast path's buffers, reused across calls (no state between calls).
    fast_ws: fast::Workspace,
    /// The model-free fast path's buffers (critic gradients, policy gradients), likewise.
    critic_ws: fast::critic::Workspace,
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
            obs_scale: Tensor::from_slice(spec.obs_scale),
            model: make_model(task),
            noise: ModelNoise {
                mean: cfg.model_noise[0],
                std: cfg.model_noise[1],
            },
            sim,
            rng: Rng::seed_from_u64(seed),
            calls: 0,
            cache: None,
            termination: Termination::Paper,
            fast_ws: fast::Workspace::default(),
            critic_ws: fast::critic::Workspace::default(),
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

    /// The network input: observation ⊙ the task's scale (spec §1.10, §2.4).
    pub fn scale(&self, obs: &Tensor) -> Tensor {
        obs * &self.obs_scale
    }

    /// Training reward (r + shift)·scale (spec §1.10, §2.4, D19).
    pub fn train_reward(&self, r: &Tensor) -> Tensor {
        (r + self.spec.reward_shift as f64) * self.spec.reward_scale as f64
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

    /// The reused batch and its targets, `[obs, act, rew, next_obs, done, y]`, for checkpoints
    /// taken between two reuse boundaries.
    pub fn cached(&self) -> Option<Vec<Tensor>> {
        self.cache.as_ref().map(|(b, y)| {
            [&b.obs, &b.act, &b.rew, &b.next_obs, &b.done, y]
                .iter()
                .map(|t| t.detach().copy())
                .collect()
        })
    }

    /// Restore the call count and the reused batch of [`Learner::cached`].
    pub fn restore(&mut self, calls: u64, cache: Option<Vec<Tensor>>) {
        self.calls = calls;
        self.cache = cache.map(|t| {
            let b = Batch {
                obs: t[0].shallow_clone(),
                act: t[1].shallow_clone(),
                rew: t[2].shallow_clone(),
                next_obs: t[3].shallow_clone(),
                done: t[4].shallow_clone(),
            };
            (b, t[5].shallow_clone())
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
        if self.cache.is_none() || self.calls % self.cfg.batch_reuse.max(1) == 0 {
            let y = tch::no_grad(|| self.critic_target(nets, batch));
            self.cache = Some((batch.shallow_clone(), y));
        }
        self.calls += 1;
        let (batch, y) = {
            let (b, y) = self.cache.as_ref().unwrap();
            (b.shallow_clone(), y.shallow_clone())
        };
        let (q1, q1_norm, q2, q2_norm, q_loss_total) = if self.cfg.path == GradPath::Fast {
            self.fast_critic_grads(nets, &batch, &y)
        } else {
            let s = self.scale(&batch.obs);
            let q1_loss = q_loss(&q_value(&nets.q1, &s, &batch.act), &y);
            let (q1, q1_norm) =
                clip_by_global_norm(grad_of(&q1_loss, &nets.q1.params()), self.cfg.grad_clip);
            let mut q_loss_total = f64::try_from(&q1_loss).unwrap();
            let (q2, q2_norm) = match &nets.q2 {
                Some(q2net) => {
                    let l = q_loss(&q_value(q2net, &s, &batch.act), &y);
                    q_loss_total += f64::try_from(&l).unwrap();
                    let (g, n) =
                        clip_by_global_norm(grad_of(&l, &q2net.params()), self.cfg.grad_clip);
                    (Some(g), Some(n))
                }
                None => (None, None),
            };
            (q1, q1_norm, q2, q2_norm, q_loss_total)
        };
        let q_grad_ms = t0.elapsed().as_secs_f64() * 1e3;
        let mut stats = GradStats {
            version: iteration,
            q_loss: q_loss_total,
            q1_norm,
            q2_norm,
            q_grad_ms,
            ..GradStats::default()
        };
        let policy = need_policy.then(|| {
            let t1 = Instant::now();
            let (loss, g) = self.policy_grad(nets, &batch.obs, iteration, &mut stats);
            stats.policy_loss = Some(loss);
            let (g, n) = clip_by_global_norm(g, self.cfg.grad_clip);
            stats.policy_norm = Some(n);
            stats.pg_ms = Some(t1.elapsed().as_secs_f64() * 1e3);
            g
        });
        Grads {
            q1,
            q2,
            policy,
            stats,
        }
    }

    /// The critic's regression target y (spec §3.4–3.8), without gradient.
    pub fn critic_target(&mut self, nets: &Nets, b: &Batch) -> Tensor {
        if self.cfg.path == GradPath::Fast
            && let Some(y) = self.fast_one_step_target(nets, b)
        {
            return y;
        }
        let cfg = self.cfg.clone();
        let not_done = if cfg.mask_terminal {
            1.0 - &b.done
        } else {
            b.done.ones_like()
        };
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
                    nets,
                    b,
                    cfg.horizon,
                    cfg.gamma,
                    self.spec,
                    cfg.bootstrap_clip,
                    cfg.mask_terminal,
                )
            }
            CriticTarget::ModelRollout => {
                let noises = self.draw_noises(b.len());
                if cfg.path == GradPath::Fast {
                    return self.fast_model_target(nets, b, &noises);
                }
                nadp::model_nstep_target(
                    self.model.as_ref(),
                    nets,
                    b,
                    &noises,
                    cfg.gamma,
                    self.spec,
                )
            }
            CriticTarget::ClippedDoubleQ { smoothing } => {
                let s2 = self.scale(&b.next_obs);
                let mut a2 = nets.policy_targ.act(&s2);
                if smoothing {
                    let eps = self.normals(&a2);
                    a2 = td3::smoothed_action(&a2, &eps, cfg.target_noise, cfg.target_noise_clip);
                }
                let q2_targ = nets.q2_targ.as_ref().expect("clipped double-Q needs Q2'");
                td3::clipped_double_q_target(
                    &self.train_reward(&b.rew),
                    &q_value(&nets.q1_targ, &s2, &a2),
                    &q_value(q2_targ, &s2, &a2),
                    &not_done,
                    cfg.gamma,
                )
            }
            CriticTarget::Soft => {
                let s2 = self.scale(&b.next_obs);
                let eps = self.normals(&nets.policy.act(&s2));
                let log_std_clip = cfg.log_std_clip.map(|[a, b]| (a, b));
                let (a2, logp2) = nets.policy.sample(&s2, &eps, log_std_clip);
                let q2_targ = nets.q2_targ.as_ref().expect("SAC needs Q2'");
                sac::soft_target(
                    &self.train_reward(&b.rew),
                    &q_value(&nets.q1_targ, &s2, &a2),
                    &q_value(q2_targ, &s2, &a2),
                    &logp2,
                    &not_done,
                    cfg.gamma,
                    cfg.alpha,
                )
            }
        }
    }

    /// The policy's loss (to be minimised) and its gradient, unclipped, in [`Mlp::params`] order
    /// (spec §3.2, §3.6–3.8). One arm per objective; an arm either builds the tch loss and
    /// differentiates it by autograd (the reference) or, with `path = fast`, calls the fast
    /// kernels ([`crate::fast`]). Both draw the same random numbers from the learner's
    /// generator in the same order (D8), so the two paths see the same randomness.
    pub fn policy_grad(
        &mut self,
        nets: &Nets,
        obs: &Tensor,
        iteration: u64,
        stats: &mut GradStats,
    ) -> (f64, Vec<Tensor>) {
        let fast = self.cfg.path == GradPath::Fast;
        let params = nets.policy.net.params();
        let autograd = |loss: Tensor| (f64::try_from(&loss).unwrap(), grad_of(&loss, &params));
        let s = self.scale(obs);
        let min_q = |s: &Tensor, a: &Tensor| {
            let q1 = q_value(&nets.q1, s, a);
            match &nets.q2 {
                Some(q2) => q1.minimum(&q_value(q2, s, a)),
                None => q1,
            }
        };
        let batch = obs.size()[0] as usize;
        match self.algo.policy_objective() {
            PolicyObjective::Mixed => {
                let (w_data, w_model) = crate::weights::rule_based_weights(
                    iteration,
                    self.cfg.weight_total_ite,
                    self.cfg.eta,
                    self.cfg.horizon,
                    self.cfg.weight_rule,
                );
                stats.w_data = Some(w_data);
                stats.w_model = Some(w_model);
                let noises = self.draw_noises(batch);
                let full_bptt = self.cfg.deriv_interval_policy;
                if fast {
                    // D2: min(Q1, Q2), or Q1 alone (MPG-v1 trains Q1 only).
                    let q2 = match self.cfg.critic {
                        CriticChoice::Min => nets.q2.as_ref(),
                        CriticChoice::Q1 => None,
                    };
                    return self
                        .fast_model_grad(nets, q2, obs, &noises, w_data, w_model, full_bptt);
                }
                // D2: the critic of every return term (MPG-v1 trains Q1 only).
                let q = |s: &Tensor, a: &Tensor| match self.cfg.critic {
                    CriticChoice::Min => min_q(s, a),
                    CriticChoice::Q1 => q_value(&nets.q1, s, a),
                };
                let terms = mpg::Returns {
                    model: self.model.as_ref(),
                    policy: &nets.policy,
                    obs_scale: &self.obs_scale,
                    q: &q,
                    gamma: self.cfg.gamma,
                    reward_scale: self.spec.reward_scale as f64,
                    reward_shift: self.spec.reward_shift as f64,
                };
                autograd(mpg::mixed_policy_loss(
                    &terms, obs, &noises, w_data, w_model, full_bptt,
                ))
            }
            PolicyObjective::Q1 | PolicyObjective::MinQ if fast => {
                // Q1 (n-step DPG), or min(Q1, Q2) wherever Q2 exists (TD3), as `min_q`.
                let q2 = match self.algo.policy_objective() {
                    PolicyObjective::MinQ => nets.q2.as_ref(),
                    _ => None,
                };
                self.fast_actor_grad(nets, q2, obs, None)
            }
            PolicyObjective::Soft if fast => {
                let eps = self.normal_values(batch * nets.policy.act_dim);
                self.fast_actor_grad(nets, nets.q2.as_ref(), obs, Some(&eps))
            }
            PolicyObjective::Q1 => autograd(ndpg::dpg_policy_loss(&q_value(
                &nets.q1,
                &s,
                &nets.policy.act(&s),
            ))),
            PolicyObjective::MinQ => {
                autograd(td3::min_q_policy_loss(&min_q(&s, &nets.policy.act(&s))))
            }
            PolicyObjective::ModelBptt => {
                let noises = self.draw_noises(batch);
                if fast {
                    // The model return alone (w_data = 0, w_model = 1), critic Q1, every
                    // action from the trained policy (spec §3.7).
                    return self.fast_model_grad(nets, None, obs, &noises, 0.0, 1.0, true);
                }
                autograd(nadp::bptt_policy_loss(
                    self.model.as_ref(),
                    nets,
                    obs,
                    &noises,
                    self.cfg.gamma,
                    self.spec,
                ))
            }
            PolicyObjective::Soft => {
                let eps = self.normals(&nets.policy.act(&s).detach());
                let log_std_clip = self.cfg.log_std_clip.map(|[a, b]| (a, b));
                let (a, logp) = nets.policy.sample(&s, &eps, log_std_clip);
                autograd(sac::soft_policy_loss(&min_q(&s, &a), &logp, self.cfg.alpha))
            }
        }
    }

    /// The fast path of the model-based objectives ([`fast::rollout`]): critic Q1, or
    /// min(Q1, `q2`) when given; θ's gradient at a₀ only or, with `full_bptt`, at every step.
    #[allow(clippy::too_many_arguments)]
    fn fast_model_grad(
        &mut self,
        nets: &Nets,
        q2: Option<&Mlp>,
        obs: &Tensor,
        noises: &[Tensor],
        w_data: f64,
        w_model: f64,
        full_bptt: bool,
    ) -> (f64, Vec<Tensor>) {
        let act_range = act_range(&nets.policy);
        let policy = FastMlp::from_mlp(&nets.policy.net);
        let q1 = FastMlp::from_mlp(&nets.q1);
        let q2 = q2.map(FastMlp::from_mlp);
        let noises: Vec<Vec<f32>> = noises.iter().map(fast::values).collect();
        let obj = self.fast_objective(act_range, w_data, w_model, full_bptt);
        let critic = fast::Critic {
            q1: &q1,
            q2: q2.as_ref(),
        };
        // As many threads as libtorch's intra-op setting (the run's `threads`): a config
        // value, so a run stays deterministic and resumes exactly.
        let threads = tch::get_num_threads().max(1) as usize;
        let g = fast::task_policy_grad(
            self.spec.task,
            &mut self.fast_ws,
            threads,
            &policy,
            critic,
            &fast::values(obs),
            &noises,
            &obj,
        );
        (
            g.loss,
            fast::to_tensors(&g.grads, &nets.policy.net.params()),
        )
    }

    /// The model-based kernels' objective with this learner's γ and task preprocessing.
    fn fast_objective(
        &self,
        act_range: f32,
        w_data: f64,
        w_model: f64,
        full_bptt: bool,
    ) -> fast::Objective<'static> {
        fast::Objective {
            gamma: self.cfg.gamma,
            w_data,
            w_model,
            full_bptt,
            obs_scale: self.spec.obs_scale,
            reward_scale: self.spec.reward_scale as f64,
            reward_shift: self.spec.reward_shift as f64,
            act_range,
        }
    }

    /// The fast path's n-step ADP target ([`fast::model_target`]): the target Q1 at the end,
    /// the stored action first, the current policy after (spec §3.7).
    fn fast_model_target(&mut self, nets: &Nets, b: &Batch, noises: &[Tensor]) -> Tensor {
        let obj = self.fast_objective(act_range(&nets.policy), 0.0, 1.0, false);
        let noises: Vec<Vec<f32>> = noises.iter().map(fast::values).collect();
        // The run's `threads`, as the policy gradient's (a config value: deterministic).
        let threads = tch::get_num_threads().max(1) as usize;
        let y = fast::task_model_target(
            self.spec.task,
            &mut self.fast_ws,
            threads,
            &FastMlp::from_mlp(&nets.policy.net),
            &FastMlp::from_mlp(&nets.q1_targ),
            &fast::values(&b.obs),
            &fast::values(&b.act),
            &noises,
            &obj,
        );
        Tensor::from_slice(&y)
    }

    /// H model-noise draws of `[batch]` each, from the learner's generator (D8).
    fn draw_noises(&mut self, batch: usize) -> Vec<Tensor> {
        (0..self.cfg.horizon)
            .map(|_| self.noise.draw(&mut self.rng, batch, Kind::Float))
            .collect()
    }

    /// Standard normals shaped like `like`, from the learner's generator (D8).
    fn normals(&mut self, like: &Tensor) -> Tensor {
        Tensor::from_slice(&self.normal_values(like.numel())).reshape(like.size())
    }

    /// `n` standard normals from the learner's generator (D8), as [`Learner::normals`] draws
    /// them: the fast and the reference path see the same values.
    fn normal_values(&mut self, n: usize) -> Vec<f32> {
        use rand::Rng as _;
        (0..n)
            .map(|_| self.rng.sample::<f32, _>(rand_distr::StandardNormal))
            .collect()
    }

    /// Observations ⊙ the task's scale (spec §1.10, §2.4) as row-major f32 values, the
    /// product in f32 as [`Learner::scale`].
    fn scaled_values(&self, obs: &Tensor) -> Vec<f32> {
        let scale = self.spec.obs_scale;
        let mut v = fast::values(obs);
        for row in v.chunks_exact_mut(scale.len()) {
            row.iter_mut().zip(scale).for_each(|(x, &c)| *x *= c);
        }
        v
    }

    /// The fast path's one-step critic targets (TD3 and MPG-v2's clipped double Q, SAC's soft
    /// target; [`fast::critic`]), drawing the same normals as the reference (D8). `None` for
    /// the n-step targets, which stay on the reference.
    fn fast_one_step_target(&mut self, nets: &Nets, b: &Batch) -> Option<Tensor> {
        let smoothing = match self.algo.critic_target() {
            CriticTarget::ClippedDoubleQ { smoothing } => Some(smoothing),
            CriticTarget::Soft => None,
            CriticTarget::EnvRollout | CriticTarget::ModelRollout => return None,
        };
        let n = b.len();
        let shift = self.spec.reward_shift as f64;
        let scale = self.spec.reward_scale as f64;
        // (r + shift)·scale in f32, as [`Learner::train_reward`].
        let reward: Vec<f32> = fast::values(&b.rew)
            .iter()
            .map(|&r| (r + shift as f32) * scale as f32)
            .collect();
        let not_done: Vec<f32> = if self.cfg.mask_terminal {
            fast::values(&b.done).iter().map(|&d| 1.0 - d).collect()
        } else {
            vec![1.0; n]
        };
        let next_scaled = self.scaled_values(&b.next_obs);
        let t = fast::critic::Transition {
            next_scaled: &next_scaled,
            reward: &reward,
            not_done: &not_done,
        };
        let q2_targ = nets.q2_targ.as_ref().expect("a one-step target needs Q2'");
        let (q1_targ, q2_targ) = (FastMlp::from_mlp(&nets.q1_targ), FastMlp::from_mlp(q2_targ));
        let eps_len = n * nets.policy.act_dim;
        // TD3 / MPG-v2 act with π′, SAC with the CURRENT policy (spec §3.8).
        let policy = match smoothing {
            Some(_) => &nets.policy_targ,
            None => &nets.policy,
        };
        let policy_values = FastMlp::from_mlp(&policy.net);
        let target_nets = fast::critic::TargetNets {
            policy: &policy_values,
            squash: policy.squash,
            q1_targ: &q1_targ,
            q2_targ: &q2_targ,
        };
        let (gamma, alpha) = (self.cfg.gamma, self.cfg.alpha);
        let y = match smoothing {
            Some(smoothing) => {
                let eps = smoothing.then(|| self.normal_values(eps_len));
                let smoothing = eps
                    .as_deref()
                    .map(|e| (e, self.cfg.target_noise, self.cfg.target_noise_clip));
                let ws = &mut self.critic_ws;
                fast::critic::clipped_double_q_target(ws, &target_nets, &t, smoothing, gamma)
            }
            None => {
                let eps = self.normal_values(eps_len);
                let log_std_clip = self.cfg.log_std_clip.map(|[a, b]| (a, b));
                let ws = &mut self.critic_ws;
                fast::critic::soft_target(ws, &target_nets, &t, &eps, log_std_clip, gamma, alpha)
            }
        };
        Some(Tensor::from_slice(&y))
    }

    /// The fast path's critic gradients ([`fast::critic::q_loss_grad`]), clipped: (Q1's
    /// gradient, its norm, Q2's, its norm, the summed loss).
    #[allow(clippy::type_complexity)]
    fn fast_critic_grads(
        &mut self,
        nets: &Nets,
        batch: &Batch,
        y: &Tensor,
    ) -> (Vec<Tensor>, f64, Option<Vec<Tensor>>, Option<f64>, f64) {
        let spec = self.spec;
        let s = self.scaled_values(&batch.obs);
        let x = fast::critic::q_input(&s, &fast::values(&batch.act), spec.obs_dim, spec.act_dim);
        let y = fast::values(y);
        let clip = self.cfg.grad_clip;
        let grad = |q: &FastMlp, cache: &mut fast::mlp::MlpCache| {
            let mut g = fast::critic::q_loss_grad(q, &x, &y, cache);
            let norm = fast::critic::clip_by_global_norm(&mut g.grads, clip);
            (g, norm)
        };
        let q1f = FastMlp::from_mlp(&nets.q1);
        let q2f = nets.q2.as_ref().map(FastMlp::from_mlp);
        let fast::critic::Workspace { q1: c1, q2: c2, .. } = &mut self.critic_ws;
        // With more than one intra-op thread the twin critics' gradients run side by side:
        // two independent computations, the same results either way.
        let ((g1, q1_norm), second) = match &q2f {
            Some(q2f) if tch::get_num_threads() > 1 => std::thread::scope(|sc| {
                let h = sc.spawn(|| grad(q2f, c2));
                let first = grad(&q1f, c1);
                (first, Some(h.join().expect("the Q2 gradient's thread")))
            }),
            Some(q2f) => (grad(&q1f, c1), Some(grad(q2f, c2))),
            None => (grad(&q1f, c1), None),
        };
        let q1 = fast::to_tensors(&g1.grads, &nets.q1.params());
        let mut loss = g1.loss;
        let (q2, q2_norm) = match (second, &nets.q2) {
            (Some((g2, norm)), Some(net)) => {
                loss += g2.loss;
                (Some(fast::to_tensors(&g2.grads, &net.params())), Some(norm))
            }
            _ => (None, None),
        };
        (q1, q1_norm, q2, q2_norm, loss)
    }

    /// The fast path of the model-free objectives ([`fast::actor`]): −mean Q1 or
    /// −mean min(Q1, `q2`) with `eps` absent, SAC's soft loss with its ε given.
    fn fast_actor_grad(
        &mut self,
        nets: &Nets,
        q2: Option<&Mlp>,
        obs: &Tensor,
        eps: Option<&[f32]>,
    ) -> (f64, Vec<Tensor>) {
        let policy = FastMlp::from_mlp(&nets.policy.net);
        let q1 = FastMlp::from_mlp(&nets.q1);
        let q2 = q2.map(FastMlp::from_mlp);
        let mut critics = vec![&q1];
        critics.extend(q2.as_ref());
        let objective = match eps {
            None => fast::actor::Objective::Deterministic,
            Some(eps) => fast::actor::Objective::Soft {
                eps,
                alpha: self.cfg.alpha,
                log_std_clip: self.cfg.log_std_clip.map(|[a, b]| (a, b)),
            },
        };
        let s = self.scaled_values(obs);
        let g = fast::actor::policy_grad_in(
            &mut self.critic_ws.actor,
            &policy,
            nets.policy.squash,
            &critics,
            &s,
            objective,
        );
        (
            g.loss,
            fast::to_tensors(&g.grads, &nets.policy.net.params()),
        )
    }
}

/// The action is `act_range`·tanh(mean) (`Squash`); the model-based kernels need a squashed
/// policy.
fn act_range(policy: &Policy) -> f32 {
    match policy.squash {
        Squash::Tanh => 1.0,
        Squash::ScaledTanh(range) => range as f32,
        Squash::None => panic!("the model-based objectives need a squashed policy"),
    }
}
