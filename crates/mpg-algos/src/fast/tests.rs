//! The fast path equals the autograd reference (issue "fast gradient path").

use super::mlp::FastMlp;
use super::path_model::PathModel;
use super::pendulum_model::PendulumModel;
use super::{
    Critic, FastModel, Objective, Workspace, model_target_threads, policy_grad, policy_grad_threads,
};
use crate::batch::{Batch, TchBatch};
use crate::grads::grad_of;
use crate::mpg::{Returns, mixed_policy_loss};
use crate::nets::{Nets, TchNets};
use crate::{Algo, nadp};
use mpg_envs::{Rng, Task, Termination, make_sim};
use mpg_models::nets::{Init, Mlp, Policy, Squash, q_value};
use mpg_models::{ModelNoise, PriorModel, make_model};
use rand::{Rng as _, SeedableRng};
use tch::{Kind, Tensor};

/// ‖fast − ref‖ / ‖ref‖ over one tensor.
fn rel_err(fast: &[f64], reference: &Tensor) -> f64 {
    let r: Vec<f64> = Vec::try_from(
        reference
            .detach()
            .to_kind(Kind::Double)
            .contiguous()
            .view(-1),
    )
    .unwrap();
    assert_eq!(r.len(), fast.len(), "sizes differ");
    let diff = fast
        .iter()
        .zip(&r)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        .sqrt();
    let norm = r.iter().map(|b| b * b).sum::<f64>().sqrt();
    assert!(norm > 0.0, "a zero reference says nothing");
    diff / norm
}

fn to_f64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

fn uniform(rng: &mut Rng, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..n)
        .map(|_| lo + (hi - lo) * rng.random::<f64>())
        .collect()
}

fn f32_tensor(v: &[f64], shape: &[i64]) -> Tensor {
    Tensor::from_slice(&v.iter().map(|&x| x as f32).collect::<Vec<_>>()).reshape(shape)
}

/// Random (non-zero) biases, so that they matter.
fn randomize_biases(net: &Mlp, rng: &mut Rng, spread: f64) {
    let values: Vec<Tensor> = net
        .params()
        .iter()
        .enumerate()
        .map(|(i, t)| {
            if i % 2 == 0 {
                t.detach().copy()
            } else {
                let n = t.numel();
                f32_tensor(&uniform(rng, n, -spread, spread), &[n as i64])
            }
        })
        .collect();
    net.load_values(&values);
}

#[test]
fn mlp_forward_and_gradients_equal_autograd() {
    let mut rng = Rng::seed_from_u64(11);
    for sizes in [
        vec![7, 32, 24, 5],
        vec![8, 256, 256, 1],
        vec![6, 256, 256, 4],
    ] {
        let net = Mlp::with_sizes(&sizes, Init::Glorot, &mut rng);
        randomize_biases(&net, &mut rng, 0.5);
        let n = 37;
        let (din, dout) = (sizes[0], *sizes.last().unwrap());
        let x = uniform(&mut rng, n * din, -2.0, 2.0);
        let gout = uniform(&mut rng, n * dout, -1.0, 1.0);

        let xt = f32_tensor(&x, &[n as i64, din as i64]).set_requires_grad(true);
        let out = net.forward(&xt);
        let loss = (&out * f32_tensor(&gout, &[n as i64, dout as i64])).sum(Kind::Float);
        let mut wrt = vec![xt.shallow_clone()];
        wrt.extend(net.params());
        let want = grad_of(&loss, &wrt);

        let fast = FastMlp::from_mlp(&net);
        let mut cache = Default::default();
        let xf: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        fast.forward(&xf, n, &mut cache);
        let e = rel_err(&to_f64(cache.output()), &out);
        eprintln!("{sizes:?} forward: {e:.2e}");
        assert!(e <= 1e-5, "{sizes:?} forward: {e:e}");

        let gf: Vec<f32> = gout.iter().map(|&v| v as f32).collect();
        // Input gradient alone, then with the parameter gradients.
        let mut gin = vec![0.0f32; n * din];
        fast.backward(&cache, &gf, &mut gin, None);
        let e = rel_err(&to_f64(&gin), &want[0]);
        eprintln!("{sizes:?} input gradient: {e:.2e}");
        assert!(e <= 1e-5, "{sizes:?} input gradient: {e:e}");
        let mut pg = fast.zero_grads();
        let mut gin2 = vec![0.0f32; n * din];
        fast.backward(&cache, &gf, &mut gin2, Some(&mut pg));
        assert_eq!(gin, gin2);
        for (i, (g, w)) in pg.iter().zip(&want[1..]).enumerate() {
            let e = rel_err(&to_f64(g), w);
            eprintln!("{sizes:?} parameter {i}: {e:.2e}");
            assert!(e <= 1e-5, "{sizes:?} parameter {i}: {e:e}");
        }
    }
}

