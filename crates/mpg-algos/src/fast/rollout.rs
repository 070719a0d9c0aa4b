//! The model-based policy gradient kernel: one forward sweep (policy passes, model steps,
//! critic at the first state and at the bootstrap state) and one reverse sweep (critic input
//! gradients, the model's vector-Jacobian products, the policy's backward passes).
//!
//! J = w_data·(−mean C(s₀, a₀)) + w_model·(−mean R_H),
//! R_H = Σ_{k<H} γᵏ·(r̂_k + shift)·scale + γᴴ·C(ŝ_H, a_H), a_k = π(ŝ_k),
//!
//! with C the critic (Q1, or min(Q1, Q2) per sample, D2). θ's gradient enters at a₀ only
//! (MPG's frozen rollout policy, spec §3.2) or at every a_k (`full_bptt`: MPG's
//! `deriv_interval_policy`, and n-step ADP, spec §3.7, which is the case w_data = 0,
//! w_model = 1, critic Q1). The gradient flows along the model states either way.
//!
//! Networks run in f32 (as the reference, D13), the model rollout and its products in f64.

use super::FastModel;
use super::mlp::{FastMlp, MlpCache, ParamGrads};
use super::pool;
use std::ops::Range;

/// The loss J and dJ/dθ of the policy, in [`mpg_models::nets::Mlp::params`] order.
#[derive(Clone, Debug)]
pub struct PolicyGrad {
    pub loss: f64,
    pub grads: ParamGrads,
}

/// The critic of the return terms: Q1, or the per-sample min(Q1, Q2) when `q2` is given
/// (D2 `min`; MPG-v1 trains Q1 only, so its `min` is Q1).
#[derive(Clone, Copy, Debug)]
pub struct Critic<'a> {
    pub q1: &'a FastMlp,
    pub q2: Option<&'a FastMlp>,
}

/// What is differentiated, and the task's preprocessing.
#[derive(Clone, Debug)]
pub struct Objective<'a> {
    pub gamma: f64,
    pub w_data: f64,
    pub w_model: f64,
    /// θ's gradient at every rollout action, not only at a₀.
    pub full_bptt: bool,
    /// Network input = observation ⊙ `obs_scale` (spec §1.10, §2.4).
    pub obs_scale: &'a [f32],
    /// Training reward = (r + `reward_shift`)·`reward_scale` (spec §1.10, §2.4, D19).
    pub reward_scale: f64,
    pub reward_shift: f64,
    /// The action is `act_range`·tanh(mean): 1 path tracking, 3 pendulum (`Squash`).
    pub act_range: f32,
}

/// The network passes the reverse sweep needs; reusing one across calls saves allocating (and
/// page-faulting) them every time.
#[derive(Clone, Debug, Default)]
pub struct Workspace {
    policy: Vec<MlpCache>,
    q_data: [MlpCache; 2],
    q_boot: [MlpCache; 2],
    tmp: Vec<f32>,
    /// [`model_target`]'s rollout buffers.
    target: TargetBuffers,
    /// One per thread of [`policy_grad_threads`] and [`model_target_threads`].
    parts: Vec<Workspace>,
}

/// The per-step values of [`model_target`]'s rollout, kept across calls: the target runs
/// on every update (spec §3.7), and fresh buffers cost page faults each time.
#[derive(Clone, Debug, Default)]
struct TargetBuffers {
    /// ŝ_k and ŝ_{k+1}, raw, f64 `[n, OBS]`.
    s: Vec<f64>,
    next: Vec<f64>,
    /// ŝ_k ⊙ obs_scale, the networks' input `[n, OBS]`.
    s_scaled: Vec<f32>,
    /// a_k in policy units `[n, ACT]`.
    a: Vec<f32>,
    /// The discounted reward sum per sample.
    ret: Vec<f64>,
    /// The critic's input rows [ŝ_H scaled, a_H].
    x: Vec<f32>,
}

/// torch.minimum's gradient share of `a` in min(a, b): all of it where a < b, half at a tie,
/// none where a > b (and all where either is NaN, as libtorch).
fn min_share(a: f32, b: f32) -> f32 {
    if a > b {
        0.0
    } else if a == b {
        0.5
    } else {
        1.0
    }
}

