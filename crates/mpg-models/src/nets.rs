//! The networks of every algorithm (spec §3.1): 2×256 ELU MLPs, the deterministic and the
//! Gaussian policy, the Q networks, Polyak averaging.
//!
//! Parameters are plain tensors (`w` as `[in, out]`, so a layer is `x·w + b`), initialised from
//! the run's Rust generator (D8: libtorch's generator is never used), so that a network is a
//! list of tensors any learner, optimiser or checkpoint can walk in one fixed order.

use crate::Rng;
use rand::Rng as _;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// Hidden layer width and count of every network (spec §3.1).
pub const HIDDEN: usize = 256;
pub const HIDDEN_LAYERS: usize = 2;

/// Kernel initialisation (decision D9).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Init {
    /// Orthogonal, gain √2 on hidden kernels and 1 on the output kernel, zero biases (master).
    #[default]
    Orthogonal,
    /// Keras's Glorot-uniform kernels, zero biases (the paper-era path-tracking runs).
    Glorot,
}

/// A multi-layer perceptron with ELU on the hidden layers and a linear output.
#[derive(Debug)]
pub struct Mlp {
    /// Kernels, `[in, out]` each.
    pub w: Vec<Tensor>,
    /// Biases, `[out]` each.
    pub b: Vec<Tensor>,
}

impl Mlp {
    /// A `input → 256 → 256 → output` network (spec §3.1), trainable, f32.
    pub fn new(input: usize, output: usize, init: Init, rng: &mut Rng) -> Mlp {
        let mut sizes = vec![input];
        sizes.extend([HIDDEN; HIDDEN_LAYERS]);
        sizes.push(output);
        Mlp::with_sizes(&sizes, init, rng)
    }

    /// Any layer sizes (tests use tiny networks).
    pub fn with_sizes(sizes: &[usize], init: Init, rng: &mut Rng) -> Mlp {
        let layers = sizes.len() - 1;
        let (mut w, mut b) = (Vec::new(), Vec::new());
        for l in 0..layers {
            let (fan_in, fan_out) = (sizes[l], sizes[l + 1]);
            let gain = if l + 1 == layers { 1.0 } else { 2f64.sqrt() };
            let kernel = match init {
                Init::Orthogonal => orthogonal(fan_in, fan_out, gain, rng),
                Init::Glorot => glorot_uniform(fan_in, fan_out, rng),
            };
            w.push(kernel.set_requires_grad(true));
            b.push(
                Tensor::zeros([fan_out as i64], (Kind::Float, tch::Device::Cpu))
                    .set_requires_grad(true),
            );
        }
        Mlp { w, b }
    }

    pub fn forward(&self, x: &Tensor) -> Tensor {
        let mut h = x.shallow_clone();
        let last = self.w.len() - 1;
        for (l, (w, b)) in self.w.iter().zip(&self.b).enumerate() {
            h = h.matmul(w) + b;
            if l < last {
                h = h.elu();
            }
        }
        h
    }

    /// The parameters in their fixed order: w₀, b₀, w₁, b₁, …
    pub fn params(&self) -> Vec<Tensor> {
        self.w
            .iter()
            .zip(&self.b)
            .flat_map(|(w, b)| [w.shallow_clone(), b.shallow_clone()])
            .collect()
    }

    /// A copy with its own storage, detached from any graph, trainable again.
    pub fn deep_copy(&self) -> Mlp {
        let c = |t: &Tensor| t.detach().copy().set_requires_grad(true);
        Mlp {
            w: self.w.iter().map(c).collect(),
            b: self.b.iter().map(c).collect(),
        }
    }

    /// A copy whose parameters are constants (no gradient flows into them): the "frozen copy
    /// of the policy" of spec §3.2.
    pub fn frozen(&self) -> Mlp {
        Mlp {
            w: self.w.iter().map(Tensor::detach).collect(),
            b: self.b.iter().map(Tensor::detach).collect(),
        }
    }

    /// Overwrite this network's parameters with `src`'s values.
    pub fn copy_from(&self, src: &Mlp) {
        tch::no_grad(|| {
            for (d, s) in self.params().iter().zip(src.params()) {
                d.shallow_clone().copy_(&s);
            }
        });
    }

    /// Overwrite the parameters from flat values in [`Mlp::params`] order.
    pub fn load_values(&self, values: &[Tensor]) {
        tch::no_grad(|| {
            for (d, s) in self.params().iter().zip(values) {
                d.shallow_clone().copy_(s);
            }
        });
    }

    pub fn num_params(&self) -> usize {
        self.params().iter().map(|t| t.numel()).sum()
    }
}

/// Soft target update θ' ← τ·θ + (1 − τ)·θ' (spec §3.1).
pub fn polyak(target: &Mlp, source: &Mlp, tau: f64) {
    tch::no_grad(|| {
        for (t, s) in target.params().iter().zip(source.params()) {
            let mut t = t.shallow_clone();
            let _ = t.g_mul_scalar_(1.0 - tau);
            let _ = t.g_add_(&(s * tau));
        }
    });
}

