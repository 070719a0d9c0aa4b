//! The asynchronous learners emulated in the synchronous trainer (D21, spec §4): the gradient
//! applied at update k is computed on the parameters — policy, critics and targets — and the
//! iteration counter (which sets w_data, spec §3.3) of update k − d_k, as a learner of Fig. 2
//! computes on the snapshot it took while d_k other gradients were applied. d_k follows the
//! model of the `[sync]` section: a constant (`sync.staleness`) or a histogram
//! (`sync.staleness_counts`, e.g. read from `sync.staleness_file`: the authors' 12-learner
//! measurement, or a real asynchronous run's `gradients.csv`), capped by the iterations done.
//!
//! Every draw is a pure function of the run's seed and a counter (a counter-based generator:
//! SplitMix64 of a stream of its own, D8), so the generator's whole state is the iteration
//! counter the checkpoint already holds, and the other streams are untouched: a run without a
//! model is bit-identical to one before this module existed.
//!
//! Cost: the window is a ring of preallocated networks, one per possible age; each iteration
//! copies the current parameters into one slot (no allocation), and d_k = 0 computes on the
//! current networks directly.

use crate::config::RunConfig;
use crate::trainer::sub_seed;
use mpg_algos::Nets;
use std::path::Path;
use tch::Tensor;

/// D8 stream components of the emulation's draws (the trainer's own use 1–6).
const STALENESS_STREAM: u64 = 7;
/// Which buffer a sampling call's chunk goes to (`sync.buffers` > 1).
pub(crate) const ROUTE_STREAM: u64 = 8;
/// Which buffer a batch is drawn from (`sync.buffers` > 1).
pub(crate) const BATCH_STREAM: u64 = 9;

/// Rows of a `gradients.csv` before this iteration are the start-up and are left out of a
/// histogram read from it, as in the authors' measurement (its first 200 updates).
pub const STARTUP_ITERATIONS: u64 = 200;

/// The largest staleness a model may give (the window holds this many past parameter sets).
pub const MAX_STALENESS: u64 = 1000;

/// A uniform draw in `0..n` from counter `k` of stream `stream` (Lemire's multiply-shift: the
/// bias is below n / 2⁶⁴).
pub(crate) fn draw_below(stream: u64, k: u64, n: u64) -> u64 {
    ((sub_seed(stream, k) as u128 * n as u128) >> 64) as u64
}

/// How d_k is drawn.
#[derive(Clone, Debug, PartialEq)]
pub enum Model {
    /// d_k = d for every k (`sync.staleness = d`).
    Constant(u64),
    /// d_k = d with probability counts[d] / Σ counts; `cumulative[d]` = Σ_{j ≤ d} counts[j].
    Histogram { cumulative: Vec<u64> },
}

impl Model {
    /// The model a config asks for; `None` for the plain synchronous trainer.
    pub fn from_config(cfg: &RunConfig) -> Option<Model> {
        let s = &cfg.sync;
        if !s.staleness_counts.is_empty() {
            let cumulative = (s.staleness_counts.iter())
                .scan(0u64, |acc, &c| {
                    *acc += c;
                    Some(*acc)
                })
                .collect();
            Some(Model::Histogram { cumulative })
        } else if s.staleness > 0 {
            Some(Model::Constant(s.staleness))
        } else {
            None
        }
    }

    /// The largest d_k the model can give.
    pub fn max(&self) -> u64 {
        match self {
            Model::Constant(d) => *d,
            Model::Histogram { cumulative } => {
                let total = cumulative.last().copied().unwrap_or(0);
                cumulative.iter().position(|&c| c == total).unwrap_or(0) as u64
            }
        }
    }

    /// d_k before the cap k − d_k ≥ 0, from stream `stream` (the run's staleness stream).
    pub fn draw(&self, stream: u64, k: u64) -> u64 {
        match self {
            Model::Constant(d) => *d,
            Model::Histogram { cumulative } => {
                let total = *cumulative.last().expect("a non-empty histogram");
                let u = draw_below(stream, k, total);
                cumulative.partition_point(|&c| c <= u) as u64
            }
        }
    }
}

/// The window of past parameters: slot `j % len` holds the parameters of iteration j for the
/// last `len = max + 1` iterations (the current one included).
pub struct Window {
    model: Model,
    stream: u64,
    ring: Vec<Nets>,
}

