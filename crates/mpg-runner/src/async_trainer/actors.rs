//! The Actor box of Fig. 2 as threads (spec §4): each refreshes its policy from the newest
//! snapshot before every sampling call, collects `sampling.transitions_per_call` transitions
//! with the algorithm's exploration noise ([`crate::actor::Actor`]) and sends them to a buffer
//! drawn uniformly. Once learning has started, a call starts only while the transitions
//! collected stay within `async.sample_ratio` per applied update (D6), so sampling does not
//! take the learners' cores; `"unlimited"` lifts the throttle (the authors' behaviour).

use super::{LocalNets, Shared, lock};
use crate::actor::Actor;
use crate::buffer::Transitions;
use crate::config::SampleRatio;
use anyhow::{Result, bail};
use mpg_envs::Rng;
use rand::Rng as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::SyncSender;

pub struct ActorThread {
    pub id: usize,
    /// This thread's slot in the watchdog's table.
    pub index: usize,
    pub actor: Actor,
    pub nets: LocalNets,
    pub inboxes: Vec<SyncSender<Transitions>>,
    /// Picks the buffer of each chunk.
    pub route: Rng,
    pub per_call: usize,
    pub ratio: SampleRatio,
    pub shared: Arc<Shared>,
}

impl ActorThread {
    pub fn run(mut self) -> Result<()> {
        tch::set_num_threads(1);
        let name = format!("actor-{}", self.id);
        let mut calls = 0;
        while !self.shared.halted() {
            self.shared
                .set_doing(self.index, "throttled (sample_ratio)");
            if !self.may_sample() {
                continue;
            }
            self.shared.set_doing(self.index, "sampling");
            self.nets.refresh(&self.shared);
            let mut chunk = Transitions::default();
            self.actor
                .collect(&self.nets.nets, &mut chunk, self.per_call);
            self.shared
                .sampled
                .fetch_add(chunk.len() as u64, Ordering::SeqCst);
            self.shared.test_fault(&name, calls)?;
            calls += 1;
            let k = self.route.random_range(0..self.inboxes.len());
            self.shared.set_doing(self.index, "sending to a buffer");
            if self.inboxes[k].send(chunk).is_err() {
                if self.shared.halted() {
                    break;
                }
                bail!("buffer-{k} has stopped");
            }
        }
        Ok(())
    }

    /// Whether a sampling call may start now; waits (up to the poll interval) on the update
    /// thread's clock while the throttle holds it back. Before learning starts (every buffer
    /// holding `replay_start`) the actors run freely.
    fn may_sample(&self) -> bool {
        let SampleRatio::PerUpdate(ratio) = self.ratio else {
            return true;
        };
        if !self.shared.all_ready() {
            return true;
        }
        let sh = &self.shared;
        let (s0, i0) = *lock(&sh.throttle_origin)
            .get_or_insert_with(|| (sh.sampled.load(Ordering::SeqCst), *lock(&sh.clock)));
        let allowed = |it: u64| {
            let collected = sh.sampled.load(Ordering::SeqCst).saturating_sub(s0) as f64;
            // One call at the start, then one whenever the updates applied since cover what
            // was collected at `ratio` transitions each.
            collected <= ratio * it.saturating_sub(i0) as f64 + 1e-6
        };
        let clock = lock(&sh.clock);
        if allowed(*clock) {
            return true;
        }
        let (clock, _) = sh
            .tick
            .wait_timeout_while(clock, super::POLL, |it| !allowed(*it) && !sh.halted())
            .unwrap_or_else(|e| e.into_inner());
        allowed(*clock)
    }
}
