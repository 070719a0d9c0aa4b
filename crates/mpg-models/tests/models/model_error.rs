//! The model-error measurement (`mpg model-error`): known answers with a model as the "true
//! system", unwrapping and angle handling, and runs against the simulators.

use mpg_envs::policy::FixedPolicy;
use mpg_envs::{Rng, Task, Termination, make_sim};
use mpg_models::model_error::{
    Error, MAX_HORIZON, MAX_SAMPLES, ModelErrorConfig, ModelSystem, SimSystem, System, compare,
    model_error, slope_through_origin,
};
use mpg_models::{ModelNoise, make_model};
use rand::SeedableRng;
use std::f64::consts::PI;

const H: usize = 25;

type Policy<'a> = &'a dyn Fn(&[f32], &mut [f32]);

fn fixed(task: Task, p: FixedPolicy) -> impl Fn(&[f32], &mut [f32]) {
    move |o: &[f32], a: &mut [f32]| p.act(task, o, a)
}

/// Reset observations of `n` simulator agents, as f64.
fn reset_obs(task: Task, n: usize, seed: u64) -> Vec<f64> {
    let sim = SimSystem::new(task, n, seed);
    let mut obs = vec![0.0; n * task.spec().obs_dim];
    sim.observe(&mut obs);
    obs
}

fn model_system(task: Task, obs: &[f64], noise: ModelNoise, seed: u64) -> ModelSystem {
    ModelSystem::new(make_model(task), obs, noise, Rng::seed_from_u64(seed))
}

#[test]
fn model_against_itself_has_zero_error() {
    for (task, policy) in [
        (Task::PathTracking, FixedPolicy::Zero),
        (Task::PathTracking, FixedPolicy::Linear),
        (Task::InvertedPendulum, FixedPolicy::Zero),
        (Task::InvertedPendulum, FixedPolicy::Linear),
    ] {
        let obs = reset_obs(task, 100, 3);
        for noise in [ModelNoise::NONE, ModelNoise::default_for(task)] {
            let mut a = model_system(task, &obs, noise, 5);
            let mut b = model_system(task, &obs, noise, 5);
            let rep = compare(&mut a, &mut b, H, &fixed(task, policy)).unwrap();
            assert_eq!(rep.steps.len(), H);
            for (i, s) in rep.steps.iter().enumerate() {
                assert_eq!(s.step, i + 1);
                assert!(s.mean_abs.iter().chain(&s.max_abs).all(|&e| e == 0.0));
                assert_eq!(s.mean_scaled_norm, 0.0);
            }
            assert_eq!(rep.c_m, 0.0, "{task} {policy:?} {noise:?}");
        }
    }
}

/// A per-step bias b on a dimension nothing else depends on gives error i·b at step i,
/// scaled norm i·b·scale and slope b·scale.
#[test]
fn constant_bias_gives_linear_error_and_its_slope() {
    // (task, policy, dimension, b): path X (scale 1/1200), pendulum p (scale 0.001).
    let ignores_p = |o: &[f32], a: &mut [f32]| {
        for (o, a) in o.chunks_exact(4).zip(a.iter_mut()) {
            *a = -(o[1] * 10.0 + o[3]); // ignores p, so the bias does not feed back
        }
    };
    let path_linear = fixed(Task::PathTracking, FixedPolicy::Linear);
    let cases: [(Task, Policy, usize, f64); 3] = [
        (Task::PathTracking, &path_linear, 5, 0.7),
        (Task::InvertedPendulum, &ignores_p, 0, -0.05),
        (
            Task::InvertedPendulum,
            &fixed(Task::InvertedPendulum, FixedPolicy::Zero),
            0,
            0.2,
        ),
    ];
    for (task, policy, dim, b) in cases {
        let scale = task.spec().obs_scale[dim] as f64;
        let obs = reset_obs(task, 64, 11);
        let mut truth = model_system(task, &obs, ModelNoise::NONE, 0).with_drift(dim, b);
        let mut model = model_system(task, &obs, ModelNoise::NONE, 0);
        let rep = compare(&mut truth, &mut model, H, policy).unwrap();
        for s in &rep.steps {
            let i = s.step as f64;
            for d in 0..task.spec().obs_dim {
                let want = if d == dim { i * b.abs() } else { 0.0 };
                assert!(
                    (s.mean_abs[d] - want).abs() < 1e-9,
                    "{task} step {i} dim {d}: {s:?}"
                );
                assert!(
                    (s.max_abs[d] - want).abs() < 1e-9,
                    "{task} step {i} dim {d}: {s:?}"
                );
            }
            assert!((s.mean_scaled_norm - i * b.abs() * scale).abs() < 1e-12);
        }
        assert!(
            (rep.c_m - b.abs() * scale).abs() < 1e-12,
            "{task}: c_m {}",
            rep.c_m
        );
    }
}

