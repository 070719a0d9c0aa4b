//! The libtorch autograd backend (`learner.path = "reference"`): the oracle the fast kernels
//! are tested against. At its boundary it builds tensors from the plain parameters, batch and
//! random draws ([`Nets::tch`], [`Batch::tch`]), writes each algorithm's loss with the tch
//! models (spec §3.2–3.8, in `mpg.rs`, `ndpg.rs`, `nadp.rs`, `td3.rs`, `sac.rs`),
//! differentiates it by autograd and returns plain gradients.

use super::{Backend, CriticGrad, DpgCritic, Setting};
use crate::batch::Batch;
use crate::grads::{ParamGrads, grad_of, q_loss, values_of};
use crate::ndpg::{EnvRolloutNets, TchRolloutNets};
use crate::nets::{Nets, TchNets};
use crate::{mpg, nadp, ndpg, sac, td3};
use mpg_envs::TaskSpec;
use mpg_models::nets::{Mlp, q_value};
use mpg_models::{PriorModel, make_model};
use tch::Tensor;

/// The prior model as tensors and the observation scale as a tensor.
pub struct Reference {
    model: Box<dyn PriorModel>,
    obs_scale: Tensor,
    /// The autograd networks the env-rollout target's passes run on, rebuilt per call.
    rollout: Option<TchNets>,
}

impl Reference {
    pub fn new(spec: &'static TaskSpec) -> Reference {
        Reference {
            model: make_model(spec.task),
            obs_scale: Tensor::from_slice(spec.obs_scale),
            rollout: None,
        }
    }
}

fn rows(v: &[f32], d: usize) -> Tensor {
    Tensor::from_slice(v).reshape([(v.len() / d) as i64, d as i64])
}

fn tensors(noises: &[Vec<f32>]) -> Vec<Tensor> {
    noises.iter().map(|n| Tensor::from_slice(n)).collect()
}

/// (loss, ∂loss/∂θ_π) by autograd.
fn policy_autograd(nets: &TchNets, loss: Tensor) -> (f64, ParamGrads) {
    let g = grad_of(&loss, &nets.policy.net.params());
    (f64::try_from(&loss).unwrap(), values_of(&g))
}

/// min(Q1, Q2)(s, a), or Q1 where there is no Q2.
fn min_q(nets: &TchNets, s: &Tensor, a: &Tensor) -> Tensor {
    let q1 = q_value(&nets.q1, s, a);
    match &nets.q2 {
        Some(q2) => q1.minimum(&q_value(q2, s, a)),
        None => q1,
    }
}

/// (r + shift)·scale (spec §1.10, §2.4, D19) and 1 − done (or ones without D17).
fn reward_and_not_done(s: Setting, b: &crate::batch::TchBatch) -> (Tensor, Tensor) {
    let r = (&b.rew + s.spec.reward_shift as f64) * s.spec.reward_scale as f64;
    let not_done = if s.cfg.mask_terminal {
        1.0 - &b.done
    } else {
        b.done.ones_like()
    };
    (r, not_done)
}

impl Backend for Reference {
    fn clipped_double_q_target(
        &mut self,
        s: Setting,
        nets: &Nets,
        b: &Batch,
        eps: Option<&[f32]>,
    ) -> Vec<f32> {
        let (nets, b) = (nets.tch(), b.tch());
        let y = tch::no_grad(|| {
            let s2 = &b.next_obs * &self.obs_scale;
            let mut a2 = nets.policy_targ.act(&s2);
            if let Some(eps) = eps {
                let eps = rows(eps, nets.policy.act_dim);
                let (std, clip) = (s.cfg.target_noise, s.cfg.target_noise_clip);
                a2 = td3::smoothed_action(&a2, &eps, std, clip);
            }
            let (r, not_done) = reward_and_not_done(s, &b);
            let q2_targ = nets.q2_targ.as_ref().expect("clipped double-Q needs Q2'");
            td3::clipped_double_q_target(
                &r,
                &q_value(&nets.q1_targ, &s2, &a2),
                &q_value(q2_targ, &s2, &a2),
                &not_done,
                s.cfg.gamma,
            )
        });
        crate::fast::values(&y)
    }

