//! Independent reference computations for the learner tests, written from the spec with plain
//! tch ops: the networks' forward pass, the policies' actions, the critics, the model return.
//! Nothing here calls the code under test (`mpg_algos`) or the networks' own `forward`; only
//! the prior models (tested against golden data in `mpg-models`) and the true simulators are
//! shared.

use mpg_algos::{Nets, TchNets};
use mpg_envs::{Rng, Task};
use mpg_models::PriorModel;
use mpg_models::nets::{Init, Mlp, Policy, Squash};
use rand::{Rng as _, SeedableRng};
use rand_distr::StandardNormal;
use tch::{Kind, Tensor};

/// A tiny MLP `sizes[0] → … → sizes[last]` in `kind`: orthogonal kernels scaled by `gain`,
/// biases N(0, 0.3²) (non-zero, so bias gradients are exercised), every parameter a leaf that
/// requires grad.
pub fn tiny_mlp(sizes: &[usize], gain: f64, kind: Kind, rng: &mut Rng) -> Mlp {
    let base = Mlp::with_sizes(sizes, Init::Orthogonal, rng);
    let w = base
        .w
        .iter()
        .map(|w| (w.detach() * gain).to_kind(kind).set_requires_grad(true))
        .collect();
    let b = base
        .b
        .iter()
        .map(|b| {
            let n = b.size()[0] as usize;
            let v: Vec<f64> = (0..n)
                .map(|_| 0.3 * rng.sample::<f64, _>(StandardNormal))
                .collect();
            Tensor::from_slice(&v).to_kind(kind).set_requires_grad(true)
        })
        .collect();
    Mlp { w, b }
}

/// Every network of an algorithm, tiny (obs → 4 → 4 → out), the targets drawn INDEPENDENTLY of
/// the trained networks (so a test can tell which one a formula used).
pub fn tiny_nets(task: Task, twin: bool, kind: Kind, seed: u64) -> TchNets {
    let spec = task.spec();
    let mut rng = Rng::seed_from_u64(seed);
    let (o, a) = (spec.obs_dim, spec.act_dim);
    let squash = Squash::for_task(task);
    let pol = |rng: &mut Rng| Policy {
        net: tiny_mlp(&[o, 4, 4, 2 * a], 1.0, kind, rng),
        act_dim: a,
        squash,
    };
    let policy = pol(&mut rng);
    let policy_targ = pol(&mut rng);
    let q1 = tiny_mlp(&[o + a, 4, 4, 1], 1.5, kind, &mut rng);
    let q1_targ = tiny_mlp(&[o + a, 4, 4, 1], 1.5, kind, &mut rng);
    let (q2, q2_targ) = if twin {
        (
            Some(tiny_mlp(&[o + a, 4, 4, 1], 1.5, kind, &mut rng)),
            Some(tiny_mlp(&[o + a, 4, 4, 1], 1.5, kind, &mut rng)),
        )
    } else {
        (None, None)
    };
    TchNets {
        policy,
        q1,
        q2,
        policy_targ,
        q1_targ,
        q2_targ,
    }
}

/// The learner's plain networks with the values of `t` (rounded to f32).
pub fn plain(t: &TchNets) -> Nets {
    Nets::from_tch(t)
}

/// ELU written out: x for x > 0, eˣ − 1 otherwise.
fn elu(x: &Tensor) -> Tensor {
    x.clamp_min(0.0) + (x.clamp_max(0.0).exp() - 1.0)
}

/// The MLP of spec §3.1 from its parameter list: x·W + b, ELU on hidden layers.
pub fn mlp(params: &[Tensor], x: &Tensor) -> Tensor {
    let layers = params.len() / 2;
    let mut h = x.shallow_clone();
    for l in 0..layers {
        h = h.matmul(&params[2 * l]) + &params[2 * l + 1];
        if l + 1 < layers {
            h = elu(&h);
        }
    }
    h
}

/// The parameters of `net` as a list (w₀, b₀, w₁, b₁, …), trainable.
pub fn params(net: &Mlp) -> Vec<Tensor> {
    net.w
        .iter()
        .zip(&net.b)
        .flat_map(|(w, b)| [w.shallow_clone(), b.shallow_clone()])
        .collect()
}

/// The same parameters as constants (the "frozen copy" of spec §3.2).
pub fn frozen(net: &Mlp) -> Vec<Tensor> {
    params(net).iter().map(Tensor::detach).collect()
}

/// Network input of spec §1.10 / §2.4: obs ⊙ obs_scale (in obs's kind).
pub fn scaled(task: Task, obs: &Tensor) -> Tensor {
    let s = Tensor::from_slice(task.spec().obs_scale).to_kind(obs.kind());
    obs * s
}

