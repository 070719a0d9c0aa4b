//! Every network of an algorithm (spec §3.1): the policy, Q1, Q2 where used, and their
//! targets, as plain f32 parameters ([`FastMlp`]: `w[l]` row-major `[in, out]`, `b[l]`) that
//! the fast kernels read in place and the optimiser updates in place. libtorch sees them only
//! at two boundaries: [`Nets::tch`] builds the autograd networks of the reference path
//! (`learner.path = "reference"`), and [`Nets::snapshot`] / [`Nets::load`] are the
//! checkpoints' tensors (the same names, order and shapes as when libtorch owned them).

use crate::config::Algo;
use crate::fast::heads::{GaussianSample, deterministic_action, gaussian_sample};
use crate::fast::mlp::{FastMlp, MlpCache};
use mpg_envs::{Rng, Task};
use mpg_models::nets::{Init, Mlp, Policy, Squash};
use tch::Tensor;

impl FastMlp {
    /// The parameters in [`Mlp::params`] order (w₀, b₀, w₁, b₁, …), each row-major.
    pub fn params(&self) -> Vec<&[f32]> {
        self.w
            .iter()
            .zip(&self.b)
            .flat_map(|(w, b)| [w.as_slice(), b.as_slice()])
            .collect()
    }

    /// Each parameter's shape in [`FastMlp::params`] order: `[in, out]`, `[out]`, …
    pub fn shapes(&self) -> Vec<Vec<i64>> {
        (0..self.w.len())
            .flat_map(|l| {
                let (i, o) = (self.sizes[l] as i64, self.sizes[l + 1] as i64);
                [vec![i, o], vec![o]]
            })
            .collect()
    }

    /// Change every parameter in place: `f(k, values)` for each in [`FastMlp::params`] order;
    /// what the kernels derive from them is brought up to date after.
    pub fn update(&mut self, mut f: impl FnMut(usize, &mut [f32])) {
        for (l, (w, b)) in self.w.iter_mut().zip(&mut self.b).enumerate() {
            f(2 * l, w);
            f(2 * l + 1, b);
        }
        self.params_changed();
    }

    /// [`FastMlp::update`] for a network that only ever runs forward (the target networks):
    /// the transposed kernels of the backward pass are not rebuilt (they were 5–8 % of a SAC
    /// update, perf 2026-12-04), and a later [`FastMlp::backward`] through it panics.
    pub fn update_forward_only(&mut self, mut f: impl FnMut(usize, &mut [f32])) {
        for (l, (w, b)) in self.w.iter_mut().zip(&mut self.b).enumerate() {
            f(2 * l, w);
            f(2 * l + 1, b);
        }
        self.mark_forward_only();
    }

    /// Overwrite the values with `src`'s (a network of the same shape), keeping the storage.
    pub fn copy_from(&mut self, src: &FastMlp) {
        assert_eq!(self.sizes, src.sizes, "networks of other shapes");
        self.clone_from(src);
    }

    /// The same values as libtorch leaf tensors that require grad (the reference path's and
    /// the checkpoints' view).
    pub fn to_mlp(&self) -> Mlp {
        let t =
            |v: &[f32], shape: &[i64]| Tensor::from_slice(v).reshape(shape).set_requires_grad(true);
        let shapes = self.shapes();
        Mlp {
            w: (self.w.iter().enumerate())
                .map(|(l, w)| t(w, &shapes[2 * l]))
                .collect(),
            b: (self.b.iter().enumerate())
                .map(|(l, b)| t(b, &shapes[2 * l + 1]))
                .collect(),
        }
    }

    /// The parameters as detached tensors in [`FastMlp::params`] order.
    pub fn tensors(&self) -> Vec<Tensor> {
        (self.params().iter().zip(self.shapes()))
            .map(|(v, s)| Tensor::from_slice(v).reshape(s))
            .collect()
    }

    /// Overwrite the values from tensors in [`FastMlp::params`] order (any float kind).
    pub fn load_tensors(&mut self, values: &[Tensor]) {
        assert_eq!(values.len(), 2 * self.w.len(), "tensors of another network");
        self.update(|k, dst| {
            let src = crate::fast::values(&values[k].to_kind(tch::Kind::Float));
            assert_eq!(src.len(), dst.len(), "tensor {k} of another shape");
            dst.copy_from_slice(&src);
        });
    }
}

/// The policy network (spec §3.1): scaled observation → (mean, log σ), `2·act_dim` outputs,
/// and how its mean becomes an action.
#[derive(Clone, Debug)]
pub struct PolicyNet {
    pub net: FastMlp,
    pub act_dim: usize,
    pub squash: Squash,
}

impl PolicyNet {
    pub fn from_tch(p: &Policy) -> PolicyNet {
        PolicyNet {
            net: FastMlp::from_mlp(&p.net),
            act_dim: p.act_dim,
            squash: p.squash,
        }
    }

    /// The reference path's autograd policy with the same values.
    pub fn tch(&self) -> Policy {
        Policy {
            net: self.net.to_mlp(),
            act_dim: self.act_dim,
            squash: self.squash,
        }
    }

