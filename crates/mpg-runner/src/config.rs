//! The configuration of a training run: TOML, typed, every key documented, unknown keys
//! rejected with the nearest valid key suggested, all violations listed at once.

use mpg_algos::{Algo, AlgoConfig, Nets};
use mpg_envs::{Rng, Task, Termination};
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::path::Path;

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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AsyncConfig {
    /// Learner threads (default 2; the paper profile uses spec §3.9's counts).
    pub learners: usize,
    /// Actor threads (spec §4: 2).
    pub actors: usize,
    /// Replay buffers, each with its own thread (spec §4: 2).
    pub buffers: usize,
    /// Capacity of the gradient queue (spec §4: 25 path tracking, 20 pendulum).
    pub grad_queue: usize,
    /// Capacity of the queue of replayed batches waiting for learners (spec §4: 128).
    pub batch_queue: usize,
    /// Transitions per applied update (D6: 51.2), or "unlimited".
    pub sample_ratio: SampleRatio,
    /// D11: re-apply the last gradient up to this many times while the queue is empty; 0 = off.
    pub grads_max_reuse: u64,
    /// libtorch intra-op threads per learner.
    pub learner_threads: usize,
    /// End the run with a diagnostic when no iteration completes for this many seconds.
    pub watchdog_s: u64,
}

/// The synchronous trainer; read only when `trainer = "sync"`. The staleness model and the
/// buffers emulate the asynchronous learners in one deterministic thread (D21,
/// crate::staleness).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    /// Compute each gradient on the parameters of this many iterations ago (the first
    /// parameters while fewer have been applied), and apply it to the newest: a deterministic
    /// stand-in for the stale gradients of the asynchronous trainer's learners (spec §4), to
    /// measure what staleness alone does. 0 (the default) is the ordinary synchronous trainer.
    pub staleness: u64,
    /// A staleness histogram: d_k = d with probability counts[d] / Σ counts (D21); empty for
    /// none. Exclusive with `staleness` > 0.
    #[serde(default)]
    pub staleness_counts: Vec<u64>,
    /// A CSV the histogram is read from when the config is resolved and `staleness_counts` is
    /// empty (a `staleness,count` table or a run's `gradients.csv`); afterwards only a record
    /// of where the counts came from. Empty for none.
    #[serde(default)]
    pub staleness_file: String,
    /// Replay buffers, each `sampling.buffer_size`: each sampling call's transitions go to one
    /// drawn uniformly, each batch comes from one drawn uniformly, learning starts when every
    /// buffer holds `sampling.replay_start` (the asynchronous trainer's, spec §4). 1 = plain.
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvConfig {
    /// Path tracking termination (D1): "paper" or "corrected".
    pub termination: Termination,
    /// Pendulum training episode limit (D20), 0 for none.
    pub max_episode_steps: u32,
}

/// Data collection of the synchronous trainer (D6, spec §4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplingConfig {
    /// Agents of the actor's batched simulator (path tracking 8, pendulum 1, spec §4).
    pub actor_agents: usize,
    /// Transitions per sampling call (512, spec §4).
    pub transitions_per_call: usize,
    /// Updates between sampling calls (10: 51.2 transitions per update, D6).
    pub updates_per_call: u64,
    /// Replay capacity (500 000, spec §3.9).
    pub buffer_size: usize,
    /// Transitions stored before learning starts (3 000, spec §3.9).
    pub replay_start: usize,
}

/// Evaluation (spec §5, D7).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalConfig {
    /// Evaluate every this many iterations, at 0 and after the last (3000).
    pub interval: u64,
    /// Episodes per evaluation (5).
    pub episodes: usize,
    /// Episode start rule (D7): "fresh" or "persistent".
    pub reset: EvalReset,
}

/// Logging and checkpoints.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// Iterations per `train.csv` row (interval means).
    pub interval: u64,
    /// Iterations between checkpoints (a multiple of every batch-reuse period).
    pub checkpoint_interval: u64,
}