    fn soft_target(&mut self, s: Setting, nets: &Nets, b: &Batch, eps: &[f32]) -> Vec<f32> {
        let (nets, b) = (nets.tch(), b.tch());
        let y = tch::no_grad(|| {
            let s2 = &b.next_obs * &self.obs_scale;
            let eps = rows(eps, nets.policy.act_dim);
            let log_std_clip = s.cfg.log_std_clip.map(|[a, b]| (a, b));
            let (a2, logp2) = nets.policy.sample(&s2, &eps, log_std_clip);
            let (r, not_done) = reward_and_not_done(s, &b);
            let q2_targ = nets.q2_targ.as_ref().expect("SAC needs Q2'");
            sac::soft_target(
                &r,
                &q_value(&nets.q1_targ, &s2, &a2),
                &q_value(q2_targ, &s2, &a2),
                &logp2,
                &not_done,
                s.cfg.gamma,
                s.cfg.alpha,
            )
        });
        crate::fast::values(&y)
    }

    fn model_target(
        &mut self,
        s: Setting,
        nets: &Nets,
        b: &Batch,
        noises: &[Vec<f32>],
    ) -> Vec<f32> {
        let (nets, b) = (nets.tch(), b.tch());
        let y = tch::no_grad(|| {
            let noises = tensors(noises);
            nadp::model_nstep_target(self.model.as_ref(), &nets, &b, &noises, s.cfg.gamma, s.spec)
        });
        crate::fast::values(&y)
    }

    fn env_rollout_nets<'a>(&'a mut self, nets: &'a Nets) -> Box<dyn EnvRolloutNets + 'a> {
        let nets = self.rollout.insert(nets.tch());
        Box::new(TchRolloutNets { nets })
    }

    fn critic_grads(
        &mut self,
        _s: Setting,
        nets: &Nets,
        b: &Batch,
        y: &[f32],
    ) -> (CriticGrad, Option<CriticGrad>) {
        let (nets, b) = (nets.tch(), b.tch());
        let st = &b.obs * &self.obs_scale;
        let y = Tensor::from_slice(y);
        let grad = |q: &Mlp| {
            let l = q_loss(&q_value(q, &st, &b.act), &y);
            let g = grad_of(&l, &q.params());
            (f64::try_from(&l).unwrap(), values_of(&g))
        };
        (grad(&nets.q1), nets.q2.as_ref().map(grad))
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
        let nets = nets.tch();
        let obs = rows(obs, s.spec.obs_dim);
        let noises = tensors(noises);
        // D2: the critic of every return term (MPG-v1 trains Q1 only).
        let q = |st: &Tensor, a: &Tensor| {
            if use_q2 {
                min_q(&nets, st, a)
            } else {
                q_value(&nets.q1, st, a)
            }
        };
        let terms = mpg::Returns {
            model: self.model.as_ref(),
            policy: &nets.policy,
            obs_scale: &self.obs_scale,
            q: &q,
            gamma: s.cfg.gamma,
            reward_scale: s.spec.reward_scale as f64,
            reward_shift: s.spec.reward_shift as f64,
        };
        let loss = mpg::mixed_policy_loss(&terms, &obs, &noises, w_data, w_model, full_bptt);
        policy_autograd(&nets, loss)
    }

    fn model_bptt_grad(
        &mut self,
        s: Setting,
        nets: &Nets,
        obs: &[f32],
        noises: &[Vec<f32>],
    ) -> (f64, ParamGrads) {
        let nets = nets.tch();
        let obs = rows(obs, s.spec.obs_dim);
        let noises = tensors(noises);
        let model = self.model.as_ref();
        let loss = nadp::bptt_policy_loss(model, &nets, &obs, &noises, s.cfg.gamma, s.spec);
        policy_autograd(&nets, loss)
    }

    fn dpg_grad(
        &mut self,
        s: Setting,
        nets: &Nets,
        obs: &[f32],
        critic: DpgCritic,
    ) -> (f64, ParamGrads) {
        let nets = nets.tch();
        let st = rows(obs, s.spec.obs_dim) * &self.obs_scale;
        let a = nets.policy.act(&st);
        let loss = match critic {
            DpgCritic::Q1 => ndpg::dpg_policy_loss(&q_value(&nets.q1, &st, &a)),
            DpgCritic::MinQ => td3::min_q_policy_loss(&min_q(&nets, &st, &a)),
        };
        policy_autograd(&nets, loss)
    }

    fn soft_grad(
        &mut self,
        s: Setting,
        nets: &Nets,
        obs: &[f32],
        eps: &[f32],
    ) -> (f64, ParamGrads) {
        let nets = nets.tch();
        let st = rows(obs, s.spec.obs_dim) * &self.obs_scale;
        let eps = rows(eps, nets.policy.act_dim);
        let log_std_clip = s.cfg.log_std_clip.map(|[a, b]| (a, b));
        let (a, logp) = nets.policy.sample(&st, &eps, log_std_clip);
        let loss = sac::soft_policy_loss(&min_q(&nets, &st, &a), &logp, s.cfg.alpha);
        policy_autograd(&nets, loss)
    }
}