/// The deterministic action of spec §3.1 from scaled observations: tanh(mean) (path
/// tracking), 3·tanh(mean) (pendulum); mean = the first act_dim outputs.
pub fn act(task: Task, policy: &[Tensor], s_scaled: &Tensor) -> Tensor {
    let a = task.spec().act_dim as i64;
    let mean = mlp(policy, s_scaled).narrow(1, 0, a);
    match task {
        Task::PathTracking => mean.tanh(),
        Task::InvertedPendulum => mean.tanh() * 3.0,
    }
}

/// Q(scaled obs, raw action) → `[B]` (spec §3.1).
pub fn q(net: &[Tensor], s_scaled: &Tensor, a: &Tensor) -> Tensor {
    mlp(net, &Tensor::cat(&[s_scaled, a], 1)).squeeze_dim(1)
}

/// The task's training-reward scale c_r as the code stores it (f32 constant; D19: 0.01 path
/// tracking, 1.0 pendulum — asserted here so a change of the constant is noticed).
pub fn reward_scale(task: Task) -> f64 {
    let c = task.spec().reward_scale as f64;
    let want = match task {
        Task::PathTracking => 0.01,
        Task::InvertedPendulum => 1.0,
    };
    assert!((c - want).abs() < 1e-8, "{task}: reward scale {c}");
    assert_eq!(task.spec().reward_shift, 0.0);
    c
}

/// R_H = Σ_{k<H} γᵏ·r̂_k·c_r + γᴴ·critic(ŝ_H, a_H) along a model rollout from raw `obs` with
/// first action `a0`, later actions a_k = π_rollout(ŝ_k) from the parameter list `rollout`
/// (frozen or trainable), noise `noises[k]` at step k (spec §3.2, §3.7).
#[allow(clippy::too_many_arguments)]
pub fn model_return(
    task: Task,
    model: &dyn PriorModel,
    obs: &Tensor,
    a0: Tensor,
    rollout: &[Tensor],
    critic: &dyn Fn(&Tensor, &Tensor) -> Tensor,
    noises: &[Tensor],
    gamma: f64,
) -> Tensor {
    let c_r = reward_scale(task);
    let mut s = obs.shallow_clone();
    let mut a = a0;
    let mut total = obs.zeros_like().narrow(1, 0, 1).squeeze_dim(1);
    for (k, eps) in noises.iter().enumerate() {
        let (next, r) = model.step(&s, &a, eps);
        total = total + r * (gamma.powi(k as i32) * c_r);
        s = next;
        a = act(task, rollout, &scaled(task, &s));
    }
    total + critic(&scaled(task, &s), &a) * gamma.powi(noises.len() as i32)
}

/// Gradients of `loss` w.r.t. `params`.
pub fn grads(loss: &Tensor, params: &[Tensor]) -> Vec<Tensor> {
    Tensor::run_backward(&[loss], params, false, false)
}

/// w_a·a + w_b·b, elementwise over two gradient lists.
pub fn combine(a: &[Tensor], wa: f64, b: &[Tensor], wb: f64) -> Vec<Tensor> {
    a.iter().zip(b).map(|(x, y)| x * wa + y * wb).collect()
}

/// max |a − b| / max |b| over every entry of two gradient lists (global relative error).
pub fn rel_err(a: &[Tensor], b: &[Tensor]) -> f64 {
    assert_eq!(a.len(), b.len());
    let mut num: f64 = 0.0;
    let mut den: f64 = 0.0;
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.size(), y.size());
        num = num.max(max_abs(
            &(x.to_kind(Kind::Double) - y.to_kind(Kind::Double)),
        ));
        den = den.max(max_abs(y));
    }
    num / den.max(1e-300)
}

/// [`rel_err`] of two plain gradient lists (the learner's [`mpg_algos::Grads`] fields).
pub fn rel_err_plain(a: &[Vec<f32>], b: &[Vec<f32>]) -> f64 {
    assert_eq!(a.len(), b.len());
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.len(), y.len());
        for (&u, &v) in x.iter().zip(y) {
            num = num.max((u as f64 - v as f64).abs());
            den = den.max((v as f64).abs());
        }
    }
    num / den.max(1e-300)
}

/// Plain gradients as tensors shaped like `like` (the reference's gradients).
pub fn tensors(g: &[Vec<f32>], like: &[Tensor]) -> Vec<Tensor> {
    assert_eq!(g.len(), like.len());
    g.iter()
        .zip(like)
        .map(|(v, t)| Tensor::from_slice(v).reshape(t.size()))
        .collect()
}

