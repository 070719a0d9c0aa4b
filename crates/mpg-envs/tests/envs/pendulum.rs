//! Inverted pendulum (spec §2) against MuJoCo's golden trajectories, the hinge stop (D4), the
//! reset distribution, the episode limit (D20) and the LQR controller.

use crate::common::{cols, read_golden};
use mpg_envs::pendulum::{
    self, LQR_GAIN, LQR_Q, LQR_R, Pendulum, UPRIGHT, linear_controller, step_state,
};
use mpg_envs::{Sim, Task, VecSim};
use std::collections::HashMap;

const GOLDEN: &str = "inverted_pendulum_env_golden.csv";
/// The golden data stops once |θ| > 2.5; rows beyond are not compared.
const THETA_MAX: f64 = 2.5;

type Row = HashMap<String, f64>;

fn in_range(row: &Row) -> bool {
    row["o1"].abs() < THETA_MAX
}

/// One step from each golden row (|θ| < 2.5), all rows as one batch through the f32 API:
/// next observation ≤ 1e-5 absolute, reward ≤ 1e-5 absolute, `done` exact.
#[test]
fn one_step_from_every_golden_row() {
    let rows: Vec<Row> = read_golden(GOLDEN).into_iter().filter(in_range).collect();
    assert!(rows.len() > 1000, "{} golden rows", rows.len());
    let n = rows.len();
    let mut sim = VecSim::new(Pendulum::default(), n, 0);
    let mut obs = Vec::new();
    let mut act = Vec::new();
    for row in &rows {
        obs.extend(cols(row, "o", 4).iter().map(|&v| v as f32));
        act.push(row["u0"] as f32);
    }
    sim.set_obs(&obs).unwrap();
    let (mut rew, mut done) = (vec![0.0; n], vec![false; n]);
    sim.step(&act, &mut rew, &mut done).unwrap();
    let mut next = vec![0.0; n * 4];
    sim.observe(&mut next);
    let (mut worst, mut worst_rew) = (0.0f64, 0.0f64);
    for (k, row) in rows.iter().enumerate() {
        let gold = cols(row, "n", 4);
        for d in 0..4 {
            let e = (next[k * 4 + d] as f64 - gold[d]).abs();
            assert!(
                e <= 1e-5,
                "row {k} n{d}: {} vs {} ({e:.2e})",
                next[k * 4 + d],
                gold[d]
            );
            worst = worst.max(e);
        }
        let e = (rew[k] as f64 - row["reward"]).abs();
        assert!(
            e <= 1e-5,
            "row {k} reward: {} vs {} ({e:.2e})",
            rew[k],
            row["reward"]
        );
        worst_rew = worst_rew.max(e);
        assert_eq!(done[k], row["done"] == 1.0, "row {k} done");
    }
    eprintln!(
        "pendulum one step (f32 API): worst abs error {worst:.2e} (obs), {worst_rew:.2e} (reward)"
    );
}

/// The same in f64 through [`step_state`], from the golden observations as written: the
/// analytic model matches MuJoCo to round-off (golden README: ≤ 1e-9).
#[test]
fn one_step_in_f64_matches_to_round_off() {
    let mut worst = 0.0f64;
    let mut worst_rew = 0.0f64;
    for row in read_golden(GOLDEN).iter().filter(|r| in_range(r)) {
        let o = cols(row, "o", 4);
        let next = step_state([o[0], o[1], o[2], o[3]], row["u0"]);
        for (d, g) in cols(row, "n", 4).into_iter().enumerate() {
            worst = worst.max((next[d] - g).abs());
        }
        let r = pendulum::reward(next[0], next[1], next[2], next[3]);
        worst_rew = worst_rew.max((r - row["reward"]).abs());
        assert_eq!(pendulum::failed(next[0], next[1]), row["done"] == 1.0);
    }
    eprintln!(
        "pendulum one step (f64): worst abs error {worst:.2e} (obs), {worst_rew:.2e} (reward)"
    );
    assert!(worst <= 1e-8, "worst {worst:.2e}");
    assert!(worst_rew <= 1e-8, "worst reward {worst_rew:.2e}");
}