impl Critic<'_> {
    fn check(&self, input: usize) {
        for q in std::iter::once(self.q1).chain(self.q2) {
            assert_eq!(q.input_dim(), input, "critic input");
            assert_eq!(q.output_dim(), 1, "critic output");
        }
    }

    /// C(x) per sample, the passes kept in `caches`.
    fn forward(&self, x: &[f32], n: usize, caches: &mut [MlpCache; 2]) -> Vec<f32> {
        self.q1.forward(x, n, &mut caches[0]);
        let Some(q2) = self.q2 else {
            return caches[0].output().to_vec();
        };
        q2.forward(x, n, &mut caches[1]);
        caches[0]
            .output()
            .iter()
            .zip(caches[1].output())
            .map(|(&a, &b)| {
                if a.is_nan() || b.is_nan() {
                    f32::NAN
                } else {
                    a.min(b)
                }
            })
            .collect()
    }

    /// dL/dx into `dx` from dL/dC per sample `g`, through the passes in `caches`.
    fn backward(&self, caches: &[MlpCache; 2], g: &[f32], dx: &mut [f32], tmp: &mut Vec<f32>) {
        let Some(q2) = self.q2 else {
            self.q1.backward(&caches[0], g, dx, None);
            return;
        };
        let (v1, v2) = (caches[0].output(), caches[1].output());
        let g1: Vec<f32> = (0..g.len())
            .map(|i| g[i] * min_share(v1[i], v2[i]))
            .collect();
        let g2: Vec<f32> = (0..g.len())
            .map(|i| g[i] * min_share(v2[i], v1[i]))
            .collect();
        self.q1.backward(&caches[0], &g1, dx, None);
        tmp.resize(dx.len(), 0.0);
        q2.backward(&caches[1], &g2, tmp, None);
        for (d, t) in dx.iter_mut().zip(tmp.iter()) {
            *d += t;
        }
    }
}

