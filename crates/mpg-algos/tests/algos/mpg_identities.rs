//! Gradient identities of MPG's policy loss (spec §3.2, §3.3, D2), each against a separately
//! written computation (`reference.rs`).
//!
//! * w = (1, 0): the policy gradient is DPG's on the D2 critic.
//! * w = (0, 1): it is the gradient of the H-step model return with a frozen rollout policy
//!   (or full BPTT with `deriv_interval_policy`).
//! * any w: the learner mixes the two with the rule-based weights of its iteration.

use crate::reference::{
    act, balance_twins, combine, frozen, grads, model_return, noises, params, plain, rel_err,
    scaled, tensors, tiny_nets, wide_batch,
};
use mpg_algos::mpg::{Returns, mixed_policy_loss};
use mpg_algos::{Algo, AlgoConfig, CriticChoice, Learner, TchNets};
use mpg_envs::Task;
use mpg_models::nets::q_value;
use mpg_models::{ModelNoise, make_model};
use tch::{Kind, Tensor};

const B: usize = 8;

/// f32 learner vs f32 reference: what rounding leaves between two differently ordered
/// computations of the same gradient.
const TOL_F32: f64 = 2e-5;
/// f64 direct calls vs the f64 reference.
const TOL_F64: f64 = 1e-10;

/// Which critic a reference uses (D2).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Critic {
    Q1,
    Min,
}

/// The reference critic over scaled obs and actions.
fn critic(nets: &TchNets, which: Critic) -> impl Fn(&Tensor, &Tensor) -> Tensor + '_ {
    let q1 = params(&nets.q1);
    let q2 = nets.q2.as_ref().map(params);
    move |s: &Tensor, a: &Tensor| {
        let v1 = crate::reference::q(&q1, s, a);
        match (which, &q2) {
            (Critic::Min, Some(q2)) => v1.minimum(&crate::reference::q(q2, s, a)),
            (Critic::Min, None) => panic!("min needs Q2"),
            (Critic::Q1, _) => v1,
        }
    }
}

/// −mean Q(s, π_θ(s)): DPG's loss on the chosen critic (spec §3.2 data term, §3.6).
fn data_loss(task: Task, nets: &TchNets, obs: &Tensor, which: Critic) -> Tensor {
    let s = scaled(task, obs);
    let a = act(task, &params(&nets.policy.net), &s);
    -critic(nets, which)(&s, &a).mean(obs.kind())
}

/// −mean R_H with a₀ = π_θ(s₀) and the later actions from the frozen copy (or from π_θ with
/// `full_bptt`), spec §3.2.
fn model_loss(
    task: Task,
    nets: &TchNets,
    obs: &Tensor,
    which: Critic,
    eps: &[Tensor],
    full_bptt: bool,
) -> Tensor {
    let theta = params(&nets.policy.net);
    let rollout = if full_bptt {
        params(&nets.policy.net)
    } else {
        frozen(&nets.policy.net)
    };
    let a0 = act(task, &theta, &scaled(task, obs));
    let model = make_model(task);
    let ret = model_return(
        task,
        model.as_ref(),
        obs,
        a0,
        &rollout,
        &critic(nets, which),
        eps,
        0.98,
    );
    -ret.mean(obs.kind())
}

fn policy_params(nets: &TchNets) -> Vec<Tensor> {
    params(&nets.policy.net)
}

/// A learner config for tiny f32 tests: batch B, no clipping (the identities are about the
/// raw gradient; clipping has its own test).
fn cfg(algo: Algo, task: Task, critic: CriticChoice) -> AlgoConfig {
    let mut c = AlgoConfig::defaults(algo, task);
    c.batch_size = B;
    c.grad_clip = 1e30;
    c.critic = critic;
    c
}

/// (algo, D2 option, the critic the spec says the policy loss uses).
const VARIANTS: [(Algo, CriticChoice, Critic); 3] = [
    (Algo::MpgV1, CriticChoice::Min, Critic::Q1), // v1 has only Q1: min over {Q1} = Q1
    (Algo::MpgV2, CriticChoice::Min, Critic::Min),
    (Algo::MpgV2, CriticChoice::Q1, Critic::Q1),
];

