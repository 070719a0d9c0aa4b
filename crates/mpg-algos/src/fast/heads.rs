//! What sits around the MLPs on the fast path, shared by the critics' targets
//! ([`super::critic`]), the model-free policy gradients ([`super::actor`]) and the actors: the
//! policy's heads (the deterministic action, the reparameterised squashed Gaussian of
//! [`mpg_models::nets::Policy::sample`], spec §3.1, D14) and the critic's input rows.

use mpg_models::nets::Squash;

/// The critic's input rows [s_scaled, a] (spec §3.1: actions enter unscaled).
pub fn q_input(s_scaled: &[f32], act: &[f32], obs_dim: usize, act_dim: usize) -> Vec<f32> {
    s_scaled
        .chunks_exact(obs_dim)
        .zip(act.chunks_exact(act_dim))
        .flat_map(|(s, a)| s.iter().chain(a).copied())
        .collect()
}

/// ½·ln 2π, the Gaussian's log-normaliser per dimension.
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// squash(x) in f32, as [`Squash::apply`] computes it (tanh, then the range's product).
fn squash_value(squash: Squash, x: f32) -> f32 {
    match squash {
        Squash::Tanh => x.tanh(),
        Squash::ScaledTanh(range) => x.tanh() * range as f32,
        Squash::None => x,
    }
}

/// dL/dx from dL/d squash(x), with autograd's order of operations (tanh′ = 1 − tanh²).
fn squash_backward(squash: Squash, x: f32, grad: f32) -> f32 {
    match squash {
        Squash::Tanh => {
            let t = x.tanh();
            grad * (1.0 - t * t)
        }
        Squash::ScaledTanh(range) => {
            let t = x.tanh();
            grad * range as f32 * (1.0 - t * t)
        }
        Squash::None => grad,
    }
}

/// The deterministic actions squash(mean) of a policy output `[n, 2·act_dim]` (mean first,
/// then log σ, spec §3.1): `[n, act_dim]`.
pub fn deterministic_action(out: &[f32], act_dim: usize, squash: Squash) -> Vec<f32> {
    out.chunks_exact(2 * act_dim)
        .flat_map(|row| row[..act_dim].iter().map(|&m| squash_value(squash, m)))
        .collect()
}

/// dL/d(policy output) of [`deterministic_action`] from dL/d action; zero on the log σ half.
pub fn deterministic_action_backward(
    out: &[f32],
    act_dim: usize,
    squash: Squash,
    d_act: &[f32],
) -> Vec<f32> {
    let mut g = vec![0.0f32; out.len()];
    for ((g, row), da) in g
        .chunks_exact_mut(2 * act_dim)
        .zip(out.chunks_exact(2 * act_dim))
        .zip(d_act.chunks_exact(act_dim))
    {
        for j in 0..act_dim {
            g[j] = squash_backward(squash, row[j], da[j]);
        }
    }
    g
}

/// A reparameterised sample of the policy's Gaussian and what its backward pass needs, as
/// [`mpg_models::nets::Policy::sample`]: log σ optionally clipped (D14), u = μ + σ·ε,
/// a = squash(u), log π(a|s) = Σ(−½ε² − log σ − ½ log 2π) − Σ log|da/du|.
#[derive(Clone, Debug)]
pub struct GaussianSample {
    pub act: Vec<f32>,
    pub logp: Vec<f32>,
    /// u = μ + σ·ε, `[n, act_dim]`.
    u: Vec<f32>,
    /// σ·ε = du/d log σ.
    std_eps: Vec<f32>,
    /// Whether log σ lies inside the clip (autograd's clamp passes the gradient there,
    /// bounds included).
    inside: Vec<bool>,
    act_dim: usize,
    squash: Squash,
}

/// log|d squash(u)/du| = log(1 − tanh²u) (+ log range), with the stable form of the
/// reference: −2·(softplus(−2u) + u − log 2).
fn log_det(squash: Squash, u: f64) -> f64 {
    let softplus = |x: f64| if x > 20.0 { x } else { x.exp().ln_1p() };
    let tanh = -2.0 * (softplus(-2.0 * u) + u - std::f64::consts::LN_2);
    match squash {
        Squash::Tanh => tanh,
        Squash::ScaledTanh(range) => tanh + range.ln(),
        Squash::None => 0.0,
    }
}

/// The sample of every row of a policy output `[n, 2·act_dim]` with standard normals `eps`
/// (`[n, act_dim]`, from the learner's generator, D8).
pub fn gaussian_sample(
    out: &[f32],
    act_dim: usize,
    squash: Squash,
    eps: &[f32],
    log_std_clip: Option<(f64, f64)>,
) -> GaussianSample {
    let n = out.len() / (2 * act_dim);
    assert_eq!(eps.len(), n * act_dim, "one ε per action entry");
    let mut s = GaussianSample {
        act: Vec::with_capacity(n * act_dim),
        logp: Vec::with_capacity(n),
        u: Vec::with_capacity(n * act_dim),
        std_eps: Vec::with_capacity(n * act_dim),
        inside: Vec::with_capacity(n * act_dim),
        act_dim,
        squash,
    };
    for (row, e) in out.chunks_exact(2 * act_dim).zip(eps.chunks_exact(act_dim)) {
        let mut logp = 0.0f64;
        let mut log_det_sum = 0.0f64;
        for j in 0..act_dim {
            let (mean, raw) = (row[j], row[act_dim + j]);
            let (ls, inside) = match log_std_clip {
                Some((lo, hi)) => (
                    raw.clamp(lo as f32, hi as f32),
                    raw >= lo as f32 && raw <= hi as f32,
                ),
                None => (raw, true),
            };
            let std_eps = ls.exp() * e[j];
            let u = mean + std_eps;
            logp += -0.5 * (e[j] as f64).powi(2) - ls as f64 - HALF_LN_2PI;
            log_det_sum += log_det(squash, u as f64);
            s.act.push(squash_value(squash, u));
            s.u.push(u);
            s.std_eps.push(std_eps);
            s.inside.push(inside);
        }
        s.logp.push((logp - log_det_sum) as f32);
    }
    s
}

impl GaussianSample {
    /// dL/d(policy output) `[n, 2·act_dim]` from dL/d action and dL/d log π.
    pub fn backward(&self, d_act: &[f32], d_logp: &[f32]) -> Vec<f32> {
        let ad = self.act_dim;
        let mut g = vec![0.0f32; self.u.len() * 2];
        for (i, row) in g.chunks_exact_mut(2 * ad).enumerate() {
            for j in 0..ad {
                let k = i * ad + j;
                let u = self.u[k];
                // d(−log|da/du|)/du = 2·tanh(u) for a tanh squash.
                let d_log_det = match self.squash {
                    Squash::None => 0.0,
                    _ => 2.0 * u.tanh(),
                };
                let du = squash_backward(self.squash, u, d_act[k]) + d_logp[i] * d_log_det;
                row[j] = du;
                // log σ: through u (σ·ε) and the Gaussian's −log σ.
                let d_ls = du * self.std_eps[k] - d_logp[i];
                row[ad + j] = if self.inside[k] { d_ls } else { 0.0 };
            }
        }
        g
    }
}
