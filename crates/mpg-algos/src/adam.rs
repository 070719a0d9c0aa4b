//! Adam as Keras runs it, with the spec's linear learning-rate decay (spec §3.1, D10).
//!
//! The project's own code on tch tensors (not `tch::nn::Optimizer`) so that its state — both
//! moments and the step count — can be saved into checkpoints and loaded back exactly.

use tch::Tensor;

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

/// Adam's state for one network (one moment pair per parameter tensor).
#[derive(Debug)]
pub struct Adam {
    pub lr: LinearDecay,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Applies so far (Keras's `iterations`).
    pub step: u64,
    pub m: Vec<Tensor>,
    pub v: Vec<Tensor>,
}

impl Adam {
    /// β₁ 0.9, β₂ 0.999, ε 1e-7 (Keras defaults, spec §3.1).
    pub fn new(params: &[Tensor], lr: LinearDecay) -> Adam {
        let zeros = |p: &Tensor| p.zeros_like().detach();
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-7,
            step: 0,
            m: params.iter().map(zeros).collect(),
            v: params.iter().map(zeros).collect(),
        }
    }

    /// One update of `params` with `grads`. Keras places ε on √v before the bias correction
    /// is folded into the step size: θ ← θ − lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ) · m / (√v + ε).
    pub fn apply(&mut self, params: &[Tensor], grads: &[Tensor]) {
        let lr = self.lr.at(self.step);
        self.step += 1;
        let t = self.step as i32;
        let lr_t = lr * (1.0 - self.beta2.powi(t)).sqrt() / (1.0 - self.beta1.powi(t));
        tch::no_grad(|| {
            for ((p, g), (m, v)) in params
                .iter()
                .zip(grads)
                .zip(self.m.iter_mut().zip(self.v.iter_mut()))
            {
                let _ = m.g_mul_scalar_(self.beta1);
                let _ = m.g_add_(&(g * (1.0 - self.beta1)));
                let _ = v.g_mul_scalar_(self.beta2);
                let _ = v.g_add_(&(g.square() * (1.0 - self.beta2)));
                let update = &*m / (v.sqrt() + self.eps) * lr_t;
                let _ = p.shallow_clone().g_sub_(&update);
            }
        });
    }

    /// The same step as [`Adam::apply`] in one plain-Rust pass over each f32 parameter's values
    /// (the fast path, `learner.path = fast`): libtorch's ~8 operations and temporaries per
    /// tensor cost more than the arithmetic. The f32 operations are the reference's, in its
    /// order; only √v may round differently (libtorch's vectorised sqrt), so the two agree to
    /// an ulp or so, and each is deterministic. Other kinds fall back to [`Adam::apply`].
    pub fn apply_fused(&mut self, params: &[Tensor], grads: &[Tensor]) {
        if params
            .iter()
            .chain(grads)
            .any(|t| t.kind() != tch::Kind::Float)
        {
            return self.apply(params, grads);
        }
        let lr = self.lr.at(self.step);
        self.step += 1;
        let t = self.step as i32;
        let lr_t = lr * (1.0 - self.beta2.powi(t)).sqrt() / (1.0 - self.beta1.powi(t));
        let (b1, b2) = (self.beta1 as f32, self.beta2 as f32);
        let (c1, c2) = ((1.0 - self.beta1) as f32, (1.0 - self.beta2) as f32);
        let (eps, lr_t) = (self.eps as f32, lr_t as f32);
        let values = |t: &Tensor| {
            let mut v = vec![0.0f32; t.numel()];
            t.copy_data(&mut v, t.numel());
            v
        };
        tch::no_grad(|| {
            for ((p, g), (m, v)) in params
                .iter()
                .zip(grads)
                .zip(self.m.iter_mut().zip(self.v.iter_mut()))
            {
                let g = values(&g.contiguous());
                let (mut pv, mut mv, mut vv) = (values(p), values(m), values(v));
                for (((p, m), v), &g) in pv.iter_mut().zip(&mut mv).zip(&mut vv).zip(&g) {
                    *m = *m * b1 + g * c1;
                    *v = *v * b2 + g * g * c2;
                    *p -= *m / (v.sqrt() + eps) * lr_t;
                }
                let size = p.size();
                m.copy_(&Tensor::from_slice(&mv).reshape(&size));
                v.copy_(&Tensor::from_slice(&vv).reshape(&size));
                p.shallow_clone()
                    .copy_(&Tensor::from_slice(&pv).reshape(&size));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// Two steps computed by hand in f64 with Keras's formula.
    #[test]
    fn two_steps_match_hand_computation() {
        let p = Tensor::from_slice(&[1.0f64, -2.0]).set_requires_grad(true);
        let lr = LinearDecay {
            init: 0.1,
            end: 0.01,
            steps: 10,
        };
        let mut adam = Adam::new(&[p.shallow_clone()], lr);
        let g1 = Tensor::from_slice(&[0.5f64, -1.0]);
        let g2 = Tensor::from_slice(&[0.25f64, 2.0]);
        adam.apply(&[p.shallow_clone()], &[g1]);
        adam.apply(&[p.shallow_clone()], &[g2]);
        let mut want = [1.0f64, -2.0];
        let gs = [[0.5, -1.0], [0.25, 2.0]];
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
        let got: Vec<f64> = Vec::try_from(&p.detach()).unwrap();
        for j in 0..2 {
            assert!((got[j] - want[j]).abs() < 1e-12, "{got:?} vs {want:?}");
        }
        assert_eq!(adam.step, 2);
    }

    /// The fused step equals the tch one to f32 rounding, over several steps of 2-D and 1-D
    /// f32 parameters, moments included.
    #[test]
    fn fused_steps_equal_the_tensor_steps() {
        let lr = LinearDecay {
            init: 1e-3,
            end: 1e-4,
            steps: 5,
        };
        let shapes: [&[i64]; 2] = [&[7, 5], &[5]];
        let init: Vec<Tensor> = shapes
            .iter()
            .map(|s| Tensor::randn(*s, (tch::Kind::Float, tch::Device::Cpu)))
            .collect();
        let make = || -> Vec<Tensor> {
            init.iter()
                .map(|t| t.copy().set_requires_grad(true))
                .collect()
        };
        let (pa, pb) = (make(), make());
        let (mut a, mut b) = (Adam::new(&pa, lr), Adam::new(&pb, lr));
        for k in 0..7 {
            let g: Vec<Tensor> = init
                .iter()
                .map(|t| t.randn_like() * (k + 1) as f64)
                .collect();
            a.apply(&pa, &g);
            b.apply_fused(&pb, &g);
        }
        let close = |x: &Tensor, y: &Tensor| {
            let d = f64::try_from((x - y).abs().max()).unwrap();
            let s = f64::try_from(y.abs().max()).unwrap();
            assert!(d <= 1e-6 * s, "{d:e} vs scale {s:e}");
        };
        for i in 0..2 {
            close(&pb[i].detach(), &pa[i].detach());
            close(&b.m[i], &a.m[i]);
            close(&b.v[i], &a.v[i]);
        }
        // The step moved the parameters (so the comparison is not of two untouched copies).
        assert!(f64::try_from((&pb[0].detach() - &init[0]).abs().max()).unwrap() > 1e-4);
        assert_eq!(b.step, 7);
    }
}
