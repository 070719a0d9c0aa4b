//! The key table: every key of the run config once, with its documentation; `mpg config`'s
//! commented TOML and the optional keys (absent from the defaults) derive from it.

use super::RunConfig;

/// One key of the run config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    /// Dotted path: `section.key`, or `key` at the top level.
    pub path: &'static str,
    /// What `mpg config` prints above the key: its meaning, allowed values and the spec's
    /// value with its section or decision.
    pub doc: &'static str,
    /// Defaults to none, so absent from the serialised defaults: accepted by `--set` and the
    /// file all the same, and shown commented out (`# key = [low, high]`) by `mpg config`.
    pub optional: bool,
}

impl Key {
    const fn new(path: &'static str, doc: &'static str) -> Key {
        Key {
            path,
            doc,
            optional: false,
        }
    }

    const fn optional(path: &'static str, doc: &'static str) -> Key {
        Key {
            path,
            doc,
            optional: true,
        }
    }
}

/// Every key of the run config, by dotted path: the one copy of each key's documentation (the
/// struct fields in `schema.rs` and `mpg_algos::AlgoConfig` carry none of it for the user). A
/// test checks it against the typed config in both directions, so `mpg config` cannot drift
/// from the code.
pub const KEYS: &[Key] = &[
    Key::new("algo", "algorithm: mpg-v1, mpg-v2, ndpg, nadp, td3, sac"),
    Key::new("task", "task: path-tracking, inverted-pendulum"),
    Key::new("seed", "the one seed every generator derives from (D8)"),
    Key::new("iterations", "updates to run (paper: 100 000)"),
    Key::new(
        "trainer",
        "\"sync\": the deterministic one-thread trainer; \"async\": the paper's Fig. 2 as threads (section [async])",
    ),
    Key::new(
        "threads",
        "libtorch intra-op threads (async trainer: of the optimizer's update thread)",
    ),
    Key::new(
        "env.termination",
        "path tracking termination (D1): \"paper\" (coded bounds: always done) or \"corrected\"",
    ),
    Key::new(
        "env.max_episode_steps",
        "pendulum training episode limit (D20), 0 for none",
    ),
    Key::new(
        "sampling.actor_agents",
        "agents of the actor's batched simulator (spec §4: 8 path tracking, 1 pendulum)",
    ),
    Key::new(
        "sampling.transitions_per_call",
        "transitions per sampling call (spec §4: 512)",
    ),
    Key::new(
        "sampling.updates_per_call",
        "sync trainer: updates between sampling calls (D6: 10, i.e. 51.2 transitions per update; the async trainer uses async.sample_ratio)",
    ),
    Key::new(
        "sampling.buffer_size",
        "replay capacity (spec §3.9: 500 000)",
    ),
    Key::new(
        "sampling.replay_start",
        "transitions stored before learning starts (spec §3.9: 3 000)",
    ),
    Key::new(
        "eval.interval",
        "evaluate every this many iterations, at 0 and after the last (D7: 3 000)",
    ),
    Key::new("eval.episodes", "episodes per evaluation (spec §5: 5)"),
    Key::new(
        "eval.reset",
        "evaluation episode start (D7): \"fresh\" or \"persistent\" (pendulum only)",
    ),
    Key::new(
        "log.interval",
        "iterations per train.csv row (interval means)",
    ),
    Key::new(
        "log.checkpoint_interval",
        "iterations between checkpoints (a multiple of learner.batch_reuse)",
    ),
    Key::new(
        "async.learners",
        "async trainer: learner threads (paper: spec §3.9's counts, 12 for MPG)",
    ),
    Key::new("async.actors", "async trainer: actor threads (spec §4: 2)"),
    Key::new(
        "async.buffers",
        "async trainer: replay buffers, each sampling.buffer_size, learning starts when each holds sampling.replay_start (spec §4: 2)",
    ),
    Key::new(
        "async.grad_queue",
        "async trainer: capacity of the gradient queue (spec §4: 25 path tracking, 20 pendulum)",
    ),
    Key::new(
        "async.batch_queue",
        "async trainer: replayed batches waiting for learners (spec §4: 128)",
    ),
    Key::new(
        "async.sample_ratio",
        "async trainer: transitions the actors may collect per applied update (D6: 51.2), or \"unlimited\" (the authors' uncontrolled ratio)",
    ),
    Key::new(
        "async.grads_max_reuse",
        "async trainer: re-apply the last gradient up to this many times while the queue is empty (D11), 0 for off",
    ),
    Key::new(
        "async.learner_threads",
        "async trainer: libtorch intra-op threads per learner",
    ),
    Key::new(
        "async.watchdog_s",
        "async trainer: end the run with a diagnostic when no iteration completes for this many seconds",
    ),
    Key::new(
        "sync.staleness",
        "sync trainer: compute each gradient on the parameters of this many iterations ago (a deterministic stand-in for the async learners' staleness), 0 for none",
    ),
    Key::new(
        "sync.staleness_counts",
        "sync trainer: staleness histogram, counts[d] for d = 0, 1, …: each gradient is computed on the parameters and iteration counter of d iterations ago, d drawn from it with the run's seed (D21; the emulated async learners); [] for none",
    ),
    Key::new(
        "sync.staleness_file",
        "sync trainer: CSV the staleness histogram is read from when staleness_counts is empty (a staleness,count table such as bench-configs/staleness/authors-12-learners.csv, or a run's gradients.csv, its first 200 iterations left out), relative to the working directory or else to the checkout mpg was built from; \"\" for none",
    ),
    Key::new(
        "sync.buffers",
        "sync trainer: replay buffers, each sampling.buffer_size; each sampling call fills one and each batch comes from one, drawn uniformly with the run's seed (the async trainer's buffers, D21); learning starts when each holds sampling.replay_start; 1 = plain",
    ),
    Key::new("learner.gamma", "discount γ (spec §3.1: 0.98)"),
    Key::new("learner.batch_size", "minibatch size (spec §3.9: 256)"),
    Key::new(
        "learner.tau",
        "Polyak rate τ of the target networks (spec §3.1: 0.005)",
    ),
    Key::new(
        "learner.grad_clip",
        "global-norm gradient clip per network (spec §3.1: 3)",
    ),
    Key::new(
        "learner.q_lr",
        "critic learning rate [initial, final], linear decay (spec §3.1, D10)",
    ),
    Key::new(
        "learner.policy_lr",
        "policy learning rate [initial, final], linear decay (spec §3.1, D10)",
    ),
    Key::new(
        "learner.lr_decay_steps",
        "optimiser applies over which the rates decay (spec §3.1: 100 000)",
    ),
    Key::new(
        "learner.delay_update",
        "policy and target updates every this many iterations (spec §3.9)",
    ),
    Key::new(
        "learner.batch_reuse",
        "gradient computations per batch and target (spec §3.4: 10 for MPG-v1 and n-step DPG)",
    ),
    Key::new(
        "learner.explore_sigma",
        "std of the actors' Gaussian exploration noise, 0 for none (spec §3.9)",
    ),
    Key::new(
        "learner.horizon",
        "model rollout / n-step length H (spec §3.2: 25)",
    ),
    Key::new("learner.eta", "η of the weight rule (spec §3.3: 0.1)"),
    Key::new(
        "learner.weight_total_ite",
        "T of the weight rule (spec §3.3: 9000 path tracking, 4000 pendulum)",
    ),
    Key::new(
        "learner.weight_rule",
        "weight rule form (D16): \"code\" or \"paper\"",
    ),
    Key::new(
        "learner.critic",
        "critic in MPG's return terms (D2): \"min\" or \"q1\"",
    ),
    Key::new(
        "learner.deriv_interval_policy",
        "full BPTT in MPG's model term (spec §3.2)",
    ),
    Key::optional(
        "learner.bootstrap_clip",
        "clip [low, high] of the n-step target's bootstrap (spec §3.4: pendulum [-0.5, 0]); absent for none",
    ),
    Key::new(
        "learner.model_noise",
        "prior-model noise [mean, std] (spec §1.9: [0.5, 0.01]; §2.3: [0.1, 0.5])",
    ),
    Key::new(
        "learner.target_noise",
        "TD3 target smoothing std (spec §3.8: 0.2)",
    ),
    Key::new(
        "learner.target_noise_clip",
        "TD3 target smoothing clip (spec §3.8: 0.5)",
    ),
    Key::new(
        "learner.alpha",
        "SAC's fixed temperature α (spec §3.8: 0.03)",
    ),
    Key::new("learner.squash", "SAC: tanh-squashed Gaussian (D14)"),
    Key::optional(
        "learner.log_std_clip",
        "SAC: clip [low, high] of log σ (D14 option, master [-5, 1]); absent for none",
    ),
    Key::new(
        "learner.init",
        "network initialisation (D9): \"orthogonal\" or \"glorot\"",
    ),
    Key::new(
        "learner.nonfinite_grads",
        "non-finite gradients (D15): \"drop\" or \"zero\"",
    ),
    Key::new(
        "learner.mask_terminal",
        "terminal masking of value targets (D17)",
    ),
    Key::new(
        "learner.path",
        "gradient computation: \"fast\" (plain-Rust kernels where they exist and are faster) or \"reference\" (libtorch autograd everywhere)",
    ),
];