/// J and dJ/dθ (see the module documentation) for the prior model `M`.
///
/// * `obs`: `[B, M::OBS]` raw observations (row-major).
/// * `noises`: H vectors of `B` model-noise values (H = `noises.len()`), as the reference's.
pub fn policy_grad<M: FastModel>(
    ws: &mut Workspace,
    policy: &FastMlp,
    critic: Critic,
    obs: &[f32],
    noises: &[Vec<f32>],
    obj: &Objective,
) -> PolicyGrad {
    let (od, ad) = (M::OBS, M::ACT);
    let (qd, p_out) = (od + ad, 2 * ad);
    let scale = obj.obs_scale;
    let range = obj.act_range;
    assert_eq!(scale.len(), od, "obs_scale");
    assert_eq!(policy.input_dim(), od, "policy input");
    assert_eq!(policy.output_dim(), p_out, "policy output (mean, log_std)");
    critic.check(qd);
    let n = obs.len() / od;
    assert_eq!(obs.len(), n * od, "observations");
    let horizon = noises.len();
    let inv_n = 1.0 / n as f64;

    // The scaled network input of raw states.
    let scaled = |s: &[f64]| -> Vec<f32> {
        s.chunks_exact(od)
            .flat_map(|row| row.iter().zip(scale).map(|(&v, &c)| v as f32 * c))
            .collect()
    };
    // tanh of the mean half of a policy pass (the action is range·tanh).
    let tanh_of = |cache: &MlpCache| -> Vec<f32> {
        cache
            .output()
            .chunks_exact(p_out)
            .flat_map(|row| row[..ad].iter().map(|v| v.tanh()))
            .collect()
    };
    let q_input = |s_scaled: &[f32], t: &[f32]| -> Vec<f32> {
        s_scaled
            .chunks_exact(od)
            .zip(t.chunks_exact(ad))
            .flat_map(|(s, t)| s.iter().copied().chain(t.iter().map(|&v| range * v)))
            .collect()
    };
    let action_of = |t: &[f32], i: usize, a: &mut [f64]| {
        for (j, a) in a.iter_mut().enumerate() {
            *a = (range * t[i * ad + j]) as f64;
        }
    };

    ws.policy.resize_with(horizon + 1, MlpCache::default);
    let Workspace {
        policy: pcaches,
        q_data,
        q_boot,
        tmp,
        ..
    } = ws;

    // ---- Forward: states ŝ_0..ŝ_H (raw, f64), policy passes, tanh of the actions a_0..a_H.
    let mut states: Vec<Vec<f64>> = Vec::with_capacity(horizon + 1);
    states.push(obs.iter().map(|&v| v as f64).collect());
    // The reference scales the f32 observation in f32.
    let s0_scaled: Vec<f32> = obs
        .chunks_exact(od)
        .flat_map(|row| row.iter().zip(scale).map(|(&v, &c)| v * c))
        .collect();
    policy.forward(&s0_scaled, n, &mut pcaches[0]);
    let mut tanhs: Vec<Vec<f32>> = Vec::with_capacity(horizon + 1);
    tanhs.push(tanh_of(&pcaches[0]));

    // The data return C(s₀, a₀); n-step ADP has none (w_data = 0).
    let with_data = obj.w_data != 0.0;
    let data_mean = if with_data {
        let v = critic.forward(&q_input(&s0_scaled, &tanhs[0]), n, q_data);
        v.iter().map(|&x| x as f64).sum::<f64>() * inv_n
    } else {
        0.0
    };

    // The model rollout.
    let mut model_ret = vec![0.0f64; n];
    let mut discount = 1.0;
    let mut a = vec![0.0f64; ad];
    for (k, eps) in noises.iter().enumerate() {
        assert_eq!(eps.len(), n, "noise of step {k}");
        let mut next = vec![0.0f64; n * od];
        for i in 0..n {
            action_of(&tanhs[k], i, &mut a);
            let r = M::step(
                &states[k][i * od..][..od],
                &a,
                eps[i] as f64,
                &mut next[i * od..][..od],
            );
            model_ret[i] += (r + obj.reward_shift) * (obj.reward_scale * discount);
        }
        discount *= obj.gamma;
        let s_scaled = scaled(&next);
        states.push(next);
        policy.forward(&s_scaled, n, &mut pcaches[k + 1]);
        tanhs.push(tanh_of(&pcaches[k + 1]));
    }
    // The bootstrap γᴴ·C(ŝ_H, a_H).
    let boot = critic.forward(
        &q_input(&scaled(&states[horizon]), &tanhs[horizon]),
        n,
        q_boot,
    );
    let model_mean = model_ret
        .iter()
        .zip(&boot)
        .map(|(&r, &q)| r + q as f64 * discount)
        .sum::<f64>()
        * inv_n;
    let loss = -(obj.w_data * data_mean + obj.w_model * model_mean);

    // ---- Reverse sweep.
    let mut dq = vec![0.0f32; n * qd];
    // dJ/da₀ from the data term (its state input is data: not followed).
    let mut da0 = vec![0.0f64; n * ad];
    if with_data {
        critic.backward(q_data, &vec![(-obj.w_data * inv_n) as f32; n], &mut dq, tmp);
        for (d, row) in da0.chunks_exact_mut(ad).zip(dq.chunks_exact(qd)) {
            for (d, &g) in d.iter_mut().zip(&row[od..]) {
                *d = g as f64;
            }
        }
    }
    // Through the bootstrap: dJ/dŝ_H (raw) and dJ/da_H.
    let g_boot = (-obj.w_model * discount * inv_n) as f32;
    critic.backward(q_boot, &vec![g_boot; n], &mut dq, tmp);
    let mut ds = vec![0.0f64; n * od];
    let mut da = vec![0.0f64; n * ad];
    for (i, row) in dq.chunks_exact(qd).enumerate() {
        for j in 0..od {
            ds[i * od + j] = (row[j] * scale[j]) as f64;
        }
        for j in 0..ad {
            da[i * ad + j] = row[od + j] as f64;
        }
    }

    // dJ/d(policy output) of a pass from dJ/d action: range·tanh′ on the mean half, 0 on
    // log_std.
    let dout_of = |t: &[f32], da: &[f64], out: &mut Vec<f32>| {
        out.clear();
        out.resize(n * p_out, 0.0);
        for i in 0..n {
            for j in 0..ad {
                let t = t[i * ad + j];
                out[i * p_out + j] = (da[i * ad + j] as f32) * range * (1.0 - t * t);
            }
        }
    };
    let mut grads = policy.zero_grads();
    let mut dpin = vec![0.0f32; n * od];
    let mut dout = Vec::new();
    let (mut ds_k, mut da_k) = (vec![0.0f64; n * od], vec![0.0f64; n * ad]);
    for k in (0..=horizon).rev() {
        if k < horizon {
            // Through model step k: (ŝ_k, a_k) → (ŝ_{k+1}, r̂_k).
            let g_rew = -obj.w_model * inv_n * obj.reward_scale * obj.gamma.powi(k as i32);
            for i in 0..n {
                action_of(&tanhs[k], i, &mut a);
                M::step_vjp(
                    &states[k][i * od..][..od],
                    &a,
                    noises[k][i] as f64,
                    &ds[i * od..][..od],
                    g_rew,
                    &mut ds_k[i * od..][..od],
                    &mut da_k[i * ad..][..ad],
                );
            }
            std::mem::swap(&mut ds, &mut ds_k);
            std::mem::swap(&mut da, &mut da_k);
        }
        if k == 0 {
            break;
        }
        // Through the policy at ŝ_k: to its input, and to θ under full BPTT.
        dout_of(&tanhs[k], &da, &mut dout);
        let pg = if obj.full_bptt {
            Some(&mut grads)
        } else {
            None
        };
        policy.backward(&pcaches[k], &dout, &mut dpin, pg);
        for (i, g) in dpin.iter().enumerate() {
            ds[i] += (g * scale[i % od]) as f64;
        }
    }
    // The first action: the data term's and the model term's gradients, into θ.
    for (d, g) in da0.iter_mut().zip(&da) {
        *d += g;
    }
    dout_of(&tanhs[0], &da0, &mut dout);
    policy.backward(&pcaches[0], &dout, &mut dpin, Some(&mut grads));
    PolicyGrad { loss, grads }
}