impl Window {
    /// The window of a config's model; `None` for the plain synchronous trainer.
    pub fn new(cfg: &RunConfig) -> Option<Window> {
        let model = Model::from_config(cfg)?;
        let len = model.max() as usize + 1;
        Some(Window {
            stream: sub_seed(cfg.seed, STALENESS_STREAM),
            ring: if len > 1 {
                (0..len).map(|_| cfg.shaped_nets()).collect()
            } else {
                Vec::new()
            },
            model,
        })
    }

    /// d_k: the model's draw for iteration k, capped so that k − d_k ≥ 0.
    pub fn staleness(&self, k: u64) -> u64 {
        self.model.draw(self.stream, k).min(k)
    }

    /// Record `current` as iteration k's parameters; return the networks holding those of
    /// iteration k − d_k, and k − d_k (the iteration counter the gradient is computed with).
    pub fn view<'a>(&'a mut self, current: &'a Nets, k: u64) -> (&'a Nets, u64) {
        let d = self.staleness(k);
        if self.ring.is_empty() {
            return (current, k);
        }
        let len = self.ring.len() as u64;
        self.ring[(k % len) as usize].copy_from(current);
        if d == 0 {
            (current, k)
        } else {
            (
                &self.ring[((k - d) % self.ring.len() as u64) as usize],
                k - d,
            )
        }
    }

    /// How many past parameter sets a checkpoint after `done` iterations holds: those of
    /// iterations done − n .. done − 1, which later gradients may still be computed on.
    fn saved_len(&self, done: u64) -> u64 {
        done.min(self.model.max())
    }

    /// The past parameters a checkpoint after `done` iterations holds, oldest first, flat (every
    /// network's parameters in [`Nets::all`] order per iteration).
    pub fn save(&self, done: u64) -> Vec<Tensor> {
        let n = self.saved_len(done);
        let len = self.ring.len() as u64;
        (done - n..done)
            .flat_map(|j| self.ring[(j % len) as usize].snapshot())
            .collect()
    }

    /// Restore what [`Window::save`] wrote after `done` iterations (`flat`, `n_params` tensors
    /// per iteration). A checkpoint of the former constant window, which also held the
    /// parameters of iteration done − depth − 1, is read too (that oldest one is unused).
    pub fn restore(&mut self, flat: &[Tensor], n_params: usize, done: u64) -> Result<(), String> {
        if n_params == 0 || !flat.len().is_multiple_of(n_params) {
            return Err(format!(
                "{} stale-parameter tensors, not a multiple of the networks' {n_params}",
                flat.len()
            ));
        }
        let have = (flat.len() / n_params) as u64;
        let want = self.saved_len(done);
        let skip = match have {
            h if h == want => 0,
            h if h == want + 1 && done > want => 1,
            h => {
                return Err(format!(
                    "{h} past parameter sets after {done} iterations, expected {want} (the staleness model's maximum {} caps it)",
                    self.model.max()
                ));
            }
        };
        let len = self.ring.len() as u64;
        for (i, set) in flat.chunks(n_params).skip(skip).enumerate() {
            let j = done - want + i as u64;
            self.ring[(j % len) as usize].load(set);
        }
        Ok(())
    }
}

/// The staleness histogram of a CSV, `counts[d]` for d = 0..=max: either a `staleness,count`
/// table (the authors' measurement, `bench-configs/staleness/`) or a run's `gradients.csv`
/// (one row per applied gradient; the first [`STARTUP_ITERATIONS`] left out). Lines starting
/// with '#' are comments; a repeat of the header line is skipped (several runs' files pooled by
/// concatenation).
pub fn read_histogram(path: &Path) -> Result<Vec<u64>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    parse_histogram(&text)
}

