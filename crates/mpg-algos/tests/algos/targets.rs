//! Critic targets and the TD3/SAC policy losses on tiny batches against hand-computed values
//! (spec §3.4–3.8, D14, D17, D19).

use crate::reference::{
    act, balance_twins, grads, max_abs, model_return, normals_f32, params, plain, q, rel_err,
    reward_scale, scaled, tensors, tiny_nets, wide_batch,
};
use mpg_algos::grads::q_loss;
use mpg_algos::mpg::mixed_objective;
use mpg_algos::ndpg::dpg_policy_loss;
use mpg_algos::sac::{soft_policy_loss, soft_target};
use mpg_algos::td3::{clipped_double_q_target, min_q_policy_loss, smoothed_action};
use mpg_algos::{Algo, AlgoConfig, Learner, TchBatch, TchNets};
use mpg_envs::{Task, Termination, make_sim};
use mpg_models::nets::Squash;
use mpg_models::{ModelNoise, make_model};
use tch::{Kind, Tensor};

const B: usize = 4;
const GAMMA: f64 = 0.98;

fn t(v: &[f64]) -> Tensor {
    Tensor::from_slice(v)
}

fn assert_close(got: &Tensor, want: &Tensor, tol: f64, what: &str) {
    let err = rel_err(&[got.to_kind(Kind::Double)], &[want.to_kind(Kind::Double)]);
    eprintln!("{what}: rel err {err:.2e}");
    assert!(err < tol, "{what}: rel err {err}\n got {got}\nwant {want}");
}

fn cfg(algo: Algo, task: Task) -> AlgoConfig {
    let mut c = AlgoConfig::defaults(algo, task);
    c.batch_size = B;
    c
}

/// The pure loss and target functions on numbers worked out by hand.
#[test]
fn pure_targets_and_losses_match_hand_computed_numbers() {
    let close = |a: &Tensor, b: &[f64]| assert!(max_abs(&(a - t(b))) < 1e-12, "{a} vs {b:?}");
    // r + γ·min(Q1', Q2'): 1 + 0.5·min(3, 4) = 2.5; −2 + 0.5·min(5, 1) = −1.5
    let (r, q1, q2) = (t(&[1.0, -2.0]), t(&[3.0, 5.0]), t(&[4.0, 1.0]));
    close(
        &clipped_double_q_target(&r, &q1, &q2, &t(&[1.0, 1.0]), 0.5),
        &[2.5, -1.5],
    );
    // masked second sample (D17 option): −2
    close(
        &clipped_double_q_target(&r, &q1, &q2, &t(&[1.0, 0.0]), 0.5),
        &[2.5, -2.0],
    );
    // π'(s') + clip(0.2·ε, ±0.5): 0.9 + clip(0.6) = 1.4 (NOT re-clipped to 1); −0.2 − 0.1
    close(
        &smoothed_action(&t(&[0.9, -0.2]), &t(&[3.0, -0.5]), 0.2, 0.5),
        &[1.4, -0.3],
    );
    // r + γ·(min(Q1', Q2') − α log π): 1 + 0.5·(3 − 0.1·(−2)) = 2.6
    close(
        &soft_target(
            &t(&[1.0]),
            &t(&[3.0]),
            &t(&[4.0]),
            &t(&[-2.0]),
            &t(&[1.0]),
            0.5,
            0.1,
        ),
        &[2.6],
    );
    // mean(α log π − min Q): mean(0.5·(−1) − 1, 0.5·2 − 3) = mean(−1.5, −2) = −1.75
    let l = soft_policy_loss(&t(&[1.0, 3.0]), &t(&[-1.0, 2.0]), 0.5);
    assert!((f64::try_from(l).unwrap() + 1.75).abs() < 1e-6);
    // −mean Q
    assert!((f64::try_from(min_q_policy_loss(&t(&[1.0, 3.0]))).unwrap() + 2.0).abs() < 1e-6);
    assert!((f64::try_from(dpg_policy_loss(&t(&[1.0, 3.0]))).unwrap() + 2.0).abs() < 1e-6);
    // −(w_d·mean data + w_m·mean model) = −(0.25·2 + 0.75·3) = −2.75
    let j = mixed_objective(&t(&[1.0, 3.0]), &t(&[2.0, 4.0]), 0.25, 0.75);
    assert!((f64::try_from(j).unwrap() + 2.75).abs() < 1e-6);
    // ½·mean((Q − y)²) = ½·(1 + 4 + 9)/3 = 7/3
    let l = q_loss(&t(&[1.0, 2.0, 3.0]), &t(&[0.0, 0.0, 0.0]));
    assert!((f64::try_from(l).unwrap() - 7.0 / 3.0).abs() < 1e-6);
}

