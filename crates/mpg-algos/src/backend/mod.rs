//! The one backend axis of the learner (`learner.path`, [`GradPath`]): every computation whose
//! form differs between the plain-Rust kernels ([`fast`]) and the libtorch autograd reference
//! ([`reference`]) is one method of [`Backend`]. The [`crate::learner::Learner`] matches each
//! algorithm's critic target and policy objective once, draws the random numbers (D8) and
//! hands them to the backend, so both see the same noise; the batch reuse, the clipping and
//! the statistics are its own, common to both.

pub mod fast;
pub mod reference;

use crate::batch::Batch;
use crate::config::{AlgoConfig, GradPath};
use crate::grads::ParamGrads;
use crate::ndpg::EnvRolloutNets;
use crate::nets::Nets;
use mpg_envs::TaskSpec;

/// What a backend reads besides the networks and the batch: the task's preprocessing and the
/// learner's settings.
#[derive(Clone, Copy)]
pub struct Setting<'a> {
    pub spec: &'static TaskSpec,
    pub cfg: &'a AlgoConfig,
}

/// A critic's loss ½·mean((Q − y)²) and its gradient, unclipped.
pub type CriticGrad = (f64, ParamGrads);

/// The critic of the policy objectives Q1(s, π(s)) / min(Q1, Q2)(s, π(s)) (spec §3.6, §3.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DpgCritic {
    Q1,
    MinQ,
}

/// The computations of one backend (spec §3.4–3.8). Targets are without gradient; gradients
/// are unclipped, in [`crate::fast::mlp::FastMlp::params`] order.
pub trait Backend: Send {
    /// r + γ·not_done·min(Q1′, Q2′)(s′, π′(s′) [+ clip(σ·ε, ±c)]) with `eps` the smoothing's
    /// standard normals where TD3 smooths (spec §3.5, §3.8).
    fn clipped_double_q_target(
        &mut self,
        s: Setting,
        nets: &Nets,
        b: &Batch,
        eps: Option<&[f32]>,
    ) -> Vec<f32>;

    /// r + γ·not_done·(min(Q1′, Q2′)(s′, a′) − α log π(a′|s′)), a′ ~ π(s′) with ε given
    /// (spec §3.8).
    fn soft_target(&mut self, s: Setting, nets: &Nets, b: &Batch, eps: &[f32]) -> Vec<f32>;

    /// n-step ADP's model-rollout target with the model noises given (spec §3.7).
    fn model_target(&mut self, s: Setting, nets: &Nets, b: &Batch, noises: &[Vec<f32>])
    -> Vec<f32>;

    /// The policy passes of the env-rollout target of MPG-v1 and n-step DPG (spec §3.4).
    fn env_rollout_nets<'a>(&'a mut self, nets: &'a Nets) -> Box<dyn EnvRolloutNets + 'a>;

    /// Q1's and (where trained) Q2's regression gradients to the shared target `y` (spec §3.1).
    fn critic_grads(
        &mut self,
        s: Setting,
        nets: &Nets,
        b: &Batch,
        y: &[f32],
    ) -> (CriticGrad, Option<CriticGrad>);

    /// MPG's mixed objective (spec §3.2) with the model noises given; `use_q2` takes
    /// min(Q1, Q2) in every return term (D2), else Q1.
    #[allow(clippy::too_many_arguments)]
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
    ) -> (f64, ParamGrads);

    /// n-step ADP's H-step model return, full BPTT (spec §3.7).
    fn model_bptt_grad(
        &mut self,
        s: Setting,
        nets: &Nets,
        obs: &[f32],
        noises: &[Vec<f32>],
    ) -> (f64, ParamGrads);

    /// −mean Q1(s, π(s)) (spec §3.6) or −mean min(Q1, Q2)(s, π(s)) (spec §3.8).
    fn dpg_grad(
        &mut self,
        s: Setting,
        nets: &Nets,
        obs: &[f32],
        critic: DpgCritic,
    ) -> (f64, ParamGrads);

    /// SAC's mean(α·log π(a|s) − min(Q1, Q2)(s, a)), a = squash(μ + σ·ε), ε given (spec §3.8).
    fn soft_grad(&mut self, s: Setting, nets: &Nets, obs: &[f32], eps: &[f32])
    -> (f64, ParamGrads);
}

/// The backend of `path`, chosen once per learner.
pub fn for_path(path: GradPath, spec: &'static TaskSpec) -> Box<dyn Backend> {
    match path {
        GradPath::Fast => Box::new(fast::Fast::default()),
        GradPath::Reference => Box::new(reference::Reference::new(spec)),
    }
}

/// Observations ⊙ the task's scale (spec §1.10, §2.4), row-major f32, the product in f32 as
/// the reference's tensor product.
pub fn scaled(spec: &TaskSpec, obs: &[f32]) -> Vec<f32> {
    let mut v = obs.to_vec();
    for row in v.chunks_exact_mut(spec.obs_dim) {
        row.iter_mut()
            .zip(spec.obs_scale)
            .for_each(|(x, &c)| *x *= c);
    }
    v
}