/// Everything a run is made of; `config.toml` in the run folder is this, resolved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// "mpg-v1", "mpg-v2", "ndpg", "nadp", "td3" or "sac".
    pub algo: Algo,
    /// "path-tracking" or "inverted-pendulum".
    pub task: Task,
    /// The one seed every generator derives from (D8).
    pub seed: u64,
    /// Updates to run (100 000 in the paper).
    pub iterations: u64,
    /// "sync" (the deterministic one-thread trainer) or "async" (Fig. 2 as threads).
    pub trainer: TrainerKind,
    /// libtorch intra-op threads.
    pub threads: usize,
    pub env: EnvConfig,
    pub sampling: SamplingConfig,
    pub eval: EvalConfig,
    pub log: LogConfig,
    /// The asynchronous trainer's threads and queues (spec §4).
    #[serde(rename = "async")]
    pub r#async: AsyncConfig,
    /// The synchronous trainer's options (absent from configs written before it existed).
    #[serde(default)]
    pub sync: SyncConfig,
    /// The learner and optimiser (spec §3, table §3.9).
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

    /// Every violated constraint, each naming its key and the allowed values.
    pub fn violations(&self) -> Vec<String> {
        let mut v = Vec::new();
        let mut need = |ok: bool, msg: String| {
            if !ok {
                v.push(msg)
            }
        };
        let l = &self.learner;
        need(
            self.iterations >= 1,
            "iterations: must be at least 1".into(),
        );
        need(
            (1..=64).contains(&self.threads),
            format!("threads: {} not in 1..=64", self.threads),
        );
        need(
            self.sampling.actor_agents >= 1,
            "sampling.actor_agents: must be at least 1".into(),
        );
        need(
            self.sampling.transitions_per_call >= self.sampling.actor_agents
                && self.sampling.transitions_per_call % self.sampling.actor_agents == 0,
            format!(
                "sampling.transitions_per_call: {} must be a positive multiple of sampling.actor_agents ({})",
                self.sampling.transitions_per_call, self.sampling.actor_agents
            ),
        );
        need(
            self.sampling.updates_per_call >= 1,
            "sampling.updates_per_call: must be at least 1".into(),
        );
        need(
            self.sampling.buffer_size >= self.sampling.replay_start.max(1),
            format!(
                "sampling.buffer_size: {} must be at least sampling.replay_start ({})",
                self.sampling.buffer_size, self.sampling.replay_start
            ),
        );
        need(
            self.eval.interval >= 1,
            "eval.interval: must be at least 1".into(),
        );
        need(
            self.eval.episodes >= 1,
            "eval.episodes: must be at least 1".into(),
        );
        need(
            self.log.interval >= 1,
            "log.interval: must be at least 1".into(),
        );
        need(
            self.log.checkpoint_interval >= 1
                && self.log.checkpoint_interval % l.batch_reuse.max(1) == 0,
            format!(
                "log.checkpoint_interval: {} must be a positive multiple of learner.batch_reuse ({})",
                self.log.checkpoint_interval, l.batch_reuse
            ),
        );
        need(
            self.eval.reset == EvalReset::Fresh || self.task == Task::InvertedPendulum,
            "eval.reset: \"persistent\" is only defined for inverted-pendulum (allowed here: \"fresh\")".into(),
        );
        let a = &self.r#async;
        for (key, n, max) in [
            ("learners", a.learners, 256),
            ("actors", a.actors, 64),
            ("buffers", a.buffers, 64),
            ("grad_queue", a.grad_queue, 100_000),
            ("batch_queue", a.batch_queue, 100_000),
            ("learner_threads", a.learner_threads, 64),
        ] {
            need(
                (1..=max).contains(&n),
                format!("async.{key}: {n} not in 1..={max}"),
            );
        }
        if let SampleRatio::PerUpdate(r) = a.sample_ratio {
            need(
                r.is_finite() && r > 0.0,
                format!(
                    "async.sample_ratio: {r} must be a positive number of transitions per update, or \"unlimited\""
                ),
            );
        }
        need(
            (1..=86_400).contains(&a.watchdog_s),
            format!("async.watchdog_s: {} not in 1..=86400", a.watchdog_s),
        );
        need(
            self.sync.staleness <= 1000,
            format!("sync.staleness: {} not in 0..=1000", self.sync.staleness),
        );
        need(
            self.sync.staleness == 0 || self.trainer == TrainerKind::Sync,
            format!(
                "sync.staleness: {} applies to trainer = \"sync\" only (the asynchronous trainer's staleness comes from its threads); set it to 0",
                self.sync.staleness
            ),
        );
        let counts = &self.sync.staleness_counts;
        need(
            counts.is_empty()
                || (counts.len() <= 1001
                    && counts.iter().any(|&c| c > 0)
                    && counts.iter().all(|&c| c < 1 << 40)),
            format!(
                "sync.staleness_counts: {} entries summing to {}: must be empty or at most 1001 counts (staleness 0..=1000), each below 2^40, not all 0",
                counts.len(),
                counts.iter().fold(0u64, |a, &c| a.saturating_add(c))
            ),
        );
        need(
            counts.is_empty() || self.sync.staleness == 0,
            format!(
                "sync.staleness = {} and sync.staleness_counts: give one staleness model (a constant or a histogram), not both",
                self.sync.staleness
            ),
        );
        need(
            counts.is_empty() || self.trainer == TrainerKind::Sync,
            "sync.staleness_counts applies to trainer = \"sync\" only; leave it empty".into(),
        );
        need(
            (1..=64).contains(&self.sync.buffers),
            format!("sync.buffers: {} not in 1..=64", self.sync.buffers),
        );
        need(
            self.sync.buffers == 1 || self.trainer == TrainerKind::Sync,
            format!(
                "sync.buffers: {} applies to trainer = \"sync\" only (the async trainer has async.buffers); set it to 1",
                self.sync.buffers
            ),
        );
        need(
            l.gamma > 0.0 && l.gamma <= 1.0,
            format!("learner.gamma: {} not in (0, 1]", l.gamma),
        );
        need(
            l.batch_size >= 1,
            "learner.batch_size: must be at least 1".into(),
        );
        need(
            l.tau > 0.0 && l.tau <= 1.0,
            format!("learner.tau: {} not in (0, 1]", l.tau),
        );
        need(
            l.grad_clip > 0.0,
            format!("learner.grad_clip: {} must be positive", l.grad_clip),
        );
        for (k, lr) in [("q_lr", l.q_lr), ("policy_lr", l.policy_lr)] {
            need(
                lr[0] > 0.0 && lr[1] >= 0.0,
                format!("learner.{k}: {lr:?} must be [initial > 0, final ≥ 0]"),
            );
        }
        need(
            l.lr_decay_steps >= 1,
            "learner.lr_decay_steps: must be at least 1".into(),
        );
        need(
            l.delay_update >= 1,
            "learner.delay_update: must be at least 1".into(),
        );
        need(
            l.batch_reuse >= 1,
            "learner.batch_reuse: must be at least 1".into(),
        );
        need(
            l.explore_sigma >= 0.0,
            format!("learner.explore_sigma: {} must be ≥ 0", l.explore_sigma),
        );
        need(
            (1..=1000).contains(&l.horizon),
            format!("learner.horizon: {} not in 1..=1000", l.horizon),
        );
        need(
            l.eta > 0.0 && l.eta <= 1.0,
            format!("learner.eta: {} not in (0, 1]", l.eta),
        );
        need(
            l.weight_total_ite >= 1,
            "learner.weight_total_ite: must be at least 1".into(),
        );
        need(
            l.model_noise[1] >= 0.0,
            format!("learner.model_noise: std {} must be ≥ 0", l.model_noise[1]),
        );
        need(
            l.alpha >= 0.0,
            format!("learner.alpha: {} must be ≥ 0", l.alpha),
        );
        if let Some([lo, hi]) = l.bootstrap_clip {
            need(
                lo <= hi,
                format!("learner.bootstrap_clip: [{lo}, {hi}] must be [low, high] with low ≤ high"),
            );
        }
        if let Some([lo, hi]) = l.log_std_clip {
            need(
                lo <= hi,
                format!("learner.log_std_clip: [{lo}, {hi}] must be [low, high] with low ≤ high"),
            );
        }
        v
    }

    /// Resolve a run's configuration: the defaults of (algo, task) — taken from the file's
    /// `algo`/`task` keys, or the overrides — then the file's values, then `--set key=value`
    /// pairs (dotted keys, TOML values), then validation. Every error names the file, line and
    /// key where it can.
    pub fn resolve(
        file: Option<&Path>,
        algo: Option<Algo>,
        task: Option<Task>,
        seed: Option<u64>,
        iterations: Option<u64>,
        sets: &[String],
    ) -> Result<RunConfig, ConfigError> {
        let (text, name) = match file {
            Some(p) => (
                std::fs::read_to_string(p)
                    .map_err(|e| ConfigError(format!("{}: cannot read: {e}", p.display())))?,
                p.display().to_string(),
            ),
            None => (String::new(), "(defaults)".to_string()),
        };
        let user: toml::Table =
            toml::from_str(&text).map_err(|e| ConfigError(format!("{name}: {e}")))?;
        let pick = |key: &str| user.get(key).and_then(|v| v.as_str()).map(str::to_string);
        // A flag that contradicts the file is refused, naming both.
        let file_algo = pick("algo").map(|f| (f.parse::<Algo>().ok().map(|a| a.name()), f));
        let file_task = pick("task").map(|f| (f.parse::<Task>().ok().map(|t| t.name()), f));
        for (flag, given, key, in_file) in [
            ("--algo", algo.map(|a| a.name()), "algo", file_algo),
            ("--task", task.map(|t| t.name()), "task", file_task),
        ] {
            if let (Some(g), Some((parsed, f))) = (given, in_file)
                && parsed != Some(g)
            {
                return Err(ConfigError(format!(
                    "{flag} {g} contradicts {name}, which says {key} = {f:?}; drop {flag} or change the file"
                )));
            }
        }
        let algo = match (algo, pick("algo")) {
            (Some(a), _) => a,
            (None, Some(s)) => s
                .parse()
                .map_err(|e| ConfigError(format!("{name}: key 'algo': {e}")))?,
            (None, None) => {
                return Err(ConfigError(format!(
                    "{name}: no algorithm: give --algo or the key 'algo'"
                )));
            }
        };
        let task = match (task, pick("task")) {
            (Some(t), _) => t,
            (None, Some(s)) => s
                .parse()
                .map_err(|e| ConfigError(format!("{name}: key 'task': {e}")))?,
            (None, None) => {
                return Err(ConfigError(format!(
                    "{name}: no task: give --task or the key 'task'"
                )));
            }
        };
        let defaults =
            toml::Table::try_from(RunConfig::defaults(algo, task)).expect("defaults serialise");
        let mut merged = defaults.clone();
        let mut errors = Vec::new();
        merge(&mut merged, &user, &defaults, "", &text, &name, &mut errors);
        merged.insert("algo".into(), toml::Value::String(algo.name().into()));
        merged.insert("task".into(), toml::Value::String(task.name().into()));
        if let Some(s) = seed {
            merged.insert("seed".into(), toml::Value::Integer(s as i64));
        }
        if let Some(i) = iterations {
            merged.insert("iterations".into(), toml::Value::Integer(i as i64));
        }
        for set in sets {
            if let Err(e) = apply_set(&mut merged, &defaults, set) {
                errors.push(format!("--set {set}: {e}"));
            }
        }
        if !errors.is_empty() {
            return Err(ConfigError(errors.join("\n")));
        }
        // D17: terminal masking is the default under D1 `corrected`, unless set explicitly.
        let set_explicitly = user
            .get("learner")
            .and_then(|l| l.as_table())
            .is_some_and(|l| l.contains_key("mask_terminal"))
            || sets
                .iter()
                .any(|s| s.trim_start().starts_with("learner.mask_terminal"));
        let corrected = merged
            .get("env")
            .and_then(|e| e.get("termination"))
            .and_then(|t| t.as_str())
            == Some("corrected");
        if corrected && !set_explicitly {
            if let Some(toml::Value::Table(l)) = merged.get_mut("learner") {
                l.insert("mask_terminal".into(), toml::Value::Boolean(true));
            }
        }
        let cfg: RunConfig =
            serde_path_to_error::deserialize(toml::Value::Table(merged)).map_err(|e| {
                let path = e.path().to_string();
                let leaf = path.rsplit('.').next().unwrap_or(&path).to_string();
                let line = line_of(&text, &leaf)
                    .map(|l| format!("line {l}: "))
                    .unwrap_or_default();
                ConfigError(format!(
                    "{name}: {line}key '{path}': {}",
                    e.inner().message()
                ))
            })?;
        let mut cfg = cfg;
        if !cfg.sync.staleness_file.is_empty() && cfg.sync.staleness_counts.is_empty() {
            // D21: the histogram lands in the run's config; the file is read once, here.
            let file = &cfg.sync.staleness_file;
            // Relative to the working directory, else to the checkout this binary was built
            // from (as profiles are found); the key keeps the path as written.
            let mut path = Path::new(file).to_path_buf();
            let built = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../..")
                .join(file);
            if path.is_relative() && !path.exists() && built.exists() {
                path = built;
            }
            cfg.sync.staleness_counts = crate::staleness::read_histogram(&path).map_err(|e| {
                ConfigError(format!("{name}: key 'sync.staleness_file': {file}: {e}"))
            })?;
        }
        let v = cfg.violations();
        if !v.is_empty() {
            // Each value out of range is named where it came from: the --set or flag that gave
            // it, or the file's line; a default value is named by its key alone.
            let lines: Vec<String> = (v.iter())
                .map(|m| {
                    let key = m.split(':').next().unwrap_or("");
                    let leaf = key.rsplit('.').next().unwrap_or(key);
                    let set = sets
                        .iter()
                        .rev()
                        .find(|s| s.split_once('=').is_some_and(|(k, _)| k.trim() == key));
                    if let Some(set) = set {
                        format!("--set {set}: {m}")
                    } else if key == "iterations" && iterations.is_some() {
                        format!("--iterations: {m}")
                    } else if key == "seed" && seed.is_some() {
                        format!("--seed: {m}")
                    } else if table_has(&user, key) {
                        let line = line_of(&text, leaf)
                            .map(|l| format!("line {l}: "))
                            .unwrap_or_default();
                        format!("{name}: {line}{m}")
                    } else {
                        // from the defaults (or another key's change): the key names it
                        m.clone()
                    }
                })
                .collect();
            // One violation a line, each starting with its source (the bench maps a
            // `--set k=v: ` prefix back to its profile entry).
            return Err(ConfigError(format!(
                "invalid values:\n{}",
                lines.join("\n")
            )));
        }
        Ok(cfg)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("config serialises")
    }
}