/// r·c_r + γ·not_done·min(Q1'(s', a'), Q2'(s', a')) from the batch, with a' given.
fn one_step(task: Task, nets: &TchNets, b: &TchBatch, a2: &Tensor, not_done: &Tensor) -> Tensor {
    let s2 = scaled(task, &b.next_obs);
    let q1 = q(&params(&nets.q1_targ), &s2, a2);
    let q2 = q(&params(nets.q2_targ.as_ref().unwrap()), &s2, a2);
    &b.rew * reward_scale(task) + q1.minimum(&q2) * not_done * GAMMA
}

/// Spec §3.5 (MPG-v2's critic): y = r·c_r + γ·min(Q1', Q2')(s', π'(s')) — target policy, no
/// smoothing noise (the learner's generator is not touched), no done mask by default (D17:
/// every path-tracking transition has done = 1, D1, yet bootstraps); with `mask_terminal`
/// y = r·c_r where done.
#[test]
fn mpg_v2_target_is_clipped_double_q_without_smoothing_or_mask() {
    tch::set_num_threads(1);
    for task in Task::ALL {
        let nets = tiny_nets(task, true, Kind::Float, 61);
        let batch = wide_batch(task, B, 21);
        let b = batch.tch();
        balance_twins(task, &nets, &b.obs, &b.next_obs);
        let mut learner = Learner::new(Algo::MpgV2, task, cfg(Algo::MpgV2, task), 7);
        let rng_before = learner.rng().clone();
        let y = Tensor::from_slice(&learner.critic_target(&plain(&nets), &batch));
        assert_eq!(learner.rng(), &rng_before, "MPG-v2's target draws no noise");
        let a2 = act(
            task,
            &params(&nets.policy_targ.net),
            &scaled(task, &b.next_obs),
        );
        let want = one_step(task, &nets, &b, &a2, &b.done.ones_like());
        assert_close(&y, &want, 1e-5, &format!("{task} MPG-v2 target"));
        // the current policy in place of π' would give another value
        let a_cur = act(task, &params(&nets.policy.net), &scaled(task, &b.next_obs));
        let other = one_step(task, &nets, &b, &a_cur, &b.done.ones_like());
        assert!(max_abs(&(&other - &want)) > 1e-3);
        if task == Task::PathTracking {
            assert_eq!(
                f64::try_from(b.done.min()).unwrap(),
                1.0,
                "D1: done always true"
            );
        }
        // D17 option
        let mut c = cfg(Algo::MpgV2, task);
        c.mask_terminal = true;
        let mut masked = Learner::new(Algo::MpgV2, task, c, 7);
        let y = Tensor::from_slice(&masked.critic_target(&plain(&nets), &batch));
        let want = one_step(task, &nets, &b, &a2, &(1.0 - &b.done));
        assert_close(&y, &want, 1e-5, &format!("{task} MPG-v2 target, masked"));
    }
}

/// Spec §3.8 TD3: y = r·c_r + γ·min(Q1', Q2')(s', π'(s') + clip(σ·ε, −0.5, 0.5)), ε drawn from
/// the learner's generator (D8), the smoothed action not re-clipped to the action range. With
/// σ = 1 the ±0.5 clip binds on some entries; with the default σ = 0.2 as well.
#[test]
fn td3_target_smooths_the_target_action_with_clipped_noise() {
    tch::set_num_threads(1);
    for task in Task::ALL {
        for sigma in [0.2, 1.0] {
            let nets = tiny_nets(task, true, Kind::Float, 62);
            let batch = wide_batch(task, B, 22);
            let b = batch.tch();
            balance_twins(task, &nets, &b.obs, &b.next_obs);
            let mut c = cfg(Algo::Td3, task);
            assert_eq!((c.target_noise, c.target_noise_clip), (0.2, 0.5));
            c.target_noise = sigma;
            let mut learner = Learner::new(Algo::Td3, task, c, 8);
            let ad = task.spec().act_dim;
            let mut rng = learner.rng().clone();
            let eps =
                Tensor::from_slice(&normals_f32(&mut rng, B * ad)).reshape([B as i64, ad as i64]);
            let y = Tensor::from_slice(&learner.critic_target(&plain(&nets), &batch));
            let a2 = act(
                task,
                &params(&nets.policy_targ.net),
                &scaled(task, &b.next_obs),
            );
            let noise = (&eps * sigma).clamp(-0.5, 0.5);
            if sigma == 1.0 {
                assert!(
                    max_abs(&(&eps * sigma)) > 0.5,
                    "the clip must bind somewhere"
                );
            }
            let want = one_step(task, &nets, &b, &(a2 + noise), &b.done.ones_like());
            assert_close(&y, &want, 1e-5, &format!("{task} TD3 target σ={sigma}"));
        }
    }
}

