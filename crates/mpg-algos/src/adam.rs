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
}