/// A configuration the user must fix (the CLI exits 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Overlay `user` on `into`, checking keys against `defaults`; optional keys (absent from the
/// defaults because they default to none) are accepted where the typed struct knows them.
fn merge(
    into: &mut toml::Table,
    user: &toml::Table,
    defaults: &toml::Table,
    prefix: &str,
    text: &str,
    file: &str,
    errors: &mut Vec<String>,
) {
    for (k, v) in user {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        let known = defaults.contains_key(k) || OPTIONAL_KEYS.contains(&path.as_str());
        if !known {
            let line = line_of(text, k)
                .map(|l| format!("line {l}: "))
                .unwrap_or_default();
            let section = if prefix.is_empty() {
                String::new()
            } else {
                format!(" in [{prefix}]")
            };
            let candidates: Vec<String> = defaults
                .keys()
                .cloned()
                .chain(optional_in(prefix).map(String::from))
                .collect();
            let hint = nearest(k, candidates.iter().map(String::as_str))
                .map(|n| format!(" (did you mean '{n}'?)"))
                .unwrap_or_default();
            errors.push(format!("{file}: {line}unknown key '{k}'{section}{hint}"));
            continue;
        }
        match (v, defaults.get(k)) {
            (toml::Value::Table(ut), Some(toml::Value::Table(dt))) => {
                if let Some(toml::Value::Table(it)) = into.get_mut(k) {
                    merge(it, ut, dt, &path, text, file, errors);
                }
            }
            _ => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Keys whose default is "none", so they are absent from the serialised defaults.
const OPTIONAL_KEYS: [&str; 2] = ["learner.bootstrap_clip", "learner.log_std_clip"];

fn optional_in(prefix: &str) -> impl Iterator<Item = &'static str> + '_ {
    OPTIONAL_KEYS
        .iter()
        .filter_map(move |k| k.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')))
}

/// `--set a.b=value`: the value parsed as TOML (a bare word is taken as a string).
fn apply_set(merged: &mut toml::Table, defaults: &toml::Table, set: &str) -> Result<(), String> {
    let (key, raw) = set.split_once('=').ok_or("expected key=value")?;
    let key = key.trim();
    let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.trim().to_string()));
    let parts: Vec<&str> = key.split('.').collect();
    let (mut table, mut dtable) = (merged, defaults);
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let known = dtable.contains_key(*part) || (last && OPTIONAL_KEYS.contains(&key));
        if !known {
            let hint = nearest(part, dtable.keys().map(String::as_str))
                .map(|n| format!(" (did you mean '{n}'?)"))
                .unwrap_or_default();
            return Err(format!("unknown key '{key}'{hint}"));
        }
        if last {
            table.insert(part.to_string(), value);
            return Ok(());
        }
        match (table.get_mut(*part), dtable.get(*part)) {
            (Some(toml::Value::Table(t)), Some(toml::Value::Table(d))) => {
                table = t;
                dtable = d;
            }
            _ => return Err(format!("'{part}' is not a section")),
        }
    }
    Ok(())
}

/// Whether the dotted `key` is present in `table`.
fn table_has(table: &toml::Table, key: &str) -> bool {
    let mut t = table;
    let parts: Vec<&str> = key.split('.').collect();
    for (i, p) in parts.iter().enumerate() {
        match t.get(*p) {
            Some(toml::Value::Table(x)) if i + 1 < parts.len() => t = x,
            Some(_) => return i + 1 == parts.len(),
            None => return false,
        }
    }
    false
}

fn line_of(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.strip_prefix(key)
                .is_some_and(|r| r.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
}

/// The candidate closest to `key` by edit distance, if reasonably close.
fn nearest<'a>(key: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (levenshtein(key, c), c))
        .filter(|(d, c)| *d <= 3.max(c.len() / 3))
        .min()
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_key_is_suggested() {
        assert_eq!(
            nearest("gama", ["gamma", "tau", "horizon"].into_iter()),
            Some("gamma")
        );
        assert_eq!(nearest("zzzzzzzz", ["gamma", "tau"].into_iter()), None);
    }

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

/// Documentation of every key, by dotted path. A test checks it against the typed config in
/// both directions, so `mpg config` cannot drift from the code.
pub const KEY_DOCS: &[(&str, &str)] = &[
    ("algo", "algorithm: mpg-v1, mpg-v2, ndpg, nadp, td3, sac"),
    ("task", "task: path-tracking, inverted-pendulum"),
    ("seed", "the one seed every generator derives from (D8)"),
    ("iterations", "updates to run (paper: 100 000)"),
    (
        "trainer",
        "\"sync\": the deterministic one-thread trainer; \"async\": the paper's Fig. 2 as threads (section [async])",
    ),
    (
        "threads",
        "libtorch intra-op threads (async trainer: of the optimizer's update thread)",
    ),
    (
        "env.termination",
        "path tracking termination (D1): \"paper\" (coded bounds: always done) or \"corrected\"",
    ),
    (
        "env.max_episode_steps",
        "pendulum training episode limit (D20), 0 for none",
    ),
    (
        "sampling.actor_agents",
        "agents of the actor's batched simulator (spec §4: 8 path tracking, 1 pendulum)",
    ),
    (
        "sampling.transitions_per_call",
        "transitions per sampling call (spec §4: 512)",
    ),
    (
        "sampling.updates_per_call",
        "sync trainer: updates between sampling calls (D6: 10, i.e. 51.2 transitions per update; the async trainer uses async.sample_ratio)",
    ),
    (
        "sampling.buffer_size",
        "replay capacity (spec §3.9: 500 000)",
    ),
    (
        "sampling.replay_start",
        "transitions stored before learning starts (spec §3.9: 3 000)",
    ),
    (
        "eval.interval",
        "evaluate every this many iterations, at 0 and after the last (D7: 3 000)",
    ),
    ("eval.episodes", "episodes per evaluation (spec §5: 5)"),
    (
        "eval.reset",
        "evaluation episode start (D7): \"fresh\" or \"persistent\" (pendulum only)",
    ),
    (
        "log.interval",
        "iterations per train.csv row (interval means)",
    ),
    (
        "log.checkpoint_interval",
        "iterations between checkpoints (a multiple of learner.batch_reuse)",
    ),
    (
        "async.learners",
        "async trainer: learner threads (paper: spec §3.9's counts, 12 for MPG)",
    ),
    ("async.actors", "async trainer: actor threads (spec §4: 2)"),
    (
        "async.buffers",
        "async trainer: replay buffers, each sampling.buffer_size, learning starts when each holds sampling.replay_start (spec §4: 2)",
    ),
    (
        "async.grad_queue",
        "async trainer: capacity of the gradient queue (spec §4: 25 path tracking, 20 pendulum)",
    ),
    (
        "async.batch_queue",
        "async trainer: replayed batches waiting for learners (spec §4: 128)",
    ),
    (
        "async.sample_ratio",
        "async trainer: transitions the actors may collect per applied update (D6: 51.2), or \"unlimited\" (the authors' uncontrolled ratio)",
    ),
    (
        "async.grads_max_reuse",
        "async trainer: re-apply the last gradient up to this many times while the queue is empty (D11), 0 for off",
    ),
    (
        "async.learner_threads",
        "async trainer: libtorch intra-op threads per learner",
    ),
    (
        "async.watchdog_s",
        "async trainer: end the run with a diagnostic when no iteration completes for this many seconds",
    ),
    (
        "sync.staleness",
        "sync trainer: compute each gradient on the parameters of this many iterations ago (a deterministic stand-in for the async learners' staleness), 0 for none",
    ),
    (
        "sync.staleness_counts",
        "sync trainer: staleness histogram, counts[d] for d = 0, 1, …: each gradient is computed on the parameters and iteration counter of d iterations ago, d drawn from it with the run's seed (D21; the emulated async learners); [] for none",
    ),
    (
        "sync.staleness_file",
        "sync trainer: CSV the staleness histogram is read from when staleness_counts is empty (a staleness,count table such as bench-configs/staleness/authors-12-learners.csv, or a run's gradients.csv, its first 200 iterations left out), relative to the working directory or else to the checkout mpg was built from; \"\" for none",
    ),
    (
        "sync.buffers",
        "sync trainer: replay buffers, each sampling.buffer_size; each sampling call fills one and each batch comes from one, drawn uniformly with the run's seed (the async trainer's buffers, D21); learning starts when each holds sampling.replay_start; 1 = plain",
    ),
    ("learner.gamma", "discount γ (spec §3.1: 0.98)"),
    ("learner.batch_size", "minibatch size (spec §3.9: 256)"),
    (
        "learner.tau",
        "Polyak rate τ of the target networks (spec §3.1: 0.005)",
    ),
    (
        "learner.grad_clip",
        "global-norm gradient clip per network (spec §3.1: 3)",
    ),
    (
        "learner.q_lr",
        "critic learning rate [initial, final], linear decay (spec §3.1, D10)",
    ),
    (
        "learner.policy_lr",
        "policy learning rate [initial, final], linear decay (spec §3.1, D10)",
    ),
    (
        "learner.lr_decay_steps",
        "optimiser applies over which the rates decay (spec §3.1: 100 000)",
    ),
    (
        "learner.delay_update",
        "policy and target updates every this many iterations (spec §3.9)",
    ),
    (
        "learner.batch_reuse",
        "gradient computations per batch and target (spec §3.4: 10 for MPG-v1 and n-step DPG)",
    ),
    (
        "learner.explore_sigma",
        "std of the actors' Gaussian exploration noise, 0 for none (spec §3.9)",
    ),
    (
        "learner.horizon",
        "model rollout / n-step length H (spec §3.2: 25)",
    ),
    ("learner.eta", "η of the weight rule (spec §3.3: 0.1)"),
    (
        "learner.weight_total_ite",
        "T of the weight rule (spec §3.3: 9000 path tracking, 4000 pendulum)",
    ),
    (
        "learner.weight_rule",
        "weight rule form (D16): \"code\" or \"paper\"",
    ),
    (
        "learner.critic",
        "critic in MPG's return terms (D2): \"min\" or \"q1\"",
    ),
    (
        "learner.deriv_interval_policy",
        "full BPTT in MPG's model term (spec §3.2)",
    ),
    (
        "learner.bootstrap_clip",
        "clip [low, high] of the n-step target's bootstrap (spec §3.4: pendulum [-0.5, 0]); absent for none",
    ),
    (
        "learner.model_noise",
        "prior-model noise [mean, std] (spec §1.9: [0.5, 0.01]; §2.3: [0.1, 0.5])",
    ),
    (
        "learner.target_noise",
        "TD3 target smoothing std (spec §3.8: 0.2)",
    ),
    (
        "learner.target_noise_clip",
        "TD3 target smoothing clip (spec §3.8: 0.5)",
    ),
    (
        "learner.alpha",
        "SAC's fixed temperature α (spec §3.8: 0.03)",
    ),
    ("learner.squash", "SAC: tanh-squashed Gaussian (D14)"),
    (
        "learner.log_std_clip",
        "SAC: clip [low, high] of log σ (D14 option, master [-5, 1]); absent for none",
    ),
    (
        "learner.init",
        "network initialisation (D9): \"orthogonal\" or \"glorot\"",
    ),
    (
        "learner.nonfinite_grads",
        "non-finite gradients (D15): \"drop\" or \"zero\"",
    ),
    (
        "learner.mask_terminal",
        "terminal masking of value targets (D17)",
    ),
    (
        "learner.path",
        "gradient computation: \"fast\" (plain-Rust kernels where they exist and are faster) or \"reference\" (libtorch autograd everywhere)",
    ),
];

/// The config as TOML with every key's documentation above it (what `mpg config` prints).
pub fn documented_toml(cfg: &RunConfig) -> String {
    let table = toml::Table::try_from(cfg).expect("config serialises");
    let doc = |path: &str| {
        KEY_DOCS
            .iter()
            .find(|(k, _)| *k == path)
            .map_or("", |(_, d)| d)
    };
    let mut out = format!(
        "# mpg run config: {} on {} (spec §3.9 defaults). Copy, edit, and pass with --config.\n\n",
        cfg.algo, cfg.task
    );
    let emit = |out: &mut String, prefix: &str, t: &toml::Table| {
        for (k, v) in t {
            if v.is_table() {
                continue;
            }
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            out.push_str(&format!("# {}\n{k} = {v}\n", doc(&path)));
        }
        let section_prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}.")
        };
        for key in OPTIONAL_KEYS
            .iter()
            .filter_map(|k| k.strip_prefix(&section_prefix))
        {
            if !key.contains('.') && !t.contains_key(key) && !prefix.is_empty() {
                out.push_str(&format!(
                    "# {}\n# {key} = [low, high]\n",
                    doc(&format!("{prefix}.{key}"))
                ));
            }
        }
    };
    emit(&mut out, "", &table);
    for (k, v) in &table {
        if let toml::Value::Table(t) = v {
            out.push_str(&format!("\n[{k}]\n"));
            emit(&mut out, k, t);
        }
    }
    out
}

