//! The element-wise loops of the MLP (bias, ELU and its derivative), each compiled three times —
//! for AVX-512F, for AVX2+FMA, and as compiled (SSE2 on x86-64) — and dispatched on the CPU's
//! features at run time, widest first: 16, 8 or 4 lanes per instruction.
//!
//! The arithmetic is the same in every variant: Rust never contracts a·b + c into an FMA on its
//! own, the loops have no reductions whose order the vectoriser could change (each output
//! element is computed by one chain of operations), so results do not depend on which branch
//! ran; `every_level_gives_the_same_bits` holds the levels the test machine has to that.

use std::sync::atomic::{AtomicU8, Ordering};

/// An instruction-set level of the dispatch, narrowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// As compiled for the target (SSE2 on x86-64).
    Compiled,
    Avx2Fma,
    Avx512,
}

impl Level {
    pub const ALL: [Level; 3] = [Level::Compiled, Level::Avx2Fma, Level::Avx512];

    fn code(self) -> u8 {
        self as u8 + 1
    }
}

/// The widest level this CPU has (detected once).
pub fn detected() -> Level {
    static CACHE: AtomicU8 = AtomicU8::new(0);
    let code = CACHE.load(Ordering::Relaxed);
    if code != 0 {
        return Level::ALL[code as usize - 1];
    }
    let level = detect();
    CACHE.store(level.code(), Ordering::Relaxed);
    level
}

fn detect() -> Level {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            return Level::Avx512;
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            return Level::Avx2Fma;
        }
    }
    Level::Compiled
}

#[cfg(test)]
thread_local! {
    /// A level the tests force on their own thread (at most [`detected`]).
    static FORCED: std::cell::Cell<Option<Level>> = const { std::cell::Cell::new(None) };
}

/// Run `f` with this thread's element-wise loops at `level` (a test hook).
#[cfg(test)]
pub(crate) fn with_level<R>(level: Level, f: impl FnOnce() -> R) -> R {
    assert!(level <= detected(), "{level:?} is not on this CPU");
    let old = FORCED.with(|c| c.replace(Some(level)));
    let r = f();
    FORCED.with(|c| c.set(old));
    r
}

/// The level the loops run at on this thread.
#[inline]
fn level() -> Level {
    #[cfg(test)]
    if let Some(l) = FORCED.with(|c| c.get()) {
        return l;
    }
    detected()
}

/// Defines `fn $name` whose body is compiled for each [`Level`] and dispatched on [`level`].
macro_rules! simd_fn {
    ($(#[$m:meta])* fn $name:ident($($arg:ident: $ty:ty),*) $body:block) => {
        $(#[$m])*
        pub(crate) fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn body($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                fn avx512($($arg: $ty),*) {
                    body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) {
                    body($($arg),*)
                }
                match level() {
                    // SAFETY: `level()` is at most `detected()`, so the CPU has the features.
                    #[allow(unsafe_code)]
                    Level::Avx512 => return unsafe { avx512($($arg),*) },
                    #[allow(unsafe_code)]
                    Level::Avx2Fma => return unsafe { avx2($($arg),*) },
                    Level::Compiled => {}
                }
            }
            body($($arg),*)
        }
    };
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

simd_fn! {
    /// z ← z + b per row (the output layer's bias).
    fn add_bias(z: &mut [f32], b: &[f32]) {
        for zr in z.chunks_exact_mut(b.len()) {
            for (zi, &bi) in zr.iter_mut().zip(b) {
                *zi += bi;
            }
        }
    }
}

simd_fn! {
    /// db ← db + Σ_rows g (a bias's gradient), the rows added in order, so that every level
    /// sums each column in the same order.
    fn add_rows(db: &mut [f32], g: &[f32]) {
        for row in g.chunks_exact(db.len()) {
            for (d, &v) in db.iter_mut().zip(row) {
                *d += v;
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize) -> Vec<f32> {
        // Spans ELU's two branches, its saturation below −87, and the exact-zero point.
        (0..len)
            .map(|i| {
                let t = i as f32 / len as f32;
                (t - 0.7) * 200.0 * (t * 37.0).sin()
            })
            .chain([0.0, -0.0, -1e-30, 1e-30, -87.5, -1e4, 3.0])
            .collect()
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// Every loop at `level`, on odd lengths so that the vector loops' remainders run too.
    fn run(level: Level) -> Vec<Vec<u32>> {
        with_level(level, || {
            let width = 37;
            let x = values(width * 11 - 7);
            let rows = x.len() / width;
            let b: Vec<f32> = (0..width).map(|j| j as f32 * 0.01 - 0.2).collect();
            let mut z = x[..rows * width].to_vec();
            let mut h = vec![0.0; z.len()];
            bias_elu(&mut z, &b, &mut h);
            let mut z2 = x[..rows * width].to_vec();
            add_bias(&mut z2, &b);
            let mut db = b.clone();
            add_rows(&mut db, &x[..rows * width]);
            let mut g = vec![0.0; h.len()];
            elu_backward(&z2, &h, &mut g);
            vec![bits(&z), bits(&h), bits(&z2), bits(&db), bits(&g)]
        })
    }

    #[test]
    fn every_level_gives_the_same_bits() {
        let want = run(Level::Compiled);
        for level in Level::ALL.into_iter().filter(|&l| l <= detected()) {
            assert_eq!(run(level), want, "{level:?}");
        }
    }

    #[test]
    fn the_loops_compute_bias_elu_and_its_derivative() {
        let b = [0.5f32, -1.0];
        let mut z = vec![1.0f32, 0.5, -3.0, 2.0];
        let mut h = vec![0.0; 4];
        bias_elu(&mut z, &b, &mut h);
        assert_eq!(z, [1.5, -0.5, -2.5, 1.0]);
        for (&hi, &zi) in h.iter().zip(&z) {
            let want = if zi > 0.0 { zi } else { zi.exp_m1() };
            assert!(
                (hi - want).abs() <= 1e-6 * want.abs().max(1.0),
                "{hi} vs {want}"
            );
        }
        let mut g = vec![0.0; 4];
        elu_backward(&[2.0; 4], &h, &mut g);
        for (&gi, &zi) in g.iter().zip(&z) {
            let want = if zi > 0.0 { 2.0 } else { 2.0 * zi.exp() };
            assert!((gi - want).abs() <= 1e-6, "{gi} vs {want}");
        }
        let mut db = vec![1.0f32, 2.0];
        add_rows(&mut db, &[1.0, 10.0, 100.0, 1000.0]);
        assert_eq!(db, [102.0, 1012.0]);
    }

    #[test]
    fn the_detected_level_is_the_cpus() {
        #[cfg(target_arch = "x86_64")]
        assert_eq!(
            detected() == Level::Avx512,
            std::is_x86_feature_detected!("avx512f")
        );
        assert!(Level::ALL.contains(&detected()));
    }
}
