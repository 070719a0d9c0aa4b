//! Step a task's simulator a fixed number of times under the spec §5 linear controller, on the
//! calling thread: the deterministic workload whose instruction count `valgrind --tool=callgrind`
//! measures in `scripts/bench-perf-compare.sh` (instruction counts repeat exactly, unlike times).
//!
//! `cargo run --release -p mpg-envs --example sim_steps -- TASK [AGENTS] [STEPS]`

use mpg_envs::policy::FixedPolicy;
use mpg_envs::{Task, Termination, make_sim};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: sim_steps TASK [AGENTS=256] [STEPS=200]";
    let task: Task = args
        .first()
        .expect(usage)
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    let agents: usize = args.get(1).map_or(256, |a| a.parse().expect(usage));
    let steps: usize = args.get(2).map_or(200, |a| a.parse().expect(usage));
    let spec = task.spec();
    let mut sim = make_sim(task, agents, 0, Termination::Paper);
    sim.set_threads(1);
    let mut obs = vec![0.0; agents * spec.obs_dim];
    let mut act = vec![0.0; agents * spec.act_dim];
    let (mut rew, mut done) = (vec![0.0; agents], vec![false; agents]);
    let mut total = 0.0f64;
    for _ in 0..steps {
        sim.observe(&mut obs);
        FixedPolicy::Linear.act(task, &obs, &mut act);
        sim.step_unchecked(&act, &mut rew, &mut done);
        sim.reset_done();
        total += rew.iter().map(|&r| f64::from(r)).sum::<f64>();
    }
    // Printed so the work cannot be optimised away; also a quick check that both builds agree.
    println!("{task}: {agents} agents × {steps} steps, total reward {total:.6}");
}