    /// The deterministic actions squash(mean) `[n, act_dim]` for scaled observations
    /// `[n, obs_dim]` (as [`Policy::act`]).
    pub fn act(&self, s_scaled: &[f32], cache: &mut MlpCache) -> Vec<f32> {
        let n = s_scaled.len() / self.net.input_dim();
        self.net.forward(s_scaled, n, cache);
        deterministic_action(cache.output(), self.act_dim, self.squash)
    }

    /// Reparameterised samples and their log-probabilities with `eps ~ N(0, 1)` given
    /// (as [`Policy::sample`]; D14's log σ clip optional).
    pub fn sample(
        &self,
        s_scaled: &[f32],
        eps: &[f32],
        log_std_clip: Option<(f64, f64)>,
        cache: &mut MlpCache,
    ) -> GaussianSample {
        let n = s_scaled.len() / self.net.input_dim();
        self.net.forward(s_scaled, n, cache);
        gaussian_sample(cache.output(), self.act_dim, self.squash, eps, log_std_clip)
    }
}

/// Every network of an algorithm: the policy, Q1, Q2 where used, and their targets.
#[derive(Clone, Debug)]
pub struct Nets {
    pub policy: PolicyNet,
    pub q1: FastMlp,
    pub q2: Option<FastMlp>,
    pub policy_targ: PolicyNet,
    pub q1_targ: FastMlp,
    pub q2_targ: Option<FastMlp>,
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
        // The initialisers (orthogonal kernels by QR) run in libtorch, once.
        let policy =
            PolicyNet::from_tch(&Policy::new(spec.obs_dim, spec.act_dim, squash, init, rng));
        let q_in = spec.obs_dim + spec.act_dim;
        let q1 = FastMlp::from_mlp(&Mlp::new(q_in, 1, init, rng));
        let q2 = (algo.twin_critics()).then(|| FastMlp::from_mlp(&Mlp::new(q_in, 1, init, rng)));
        Nets {
            policy_targ: policy.clone(),
            q1_targ: q1.clone(),
            q2_targ: q2.clone(),
            policy,
            q1,
            q2,
        }
    }

    /// The same values as the reference path's autograd networks.
    pub fn from_tch(t: &TchNets) -> Nets {
        Nets {
            policy: PolicyNet::from_tch(&t.policy),
            q1: FastMlp::from_mlp(&t.q1),
            q2: t.q2.as_ref().map(FastMlp::from_mlp),
            policy_targ: PolicyNet::from_tch(&t.policy_targ),
            q1_targ: FastMlp::from_mlp(&t.q1_targ),
            q2_targ: t.q2_targ.as_ref().map(FastMlp::from_mlp),
        }
    }

    /// The reference path's autograd networks with these values (fresh leaf tensors).
    pub fn tch(&self) -> TchNets {
        TchNets {
            policy: self.policy.tch(),
            q1: self.q1.to_mlp(),
            q2: self.q2.as_ref().map(FastMlp::to_mlp),
            policy_targ: self.policy_targ.tch(),
            q1_targ: self.q1_targ.to_mlp(),
            q2_targ: self.q2_targ.as_ref().map(FastMlp::to_mlp),
        }
    }

    /// Every network in a fixed order (policy, q1, q2, policy', q1', q2').
    pub fn all(&self) -> Vec<&FastMlp> {
        let mut v = vec![&self.policy.net, &self.q1];
        v.extend(self.q2.as_ref());
        v.extend([&self.policy_targ.net, &self.q1_targ]);
        v.extend(self.q2_targ.as_ref());
        v
    }

    /// [`Nets::all`], mutable.
    pub fn all_mut(&mut self) -> Vec<&mut FastMlp> {
        let mut v = vec![&mut self.policy.net, &mut self.q1];
        v.extend(self.q2.as_mut());
        v.extend([&mut self.policy_targ.net, &mut self.q1_targ]);
        v.extend(self.q2_targ.as_mut());
        v
    }

    /// Every parameter as a tensor, in [`Nets::all`] order: the checkpoints' `param.{k}`.
    pub fn snapshot(&self) -> Vec<Tensor> {
        self.all().iter().flat_map(|n| n.tensors()).collect()
    }

    /// How many tensors [`Nets::snapshot`] gives.
    pub fn num_tensors(&self) -> usize {
        self.all().iter().map(|n| 2 * n.w.len()).sum()
    }

    /// Overwrite every parameter from a [`Nets::snapshot`].
    pub fn load(&mut self, values: &[Tensor]) {
        let mut k = 0;
        for net in self.all_mut() {
            let n = 2 * net.w.len();
            net.load_tensors(&values[k..k + n]);
            k += n;
        }
        assert_eq!(k, values.len(), "snapshot of other networks");
    }

    /// Overwrite every value with `src`'s (networks of the same algorithm and task), keeping
    /// the storage.
    pub fn copy_from(&mut self, src: &Nets) {
        for (d, s) in self.all_mut().into_iter().zip(src.all()) {
            d.copy_from(s);
        }
    }

    /// Soft target updates of every target network in use (spec §3.1).
    pub fn update_targets(&mut self, tau: f64) {
        polyak(&mut self.policy_targ.net, &self.policy.net, tau);
        polyak(&mut self.q1_targ, &self.q1, tau);
        if let (Some(t), Some(s)) = (&mut self.q2_targ, &self.q2) {
            polyak(t, s, tau);
        }
    }
}

