//! What the learner benchmarks (`fast.rs`, `learners.rs`) share: the setup at batch 256 in
//! the middle of MPG's weight schedule, the anchors' policy step, the process's CPU time and
//! criterion's settings.

use criterion::Criterion;
use mpg_algos::grads::clip_by_global_norm;
use mpg_algos::{Algo, AlgoConfig, Batch, GradPath, GradStats, Learner, Nets, Optimizer};
use mpg_envs::{Rng, Task};
use rand::SeedableRng;
use std::time::Duration;

pub const BATCH: usize = 256;

/// Everything one benchmark needs: the optimiser (owning the networks), a learner, a batch.
pub struct Setup {
    pub cfg: AlgoConfig,
    pub opt: Optimizer,
    pub learner: Learner,
    pub batch: Batch,
    /// Mid-schedule iteration of MPG's weights (T/2).
    pub iteration: u64,
}

pub fn setup(algo: Algo, task: Task, cfg: AlgoConfig) -> Setup {
    let mut rng = Rng::seed_from_u64(1);
    let nets = Nets::new(algo, task, cfg.init, cfg.squash, &mut rng);
    let iteration = cfg.weight_total_ite / 2;
    let mut opt = Optimizer::new(nets, &cfg);
    opt.iteration = iteration;
    Setup {
        learner: Learner::new(algo, task, cfg.clone(), 2),
        batch: Batch::random(task, BATCH, 3),
        opt,
        iteration,
        cfg,
    }
}

impl Setup {
    /// Exactly the anchors' work (`shared/anchors/jax_mpg_grad.py`, `torch_mpg_grad.py`): the
    /// mixed policy loss and its gradient, the global-norm clip, the policy's Adam step.
    pub fn policy_step(&mut self) {
        let mut stats = GradStats::default();
        let (_, mut g) =
            self.learner
                .policy_grad(&self.opt.nets, &self.batch.obs, self.iteration, &mut stats);
        clip_by_global_norm(&mut g, self.cfg.grad_clip);
        self.opt.policy.apply(&mut self.opt.nets.policy.net, &g);
    }
}

/// The last component of a benchmark's name.
pub fn path_name(path: GradPath) -> &'static str {
    match path {
        GradPath::Fast => "fast",
        GradPath::Reference => "reference",
    }
}

/// The process's CPU time: the sum over its threads of /proc/self/task/*/schedstat, which
/// other processes competing for the same core barely disturb. Only meaningful on 1 intra-op
/// thread (idle OpenMP threads spin).
pub fn process_cpu_time() -> Duration {
    let ns: u64 = std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task (Linux)")
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(ns)
}

pub fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .without_plots()
}
