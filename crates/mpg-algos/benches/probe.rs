// TEMPORARY probe, to be deleted.
use mpg_algos::learner::{clip_by_global_norm, grad_of};
use mpg_algos::{Algo, AlgoConfig, Batch, CriticChoice, GradStats, Learner, Nets, Optimizer};
use mpg_envs::{Rng, Task, Termination, make_sim};
use rand::{Rng as _, SeedableRng};
use std::time::Instant;
use tch::Tensor;
fn random_batch(task: Task, n: usize, seed: u64) -> Batch {
    let spec = task.spec();
    let mut sim = make_sim(task, n, seed, Termination::Paper);
    let mut rng = Rng::seed_from_u64(seed + 1000);
    let act: Vec<f32> = (0..n * spec.act_dim)
        .map(|_| rng.random::<f32>() * 2.0 - 1.0)
        .collect();
    let mut obs = vec![0.0; n * spec.obs_dim];
    sim.observe(&mut obs);
    let (mut rew, mut done) = (vec![0.0; n], vec![false; n]);
    sim.step(&act, &mut rew, &mut done).unwrap();
    let mut next = vec![0.0; n * spec.obs_dim];
    sim.observe(&mut next);
    let (b, od, ad) = (n as i64, spec.obs_dim as i64, spec.act_dim as i64);
    Batch {
        obs: Tensor::from_slice(&obs).reshape([b, od]),
        act: Tensor::from_slice(&act).reshape([b, ad]),
        rew: Tensor::from_slice(&rew),
        next_obs: Tensor::from_slice(&next).reshape([b, od]),
        done: Tensor::from_slice(&done.iter().map(|&d| d as u8 as f32).collect::<Vec<_>>()),
    }
}
fn main() {
    tch::set_num_threads(1);
    {
        let a = Tensor::randn([256, 256], (tch::Kind::Float, tch::Device::Cpu));
        let w = Tensor::randn([256, 256], (tch::Kind::Float, tch::Device::Cpu));
        for _ in 0..50 {
            let _ = a.matmul(&w);
        }
        let t = Instant::now();
        for _ in 0..500 {
            let _ = a.matmul(&w);
        }
        let e = t.elapsed().as_secs_f64() / 500.0;
        println!(
            "matmul 256^3: {:.1} us = {:.0} GFLOP/s",
            e * 1e6,
            2.0 * 256f64.powi(3) / e / 1e9
        );
        let t = Instant::now();
        for _ in 0..500 {
            let _ = (a.matmul(&w) + &a).elu();
        }
        let e = t.elapsed().as_secs_f64() / 500.0;
        println!("matmul+add+elu: {:.1} us", e * 1e6);
        let mut rng = Rng::seed_from_u64(1);
        let nets = Nets::new(
            Algo::MpgV2,
            Task::PathTracking,
            mpg_models::nets::Init::Orthogonal,
            true,
            &mut rng,
        );
        let x = Tensor::randn([256, 6], (tch::Kind::Float, tch::Device::Cpu));
        let fz = nets.policy.net.frozen();
        for (name, net) in [
            ("policy fwd (grad)", &nets.policy.net),
            ("policy fwd (frozen)", &fz),
        ] {
            let t = Instant::now();
            for _ in 0..200 {
                let _ = net.forward(&x);
            }
            println!("{name}: {:.1} us", t.elapsed().as_secs_f64() / 200.0 * 1e6);
        }
        let t = Instant::now();
        for _ in 0..200 {
            let _ = tch::no_grad(|| nets.policy.net.forward(&x));
        }
        {
            use mpg_models::{PriorModel, make_model};
            let m = make_model(Task::PathTracking);
            let obs = random_batch(Task::PathTracking, 256, 3).obs;
            let sc = Tensor::from_slice(Task::PathTracking.spec().obs_scale);
            let noise = Tensor::full([256], 0.5, (tch::Kind::Float, tch::Device::Cpu));
            let pol = &nets.policy;
            let fzp = mpg_models::nets::Policy {
                net: pol.net.frozen(),
                act_dim: 2,
                squash: pol.squash,
            };
            for _ in 0..3 {
                let t = Instant::now();
                let a0 = pol.act(&(&obs * &sc));
                let t_a0 = t.elapsed().as_secs_f64() * 1e3;
                let (mut s, mut a) = (obs.shallow_clone(), a0.shallow_clone());
                let (mut tm, mut tp) = (0.0, 0.0);
                let mut ret = obs
                    .zeros_like()
                    .sum_dim_intlist(-1, false, tch::Kind::Float);
                for _ in 0..25 {
                    let t = Instant::now();
                    let (n, r) = m.step(&s, &a, &noise);
                    ret = ret + r;
                    tm += t.elapsed().as_secs_f64() * 1e3;
                    let t = Instant::now();
                    s = n;
                    a = fzp.act(&(&s * &sc));
                    tp += t.elapsed().as_secs_f64() * 1e3;
                }
                let loss =
                    (ret + a.sum_dim_intlist(-1, false, tch::Kind::Float)).mean(tch::Kind::Float);
                let t = Instant::now();
                let g = grad_of(&loss, &pol.net.params());
                let tb = t.elapsed().as_secs_f64() * 1e3;
                println!(
                    "manual: a0 {t_a0:.2} ms, 25 model steps {tm:.1} ms, 25 frozen acts {tp:.1} ms, backward {tb:.1} ms, |g0| {:.3e}",
                    f64::try_from(g[2].norm()).unwrap()
                );
            }
        }
        println!(
            "policy fwd no_grad: {:.1} us",
            t.elapsed().as_secs_f64() / 200.0 * 1e6
        );
    }
    let (task, algo) = (Task::PathTracking, Algo::MpgV2);
    for critic in [CriticChoice::Min, CriticChoice::Q1] {
        let mut cfg = AlgoConfig::defaults(algo, task);
        cfg.critic = critic;
        let mut rng = Rng::seed_from_u64(1);
        let nets = Nets::new(algo, task, cfg.init, cfg.squash, &mut rng);
        let mut opt = Optimizer::new(nets, &cfg);
        let mut l = Learner::new(algo, task, cfg.clone(), 2);
        let b = random_batch(task, 256, 3);
        let n = 20;
        let (mut q, mut pg, mut tot) = (0.0, 0.0, 0.0);
        let (mut fw, mut bw, mut cl, mut ad) = (0.0, 0.0, 0.0, 0.0);
        for k in 0..n + 3 {
            let t = Instant::now();
            let g = l.compute(&opt.nets, &b, 4500, true);
            let e = t.elapsed().as_secs_f64() * 1e3;
            let mut st = GradStats::default();
            let t0 = Instant::now();
            let loss = l.policy_loss(&opt.nets, &b.obs, 4500, &mut st);
            let t1 = Instant::now();
            let params = opt.nets.policy.net.params();
            let gr = grad_of(&loss, &params);
            let t2 = Instant::now();
            let (gc, _) = clip_by_global_norm(gr, 3.0);
            let t3 = Instant::now();
            opt.policy.apply(&params, &gc);
            let t4 = Instant::now();
            if k >= 3 {
                q += g.stats.q_grad_ms;
                pg += g.stats.pg_ms.unwrap();
                tot += e;
                fw += (t1 - t0).as_secs_f64() * 1e3;
                bw += (t2 - t1).as_secs_f64() * 1e3;
                cl += (t3 - t2).as_secs_f64() * 1e3;
                ad += (t4 - t3).as_secs_f64() * 1e3;
            }
        }
        let f = n as f64;
        println!(
            "{critic:?}: compute {:.1} ms = q {:.1} + pg {:.1}; policy step: fwd {:.1} bwd {:.1} clip {:.2} adam {:.2}",
            tot / f,
            q / f,
            pg / f,
            fw / f,
            bw / f,
            cl / f,
            ad / f
        );
    }
}
