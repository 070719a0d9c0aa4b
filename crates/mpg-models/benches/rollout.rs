//! One MPG model-return gradient per task (spec §3.2, as shared/anchors/torch_mpg_grad.py):
//! batch 256 states from the reset distribution, a 2×256 ELU policy MLP (tch::nn), 25 model
//! steps with the first action from the trained policy and the later ones from a frozen copy
//! (gradient still flowing through the model states), forward + backward of the summed,
//! discounted, scaled model return; with 1 and 2 intra-op threads.
//!
//! `cargo bench -p mpg-models --bench rollout -- --warm-up-time 1 --measurement-time 5`
//!
//! On a machine whose cores are busy with other work, libtorch's OpenMP threads spin at every
//! op's barrier: 2 threads on a loaded 2-core machine measured 1.5 s per gradient instead of
//! 0.1 s. `OMP_WAIT_POLICY=PASSIVE` in the environment avoids that.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mpg_envs::{Rng, Task, Termination, make_sim};
use mpg_models::{ModelNoise, make_model, rollout};
use rand::{Rng as _, SeedableRng};
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

const BATCH: usize = 256;
const HORIZON: usize = 25;
const HIDDEN: i64 = 256;
const GAMMA: f64 = 0.98;

/// 2×256 ELU MLP, obs_dim → 2·act_dim (mean, log_std), spec §3.1; the output tanh is the
/// path-tracking policy's (the pendulum's action is 3·tanh of a linear output).
fn policy_net(p: nn::Path, task: Task) -> nn::Sequential {
    let spec = task.spec();
    let zero = nn::LinearConfig {
        ws_init: nn::Init::Const(0.0),
        bs_init: Some(nn::Init::Const(0.0)),
        bias: true,
    };
    let (i, o) = (spec.obs_dim as i64, 2 * spec.act_dim as i64);
    nn::seq()
        .add(nn::linear(&p / "l0", i, HIDDEN, zero))
        .add_fn(|x| x.elu())
        .add(nn::linear(&p / "l1", HIDDEN, HIDDEN, zero))
        .add_fn(|x| x.elu())
        .add(nn::linear(&p / "l2", HIDDEN, o, zero))
}

/// Fill every weight with U(−1/√fan_in, 1/√fan_in) from a Rust generator (D8: never
/// libtorch's generator).
fn init(vs: &nn::VarStore, rng: &mut Rng) {
    tch::no_grad(|| {
        for (_, mut v) in vs.variables() {
            let size = v.size();
            let fan_in = *size.last().unwrap() as f64;
            let bound = 1.0 / fan_in.sqrt();
            let values: Vec<f32> = (0..v.numel())
                .map(|_| rng.random_range(-bound..bound) as f32)
                .collect();
            v.copy_(&Tensor::from_slice(&values).view(size.as_slice()));
        }
    });
}

/// The deterministic action in policy units (spec §3.1).
fn act(net: &dyn Module, task: Task, obs: &Tensor, scale: &Tensor) -> Tensor {
    let ad = task.spec().act_dim as i64;
    let mean = net.forward(&(obs * scale)).narrow(1, 0, ad);
    match task {
        Task::PathTracking => mean.tanh(),
        Task::InvertedPendulum => mean.tanh() * 3.0,
    }
}

fn bench(c: &mut Criterion) {
    let model_threads = [1, 2];
    for task in Task::ALL {
        let spec = task.spec();
        let model = make_model(task);
        let noise = ModelNoise::default_for(task);
        let mut rng = Rng::seed_from_u64(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let net = policy_net(vs.root(), task);
        init(&vs, &mut rng);
        let mut frozen_vs = nn::VarStore::new(Device::Cpu);
        let frozen = policy_net(frozen_vs.root(), task);
        let scale = Tensor::from_slice(spec.obs_scale);
        let sim = make_sim(task, BATCH, 1, Termination::Paper);
        let mut obs = vec![0.0f32; BATCH * spec.obs_dim];
        sim.observe(&mut obs);
        let s0 = Tensor::from_slice(&obs).view([BATCH as i64, spec.obs_dim as i64]);

        let mut group = c.benchmark_group(format!("mpg_model_return_grad/{task}"));
        for threads in model_threads {
            tch::set_num_threads(threads);
            group.bench_function(BenchmarkId::new("threads", threads), |b| {
                b.iter(|| {
                    // A fresh frozen copy per gradient, as the authors / the anchor do.
                    frozen_vs.copy(&vs).unwrap();
                    frozen_vs.freeze();
                    for (_, mut v) in vs.variables() {
                        v.zero_grad();
                    }
                    let a0 = act(&net, task, &s0, &scale);
                    let mut policy = |k: usize, s: &Tensor| {
                        if k == 0 {
                            a0.shallow_clone()
                        } else {
                            act(&frozen, task, s, &scale)
                        }
                    };
                    let (_, rewards) =
                        rollout(&*model, &mut policy, &s0, HORIZON, &noise, &mut rng);
                    let ret = rewards
                        .iter()
                        .enumerate()
                        .map(|(k, r)| r * (GAMMA.powi(k as i32) * spec.reward_scale as f64))
                        .reduce(|a, b| a + b)
                        .unwrap();
                    let loss = -ret.mean(Kind::Float);
                    loss.backward();
                    loss.double_value(&[])
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
