//! Learner speed (issue "Learners …", "Speed, measured"): for both tasks and all six
//! algorithms at batch 256 and H = 25 (`AlgoConfig::defaults`, so `learner.path = fast`; the
//! two paths side by side are in `benches/fast.rs`), with 1 intra-op thread:
//!
//! Each of `grad/…`, `grad-fresh/…` and `update/…` runs on both gradient paths, the name
//! ending in `/reference` (autograd) or `/fast` (`learner.path = fast`, the default).
//!
//! * `grad/{task}/{algo}`: one gradient computation `Learner::compute(.., need_policy = true)`
//!   at the middle of MPG's weight schedule (iteration T/2: 4500 path tracking, 2000 pendulum).
//!   MPG-v1 and n-step DPG reuse a batch and its critic targets for 10 calls (spec §3.4): one
//!   criterion iteration is a full cycle of `batch_reuse` consecutive calls (the first one
//!   computes the 25-step env-rollout targets) and the time is reported per call — the honest
//!   average. `grad-fresh/{task}/{algo}` (those two only) sets `batch_reuse = 1`: every call
//!   recomputes its targets.
//! * `update/{task}/{algo}`: one iteration of the synchronous trainer — `compute` (the policy
//!   gradient only where the delayed update applies it) then `Optimizer::apply` — averaged over
//!   a cycle of lcm(delay_update, batch_reuse) iterations (2 for MPG-v2 and TD3, 10 for MPG-v1
//!   and n-step DPG, 1 otherwise).
//! * `grad-2t/path-tracking/mpg-v2`: the MPG-v2 path-tracking gradient on 2 intra-op threads.
//! * The anchor comparison (shared/anchors/torch_mpg_grad.py uses Q1 in every return term,
//!   D2 = Q1): `grad/path-tracking/mpg-v2-q1` (the whole `compute` with `critic = Q1`) and
//!   `policy-step/path-tracking/mpg-v2-q1` (and `policy-step-2t/…` on 2 threads), exactly the
//!   anchor's work: the mixed policy loss, its gradient, the global-norm clip at 3 and the
//!   policy's Adam step (no critic target, no critic gradients). `grad-cpu/…` and
//!   `policy-step-cpu/…` time the same two in the process's CPU time instead of wall-clock
//!   time, for a shared machine: other processes on the same core inflate wall-clock times,
//!   hardly CPU times (the anchors can report `time.process_time()` alike).
//!
//! `cargo bench -p mpg-algos --bench learners` (about 4 minutes on 2 cores); one benchmark:
//! `cargo bench -p mpg-algos --bench learners -- 'grad/path-tracking/mpg-v2$'`.

mod common;

use common::{Setup, config, path_name, process_cpu_time, setup};
use criterion::{Criterion, criterion_group, criterion_main};
use mpg_algos::{Algo, AlgoConfig, CriticChoice, GradPath};
use mpg_envs::Task;
use std::time::{Duration, Instant};

/// What a benchmark's time is: wall-clock (criterion's usual) or the process's CPU time (the
/// sum over its threads of /proc/self/task/*/schedstat), which other processes competing for
/// the same core barely disturb. CPU time is only meaningful on 1 intra-op thread (idle
/// OpenMP threads spin).
#[derive(Clone, Copy)]
enum Clock {
    Wall,
    Cpu,
}

impl Clock {
    fn now(self) -> Duration {
        match self {
            Clock::Wall => START.with(|t| t.elapsed()),
            Clock::Cpu => process_cpu_time(),
        }
    }
}

thread_local! {
    static START: Instant = Instant::now();
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// `grad/…`: `cycle` consecutive `compute` calls per criterion iteration, reported per call.
fn bench_grad(c: &mut Criterion, name: &str, s: &mut Setup, clock: Clock) {
    let cycle = s.cfg.batch_reuse.max(1);
    c.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let t = clock.now();
            for _ in 0..iters * cycle {
                std::hint::black_box(s.learner.compute(&s.opt.nets, &s.batch, s.iteration, true));
            }
            (clock.now() - t) / cycle as u32
        })
    });
}