/// max |t|.
pub fn max_abs(t: &Tensor) -> f64 {
    f64::try_from(t.abs().max().to_kind(Kind::Double)).unwrap()
}

/// Global L2 norm of a gradient list.
pub fn global_norm(g: &[Tensor]) -> f64 {
    g.iter()
        .map(|t| f64::try_from(t.to_kind(Kind::Double).square().sum(Kind::Double)).unwrap())
        .sum::<f64>()
        .sqrt()
}

/// `h` noise tensors `[batch]` of `kind`, N(mean, std²), different at every step.
pub fn noises(h: usize, batch: usize, mean: f64, std: f64, kind: Kind, seed: u64) -> Vec<Tensor> {
    let mut rng = Rng::seed_from_u64(seed);
    (0..h)
        .map(|_| {
            let v: Vec<f64> = (0..batch)
                .map(|_| mean + std * rng.sample::<f64, _>(StandardNormal))
                .collect();
            Tensor::from_slice(&v).to_kind(kind)
        })
        .collect()
}

/// f32 standard normals drawn exactly as the learner draws its TD3/SAC noise (D8): `n`
/// values from `rng` in order.
pub fn normals_f32(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| rng.sample::<f32, _>(StandardNormal))
        .collect()
}

/// `n` transitions of `task` from states spread wider than the reset distribution (the
/// pendulum's resets are within ±0.01 of upright, too alike to tell critics apart):
/// pendulum p ± 0.5, θ ± 0.15, ṗ ± 0.5, θ̇ ± 0.5 around the reset state; path tracking as
/// reset. Actions uniform in the task's range; reward, next obs and done from the simulator.
pub fn wide_batch(task: Task, n: usize, seed: u64) -> mpg_algos::Batch {
    use mpg_envs::{Termination, make_sim};
    let spec = task.spec();
    let mut sim = make_sim(task, n, seed, Termination::Paper);
    let mut rng = Rng::seed_from_u64(seed + 77);
    let mut obs = vec![0.0f32; n * spec.obs_dim];
    sim.observe(&mut obs);
    if task == Task::InvertedPendulum {
        let spread = [0.5f32, 0.15, 0.5, 0.5];
        for (k, o) in obs.iter_mut().enumerate() {
            *o += spread[k % 4] * (rng.random::<f32>() * 2.0 - 1.0);
        }
        sim.set_obs(&obs).unwrap();
    }
    let range = if task == Task::PathTracking { 1.0 } else { 3.0 };
    let act: Vec<f32> = (0..n * spec.act_dim)
        .map(|_| (rng.random::<f32>() * 2.0 - 1.0) * range)
        .collect();
    let (mut rew, mut done) = (vec![0.0; n], vec![false; n]);
    sim.step(&act, &mut rew, &mut done).unwrap();
    let mut next = vec![0.0; n * spec.obs_dim];
    sim.observe(&mut next);
    mpg_algos::Batch {
        obs_dim: spec.obs_dim,
        act_dim: spec.act_dim,
        obs,
        act,
        rew,
        next_obs: next,
        done: done.iter().map(|&d| d as u8 as f32).collect(),
    }
}

/// Shift Q2's (and Q2''s) output bias so that Q1 − Q2 changes sign within the batch at
/// (s, π(s)) (resp. (s', π'(s'))): min(Q1, Q2) then picks Q1 for some samples and Q2 for
/// others, and a test can tell min from Q1 or Q2.
pub fn balance_twins(task: Task, nets: &TchNets, obs: &Tensor, next_obs: &Tensor) {
    let shift = |qa: &Mlp, qb: &Mlp, pol: &Mlp, o: &Tensor| {
        tch::no_grad(|| {
            let s = scaled(task, o);
            let a = act(task, &params(pol), &s);
            let d = q(&params(qa), &s, &a) - q(&params(qb), &s, &a);
            // halfway between the two middle values: no sample is left at an exact tie
            let (sorted, _) = d.sort(0, false);
            let n = sorted.size()[0];
            let med = (sorted.get(n / 2 - 1) + sorted.get(n / 2)) * 0.5;
            let mut bias = qb.b.last().unwrap().shallow_clone();
            let _ = bias.g_add_(&med);
        })
    };
    if let (Some(q2), Some(q2t)) = (&nets.q2, &nets.q2_targ) {
        shift(&nets.q1, q2, &nets.policy.net, obs);
        shift(&nets.q1_targ, q2t, &nets.policy_targ.net, next_obs);
    }
}