/// A 2π shift of an angle is no error (path Δφ, pendulum θ are compared modulo 2π).
#[test]
fn angles_are_compared_modulo_two_pi() {
    for (task, dim) in [(Task::PathTracking, 4), (Task::InvertedPendulum, 1)] {
        let obs = reset_obs(task, 32, 2);
        let mut truth = model_system(task, &obs, ModelNoise::NONE, 0).with_drift(dim, 2.0 * PI);
        let mut model = model_system(task, &obs, ModelNoise::NONE, 0);
        let rep = compare(&mut truth, &mut model, 10, &fixed(task, FixedPolicy::Zero)).unwrap();
        let worst = rep
            .steps
            .iter()
            .flat_map(|s| &s.max_abs)
            .fold(0.0f64, |m, &e| m.max(e));
        assert!(worst < 1e-9, "{task}: {worst}");
    }
}

/// The simulator wraps X at 1200 m, the model does not: compared unwrapped, the error is the
/// model's real error (centimetres per step), not 1200 m.
#[test]
fn path_position_is_compared_unwrapped() {
    let task = Task::PathTracking;
    let obs: Vec<f32> = [0.0, 0.0, 0.0, 0.0, 0.0, 1190.0f32].repeat(4);
    let mut sim = make_sim(task, 4, 0, Termination::Paper);
    sim.set_obs(&obs).unwrap();
    let mut truth = SimSystem::from_sim(sim);
    let obs64: Vec<f64> = obs.iter().map(|&x| x as f64).collect();
    let mut model = model_system(task, &obs64, ModelNoise::NONE, 0);
    let rep = compare(&mut truth, &mut model, H, &fixed(task, FixedPolicy::Linear)).unwrap();
    let mut raw = vec![0.0; 24];
    truth.observe(&mut raw);
    assert!(raw[5] < 100.0, "the simulator did wrap X: {}", raw[5]);
    let worst_x = rep
        .steps
        .iter()
        .map(|s| s.max_abs[5])
        .fold(0.0f64, f64::max);
    assert!(worst_x < 5.0, "{worst_x}");
}

/// Noisy vs noise-free model: the Δy error is the sum of the noise, i·0.5 + N(0, i·0.01²).
#[test]
fn noisy_model_drifts_by_the_noise_mean() {
    let task = Task::PathTracking;
    let obs = reset_obs(task, 256, 4);
    let mut noisy = model_system(task, &obs, ModelNoise::PATH_TRACKING, 9);
    let mut clean = model_system(task, &obs, ModelNoise::NONE, 9);
    let rep = compare(&mut noisy, &mut clean, H, &fixed(task, FixedPolicy::Zero)).unwrap();
    for s in &rep.steps {
        let i = s.step as f64;
        assert!(
            (s.mean_abs[3] - 0.5 * i).abs() < 5.0 * 0.01 * i.sqrt() / 16.0 + 1e-9,
            "{s:?}"
        );
        assert!(s.max_abs[3] > 0.5 * i, "{s:?}");
    }
}

#[test]
fn simulator_vs_model_reports() {
    for task in Task::ALL {
        for policy in [FixedPolicy::Zero, FixedPolicy::Linear] {
            for noise in [ModelNoise::NONE, ModelNoise::default_for(task)] {
                let cfg = ModelErrorConfig {
                    task,
                    horizon: H,
                    samples: 200,
                    seed: 1,
                    noise,
                };
                let rep = model_error(&cfg, &fixed(task, policy)).unwrap();
                println!("{policy:?} policy, noise {noise:?}\n{}", rep.table());
                assert_eq!(rep.steps.len(), H);
                assert_eq!(rep.samples, 200);
                assert!(rep.c_m.is_finite() && rep.c_m > 0.0);
                // The model is not the simulator: error after one step already.
                assert!(rep.steps[0].mean_scaled_norm > 0.0);
                // Same seed, same report (D8).
                assert_eq!(rep, model_error(&cfg, &fixed(task, policy)).unwrap());
            }
        }
    }
}

