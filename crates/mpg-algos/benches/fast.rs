//! The fast gradient path against the autograd reference (issue "fast gradient path"): the
//! MPG-v2 policy gradient of path tracking with Q1 in both return terms (D2 = Q1, as the
//! anchors), batch 256, H = 25, iteration 4500 (the middle of the weight schedule), 1 thread.
//!
//! * `pg/path-tracking/reference`: `Learner::policy_loss` and its gradient by autograd.
//! * `pg/path-tracking/fast`: `fast::mpg_policy_grad_in` in plain Rust (its buffers reused
//!   across calls), including copying the policy and Q1 parameters out of their tensors and
//!   drawing the model noise.
//!
//! `taskset -c 0 cargo bench -p mpg-algos --bench fast`

use criterion::{Criterion, criterion_group, criterion_main};
use mpg_algos::fast::mlp::FastMlp;
use mpg_algos::fast::{Workspace, mpg_policy_grad_in};
use mpg_algos::learner::grad_of;
use mpg_algos::weights::rule_based_weights;
use mpg_algos::{Algo, AlgoConfig, CriticChoice, GradStats, Learner, Nets};
use mpg_envs::{Rng, Task, Termination, make_sim};
use mpg_models::ModelNoise;
use rand::{Rng as _, SeedableRng};
use rand_distr::StandardNormal;
use std::time::Duration;
use tch::Tensor;

const BATCH: usize = 256;
const ITERATION: u64 = 4500;

fn pg(c: &mut Criterion) {
    tch::set_num_threads(1);
    let (task, algo) = (Task::PathTracking, Algo::MpgV2);
    let mut cfg = AlgoConfig::defaults(algo, task);
    cfg.critic = CriticChoice::Q1;
    let mut rng = Rng::seed_from_u64(1);
    let nets = Nets::new(algo, task, cfg.init, cfg.squash, &mut rng);
    let mut obs = vec![0.0f32; BATCH * task.spec().obs_dim];
    make_sim(task, BATCH, 2, Termination::Paper).observe(&mut obs);
    let obs_t = Tensor::from_slice(&obs).reshape([BATCH as i64, task.spec().obs_dim as i64]);

    let mut learner = Learner::new(algo, task, cfg.clone(), 3);
    let mut reference = || {
        let mut stats = GradStats::default();
        let loss = learner.policy_loss(&nets, &obs_t, ITERATION, &mut stats);
        grad_of(&loss, &nets.policy.net.params())
    };
    timed(c, "pg/path-tracking/reference", &mut reference);

    let (w_data, w_model) = rule_based_weights(
        ITERATION,
        cfg.weight_total_ite,
        cfg.eta,
        cfg.horizon,
        cfg.weight_rule,
    );
    let noise = ModelNoise {
        mean: cfg.model_noise[0],
        std: cfg.model_noise[1],
    };
    let mut noise_rng = Rng::seed_from_u64(4);
    let mut ws = Workspace::default();
    let mut fast = || {
        let policy = FastMlp::from_mlp(&nets.policy.net);
        let q1 = FastMlp::from_mlp(&nets.q1);
        let noises: Vec<Vec<f32>> = (0..cfg.horizon)
            .map(|_| {
                (0..BATCH)
                    .map(|_| {
                        let z: f64 = noise_rng.sample(StandardNormal);
                        (noise.mean + noise.std * z) as f32
                    })
                    .collect()
            })
            .collect();
        mpg_policy_grad_in(
            &mut ws, &policy, &q1, &obs, &noises, cfg.gamma, w_data, w_model,
        )
    };
    timed(c, "pg/path-tracking/fast", &mut fast);
}

/// `name` in wall-clock time and `name-cpu` in the process's CPU time (the sum over its
/// threads of /proc/self/task/*/schedstat, as benches/learners.rs), which other processes
/// on the same core barely disturb.
fn timed<T>(c: &mut Criterion, name: &str, f: &mut dyn FnMut() -> T) {
    c.bench_function(name, |b| b.iter(&mut *f));
    c.bench_function(&format!("{name}-cpu"), |b| {
        b.iter_custom(|iters| {
            let t = process_cpu_time();
            for _ in 0..iters {
                std::hint::black_box(f());
            }
            process_cpu_time() - t
        })
    });
}

fn process_cpu_time() -> Duration {
    let ns: u64 = std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task (Linux)")
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(ns)
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4))
        .without_plots()
}

criterion_group! {
    name = benches;
    config = config();
    targets = pg
}
criterion_main!(benches);
