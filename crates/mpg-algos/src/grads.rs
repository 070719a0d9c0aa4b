//! What a learner hands the optimiser: gradients per network, clipped, and the statistics of
//! their computation; with the pieces of the reference's loss shared by the tests (spec §3.1).

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
