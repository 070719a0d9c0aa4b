//! An f32 MLP in plain Rust (ELU hidden layers, linear output), with a forward pass that keeps
//! what the backward pass needs and a backward pass giving the input gradient and, optionally,
//! the parameter gradients. The products are [`super::gemm`]'s, the element-wise loops
//! [`super::simd`]'s.

use super::gemm::gemm;
#[cfg(test)]
pub(crate) use super::simd::expm1_neg;
use super::simd::{add_bias, add_rows, bias_elu, elu_backward};
use mpg_models::nets::Mlp;
use tch::{Kind, Tensor};

/// The values of an [`Mlp`]'s tensors as row-major f32 vectors (`w[l]` is `[in, out]`).
#[derive(Clone, Debug)]
pub struct FastMlp {
    /// Layer widths, input first: `sizes[l] → sizes[l + 1]` is layer l.
    pub sizes: Vec<usize>,
    pub w: Vec<Vec<f32>>,
    /// `w[l]` transposed (`[out, in]`), for the backward pass's products: packing a
    /// row-major operand is cheaper than packing a transposed one.
    wt: Vec<Vec<f32>>,
    /// `wt` no longer matches `w`: the network was last changed by
    /// [`FastMlp::update_forward_only`] (a target network, which only ever runs forward), and
    /// [`FastMlp::backward`] refuses it.
    wt_stale: bool,
    pub b: Vec<Vec<f32>>,
}

/// What a forward pass keeps for the backward pass: each layer's input `[n, in]` and each
/// layer's pre-activation `[n, out]` (the last one is the network's output).
#[derive(Clone, Debug, Default)]
pub struct MlpCache {
    pub n: usize,
    pub inputs: Vec<Vec<f32>>,
    pub pre: Vec<Vec<f32>>,
}

impl MlpCache {
    /// The network's output `[n, out]` of the last forward pass.
    pub fn output(&self) -> &[f32] {
        self.pre.last().expect("a forward pass ran")
    }
}

/// Gradients with one vector per parameter tensor, in [`Mlp::params`] order (w₀, b₀, w₁, …).
pub type ParamGrads = Vec<Vec<f32>>;

fn tensor_values(t: &Tensor) -> Vec<f32> {
    let t = t.detach().to_kind(Kind::Float).contiguous().view(-1);
    Vec::<f32>::try_from(&t).expect("a float tensor")
}

impl FastMlp {
    /// Copy the current values of `net`'s parameters.
    pub fn from_mlp(net: &Mlp) -> FastMlp {
        let mut sizes = vec![net.w[0].size()[0] as usize];
        sizes.extend(net.w.iter().map(|w| w.size()[1] as usize));
        let w = net.w.iter().map(tensor_values).collect();
        let b = net.b.iter().map(tensor_values).collect();
        FastMlp::from_values(sizes, w, b)
    }

    /// A network of layer widths `sizes` (input first) with kernels `w[l]` (`[in, out]`,
    /// row-major) and biases `b[l]`.
    pub fn from_values(sizes: Vec<usize>, w: Vec<Vec<f32>>, b: Vec<Vec<f32>>) -> FastMlp {
        assert_eq!(w.len() + 1, sizes.len(), "one kernel per layer");
        assert_eq!(b.len() + 1, sizes.len(), "one bias per layer");
        for l in 0..w.len() {
            assert_eq!(
                w[l].len(),
                sizes[l] * sizes[l + 1],
                "kernel {l} of the wrong size"
            );
            assert_eq!(b[l].len(), sizes[l + 1], "bias {l} of the wrong size");
        }
        let mut net = FastMlp {
            sizes,
            w,
            wt: Vec::new(),
            wt_stale: false,
            b,
        };
        net.params_changed();
        net
    }

    /// Recompute what is derived from the kernels (their transposes) after `w` changed in
    /// place; every writer of `w` calls it.
    pub(crate) fn params_changed(&mut self) {
        self.wt_stale = false;
        self.wt.resize(self.w.len(), Vec::new());
        for (l, (w, wt)) in self.w.iter().zip(&mut self.wt).enumerate() {
            let (din, dout) = (self.sizes[l], self.sizes[l + 1]);
            wt.resize(din * dout, 0.0);
            // In 16×16 tiles: a row-by-row transpose strides its stores over the whole matrix
            // and was 8 % of a SAC update (six networks change per update, perf 2026-12-04).
            const T: usize = 16;
            for i0 in (0..din).step_by(T) {
                for j0 in (0..dout).step_by(T) {
                    for i in i0..(i0 + T).min(din) {
                        for j in j0..(j0 + T).min(dout) {
                            wt[j * din + i] = w[i * dout + j];
                        }
                    }
                }
            }
        }
    }