#[test]
fn path_model_step_and_vjp_equal_autograd() {
    let mut rng = Rng::seed_from_u64(12);
    // Realistic states from the simulator's resets, and wide random ones that reach the v_x
    // clip at both bounds and the Δφ wrap.
    let n_sim = 256;
    let sim = make_sim(Task::PathTracking, n_sim, 5, Termination::Paper);
    let mut obs32 = vec![0.0f32; n_sim * 6];
    sim.observe(&mut obs32);
    let mut obs = to_f64(&obs32);
    let n_wide = 1024;
    for _ in 0..n_wide {
        obs.push(uniform(&mut rng, 1, -19.0, 16.0)[0]);
        obs.push(uniform(&mut rng, 1, -3.0, 3.0)[0]);
        obs.push(uniform(&mut rng, 1, -1.5, 1.5)[0]);
        obs.push(uniform(&mut rng, 1, -5.0, 5.0)[0]);
        obs.push(uniform(&mut rng, 1, -3.3, 3.3)[0]);
        obs.push(uniform(&mut rng, 1, 0.0, 1200.0)[0]);
    }
    let n = n_sim + n_wide;
    let act = uniform(&mut rng, n * 2, -1.5, 1.5);
    let noise = uniform(&mut rng, n, 0.45, 0.55);
    let g = uniform(&mut rng, n * 6, -1.0, 1.0);
    let g_rew = uniform(&mut rng, n, -1.0, 1.0);

    let fnext = check_model::<PathModel>(Task::PathTracking, &obs, &act, &noise, &g, &g_rew, 1e-5);
    let (mut clipped, mut wrapped) = (0, 0);
    for i in 0..n {
        let vx1 = fnext[i * 6] + 20.0;
        if vx1 <= 1.0 || vx1 >= 35.0 {
            clipped += 1;
        }
        if (obs[i * 6 + 4] + 0.1 * obs[i * 6 + 2]).abs() > std::f64::consts::PI {
            wrapped += 1;
        }
    }
    assert!(
        clipped > 10 && wrapped > 10,
        "clip {clipped}, wrap {wrapped}"
    );
}

/// Model `M` (the tch model of `task` as the oracle): next state, reward, and the
/// vector-Jacobian product with (`g`, `g_rew`) against autograd in f64, each within `tol`
/// (relative). Returns the fast next states.
fn check_model<M: FastModel>(
    task: Task,
    obs: &[f64],
    act: &[f64],
    noise: &[f64],
    g: &[f64],
    g_rew: &[f64],
    tol: f64,
) -> Vec<f64> {
    let (od, ad, n) = (M::OBS, M::ACT, noise.len());
    let model = make_model(task);
    let t = |v: &[f64], shape: &[i64]| Tensor::from_slice(v).reshape(shape);
    let ot = t(obs, &[n as i64, od as i64]).set_requires_grad(true);
    let at = t(act, &[n as i64, ad as i64]).set_requires_grad(true);
    let (next, rew) = model.step(&ot, &at, &t(noise, &[n as i64]));
    let loss = (&next * t(g, &[n as i64, od as i64])).sum(Kind::Double)
        + (&rew * t(g_rew, &[n as i64])).sum(Kind::Double);
    let want = grad_of(&loss, &[ot.shallow_clone(), at.shallow_clone()]);

    let (mut fnext, mut frew) = (vec![0.0; n * od], vec![0.0; n]);
    let (mut fgs, mut fga) = (vec![0.0; n * od], vec![0.0; n * ad]);
    for i in 0..n {
        let (s, a) = (&obs[i * od..][..od], &act[i * ad..][..ad]);
        frew[i] = M::step(s, a, noise[i], &mut fnext[i * od..][..od]);
        M::step_vjp(
            s,
            a,
            noise[i],
            &g[i * od..][..od],
            g_rew[i],
            &mut fgs[i * od..][..od],
            &mut fga[i * ad..][..ad],
        );
    }
    for (name, fast, reference) in [
        ("next", &fnext, &next),
        ("reward", &frew, &rew),
        ("d state", &fgs, &want[0]),
        ("d action", &fga, &want[1]),
    ] {
        let e = rel_err(fast, reference);
        eprintln!("{task} {name}: {e:.2e}");
        assert!(e <= tol, "{task} {name}: {e:e}");
    }
    fnext
}