/// Spec §3.2 + D2: with w_data = 1, w_model = 0 (reached exactly by the code rule at
/// i ≥ 3T, λ clipped at 1.5), the learner's policy gradient is the gradient of
/// −mean Q(s, π(s)) with Q = Q1 (MPG-v1, MPG-v2 `q1`) or min(Q1, Q2) (MPG-v2 `min`).
#[test]
fn mpg_data_term_equals_dpg_on_the_d2_critic() {
    tch::set_num_threads(1);
    for task in Task::ALL {
        for (algo, choice, which) in VARIANTS {
            let nets = tiny_nets(task, algo.twin_critics(), Kind::Float, 11);
            let batch = wide_batch(task, B, 5);
            let tb = batch.tch();
            balance_twins(task, &nets, &tb.obs, &tb.next_obs);
            let c = cfg(algo, task, choice);
            let it = 3 * c.weight_total_ite;
            let mut learner = Learner::new(algo, task, c, 3);
            let g = learner.compute(&plain(&nets), &batch, it, true);
            assert_eq!(g.stats.w_data, Some(1.0), "{algo} {task}");
            assert_eq!(g.stats.w_model, Some(0.0), "{algo} {task}");
            let want_loss = data_loss(task, &nets, &tb.obs, which);
            let want = grads(&want_loss, &policy_params(&nets));
            let got = tensors(&g.policy.unwrap(), &want);
            let err = rel_err(&got, &want);
            eprintln!("rel err {err:.2e} (line {})", line!());
            assert!(err < TOL_F32, "{algo} {choice:?} {task}: rel err {err}");
            let l = g.stats.policy_loss.unwrap();
            let wl = f64::try_from(&want_loss).unwrap();
            assert!((l - wl).abs() < 1e-5 * wl.abs().max(1.0), "{l} vs {wl}");
            if algo == Algo::MpgV2 {
                // the two D2 options must give different gradients here, or this test could
                // not tell them apart
                let other = if which == Critic::Q1 {
                    Critic::Min
                } else {
                    Critic::Q1
                };
                let alt = grads(
                    &data_loss(task, &nets, &tb.obs, other),
                    &policy_params(&nets),
                );
                let sep = rel_err(&alt, &want);
                assert!(
                    sep > 100.0 * TOL_F32,
                    "{task}: Q1 and min too close ({sep})"
                );
            }
        }
    }
}