/// The golden episodes, each as its rows in step order.
fn golden_episodes() -> Vec<Vec<Row>> {
    let rows = read_golden(GOLDEN);
    let episodes = rows.iter().map(|r| r["episode"] as usize).max().unwrap() + 1;
    (0..episodes)
        .map(|ep| {
            let mut steps: Vec<Row> = rows
                .iter()
                .filter(|r| r["episode"] as usize == ep)
                .cloned()
                .collect();
            steps.sort_by_key(|r| r["step"] as usize);
            for (k, r) in steps.iter().enumerate() {
                assert_eq!(r["step"] as usize, k, "episode {ep} steps are consecutive");
            }
            steps
        })
        .collect()
}

/// Each episode's free run from its first observation with the file's actions, in f64: every
/// next observation ≤ 2e-5 absolute while |θ| < 2.5 (golden README: ≤ 5e-6).
///
/// The upright pole is unstable (growth ≈ e^{5.5 t}, ×10⁵ over a 60-step episode), so the
/// free run magnifies any input perturbation: the 12 significant digits of the golden file
/// already account for the ~5e-6.
#[test]
fn free_run_of_every_episode() {
    let mut worst = 0.0f64;
    let mut compared = 0;
    for (ep, steps) in golden_episodes().iter().enumerate() {
        let o = cols(&steps[0], "o", 4);
        let mut x = [o[0], o[1], o[2], o[3]];
        for (k, row) in steps.iter().take_while(|r| in_range(r)).enumerate() {
            x = step_state(x, row["u0"]);
            for (d, g) in cols(row, "n", 4).into_iter().enumerate() {
                let e = (x[d] - g).abs();
                assert!(
                    e <= 2e-5,
                    "episode {ep} step {k} n{d}: {} vs {g} ({e:.2e})",
                    x[d]
                );
                worst = worst.max(e);
            }
            compared += 1;
        }
    }
    assert!(compared > 1000, "{compared} steps compared");
    eprintln!("pendulum free run (f64): worst abs error {worst:.2e} over {compared} steps");
}

/// The same free runs through the f32 API ([`VecSim`], all episodes as one batch). The API
/// keeps the state in f64 between steps, so it reproduces the f64 run from the f32-rounded
/// first observation and actions exactly (to the f32 rounding of the output). Against the
/// golden file the rounding of the inputs (~1e-8 relative) is magnified by the unstable
/// upright to ≤ 6.5e-4 by step 60 (measured), while the first 20 steps stay ≤ 1e-5.
#[test]
fn free_run_through_the_f32_api() {
    let eps = golden_episodes();
    let n = eps.len();
    let mut sim = VecSim::new(Pendulum::default(), n, 0);
    let obs0: Vec<f32> = eps
        .iter()
        .flat_map(|s| cols(&s[0], "o", 4))
        .map(|v| v as f32)
        .collect();
    sim.set_obs(&obs0).unwrap();
    let mut x: Vec<[f64; 4]> = obs0
        .chunks_exact(4)
        .map(|o| std::array::from_fn(|d| o[d] as f64))
        .collect();
    let longest = eps.iter().map(Vec::len).max().unwrap();
    let (mut rew, mut done, mut next) = (vec![0.0f32; n], vec![false; n], vec![0.0f32; n * 4]);
    let (mut worst_early, mut worst) = (0.0f64, 0.0f64);
    for k in 0..longest {
        // Episodes that have ended in the file keep going on zero action (not compared).
        let act: Vec<f32> = eps
            .iter()
            .map(|s| s.get(k).map_or(0.0, |r| r["u0"] as f32))
            .collect();
        sim.step(&act, &mut rew, &mut done).unwrap();
        sim.observe(&mut next);
        for (e, s) in eps.iter().enumerate() {
            x[e] = step_state(x[e], act[e] as f64);
            for d in 0..4 {
                assert_eq!(next[e * 4 + d], x[e][d] as f32, "episode {e} step {k} n{d}");
            }
            let Some(row) = s.get(k).filter(|r| in_range(r)) else {
                continue;
            };
            for (d, g) in cols(row, "n", 4).into_iter().enumerate() {
                let err = (next[e * 4 + d] as f64 - g).abs();
                worst = worst.max(err);
                if k < 20 {
                    worst_early = worst_early.max(err);
                }
            }
            let r = pendulum::reward(x[e][0], x[e][1], x[e][2], x[e][3]) as f32;
            assert_eq!(rew[e], r, "episode {e} step {k} reward");
        }
    }
    eprintln!(
        "pendulum free run (f32 API): worst abs error {worst_early:.2e} (steps < 20), {worst:.2e} (all)"
    );
    assert!(worst_early <= 1e-5, "first 20 steps: {worst_early:.2e}");
    assert!(worst <= 2e-3, "all steps: {worst:.2e}");
}