#[test]
fn mpg_policy_grad_equals_mixed_policy_loss_autograd() {
    let spec = Task::PathTracking.spec();
    let mut rng = Rng::seed_from_u64(13);
    let policy = Policy::new(6, 2, Squash::Tanh, Init::Orthogonal, &mut rng);
    let q1 = Mlp::new(8, 1, Init::Orthogonal, &mut rng);
    randomize_biases(&policy.net, &mut rng, 0.1);
    randomize_biases(&q1, &mut rng, 0.1);
    // Realistic states: simulator resets, then a few steps under random actions.
    let n = 64;
    let mut sim = make_sim(Task::PathTracking, n, 7, Termination::Paper);
    let (mut rew, mut done) = (vec![0.0f32; n], vec![false; n]);
    for _ in 0..5 {
        let act: Vec<f32> = (0..n * 2)
            .map(|_| rng.random::<f32>() * 2.0 - 1.0)
            .collect();
        sim.step(&act, &mut rew, &mut done).unwrap();
        sim.reset_done();
    }
    let mut obs = vec![0.0f32; n * 6];
    sim.observe(&mut obs);
    let obs_t = Tensor::from_slice(&obs).reshape([n as i64, 6]);
    let obs_scale = Tensor::from_slice(spec.obs_scale);
    let model = make_model(Task::PathTracking);
    let q = |s: &Tensor, a: &Tensor| q_value(&q1, s, a);
    let gamma = 0.98;
    let returns = Returns {
        model: model.as_ref(),
        policy: &policy,
        obs_scale: &obs_scale,
        q: &q,
        gamma,
        reward_scale: spec.reward_scale as f64,
        reward_shift: spec.reward_shift as f64,
    };
    let fast_policy = FastMlp::from_mlp(&policy.net);
    let fast_q1 = FastMlp::from_mlp(&q1);
    for (horizon, w_data, w_model) in [
        (12, 0.3, 0.7),
        (5, 1.0, 0.0),
        (5, 0.0, 1.0),
        (3, 0.5, 0.5),
        (0, 0.2, 0.8),
    ] {
        let noises: Vec<Tensor> = (0..horizon)
            .map(|_| ModelNoise::PATH_TRACKING.draw(&mut rng, n, Kind::Float))
            .collect();
        let loss = mixed_policy_loss(&returns, &obs_t, &noises, w_data, w_model, false);
        let want = grad_of(&loss, &policy.net.params());
        let noise_values: Vec<Vec<f32>> = noises
            .iter()
            .map(|t| Vec::<f32>::try_from(t).unwrap())
            .collect();
        let critic = Critic {
            q1: &fast_q1,
            q2: None,
        };
        let obj = Objective {
            gamma,
            w_data,
            w_model,
            full_bptt: false,
            obs_scale: spec.obs_scale,
            reward_scale: spec.reward_scale as f64,
            reward_shift: spec.reward_shift as f64,
            act_range: 1.0,
        };
        let mut ws = Workspace::default();
        let got =
            policy_grad::<PathModel>(&mut ws, &fast_policy, critic, &obs, &noise_values, &obj);
        let want_loss = f64::try_from(&loss).unwrap();
        assert!(
            (got.loss - want_loss).abs() <= 1e-5 * want_loss.abs(),
            "H {horizon} ({w_data}, {w_model}): loss {} vs {want_loss}",
            got.loss
        );
        // The batch split over 3 threads (shares of 21, 21, 22 samples) gives the same.
        let split = policy_grad_threads::<PathModel>(
            &mut ws,
            3,
            &fast_policy,
            critic,
            &obs,
            &noise_values,
            &obj,
        );
        assert!((split.loss - want_loss).abs() <= 1e-5 * want_loss.abs());
        assert_eq!(got.grads.len(), want.len());
        for (i, ((g, s), w)) in got.grads.iter().zip(&split.grads).zip(&want).enumerate() {
            let e = rel_err(&to_f64(g), w);
            let es = rel_err(&to_f64(s), w);
            eprintln!("H {horizon} ({w_data}, {w_model}) parameter {i}: {e:.2e}, split {es:.2e}");
            assert!(
                e <= 1e-4 && es <= 1e-4,
                "H {horizon} ({w_data}, {w_model}) parameter {i}: {e:e}, split {es:e}"
            );
        }
    }
}

