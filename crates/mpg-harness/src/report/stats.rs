//! The statistics of Table I and the curves: the authors' smoothing (spec §5), means and
//! standard deviations, percentiles, the interquartile mean and percentile bootstraps with fixed
//! seeds (D12). Pure functions over slices; every estimate that resamples takes its seed.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Exponential smoothing of one run's curve, spec §5: s_k = 0.2·s_{k−1} + 0.8·v_k. The spec
/// does not state s_0; we take s_0 = v_0 (no invented prior value, as pandas' `ewm(alpha=0.8,
/// adjust=False)` and the usual loop over `data[1:]` do).
pub fn smooth(v: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(v.len());
    for (k, &x) in v.iter().enumerate() {
        out.push(if k == 0 {
            x
        } else {
            0.2 * out[k - 1] + 0.8 * x
        });
    }
    out
}

pub fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Sample standard deviation (n − 1, pandas' `std()`), `None` below two values.
pub fn sample_std(v: &[f64]) -> Option<f64> {
    if v.len() < 2 {
        return None;
    }
    let m = mean(v);
    Some((v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt())
}

/// Population standard deviation (n, numpy's `std()`).
pub fn population_std(v: &[f64]) -> f64 {
    let m = mean(v);
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
}

/// The `q`-th percentile (0–100) of sorted values, linear interpolation between closest ranks
/// (numpy's default, which seaborn's bootstrap band and matplotlib's box plot use).
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = q / 100.0 * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// The median of sorted values: the middle one, or the mean of the middle two (so a median over
/// values some of which are +∞ is finite only when more than half are finite). Panics on none.
pub fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

pub fn sorted(v: &[f64]) -> Vec<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s
}

/// Interquartile mean as rliable computes it (`scipy.stats.trim_mean(x, 0.25)`): sort, cut
/// ⌊n/4⌋ values from each end, average the rest (5 runs: the middle 3).
pub fn iqm(v: &[f64]) -> f64 {
    let s = sorted(v);
    let cut = s.len() / 4;
    mean(&s[cut..s.len() - cut])
}

/// A 95 % percentile-bootstrap interval (2.5th and 97.5th percentiles of `reps` resampled
/// statistics). Each stratum is resampled with replacement to its own size and the statistic
/// sees the strata pooled: one stratum is the plain bootstrap over runs; one stratum per task
/// is rliable's stratified bootstrap (D12).
pub fn bootstrap_ci(
    strata: &[Vec<f64>],
    stat: impl Fn(&[f64]) -> f64,
    reps: usize,
    seed: u64,
) -> (f64, f64) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let total: usize = strata.iter().map(Vec::len).sum();
    let mut sample = Vec::with_capacity(total);
    let mut stats = Vec::with_capacity(reps);
    for _ in 0..reps {
        sample.clear();
        for s in strata {
            sample.extend((0..s.len()).map(|_| s[rng.random_range(0..s.len())]));
        }
        stats.push(stat(&sample));
    }
    let s = sorted(&stats);
    (percentile(&s, 2.5), percentile(&s, 97.5))
}

/// A seed from a label (FNV-1a), so that a group's bootstrap does not depend on which other
/// groups a report holds or their order.
pub fn seed_of(label: &str) -> u64 {
    label.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Box-plot statistics as matplotlib draws them (seaborn's default): quartiles, whiskers at the
/// furthest values within 1.5 IQR of the box, and the values beyond as outliers.
#[derive(Clone, Debug, PartialEq)]
pub struct BoxStats {
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    pub low: f64,
    pub high: f64,
    pub outliers: Vec<f64>,
    pub n: usize,
}

pub fn box_stats(v: &[f64]) -> Option<BoxStats> {
    if v.is_empty() {
        return None;
    }
    let s = sorted(v);
    let (q1, median, q3) = (
        percentile(&s, 25.0),
        percentile(&s, 50.0),
        percentile(&s, 75.0),
    );
    let (lo_fence, hi_fence) = (q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1));
    let inside = || {
        s.iter()
            .copied()
            .filter(|x| (lo_fence..=hi_fence).contains(x))
    };
    Some(BoxStats {
        q1,
        median,
        q3,
        low: inside().fold(f64::INFINITY, f64::min),
        high: inside().fold(f64::NEG_INFINITY, f64::max),
        outliers: s
            .iter()
            .copied()
            .filter(|x| !(lo_fence..=hi_fence).contains(x))
            .collect(),
        n: s.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoothing_iqm_and_stds_by_hand() {
        // s = -10, 0.2·-10 + 0.8·0 = -2, 0.2·-2 + 0.8·10 = 7.6
        assert_eq!(smooth(&[-10.0, 0.0, 10.0]), vec![-10.0, -2.0, 7.6]);
        // 8 values: cut 2 each side, mean of 3,4,5,6
        assert_eq!(iqm(&[8.0, 1.0, 3.0, 4.0, 2.0, 5.0, 6.0, 7.0]), 4.5);
        assert_eq!(sample_std(&[1.0, 3.0]), Some(2f64.sqrt()));
        assert_eq!(population_std(&[1.0, 3.0]), 1.0);
        assert_eq!(percentile(&[0.0, 10.0, 20.0, 30.0, 40.0], 25.0), 10.0);
        assert_eq!(percentile(&[0.0, 10.0], 25.0), 2.5);
        assert_eq!(median(&[1.0, 2.0, 9.0]), 2.0);
        assert_eq!(median(&[1.0, 2.0, 9.0, 10.0]), 5.5);
        let inf = f64::INFINITY;
        assert_eq!(median(&[1.0, 2.0, inf]), 2.0);
        assert_eq!(median(&[1.0, 2.0, inf, inf]), inf);
    }

    #[test]
    fn bootstrap_is_seeded_and_brackets_the_estimate() {
        let v = vec![1.0, 2.0, 3.0, 4.0, 10.0];
        let a = bootstrap_ci(std::slice::from_ref(&v), mean, 2000, 7);
        assert_eq!(a, bootstrap_ci(std::slice::from_ref(&v), mean, 2000, 7));
        assert!(a.0 < mean(&v) && mean(&v) < a.1 && a.0 >= 1.0 && a.1 <= 10.0);
        // a constant stratum adds no spread
        let c = bootstrap_ci(&[vec![5.0; 4]], mean, 100, 1);
        assert_eq!(c, (5.0, 5.0));
    }

    #[test]
    fn box_stats_fence_outliers() {
        let b = box_stats(&[1.0, 2.0, 3.0, 4.0, 100.0]).unwrap();
        assert_eq!((b.q1, b.median, b.q3), (2.0, 3.0, 4.0));
        assert_eq!((b.low, b.high), (1.0, 4.0));
        assert_eq!(b.outliers, vec![100.0]);
    }
}
