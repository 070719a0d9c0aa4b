//! The "fast gradient path": every target and gradient of the six learners in plain Rust (the
//! model-based policy gradients of MPG-v1, MPG-v2 and n-step ADP here and in [`rollout`], the
//! model-free ones in [`actor`], the critics in [`critic`]), on the networks' own plain
//! parameters ([`crate::nets`]); [`crate::backend::fast`] calls them. The reference is autograd
//! ([`crate::backend::reference`]: e.g. [`crate::mpg::mixed_policy_loss`],
//! [`crate::nadp::bptt_policy_loss`]); the tests hold the two equal. Selected by
//! `AlgoConfig::path` ([`crate::config::GradPath`]).
//!
//! The kernels, which the algorithms call:
//! * [`mlp`]: an f32 MLP (forward keeping the pre-activations, backward to inputs and
//!   parameters) on [`gemm`]'s products and [`simd`]'s element-wise loops, both dispatched on
//!   the CPU's features at run time.
//! * [`pool`]: worker threads that sleep when idle, which split one step's work.
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
pub mod gemm;
pub mod heads;
pub mod mlp;
pub mod pool;
pub mod rollout;
pub mod simd;
#[cfg(test)]
mod tests;

pub use rollout::{
    Critic, Objective, PolicyGrad, Workspace, model_target, model_target_threads, policy_grad,
    policy_grad_threads,
};

pub use mpg_prior::{FastModel, path_model, pendulum_model};

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

/// The values of an f32 tensor, row-major (the reference's and the checkpoints' boundary).
pub fn values(t: &Tensor) -> Vec<f32> {
    let t = t.detach().contiguous().view(-1);
    Vec::<f32>::try_from(&t).expect("an f32 tensor")
}
