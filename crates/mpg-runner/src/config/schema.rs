//! The section structs of the run config and their value types. Each key's documentation is
//! its entry in [`super::keys::KEYS`], the one copy `mpg config` prints.

use mpg_envs::Termination;
use serde::{Deserialize, Serialize};

/// Which trainer runs the five boxes of Fig. 2.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrainerKind {
    /// One thread, deterministic (D8).
    #[default]
    Sync,
    /// The paper's Fig. 2 as threads: actors, buffers, learners, the optimizer's update thread
    /// and the evaluator, with queues between them (spec §4; `[async]` section).
    Async,
}

/// Transitions the actors may collect per applied update in the async trainer (D6).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SampleRatio {
    /// At most this many transitions per update (51.2: the authors' single-process ratio).
    PerUpdate(f64),
    /// No throttle: the authors' asynchronous behaviour, set by wall-clock speeds (spec §4).
    Unlimited,
}

impl Serialize for SampleRatio {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            SampleRatio::PerUpdate(r) => s.serialize_f64(*r),
            SampleRatio::Unlimited => s.serialize_str("unlimited"),
        }
    }
}

impl<'de> Deserialize<'de> for SampleRatio {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = SampleRatio;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("transitions per update (a positive number) or \"unlimited\"")
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<SampleRatio, E> {
                Ok(SampleRatio::PerUpdate(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<SampleRatio, E> {
                Ok(SampleRatio::PerUpdate(v as f64))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<SampleRatio, E> {
                Ok(SampleRatio::PerUpdate(v as f64))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SampleRatio, E> {
                match v {
                    "unlimited" => Ok(SampleRatio::Unlimited),
                    _ => Err(E::custom(format!(
                        "unknown sample ratio '{v}' (allowed: a positive number of transitions per update, or \"unlimited\")"
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// The asynchronous trainer (spec §4, the paper's Fig. 2); read only when `trainer = "async"`.
/// Keys `async.*`; each documented once, in [`KEYS`](super::KEYS).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AsyncConfig {
    pub learners: usize,
    pub actors: usize,
    pub buffers: usize,
    pub grad_queue: usize,
    pub batch_queue: usize,
    pub sample_ratio: SampleRatio,
    pub grads_max_reuse: u64,
    pub learner_threads: usize,
    pub watchdog_s: u64,
}

/// The synchronous trainer; read only when `trainer = "sync"`. The staleness model and the
/// buffers emulate the asynchronous learners in one deterministic thread (D21,
/// crate::staleness).
///
/// `staleness` d uses the first parameters while fewer than d have been applied, and applies
/// each gradient to the newest: what staleness alone does, measured. `staleness_file` is read
/// once, when the config is resolved and `staleness_counts` is empty; afterwards it only
/// records where the counts came from.
///
/// Keys `sync.*`; each documented once, in [`KEYS`](super::KEYS).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    pub staleness: u64,
    #[serde(default)]
    pub staleness_counts: Vec<u64>,
    #[serde(default)]
    pub staleness_file: String,
    #[serde(default = "one")]
    pub buffers: usize,
}

fn one() -> usize {
    1
}

impl Default for SyncConfig {
    fn default() -> SyncConfig {
        SyncConfig {
            staleness: 0,
            staleness_counts: Vec::new(),
            staleness_file: String::new(),
            buffers: 1,
        }
    }
}

/// How evaluation episodes start (decision D7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EvalReset {
    /// Every episode from a fresh reset.
    #[default]
    Fresh,
    /// The authors' pendulum evaluator: one env, reset only after a failure.
    Persistent,
}

/// The simulator (spec §1.8, §2.1; D1, D20).
/// Keys `env.*`; each documented once, in [`KEYS`](super::KEYS).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvConfig {
    pub termination: Termination,
    pub max_episode_steps: u32,
}

/// Data collection of the synchronous trainer (D6, spec §4).
/// Keys `sampling.*`; each documented once, in [`KEYS`](super::KEYS).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplingConfig {
    pub actor_agents: usize,
    pub transitions_per_call: usize,
    pub updates_per_call: u64,
    pub buffer_size: usize,
    pub replay_start: usize,
}

/// Evaluation (spec §5, D7).
/// Keys `eval.*`; each documented once, in [`KEYS`](super::KEYS).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalConfig {
    pub interval: u64,
    pub episodes: usize,
    pub reset: EvalReset,
}

/// Logging and checkpoints.
/// Keys `log.*`; each documented once, in [`KEYS`](super::KEYS).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub interval: u64,
    pub checkpoint_interval: u64,
}