/// Reparameterised sample of the Gaussian policy and its log-density (spec §3.1, D14):
/// u = mean + exp(log_std)·ε; squashed: a = R·tanh(u), log π = log N(u) − Σ log(R(1 − tanh²u));
/// unsquashed: a = u, log π = log N(u).
fn sample(
    task: Task,
    policy: &[Tensor],
    s: &Tensor,
    eps: &Tensor,
    squash: bool,
) -> (Tensor, Tensor) {
    let ad = task.spec().act_dim as i64;
    let out = crate::reference::mlp(policy, s);
    let (mean, log_std) = (out.narrow(1, 0, ad), out.narrow(1, ad, ad));
    let std = log_std.exp();
    let u = &mean + &std * eps;
    let z = (&u - &mean) / &std;
    let log_n = (z.square() * -0.5 - &log_std - 0.5 * (2.0 * std::f64::consts::PI).ln())
        .sum_dim_intlist(1, false, Kind::Float);
    if !squash {
        return (u, log_n);
    }
    let range: f64 = if task == Task::PathTracking { 1.0 } else { 3.0 };
    let jac = ((u.tanh().square() * -1.0 + 1.0) * range)
        .log()
        .sum_dim_intlist(1, false, Kind::Float);
    (u.tanh() * range, log_n - jac)
}

/// Spec §3.8 SAC (α = 0.03 fixed): y = r·c_r + γ·[min(Q1', Q2')(s', a') − α·log π(a'|s')]
/// with a' ~ the CURRENT policy; policy loss mean(α·log π(a|s) − min(Q1, Q2)(s, a)) with a
/// reparameterised; value and gradient of the loss through `Learner::compute`. The ε of the
/// target are the learner's first B·act_dim normals, those of the policy loss the next
/// (D8). Both D14 forms: tanh-squashed (× 3 on the pendulum) and master's unsquashed
/// Gaussian (path tracking).
#[test]
fn sac_target_and_policy_loss() {
    tch::set_num_threads(1);
    for (task, squash) in [
        (Task::PathTracking, true),
        (Task::InvertedPendulum, true),
        (Task::PathTracking, false),
    ] {
        let mut nets = tiny_nets(task, true, Kind::Float, 63);
        if !squash {
            // what `Nets::new` builds for SAC with `squash = false` (D14 option)
            nets.policy.squash = Squash::None;
        }
        let batch = wide_batch(task, B, 23);
        let b = batch.tch();
        balance_twins(task, &nets, &b.obs, &b.next_obs);
        let mut c = cfg(Algo::Sac, task);
        assert_eq!(c.alpha, 0.03);
        c.squash = squash;
        c.grad_clip = 1e30;
        let mut learner = Learner::new(Algo::Sac, task, c, 9);
        let ad = task.spec().act_dim;
        let mut rng = learner.rng().clone();
        let shape = [B as i64, ad as i64];
        let eps1 = Tensor::from_slice(&normals_f32(&mut rng, B * ad)).reshape(shape);
        let eps2 = Tensor::from_slice(&normals_f32(&mut rng, B * ad)).reshape(shape);

        let pol = params(&nets.policy.net);
        let s2 = scaled(task, &b.next_obs);
        let (a2, logp2) = sample(task, &pol, &s2, &eps1, squash);
        let y_want = {
            let q1 = q(&params(&nets.q1_targ), &s2, &a2);
            let q2 = q(&params(nets.q2_targ.as_ref().unwrap()), &s2, &a2);
            &b.rew * reward_scale(task) + (q1.minimum(&q2) - &logp2 * 0.03) * GAMMA
        };
        let y = Tensor::from_slice(&learner.critic_target(&plain(&nets), &batch));
        assert_close(
            &y,
            &y_want.detach(),
            1e-5,
            &format!("{task} SAC target squash={squash}"),
        );

        // a fresh learner for compute (its target draws eps1, its policy loss eps2)
        let mut c = cfg(Algo::Sac, task);
        c.squash = squash;
        c.grad_clip = 1e30;
        let mut learner = Learner::new(Algo::Sac, task, c, 9);
        let g = learner.compute(&plain(&nets), &batch, 0, true);
        let s = scaled(task, &b.obs);
        let (a, logp) = sample(task, &pol, &s, &eps2, squash);
        let min_q =
            q(&params(&nets.q1), &s, &a).minimum(&q(&params(nets.q2.as_ref().unwrap()), &s, &a));
        let loss = (&logp * 0.03 - min_q).mean(Kind::Float);
        let lw = f64::try_from(&loss).unwrap();
        let lg = g.stats.policy_loss.unwrap();
        assert!(
            (lg - lw).abs() < 1e-5 * lw.abs().max(1.0),
            "{task}: loss {lg} vs {lw}"
        );
        let want = grads(&loss, &pol);
        let err = rel_err(&tensors(&g.policy.unwrap(), &want), &want);
        eprintln!("{task} SAC policy gradient squash={squash}: rel err {err:.2e}");
        assert!(
            err < 1e-5,
            "{task} squash={squash}: SAC policy gradient {err}"
        );
    }
}