/// [`policy_grad`] on `threads` threads of [`super::pool`]: each takes a contiguous share of
/// the batch (its own workspace), and the shares' losses and gradients are combined with
/// weights n_i/n, which is the mean over the whole batch. Deterministic for a given thread
/// count (each share is computed the same wherever it runs, and the sums run in a fixed
/// order); with 1 thread it is [`policy_grad`] itself.
pub fn policy_grad_threads<M: FastModel>(
    ws: &mut Workspace,
    threads: usize,
    policy: &FastMlp,
    critic: Critic,
    obs: &[f32],
    noises: &[Vec<f32>],
    obj: &Objective,
) -> PolicyGrad {
    let n = obs.len() / M::OBS;
    let threads = threads.clamp(1, n.max(1));
    if threads == 1 {
        return policy_grad::<M>(ws, policy, critic, obs, noises, obj);
    }
    let parts = on_shares(ws, threads, n, |part, rows| {
        let obs = &obs[rows.start * M::OBS..rows.end * M::OBS];
        policy_grad::<M>(part, policy, critic, obs, &noise_rows(noises, rows), obj)
    });
    let mut loss = 0.0;
    let mut grads = policy.zero_grads();
    for (part, rows) in &parts {
        let w = rows.len() as f64 / n as f64;
        loss += w * part.loss;
        for (g, p) in grads.iter_mut().zip(&part.grads) {
            for (g, &p) in g.iter_mut().zip(p) {
                *g += (w * p as f64) as f32;
            }
        }
    }
    PolicyGrad { loss, grads }
}