/// Whether the dotted `path` is an optional key (absent from the defaults).
pub(super) fn is_optional(path: &str) -> bool {
    KEYS.iter().any(|k| k.optional && k.path == path)
}

/// The optional keys of section `prefix`, by their name in the section.
pub(super) fn optional_in(prefix: &str) -> impl Iterator<Item = &'static str> + '_ {
    KEYS.iter().filter(|k| k.optional).filter_map(move |k| {
        k.path
            .strip_prefix(prefix)
            .and_then(|r| r.strip_prefix('.'))
    })
}

/// The config as TOML with every key's documentation above it (what `mpg config` prints).
pub fn documented_toml(cfg: &RunConfig) -> String {
    let table = toml::Table::try_from(cfg).expect("config serialises");
    let doc = |path: &str| KEYS.iter().find(|k| k.path == path).map_or("", |k| k.doc);
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
        for key in optional_in(prefix) {
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
mod tests {
    use super::*;
    use mpg_algos::Algo;
    use mpg_envs::Task;

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
                KEYS.iter().any(|d| d.path == k),
                "key {k} has no documentation"
            );
        }
        for d in KEYS {
            assert!(
                keys.iter().any(|k| k == d.path),
                "documented key {} is not in the config",
                d.path
            );
        }
        let text = documented_toml(&cfg);
        let back: RunConfig = toml::from_str(&text).unwrap();
        assert_eq!(
            back, cfg,
            "the documented TOML parses back to the same config"
        );
    }

    /// The table's `optional` flag is right: every other key is in every default config, and
    /// each optional key is absent from at least one (it defaults to none there).
    #[test]
    fn optional_keys_are_exactly_those_absent_from_some_defaults() {
        let mut absent_somewhere = Vec::new();
        for algo in Algo::ALL {
            for task in Task::ALL {
                let mut keys = Vec::new();
                let cfg = RunConfig::defaults(algo, task);
                paths("", &toml::Table::try_from(&cfg).unwrap(), &mut keys);
                for k in KEYS {
                    let present = keys.iter().any(|p| p == k.path);
                    assert!(
                        present || k.optional,
                        "{algo} {task}: key {} is absent from the defaults but not optional",
                        k.path
                    );
                    if !present {
                        absent_somewhere.push(k.path);
                    }
                }
            }
        }
        for k in KEYS.iter().filter(|k| k.optional) {
            assert!(
                absent_somewhere.contains(&k.path),
                "key {} is marked optional but present in every default config",
                k.path
            );
        }
    }
}