#[test]
fn bad_inputs_are_errors() {
    let task = Task::PathTracking;
    let p = fixed(task, FixedPolicy::Zero);
    let cfg = |samples, horizon| ModelErrorConfig {
        task,
        horizon,
        samples,
        seed: 0,
        noise: ModelNoise::NONE,
    };
    assert!(matches!(
        model_error(&cfg(0, 5), &p),
        Err(Error::Empty { what: "samples" })
    ));
    assert!(matches!(
        model_error(&cfg(5, 0), &p),
        Err(Error::Empty { what: "horizon" })
    ));
    // Beyond the documented limits: an error, not a capacity-overflow panic or a runaway
    // allocation (issue 23).
    assert!(matches!(
        model_error(&cfg(5, usize::MAX), &p),
        Err(Error::TooLarge {
            what: "horizon",
            ..
        })
    ));
    assert!(matches!(
        model_error(&cfg(MAX_SAMPLES + 1, 5), &p),
        Err(Error::TooLarge {
            what: "samples",
            ..
        })
    ));
    let obs4 = reset_obs(task, 4, 0);
    let mut t = model_system(task, &obs4, ModelNoise::NONE, 0);
    let mut m = model_system(task, &obs4, ModelNoise::NONE, 0);
    assert!(matches!(
        compare(&mut t, &mut m, MAX_HORIZON + 1, &p),
        Err(Error::TooLarge {
            what: "horizon",
            ..
        })
    ));
    let obs = reset_obs(task, 4, 0);
    let mut a = model_system(task, &obs, ModelNoise::NONE, 0);
    let mut b = model_system(
        Task::InvertedPendulum,
        &reset_obs(Task::InvertedPendulum, 4, 0),
        ModelNoise::NONE,
        0,
    );
    assert!(matches!(
        compare(&mut a, &mut b, 3, &p),
        Err(Error::Mismatch { what: "task", .. })
    ));
    let mut c = model_system(task, &obs[..12], ModelNoise::NONE, 0);
    assert!(matches!(
        compare(&mut a, &mut c, 3, &p),
        Err(Error::Mismatch { what: "agents", .. })
    ));
    // A non-finite action reaching the simulator is reported, not stepped.
    let nan = |_: &[f32], a: &mut [f32]| a.fill(f32::NAN);
    assert!(matches!(model_error(&cfg(3, 2), &nan), Err(Error::Sim(_))));
}

#[test]
fn slope_table_and_csv() {
    assert_eq!(slope_through_origin(&[2.0, 4.0, 6.0]), 2.0);
    // Σ i·y / Σ i² for y = (1, 1): 3 / 5.
    assert!((slope_through_origin(&[1.0, 1.0]) - 0.6).abs() < 1e-15);
    let task = Task::InvertedPendulum;
    let obs = reset_obs(task, 8, 0);
    let mut truth = model_system(task, &obs, ModelNoise::NONE, 0).with_drift(0, 1.0);
    let mut model = model_system(task, &obs, ModelNoise::NONE, 0);
    let rep = compare(&mut truth, &mut model, 3, &fixed(task, FixedPolicy::Zero)).unwrap();
    let table = rep.table();
    assert_eq!(table.lines().count(), 2 + 3 + 1, "{table}");
    assert!(table.contains("c_m = 1.0000e-3"), "{table}");
    let mut buf = Vec::new();
    rep.write_csv(&mut buf).unwrap();
    let mut rdr = csv::Reader::from_reader(buf.as_slice());
    let header: Vec<String> = rdr.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(header.len(), 2 + 2 * 4);
    assert_eq!(&header[..3], ["step", "scaled_norm_mean", "mean_abs_o0"]);
    assert_eq!(header.last().unwrap(), "max_abs_o3");
    let rows: Vec<Vec<f64>> = rdr
        .records()
        .map(|r| r.unwrap().iter().map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 3);
    for (k, row) in rows.iter().enumerate() {
        let i = (k + 1) as f64;
        assert_eq!(row[0], i);
        let scale = task.spec().obs_scale[0] as f64;
        assert!((row[1] - i * scale).abs() < 1e-15 && (row[2] - i).abs() < 1e-12);
    }
}