#[cfg(test)]
mod doc_tests {
    use super::*;

    fn paths(prefix: &str, t: &toml::Table, out: &mut Vec<String>) {
        for (k, v) in t {
            let p = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::Table(s) => paths(&p, s, out),
                _ => out.push(p),
            }
        }
    }

    /// Every key of the typed config is documented, and every documented key exists.
    #[test]
    fn every_key_is_documented_and_no_doc_is_stale() {
        let mut cfg = RunConfig::defaults(Algo::Sac, Task::InvertedPendulum);
        cfg.learner.bootstrap_clip = Some([0.0, 1.0]);
        cfg.learner.log_std_clip = Some([-5.0, 1.0]);
        let mut keys = Vec::new();
        paths("", &toml::Table::try_from(&cfg).unwrap(), &mut keys);
        for k in &keys {
            assert!(
                KEY_DOCS.iter().any(|(d, _)| d == k),
                "key {k} has no documentation"
            );
        }
        for (d, _) in KEY_DOCS {
            assert!(
                keys.iter().any(|k| k == d),
                "documented key {d} is not in the config"
            );
        }
        let text = documented_toml(&cfg);
        let back: RunConfig = toml::from_str(&text).unwrap();
        assert_eq!(
            back, cfg,
            "the documented TOML parses back to the same config"
        );
    }
}