/// The true simulator stepped by hand from the batch's observations: a₀ = the stored action,
/// a_t = `policy`(s_t) for t ≥ 1, n steps, done ignored. Returns (Σ_{t<n} γᵗ·r_t·c_r, scaled s_n).
fn env_rollout(task: Task, b: &TchBatch, n: usize, policy: &[Tensor]) -> (Vec<f64>, Tensor) {
    let spec = task.spec();
    let shape = [B as i64, spec.obs_dim as i64];
    let mut sim = make_sim(task, B, 99, Termination::Paper);
    let obs: Vec<f32> = Vec::try_from(b.obs.flatten(0, -1)).unwrap();
    sim.set_obs(&obs).unwrap();
    let mut a: Vec<f32> = Vec::try_from(b.act.flatten(0, -1)).unwrap();
    let mut s = obs;
    let (mut rew, mut done) = (vec![0.0f32; B], vec![false; B]);
    let mut ret = vec![0.0f64; B];
    let c_r = reward_scale(task);
    for step in 0..n {
        if step > 0 {
            let st = Tensor::from_slice(&s).reshape(shape);
            a = Vec::try_from(act(task, policy, &scaled(task, &st)).flatten(0, -1)).unwrap();
        }
        sim.step(&a, &mut rew, &mut done).unwrap();
        for i in 0..B {
            ret[i] += GAMMA.powi(step as i32) * rew[i] as f64 * c_r;
        }
        sim.observe(&mut s);
    }
    (ret, scaled(task, &Tensor::from_slice(&s).reshape(shape)))
}

