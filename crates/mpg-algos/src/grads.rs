//! What a learner hands the optimiser: gradients per network, clipped, and the statistics of
//! their computation; with the pieces of the reference's loss shared by the tests (spec §3.1).

pub use crate::fast::mlp::ParamGrads;
use tch::{Kind, Tensor};

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

/// Gradients with one named field per network (one f32 vector per parameter, in
/// [`crate::fast::mlp::FastMlp::params`] order), clipped.
#[derive(Clone, Debug)]
pub struct Grads {
    pub q1: ParamGrads,
    pub q2: Option<ParamGrads>,
    pub policy: Option<ParamGrads>,
    pub stats: GradStats,
}

/// tf.clip_by_global_norm in place: g·c / max(‖g‖, c), ‖g‖ over every vector together in
/// f64, the factor applied in f32 (as a tensor times a scalar). Returns ‖g‖ before clipping;
/// a non-finite norm leaves the gradient as it is (the optimiser's D15 rule sees it).
pub fn clip_by_global_norm(grads: &mut ParamGrads, clip: f64) -> f64 {
    let norm = grads
        .iter()
        .flatten()
        .map(|&g| (g as f64) * (g as f64))
        .sum::<f64>()
        .sqrt();
    let factor = clip / norm.max(clip);
    if norm.is_finite() && factor < 1.0 {
        let f = factor as f32;
        grads.iter_mut().flatten().for_each(|g| *g *= f);
    }
    norm
}

/// The values of gradient tensors (the reference path's), as [`ParamGrads`].
pub fn values_of(grads: &[Tensor]) -> ParamGrads {
    grads
        .iter()
        .map(|g| crate::fast::values(&g.to_kind(Kind::Float)))
        .collect()
}

/// Gradients of `loss` with respect to `params`.
pub fn grad_of(loss: &Tensor, params: &[Tensor]) -> Vec<Tensor> {
    Tensor::run_backward(&[loss], params, false, false)
}

/// Half mean squared error of spec §3.1: 0.5·mean((Q(s, a) − y)²).
pub fn q_loss(q: &Tensor, y: &Tensor) -> Tensor {
    (q - y).square().mean(Kind::Float) * 0.5
}
