//! The Optimizer box of Fig. 2 as the update thread (spec §4): it owns the master networks and
//! every Adam, takes gradients from the bounded queue and applies them — one iteration each —
//! and, between applications, asks for evaluations, writes the CSVs and takes checkpoints.

use super::{EvalDone, EvalRequest, Event, GradMsg, POLL, Shared, Snapshot, lock, recv_poll};
use crate::buffer::ReplayBuffer;
use crate::config::RunConfig;
use crate::evaluator::Evaluation;
use crate::log::thread_cpu_ms;
use crate::recorder::{CheckpointState, Recorder};
use crate::trainer::{Outcome, train_sim};
use anyhow::{Result, bail};
use mpg_envs::{Rng, SimState};
use rand::SeedableRng;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The update thread's ends of the queues.
pub struct Channels {
    pub grads: Receiver<GradMsg>,
    pub eval: Sender<EvalRequest>,
    pub eval_done: Receiver<EvalDone>,
    pub events: Sender<Event>,
}

const ME: usize = 0;

pub struct UpdateThread {
    cfg: RunConfig,
    /// The run folder's writer (CSVs, checkpoints, the counters and clock they carry).
    rec: Recorder,
    opt: mpg_algos::Optimizer,
    buffers: Vec<Arc<Mutex<ReplayBuffer>>>,
    ch: Channels,
    stop: Arc<AtomicBool>,
    shared: Arc<Shared>,
    iteration: u64,
    /// Evaluations asked for and not yet back, oldest first.
    in_flight: VecDeque<u64>,
    requested_through: Option<u64>,
    checkpointed_at: u64,
    last_eval: Option<Evaluation>,
    eval_sim: SimState,
    /// D11: the last gradient and how often it has been re-applied in a row.
    last: Option<GradMsg>,
    reused: u64,
    /// Gradients applied by this thread (the test hook's count).
    applied: u64,
    /// When the update thread began waiting for the next gradient.
    waiting_since: Option<Instant>,
}

