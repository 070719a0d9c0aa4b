//! Simulator throughput: transitions per second of a full environment step (the step itself,
//! then the reset of every agent that reported `done`, which under D1 `paper` is every
//! path-tracking agent), for batches of 256 and 4096 agents on 1 and 2 threads.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mpg_envs::policy::FixedPolicy;
use mpg_envs::{Task, Termination, make_sim};

fn throughput(c: &mut Criterion) {
    for task in Task::ALL {
        let spec = task.spec();
        let mut group = c.benchmark_group(format!("sim/{task}"));
        for agents in [256usize, 4096] {
            for threads in [1usize, 2] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let mut sim = make_sim(task, agents, 0, Termination::Paper);
                sim.set_threads(threads);
                let mut obs = vec![0.0; agents * spec.obs_dim];
                let mut act = vec![0.0; agents * spec.act_dim];
                sim.observe(&mut obs);
                FixedPolicy::Linear.act(task, &obs, &mut act);
                let (mut rew, mut done) = (vec![0.0; agents], vec![false; agents]);
                group.throughput(Throughput::Elements(agents as u64));
                group.bench_function(BenchmarkId::new(format!("{threads}-thread"), agents), |b| {
                    pool.install(|| {
                        b.iter(|| {
                            sim.step_unchecked(&act, &mut rew, &mut done);
                            sim.reset_done();
                        })
                    })
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, throughput);
criterion_main!(benches);