/// D4: a pole falling from θ = ±0.2 swings down to the stop at ±π and never passes it; then a
/// cart pushed the other way presses it onto the stop, where θ̇ is never outward.
#[test]
fn hinge_stop_at_pi() {
    use std::f64::consts::PI;
    let pi32 = PI as f32;
    for sign in [1.0f32, -1.0] {
        let mut sim = VecSim::new(Pendulum::default(), 1, 0);
        sim.set_obs(&[0.0, 0.2 * sign, 0.0, 0.0]).unwrap();
        let (mut rew, mut done, mut obs) = ([0.0f32], [false], [0.0f32; 4]);
        let (mut deepest, mut at_stop) = (0.0f32, 0);
        for k in 0..200 {
            // Free fall first, then accelerate the cart toward the fall, which presses the
            // hanging pole onto the stop.
            let a = if k < 50 { 0.0 } else { sign };
            sim.step(&[a], &mut rew, &mut done).unwrap();
            sim.observe(&mut obs);
            let (th, thd) = (obs[1], obs[3]);
            assert!(th.abs() <= pi32, "step {k}: θ = {th}");
            assert!(
                th * sign > -0.3,
                "step {k}: the pole fell the wrong way (θ = {th})"
            );
            if th.abs() == pi32 {
                at_stop += 1;
                assert!(
                    thd * th.signum() <= 0.0,
                    "step {k}: outward θ̇ {thd} at θ = {th}"
                );
            }
            deepest = deepest.max(th.abs());
            assert!(done[0] || k < 3, "a fallen pole is done");
            assert!(rew[0].is_finite());
        }
        assert!(deepest > 3.1, "the pole reached the stop ({deepest})");
        assert!(
            at_stop > 100,
            "the pole rests on the stop ({at_stop} steps)"
        );
    }
    // In f64, past the stop within one step: clamped exactly, outward rate removed.
    let x = step_state([0.0, 3.1, 0.0, 50.0], 0.0);
    assert_eq!((x[1], x[3]), (PI, 0.0));
    let x = step_state([0.0, -3.1, 0.0, -50.0], 0.0);
    assert_eq!((x[1], x[3]), (-PI, 0.0));
    // Moving back inward from the stop is untouched.
    let x = step_state([0.0, PI, 0.0, -1.0], 0.0);
    assert!(x[1] < PI && x[3] < 0.0, "{x:?}");
}

fn resets(seed: u64, agents: usize) -> Vec<f32> {
    let sim = VecSim::new(Pendulum::default(), agents, seed);
    let mut obs = vec![0.0; agents * 4];
    sim.observe(&mut obs);
    obs
}

