//! A group's curves: each run's eval.csv column, smoothed per run (spec §5), on the evaluation
//! iterations every run of the group has (runs of one matrix cell share them; a run with extra
//! evaluations does not make a mean over fewer runs).

use super::load::Run;
use super::stats::smooth;
use std::collections::BTreeSet;

pub struct Curves {
    pub iterations: Vec<u64>,
    /// `[run][k]`: the smoothed value at `iterations[k]`.
    pub values: Vec<Vec<f64>>,
    /// `[run][k]`: the run's wall-clock seconds at that evaluation.
    pub wall_s: Vec<Vec<f64>>,
}

impl Curves {
    /// The values across runs at evaluation `k`.
    pub fn at(&self, k: usize) -> Vec<f64> {
        self.values.iter().map(|v| v[k]).collect()
    }
    pub fn wall_at(&self, k: usize) -> Vec<f64> {
        self.wall_s.iter().map(|v| v[k]).collect()
    }
}

/// `column` of each run's eval.csv, smoothed over the run's whole curve, then kept at the
/// common iterations; `None` when a run lacks the column or no iteration is common.
pub fn smoothed(runs: &[&Run], column: &str) -> Option<Curves> {
    let mut common: Option<BTreeSet<u64>> = None;
    let mut series = Vec::new();
    for r in runs {
        let iters: Vec<u64> = r
            .eval
            .values("iteration")
            .iter()
            .map(|&i| i as u64)
            .collect();
        let raw = r.eval.column(column);
        if raw.len() != iters.len() || raw.iter().any(Option::is_none) {
            return None;
        }
        let raw: Vec<f64> = raw.into_iter().flatten().collect();
        let set: BTreeSet<u64> = iters.iter().copied().collect();
        common = Some(match common {
            None => set,
            Some(c) => c.intersection(&set).copied().collect(),
        });
        series.push((iters, smooth(&raw), r.eval.values("wall_s")));
    }
    let iterations: Vec<u64> = common?.into_iter().collect();
    if iterations.is_empty() {
        return None;
    }
    let pick = |iters: &[u64], v: &[f64]| -> Vec<f64> {
        iters
            .iter()
            .zip(v)
            .filter(|(i, _)| iterations.binary_search(i).is_ok())
            .map(|(_, &x)| x)
            .collect()
    };
    Some(Curves {
        values: series.iter().map(|(i, s, _)| pick(i, s)).collect(),
        wall_s: series.iter().map(|(i, _, w)| pick(i, w)).collect(),
        iterations,
    })
}
