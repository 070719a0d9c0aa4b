//! Autograd Jacobians of (next obs, reward) w.r.t. (obs, act) against central finite
//! differences, in f64, at random states away from the clip and wrap kinks; and the gradient
//! the kinks themselves pass (spec §1.9: zero outside the v_x clip range, 1 through the wrap).

use crate::common::{tensor2, to_vec};
use mpg_envs::{Rng, Task};
use mpg_models::{ModelNoise, PriorModel, make_model};
use rand::{Rng as _, SeedableRng};
use rand_distr::StandardNormal;
use std::f64::consts::PI;
use tch::{Kind, Tensor};

const SAMPLES: usize = 512;
/// Largest |autograd − finite difference| / (|finite difference| + 1) allowed.
/// (Reached: 3.9e-9 path tracking, limited by the rounding of X ≈ 600 in the differences;
/// 1.5e-10 pendulum.)
const TOL: f64 = 1e-8;

/// `n` (obs, act) rows from a reset-like distribution, away from the kinks.
fn random_inputs(task: Task, n: usize, rng: &mut Rng) -> (Vec<f64>, Vec<f64>) {
    let (mut obs, mut act) = (Vec::new(), Vec::new());
    let normal = |rng: &mut Rng, s: f64| rng.sample::<f64, _>(StandardNormal) * s;
    let mut rows = 0;
    while rows < n {
        match task {
            Task::PathTracking => {
                // Spec §1.7, actions U(−1.2, 1.2) (the model does not clip them).
                let vx = rng.random_range(15.0..25.0);
                let vy = vx * normal(rng, 0.15).tan();
                let r = normal(rng, 0.3);
                let dphi = normal(rng, PI / 9.0);
                let o = [
                    vx - 20.0,
                    vy,
                    r,
                    normal(rng, 1.0),
                    dphi,
                    rng.random_range(0.0..600.0),
                ];
                let u = [rng.random_range(-1.2..1.2), rng.random_range(-1.2..1.2)];
                let vx1 = vx + 0.1 * (3.0 * u[1] + vy * r);
                // Away from the v_x clip at 1 / 35 and the Δφ wrap at ±π.
                if !(1.5..34.5).contains(&vx1) || (dphi + 0.1 * r).abs() > PI - 0.05 {
                    continue;
                }
                obs.extend(o);
                act.extend(u);
            }
            Task::InvertedPendulum => {
                // Wider than the reset (spec §2.1) so the nonlinear terms matter.
                obs.extend([
                    rng.random_range(-1.0..1.0),
                    rng.random_range(-0.8..0.8),
                    rng.random_range(-2.0..2.0),
                    rng.random_range(-3.0..3.0),
                ]);
                act.push(rng.random_range(-3.0..3.0));
            }
        }
        rows += 1;
    }
    (obs, act)
}

/// `[B, out, in]` Jacobian by autograd, out = (next obs, reward), in = (obs, act).
fn autograd(model: &dyn PriorModel, obs: &[f64], act: &[f64], noise: &Tensor) -> Vec<f64> {
    let spec = model.task().spec();
    let (od, ad) = (spec.obs_dim, spec.act_dim);
    let o = tensor2(obs, od).set_requires_grad(true);
    let a = tensor2(act, ad).set_requires_grad(true);
    let (next, reward) = model.step(&o, &a, noise);
    let out = Tensor::cat(&[next, reward.unsqueeze(1)], 1);
    let b = obs.len() / od;
    let mut jac = vec![0.0; b * (od + 1) * (od + ad)];
    for j in 0..=od {
        let g = Tensor::run_backward(
            &[out.select(1, j as i64).sum(Kind::Double)],
            &[&o, &a],
            true,
            false,
        );
        let (go, ga) = (to_vec(&g[0]), to_vec(&g[1]));
        for s in 0..b {
            for k in 0..od + ad {
                let v = if k < od {
                    go[s * od + k]
                } else {
                    ga[s * ad + k - od]
                };
                jac[(s * (od + 1) + j) * (od + ad) + k] = v;
            }
        }
    }
    jac
}