/// Spec §3.2 (paper eq. 6 with n = H, eq. 9 with w_model = 1): with w_data = 0, w_model = 1,
/// `mixed_policy_loss`'s gradient is that of −mean[Σ_{k<25} γᵏ r̂_k·c_r + γ²⁵·Q(ŝ₂₅, a₂₅)]
/// where a₀ = π_θ(s₀) and later actions come from a detached copy of π (gradient still
/// through the states); with `full_bptt` (`deriv_interval_policy`) it is the full-BPTT
/// gradient instead, which differs. f64, per-step noise of the task's distribution, both
/// critics of D2; and for w = (0.3, 0.7) the gradient is 0.3·g_data + 0.7·g_model.
#[test]
fn mpg_model_term_equals_the_h_step_model_return_gradient() {
    tch::set_num_threads(1);
    let h = 25;
    for task in Task::ALL {
        let model = make_model(task);
        let noise = ModelNoise::default_for(task);
        let nets = tiny_nets(task, true, Kind::Double, 21);
        let batch = wide_batch(task, B, 6);
        let tb = batch.tch();
        let obs = tb.obs.to_kind(Kind::Double);
        balance_twins(task, &nets, &obs, &tb.next_obs.to_kind(Kind::Double));
        let eps = noises(h, B, noise.mean, noise.std, Kind::Double, 9);
        let scale = Tensor::from_slice(task.spec().obs_scale).to_kind(Kind::Double);
        for which in [Critic::Q1, Critic::Min] {
            let q = |s: &Tensor, a: &Tensor| {
                let v1 = q_value(&nets.q1, s, a);
                match which {
                    Critic::Q1 => v1,
                    Critic::Min => v1.minimum(&q_value(nets.q2.as_ref().unwrap(), s, a)),
                }
            };
            let r = Returns {
                model: model.as_ref(),
                policy: &nets.policy,
                obs_scale: &scale,
                q: &q,
                gamma: 0.98,
                reward_scale: task.spec().reward_scale as f64,
                reward_shift: task.spec().reward_shift as f64,
            };
            let p = policy_params(&nets);
            let want_frozen = grads(&model_loss(task, &nets, &obs, which, &eps, false), &p);
            let want_full = grads(&model_loss(task, &nets, &obs, which, &eps, true), &p);
            let want_data = grads(&data_loss(task, &nets, &obs, which), &p);

            let got = grads(&mixed_policy_loss(&r, &obs, &eps, 0.0, 1.0, false), &p);
            let err = rel_err(&got, &want_frozen);
            eprintln!("rel err {err:.2e} (line {})", line!());
            assert!(err < TOL_F64, "{task} {which:?} frozen: rel err {err}");

            let got_full = grads(&mixed_policy_loss(&r, &obs, &eps, 0.0, 1.0, true), &p);
            let err = rel_err(&got_full, &want_full);
            eprintln!("rel err {err:.2e} (line {})", line!());
            assert!(err < TOL_F64, "{task} {which:?} full BPTT: rel err {err}");
            let sep = rel_err(&want_frozen, &want_full);
            assert!(sep > 1e-3, "{task}: full and frozen BPTT too close ({sep})");

            let got_data = grads(&mixed_policy_loss(&r, &obs, &eps, 1.0, 0.0, false), &p);
            let err = rel_err(&got_data, &want_data);
            eprintln!("rel err {err:.2e} (line {})", line!());
            assert!(err < TOL_F64, "{task} {which:?} data: rel err {err}");

            let got_mix = grads(&mixed_policy_loss(&r, &obs, &eps, 0.3, 0.7, false), &p);
            let want_mix = combine(&want_data, 0.3, &want_frozen, 0.7);
            // the weights' backward runs through an f32 mean (`mean(Kind::Float)`), so the
            // mixture is exact to f32's rounding of 0.3 and 0.7
            let err = rel_err(&got_mix, &want_mix);
            eprintln!("rel err {err:.2e} (line {})", line!());
            assert!(err < 1e-7, "{task} {which:?} mix: rel err {err}");
            let swapped = combine(&want_data, 0.7, &want_frozen, 0.3);
            assert!(
                rel_err(&swapped, &want_mix) > 1e-3,
                "{task}: weights not separable"
            );
        }
    }
}

/// The same identity through `Learner::compute` (f32, std-0 model noise so the draws are
/// known): at i = 0 with η = 0.9 the code rule gives exactly w = (0, 1) (λ = 0.1, λ²⁵ = 1e-25).
/// Checks the learner's wiring: its D2 critic in the bootstrap (the CURRENT critic, not the
/// target), the frozen rollout policy, and `deriv_interval_policy` = true → full BPTT.
#[test]
fn mpg_learner_model_term_uses_current_d2_critic_and_deriv_interval_policy() {
    tch::set_num_threads(1);
    for task in Task::ALL {
        let noise = ModelNoise::default_for(task);
        for (algo, choice, which) in VARIANTS {
            for full_bptt in [false, true] {
                let nets = tiny_nets(task, algo.twin_critics(), Kind::Float, 31);
                let batch = wide_batch(task, B, 7);
                let tb = batch.tch();
                balance_twins(task, &nets, &tb.obs, &tb.next_obs);
                let mut c = cfg(algo, task, choice);
                c.eta = 0.9;
                c.model_noise = [noise.mean, 0.0];
                c.deriv_interval_policy = full_bptt;
                let h = c.horizon;
                assert_eq!(h, 25);
                let mut learner = Learner::new(algo, task, c, 4);
                let g = learner.compute(&plain(&nets), &batch, 0, true);
                assert_eq!(g.stats.w_data, Some(0.0));
                assert_eq!(g.stats.w_model, Some(1.0));
                let eps = noises(h, B, noise.mean, 0.0, Kind::Float, 0);
                let p = policy_params(&nets);
                let want = grads(
                    &model_loss(task, &nets, &tb.obs, which, &eps, full_bptt),
                    &p,
                );
                let got = tensors(&g.policy.unwrap(), &want);
                let err = rel_err(&got, &want);
                eprintln!("rel err {err:.2e} (line {})", line!());
                assert!(
                    err < TOL_F32,
                    "{algo} {choice:?} {task} full={full_bptt}: rel err {err}"
                );
                let other = grads(
                    &model_loss(task, &nets, &tb.obs, which, &eps, !full_bptt),
                    &p,
                );
                assert!(rel_err(&other, &want) > 100.0 * TOL_F32);
            }
        }
    }
}

