//! Branch-free, call-free sin/cos and atan, so the simulators' inner loops vectorise.
//!
//! libm's `sin`/`cos` are accurate but are opaque calls, which stop the compiler from
//! vectorising a loop over agents. These versions are accurate to a few ulp on the ranges the
//! simulators use (tests compare them with libm over those ranges and beyond).

use std::f64::consts::FRAC_2_PI;

// π/2 split in three parts (fdlibm's pio2_1, pio2_2, pio2_2t): n·P1 and n·P2 are exact for
// |n| < 2²⁰, so the reduced argument keeps full precision for |x| up to about 10⁶.
const P1: f64 = 1.570_796_326_734_125_6e0;
const P2: f64 = 6.077_100_506_303_966e-11;
const P3: f64 = 2.022_266_248_795_950_6e-21;

/// (sin x, cos x) for |x| ≤ 10⁶, within a few ulp of libm.
#[inline(always)]
pub fn sin_cos(x: f64) -> (f64, f64) {
    let n = (x * FRAC_2_PI).round();
    let r = ((x - n * P1) - n * P2) - n * P3; // r ∈ [−π/4, π/4]
    let r2 = r * r;
    // Taylor series to r¹⁵ / r¹⁶: the first omitted terms are below 5e-17 on |r| ≤ π/4.
    let s = r + r
        * r2
        * (-1.0 / 6.0
            + r2 * (1.0 / 120.0
                + r2 * (-1.0 / 5040.0
                    + r2 * (1.0 / 362_880.0
                        + r2 * (-1.0 / 39_916_800.0
                            + r2 * (1.0 / 6_227_020_800.0 + r2 * (-1.0 / 1_307_674_368_000.0)))))));
    let c = 1.0
        + r2 * (-0.5
            + r2 * (1.0 / 24.0
                + r2 * (-1.0 / 720.0
                    + r2 * (1.0 / 40_320.0
                        + r2 * (-1.0 / 3_628_800.0
                            + r2 * (1.0 / 479_001_600.0
                                + r2 * (-1.0 / 87_178_291_200.0
                                    + r2 * (1.0 / 20_922_789_888_000.0))))))));
    // Quadrant n mod 4, computed in f64 so the loop stays in vector registers.
    let q = n - 4.0 * (n * 0.25).floor();
    let odd = q == 1.0 || q == 3.0;
    let (sin, cos) = if odd { (c, s) } else { (s, c) };
    let sin = if q >= 2.0 { -sin } else { sin };
    let cos = if q == 1.0 || q == 2.0 { -cos } else { cos };
    (sin, cos)
}

/// atan t for |t| ≤ 1, within a few ulp of libm (two half-angle reductions, then Taylor).
#[inline(always)]
pub fn atan_unit(t: f64) -> f64 {
    // atan t = 2·atan(t / (1 + √(1 + t²))), applied twice: |t''| ≤ tan(π/16) ≈ 0.199.
    let t1 = t / (1.0 + (1.0 + t * t).sqrt());
    let t2 = t1 / (1.0 + (1.0 + t1 * t1).sqrt());
    let z = t2 * t2;
    // Taylor series to t²³: the first omitted term is below 1e-17 for |t''| ≤ 0.199.
    // Horner's scheme over c_k = (−1)ᵏ/(2k+1), k = 11 down to 0.
    let mut p = -1.0 / 23.0;
    for k in (0..11).rev() {
        let c_k = if k % 2 == 0 { 1.0 } else { -1.0 } / (2 * k + 1) as f64;
        p = c_k + z * p;
    }
    4.0 * t2 * p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sin_cos_matches_libm() {
        for k in -200_000..=200_000 {
            let x = k as f64 * 0.000_377_3 + 0.1234 * (k % 7) as f64;
            let (s, c) = sin_cos(x);
            assert!((s - x.sin()).abs() < 4e-16, "sin {x}: {s} vs {}", x.sin());
            assert!((c - x.cos()).abs() < 4e-16, "cos {x}: {c} vs {}", x.cos());
        }
        // large arguments of the path's phases (2πX/200 with X up to 1200 and a little beyond)
        for k in 0..10_000 {
            let x = k as f64 * 0.013 + 30.0;
            let (s, c) = sin_cos(x);
            assert!(
                (s - x.sin()).abs() < 1e-15 && (c - x.cos()).abs() < 1e-15,
                "{x}"
            );
        }
    }

    #[test]
    fn atan_matches_libm() {
        for k in -100_000..=100_000 {
            let t = k as f64 / 100_000.0;
            let a = atan_unit(t);
            assert!(
                (a - t.atan()).abs() < 6e-16,
                "atan {t}: {a} vs {}",
                t.atan()
            );
        }
    }
}
