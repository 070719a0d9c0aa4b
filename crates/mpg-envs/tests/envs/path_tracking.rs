//! Path tracking (spec §1) against the authors' simulator's golden trajectories.

use crate::common::{cols, read_golden, rel_err};
use mpg_envs::path_tracking::PathTracking;
use mpg_envs::policy::FixedPolicy;
use mpg_envs::{Sim, Task, Termination, VecSim, make_sim};

const GOLDEN: &str = "path_tracking_env_golden.csv";

fn obs_act(row: &std::collections::HashMap<String, f64>) -> (Vec<f32>, Vec<f32>) {
    let o = cols(row, "o", 6).iter().map(|&v| v as f32).collect();
    let u = cols(row, "u", 2).iter().map(|&v| v as f32).collect();
    (o, u)
}

/// One step from each golden row, all rows as one batch: ≤ 1e-4 relative (issue 7).
#[test]
fn one_step_from_every_golden_row() {
    let rows = read_golden(GOLDEN);
    let n = rows.len();
    let mut sim = VecSim::new(PathTracking::default(), n, 0);
    let (mut obs, mut act) = (Vec::new(), Vec::new());
    for row in &rows {
        let (o, u) = obs_act(row);
        obs.extend(o);
        act.extend(u);
    }
    sim.set_obs(&obs).unwrap();
    let (mut rew, mut done) = (vec![0.0; n], vec![false; n]);
    sim.step(&act, &mut rew, &mut done).unwrap();
    let mut next = vec![0.0; n * 6];
    sim.observe(&mut next);
    let (mut worst, mut worst_rew) = (0.0f64, 0.0f64);
    for (k, row) in rows.iter().enumerate() {
        let gold = cols(row, "n", 6);
        for d in 0..6 {
            let e = rel_err(next[k * 6 + d] as f64, gold[d]);
            assert!(
                e <= 1e-4,
                "row {k} n{d}: {} vs {} (rel {e:.2e})",
                next[k * 6 + d],
                gold[d]
            );
            worst = worst.max(e);
        }
        let e = rel_err(rew[k] as f64, row["reward"]);
        assert!(
            e <= 1e-4,
            "row {k} reward: {} vs {} (rel {e:.2e})",
            rew[k],
            row["reward"]
        );
        worst_rew = worst_rew.max(e);
        assert_eq!(done[k], row["done"] == 1.0, "row {k} done");
    }
    eprintln!("one step: worst relative error {worst:.2e} (obs), {worst_rew:.2e} (reward)");
}

/// The 40-step free run of each vehicle from its first observation: ≤ 1e-3 relative.
#[test]
fn free_run_of_every_vehicle() {
    let rows = read_golden(GOLDEN);
    let agents = rows.iter().map(|r| r["agent"] as usize).max().unwrap() + 1;
    let steps = rows.iter().map(|r| r["step"] as usize).max().unwrap() + 1;
    assert_eq!(rows.len(), agents * steps);
    let at = |a: usize, s: usize| {
        rows.iter()
            .find(|r| r["agent"] as usize == a && r["step"] as usize == s)
            .unwrap()
    };
    let mut sim = VecSim::new(PathTracking::default(), agents, 0);
    let obs0: Vec<f32> = (0..agents).flat_map(|a| obs_act(at(a, 0)).0).collect();
    sim.set_obs(&obs0).unwrap();
    let (mut rew, mut done) = (vec![0.0; agents], vec![false; agents]);
    let mut next = vec![0.0; agents * 6];
    let (mut worst, mut worst_rew_abs) = (0.0f64, 0.0f64);
    let mut worst_dim = [0.0f64; 6];
    for s in 0..steps {
        let act: Vec<f32> = (0..agents).flat_map(|a| obs_act(at(a, s)).1).collect();
        // done is ignored: no reset inside the run (D18)
        sim.step(&act, &mut rew, &mut done).unwrap();
        sim.observe(&mut next);
        for a in 0..agents {
            let row = at(a, s);
            let gold = cols(row, "n", 6);
            for d in 0..6 {
                let e = rel_err(next[a * 6 + d] as f64, gold[d]);
                assert!(
                    e <= 1e-3,
                    "vehicle {a} step {s} n{d}: {} vs {} (rel {e:.2e})",
                    next[a * 6 + d],
                    gold[d]
                );
                worst = worst.max(e);
                worst_dim[d] = worst_dim[d].max(e);
            }
            worst_rew_abs = worst_rew_abs.max((rew[a] as f64 - row["reward"]).abs());
        }
    }
    assert!(
        worst_rew_abs <= 5e-3,
        "reward abs error {worst_rew_abs:.2e}"
    );
    eprintln!(
        "free run: worst relative error {worst:.2e} {worst_dim:?}, reward abs {worst_rew_abs:.2e}"
    );
}