    /// `w` changed without [`FastMlp::params_changed`]: see the `wt_stale` field.
    pub(crate) fn mark_forward_only(&mut self) {
        self.wt_stale = true;
    }

    pub fn input_dim(&self) -> usize {
        self.sizes[0]
    }

    pub fn output_dim(&self) -> usize {
        *self.sizes.last().unwrap()
    }

    /// Zero gradients shaped like the parameters, in [`Mlp::params`] order.
    pub fn zero_grads(&self) -> ParamGrads {
        self.w
            .iter()
            .zip(&self.b)
            .flat_map(|(w, b)| [vec![0.0; w.len()], vec![0.0; b.len()]])
            .collect()
    }

    /// Forward `x` (`[n, in]`, row-major) into `cache`; the output is `cache.output()`.
    pub fn forward(&self, x: &[f32], n: usize, cache: &mut MlpCache) {
        let layers = self.w.len();
        assert_eq!(x.len(), n * self.sizes[0], "input of the wrong size");
        cache.n = n;
        cache.inputs.resize(layers, Vec::new());
        cache.pre.resize(layers, Vec::new());
        cache.inputs[0].clear();
        cache.inputs[0].extend_from_slice(x);
        for l in 0..layers {
            let (din, dout) = (self.sizes[l], self.sizes[l + 1]);
            let z = &mut cache.pre[l];
            z.resize(n * dout, 0.0);
            gemm(
                n,
                din,
                dout,
                1.0,
                &cache.inputs[l],
                false,
                &self.w[l],
                false,
                0.0,
                z,
            );
            if l + 1 < layers {
                let h = &mut cache.inputs[l + 1];
                h.resize(n * dout, 0.0);
                bias_elu(z, &self.b[l], h);
            } else {
                add_bias(z, &self.b[l]);
            }
        }
    }

    /// Backward from `grad_out` (dL/d output, `[n, out]`) through the pass kept in `cache`:
    /// writes dL/d input (`[n, in]`) into `grad_in` and, when given, ADDS the parameter
    /// gradients into `param_grads` ([`Mlp::params`] order, see [`FastMlp::zero_grads`]).
    pub fn backward(
        &self,
        cache: &MlpCache,
        grad_out: &[f32],
        grad_in: &mut [f32],
        mut param_grads: Option<&mut ParamGrads>,
    ) {
        assert!(
            !self.wt_stale,
            "a backward pass through a network updated for forward passes only (a target network)"
        );
        let n = cache.n;
        let layers = self.w.len();
        assert_eq!(grad_out.len(), n * self.output_dim());
        assert_eq!(grad_in.len(), n * self.input_dim());
        // g: dL/d pre-activation of layer l.
        let mut g = grad_out.to_vec();
        let mut dh = Vec::new();
        for l in (0..layers).rev() {
            let (din, dout) = (self.sizes[l], self.sizes[l + 1]);
            if let Some(pg) = param_grads.as_deref_mut() {
                gemm(
                    din,
                    n,
                    dout,
                    1.0,
                    &cache.inputs[l],
                    true,
                    &g,
                    false,
                    1.0,
                    &mut pg[2 * l],
                );
                add_rows(&mut pg[2 * l + 1], &g);
            }
            if l == 0 {
                gemm(
                    n,
                    dout,
                    din,
                    1.0,
                    &g,
                    false,
                    &self.wt[0],
                    false,
                    0.0,
                    grad_in,
                );
            } else {
                dh.resize(n * din, 0.0);
                gemm(
                    n,
                    dout,
                    din,
                    1.0,
                    &g,
                    false,
                    &self.wt[l],
                    false,
                    0.0,
                    &mut dh,
                );
                g.resize(n * din, 0.0);
                elu_backward(&dh, &cache.inputs[l], &mut g);
            }
        }
    }
}