/// The same Jacobian by central differences, step 1e-5·(1 + |x|) per element.
fn finite_differences(
    model: &dyn PriorModel,
    obs: &[f64],
    act: &[f64],
    noise: &Tensor,
) -> Vec<f64> {
    let spec = model.task().spec();
    let (od, ad) = (spec.obs_dim, spec.act_dim);
    let b = obs.len() / od;
    let eval = |o: &[f64], a: &[f64]| {
        let (next, reward) = model.step(&tensor2(o, od), &tensor2(a, ad), noise);
        to_vec(&Tensor::cat(&[next, reward.unsqueeze(1)], 1))
    };
    let mut jac = vec![0.0; b * (od + 1) * (od + ad)];
    for k in 0..od + ad {
        let (mut op, mut om, mut ap, mut am) =
            (obs.to_vec(), obs.to_vec(), act.to_vec(), act.to_vec());
        let mut h = vec![0.0; b];
        for (s, hs) in h.iter_mut().enumerate() {
            let (plus, minus) = if k < od {
                (&mut op[s * od + k], &mut om[s * od + k])
            } else {
                (&mut ap[s * ad + k - od], &mut am[s * ad + k - od])
            };
            *hs = 1e-5 * (1.0 + plus.abs());
            *plus += *hs;
            *minus -= *hs;
        }
        let (fp, fm) = (eval(&op, &ap), eval(&om, &am));
        for (s, hs) in h.iter().enumerate() {
            for j in 0..=od {
                let i = s * (od + 1) + j;
                jac[i * (od + ad) + k] = (fp[i] - fm[i]) / (2.0 * hs);
            }
        }
    }
    jac
}

fn check(task: Task) {
    let model = make_model(task);
    let (obs, act) = random_inputs(task, SAMPLES, &mut Rng::seed_from_u64(7));
    let noise =
        ModelNoise::default_for(task).draw(&mut Rng::seed_from_u64(8), SAMPLES, Kind::Double);
    let auto = autograd(&*model, &obs, &act, &noise);
    let fd = finite_differences(&*model, &obs, &act, &noise);
    let worst = auto
        .iter()
        .zip(&fd)
        .map(|(a, f)| (a - f).abs() / (f.abs() + 1.0))
        .fold(0.0f64, f64::max);
    let largest = fd.iter().fold(0.0f64, |m, f| m.max(f.abs()));
    println!(
        "{task}: {SAMPLES} states, max |autograd − fd| / (|fd| + 1) = {worst:.2e} (largest entry {largest:.2})"
    );
    assert!(worst <= TOL, "{task}: Jacobian error {worst:e} > {TOL:e}");
    // Not vacuous: every output depends on some input.
    assert!(largest > 1.0);
}

#[test]
fn path_tracking_jacobian_matches_finite_differences() {
    check(Task::PathTracking);
}

#[test]
fn pendulum_jacobian_matches_finite_differences() {
    check(Task::InvertedPendulum);
}

/// At the kinks the gradient is the authors' TF one: tf.clip_by_value passes zero outside the
/// range, the `tf.where` wrap passes 1 (spec §1.9).
#[test]
fn path_tracking_kink_gradients_follow_the_authors() {
    let model = make_model(Task::PathTracking);
    // Row 0: v_x = 34.9 accelerating (clipped to 35); row 1: v_x = 1.1 braking (clipped to 1);
    // row 2: Δφ = 3.1 turning left (wraps to about −3.08); row 3: nothing clipped or wrapped.
    let obs = tensor2(
        &[
            14.9, 0.0, 0.0, 0.0, 0.0, 10.0, //
            -18.9, 0.0, 0.0, 0.0, 0.0, 10.0, //
            0.0, 0.0, 1.0, 0.0, 3.1, 10.0, //
            0.0, 0.1, 0.1, 0.0, 0.1, 10.0,
        ],
        6,
    )
    .set_requires_grad(true);
    let act = tensor2(&[0.0, 1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.5], 2).set_requires_grad(true);
    let (next, _) = model.step(
        &obs,
        &act,
        &Tensor::zeros([4], (Kind::Double, tch::Device::Cpu)),
    );
    let n = to_vec(&next);
    assert_eq!([n[0] + 20.0, n[6] + 20.0], [35.0, 1.0]);
    assert!((n[12 + 4] - (3.2 - 2.0 * PI)).abs() < 1e-12);

    let g = Tensor::run_backward(
        &[next.select(1, 0).sum(Kind::Double)],
        &[&obs, &act],
        true,
        false,
    );
    let (go, ga) = (to_vec(&g[0]), to_vec(&g[1]));
    // Clipped rows: zero gradient of v_x⁺; unclipped rows: ∂v_x⁺/∂v_x = 1, ∂v_x⁺/∂u₁ = 0.3.
    assert_eq!(&go[0..6], &[0.0; 6]);
    assert_eq!(&go[6..12], &[0.0; 6]);
    assert_eq!(ga[1], 0.0);
    assert_eq!(ga[3], 0.0);
    assert!((go[18] - 1.0).abs() < 1e-12 && (ga[7] - 0.3).abs() < 1e-12);

    let g = Tensor::run_backward(&[next.select(1, 4).sum(Kind::Double)], &[&obs], true, false);
    let go = to_vec(&g[0]);
    // Through the wrap (row 2) as without it (row 3): ∂Δφ⁺/∂Δφ = 1, ∂Δφ⁺/∂r = τ = 0.1.
    for row in [2, 3] {
        assert_eq!(go[row * 6 + 4], 1.0, "row {row}");
        assert!((go[row * 6 + 2] - 0.1).abs() < 1e-15, "row {row}");
    }
}