/// Resets follow spec §1.7: check the sample moments of each drawn quantity.
#[test]
fn reset_distribution_moments() {
    let n = 20_000;
    let sim = VecSim::new(PathTracking::default(), n, 7);
    let mut obs = vec![0.0; n * 6];
    sim.observe(&mut obs);
    let col = |d: usize| {
        obs.iter()
            .skip(d)
            .step_by(6)
            .map(|&v| v as f64)
            .collect::<Vec<_>>()
    };
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let std = |v: &[f64]| {
        let m = mean(v);
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
    };
    let (vx, r, dy, dphi, x) = (col(0), col(2), col(3), col(4), col(5));
    assert!(
        vx.iter().all(|&v| (-5.0..=5.0).contains(&v)),
        "v_x − 20 ∈ [−5, 5]"
    );
    assert!(
        x.iter().all(|&v| (0.0..=600.0).contains(&v)),
        "X ∈ [0, 600]"
    );
    assert!((std(&vx) - 10.0 / 12f64.sqrt()).abs() < 0.05);
    assert!((mean(&x) - 300.0).abs() < 5.0);
    assert!(mean(&dy).abs() < 0.03 && (std(&dy) - 1.0).abs() < 0.03);
    assert!((std(&dphi) - std::f64::consts::PI / 9.0).abs() < 0.01);
    assert!((std(&r) - 0.3).abs() < 0.01);
    // v_y = v_x·tan β with β ~ N(0, 0.15²)
    let beta: Vec<f64> = (0..n)
        .map(|i| (obs[i * 6 + 1] as f64 / (obs[i * 6] as f64 + 20.0)).atan())
        .collect();
    assert!((std(&beta) - 0.15).abs() < 0.005);
}

