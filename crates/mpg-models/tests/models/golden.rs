//! One model step from every golden row (golden/README.md), noise = its mean, std 0.

use crate::common::{columns, read_csv, to_vec};
use mpg_envs::{Rng, Task};
use mpg_models::{ModelNoise, make_model};
use rand::SeedableRng;
use tch::Kind;

/// Max relative error |ours − golden| / (|golden| + 1) over next observations and rewards.
fn max_rel_error(task: Task, file: &str, kind: Kind) -> (f64, f64) {
    let spec = task.spec();
    let (header, rows) = read_csv(file);
    let names = |p: &str, n: usize| (0..n).map(|i| format!("{p}{i}")).collect::<Vec<_>>();
    let (o, u, n) = (
        names("o", spec.obs_dim),
        names("u", spec.act_dim),
        names("n", spec.obs_dim),
    );
    let obs = columns(&header, &rows, &o, kind);
    let act = columns(&header, &rows, &u, kind);
    let want_next = to_vec(&columns(&header, &rows, &n, Kind::Double));
    let want_reward = to_vec(&columns(&header, &rows, &["reward"], Kind::Double));
    let model = make_model(task);
    let noise = ModelNoise::default_for(task).mean_only();
    let eps = noise.draw(&mut Rng::seed_from_u64(0), rows.len(), kind);
    let (next, reward) = model.step(&obs, &act, &eps);
    assert_eq!(next.kind(), kind);
    assert_eq!(reward.kind(), kind);
    assert_eq!(next.size(), vec![rows.len() as i64, spec.obs_dim as i64]);
    assert_eq!(reward.size(), vec![rows.len() as i64]);
    let rel = |ours: &[f64], gold: &[f64]| {
        ours.iter()
            .zip(gold)
            .map(|(a, g)| (a - g).abs() / (g.abs() + 1.0))
            .fold(0.0f64, f64::max)
    };
    (
        rel(&to_vec(&next), &want_next),
        rel(&to_vec(&reward), &want_reward),
    )
}

fn check(task: Task, file: &str) {
    // The brief asks for 1e-5; a faithful implementation reaches 9e-7 (README: 1e-6 / 3e-7).
    for (kind, tol) in [(Kind::Float, 2e-6), (Kind::Double, 2e-6)] {
        let (next, reward) = max_rel_error(task, file, kind);
        println!("{task} {kind:?}: max rel error next obs {next:.3e}, reward {reward:.3e}");
        assert!(
            next <= tol && reward <= tol,
            "{task} {kind:?}: {next:e} / {reward:e} > {tol:e}"
        );
    }
}

#[test]
fn path_tracking_one_step_matches_golden() {
    check(Task::PathTracking, "path_tracking_model_golden.csv");
}

#[test]
fn pendulum_one_step_matches_golden() {
    check(Task::InvertedPendulum, "inverted_pendulum_model_golden.csv");
}
