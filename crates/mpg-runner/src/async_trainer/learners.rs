//! The Learner box of Fig. 2 as threads (spec §4): before each gradient a learner takes the
//! newest parameter snapshot, computes the gradient with the learner interface
//! ([`mpg_algos::Learner`], MPG-v1's simulator rollouts and batch reuse included) on a queued
//! batch, and sends it with the snapshot's version, from which the update thread measures its
//! staleness. The policy gradient is computed every time, as the authors' learners do: whether
//! the delayed update applies it depends on the iteration it will be applied as, unknown here.

use super::{GradMsg, LocalNets, Shared, lock, recv_poll};
use crate::log::thread_cpu_ms;
use anyhow::{Result, bail};
use mpg_algos::{Batch, Learner};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub struct LearnerThread {
    pub id: usize,
    /// This thread's slot in the watchdog's table.
    pub index: usize,
    pub learner: Learner,
    pub nets: LocalNets,
    /// The queue of replayed batches, shared by all learners.
    pub batches: Arc<Mutex<Receiver<Batch>>>,
    pub grads: SyncSender<GradMsg>,
    /// libtorch intra-op threads of this learner.
    pub threads: usize,
    pub shared: Arc<Shared>,
}

impl LearnerThread {
    pub fn run(mut self) -> Result<()> {
        tch::set_num_threads(self.threads as i32);
        let name = format!("learner-{}", self.id);
        let reuse = self.learner.cfg.batch_reuse.max(1);
        let mut batch: Option<Batch> = None;
        let mut computed = 0;
        while !self.shared.halted() {
            // A new batch only when the learner will use it (spec §3.4: batch reuse).
            let t0 = Instant::now();
            if batch.is_none() || self.learner.calls().is_multiple_of(reuse) {
                self.shared.set_doing(self.index, "waiting for a batch");
                let got = recv_poll(&lock(&self.batches));
                match got {
                    Ok(Some(b)) => batch = Some(b),
                    Ok(None) => continue,
                    Err(_) if self.shared.halted() => break,
                    Err(_) => bail!("every buffer has stopped"),
                }
            }
            let batch_wait_ms = t0.elapsed().as_secs_f64() * 1e3;
            self.shared.set_doing(self.index, "computing a gradient");
            let version = self.nets.refresh(&self.shared);
            let b = batch.as_ref().expect("a batch");
            let cpu0 = thread_cpu_ms();
            let grads = self.learner.compute(&self.nets.nets, b, version, true);
            let cpu_ms = thread_cpu_ms().zip(cpu0).map(|(b, a)| b - a);
            self.shared.test_fault(&name, computed)?;
            computed += 1;
            self.shared
                .set_doing(self.index, "sending a gradient (queue full)");
            let msg = GradMsg {
                learner: self.id,
                grads,
                batch_wait_ms,
                cpu_ms,
            };
            if self.grads.send(msg).is_err() {
                if self.shared.halted() {
                    break;
                }
                bail!("the optimizer has stopped");
            }
        }
        Ok(())
    }
}
