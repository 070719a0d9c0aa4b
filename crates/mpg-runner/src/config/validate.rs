//! Range and consistency checks of a typed run config: every violation at once, each starting
//! with its dotted key (resolution finds where the value came from by it).

use super::{EvalReset, RunConfig, SampleRatio, TrainerKind};
use mpg_envs::Task;

impl RunConfig {
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
                && self
                    .sampling
                    .transitions_per_call
                    .is_multiple_of(self.sampling.actor_agents),
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
                && self
                    .log
                    .checkpoint_interval
                    .is_multiple_of(l.batch_reuse.max(1)),
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
}
