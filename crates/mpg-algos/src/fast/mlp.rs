//! An f32 MLP in plain Rust (ELU hidden layers, linear output), with a forward pass that keeps
//! what the backward pass needs and a backward pass giving the input gradient and, optionally,
//! the parameter gradients. Products through `matrixmultiply::sgemm`, single-threaded.

use mpg_models::nets::Mlp;
use tch::{Kind, Tensor};

/// `c = alpha·op(a)·op(b) + beta·c` for row-major slices: `op(a)` is `[m, k]` (`a` stored as
/// `[k, m]` when `a_t`), `op(b)` is `[k, n]` (`b` stored as `[n, k]` when `b_t`), `c` is `[m, n]`.
/// With `beta == 0` the old contents of `c` are ignored.
#[allow(clippy::many_single_char_names)]
pub(crate) fn gemm(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: &[f32],
    a_t: bool,
    b: &[f32],
    b_t: bool,
    beta: f32,
    c: &mut [f32],
) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    let (rsa, csa) = if a_t { (1, m) } else { (k, 1) };
    let (rsb, csb) = if b_t { (1, k) } else { (n, 1) };
    // SAFETY: the lengths are checked above, so every element the strides address
    // (max index (m−1)·rs + (k−1)·cs < m·k, etc.) lies inside its slice; `c` is borrowed
    // mutably, so it aliases neither `a` nor `b`.
    #[allow(unsafe_code)]
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            alpha,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// The values of an [`Mlp`]'s tensors as row-major f32 vectors (`w[l]` is `[in, out]`).
#[derive(Clone, Debug)]
pub struct FastMlp {
    /// Layer widths, input first: `sizes[l] → sizes[l + 1]` is layer l.
    pub sizes: Vec<usize>,
    pub w: Vec<Vec<f32>>,
    /// `w[l]` transposed (`[out, in]`), for the backward pass's products: packing a
    /// row-major operand is cheaper than packing a transposed one.
    wt: Vec<Vec<f32>>,
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

/// eˣ − 1 for x ≤ 0 in f32, branch-free so that a loop of it vectorises (libm's `expm1f` per
/// element was a quarter of the policy gradient's time). x = n·ln 2 + t with |t| ≤ ln 2 / 2,
/// eᵗ − 1 by its Taylor polynomial to t⁸ (truncation < 1e-9), then 2ⁿ·(eᵗ − 1) + (2ⁿ − 1),
/// exact at n = 0 so that small |x| keep their relative accuracy. Within a few ulp of
/// `expm1f`; x below −87 gives −1.
#[inline(always)]
pub(crate) fn expm1_neg(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    const ROUND: f32 = 12_582_912.0; // 1.5·2²³: adding and subtracting rounds to an integer
    let x = x.clamp(-87.0, 0.0);
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let t = (x - n * LN2_HI) - n * LN2_LO;
    // Horner: t + t²/2 + … + t⁸/8!
    let mut p = 1.0 / 40_320.0;
    p = p * t + 1.0 / 5_040.0;
    p = p * t + 1.0 / 720.0;
    p = p * t + 1.0 / 120.0;
    p = p * t + 1.0 / 24.0;
    p = p * t + 1.0 / 6.0;
    p = p * t + 0.5;
    p = p * t + 1.0;
    let em1 = p * t;
    // n sits in the low mantissa bits of `shifted` (integer ops, so that the loop vectorises).
    let n_int = shifted.to_bits().wrapping_sub(ROUND.to_bits());
    let two_n = f32::from_bits(n_int.wrapping_add(127) << 23);
    two_n * em1 + (two_n - 1.0)
}

#[inline(always)]
fn elu(x: f32) -> f32 {
    let neg = expm1_neg(x);
    if x > 0.0 { x } else { neg }
}

/// Defines `fn $name` whose body is compiled twice: for AVX2 and FMA, taken where the CPU has
/// them (runtime detection), so that its element-wise loops vectorise 8-wide instead of
/// SSE2's 4; and as compiled, otherwise. The arithmetic is the same either way (Rust never
/// contracts a·b + c into an FMA on its own), so results do not depend on the CPU.
macro_rules! simd_fn {
    ($(#[$m:meta])* fn $name:ident($($arg:ident: $ty:ty),*) $body:block) => {
        $(#[$m])*
        fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn body($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) {
                    body($($arg),*)
                }
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU has both features (checked just above).
                    #[allow(unsafe_code)]
                    unsafe {
                        avx2($($arg),*)
                    };
                    return;
                }
            }
            body($($arg),*)
        }
    };
}

simd_fn! {
    /// z ← z + b (per row) and h ← ELU(z): a hidden layer's bias and activation in one pass.
    fn bias_elu(z: &mut [f32], b: &[f32], h: &mut [f32]) {
        for (zr, hr) in z.chunks_exact_mut(b.len()).zip(h.chunks_exact_mut(b.len())) {
            for ((zi, hi), &bi) in zr.iter_mut().zip(hr.iter_mut()).zip(b) {
                *zi += bi;
                *hi = elu(*zi);
            }
        }
    }
}

/// z ← z + b per row (the output layer's bias).
fn add_bias(z: &mut [f32], b: &[f32]) {
    for zr in z.chunks_exact_mut(b.len()) {
        for (zi, &bi) in zr.iter_mut().zip(b) {
            *zi += bi;
        }
    }
}

simd_fn! {
    /// g ← dh ⊙ ELU′ from the activation h = ELU(z): ELU′(z) = 1 for z > 0, else
    /// exp(z) = elu(z) + 1 ≤ 1; and elu(z) + 1 > 1 for z > 0: so ELU′(z) = min(h + 1, 1), a
    /// form that vectorises.
    fn elu_backward(dh: &[f32], h: &[f32], g: &mut [f32]) {
        for ((gi, &d), &hi) in g.iter_mut().zip(dh).zip(h) {
            *gi = d * (hi + 1.0).min(1.0);
        }
    }
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
            b,
        };
        net.params_changed();
        net
    }

    /// Recompute what is derived from the kernels (their transposes) after `w` changed in
    /// place; every writer of `w` calls it.
    pub(crate) fn params_changed(&mut self) {
        self.wt.resize(self.w.len(), Vec::new());
        for (l, (w, wt)) in self.w.iter().zip(&mut self.wt).enumerate() {
            let (din, dout) = (self.sizes[l], self.sizes[l + 1]);
            wt.resize(din * dout, 0.0);
            for i in 0..din {
                for j in 0..dout {
                    wt[j * din + i] = w[i * dout + j];
                }
            }
        }
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
                let db = &mut pg[2 * l + 1];
                for row in g.chunks_exact(dout) {
                    for (d, &v) in db.iter_mut().zip(row) {
                        *d += v;
                    }
                }
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