/// Soft target update θ' ← θ'·(1 − τ) + θ·τ (spec §3.1) in f32, with the f32 operations of
/// [`mpg_models::nets::polyak`] on f32 tensors (the scalars rounded to f32, a product each,
/// one sum), so the two agree bit for bit.
pub fn polyak(target: &mut FastMlp, source: &FastMlp, tau: f64) {
    let src = source.params();
    let (keep, take) = ((1.0 - tau) as f32, tau as f32);
    target.update_forward_only(|k, t| {
        for (t, &s) in t.iter_mut().zip(src[k]) {
            *t = *t * keep + s * take;
        }
    });
}

/// The networks of [`Nets`] as libtorch autograd modules: the reference path's view
/// ([`Nets::tch`]), and what the reference computations and their tests are written on.
#[derive(Debug)]
pub struct TchNets {
    pub policy: Policy,
    pub q1: Mlp,
    pub q2: Option<Mlp>,
    pub policy_targ: Policy,
    pub q1_targ: Mlp,
    pub q2_targ: Option<Mlp>,
}

impl TchNets {
    /// Every network in [`Nets::all`]'s order.
    pub fn all(&self) -> Vec<&Mlp> {
        let mut v = vec![&self.policy.net, &self.q1];
        v.extend(self.q2.as_ref());
        v.extend([&self.policy_targ.net, &self.q1_targ]);
        v.extend(self.q2_targ.as_ref());
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// The plain Polyak update equals libtorch's (`mpg_models::nets::polyak`) bit for bit,
    /// over several updates.
    #[test]
    fn polyak_equals_the_tensor_update_exactly() {
        let mut rng = Rng::seed_from_u64(4);
        let a = Mlp::with_sizes(&[3, 5, 2], Init::Glorot, &mut rng);
        let b = Mlp::with_sizes(&[3, 5, 2], Init::Glorot, &mut rng);
        for t in a.b.iter().chain(&b.b) {
            tch::no_grad(|| {
                let _ = t.shallow_clone().normal_(0.0, 0.3);
            });
        }
        let (mut fa, fb) = (FastMlp::from_mlp(&a), FastMlp::from_mlp(&b));
        for _ in 0..5 {
            mpg_models::nets::polyak(&a, &b, 0.005);
            polyak(&mut fa, &fb, 0.005);
        }
        let want = FastMlp::from_mlp(&a);
        assert_eq!(fa.params(), want.params());
        // It moved (not two untouched copies).
        assert_ne!(fa.params(), FastMlp::from_mlp(&b).params());
        // A target network runs forward only: its backward transposes are not rebuilt, and a
        // backward pass through it is refused rather than silently wrong.
        let x = [0.1f32, -0.2, 0.3];
        let mut cache = MlpCache::default();
        fa.forward(&x, 1, &mut cache);
        let mut grad_in = [0.0f32; 3];
        let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            fa.backward(&cache, &[1.0, 1.0], &mut grad_in, None)
        }));
        assert!(refused.is_err(), "backward through a forward-only network");
        // After a full update the transposes follow the kernels again: the input gradient of
        // y = x·W₀ … equals the one of a freshly built network of the same values.
        let mut updated = fa.clone();
        updated.update(|_, _| {});
        let fresh = FastMlp::from_values(fa.sizes.clone(), fa.w.clone(), fa.b.clone());
        let mut want_in = [0.0f32; 3];
        fresh.forward(&x, 1, &mut cache);
        fresh.backward(&cache, &[1.0, 1.0], &mut want_in, None);
        updated.forward(&x, 1, &mut cache);
        updated.backward(&cache, &[1.0, 1.0], &mut grad_in, None);
        assert_eq!(grad_in, want_in);
        assert_ne!(want_in, [0.0; 3]);
    }

    /// Snapshot and load round-trip every value; the tensors have the parameters' shapes.
    #[test]
    fn snapshot_and_load_round_trip() {
        let task = Task::InvertedPendulum;
        let mut rng = Rng::seed_from_u64(5);
        let a = Nets::new(Algo::Td3, task, Init::Orthogonal, true, &mut rng);
        let mut b = Nets::new(Algo::Td3, task, Init::Orthogonal, true, &mut rng);
        assert_ne!(a.q1.params(), b.q1.params());
        let snap = a.snapshot();
        assert_eq!(snap.len(), a.num_tensors());
        assert_eq!(snap[0].size(), vec![task.spec().obs_dim as i64, 256]);
        let values = |n: &Nets| -> Vec<Vec<f32>> {
            n.all()
                .iter()
                .flat_map(|m| m.params())
                .map(<[f32]>::to_vec)
                .collect()
        };
        b.load(&snap);
        assert_eq!(values(&a), values(&b));
        assert_eq!(values(&a), values(&Nets::from_tch(&a.tch())));
    }
}
