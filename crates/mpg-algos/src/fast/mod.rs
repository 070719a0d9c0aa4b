//! The "fast gradient path": the model-based policy gradients (MPG-v1, MPG-v2, n-step ADP) in
//! plain Rust, with no libtorch op in the hot loop. The reference is autograd through
//! [`crate::mpg::mixed_policy_loss`] and [`crate::nadp::bptt_policy_loss`]; the tests hold the
//! two equal. Selected by `AlgoConfig::path` ([`crate::config::GradPath`]).
//!
//! The kernels, which the algorithms call:
//! * [`mlp`]: an f32 MLP (forward keeping the pre-activations, backward to inputs and
//!   parameters) on `matrixmultiply`'s sgemm.
//! * [`FastModel`]: a prior model's step per sample in f64 and its hand-derived
//!   vector-Jacobian product: [`path_model`] (spec §1.9), [`pendulum_model`] (spec §2.3); they
//!   live in the crate `mpg-prior` (no libtorch, shared with the Python package) and are
//!   re-exported here.
//! * [`rollout`]: the H-step model return with the data term and the bootstrap (one forward
//!   sweep, one reverse sweep), which both MPG's mixed objective and n-step ADP's full-BPTT
//!   objective are instances of; on several threads, each takes a share of the batch
//!   ([`policy_grad_threads`]).

pub mod actor;
pub mod critic;
pub mod mlp;
pub mod rollout;
#[cfg(test)]
mod tests;

pub use rollout::{
    Critic, Objective, PolicyGrad, Workspace, model_target, model_target_threads, policy_grad,
    policy_grad_threads,
};

pub use mpg_prior::{FastModel, path_model, pendulum_model};

use mlp::ParamGrads;
use mpg_envs::Task;
use tch::Tensor;

/// [`policy_grad_threads`] with `task`'s prior model.
pub fn task_policy_grad(
    task: Task,
    ws: &mut Workspace,
    threads: usize,
    policy: &mlp::FastMlp,
    critic: Critic,
    obs: &[f32],
    noises: &[Vec<f32>],
    obj: &Objective,
) -> PolicyGrad {
    match task {
        Task::PathTracking => policy_grad_threads::<path_model::PathModel>(
            ws, threads, policy, critic, obs, noises, obj,
        ),
        Task::InvertedPendulum => policy_grad_threads::<pendulum_model::PendulumModel>(
            ws, threads, policy, critic, obs, noises, obj,
        ),
    }
}

/// [`model_target_threads`] with `task`'s prior model.
#[allow(clippy::too_many_arguments)]
pub fn task_model_target(
    task: Task,
    ws: &mut Workspace,
    threads: usize,
    policy: &mlp::FastMlp,
    q: &mlp::FastMlp,
    obs: &[f32],
    act0: &[f32],
    noises: &[Vec<f32>],
    obj: &Objective,
) -> Vec<f32> {
    match task {
        Task::PathTracking => model_target_threads::<path_model::PathModel>(
            ws, threads, policy, q, obs, act0, noises, obj,
        ),
        Task::InvertedPendulum => model_target_threads::<pendulum_model::PendulumModel>(
            ws, threads, policy, q, obs, act0, noises, obj,
        ),
    }
}

/// Gradients as tensors shaped like `like` (the parameters they belong to).
pub fn to_tensors(grads: &ParamGrads, like: &[Tensor]) -> Vec<Tensor> {
    assert_eq!(grads.len(), like.len(), "gradients of other parameters");
    grads
        .iter()
        .zip(like)
        .map(|(g, p)| Tensor::from_slice(g).reshape(p.size()))
        .collect()
}

/// The values of an f32 tensor, row-major.
pub fn values(t: &Tensor) -> Vec<f32> {
    let t = t.detach().contiguous().view(-1);
    Vec::<f32>::try_from(&t).expect("an f32 tensor")
}