#[test]
fn pendulum_model_step_and_vjp_equal_autograd() {
    let mut rng = Rng::seed_from_u64(14);
    // Wide states: θ over a full turn (cos θ of both signs), fast rods, forces beyond ±3.
    let n = 1024;
    let mut obs = Vec::new();
    for _ in 0..n {
        obs.push(uniform(&mut rng, 1, -1.0, 1.0)[0]);
        obs.push(uniform(&mut rng, 1, -3.2, 3.2)[0]);
        obs.push(uniform(&mut rng, 1, -5.0, 5.0)[0]);
        obs.push(uniform(&mut rng, 1, -10.0, 10.0)[0]);
    }
    let act = uniform(&mut rng, n, -4.0, 4.0);
    let noise = uniform(&mut rng, n, -1.0, 1.2);
    let g = uniform(&mut rng, n * 4, -1.0, 1.0);
    let g_rew = uniform(&mut rng, n, -1.0, 1.0);

    check_model::<PendulumModel>(
        Task::InvertedPendulum,
        &obs,
        &act,
        &noise,
        &g,
        &g_rew,
        1e-12,
    );
}

#[test]
fn expm1_neg_matches_libm() {
    let mut worst: f64 = 0.0;
    for i in 0..=200_000 {
        let x = -30.0 * (i as f32 / 200_000.0).powi(3);
        let want = (x as f64).exp_m1();
        let got = super::mlp::expm1_neg(x) as f64;
        let rel = (got - want).abs() / want.abs().max(f64::MIN_POSITIVE);
        worst = worst.max(if x == 0.0 { got.abs() } else { rel });
    }
    eprintln!("worst relative error {worst:.2e}");
    assert!(
        worst < 4.0 * f32::EPSILON as f64,
        "worst relative error {worst:e}"
    );
    assert_eq!(super::mlp::expm1_neg(-100.0), -1.0);
    assert_eq!(super::mlp::expm1_neg(0.0), 0.0);
}

/// What both n-step ADP checks start from: the networks (biases randomised), the objective
/// (all model, full BPTT), the prior model, a batch of 37 samples (so that 3 threads get
/// unequal shares) with its observations, and the fast policy and Q1.
struct NadpCase {
    rng: Rng,
    nets: TchNets,
    obj: Objective<'static>,
    model: Box<dyn PriorModel>,
    batch: TchBatch,
    obs: Vec<f32>,
    policy: FastMlp,
    q1: FastMlp,
}

const NADP_BATCH: usize = 37;

fn nadp_case(task: Task, seed: u64) -> NadpCase {
    let mut rng = Rng::seed_from_u64(seed);
    let (nets, obj) = nadp_setup(task, &mut rng);
    let batch = Batch::random(task, NADP_BATCH, seed).tch();
    NadpCase {
        obs: super::values(&batch.obs),
        policy: FastMlp::from_mlp(&nets.policy.net),
        q1: FastMlp::from_mlp(&nets.q1),
        model: make_model(task),
        rng,
        nets,
        obj,
        batch,
    }
}

/// n-step ADP's networks (random biases, so that they matter) and the fast path's objective:
/// the model return alone, full BPTT, the task's preprocessing (spec §3.7).
fn nadp_setup(task: Task, rng: &mut Rng) -> (TchNets, Objective<'static>) {
    let spec = task.spec();
    let nets = Nets::new(Algo::Nadp, task, Init::Orthogonal, true, rng).tch();
    for net in [&nets.policy.net, &nets.q1, &nets.q1_targ] {
        randomize_biases(net, rng, 0.1);
    }
    let act_range = match nets.policy.squash {
        Squash::Tanh => 1.0,
        Squash::ScaledTanh(r) => r as f32,
        Squash::None => unreachable!("n-step ADP's policy is squashed"),
    };
    let obj = Objective {
        gamma: 0.98,
        w_data: 0.0,
        w_model: 1.0,
        full_bptt: true,
        obs_scale: spec.obs_scale,
        reward_scale: spec.reward_scale as f64,
        reward_shift: spec.reward_shift as f64,
        act_range,
    };
    (nets, obj)
}

fn noise_draws(
    task: Task,
    rng: &mut Rng,
    n: usize,
    horizon: usize,
) -> (Vec<Tensor>, Vec<Vec<f32>>) {
    let t: Vec<Tensor> = (0..horizon)
        .map(|_| ModelNoise::default_for(task).draw(rng, n, Kind::Float))
        .collect();
    let v = t.iter().map(|t| Vec::<f32>::try_from(t).unwrap()).collect();
    (t, v)
}