impl UpdateThread {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cfg: RunConfig,
        rec: Recorder,
        opt: mpg_algos::Optimizer,
        buffers: Vec<Arc<Mutex<ReplayBuffer>>>,
        resumed_at: u64,
        ch: Channels,
        stop: Arc<AtomicBool>,
        shared: Arc<Shared>,
        eval_sim: SimState,
    ) -> UpdateThread {
        UpdateThread {
            iteration: resumed_at,
            requested_through: rec.evaluated_through,
            checkpointed_at: resumed_at,
            in_flight: VecDeque::new(),
            last_eval: None,
            eval_sim,
            last: None,
            reused: 0,
            applied: 0,
            waiting_since: None,
            cfg,
            rec,
            opt,
            buffers,
            ch,
            stop,
            shared,
        }
    }

    fn wall_s(&self) -> f64 {
        self.rec.wall_s()
    }

    /// Transitions stored in every buffer so far (`env_steps`).
    fn env_steps(&self) -> u64 {
        self.buffers.iter().map(|b| lock(b).added).sum()
    }

    pub fn run(mut self) -> Result<Outcome> {
        tch::set_num_threads(self.cfg.threads as i32);
        let out = self.train();
        // Halt the others before this thread's queue ends are dropped, so that they read the
        // closed queues as the end of the run, not as a failure.
        self.shared.halt();
        out
    }

    fn train(&mut self) -> Result<Outcome> {
        let total = self.cfg.iterations;
        let first = self.iteration;
        let t_rate = Instant::now();
        while self.iteration < total {
            self.collect_evaluations()?;
            let it = self.iteration;
            if it.is_multiple_of(self.cfg.eval.interval)
                && self.requested_through.is_none_or(|e| e < it)
            {
                self.request_evaluation()?;
            }
            if it.is_multiple_of(self.cfg.log.checkpoint_interval) && it > self.checkpointed_at {
                self.checkpoint()?;
            }
            if self.stop.load(Ordering::SeqCst) {
                self.checkpoint()?;
                return Ok(Outcome::Interrupted { iteration: it });
            }
            if self.shared.halted() {
                bail!("halted by another thread");
            }
            self.shared.set_doing(ME, "waiting for a gradient");
            // The wait for this iteration's gradient, across the receive timeouts.
            let t0 = *self.waiting_since.get_or_insert_with(Instant::now);
            let Some(reapply) = self.next_gradient()? else {
                continue;
            };
            self.waiting_since = None;
            let wait_ms = t0.elapsed().as_secs_f64() * 1e3;
            self.shared.set_doing(ME, "applying a gradient");
            self.apply(reapply, wait_ms)?;
            let rate = (self.iteration - first) as f64 / t_rate.elapsed().as_secs_f64().max(1e-9);
            let _ = self.ch.events.send(Event::Iteration {
                done: self.iteration,
                rate,
            });
        }
        if self.requested_through.is_none_or(|e| e < total) {
            self.request_evaluation()?;
        }
        self.wait_for_evaluations(u64::MAX)?;
        self.checkpoint()?;
        Ok(Outcome::Finished {
            last: self.last_eval.take(),
        })
    }

    /// The next gradient, `Some(false)` when one came from the queue, `Some(true)` to
    /// re-apply the last one (D11: only while the queue is empty, at most
    /// `async.grads_max_reuse` times in a row), `None` after a timeout.
    fn next_gradient(&mut self) -> Result<Option<bool>> {
        let fresh = |this: &mut Self, msg: GradMsg| {
            this.last = Some(msg);
            this.reused = 0;
            Ok(Some(false))
        };
        if self.cfg.r#async.grads_max_reuse > 0 && self.last.is_some() {
            match self.ch.grads.try_recv() {
                Ok(msg) => return fresh(self, msg),
                Err(TryRecvError::Empty) if self.reused < self.cfg.r#async.grads_max_reuse => {
                    self.reused += 1;
                    return Ok(Some(true));
                }
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => bail!("every learner has stopped"),
            }
        }
        match recv_poll(&self.ch.grads) {
            Ok(Some(msg)) => fresh(self, msg),
            Ok(None) => Ok(None),
            Err(_) => bail!("every learner has stopped"),
        }
    }

    /// Apply the last gradient as iteration `self.iteration`, publish the new parameters and log.
    fn apply(&mut self, reapplied: bool, wait_ms: f64) -> Result<()> {
        self.shared.test_fault("optimizer", self.applied)?;
        self.applied += 1;
        let msg = self.last.as_ref().expect("a gradient to apply");
        let t0 = Instant::now();
        let cpu0 = thread_cpu_ms();
        let applied = self.opt.apply(&msg.grads).map_err(anyhow::Error::new)?;
        self.iteration = self.opt.iteration;
        self.shared
            .publish(Snapshot::take(&self.opt.nets, self.iteration));
        let apply_ms = t0.elapsed().as_secs_f64() * 1e3;
        let apply_cpu = thread_cpu_ms().zip(cpu0).map(|(b, a)| b - a);
        let interval = &mut self.rec.interval;
        interval.add_cpu(if reapplied { None } else { msg.cpu_ms }, apply_cpu);
        let stats = (!reapplied).then_some(&msg.grads.stats);
        interval.add(stats, &applied, apply_ms);
        interval.add_waits(
            if reapplied { 0.0 } else { wait_ms },
            if reapplied { 0.0 } else { msg.batch_wait_ms },
        );
        self.rec
            .gradient(msg.learner, msg.grads.stats.version, stats, &applied);
        if self.iteration.is_multiple_of(self.cfg.log.interval) {
            let steps = self.env_steps();
            let has_q2 = self.opt.nets.q2.is_some();
            self.rec.train_row(self.iteration, steps, has_q2)?;
        }
        Ok(())
    }

    /// Ask the evaluator to evaluate the current parameters (training goes on meanwhile).
    fn request_evaluation(&mut self) -> Result<()> {
        let req = EvalRequest {
            snapshot: self.shared.latest(),
            wall_s: self.wall_s(),
            env_steps: self.env_steps(),
        };
        debug_assert_eq!(req.snapshot.version, self.iteration);
        if self.ch.eval.send(req).is_err() {
            bail!("the evaluator has stopped");
        }
        self.in_flight.push_back(self.iteration);
        self.requested_through = Some(self.iteration);
        Ok(())
    }

    /// Write the evaluations that came back, in order.
    fn collect_evaluations(&mut self) -> Result<()> {
        loop {
            match self.ch.eval_done.try_recv() {
                Ok(done) => self.record(done)?,
                Err(TryRecvError::Empty) => return Ok(()),
                Err(TryRecvError::Disconnected) => bail!("the evaluator has stopped"),
            }
        }
    }

    fn record(&mut self, done: EvalDone) -> Result<()> {
        self.rec
            .evaluation(done.iteration, done.wall_s, done.env_steps, &done.eval)?;
        self.in_flight.retain(|&i| i != done.iteration);
        self.eval_sim = done.sim;
        let _ = self.ch.events.send(Event::Evaluated {
            iteration: done.iteration,
            eval: done.eval.clone(),
        });
        self.last_eval = Some(done.eval);
        Ok(())
    }

    /// Wait until every evaluation asked for before iteration `before` is written.
    fn wait_for_evaluations(&mut self, before: u64) -> Result<()> {
        self.shared.set_doing(ME, "waiting for the evaluator");
        while self.in_flight.front().is_some_and(|&i| i < before) {
            if self.shared.halted() {
                bail!("halted by another thread");
            }
            match self.ch.eval_done.recv_timeout(POLL) {
                Ok(done) => self.record(done)?,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => bail!("the evaluator has stopped"),
            }
        }
        Ok(())
    }

    /// A checkpoint at the current iteration. Evaluations of earlier iterations are waited for
    /// (their parameters are gone after it); one of this iteration still running is not: a
    /// resumed run evaluates the restored parameters — the same ones — again.
    fn checkpoint(&mut self) -> Result<()> {
        self.wait_for_evaluations(self.iteration)?;
        self.shared.set_doing(ME, "writing a checkpoint");
        let cfg = &self.cfg;
        let guards: Vec<_> = self.buffers.iter().map(|b| lock(b)).collect();
        let refs: Vec<&ReplayBuffer> = guards.iter().map(|g| &**g).collect();
        // The actors' and learners' generators and simulators are not saved (a resumed async
        // run reseeds them); the single-actor fields hold a fresh actor's, unused on resume.
        self.rec.checkpoint(CheckpointState {
            iteration: self.iteration,
            opt: &self.opt,
            buffers: &refs,
            extra: Vec::new(),
            learner_calls: 0,
            actor_rng: Rng::seed_from_u64(0),
            learner_rng: Rng::seed_from_u64(0),
            actor_sim: train_sim(cfg, cfg.sampling.actor_agents, 0).save(),
            eval_sim: self.eval_sim.clone(),
        })?;
        drop(guards);
        self.checkpointed_at = self.iteration;
        Ok(())
    }
}