/// Spec §3.3 written out independently: λ = clip(0.9 + 0.2·i/T, 0, 1.5);
/// e = (1, λ²⁵) if λ < 1 else ((2 − λ)²⁵, 1); w = softmax(1/(e + 1e-8)).
fn spec_weights(i: u64, t: u64) -> (f64, f64) {
    let lambda = (0.9 + 0.2 * i as f64 / t as f64).clamp(0.0, 1.5);
    let (ed, em) = if lambda < 1.0 {
        (1.0, lambda.powi(25))
    } else {
        ((2.0 - lambda).powi(25), 1.0)
    };
    let (a, b) = (1.0 / (ed + 1e-8), 1.0 / (em + 1e-8));
    let wd = 1.0 / (1.0 + (b - a).exp());
    (wd, 1.0 - wd)
}

/// Spec §3.3 + eq. 9: at iteration i the learner's policy gradient is
/// w_data(i)·g_data + w_model(i)·g_model with the code rule's weights (T = 9000 path tracking,
/// 4000 pendulum), the model noise drawn from the learner's own generator (D8) with the task's
/// default N(mean, std²). The swapped mixture must be far off.
#[test]
fn mpg_learner_mixes_with_the_rule_based_weights_of_its_iteration() {
    tch::set_num_threads(1);
    for task in Task::ALL {
        for (algo, choice, which) in VARIANTS {
            let c = cfg(algo, task, choice);
            let t = c.weight_total_ite;
            assert_eq!(
                t,
                if task == Task::PathTracking {
                    9000
                } else {
                    4000
                }
            );
            let (h, mn) = (c.horizon, c.model_noise);
            let nets = tiny_nets(task, algo.twin_critics(), Kind::Float, 41);
            for (k, i) in [t / 3, 2 * t / 3].into_iter().enumerate() {
                let batch = wide_batch(task, B, 8 + k as u64);
                let tb = batch.tch();
                balance_twins(task, &nets, &tb.obs, &tb.next_obs);
                let mut learner = Learner::new(algo, task, c.clone(), 5 + k as u64);
                // the draws the learner will make: H × [B] from its generator (no other
                // draws come first: MPG's critic targets use no randomness)
                let mut rng = learner.rng().clone();
                let noise = ModelNoise {
                    mean: mn[0],
                    std: mn[1],
                };
                let eps: Vec<Tensor> = (0..h)
                    .map(|_| noise.draw(&mut rng, B, Kind::Float))
                    .collect();
                let g = learner.compute(&plain(&nets), &batch, i, true);
                let (wd, wm) = spec_weights(i, t);
                assert!((g.stats.w_data.unwrap() - wd).abs() < 1e-12, "{task} {i}");
                assert!((g.stats.w_model.unwrap() - wm).abs() < 1e-12, "{task} {i}");
                assert!(wd > 0.01 && wm > 0.01 && (wd - wm).abs() > 0.1, "{wd} {wm}");
                let p = policy_params(&nets);
                let gd = grads(&data_loss(task, &nets, &tb.obs, which), &p);
                let gm = grads(&model_loss(task, &nets, &tb.obs, which, &eps, false), &p);
                let want = combine(&gd, wd, &gm, wm);
                let got = tensors(&g.policy.unwrap(), &want);
                let err = rel_err(&got, &want);
                eprintln!("rel err {err:.2e} (line {})", line!());
                assert!(
                    err < TOL_F32,
                    "{algo} {choice:?} {task} i={i}: rel err {err}"
                );
                let swapped = combine(&gd, wm, &gm, wd);
                let sep = rel_err(&swapped, &want);
                assert!(
                    sep > 100.0 * TOL_F32,
                    "{task} i={i}: swap undetectable {sep}"
                );
            }
        }
    }
}
