//! Adam as Keras runs it, with the spec's linear learning-rate decay (spec §3.1, D10).
//!
//! The project's own code on the plain parameters (not `tch::nn::Optimizer`) so that its
//! state — both moments and the step count — can be saved into checkpoints and loaded back
//! exactly.

use crate::fast::mlp::FastMlp;

/// Keras `PolynomialDecay(init, decay_steps, end, power = 1)`:
/// lr(k) = (init − end)·(1 − min(k, steps)/steps) + end, k = this optimiser's apply count.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinearDecay {
    pub init: f64,
    pub end: f64,
    pub steps: u64,
}

impl LinearDecay {
    pub fn at(&self, k: u64) -> f64 {
        let frac = k.min(self.steps) as f64 / self.steps as f64;
        (self.init - self.end) * (1.0 - frac) + self.end
    }
}

/// Adam's state for one network: one moment pair per parameter, plain f32 in
/// [`FastMlp::params`] order.
#[derive(Clone, Debug)]
pub struct Adam {
    pub lr: LinearDecay,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Applies so far (Keras's `iterations`).
    pub step: u64,
    pub m: Vec<Vec<f32>>,
    pub v: Vec<Vec<f32>>,
}

impl Adam {
    /// β₁ 0.9, β₂ 0.999, ε 1e-7 (Keras defaults, spec §3.1), moments zero.
    pub fn new(net: &FastMlp, lr: LinearDecay) -> Adam {
        let zeros: Vec<Vec<f32>> = net.params().iter().map(|p| vec![0.0; p.len()]).collect();
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-7,
            step: 0,
            m: zeros.clone(),
            v: zeros,
        }
    }

    /// The step size of the next update: Keras places ε on √v before the bias correction is
    /// folded into the step size, θ ← θ − lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ) · m / (√v + ε).
    pub fn next_lr_t(&self) -> f64 {
        let lr = self.lr.at(self.step);
        let t = (self.step + 1) as i32;
        lr * (1.0 - self.beta2.powi(t)).sqrt() / (1.0 - self.beta1.powi(t))
    }