/// `update/…`: compute + apply as the synchronous trainer runs them, averaged over a cycle of
/// lcm(delay, reuse) iterations.
fn bench_update(c: &mut Criterion, name: &str, s: &mut Setup) {
    let (delay, reuse) = (s.cfg.delay_update.max(1), s.cfg.batch_reuse.max(1));
    let cycle = delay * reuse / gcd(delay, reuse);
    // Start at a cycle boundary of both the delay and the batch reuse.
    s.opt.iteration = s.iteration.next_multiple_of(cycle);
    c.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters * cycle {
                let i = s.opt.iteration;
                let need_policy = s.opt.policy_due(i);
                let grads = s.learner.compute(&s.opt.nets, &s.batch, i, need_policy);
                let applied = s.opt.apply(&grads).unwrap();
                assert!(!applied.dropped, "{name}: a non-finite gradient");
            }
            t.elapsed() / cycle as u32
        })
    });
}

/// `policy-step/…`: what the PyTorch anchor times — the policy loss, its gradient, the clip,
/// the policy's Adam step.
fn bench_policy_step(c: &mut Criterion, name: &str, s: &mut Setup, clock: Clock) {
    c.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let t = clock.now();
            for _ in 0..iters {
                s.policy_step();
            }
            clock.now() - t
        })
    });
}

fn with_threads(n: i32, f: impl FnOnce()) {
    tch::set_num_threads(n);
    f();
    tch::set_num_threads(1);
}

fn learners(c: &mut Criterion) {
    use Clock::{Cpu, Wall};
    tch::set_num_threads(1);
    for task in Task::ALL {
        for algo in Algo::ALL {
            for path in [GradPath::Reference, GradPath::Fast] {
                let mut cfg = AlgoConfig::defaults(algo, task);
                cfg.path = path;
                let p = path_name(path);
                let name = format!("grad/{task}/{algo}/{p}");
                bench_grad(c, &name, &mut setup(algo, task, cfg.clone()), Wall);
                if cfg.batch_reuse > 1 {
                    let mut fresh = cfg.clone();
                    fresh.batch_reuse = 1;
                    let name = format!("grad-fresh/{task}/{algo}/{p}");
                    bench_grad(c, &name, &mut setup(algo, task, fresh), Wall);
                }
                let name = format!("update/{task}/{algo}/{p}");
                bench_update(c, &name, &mut setup(algo, task, cfg));
            }
        }
    }
    let (task, algo) = (Task::PathTracking, Algo::MpgV2);
    with_threads(2, || {
        let cfg = AlgoConfig::defaults(algo, task);
        let name = format!("grad-2t/{task}/{algo}");
        bench_grad(c, &name, &mut setup(algo, task, cfg), Wall);
    });
    // The anchor comparison: Q1 in every return term, as the anchors.
    let mut q1 = AlgoConfig::defaults(algo, task);
    q1.critic = CriticChoice::Q1;
    let name = format!("grad/{task}/{algo}-q1");
    bench_grad(c, &name, &mut setup(algo, task, q1.clone()), Wall);
    let name = format!("grad-cpu/{task}/{algo}-q1");
    bench_grad(c, &name, &mut setup(algo, task, q1.clone()), Cpu);
    let name = format!("policy-step/{task}/{algo}-q1");
    bench_policy_step(c, &name, &mut setup(algo, task, q1.clone()), Wall);
    let name = format!("policy-step-cpu/{task}/{algo}-q1");
    bench_policy_step(c, &name, &mut setup(algo, task, q1.clone()), Cpu);
    with_threads(2, || {
        let name = format!("policy-step-2t/{task}/{algo}-q1");
        bench_policy_step(c, &name, &mut setup(algo, task, q1), Wall);
    });
}

criterion_group! {
    name = benches;
    config = config();
    targets = learners
}
criterion_main!(benches);