/// [`mpg_models::rollout`]: the gradient of the return w.r.t. the first action (the only one
/// with a parameter gradient in MPG, spec §3.2) also flows through the model states into the
/// later actions and rewards; it matches finite differences of the whole noisy rollout.
#[test]
fn rollout_gradient_flows_through_the_states() {
    const H: usize = 10;
    for task in Task::ALL {
        let spec = task.spec();
        let model = make_model(task);
        let (obs, act) = random_inputs(task, 16, &mut Rng::seed_from_u64(21));
        let s0 = tensor2(&obs, spec.obs_dim);
        // A fixed linear state feedback a = −s·G for the later actions (differentiable in the
        // state): path tracking steers on Δy, Δφ and brakes on v_x − 20; the pendulum pushes
        // the cart under the falling pole.
        let gain: &[f64] = match task {
            Task::PathTracking => &[0.0, 0.2, 0.0, 0.0, 0.0, 0.0, 0.1, 0.0, 1.0, 0.0, 0.0, 0.0],
            Task::InvertedPendulum => &[0.0, -5.0, 0.0, -1.0],
        };
        let gain = tensor2(gain, spec.act_dim);
        let ret = |a0: &Tensor, rng: &mut Rng| {
            let mut policy = |k: usize, s: &Tensor| {
                if k == 0 {
                    a0.shallow_clone()
                } else {
                    -s.matmul(&gain)
                }
            };
            let noise = ModelNoise::default_for(task);
            let (states, rewards) = mpg_models::rollout(&*model, &mut policy, &s0, H, &noise, rng);
            assert_eq!((states.len(), rewards.len()), (H + 1, H));
            assert!(states[0].equal(&s0));
            rewards
        };
        let a0 = tensor2(&act, spec.act_dim).set_requires_grad(true);
        let rewards = ret(&a0, &mut Rng::seed_from_u64(5));
        let total = Tensor::stack(&rewards, 0).sum(Kind::Double);
        let g_all = to_vec(&Tensor::run_backward(&[&total], &[&a0], true, false)[0]);
        let g_first =
            to_vec(&Tensor::run_backward(&[rewards[0].sum(Kind::Double)], &[&a0], true, false)[0]);
        let h = 1e-4;
        let mut worst = 0.0f64;
        let mut through_states = 0.0f64;
        for k in 0..act.len() {
            let (mut ap, mut am) = (act.clone(), act.clone());
            ap[k] += h;
            am[k] -= h;
            let f = |a: &[f64]| {
                let r = ret(&tensor2(a, spec.act_dim), &mut Rng::seed_from_u64(5));
                to_vec(&Tensor::stack(&r, 0).sum(Kind::Double))[0]
            };
            let fd = (f(&ap) - f(&am)) / (2.0 * h);
            worst = worst.max((g_all[k] - fd).abs() / (fd.abs() + 1.0));
            through_states = through_states.max((g_all[k] - g_first[k]).abs());
        }
        println!(
            "{task}: rollout gradient vs fd {worst:.2e}; part through the states up to {through_states:.3}"
        );
        assert!(worst < 1e-8, "{task}: {worst:e}");
        assert!(through_states > 1e-2, "{task}: {through_states}");
    }
}