/// Spec §3.4 / §3.6 (MPG-v1, n-step DPG), D19: y = Σ_{t<n} γᵗ·r_t·c_r + γⁿ·Q1'(s_n, π'(s_n))
/// through the TRUE simulator, stepped here by hand: the agent set to the batch's observation,
/// a₀ = the stored action, a_t = π(s_t) (the CURRENT policy) for t ≥ 1, n = 25 steps ignoring
/// done, c_r = 0.01 (path tracking) / 1.0 (pendulum); on the pendulum the bootstrap is
/// clipped to [−0.5, 0] (some samples below, some inside the interval here).
#[test]
fn env_nstep_target_runs_the_true_simulator() {
    tch::set_num_threads(1);
    for task in Task::ALL {
        for algo in [Algo::MpgV1, Algo::Ndpg] {
            let nets = tiny_nets(task, false, Kind::Float, 64);
            let batch = wide_batch(task, B, 24);
            let b = batch.tch();
            let c = cfg(algo, task);
            let n = c.horizon;
            assert_eq!(n, 25);
            let clip = c.bootstrap_clip;
            assert_eq!(
                clip.is_some(),
                task == Task::InvertedPendulum,
                "{task} {algo}"
            );
            let mut learner = Learner::new(algo, task, c, 10);

            let (ret, s_n) = env_rollout(task, &b, n, &params(&nets.policy.net));
            let q1t = params(&nets.q1_targ);
            let boot_at = || q(&q1t, &s_n, &act(task, &params(&nets.policy_targ.net), &s_n));
            if task == Task::InvertedPendulum {
                // shift Q1''s output bias so that the clip [−0.5, 0] binds for some samples
                // and not for others: halfway between the 2nd and 3rd values lands at −0.5
                tch::no_grad(|| {
                    let (v, _) = boot_at().sort(0, false);
                    let mid = (v.get(1) + v.get(2)) * 0.5;
                    let _ = nets
                        .q1_targ
                        .b
                        .last()
                        .unwrap()
                        .shallow_clone()
                        .g_sub_(&(mid + 0.5));
                });
            }
            let boot_raw = boot_at();
            let boot = if task == Task::InvertedPendulum {
                let v: Vec<f32> = Vec::try_from(&boot_raw).unwrap();
                eprintln!("{task}: raw bootstrap Q1' values {v:?}");
                assert!(
                    v.iter().any(|&x| x < -0.5) && v.iter().any(|&x| (-0.5..=0.0).contains(&x))
                );
                boot_raw.clamp(-0.5, 0.0)
            } else {
                boot_raw
            };
            let y = Tensor::from_slice(&learner.critic_target(&plain(&nets), &batch));
            let want = Tensor::from_slice(&ret).to_kind(Kind::Float) + boot * GAMMA.powi(n as i32);
            assert_close(
                &y,
                &want.detach(),
                1e-5,
                &format!("{task} {algo} env 25-step target"),
            );
            // later actions from π' instead of π would give another target
            let (ret_t, _) = env_rollout(task, &b, n, &params(&nets.policy_targ.net));
            let diff = Tensor::from_slice(&ret_t).to_kind(Kind::Float)
                - Tensor::from_slice(&ret).to_kind(Kind::Float);
            assert!(
                max_abs(&diff) > 1e-3 * max_abs(&want),
                "{task}: π and π' rollouts alike"
            );
        }
    }
}

/// Spec §3.7 (n-step ADP's critic): y = Σ_{k<25} γᵏ r̂_k·c_r + γ²⁵·Q1'(ŝ₂₅, π(ŝ₂₅)) through the
/// MODEL from (s, stored a), later actions from the CURRENT policy, the TARGET Q1, model noise
/// from the learner's generator (D8, the task's default distribution).
#[test]
fn nadp_target_is_a_model_rollout_with_target_q_and_current_policy() {
    tch::set_num_threads(1);
    for task in Task::ALL {
        let nets = tiny_nets(task, false, Kind::Float, 65);
        let batch = wide_batch(task, B, 25);
        let b = batch.tch();
        let c = cfg(Algo::Nadp, task);
        let mut learner = Learner::new(Algo::Nadp, task, c.clone(), 11);
        let mut rng = learner.rng().clone();
        let noise = ModelNoise {
            mean: c.model_noise[0],
            std: c.model_noise[1],
        };
        assert_eq!(noise, ModelNoise::default_for(task));
        let eps: Vec<Tensor> = (0..c.horizon)
            .map(|_| noise.draw(&mut rng, B, Kind::Float))
            .collect();
        let y = Tensor::from_slice(&learner.critic_target(&plain(&nets), &batch));
        let q1t = params(&nets.q1_targ);
        let critic = |s: &Tensor, a: &Tensor| q(&q1t, s, a);
        let model = make_model(task);
        let want = model_return(
            task,
            model.as_ref(),
            &b.obs,
            b.act.shallow_clone(),
            &params(&nets.policy.net),
            &critic,
            &eps,
            GAMMA,
        );
        assert_close(
            &y,
            &want.detach(),
            1e-5,
            &format!("{task} NADP model target"),
        );
        // the current Q1 in place of Q1' would give another value
        let q1 = params(&nets.q1);
        let cur = |s: &Tensor, a: &Tensor| q(&q1, s, a);
        let other = model_return(
            task,
            model.as_ref(),
            &b.obs,
            b.act.shallow_clone(),
            &params(&nets.policy.net),
            &cur,
            &eps,
            GAMMA,
        );
        assert!(max_abs(&(other - &want)) > 1e-3);
    }
}