    /// One update of `net` with `grads`, in one plain-Rust pass over each parameter. The f32
    /// operations are libtorch's for the same step on f32 tensors (scalars rounded to f32,
    /// m ← m·β₁ + g·(1 − β₁), v ← v·β₂ + g²·(1 − β₂), θ ← θ − m / (√v + ε)·lr_t) in its
    /// order; only √v may round differently from libtorch's vectorised sqrt, so the two agree
    /// to an ulp or so (the test below), and each is deterministic.
    pub fn apply(&mut self, net: &mut FastMlp, grads: &[Vec<f32>]) {
        assert_eq!(grads.len(), self.m.len(), "gradients of another network");
        let lr_t = self.next_lr_t();
        self.step += 1;
        let (b1, b2) = (self.beta1 as f32, self.beta2 as f32);
        let (c1, c2) = ((1.0 - self.beta1) as f32, (1.0 - self.beta2) as f32);
        let (eps, lr_t) = (self.eps as f32, lr_t as f32);
        let (ms, vs) = (&mut self.m, &mut self.v);
        net.update(|k, p| {
            let (m, v, g) = (&mut ms[k], &mut vs[k], &grads[k]);
            assert_eq!(g.len(), p.len(), "gradient {k} of another shape");
            for (((p, m), v), &g) in p.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(g) {
                *m = *m * b1 + g * c1;
                *v = *v * b2 + g * g * c2;
                *p -= *m / (v.sqrt() + eps) * lr_t;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Tensor;

    #[test]
    fn learning_rate_decays_linearly_then_holds() {
        let d = LinearDecay {
            init: 8e-5,
            end: 8e-6,
            steps: 100_000,
        };
        assert_eq!(d.at(0), 8e-5);
        assert!((d.at(50_000) - 4.4e-5).abs() < 1e-15);
        assert!((d.at(100_000) - 8e-6).abs() < 1e-18);
        assert!((d.at(250_000) - 8e-6).abs() < 1e-18);
    }

    /// libtorch's ops for one Adam step on f32 tensors, as the project ran it before the
    /// parameters were plain: the reference the plain step is held to.
    fn tensor_step(adam: &Adam, p: &Tensor, g: &Tensor, m: &mut Tensor, v: &mut Tensor) {
        let lr_t = adam.next_lr_t();
        tch::no_grad(|| {
            let _ = m.g_mul_scalar_(adam.beta1);
            let _ = m.g_add_(&(g * (1.0 - adam.beta1)));
            let _ = v.g_mul_scalar_(adam.beta2);
            let _ = v.g_add_(&(g.square() * (1.0 - adam.beta2)));
            let update = &*m / (v.sqrt() + adam.eps) * lr_t;
            let _ = p.shallow_clone().g_sub_(&update);
        });
    }

    /// Two steps computed by hand in f64 with Keras's formula (to f32 rounding).
    #[test]
    fn two_steps_match_hand_computation() {
        let mut net = FastMlp::from_values(vec![1, 2], vec![vec![1.0, -2.0]], vec![vec![0.0; 2]]);
        let lr = LinearDecay {
            init: 0.1,
            end: 0.01,
            steps: 10,
        };
        let mut adam = Adam::new(&net, lr);
        let gs = [[0.5, -1.0], [0.25, 2.0]];
        for g in gs {
            adam.apply(&mut net, &[vec![g[0] as f32, g[1] as f32], vec![0.0; 2]]);
        }
        let mut want = [1.0f64, -2.0];
        let (mut m, mut v) = ([0.0; 2], [0.0; 2]);
        for (t, g) in gs.iter().enumerate() {
            let lr = 0.1 - 0.09 * t as f64 / 10.0;
            let tt = (t + 1) as i32;
            let lr_t = lr * (1.0 - 0.999f64.powi(tt)).sqrt() / (1.0 - 0.9f64.powi(tt));
            for j in 0..2 {
                m[j] = 0.9 * m[j] + 0.1 * g[j];
                v[j] = 0.999 * v[j] + 0.001 * g[j] * g[j];
                want[j] -= lr_t * m[j] / (v[j].sqrt() + 1e-7);
            }
        }
        for (&got, want) in net.w[0].iter().zip(want) {
            assert!((got as f64 - want).abs() < 1e-6, "{got} vs {want}");
        }
        // A zero gradient with zero moments leaves the bias where it was.
        assert_eq!(net.b[0], vec![0.0; 2]);
        assert_eq!(adam.step, 2);
    }

    /// The plain step equals libtorch's tensor step to f32 rounding, over several steps of a
    /// network's 2-D and 1-D parameters, moments included.
    #[test]
    fn plain_steps_equal_the_tensor_steps() {
        let lr = LinearDecay {
            init: 1e-3,
            end: 1e-4,
            steps: 5,
        };
        let kind = (tch::Kind::Float, tch::Device::Cpu);
        let (w, b) = (Tensor::randn([7, 5], kind), Tensor::randn([5], kind));
        let mut net = FastMlp::from_mlp(&mpg_models::nets::Mlp {
            w: vec![w.copy()],
            b: vec![b.copy()],
        });
        let params = [w.copy(), b.copy()];
        let mut adam = Adam::new(&net, lr);
        let mut m: Vec<Tensor> = params.iter().map(Tensor::zeros_like).collect();
        let mut v: Vec<Tensor> = params.iter().map(Tensor::zeros_like).collect();
        for k in 0..7 {
            let g: Vec<Tensor> = params
                .iter()
                .map(|t| t.randn_like() * (k + 1) as f64)
                .collect();
            for i in 0..2 {
                tensor_step(&adam, &params[i], &g[i], &mut m[i], &mut v[i]);
            }
            let plain: Vec<Vec<f32>> = g.iter().map(crate::fast::values).collect();
            adam.apply(&mut net, &plain);
        }
        let close = |x: &[f32], y: &Tensor| {
            let y = crate::fast::values(y);
            let d = x
                .iter()
                .zip(&y)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            let s = y.iter().map(|b| b.abs()).fold(0.0, f32::max);
            assert!(d <= 1e-6 * s, "{d:e} vs scale {s:e}");
        };
        let got = net.params();
        for i in 0..2 {
            close(got[i], &params[i]);
            close(&adam.m[i], &m[i]);
            close(&adam.v[i], &v[i]);
        }
        // The step moved the parameters (so the comparison is not of two untouched copies).
        let moved = got[0]
            .iter()
            .zip(crate::fast::values(&w))
            .map(|(a, b)| (a - b).abs());
        assert!(moved.fold(0.0, f32::max) > 1e-4);
        // The backward pass's transposes follow the updated kernel.
        let fresh = FastMlp::from_values(net.sizes.clone(), net.w.clone(), net.b.clone());
        assert_eq!(format!("{fresh:?}"), format!("{net:?}"));
        assert_eq!(adam.step, 7);
    }
}