/// n-step ADP's critic target without gradient (spec §3.7, the reference
/// [`crate::nadp::model_nstep_target`]): y = Σ_{k<H} γᵏ·(r̂_k + shift)·scale + γᴴ·Q(ŝ_H, a_H)
/// along the model rollout from (s, stored a₀), every later action a_k = π(ŝ_k) from the
/// current policy, Q the target Q1. `obs` `[B, M::OBS]` raw, `act0` `[B, M::ACT]` in policy
/// units; `obj`'s weights and `full_bptt` are not read.
///
/// Forward only: one policy pass per step, each overwriting the last (nothing is kept for a
/// backward pass), and no allocation per step.
pub fn model_target<M: FastModel>(
    ws: &mut Workspace,
    policy: &FastMlp,
    q: &FastMlp,
    obs: &[f32],
    act0: &[f32],
    noises: &[Vec<f32>],
    obj: &Objective,
) -> Vec<f32> {
    let (od, ad) = (M::OBS, M::ACT);
    let p_out = 2 * ad;
    let (scale, range) = (obj.obs_scale, obj.act_range);
    assert_eq!(scale.len(), od, "obs_scale");
    assert_eq!(policy.input_dim(), od, "policy input");
    assert_eq!(policy.output_dim(), p_out, "policy output (mean, log_std)");
    assert_eq!(q.input_dim(), od + ad, "critic input");
    let n = obs.len() / od;
    assert_eq!(obs.len(), n * od, "observations");
    assert_eq!(act0.len(), n * ad, "actions");
    // one pass at a time; the caches [`policy_grad`] keeps are left in place (reused, not read)
    if ws.policy.is_empty() {
        ws.policy.push(MlpCache::default());
    }
    let cache = &mut ws.policy[0];
    let TargetBuffers {
        s,
        next,
        s_scaled,
        a,
        ret,
        x,
    } = &mut ws.target;

    s.clear();
    s.extend(obs.iter().map(|&v| v as f64));
    next.resize(n * od, 0.0);
    // actions in policy units, f32 as the reference's tensors
    a.clear();
    a.extend_from_slice(act0);
    ret.clear();
    ret.resize(n, 0.0);
    // the reference scales the f32 observation in f32
    s_scaled.clear();
    s_scaled.extend(obs.iter().zip(scale.iter().cycle()).map(|(&v, &c)| v * c));
    let mut discount = 1.0;
    let mut a_k = [0.0f64; 8];
    assert!(ad <= a_k.len(), "at most 8 action dimensions");
    let a_k = &mut a_k[..ad];
    for (k, eps) in noises.iter().enumerate() {
        assert_eq!(eps.len(), n, "noise of step {k}");
        let r_scale = obj.reward_scale * discount;
        for i in 0..n {
            for (x, &v) in a_k.iter_mut().zip(&a[i * ad..][..ad]) {
                *x = v as f64;
            }
            let r = M::step(
                &s[i * od..][..od],
                a_k,
                eps[i] as f64,
                &mut next[i * od..][..od],
            );
            ret[i] += (r + obj.reward_shift) * r_scale;
        }
        discount *= obj.gamma;
        std::mem::swap(s, next);
        for (x, (&v, &c)) in s_scaled.iter_mut().zip(s.iter().zip(scale.iter().cycle())) {
            *x = v as f32 * c;
        }
        policy.forward(s_scaled, n, cache);
        for (a, row) in a
            .chunks_exact_mut(ad)
            .zip(cache.output().chunks_exact(p_out))
        {
            for (a, &m) in a.iter_mut().zip(&row[..ad]) {
                *a = range * m.tanh();
            }
        }
    }
    x.clear();
    for (s, a) in s_scaled.chunks_exact(od).zip(a.chunks_exact(ad)) {
        x.extend_from_slice(s);
        x.extend_from_slice(a);
    }
    q.forward(x, n, &mut ws.q_boot[0]);
    ret.iter()
        .zip(ws.q_boot[0].output())
        .map(|(&r, &v)| (r + v as f64 * discount) as f32)
        .collect()
}

/// [`model_target`] on `threads` threads of the [`pool`], each on a contiguous share of the batch (its
/// own workspace): the samples' rollouts are independent, so the shares' targets are simply
/// put side by side. Deterministic for a given thread count; with 1 thread it is
/// [`model_target`] itself. Without it, n-step ADP's target (about a quarter of its update)
/// would run on one thread while its policy gradient runs on all.
#[allow(clippy::too_many_arguments)]
pub fn model_target_threads<M: FastModel>(
    ws: &mut Workspace,
    threads: usize,
    policy: &FastMlp,
    q: &FastMlp,
    obs: &[f32],
    act0: &[f32],
    noises: &[Vec<f32>],
    obj: &Objective,
) -> Vec<f32> {
    let n = obs.len() / M::OBS;
    let threads = threads.clamp(1, n.max(1));
    if threads == 1 {
        return model_target::<M>(ws, policy, q, obs, act0, noises, obj);
    }
    let parts = on_shares(ws, threads, n, |part, rows| {
        let obs = &obs[rows.start * M::OBS..rows.end * M::OBS];
        let act0 = &act0[rows.start * M::ACT..rows.end * M::ACT];
        model_target::<M>(part, policy, q, obs, act0, &noise_rows(noises, rows), obj)
    });
    parts.into_iter().flat_map(|(targets, _)| targets).collect()
}

/// The `n` samples of a batch split into `threads` contiguous shares, `f` run on each share's
/// rows with a workspace of its own on the [`pool`]: the results in share order, each with its
/// rows.
fn on_shares<R: Send>(
    ws: &mut Workspace,
    threads: usize,
    n: usize,
    f: impl Fn(&mut Workspace, Range<usize>) -> R + Sync,
) -> Vec<(R, Range<usize>)> {
    ws.parts.resize_with(threads, Workspace::default);
    let share = |t: usize| t * n / threads..(t + 1) * n / threads;
    pool::map_mut(&mut ws.parts[..threads], |t, part| {
        let rows = share(t);
        (f(part, rows.clone()), rows)
    })
}

/// The model noises of the samples `rows` (one `[B]` vector a step).
fn noise_rows(noises: &[Vec<f32>], rows: Range<usize>) -> Vec<Vec<f32>> {
    noises.iter().map(|e| e[rows.clone()].to_vec()).collect()
}
