//! The matrix product of the fast path, `c = alpha·op(a)·op(b) + beta·c` on row-major f32
//! slices, single-threaded (the threads split whole computations instead, see [`super::pool`]).
//!
//! Two implementations are compiled; [`gemm`] calls the one chosen by measurement
//! (docs/performance.md, "Kernels"), [`gemm_with`] either, for the kernel benchmark and the
//! tests:
//! * [`Backend::MatrixMultiply`]: `matrixmultiply::sgemm`, which dispatches on the CPU at run
//!   time (AVX-512F, AVX2+FMA, AVX, SSE2; on stable Rust ≥ 1.89 its AVX-512 kernel is built).
//! * [`Backend::Gemm`]: the `gemm` crate (0.18) with `Parallelism::None`; its run-time dispatch
//!   stops at AVX2+FMA on stable Rust (its AVX-512 kernels need the `nightly` feature).
//!
//! Both are deterministic on a given CPU: one thread, a fixed blocking, a fixed order of the
//! sums; and neither depends on the caller's thread count.

/// Which library computes the products.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    MatrixMultiply,
    Gemm,
    /// By shape and CPU (docs/performance.md, "Kernels"): [`Backend::Gemm`] when `op(a)` or
    /// `op(b)` is thin ([`THIN`] rows or columns or fewer: the batch-1 actor, a critic's one
    /// output, the policy's 2·act outputs), where `matrixmultiply` pads its fixed 16×16
    /// micro-tiles and runs at a tenth of the speed. Otherwise [`Backend::MatrixMultiply`] on
    /// cores with full-width AVX-512 units, where its AVX-512 kernel is the faster (Zen 5: 211
    /// against 130 GFLOP/s at 256³); elsewhere (Zen 4, whose AVX-512 runs on 256-bit units,
    /// and AVX2-only cores) [`Backend::MatrixMultiply`] for a transposed `a` (the backward
    /// pass's dW = Xᵀ·G) and a short inner dimension (2 ≤ k ≤ [`THIN`], a first layer), where
    /// it measured ahead, and [`Backend::Gemm`] for the rest (the forward products and dX).
    /// A function of the shape and the CPU only: a product always takes the same path on a
    /// given machine.
    Auto,
}

/// The widest `m` or `n` [`Backend::Auto`] counts as thin.
pub const THIN: usize = 8;

impl Backend {
    pub const ALL: [Backend; 3] = [Backend::MatrixMultiply, Backend::Gemm, Backend::Auto];

    pub fn name(self) -> &'static str {
        match self {
            Backend::MatrixMultiply => "matrixmultiply",
            Backend::Gemm => "gemm",
            Backend::Auto => "auto",
        }
    }
}

/// The backend [`gemm`] uses (the measurement behind it: docs/performance.md, "Kernels").
pub const CHOSEN: Backend = Backend::Auto;

/// Whether the CPU executes AVX-512 at full width: it has AVX-512F and is not an AMD family
/// 19h core (Zen 4, which splits each 512-bit operation over its 256-bit units; Zen 3 of the
/// same family has no AVX-512). Detected once.
pub fn full_width_avx512() -> bool {
    static CACHE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *CACHE.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::__cpuid;
            if !std::is_x86_feature_detected!("avx512f") {
                return false;
            }
            // SAFETY: CPUID exists on every x86-64 CPU.
            #[allow(unsafe_code, unused_unsafe)]
            let (vendor, sig) = unsafe { (__cpuid(0), __cpuid(1)) };
            let amd =
                (vendor.ebx, vendor.edx, vendor.ecx) == (0x6874_7541, 0x6974_6e65, 0x444d_4163);
            let family = ((sig.eax >> 8) & 0xf) + ((sig.eax >> 20) & 0xff);
            !(amd && family == 0x19)
        }
        #[cfg(not(target_arch = "x86_64"))]
        false
    })
}

/// `c = alpha·op(a)·op(b) + beta·c` for row-major slices: `op(a)` is `[m, k]` (`a` stored as
/// `[k, m]` when `a_t`), `op(b)` is `[k, n]` (`b` stored as `[n, k]` when `b_t`), `c` is `[m, n]`.
/// With `beta == 0` the old contents of `c` are ignored (NaNs there included).
#[inline]
pub fn gemm(
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
    gemm_with(CHOSEN, m, k, n, alpha, a, a_t, b, b_t, beta, c);
}