/// n-step ADP's policy gradient (full BPTT through every action, critic Q1) equals autograd
/// through [`nadp::bptt_policy_loss`] for model `M`, on 1 and on 3 threads (shares of an odd
/// batch), at H = 1 and H = 25.
fn check_nadp_policy_grad<M: FastModel>(task: Task, seed: u64) {
    let spec = task.spec();
    let mut c = nadp_case(task, seed);
    let critic = Critic {
        q1: &c.q1,
        q2: None,
    };
    let mut ws = Workspace::default();
    for horizon in [1, 25] {
        let (noises, noise_values) = noise_draws(task, &mut c.rng, NADP_BATCH, horizon);
        let loss =
            nadp::bptt_policy_loss(c.model.as_ref(), &c.nets, &c.batch.obs, &noises, 0.98, spec);
        let want = grad_of(&loss, &c.nets.policy.net.params());
        let want_loss = f64::try_from(&loss).unwrap();
        for threads in [1, 3] {
            let got = policy_grad_threads::<M>(
                &mut ws,
                threads,
                &c.policy,
                critic,
                &c.obs,
                &noise_values,
                &c.obj,
            );
            assert!(
                (got.loss - want_loss).abs() <= 1e-5 * want_loss.abs(),
                "{task} H {horizon}, {threads} threads: loss {} vs {want_loss}",
                got.loss
            );
            for (i, (g, w)) in got.grads.iter().zip(&want).enumerate() {
                let e = rel_err(&to_f64(g), w);
                eprintln!("{task} H {horizon}, {threads} threads, parameter {i}: {e:.2e}");
                assert!(
                    e <= 1e-4,
                    "{task} H {horizon}, {threads} threads, parameter {i}: {e:e}"
                );
            }
        }
    }
}

#[test]
fn nadp_policy_grad_equals_bptt_autograd() {
    check_nadp_policy_grad::<PathModel>(Task::PathTracking, 21);
    check_nadp_policy_grad::<PendulumModel>(Task::InvertedPendulum, 22);
}

/// n-step ADP's critic target equals [`nadp::model_nstep_target`] for model `M` (stored first
/// action, current policy after, target Q1 at the end), on 1 and on 3 threads, at H = 1 and
/// H = 25; and a workspace used by the policy gradient in between gives the same targets.
fn check_nadp_target<M: FastModel>(task: Task, seed: u64) {
    let spec = task.spec();
    let mut c = nadp_case(task, seed);
    let act = super::values(&c.batch.act);
    let q1_targ = FastMlp::from_mlp(&c.nets.q1_targ);
    let mut ws = Workspace::default();
    for horizon in [1, 25] {
        let (noises, noise_values) = noise_draws(task, &mut c.rng, NADP_BATCH, horizon);
        let want =
            nadp::model_nstep_target(c.model.as_ref(), &c.nets, &c.batch, &noises, 0.98, spec);
        // 1 thread is `model_target` itself; 3 split the batch into unequal shares.
        let target = |ws: &mut Workspace, threads| {
            model_target_threads::<M>(
                ws,
                threads,
                &c.policy,
                &q1_targ,
                &c.obs,
                &act,
                &noise_values,
                &c.obj,
            )
        };
        let one = target(&mut ws, 1);
        let e = rel_err(&to_f64(&one), &want);
        eprintln!("{task} H {horizon}: target {e:.2e}");
        assert!(e <= 1e-5, "{task} H {horizon}: target {e:e}");
        let split = target(&mut ws, 3);
        let e = rel_err(&to_f64(&split), &want);
        assert!(e <= 1e-5, "{task} H {horizon}, 3 threads: target {e:e}");
        // The policy gradient's caches in the same workspace leave the target unchanged.
        let critic = Critic {
            q1: &c.q1,
            q2: None,
        };
        policy_grad::<M>(&mut ws, &c.policy, critic, &c.obs, &noise_values, &c.obj);
        let again = target(&mut ws, 1);
        assert_eq!(one, again, "{task} H {horizon}: a reused workspace");
    }
}

#[test]
fn nadp_model_target_equals_reference() {
    check_nadp_target::<PathModel>(Task::PathTracking, 23);
    check_nadp_target::<PendulumModel>(Task::InvertedPendulum, 24);
}
