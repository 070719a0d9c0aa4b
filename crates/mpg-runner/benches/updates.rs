//! Updates per second of TD3 or SAC on the inverted pendulum, as `shared/anchors/sbx_td3_speed.py`
//! measures sbx: per iteration one environment step of the actor (one pendulum, the
//! algorithm's exploration), its transition into the replay buffer, and one full update —
//! a batch of 256 sampled, the critic target, the Q1 and Q2 gradients, the policy gradient
//! where the delayed update applies it (spec §3.9), the clip, Adam, the Polyak targets. The
//! buffer is first filled with 1000 transitions (sbx's `learning_starts`), then 200
//! iterations warm up before the timed ones.
//!
//! `cargo bench -p mpg-runner --bench updates -- td3|sac [THREADS] [ITERATIONS] [fast|reference]`
//! (defaults 1 thread, 2000 iterations, the fast path); pin one-thread runs with
//! `taskset -c 0` as the anchors'. Prints one line: `mpg TD3 threads=1 path=fast: N updates/s`.

use mpg_algos::{Algo, AlgoConfig, GradPath, Learner, Nets, Optimizer};
use mpg_envs::{Rng, Task, Termination, make_sim};
use mpg_runner::actor::Actor;
use mpg_runner::buffer::ReplayBuffer;
use rand::SeedableRng;
use std::time::Instant;

fn main() {
    // cargo bench passes `--bench`; keep the positional arguments only.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let usage = "usage: updates td3|sac [THREADS] [ITERATIONS] [fast|reference]";
    let algo = match args.first().map(String::as_str) {
        Some("td3") => Algo::Td3,
        Some("sac") => Algo::Sac,
        _ => panic!("{usage}"),
    };
    let threads: i32 = args.get(1).map_or(1, |t| t.parse().expect(usage));
    let iterations: u64 = args.get(2).map_or(2000, |t| t.parse().expect(usage));
    let path = match args.get(3).map(String::as_str) {
        None | Some("fast") => GradPath::Fast,
        Some("reference") => GradPath::Reference,
        Some(_) => panic!("{usage}"),
    };
    tch::set_num_threads(threads);
    let task = Task::InvertedPendulum;
    let spec = task.spec();
    let mut cfg = AlgoConfig::defaults(algo, task);
    cfg.path = path;
    let mut rng = Rng::seed_from_u64(0);
    let nets = Nets::new(algo, task, cfg.init, cfg.squash, &mut rng);
    let mut opt = Optimizer::new(nets, &cfg);
    let mut learner = Learner::new(algo, task, cfg.clone(), 1);
    let sim = make_sim(task, 1, 2, Termination::Paper);
    let mut actor = Actor::new(
        sim,
        Rng::seed_from_u64(3),
        algo,
        cfg.explore_sigma,
        cfg.log_std_clip,
    );
    let mut buffer =
        ReplayBuffer::new(1_000_000, spec.obs_dim, spec.act_dim, Rng::seed_from_u64(4));
    actor.collect(&opt.nets, &mut buffer, 1000);
    let mut iterate = |n: u64| {
        for _ in 0..n {
            actor.collect(&opt.nets, &mut buffer, 1);
            let batch = buffer.sample(cfg.batch_size);
            let i = opt.iteration;
            let grads = learner.compute(&opt.nets, &batch, i, opt.policy_due(i));
            opt.apply(&grads).expect("finite gradients");
        }
    };
    iterate(200);
    let t = Instant::now();
    iterate(iterations);
    let dt = t.elapsed().as_secs_f64();
    let path = match path {
        GradPath::Fast => "fast",
        GradPath::Reference => "reference",
    };
    println!(
        "mpg {} threads={threads} path={path}: {:.0} updates/s (1 env step + 1 gradient update each)",
        algo.name().to_uppercase(),
        iterations as f64 / dt
    );
}