fn normals(n: usize, rng: &mut Rng) -> Vec<f64> {
    (0..n).map(|_| rng.sample(StandardNormal)).collect()
}

/// TF's `Orthogonal` initialiser for a `[fan_in, fan_out]` kernel: QR of a Gaussian matrix of
/// shape (max, min), columns' signs fixed by diag(R), transposed when fan_in < fan_out.
fn orthogonal(fan_in: usize, fan_out: usize, gain: f64, rng: &mut Rng) -> Tensor {
    let (rows, cols) = (fan_in.max(fan_out), fan_in.min(fan_out));
    let a = Tensor::from_slice(&normals(rows * cols, rng)).reshape([rows as i64, cols as i64]);
    let (q, r) = Tensor::linalg_qr(&a, "reduced");
    let d = r.diagonal(0, 0, 1).sign();
    let mut q = q * d.unsqueeze(0);
    if fan_in < fan_out {
        q = q.transpose(0, 1);
    }
    (q * gain).to_kind(Kind::Float).contiguous()
}

/// Keras's Glorot-uniform: U(−l, l) with l = √(6 / (fan_in + fan_out)).
fn glorot_uniform(fan_in: usize, fan_out: usize, rng: &mut Rng) -> Tensor {
    let limit = (6.0 / (fan_in + fan_out) as f64).sqrt();
    let v: Vec<f32> = (0..fan_in * fan_out)
        .map(|_| ((rng.random::<f64>() * 2.0 - 1.0) * limit) as f32)
        .collect();
    Tensor::from_slice(&v).reshape([fan_in as i64, fan_out as i64])
}

/// How a policy's output becomes an action (spec §3.1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Squash {
    /// `a = tanh(mean)`, in [−1, 1] (path tracking: the output layer's own tanh).
    Tanh,
    /// `a = range·tanh(mean)` (pendulum: range 3).
    ScaledTanh(f64),
    /// `a = mean` (SAC's unsquashed Gaussian, D14 option).
    None,
}

impl Squash {
    pub fn apply(self, x: &Tensor) -> Tensor {
        match self {
            Squash::Tanh => x.tanh(),
            Squash::ScaledTanh(range) => x.tanh() * range,
            Squash::None => x.shallow_clone(),
        }
    }

    /// The squashing of each task's deterministic policy (spec §3.1).
    pub fn for_task(task: crate::Task) -> Squash {
        match task {
            crate::Task::PathTracking => Squash::Tanh,
            crate::Task::InvertedPendulum => Squash::ScaledTanh(3.0),
        }
    }
}

/// The policy network: scaled observation → (mean, log_std), `2·act_dim` outputs as the
/// authors' (the log_std half is unused by the deterministic algorithms, spec §3.1).
#[derive(Debug)]
pub struct Policy {
    pub net: Mlp,
    pub act_dim: usize,
    pub squash: Squash,
}

impl Policy {
    pub fn new(
        obs_dim: usize,
        act_dim: usize,
        squash: Squash,
        init: Init,
        rng: &mut Rng,
    ) -> Policy {
        Policy {
            net: Mlp::new(obs_dim, 2 * act_dim, init, rng),
            act_dim,
            squash,
        }
    }

    /// (mean, log_std), each `[B, act_dim]`.
    pub fn mean_log_std(&self, obs_scaled: &Tensor) -> (Tensor, Tensor) {
        let out = self.net.forward(obs_scaled);
        let a = self.act_dim as i64;
        (out.narrow(1, 0, a), out.narrow(1, a, a))
    }

    /// The deterministic action (the policy mean, squashed).
    pub fn act(&self, obs_scaled: &Tensor) -> Tensor {
        self.squash.apply(&self.mean_log_std(obs_scaled).0)
    }

    /// Reparameterised sample and its log-probability, with `eps ~ N(0, 1)` given
    /// (drawn from the run's Rust generator, D8). The log-probability includes the squashing
    /// Jacobian (spec §3.1, D14); `log_std_clip` is D14's option.
    pub fn sample(
        &self,
        obs_scaled: &Tensor,
        eps: &Tensor,
        log_std_clip: Option<(f64, f64)>,
    ) -> (Tensor, Tensor) {
        let (mean, mut log_std) = self.mean_log_std(obs_scaled);
        if let Some((lo, hi)) = log_std_clip {
            log_std = log_std.clamp(lo, hi);
        }
        let u = &mean + log_std.exp() * eps;
        // log N(u; mean, std) = −½ε² − log std − ½ log 2π
        let mut logp = (eps.square() * -0.5 - &log_std - 0.5 * (2.0 * std::f64::consts::PI).ln())
            .sum_dim_intlist(-1, false, Kind::Float);
        let squashed = self.squash.apply(&u);
        let log_det = |u: &Tensor| {
            // log(1 − tanh²u) = 2(log 2 − u − softplus(−2u)), numerically stable
            ((-&(u * 2.0)).softplus() + u - 2f64.ln()) * -2.0
        };
        match self.squash {
            Squash::Tanh => logp -= log_det(&u).sum_dim_intlist(-1, false, Kind::Float),
            Squash::ScaledTanh(range) => {
                logp -= (log_det(&u) + range.ln()).sum_dim_intlist(-1, false, Kind::Float)
            }
            Squash::None => {}
        }
        (squashed, logp)
    }
}

