//! The fast gradient path against the autograd reference (issue "fast gradient path"), one
//! intra-op thread, batch 256, H = 25, at the middle of MPG's weight schedule (iteration T/2),
//! each benchmark for both values of `learner.path` (the last name component):
//!
//! * `pg/{task}/{variant}/{path}`: one `Learner::policy_grad` (loss and unclipped gradient,
//!   including copying the parameters out of their tensors, drawing the model noise and
//!   wrapping the gradients into tensors on the fast path). Variants: `mpg-v2` (D2 `min`),
//!   `mpg-v2-q1`, `mpg-v2-dip` (`min`, `deriv_interval_policy = true`), `nadp`.
//! * `policy-step/path-tracking/mpg-v2-q1/{path}`: exactly the work of the anchors
//!   (`shared/anchors/jax_mpg_grad.py`): the policy gradient with Q1 in both return terms,
//!   the global-norm clip at 3 and the policy's Adam step; `policy-step-cpu/…` the same in
//!   process CPU time (the sum over threads of /proc/self/task/*/schedstat), which other
//!   processes on the same core barely disturb. `policy-step-2t/…`: the same on 2 threads
//!   (libtorch's intra-op threads; the fast path splits the batch over 2 threads).
//! * `target/{task}/nadp/{path}`: n-step ADP's critic target, one `Learner::critic_target`
//!   (the 25-step model rollout from the stored actions with the current policy and the target
//!   Q1 at the end, spec §3.7, including drawing the model noise): with the policy gradient,
//!   the rest of n-step ADP's model work per update. `target-2t/path-tracking/nadp/fast`: the
//!   same on 2 threads (the batch split over them).
//!
//! `taskset -c 0 cargo bench -p mpg-algos --bench fast`; one: `… --bench fast -- 'nadp/fast$'`.

mod common;

use common::{config, path_name, process_cpu_time, setup};
use criterion::{Criterion, criterion_group, criterion_main};
use mpg_algos::{Algo, AlgoConfig, CriticChoice, GradPath, GradStats};
use mpg_envs::Task;

fn pg(c: &mut Criterion) {
    tch::set_num_threads(1);
    for task in Task::ALL {
        for (variant, algo, critic, dip) in [
            ("mpg-v2", Algo::MpgV2, CriticChoice::Min, false),
            ("mpg-v2-q1", Algo::MpgV2, CriticChoice::Q1, false),
            ("mpg-v2-dip", Algo::MpgV2, CriticChoice::Min, true),
            ("nadp", Algo::Nadp, CriticChoice::Min, false),
        ] {
            for path in [GradPath::Reference, GradPath::Fast] {
                let mut cfg = AlgoConfig::defaults(algo, task);
                cfg.critic = critic;
                cfg.deriv_interval_policy = dip;
                cfg.path = path;
                let mut s = setup(algo, task, cfg);
                let name = format!("pg/{task}/{variant}/{}", path_name(path));
                timed(c, &name, &mut || {
                    let mut stats = GradStats::default();
                    s.learner
                        .policy_grad(&s.opt.nets, &s.batch.obs, s.iteration, &mut stats)
                });
            }
        }
    }
    // n-step ADP's critic target, the other model rollout of its update; on 2 threads too.
    for (threads, task, path) in [
        (1, Task::PathTracking, GradPath::Reference),
        (1, Task::PathTracking, GradPath::Fast),
        (1, Task::InvertedPendulum, GradPath::Reference),
        (1, Task::InvertedPendulum, GradPath::Fast),
        (2, Task::PathTracking, GradPath::Fast),
    ] {
        tch::set_num_threads(threads);
        let mut cfg = AlgoConfig::defaults(Algo::Nadp, task);
        cfg.path = path;
        let mut s = setup(Algo::Nadp, task, cfg);
        let step = if threads == 1 {
            "target".to_string()
        } else {
            format!("target-{threads}t")
        };
        let name = format!("{step}/{task}/nadp/{}", path_name(path));
        timed(c, &name, &mut || {
            s.learner.critic_target(&s.opt.nets, &s.batch)
        });
    }
    // The anchors' work: gradient, clip, Adam step of the policy; 1 and 2 threads.
    let (task, algo) = (Task::PathTracking, Algo::MpgV2);
    for (threads, path) in [1, 2].into_iter().flat_map(|t| {
        [GradPath::Reference, GradPath::Fast]
            .into_iter()
            .map(move |p| (t, p))
    }) {
        tch::set_num_threads(threads);
        let mut cfg = AlgoConfig::defaults(algo, task);
        cfg.critic = CriticChoice::Q1;
        cfg.path = path;
        let mut s = setup(algo, task, cfg);
        let step = if threads == 1 {
            "policy-step".to_string()
        } else {
            format!("policy-step-{threads}t")
        };
        let name = format!("{step}/{task}/mpg-v2-q1/{}", path_name(path));
        timed(c, &name, &mut || s.policy_step());
    }
}

/// `name` in wall-clock time; for `policy-step/…` also `…-cpu` in the process's CPU time.
fn timed<T>(c: &mut Criterion, name: &str, f: &mut dyn FnMut() -> T) {
    c.bench_function(name, |b| b.iter(&mut *f));
    if let Some(rest) = name.strip_prefix("policy-step/") {
        // CPU time is only meaningful on 1 thread (idle OpenMP threads spin).
        c.bench_function(&format!("policy-step-cpu/{rest}"), |b| {
            b.iter_custom(|iters| {
                let t = process_cpu_time();
                for _ in 0..iters {
                    std::hint::black_box(f());
                }
                process_cpu_time() - t
            })
        });
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = pg
}
criterion_main!(benches);