/// [`gemm`] on a given backend.
pub fn gemm_with(
    backend: Backend,
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
    assert!(
        a.len() >= m * k && b.len() >= k * n && c.len() >= m * n,
        "gemm: operands shorter than [{m}, {k}]·[{k}, {n}]"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        // Both libraries treat an empty sum as 0; spelled out so that beta == 0 clears NaNs.
        for v in &mut c[..m * n] {
            *v = if beta == 0.0 { 0.0 } else { beta * *v };
        }
        return;
    }
    let (rsa, csa) = if a_t { (1, m) } else { (k, 1) };
    let (rsb, csb) = if b_t { (1, k) } else { (n, 1) };
    let backend = match backend {
        // A function of the shape only: the same product always takes the same path.
        Backend::Auto if m <= THIN || n <= THIN => Backend::Gemm,
        Backend::Auto if full_width_avx512() || a_t || (2..=THIN).contains(&k) => {
            Backend::MatrixMultiply
        }
        Backend::Auto => Backend::Gemm,
        b => b,
    };
    match backend {
        // SAFETY (both arms): the lengths are checked above, so every element the strides
        // address (max index (m−1)·rs + (k−1)·cs < m·k, etc.) lies inside its slice; `c` is
        // borrowed mutably, so it aliases neither `a` nor `b`.
        #[allow(unsafe_code)]
        Backend::MatrixMultiply => unsafe {
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
        },
        // `gemm::gemm` computes dst = alpha·dst + beta·lhs·rhs (its names swapped against
        // BLAS's), reading dst only when `read_dst`; strides are (column, row).
        #[allow(unsafe_code)]
        Backend::Gemm => unsafe {
            ::gemm::gemm(
                m,
                n,
                k,
                c.as_mut_ptr(),
                1,
                n as isize,
                beta != 0.0,
                a.as_ptr(),
                csa as isize,
                rsa as isize,
                b.as_ptr(),
                csb as isize,
                rsb as isize,
                beta,
                alpha,
                false,
                false,
                false,
                ::gemm::Parallelism::None,
            );
        },
        Backend::Auto => unreachable!("resolved above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random matrix with entries in [−1, 1).
    fn matrix(len: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }

    /// The product in f64, one sum per element.
    fn naive(
        m: usize,
        k: usize,
        n: usize,
        alpha: f32,
        a: &[f32],
        a_t: bool,
        b: &[f32],
        b_t: bool,
        beta: f32,
        c: &[f32],
    ) -> Vec<f64> {
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0f64;
                for p in 0..k {
                    let av = if a_t { a[p * m + i] } else { a[i * k + p] };
                    let bv = if b_t { b[j * k + p] } else { b[p * n + j] };
                    s += av as f64 * bv as f64;
                }
                let old = if beta == 0.0 {
                    0.0
                } else {
                    beta as f64 * c[i * n + j] as f64
                };
                out[i * n + j] = alpha as f64 * s + old;
            }
        }
        out
    }

    #[test]
    fn every_backend_matches_the_naive_product_on_odd_shapes_and_all_transposes() {
        let shapes = [
            (1, 1, 1),
            (1, 5, 256),
            (7, 3, 5),
            (17, 33, 9),
            (256, 5, 256),
            (31, 256, 1),
            (64, 65, 63),
            (3, 0, 4),
        ];
        let mut seed = 1;
        for backend in Backend::ALL {
            for &(m, k, n) in &shapes {
                for (a_t, b_t) in [(false, false), (true, false), (false, true), (true, true)] {
                    for (alpha, beta) in [(1.0, 0.0), (0.5, 1.0), (-2.0, 0.25)] {
                        seed += 1;
                        let a = matrix(m * k, seed);
                        let b = matrix(k * n, seed + 1000);
                        // A NaN must not leak from c's old contents when beta = 0.
                        let mut c = matrix(m * n, seed + 2000);
                        if beta == 0.0 && !c.is_empty() {
                            c[0] = f32::NAN;
                        }
                        let want = naive(m, k, n, alpha, &a, a_t, &b, b_t, beta, &c);
                        gemm_with(backend, m, k, n, alpha, &a, a_t, &b, b_t, beta, &mut c);
                        for (idx, (&got, &w)) in c.iter().zip(&want).enumerate() {
                            assert!(
                                (got as f64 - w).abs() <= 1e-5 * (1.0 + k as f64),
                                "{backend:?} [{m}×{k}]·[{k}×{n}] a_t={a_t} b_t={b_t} \
                                 alpha={alpha} beta={beta} at {idx}: {got} vs {w}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn full_width_avx512_agrees_with_proc_cpuinfo() {
        let Ok(info) = std::fs::read_to_string("/proc/cpuinfo") else {
            return; // not Linux: nothing to compare with
        };
        let field = |name: &str| {
            info.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split(':').nth(1))
                .map(|v| v.trim().to_string())
        };
        let Some(flags) = field("flags") else { return };
        let avx512 = flags.split_whitespace().any(|f| f == "avx512f");
        let zen4_family = field("vendor_id").as_deref() == Some("AuthenticAMD")
            && field("cpu family").as_deref() == Some("25");
        assert_eq!(full_width_avx512(), avx512 && !zen4_family);
    }

    #[test]
    fn a_product_repeats_bit_for_bit() {
        let (m, k, n) = (256, 256, 256);
        let (a, b) = (matrix(m * k, 1), matrix(k * n, 2));
        let mut first = vec![0.0; m * n];
        gemm(m, k, n, 1.0, &a, false, &b, false, 0.0, &mut first);
        let mut again = vec![1.0; m * n];
        gemm(m, k, n, 1.0, &a, false, &b, false, 0.0, &mut again);
        assert_eq!(
            first.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            again.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }
}
