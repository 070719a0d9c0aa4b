//! The Evaluator box of Fig. 2 as a thread (spec §4, §5): it evaluates the snapshots the
//! update thread sends (every `eval.interval` iterations and after the last) with the
//! synchronous trainer's [`crate::evaluator::Evaluator`], while training goes on.

use super::{EvalDone, EvalRequest, LocalNets, Shared, recv_poll};
use crate::evaluator::Evaluator;
use anyhow::Result;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};

pub struct EvaluatorThread {
    /// This thread's slot in the watchdog's table.
    pub index: usize,
    pub evaluator: Evaluator,
    pub nets: LocalNets,
    pub requests: Receiver<EvalRequest>,
    pub done: Sender<EvalDone>,
    pub shared: Arc<Shared>,
}

impl EvaluatorThread {
    pub fn run(mut self) -> Result<()> {
        tch::set_num_threads(1);
        let mut evaluated = 0;
        while !self.shared.halted() {
            self.shared.set_doing(self.index, "idle");
            let req = match recv_poll(&self.requests) {
                Ok(Some(r)) => r,
                Ok(None) => continue,
                // The update thread has ended: so does the run.
                Err(_) => break,
            };
            self.shared.set_doing(self.index, "evaluating");
            self.shared.test_fault("evaluator", evaluated)?;
            evaluated += 1;
            req.snapshot.load_into(&mut self.nets.nets);
            let eval = self.evaluator.evaluate(&self.nets.nets);
            let done = EvalDone {
                iteration: req.snapshot.version,
                wall_s: req.wall_s,
                env_steps: req.env_steps,
                eval,
                sim: self.evaluator.sim.save(),
            };
            if self.done.send(done).is_err() {
                break;
            }
        }
        Ok(())
    }
}