/// Same seed, same states; other seed, other states; results independent of thread count.
#[test]
fn seeded_and_thread_independent() {
    let run = |seed: u64, threads: usize| {
        let mut sim = VecSim::new(PathTracking::default(), 300, seed);
        sim.set_threads(threads);
        let mut obs = vec![0.0; 300 * 6];
        let mut act = vec![0.0; 300 * 2];
        let (mut rew, mut done) = (vec![0.0; 300], vec![false; 300]);
        let mut out = Vec::new();
        for _ in 0..5 {
            sim.observe(&mut obs);
            FixedPolicy::Linear.act(Task::PathTracking, &obs, &mut act);
            sim.step(&act, &mut rew, &mut done).unwrap();
            sim.reset_done();
            out.extend_from_slice(&rew);
        }
        sim.observe(&mut obs);
        out.extend_from_slice(&obs);
        out
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    assert_eq!(run(1, 1), pool.install(|| run(1, 2)));
    assert_eq!(run(1, 1), run(1, 1));
    assert_ne!(run(1, 1), run(2, 1));
}

/// A saved simulator continues exactly like the original (D8).
#[test]
fn save_and_load_resume_exactly() {
    let mut a = make_sim(Task::PathTracking, 100, 3, Termination::Paper);
    let act = vec![0.1f32; 200];
    let (mut rew, mut done) = (vec![0.0; 100], vec![false; 100]);
    a.step(&act, &mut rew, &mut done).unwrap();
    a.reset_done();
    let saved = a.save();
    let mut b = make_sim(Task::PathTracking, 100, 99, Termination::Paper);
    b.load(&saved).unwrap();
    let (mut rb, mut db) = (vec![0.0; 100], vec![false; 100]);
    for _ in 0..3 {
        a.step(&act, &mut rew, &mut done).unwrap();
        b.step(&act, &mut rb, &mut db).unwrap();
        a.reset_done();
        b.reset_done();
        assert_eq!(rew, rb);
    }
    let mut wrong = make_sim(Task::PathTracking, 50, 3, Termination::Paper);
    assert!(wrong.load(&saved).is_err());
}

/// D1 `paper`: every transition reports done; `corrected`: a good controller keeps going until
/// the 200-step limit, while a hard steer fails early.
#[test]
fn termination_paper_and_corrected() {
    let n = 64;
    let mut obs = vec![0.0; n * 6];
    let mut act = vec![0.0; n * 2];
    let (mut rew, mut done) = (vec![0.0; n], vec![false; n]);
    let mut paper = make_sim(Task::PathTracking, n, 5, Termination::Paper);
    paper.observe(&mut obs);
    FixedPolicy::Linear.act(Task::PathTracking, &obs, &mut act);
    paper.step(&act, &mut rew, &mut done).unwrap();
    assert!(done.iter().all(|&d| d), "paper termination: always done");

    let mut corr = make_sim(Task::PathTracking, n, 5, Termination::Corrected);
    let mut first_done = vec![None; n];
    for t in 1..=200 {
        corr.observe(&mut obs);
        FixedPolicy::Linear.act(Task::PathTracking, &obs, &mut act);
        corr.step(&act, &mut rew, &mut done).unwrap();
        for i in 0..n {
            if done[i] && first_done[i].is_none() {
                first_done[i] = Some(t);
            }
        }
    }
    // Many fresh starts of §1.7 already violate the absolute slip and yaw-rate bounds (the
    // sideslip β ~ N(0, 0.15²) alone exceeds |B_r| ≈ 0.176 rad for about a quarter), so they
    // end at once; the agents that get going are held by the controller until the limit.
    let survivors: Vec<_> = first_done.iter().filter(|d| d.unwrap() > 5).collect();
    let at_limit = survivors.iter().filter(|d| ***d == Some(200)).count();
    assert!(survivors.len() >= n / 4, "{first_done:?}");
    assert!(
        at_limit * 10 >= survivors.len() * 9,
        "linear controller survives to 200: {first_done:?}"
    );

    let mut corr = make_sim(Task::PathTracking, n, 5, Termination::Corrected);
    let hard: Vec<f32> = (0..n).flat_map(|_| [1.0f32, 0.0]).collect();
    let mut failed_early = 0;
    for _ in 0..30 {
        corr.step(&hard, &mut rew, &mut done).unwrap();
        if done.iter().all(|&d| d) {
            failed_early += 1;
        }
    }
    assert!(failed_early > 0, "full steering fails within 30 steps");
}

/// Bad input is an error naming what is wrong, not a panic.
#[test]
fn bad_input_is_reported() {
    let mut sim = make_sim(Task::PathTracking, 4, 0, Termination::Paper);
    let (mut rew, mut done) = (vec![0.0; 4], vec![false; 4]);
    let err = sim.step(&[0.0; 7], &mut rew, &mut done).unwrap_err();
    assert!(
        err.to_string()
            .contains("expected 8 values for action, got 7"),
        "{err}"
    );
    let mut act = [0.0f32; 8];
    act[5] = f32::NAN;
    let err = sim.step(&act, &mut rew, &mut done).unwrap_err();
    assert!(
        err.to_string().contains("action of agent 2 is not finite"),
        "{err}"
    );
}

/// Spec §5 anchors (D18: fixed 200-step episodes, done ignored): the linear controller scores
/// about −6 per episode, zero action about −59 000.
#[test]
fn fixed_controllers_score_as_the_spec_says() {
    let score = |policy: FixedPolicy| {
        // The zero-action returns are heavy-tailed (std ≈ 76 000): many episodes for the mean.
        let n = 8192;
        let mut sim = make_sim(Task::PathTracking, n, 11, Termination::Paper);
        let mut obs = vec![0.0; n * 6];
        let mut act = vec![0.0; n * 2];
        let (mut rew, mut done) = (vec![0.0; n], vec![false; n]);
        let mut total = 0.0f64;
        for _ in 0..200 {
            sim.observe(&mut obs);
            policy.act(Task::PathTracking, &obs, &mut act);
            sim.step(&act, &mut rew, &mut done).unwrap();
            total += rew.iter().map(|&r| r as f64).sum::<f64>();
        }
        total / n as f64
    };
    let linear = score(FixedPolicy::Linear);
    let zero = score(FixedPolicy::Zero);
    eprintln!("linear {linear:.3}, zero {zero:.1}");
    assert!(
        (-7.0..=-5.0).contains(&linear),
        "linear controller {linear}"
    );
    assert!(
        (-64_000.0..=-54_000.0).contains(&zero),
        "zero action {zero}"
    );
}