/// Spec §2.1: every component U(−0.01, 0.01); seeded and reproducible (D8).
#[test]
fn reset_distribution() {
    let n = 20_000;
    let obs = resets(7, n);
    for d in 0..4 {
        let col: Vec<f64> = obs.iter().skip(d).step_by(4).map(|&v| v as f64).collect();
        let (lo, hi) = col
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), &v| (l.min(v), h.max(v)));
        assert!(lo >= -0.01 && hi <= 0.01, "component {d}: [{lo}, {hi}]");
        assert!(
            lo < -0.0099 && hi > 0.0099,
            "component {d} covers the range: [{lo}, {hi}]"
        );
        let mean = col.iter().sum::<f64>() / n as f64;
        let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
        // U(−a, a): mean 0 (sd of the mean a/√(3n) ≈ 4e-5), variance a²/3 ≈ 3.33e-5.
        assert!(mean.abs() < 2e-4, "component {d} mean {mean}");
        assert!(
            (var / (1e-4 / 3.0) - 1.0).abs() < 0.05,
            "component {d} variance {var}"
        );
    }
    assert_eq!(resets(7, 200), resets(7, 200), "same seed, same resets");
    assert_ne!(resets(7, 200), resets(8, 200), "different seeds differ");
    // reset_done only redraws the agents that are done.
    let mut sim = VecSim::new(Pendulum::default(), 2, 3);
    sim.set_obs(&[0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
        .unwrap();
    let (mut rew, mut done) = ([0.0f32; 2], [false; 2]);
    sim.step(&[0.0, 0.0], &mut rew, &mut done).unwrap();
    assert_eq!(done, [true, false]);
    let mut before = [0.0f32; 8];
    sim.observe(&mut before);
    sim.reset_done();
    let mut after = [0.0f32; 8];
    sim.observe(&mut after);
    assert!(after[..4].iter().all(|v| v.abs() <= 0.01), "{after:?}");
    assert_eq!(before[4..], after[4..]);
}

/// Mean return of `episodes` fresh 100-step episodes (`done` ignored, D18) under `policy`.
fn mean_return(episodes: usize, seed: u64, policy: impl Fn(&[f32]) -> f32) -> f64 {
    let mut sim = VecSim::new(Pendulum::default(), episodes, seed);
    let steps = pendulum::SPEC.eval_steps;
    let mut obs = vec![0.0f32; episodes * 4];
    let mut act = vec![0.0f32; episodes];
    let (mut rew, mut done) = (vec![0.0f32; episodes], vec![false; episodes]);
    let mut total = 0.0f64;
    for _ in 0..steps {
        sim.observe(&mut obs);
        for (a, o) in act.iter_mut().zip(obs.chunks_exact(4)) {
            *a = policy(o);
        }
        sim.step(&act, &mut rew, &mut done).unwrap();
        total += rew.iter().map(|&r| r as f64).sum::<f64>();
    }
    total / episodes as f64
}

/// The LQR controller nearly zeroes the return of a fresh episode; the same gain with the wrong
/// sign drops the pole.
#[test]
fn linear_controller_balances() {
    let good = mean_return(2000, 11, linear_controller);
    let zero = mean_return(2000, 11, |_| 0.0);
    let wrong = mean_return(2000, 11, |o| -linear_controller(o));
    eprintln!(
        "pendulum 100-step return: LQR {good:.5}, zero action {zero:.3}, wrong sign {wrong:.3}"
    );
    assert!(good > -0.0025 && good < 0.0, "LQR return {good}");
    assert!(zero < -10.0, "zero action return {zero}");
    assert!(wrong < -10.0, "wrong-sign return {wrong}");
    // Through the task-generic fixed policy as well.
    let mut act = [0.0f32];
    mpg_envs::policy::FixedPolicy::Linear.act(
        Task::InvertedPendulum,
        &[0.0, 0.1, 0.0, 0.0],
        &mut act,
    );
    assert_eq!(act[0], linear_controller(&[0.0, 0.1, 0.0, 0.0]));
    assert!(
        act[0] > 0.0,
        "a pole leaning to +x needs the cart pushed to +x"
    );
}

/// D20: with a 5-step limit, a balanced pendulum is done exactly at its 5th step; a reset
/// restarts the count; 0 means no limit.
#[test]
fn episode_step_limit() {
    for (limit, expect) in [(5u32, Some(5usize)), (0, None)] {
        let mut sim = VecSim::new(
            Pendulum {
                max_episode_steps: limit,
            },
            3,
            5,
        );
        let (mut obs, mut act) = ([0.0f32; 12], [0.0f32; 3]);
        let (mut rew, mut done) = ([0.0f32; 3], [false; 3]);
        for round in 0..2 {
            for step in 1..=20 {
                sim.observe(&mut obs);
                for (a, o) in act.iter_mut().zip(obs.chunks_exact(4)) {
                    *a = linear_controller(o);
                }
                sim.step(&act, &mut rew, &mut done).unwrap();
                let want = expect.is_some_and(|e| step >= e);
                assert_eq!(done, [want; 3], "limit {limit}, round {round}, step {step}");
                if want {
                    break;
                }
            }
            sim.reset_done();
        }
    }
    assert_eq!(Pendulum::default().max_episode_steps, 1000);
}

/// Save and load restore the state, the step counters and the generators exactly (D8).
#[test]
fn save_and_load_resume_exactly() {
    let mut a = VecSim::new(
        Pendulum {
            max_episode_steps: 7,
        },
        70,
        9,
    );
    let (mut obs, mut act) = (vec![0.0f32; 280], vec![0.0f32; 70]);
    let (mut rew, mut done) = (vec![0.0f32; 70], vec![false; 70]);
    let mut run = |sim: &mut VecSim<Pendulum>, k: usize| {
        let mut trace = Vec::new();
        for _ in 0..k {
            sim.observe(&mut obs);
            for (a, o) in act.iter_mut().zip(obs.chunks_exact(4)) {
                *a = linear_controller(o) + 0.3;
            }
            sim.step(&act, &mut rew, &mut done).unwrap();
            sim.reset_done();
            trace.extend_from_slice(&rew);
            trace.extend(done.iter().map(|&d| d as u8 as f32));
        }
        sim.observe(&mut obs);
        trace.extend_from_slice(&obs);
        trace
    };
    run(&mut a, 4);
    let saved = a.save();
    let mut b = VecSim::new(
        Pendulum {
            max_episode_steps: 7,
        },
        70,
        1,
    );
    b.load(&saved).unwrap();
    assert_eq!(run(&mut a, 12), run(&mut b, 12));
}

// ---- the derivation of the LQR gain (documented at `LQR_GAIN`) ----

type Mat = [[f64; 4]; 4];

fn mat_mul(a: &Mat, b: &Mat) -> Mat {
    let mut c = [[0.0; 4]; 4];
    for i in 0..4 {
        for j in 0..4 {
            c[i][j] = (0..4).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    c
}

fn transpose(a: &Mat) -> Mat {
    let mut t = [[0.0; 4]; 4];
    for i in 0..4 {
        for j in 0..4 {
            t[i][j] = a[j][i];
        }
    }
    t
}

/// Linearisation (A, B) of one environment step around the upright equilibrium.
fn linearise() -> (Mat, [f64; 4]) {
    let delta = 1e-6;
    let mut a = [[0.0; 4]; 4];
    for j in 0..4 {
        let (mut xp, mut xm) = (UPRIGHT, UPRIGHT);
        xp[j] += delta;
        xm[j] -= delta;
        let (fp, fm) = (step_state(xp, 0.0), step_state(xm, 0.0));
        for i in 0..4 {
            a[i][j] = (fp[i] - fm[i]) / (2.0 * delta);
        }
    }
    let (fp, fm) = (step_state(UPRIGHT, delta), step_state(UPRIGHT, -delta));
    let b = std::array::from_fn(|i| (fp[i] - fm[i]) / (2.0 * delta));
    (a, b)
}

/// Discrete LQR gain for (A, B, diag Q, R) by Riccati iteration from P = Q.
fn dlqr(a: &Mat, b: &[f64; 4], q: &[f64; 4], r: f64) -> [f64; 4] {
    let mut p: Mat =
        std::array::from_fn(|i| std::array::from_fn(|j| if i == j { q[i] } else { 0.0 }));
    let at = transpose(a);
    for it in 0..100_000 {
        let pa = mat_mul(&p, a);
        let bpb: f64 = (0..4)
            .map(|i| (0..4).map(|j| b[i] * p[i][j] * b[j]).sum::<f64>())
            .sum();
        let bpa: [f64; 4] = std::array::from_fn(|j| (0..4).map(|i| b[i] * pa[i][j]).sum());
        let k = bpa.map(|v| v / (r + bpb));
        let atpa = mat_mul(&at, &pa);
        // Symmetrised, or round-off grows in P's antisymmetric part (the open loop is unstable).
        let mut next = [[0.0; 4]; 4];
        for i in 0..4 {
            for j in 0..4 {
                next[i][j] = 0.5 * (atpa[i][j] + atpa[j][i]) - bpa[i] * k[j]
                    + if i == j { q[i] } else { 0.0 };
            }
        }
        let change = (0..16)
            .map(|m| (next[m / 4][m % 4] - p[m / 4][m % 4]).abs())
            .fold(0.0, f64::max);
        let size = (0..16)
            .map(|m| next[m / 4][m % 4].abs())
            .fold(0.0, f64::max);
        p = next;
        if change <= 1e-12 * size {
            eprintln!("Riccati converged after {it} iterations; P = {p:?}");
            return k;
        }
    }
    panic!("Riccati iteration did not converge");
}

/// The hard-coded gain is the discrete LQR gain of the simulator linearised around upright.
#[test]
fn lqr_gain_is_rederived() {
    let (a, b) = linearise();
    let k = dlqr(&a, &b, &LQR_Q, LQR_R);
    eprintln!("A = {a:?}\nB = {b:?}\nK = {k:?}");
    for j in 0..4 {
        let e = (k[j] - LQR_GAIN[j]).abs();
        assert!(
            e <= 1e-6 * (1.0 + k[j].abs()),
            "K[{j}]: derived {} vs coded {}",
            k[j],
            LQR_GAIN[j]
        );
    }
    // The closed loop A − BK is stable: its state decays from any unit start.
    let mut x = [1.0, 1.0, 1.0, 1.0];
    for _ in 0..2000 {
        let u: f64 = -(0..4).map(|j| k[j] * x[j]).sum::<f64>();
        x = std::array::from_fn(|i| (0..4).map(|j| a[i][j] * x[j]).sum::<f64>() + b[i] * u);
    }
    assert!(
        x.iter().all(|v| v.abs() < 1e-6),
        "closed loop does not decay: {x:?}"
    );
}

/// `reset_agents` redraws exactly the masked agents, across block boundaries, from the same
/// per-block generators on any number of threads; a mask of the wrong length is refused.
#[test]
fn reset_agents_redraws_only_the_masked_agents() {
    let n = 130; // three blocks, the last partial
    let far: Vec<f32> = (0..n)
        .flat_map(|i| [1.0 + i as f32, 0.1, 0.0, 0.0])
        .collect();
    let mask: Vec<bool> = (0..n).map(|i| i % 3 == 0 || i == 129).collect();
    let run = |threads: usize| {
        let mut sim = VecSim::new(Pendulum::default(), n, 5);
        sim.set_threads(threads);
        sim.set_obs(&far).unwrap();
        sim.reset_agents(&mask).unwrap();
        let mut obs = vec![0.0f32; n * 4];
        sim.observe(&mut obs);
        obs
    };
    let obs = run(1);
    for i in 0..n {
        let row = &obs[i * 4..(i + 1) * 4];
        if mask[i] {
            assert!(row.iter().all(|v| v.abs() <= 0.01), "agent {i}: {row:?}");
        } else {
            assert_eq!(row, &far[i * 4..(i + 1) * 4], "agent {i} kept");
        }
    }
    assert_eq!(obs, run(2), "same draws on two threads");
    let mut sim = VecSim::new(Pendulum::default(), n, 5);
    assert_eq!(
        sim.reset_agents(&mask[1..]),
        Err(mpg_envs::SimError::Shape {
            what: "reset mask",
            expected: n,
            got: n - 1
        })
    );
}
