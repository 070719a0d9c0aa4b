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
    /// By shape: [`Backend::Gemm`] when `op(a)` or `op(b)` is thin ([`THIN`] rows or columns
    /// or fewer: the batch-1 actor, a critic's one output, the policy's 2·act outputs), where
    /// `matrixmultiply` pads its fixed-size micro-tiles and runs at a tenth of the speed;
    /// [`Backend::MatrixMultiply`] otherwise (on par on Zen 4, and its AVX-512 kernel is the
    /// faster on cores with full-width AVX-512 units).
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

/// `c = alpha·op(a)·op(b) + beta·c` for row-major slices: `op(a)` is `[m, k]` (`a` stored as
/// `[k, m]` when `a_t`), `op(b)` is `[k, n]` (`b` stored as `[n, k]` when `b_t`), `c` is `[m, n]`.
/// With `beta == 0` the old contents of `c` are ignored (NaNs there included).
#[allow(clippy::too_many_arguments)]
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
#[allow(clippy::too_many_arguments)]
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
        Backend::Auto => Backend::MatrixMultiply,
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
    #[allow(clippy::too_many_arguments)]
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