/// [`read_histogram`] of a CSV's text.
pub fn parse_histogram(text: &str) -> Result<Vec<u64>, String> {
    let mut lines = (text.lines().enumerate())
        .filter(|(_, l)| !l.trim_start().starts_with('#') && !l.trim().is_empty());
    let (_, header) = lines.next().ok_or("no header line")?;
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    let col = |name: &str| cols.iter().position(|c| *c == name);
    let staleness = col("staleness").ok_or("no 'staleness' column in the header")?;
    let count = col("count");
    let iteration = col("iteration");
    let mut counts: Vec<u64> = Vec::new();
    for (i, line) in lines {
        if line == header {
            continue; // files concatenated with `cat` (several seeds pooled)
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let field = |c: usize, name: &str| -> Result<u64, String> {
            (fields.get(c)).and_then(|f| f.parse().ok()).ok_or(format!(
                "line {}: '{name}' is not a non-negative integer",
                i + 1
            ))
        };
        if let Some(c) = iteration
            && field(c, "iteration")? < STARTUP_ITERATIONS
        {
            continue;
        }
        let d = field(staleness, "staleness")?;
        if d > MAX_STALENESS {
            return Err(format!(
                "line {}: staleness {d} not in 0..={MAX_STALENESS}",
                i + 1
            ));
        }
        let n = match count {
            Some(c) => field(c, "count")?,
            None => 1,
        };
        if counts.len() <= d as usize {
            counts.resize(d as usize + 1, 0);
        }
        counts[d as usize] += n;
    }
    if counts.iter().sum::<u64>() == 0 {
        return Err("no staleness counted".into());
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpg_algos::Algo;
    use mpg_envs::Task;

    fn marked(nets: &mut Nets, v: f64) {
        for net in nets.all_mut() {
            net.update(|_, x| x.fill(v as f32));
        }
    }

    fn value_of(nets: &Nets) -> Vec<f32> {
        (nets.all().iter())
            .flat_map(|n| n.params().concat())
            .collect()
    }

    #[test]
    fn view_holds_every_network_of_iteration_k_minus_d() {
        let mut cfg = RunConfig::defaults(Algo::Td3, Task::InvertedPendulum);
        cfg.sync.staleness_counts = vec![1, 0, 2, 0, 3];
        let mut w = Window::new(&cfg).unwrap();
        assert_eq!(w.ring.len(), 5);
        let mut current = cfg.shaped_nets();
        let mut seen = [0; 5];
        for k in 0..40u64 {
            marked(&mut current, k as f64);
            let d = w.staleness(k);
            assert!([0, 2, 4].contains(&d) || (d == k && k < 4), "d_{k} = {d}");
            seen[d as usize] += 1;
            let (nets, version) = w.view(&current, k);
            assert_eq!(version, k - d);
            // Policy, critics and targets alike (Nets::all order covers all six).
            assert!(
                value_of(nets).iter().all(|&x| x == version as f32),
                "k = {k}"
            );
        }
        assert!(seen[0] > 0 && seen[2] > 0 && seen[4] > 0);
    }

    #[test]
    fn save_and_restore_carry_the_window() {
        let mut cfg = RunConfig::defaults(Algo::Td3, Task::InvertedPendulum);
        cfg.sync.staleness = 3;
        let mut w = Window::new(&cfg).unwrap();
        let mut current = cfg.shaped_nets();
        for k in 0..7u64 {
            marked(&mut current, k as f64);
            w.view(&current, k);
        }
        let n_params = current.snapshot().len();
        let saved = w.save(7);
        assert_eq!(saved.len(), 3 * n_params);
        let mut fresh = Window::new(&cfg).unwrap();
        fresh.restore(&saved, n_params, 7).unwrap();
        marked(&mut current, 7.0);
        let (nets, version) = fresh.view(&current, 7);
        assert_eq!(version, 4);
        assert!(value_of(nets).iter().all(|&x| x == 4.0));
        assert!(fresh.restore(&saved[n_params..], n_params, 7).is_err());
    }

    #[test]
    fn histograms_read_from_both_formats() {
        let table = "# comment\nstaleness,count\n1,2\n3,1\n";
        assert_eq!(parse_histogram(table).unwrap(), vec![0, 2, 0, 1]);
        let grads = "iteration,learner,version,staleness,pg_ms,q_grad_ms\n\
                     5,0,0,5,,\n250,1,248,2,1.0,1.0\n251,0,249,2,,\n252,1,250,0,,\n";
        assert_eq!(parse_histogram(grads).unwrap(), vec![1, 0, 2]);
        let pooled = format!("{grads}{grads}");
        assert_eq!(parse_histogram(&pooled).unwrap(), vec![2, 0, 4]);
        assert!(parse_histogram("iteration,version\n1,2\n").is_err());
        assert!(parse_histogram("staleness,count\n1,x\n").is_err());
        assert!(parse_histogram("staleness,count\n").is_err());
    }
}
