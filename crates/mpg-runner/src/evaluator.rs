//! The Evaluator box of Fig. 2: deterministic episodes of fixed length, raw rewards summed,
//! `done` ignored inside an episode (spec §5, D7, D18).

use crate::config::EvalReset;
use mpg_algos::Nets;
use mpg_algos::fast::mlp::MlpCache;
use mpg_envs::path_tracking::physical_action;
use mpg_envs::{Sim, Task};
use serde::Serialize;

/// One evaluation: the mean return, each episode's return and the task's tracking metrics.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Evaluation {
    pub mean_return: f64,
    pub returns: Vec<f64>,
    /// Path tracking (spec §5): RMS over the episodes' steps of v_x − 20, Δy, Δφ, steering δ
    /// (rad) and a_x, and the mean reward over steps 20–199. Pendulum: RMS of p, θ, ṗ, θ̇.
    pub metrics: Vec<(&'static str, f64)>,
}

/// Names of the metrics of each task, in `Evaluation::metrics` order.
pub fn metric_names(task: Task) -> &'static [&'static str] {
    match task {
        Task::PathTracking => &[
            "rms_dv",
            "rms_dy",
            "rms_dphi",
            "rms_steer",
            "rms_acc",
            "mean_reward_20_199",
        ],
        Task::InvertedPendulum => &["rms_p", "rms_theta", "rms_pdot", "rms_thetadot"],
    }
}

/// The evaluation simulator with `episodes` agents (fresh resets: all run in parallel) or one
/// agent (persistent pendulum episodes, run in turn).
pub struct Evaluator {
    pub sim: Box<dyn Sim>,
    reset: EvalReset,
    episodes: usize,
}

impl Evaluator {
    pub fn new(sim: Box<dyn Sim>, reset: EvalReset, episodes: usize) -> Evaluator {
        Evaluator {
            sim,
            reset,
            episodes,
        }
    }

    /// Run the evaluation with the policy's deterministic action.
    pub fn evaluate(&mut self, nets: &Nets) -> Evaluation {
        let spec = self.sim.spec();
        let steps = spec.eval_steps;
        let n = self.sim.num_agents();
        let mut cache = MlpCache::default();
        let rounds = if self.reset == EvalReset::Fresh {
            1
        } else {
            self.episodes
        };
        let mut returns = Vec::new();
        let mut sq = vec![0.0f64; metric_names(spec.task).len()];
        let mut late_reward = 0.0;
        let mut count = 0usize;
        let (mut obs, mut rew, mut done) = (
            vec![0.0f32; n * spec.obs_dim],
            vec![0.0f32; n],
            vec![false; n],
        );
        for _ in 0..rounds {
            match self.reset {
                EvalReset::Fresh => self.sim.reset_all(),
                EvalReset::Persistent => self.sim.reset_done(),
            }
            let mut ret = vec![0.0f64; n];
            let mut last_done = vec![false; n];
            for t in 0..steps {
                self.sim.observe(&mut obs);
                let s = mpg_algos::backend::scaled(spec, &obs);
                let act = nets.policy.act(&s, &mut cache);
                for i in 0..n {
                    let o = &obs[i * spec.obs_dim..(i + 1) * spec.obs_dim];
                    match spec.task {
                        Task::PathTracking => {
                            let (steer, acc) = physical_action(act[2 * i], act[2 * i + 1]);
                            for (k, v) in [o[0] as f64, o[3] as f64, o[4] as f64, steer, acc]
                                .iter()
                                .enumerate()
                            {
                                sq[k] += v * v;
                            }
                        }
                        Task::InvertedPendulum => {
                            for k in 0..4 {
                                sq[k] += (o[k] as f64).powi(2);
                            }
                        }
                    }
                }
                count += n;
                self.sim.step_unchecked(&act, &mut rew, &mut done);
                for i in 0..n {
                    ret[i] += rew[i] as f64;
                    if t >= 20 {
                        late_reward += rew[i] as f64;
                    }
                }
                last_done.copy_from_slice(&done);
            }
            returns.extend(ret);
        }
        let mut metrics: Vec<(&'static str, f64)> = Vec::new();
        let names = metric_names(spec.task);
        for (k, name) in names.iter().enumerate() {
            if *name == "mean_reward_20_199" {
                metrics.push((
                    name,
                    late_reward / (returns.len() * steps.saturating_sub(20)).max(1) as f64,
                ));
            } else {
                metrics.push((name, (sq[k] / count as f64).sqrt()));
            }
        }
        Evaluation {
            mean_return: returns.iter().sum::<f64>() / returns.len() as f64,
            returns,
            metrics,
        }
    }
}
