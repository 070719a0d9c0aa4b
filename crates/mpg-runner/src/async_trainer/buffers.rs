//! The Buffer box of Fig. 2 as threads (spec §4): each stores the chunks the actors send into
//! its replay ring ([`crate::buffer::ReplayBuffer`]) and, once every buffer holds
//! `sampling.replay_start`, samples batches into the bounded queue the learners read. When
//! that queue is full the sampled batch waits here (the authors dropped the excess).

use super::{Shared, lock};
use crate::buffer::{ReplayBuffer, Transitions};
use anyhow::{Result, bail};
use mpg_algos::Batch;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct BufferThread {
    pub id: usize,
    /// This thread's slot in the watchdog's table.
    pub index: usize,
    /// Shared with the update thread, which reads it for checkpoints and `env_steps`.
    pub buffer: Arc<Mutex<ReplayBuffer>>,
    pub inbox: Receiver<Transitions>,
    pub batches: SyncSender<Batch>,
    pub batch_size: usize,
    pub replay_start: usize,
    pub shared: Arc<Shared>,
}

/// How long a buffer whose batch could not be queued waits for room (or new transitions).
const RETRY: Duration = Duration::from_millis(5);

impl BufferThread {
    pub fn run(self) -> Result<()> {
        tch::set_num_threads(1);
        let name = format!("buffer-{}", self.id);
        let mut pending: Option<Batch> = None;
        let mut chunks = 0;
        while !self.shared.halted() {
            // Store whatever the actors sent.
            loop {
                match self.inbox.try_recv() {
                    Ok(t) => {
                        self.store(&t);
                        self.shared.test_fault(&name, chunks)?;
                        chunks += 1;
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return self.gone("every actor"),
                }
            }
            if self.shared.all_ready() {
                self.shared.set_doing(self.index, "serving batches");
                let batch = pending
                    .take()
                    .unwrap_or_else(|| lock(&self.buffer).sample(self.batch_size));
                match self.batches.try_send(batch) {
                    Ok(()) => continue,
                    Err(TrySendError::Full(b)) => pending = Some(b),
                    Err(TrySendError::Disconnected(_)) => return self.gone("every learner"),
                }
            } else {
                self.shared.set_doing(self.index, "filling to replay_start");
            }
            // Nothing to do now: wait for transitions, or briefly for room in the batch queue.
            let wait = if pending.is_some() {
                RETRY
            } else {
                super::POLL
            };
            match self.inbox.recv_timeout(wait) {
                Ok(t) => {
                    self.store(&t);
                    self.shared.test_fault(&name, chunks)?;
                    chunks += 1;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return self.gone("every actor"),
            }
        }
        Ok(())
    }

    fn store(&self, t: &Transitions) {
        let mut b = lock(&self.buffer);
        b.push_transitions(t);
        if b.len() >= self.replay_start {
            self.shared.ready[self.id].store(true, Ordering::SeqCst);
        }
    }

    /// The other end of a queue is gone: the end of the run, or a failure elsewhere.
    fn gone(&self, who: &str) -> Result<()> {
        if self.shared.halted() {
            return Ok(());
        }
        bail!("{who} has stopped")
    }
}