/// Q(scaled observation, raw action) → `[B]` (spec §3.1: actions are fed unscaled).
pub fn q_value(net: &Mlp, obs_scaled: &Tensor, act: &Tensor) -> Tensor {
    net.forward(&Tensor::cat(&[obs_scaled, act], 1))
        .squeeze_dim(-1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn orthogonal_kernels_are_orthogonal_with_gain() {
        let mut rng = Rng::seed_from_u64(1);
        let net = Mlp::new(6, 4, Init::Orthogonal, &mut rng);
        // [256, 256]: WᵀW = 2·I ; [6, 256]: rows orthonormal·√2 ; [256, 4]: columns orthonormal
        let eye = |n| Tensor::eye(n, (Kind::Float, tch::Device::Cpu));
        let w1 = &net.w[1];
        assert!(f64::try_from((w1.tr().matmul(w1) - eye(256) * 2.0).abs().max()).unwrap() < 1e-4);
        let w0 = &net.w[0];
        assert!(f64::try_from((w0.matmul(&w0.tr()) - eye(6) * 2.0).abs().max()).unwrap() < 1e-4);
        let w2 = &net.w[2];
        assert!(f64::try_from((w2.tr().matmul(w2) - eye(4)).abs().max()).unwrap() < 1e-4);
        assert!(
            net.b
                .iter()
                .all(|b| f64::try_from(b.abs().sum(Kind::Float)).unwrap() == 0.0)
        );
        // seeded: same seed same weights, other seed other weights
        let again = Mlp::new(6, 4, Init::Orthogonal, &mut Rng::seed_from_u64(1));
        assert!(again.w[0].equal(&net.w[0]));
        let other = Mlp::new(6, 4, Init::Orthogonal, &mut Rng::seed_from_u64(2));
        assert!(!other.w[0].equal(&net.w[0]));
    }

    #[test]
    fn glorot_kernels_within_limit_and_spread() {
        let net = Mlp::new(6, 4, Init::Glorot, &mut Rng::seed_from_u64(3));
        let limit = (6.0f64 / 512.0).sqrt();
        let w1 = &net.w[1];
        let max = f64::try_from(w1.abs().max()).unwrap();
        assert!(max <= limit && max > 0.95 * limit);
        let var = f64::try_from(w1.var(true)).unwrap();
        assert!((var - limit * limit / 3.0).abs() < 0.05 * limit * limit / 3.0);
    }

    #[test]
    fn polyak_moves_a_fraction_tau() {
        let mut rng = Rng::seed_from_u64(4);
        let a = Mlp::with_sizes(&[2, 3, 1], Init::Glorot, &mut rng);
        let b = Mlp::with_sizes(&[2, 3, 1], Init::Glorot, &mut rng);
        let before = a.w[0].detach().copy();
        polyak(&a, &b, 0.005);
        let want = &before * 0.995 + b.w[0].detach() * 0.005;
        assert!(f64::try_from((&a.w[0] - want).abs().max()).unwrap() < 1e-7);
    }

    #[test]
    fn squashed_log_prob_matches_change_of_variables() {
        // One dimension: p_a(a) = p_u(u) / |da/du| with a = 3·tanh(u).
        let mut rng = Rng::seed_from_u64(5);
        let pol = Policy::new(3, 1, Squash::ScaledTanh(3.0), Init::Orthogonal, &mut rng);
        let obs = Tensor::from_slice(&[0.3f32, -0.2, 0.1, 1.0, 0.5, -0.7]).reshape([2, 3]);
        let eps = Tensor::from_slice(&[0.4f32, -1.3]).reshape([2, 1]);
        let (a, logp) = pol.sample(&obs, &eps, None);
        let (mean, log_std) = pol.mean_log_std(&obs);
        let u = &mean + log_std.exp() * &eps;
        let std = log_std.exp();
        let z: Tensor = (&u - &mean).square() / (std.square() * -2.0);
        let pu: Tensor = z.exp() / (&std * (2.0 * std::f64::consts::PI).sqrt());
        let jac: Tensor = (u.tanh().square() * -1.0 + 1.0) * 3.0;
        let want: Tensor = (pu / jac).log().squeeze_dim(-1);
        assert!(f64::try_from((&logp - want).abs().max()).unwrap() < 1e-4);
        assert!(f64::try_from((a - u.tanh() * 3.0).abs().max()).unwrap() < 1e-6);
    }
}
