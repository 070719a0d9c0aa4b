//! The plain-Rust backend (`learner.path = "fast"`): the kernels of [`crate::fast`] on the
//! networks' own parameters, no libtorch call on a training step.

use super::{Backend, CriticGrad, DpgCritic, Setting, scaled};
use crate::batch::Batch;
use crate::fast::mlp::{FastMlp, MlpCache};
use crate::fast::{self, actor, critic};
use crate::grads::ParamGrads;
use crate::ndpg::EnvRolloutNets;
use crate::nets::{Nets, PolicyNet};
use mpg_models::nets::Squash;

/// The kernels' buffers, reused across calls (no state between calls: allocating them afresh
/// costs page faults every call).
#[derive(Default)]
pub struct Fast {
    /// The model-based objectives' and targets'.
    model: fast::Workspace,
    /// The one-step targets' and the critic gradients'.
    critic: critic::Workspace,
    /// The model-free policy gradients'.
    actor: actor::ActorWorkspace,
    /// The env-rollout target's policy passes.
    rollout: [MlpCache; 2],
}

/// As many threads as libtorch's intra-op setting (the run's `threads`): a config value, so
/// a run stays deterministic and resumes exactly.
fn threads() -> usize {
    tch::get_num_threads().max(1) as usize
}

/// The action is `act_range`·tanh(mean) (`Squash`); the model-based kernels need a squashed
/// policy.
fn act_range(policy: &PolicyNet) -> f32 {
    match policy.squash {
        Squash::Tanh => 1.0,
        Squash::ScaledTanh(range) => range as f32,
        Squash::None => panic!("the model-based objectives need a squashed policy"),
    }
}

/// The model-based kernels' objective with the learner's γ and task preprocessing.
fn objective(
    s: Setting,
    act_range: f32,
    w_data: f64,
    w_model: f64,
    full_bptt: bool,
) -> fast::Objective<'static> {
    fast::Objective {
        gamma: s.cfg.gamma,
        w_data,
        w_model,
        full_bptt,
        obs_scale: s.spec.obs_scale,
        reward_scale: s.spec.reward_scale as f64,
        reward_shift: s.spec.reward_shift as f64,
        act_range,
    }
}

impl Fast {
    /// The one-step targets' transition: s′ scaled, (r + shift)·scale in f32 (spec §1.10,
    /// D19), 1 − done or ones without D17.
    fn one_step(
        &mut self,
        s: Setting,
        nets: &Nets,
        b: &Batch,
        policy: &PolicyNet,
        target: impl FnOnce(
            &mut critic::Workspace,
            &critic::TargetNets,
            &critic::Transition,
        ) -> Vec<f32>,
    ) -> Vec<f32> {
        let (shift, scale) = (s.spec.reward_shift, s.spec.reward_scale);
        let reward: Vec<f32> = b.rew.iter().map(|&r| (r + shift) * scale).collect();
        let not_done: Vec<f32> = if s.cfg.mask_terminal {
            b.done.iter().map(|&d| 1.0 - d).collect()
        } else {
            vec![1.0; b.len()]
        };
        let next_scaled = scaled(s.spec, &b.next_obs);
        let t = critic::Transition {
            next_scaled: &next_scaled,
            reward: &reward,
            not_done: &not_done,
        };
        let nets = critic::TargetNets {
            policy: &policy.net,
            squash: policy.squash,
            q1_targ: &nets.q1_targ,
            q2_targ: nets.q2_targ.as_ref().expect("a one-step target needs Q2'"),
        };
        target(&mut self.critic, &nets, &t)
    }

    /// The model-free policy gradients ([`fast::actor`]) with critics Q1 and, when given, Q2.
    fn actor_grad(
        &mut self,
        s: Setting,
        nets: &Nets,
        q2: Option<&FastMlp>,
        obs: &[f32],
        objective: actor::Objective,
    ) -> (f64, ParamGrads) {
        let mut critics = vec![&nets.q1];
        critics.extend(q2);
        let s_scaled = scaled(s.spec, obs);
        let g = actor::policy_grad_in(
            &mut self.actor,
            threads(),
            &nets.policy.net,
            nets.policy.squash,
            &critics,
            &s_scaled,
            objective,
        );
        (g.loss, g.grads)
    }

    /// The model-based policy gradients ([`fast::rollout`]): critic Q1, or min(Q1, `q2`) when
    /// given; θ's gradient at a₀ only or, with `full_bptt`, at every step.
    #[allow(clippy::too_many_arguments)]
    fn model_grad(
        &mut self,
        s: Setting,
        nets: &Nets,
        q2: Option<&FastMlp>,
        obs: &[f32],
        noises: &[Vec<f32>],
        w_data: f64,
        w_model: f64,
        full_bptt: bool,
    ) -> (f64, ParamGrads) {
        let obj = objective(s, act_range(&nets.policy), w_data, w_model, full_bptt);
        let critic = fast::Critic { q1: &nets.q1, q2 };
        let g = fast::task_policy_grad(
            s.spec.task,
            &mut self.model,
            threads(),
            &nets.policy.net,
            critic,
            obs,
            noises,
            &obj,
        );
        (g.loss, g.grads)
    }
}

