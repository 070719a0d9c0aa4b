//! The configuration of a training run: TOML, typed, every key documented, unknown keys
//! rejected with the nearest valid key suggested, all violations listed at once.
//!
//! One module per concern: [`schema`]'s section structs, the key table with each key's
//! documentation ([`keys`], what `mpg config` prints), the range checks (`validate`), and the
//! layered resolution with the source of every error (`resolve`). `RunConfig` and its
//! defaults are here.

use mpg_algos::{Algo, AlgoConfig, Nets};
use mpg_envs::{Rng, Task, Termination};
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

pub mod keys;
mod resolve;
pub mod schema;
mod validate;

pub use keys::{KEYS, Key, documented_toml};
pub use schema::*;

/// Everything a run is made of; `config.toml` in the run folder is this, resolved. Each key is
/// documented once, in [`KEYS`]; `sync` is absent from configs written before it existed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    pub algo: Algo,
    pub task: Task,
    pub seed: u64,
    pub iterations: u64,
    pub trainer: TrainerKind,
    pub threads: usize,
    // The sections; `learner` is `mpg_algos::AlgoConfig` (spec §3, table §3.9).
    pub env: EnvConfig,
    pub sampling: SamplingConfig,
    pub eval: EvalConfig,
    pub log: LogConfig,
    #[serde(rename = "async")]
    pub r#async: AsyncConfig,
    #[serde(default)]
    pub sync: SyncConfig,
    pub learner: AlgoConfig,
}

impl RunConfig {
    /// The spec's defaults for `algo` on `task` (spec §3.9, §4, §5; decisions D1–D20).
    pub fn defaults(algo: Algo, task: Task) -> RunConfig {
        RunConfig {
            algo,
            task,
            seed: 0,
            iterations: 100_000,
            trainer: TrainerKind::Sync,
            threads: 1,
            env: EnvConfig {
                termination: Termination::Paper,
                max_episode_steps: 1000,
            },
            sampling: SamplingConfig {
                actor_agents: if task == Task::PathTracking { 8 } else { 1 },
                transitions_per_call: 512,
                updates_per_call: 10,
                buffer_size: 500_000,
                replay_start: 3000,
            },
            eval: EvalConfig {
                interval: 3000,
                episodes: 5,
                reset: EvalReset::Fresh,
            },
            log: LogConfig {
                interval: 100,
                checkpoint_interval: 3000,
            },
            r#async: AsyncConfig {
                learners: 2,
                actors: 2,
                buffers: 2,
                grad_queue: if task == Task::PathTracking { 25 } else { 20 },
                batch_queue: 128,
                sample_ratio: SampleRatio::PerUpdate(51.2),
                grads_max_reuse: 0,
                learner_threads: 1,
                watchdog_s: 300,
            },
            sync: SyncConfig::default(),
            learner: AlgoConfig::defaults(algo, task),
        }
    }

    /// Networks of this run's algorithm, task, init and squashing, for values loaded later
    /// (snapshots, checkpoints): the fixed generator only shapes them.
    pub fn shaped_nets(&self) -> Nets {
        Nets::new(
            self.algo,
            self.task,
            self.learner.init,
            self.learner.squash,
            &mut Rng::seed_from_u64(0),
        )
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("config serialises")
    }
}

/// A configuration the user must fix (the CLI exits 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_through_toml() {
        for algo in Algo::ALL {
            for task in Task::ALL {
                let cfg = RunConfig::defaults(algo, task);
                let back: RunConfig = toml::from_str(&cfg.to_toml()).unwrap();
                assert_eq!(back, cfg);
                assert!(
                    cfg.violations().is_empty(),
                    "{algo} {task}: {:?}",
                    cfg.violations()
                );
            }
        }
    }
}
