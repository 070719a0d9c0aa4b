//! The fast gradient path equals the autograd reference (issue "fast gradient path"): whole
//! `Learner::compute` outputs with `path = fast` against `path = reference`, on full-size
//! networks with random parameters and real batches. Per tensor ‖fast − ref‖/‖ref‖ ≤ 1e-4
//! (f32), every tensor of every gradient compared; and both paths leave the learner's
//! generator in the same state (the same draws, D8).

use mpg_algos::{Algo, AlgoConfig, Batch, CriticChoice, GradPath, Grads, Learner, Nets};
use mpg_envs::{Rng, Task};
use rand::{Rng as _, SeedableRng};
use rand_distr::StandardNormal;

/// The bar of the issue: per tensor, in f32.
pub(crate) const TOL: f64 = 1e-4;

/// Random networks of `algo` (orthogonal kernels from `Nets::new`) with random non-zero
/// biases, so that bias gradients are exercised.
pub(crate) fn random_nets(algo: Algo, task: Task, seed: u64) -> Nets {
    let cfg = AlgoConfig::defaults(algo, task);
    let mut rng = Rng::seed_from_u64(seed);
    let mut nets = Nets::new(algo, task, cfg.init, cfg.squash, &mut rng);
    for net in nets.all_mut() {
        net.update(|k, v| {
            if k % 2 == 1 {
                v.iter_mut()
                    .for_each(|x| *x = 0.1 * rng.sample::<f32, _>(StandardNormal));
            }
        });
    }
    nets
}

/// ‖a − b‖ / ‖b‖ of one tensor, in f64.
fn rel_err(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "shapes differ");
    let sq = |it: &mut dyn Iterator<Item = f64>| it.map(|x| x * x).sum::<f64>().sqrt();
    let norm = sq(&mut b.iter().map(|&x| x as f64));
    assert!(norm > 0.0, "a zero reference tensor says nothing");
    sq(&mut a.iter().zip(b).map(|(&x, &y)| x as f64 - y as f64)) / norm
}

/// The worst per-tensor relative error over two gradient lists; every tensor is compared.
pub(crate) fn worst(fast: &[Vec<f32>], reference: &[Vec<f32>]) -> f64 {
    assert_eq!(
        fast.len(),
        reference.len(),
        "gradient lists of different lengths"
    );
    fast.iter()
        .zip(reference)
        .map(|(f, r)| rel_err(f, r))
        .fold(0.0, f64::max)
}

/// Whole `compute` outputs of the two paths: the worst per-tensor error over every network's
/// gradient (the policy's included), checked against the bar.
pub(crate) fn check(name: &str, fast: &Grads, reference: &Grads) -> f64 {
    let pf = fast.policy.as_ref().expect("a policy gradient");
    let pr = reference.policy.as_ref().expect("a policy gradient");
    assert_eq!(pf.len(), 6, "{name}: the policy's 6 tensors");
    let mut e = worst(pf, pr);
    e = e.max(worst(&fast.q1, &reference.q1));
    assert_eq!(fast.q2.is_some(), reference.q2.is_some());
    if let (Some(a), Some(b)) = (&fast.q2, &reference.q2) {
        e = e.max(worst(a, b));
    }
    let (sf, sr) = (&fast.stats, &reference.stats);
    let (lf, lr) = (sf.policy_loss.unwrap(), sr.policy_loss.unwrap());
    assert!(
        (lf - lr).abs() <= TOL * lr.abs().max(1e-3),
        "{name}: loss {lf} vs {lr}"
    );
    let (nf, nr) = (sf.policy_norm.unwrap(), sr.policy_norm.unwrap());
    assert!((nf - nr).abs() <= TOL * nr, "{name}: norm {nf} vs {nr}");
    assert_eq!(sf.w_data, sr.w_data, "{name}");
    assert_eq!(sf.w_model, sr.w_model, "{name}");
    eprintln!("{name}: worst per-tensor rel err {e:.2e}, loss {lf:.6} vs {lr:.6}");
    assert!(e <= TOL, "{name}: rel err {e:e}");
    e
}

/// One `compute` with each path from the same learner seed, networks and batch; the two
/// learners' generators must end in the same state.
pub(crate) fn both_paths(
    algo: Algo,
    task: Task,
    cfg: &AlgoConfig,
    batch: &Batch,
    seed: u64,
) -> [Grads; 2] {
    let nets = random_nets(algo, task, seed);
    // a quarter of the way: w_data ≠ w_model (at half of T the code rule makes them nearly
    // equal, and a swap of the two in one path would go unseen)
    let iteration = cfg.weight_total_ite / 4;
    let mut out = Vec::new();
    let mut rngs = Vec::new();
    for path in [GradPath::Fast, GradPath::Reference] {
        let mut c = cfg.clone();
        c.path = path;
        let mut learner = Learner::new(algo, task, c, seed + 1);
        out.push(learner.compute(&nets, batch, iteration, true));
        rngs.push(learner.rng().clone());
    }
    assert_eq!(rngs[0], rngs[1], "the two paths drew differently");
    let [f, r]: [Grads; 2] = out.try_into().unwrap();
    [f, r]
}

pub(crate) fn small_cfg(algo: Algo, task: Task, batch: usize, horizon: usize) -> AlgoConfig {
    let mut c = AlgoConfig::defaults(algo, task);
    c.batch_size = batch;
    c.horizon = horizon;
    c
}