impl Backend for Fast {
    fn clipped_double_q_target(
        &mut self,
        s: Setting,
        nets: &Nets,
        b: &Batch,
        eps: Option<&[f32]>,
    ) -> Vec<f32> {
        let (gamma, std, clip) = (s.cfg.gamma, s.cfg.target_noise, s.cfg.target_noise_clip);
        let smoothing = eps.map(|e| (e, std, clip));
        self.one_step(s, nets, b, &nets.policy_targ, |ws, n, t| {
            critic::clipped_double_q_target(ws, threads(), n, t, smoothing, gamma)
        })
    }

    fn soft_target(&mut self, s: Setting, nets: &Nets, b: &Batch, eps: &[f32]) -> Vec<f32> {
        let log_std_clip = s.cfg.log_std_clip.map(|[a, b]| (a, b));
        let (gamma, alpha) = (s.cfg.gamma, s.cfg.alpha);
        // SAC acts with the CURRENT policy (spec §3.8).
        self.one_step(s, nets, b, &nets.policy, |ws, n, t| {
            critic::soft_target(ws, threads(), n, t, eps, log_std_clip, gamma, alpha)
        })
    }

    fn model_target(
        &mut self,
        s: Setting,
        nets: &Nets,
        b: &Batch,
        noises: &[Vec<f32>],
    ) -> Vec<f32> {
        let obj = objective(s, act_range(&nets.policy), 0.0, 1.0, false);
        fast::task_model_target(
            s.spec.task,
            &mut self.model,
            threads(),
            &nets.policy.net,
            &nets.q1_targ,
            &b.obs,
            &b.act,
            noises,
            &obj,
        )
    }

    fn env_rollout_nets<'a>(&'a mut self, nets: &'a Nets) -> Box<dyn EnvRolloutNets + 'a> {
        Box::new(FastRolloutNets {
            nets,
            caches: &mut self.rollout,
        })
    }

    fn critic_grads(
        &mut self,
        s: Setting,
        nets: &Nets,
        b: &Batch,
        y: &[f32],
    ) -> (CriticGrad, Option<CriticGrad>) {
        let spec = s.spec;
        let x = fast::heads::q_input(&scaled(spec, &b.obs), &b.act, spec.obs_dim, spec.act_dim);
        let grad = |q: &FastMlp, cache: &mut MlpCache| {
            let g = critic::q_loss_grad(q, &x, y, cache);
            (g.loss, g.grads)
        };
        let critic::Workspace { q1: c1, q2: c2, .. } = &mut self.critic;
        // With more than one thread the twin critics' gradients run side by side (on the
        // pool's parked workers): two independent computations, the same results either way.
        match &nets.q2 {
            Some(q2) => {
                let (first, second) =
                    fast::pool::join(threads(), || grad(&nets.q1, c1), || grad(q2, c2));
                (first, Some(second))
            }
            None => (grad(&nets.q1, c1), None),
        }
    }

    fn mixed_grad(
        &mut self,
        s: Setting,
        nets: &Nets,
        obs: &[f32],
        noises: &[Vec<f32>],
        use_q2: bool,
        w_data: f64,
        w_model: f64,
        full_bptt: bool,
    ) -> (f64, ParamGrads) {
        let q2 = nets.q2.as_ref().filter(|_| use_q2);
        self.model_grad(s, nets, q2, obs, noises, w_data, w_model, full_bptt)
    }

    fn model_bptt_grad(
        &mut self,
        s: Setting,
        nets: &Nets,
        obs: &[f32],
        noises: &[Vec<f32>],
    ) -> (f64, ParamGrads) {
        // The model return alone (w_data = 0, w_model = 1), critic Q1, every action from the
        // trained policy (spec §3.7).
        self.model_grad(s, nets, None, obs, noises, 0.0, 1.0, true)
    }

    fn dpg_grad(
        &mut self,
        s: Setting,
        nets: &Nets,
        obs: &[f32],
        critic: DpgCritic,
    ) -> (f64, ParamGrads) {
        let q2 = match critic {
            DpgCritic::MinQ => nets.q2.as_ref(),
            DpgCritic::Q1 => None,
        };
        self.actor_grad(s, nets, q2, obs, actor::Objective::Deterministic)
    }

    fn soft_grad(
        &mut self,
        s: Setting,
        nets: &Nets,
        obs: &[f32],
        eps: &[f32],
    ) -> (f64, ParamGrads) {
        let objective = actor::Objective::Soft {
            eps,
            alpha: s.cfg.alpha,
            log_std_clip: s.cfg.log_std_clip.map(|[a, b]| (a, b)),
        };
        self.actor_grad(s, nets, nets.q2.as_ref(), obs, objective)
    }
}

/// The env-rollout target's policy passes on the plain networks.
struct FastRolloutNets<'a> {
    nets: &'a Nets,
    caches: &'a mut [MlpCache; 2],
}

impl EnvRolloutNets for FastRolloutNets<'_> {
    fn act(&mut self, s_scaled: &[f32]) -> Vec<f32> {
        self.nets.policy.act(s_scaled, &mut self.caches[0])
    }

    fn bootstrap(&mut self, s_scaled: &[f32]) -> Vec<f32> {
        let nets = self.nets;
        let (obs_dim, act_dim) = (nets.policy.net.input_dim(), nets.policy.act_dim);
        let a = nets.policy_targ.act(s_scaled, &mut self.caches[0]);
        let x = fast::heads::q_input(s_scaled, &a, obs_dim, act_dim);
        let cache = &mut self.caches[1];
        nets.q1_targ.forward(&x, a.len() / act_dim, cache);
        cache.output().to_vec()
    }
}
