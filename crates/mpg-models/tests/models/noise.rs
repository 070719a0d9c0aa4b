//! Model noise (spec §1.9, §2.3) drawn from the Rust generator (D8).

use crate::common::to_vec;
use mpg_envs::{Rng, Task};
use mpg_models::ModelNoise;
use rand::{RngCore, SeedableRng};
use tch::Kind;

#[test]
fn defaults_are_the_authors() {
    assert_eq!(
        ModelNoise::default_for(Task::PathTracking),
        ModelNoise {
            mean: 0.5,
            std: 0.01
        }
    );
    assert_eq!(
        ModelNoise::default_for(Task::InvertedPendulum),
        ModelNoise {
            mean: 0.1,
            std: 0.5
        }
    );
    let m = mpg_models::make_model(Task::InvertedPendulum);
    assert_eq!(m.default_noise(), ModelNoise::PENDULUM);
}

#[test]
fn same_generator_state_gives_the_same_draw_whatever_libtorchs_seed() {
    let noise = ModelNoise::PENDULUM;
    let rng = Rng::seed_from_u64(42);
    tch::manual_seed(1);
    let a = noise.draw(&mut rng.clone(), 1000, Kind::Float);
    tch::manual_seed(2);
    let b = noise.draw(&mut rng.clone(), 1000, Kind::Float);
    assert_eq!(a.kind(), Kind::Float);
    assert_eq!(a.size(), vec![1000]);
    assert!(a.equal(&b));
    // Successive draws differ, and a different seed differs.
    let mut r = rng.clone();
    let first = noise.draw(&mut r, 1000, Kind::Float);
    let second = noise.draw(&mut r, 1000, Kind::Float);
    assert!(!first.equal(&second));
    let other = noise.draw(&mut Rng::seed_from_u64(43), 1000, Kind::Float);
    assert!(!a.equal(&other));
}

#[test]
fn moments_match_the_configuration() {
    let n = 200_000;
    for noise in [
        ModelNoise::PATH_TRACKING,
        ModelNoise::PENDULUM,
        ModelNoise {
            mean: -3.0,
            std: 2.0,
        },
    ] {
        let v = to_vec(&noise.draw(&mut Rng::seed_from_u64(5), n, Kind::Double));
        let mean = v.iter().sum::<f64>() / n as f64;
        let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
        // 5 standard errors of the mean, 1 % on the std (its standard error is 0.16 %).
        assert!(
            (mean - noise.mean).abs() < 5.0 * noise.std / (n as f64).sqrt(),
            "{noise:?}: mean {mean}"
        );
        assert!((std / noise.std - 1.0).abs() < 0.01, "{noise:?}: std {std}");
    }
}

#[test]
fn zero_std_gives_exactly_the_mean_and_leaves_the_generator() {
    let mut rng = Rng::seed_from_u64(3);
    let before = rng.clone();
    for (noise, kind) in [
        (ModelNoise::PATH_TRACKING.mean_only(), Kind::Float),
        (ModelNoise::PENDULUM.mean_only(), Kind::Double),
        (ModelNoise::NONE, Kind::Float),
    ] {
        let t = noise.draw(&mut rng, 17, kind);
        assert_eq!(t.kind(), kind);
        let want = (noise.mean as f32) as f64;
        let want = if kind == Kind::Double {
            noise.mean
        } else {
            want
        };
        assert!(to_vec(&t).iter().all(|&x| x == want), "{noise:?}");
    }
    assert_eq!(rng.next_u64(), before.clone().next_u64());
}