/// MPG-v1 and MPG-v2 on both tasks, D2 `min` and `q1`, `deriv_interval_policy` false and true,
/// batch 32, H = 8.
#[test]
fn fast_mpg_gradients_equal_the_reference() {
    tch::set_num_threads(1);
    let mut seed = 100;
    for task in Task::ALL {
        let batch = Batch::random(task, 32, 7);
        for algo in [Algo::MpgV1, Algo::MpgV2] {
            for critic in [CriticChoice::Min, CriticChoice::Q1] {
                if algo == Algo::MpgV1 && critic == CriticChoice::Q1 {
                    continue; // MPG-v1 has Q1 only: `min` is Q1 already
                }
                for dip in [false, true] {
                    let mut c = small_cfg(algo, task, 32, 8);
                    c.critic = critic;
                    c.deriv_interval_policy = dip;
                    seed += 1;
                    let [f, r] = both_paths(algo, task, &c, &batch, seed);
                    check(&format!("{task} {algo} {critic:?} dip={dip}"), &f, &r);
                }
            }
        }
    }
}

/// n-step ADP's full-BPTT policy gradient on both tasks, batch 32, the full H = 25.
#[test]
fn fast_nadp_gradients_equal_the_reference() {
    tch::set_num_threads(1);
    for task in Task::ALL {
        let batch = Batch::random(task, 32, 8);
        let c = small_cfg(Algo::Nadp, task, 32, 25);
        let [f, r] = both_paths(Algo::Nadp, task, &c, &batch, 200);
        check(&format!("{task} nadp"), &f, &r);
    }
}

/// n-step ADP's critic target (the 25-step model rollout from the stored action, target Q1 at
/// the end) on the fast path equals the reference's, per sample, at full size (batch 256), and
/// both draw the same model noise. A wrong target would also show in the q1 gradients of
/// `fast_nadp_gradients_equal_the_reference`; this compares y itself.
#[test]
fn fast_nadp_target_equals_the_reference() {
    tch::set_num_threads(1);
    for (k, task) in Task::ALL.into_iter().enumerate() {
        let batch = Batch::random(task, 256, 10 + k as u64);
        let nets = random_nets(Algo::Nadp, task, 300 + k as u64);
        let mut ys = Vec::new();
        let mut rngs = Vec::new();
        for path in [GradPath::Fast, GradPath::Reference] {
            let mut c = AlgoConfig::defaults(Algo::Nadp, task);
            c.path = path;
            let mut learner = Learner::new(Algo::Nadp, task, c, 7);
            ys.push(learner.critic_target(&nets, &batch));
            rngs.push(learner.rng().clone());
        }
        assert_eq!(rngs[0], rngs[1], "{task}: the two paths drew differently");
        assert_eq!(ys[0].len(), 256);
        let e = worst(&ys[..1], &ys[1..]);
        eprintln!("{task} nadp target: relative error {e:.2e}");
        assert!(e <= TOL, "{task}: fast target off by {e:.2e}");
        // the comparison can fail: the targets of another batch differ by far more
        let other = Batch::random(task, 256, 99);
        let mut c = AlgoConfig::defaults(Algo::Nadp, task);
        c.path = GradPath::Reference;
        let y_other = Learner::new(Algo::Nadp, task, c, 7).critic_target(&nets, &other);
        assert!(worst(&ys[..1], &[y_other]) > 100.0 * TOL);
    }
}

/// Full size (batch 256, H = 25): MPG-v2 path tracking with min and full BPTT.
#[test]
fn fast_gradients_equal_the_reference_at_full_size() {
    tch::set_num_threads(1);
    let task = Task::PathTracking;
    let mut c = AlgoConfig::defaults(Algo::MpgV2, task);
    c.deriv_interval_policy = true;
    let [f, r] = both_paths(Algo::MpgV2, task, &c, &Batch::random(task, 256, 9), 300);
    check("full-size path-tracking mpg-v2 min dip", &f, &r);
}

/// The comparison above would catch a wrong gradient in any one tensor: a perturbation of
/// 1e-3 (relative) of any single policy tensor fails it. (The fast gradients are compared with
/// autograd's, so a wrong vector-Jacobian product shows up as such a difference.)
#[test]
fn the_fast_path_comparison_sees_an_error_in_any_tensor() {
    tch::set_num_threads(1);
    let task = Task::InvertedPendulum;
    let c = small_cfg(Algo::MpgV2, task, 16, 4);
    let [f, r] = both_paths(Algo::MpgV2, task, &c, &Batch::random(task, 16, 11), 400);
    let pf = f.policy.as_ref().unwrap();
    let pr = r.policy.as_ref().unwrap();
    assert!(worst(pf, pr) <= TOL);
    for i in 0..pf.len() {
        let mut wrong = pf.clone();
        let norm = pr[i]
            .iter()
            .map(|&x| (x as f64).powi(2))
            .sum::<f64>()
            .sqrt();
        let bump = (1e-3 * norm / (wrong[i].len() as f64).sqrt()) as f32;
        wrong[i].iter_mut().for_each(|x| *x += bump);
        let e = worst(&wrong, pr);
        assert!(e > TOL, "tensor {i}: a 1e-3 error gave only {e:e}");
    }
}
