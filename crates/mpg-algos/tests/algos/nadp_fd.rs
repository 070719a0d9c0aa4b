//! n-step ADP's policy gradient (spec §3.7): full BPTT through the prior model, checked
//! against central finite differences of the spec's objective on a tiny f64 network.

use crate::reference::{
    act, grads, model_return, noises, params, plain, rel_err, scaled, tensors, tiny_nets,
    wide_batch,
};
use mpg_algos::mpg::{Returns, mixed_policy_loss};
use mpg_algos::{Algo, AlgoConfig, Learner, TchNets, nadp};
use mpg_envs::Task;
use mpg_models::nets::q_value;
use mpg_models::{ModelNoise, make_model};
use tch::{Kind, Tensor};

const B: usize = 4;

/// J(θ) = −mean[Σ_{k<H} γᵏ r̂_k·c_r + γᴴ·Q1(ŝ_H, π_θ(ŝ_H))], π_θ at EVERY step (spec §3.7),
/// written independently of the code under test.
fn spec_objective(task: Task, nets: &TchNets, obs: &Tensor, eps: &[Tensor]) -> Tensor {
    let theta = params(&nets.policy.net);
    let q1 = params(&nets.q1);
    let critic = |s: &Tensor, a: &Tensor| crate::reference::q(&q1, s, a);
    let a0 = act(task, &theta, &scaled(task, obs));
    let model = make_model(task);
    -model_return(task, model.as_ref(), obs, a0, &theta, &critic, eps, 0.98).mean(obs.kind())
}

/// Central differences (J(θ + h·e_j) − J(θ − h·e_j)) / 2h for every policy parameter.
fn finite_differences(
    task: Task,
    nets: &TchNets,
    obs: &Tensor,
    eps: &[Tensor],
    h: f64,
) -> Vec<Tensor> {
    let j = || tch::no_grad(|| f64::try_from(spec_objective(task, nets, obs, eps)).unwrap());
    params(&nets.policy.net)
        .iter()
        .map(|p| {
            let flat = p.view([-1]);
            let n = flat.size()[0];
            let mut out = vec![0.0f64; n as usize];
            for (e, o) in out.iter_mut().enumerate() {
                let x = f64::try_from(flat.get(e as i64)).unwrap();
                let set = |v: f64| {
                    tch::no_grad(|| {
                        let _ = flat.get(e as i64).fill_(v);
                    })
                };
                set(x + h);
                let plus = j();
                set(x - h);
                let minus = j();
                set(x);
                *o = (plus - minus) / (2.0 * h);
            }
            Tensor::from_slice(&out).reshape(p.size())
        })
        .collect()
}

/// Spec §3.7: `nadp::bptt_policy_loss`'s gradient (a₀ = π(s), the trained policy at every
/// rollout step, current Q1 in the bootstrap) equals central finite differences of the
/// spec's objective, on a tiny obs → 4 → 4 → 2·act_dim policy and Q1 in f64, horizon 4, the
/// task's model noise (different at every step). Also equals the autograd gradient of the
/// independent reference, and MPG's model term with full BPTT on Q1 (w = (0, 1)): n-step ADP
/// is MPG's model-driven PG.
#[test]
fn nadp_bptt_gradient_matches_finite_differences() {
    tch::set_num_threads(1);
    let h_steps = 4;
    for task in Task::ALL {
        let noise = ModelNoise::default_for(task);
        let nets = tiny_nets(task, false, Kind::Double, 51);
        let obs = wide_batch(task, B, 12).tch().obs.to_kind(Kind::Double);
        let eps = noises(h_steps, B, noise.mean, noise.std, Kind::Double, 13);
        let spec = task.spec();
        let model = make_model(task);
        let p = params(&nets.policy.net);
        let loss = nadp::bptt_policy_loss(model.as_ref(), &nets, &obs, &eps, 0.98, spec);
        let got = grads(&loss, &p);

        let fd = finite_differences(task, &nets, &obs, &eps, 1e-6);
        let err_fd = rel_err(&got, &fd);
        eprintln!("{task}: NADP BPTT gradient vs central differences: rel err {err_fd:.2e}");
        assert!(err_fd < 1e-8, "{task}: vs finite differences {err_fd}");

        let want = grads(&spec_objective(task, &nets, &obs, &eps), &p);
        let err = rel_err(&got, &want);
        eprintln!("{task}: NADP BPTT gradient vs reference autograd: rel err {err:.2e}");
        assert!(err < 1e-10, "{task}: vs reference autograd {err}");

        let scale = Tensor::from_slice(spec.obs_scale).to_kind(Kind::Double);
        let q = |s: &Tensor, a: &Tensor| q_value(&nets.q1, s, a);
        let r = Returns {
            model: model.as_ref(),
            policy: &nets.policy,
            obs_scale: &scale,
            q: &q,
            gamma: 0.98,
            reward_scale: spec.reward_scale as f64,
            reward_shift: spec.reward_shift as f64,
        };
        let mpg = grads(&mixed_policy_loss(&r, &obs, &eps, 0.0, 1.0, true), &p);
        let err = rel_err(&mpg, &got);
        assert!(
            err < 1e-10,
            "{task}: MPG full-BPTT model term vs NADP {err}"
        );
    }
}

/// The same objective through `Learner::compute` (f32, H = 25, default model noise from the
/// learner's generator: the critic target's H draws come first, then the policy loss's H).
#[test]
fn nadp_learner_policy_gradient_is_the_full_bptt_model_return() {
    tch::set_num_threads(1);
    for task in Task::ALL {
        let mut cfg = AlgoConfig::defaults(Algo::Nadp, task);
        cfg.batch_size = 8;
        cfg.grad_clip = 1e30;
        let nets = tiny_nets(task, false, Kind::Float, 52);
        let batch = wide_batch(task, 8, 14);
        let mut learner = Learner::new(Algo::Nadp, task, cfg.clone(), 6);
        let mut rng = learner.rng().clone();
        let noise = ModelNoise {
            mean: cfg.model_noise[0],
            std: cfg.model_noise[1],
        };
        let mut draw = || -> Vec<Tensor> {
            (0..cfg.horizon)
                .map(|_| noise.draw(&mut rng, 8, Kind::Float))
                .collect()
        };
        let _target_draws = draw();
        let eps = draw();
        let g = learner.compute(&plain(&nets), &batch, 0, true);
        let p = params(&nets.policy.net);
        let want = grads(&spec_objective(task, &nets, &batch.tch().obs, &eps), &p);
        let err = rel_err(&tensors(&g.policy.unwrap(), &want), &want);
        eprintln!("{task}: learner NADP policy gradient: rel err {err:.2e}");
        assert!(err < 3e-5, "{task}: {err}");
    }
}
