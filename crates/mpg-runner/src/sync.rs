//! The synchronous trainer: actor, buffer, learner, optimizer and evaluator in turn on one
//! thread, deterministic (D8): the same seed and config give the same `eval.csv` and
//! `train.csv` (timing columns aside), and a resumed run continues them exactly.

use crate::actor::Actor;
use crate::buffer::ReplayBuffer;
use crate::checkpoint::{self, Found};
use crate::config::RunConfig;
use crate::evaluator::{Evaluation, Evaluator};
use crate::log::thread_cpu_ms;
use crate::recorder::{CheckpointState, Recorder};
use crate::run_dir::RunLock;
use crate::staleness::{BATCH_STREAM, ROUTE_STREAM, Window, draw_below};
use crate::trainer::{Outcome, Progress, Start, make_evaluator, sub_seed, train_sim};
use anyhow::{Result, bail};
use mpg_algos::{Learner, Nets, Optimizer};
use mpg_envs::Rng;
use rand::SeedableRng;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Everything the loop owns.
struct State {
    cfg: RunConfig,
    rec: Recorder,
    opt: Optimizer,
    learner: Learner,
    actor: Actor,
    /// `sync.buffers` replay buffers (one unless the async trainer's are emulated, D21).
    buffers: Vec<ReplayBuffer>,
    evaluator: Evaluator,
    iteration: u64,
    /// A staleness model (`sync.staleness`, `sync.staleness_counts`): the window of past
    /// parameters the gradients are computed on (crate::staleness, D21).
    stale: Option<Window>,
}

/// Build every component of a fresh run from its config (D8: all from the one seed).
fn build(cfg: &RunConfig, rec: Recorder) -> State {
    tch::set_num_threads(cfg.threads as i32);
    let spec = cfg.task.spec();
    let mut init_rng = Rng::seed_from_u64(sub_seed(cfg.seed, 1));
    let nets = Nets::new(
        cfg.algo,
        cfg.task,
        cfg.learner.init,
        cfg.learner.squash,
        &mut init_rng,
    );
    let opt = Optimizer::new(nets, &cfg.learner);
    let mut learner = Learner::new(
        cfg.algo,
        cfg.task,
        cfg.learner.clone(),
        sub_seed(cfg.seed, 2),
    );
    // The n-step targets' own simulator ends episodes by the run's rule (D1, read under D17).
    learner.set_termination(cfg.env.termination);
    let actor = Actor::new(
        train_sim(cfg, cfg.sampling.actor_agents, sub_seed(cfg.seed, 3)),
        Rng::seed_from_u64(sub_seed(cfg.seed, 4)),
        cfg.algo,
        cfg.learner.explore_sigma,
        cfg.learner.log_std_clip,
    );
    // Buffer 0 keeps stream 5 (runs with one buffer are unchanged); the others take the
    // async trainer's streams 5 + 1000·k.
    let buffers = (0..cfg.sync.buffers as u64)
        .map(|k| {
            ReplayBuffer::new(
                cfg.sampling.buffer_size,
                spec.obs_dim,
                spec.act_dim,
                Rng::seed_from_u64(sub_seed(cfg.seed, 5 + 1000 * k)),
            )
        })
        .collect();
    State {
        cfg: cfg.clone(),
        rec,
        opt,
        learner,
        actor,
        buffers,
        evaluator: make_evaluator(cfg, sub_seed(cfg.seed, 6)),
        iteration: 0,
        stale: Window::new(cfg),
    }
}

impl State {
    /// Transitions stored in every buffer so far (`env_steps`).
    fn env_steps(&self) -> u64 {
        self.buffers.iter().map(|b| b.added).sum()
    }

    /// Collect one sampling call into a buffer drawn uniformly (as the async actors route
    /// their chunks), counted by the transitions stored so far (so the draw needs no state
    /// beyond the buffers the checkpoint holds).
    fn collect(&mut self) {
        let n = self.buffers.len() as u64;
        let b = if n > 1 {
            let stream = sub_seed(self.cfg.seed, ROUTE_STREAM);
            draw_below(stream, self.env_steps(), n) as usize
        } else {
            0
        };
        let per_call = self.cfg.sampling.transitions_per_call;
        self.actor
            .collect(&self.opt.nets, &mut self.buffers[b], per_call);
    }

    fn evaluate(&mut self, progress: &mut dyn Progress) -> Result<Evaluation> {
        let ev = self.evaluator.evaluate(&self.opt.nets);
        let wall_s = self.rec.wall_s();
        self.rec
            .evaluation(self.iteration, wall_s, self.env_steps(), &ev)?;
        progress.evaluation(self.iteration, &ev);
        Ok(ev)
    }

    fn checkpoint(&mut self) -> Result<()> {
        let mut extra =
            checkpoint::named(checkpoint::CACHE, self.learner.cached().unwrap_or_default());
        if let Some(s) = &self.stale {
            extra.extend(checkpoint::named(checkpoint::STALE, s.save(self.iteration)));
        }
        self.rec.checkpoint(CheckpointState {
            iteration: self.iteration,
            opt: &self.opt,
            buffers: &self.buffers.iter().collect::<Vec<_>>(),
            extra,
            learner_calls: self.learner.calls(),
            actor_rng: self.actor.rng.clone(),
            learner_rng: self.learner.rng().clone(),
            actor_sim: self.actor.save(),
            eval_sim: self.evaluator.sim.save(),
        })
    }

    /// One iteration: maybe collect, sample, compute, apply, log.
    fn iterate(&mut self) -> Result<()> {
        if self
            .iteration
            .is_multiple_of(self.cfg.sampling.updates_per_call)
        {
            self.collect();
        }
        let it = self.iteration;
        // The batch from a buffer drawn uniformly, as the async buffers race to fill the
        // learners' queue (D21).
        let n = self.buffers.len() as u64;
        let b = if n > 1 {
            draw_below(sub_seed(self.cfg.seed, BATCH_STREAM), it, n) as usize
        } else {
            0
        };
        let batch = self.buffers[b].sample(self.cfg.learner.batch_size);
        // The policy gradient only where the applying iteration's delayed update uses it, as
        // the update thread applies it (the async learners compute it every time).
        let need_policy = self.opt.policy_due(it);
        let cpu0 = thread_cpu_ms();
        let (nets, version) = match &mut self.stale {
            Some(s) => s.view(&self.opt.nets, it),
            None => (&self.opt.nets, it),
        };
        let grads = self.learner.compute(nets, &batch, version, need_policy);
        let cpu1 = thread_cpu_ms();
        let t0 = Instant::now();
        let applied = self.opt.apply(&grads).map_err(anyhow::Error::new)?;
        let apply_ms = t0.elapsed().as_secs_f64() * 1e3;
        let cpu2 = thread_cpu_ms();
        self.rec
            .interval
            .add(Some(&grads.stats), &applied, apply_ms);
        let diff = |a: Option<f64>, b: Option<f64>| Some(b? - a?);
        self.rec
            .interval
            .add_cpu(diff(cpu0, cpu1), diff(cpu1, cpu2));
        self.rec
            .gradient(0, grads.stats.version, Some(&grads.stats), &applied);
        self.iteration += 1;
        if self.iteration.is_multiple_of(self.cfg.log.interval) {
            let has_q2 = self.opt.nets.q2.is_some();
            self.rec
                .train_row(self.iteration, self.env_steps(), has_q2)?;
        }
        Ok(())
    }
}

/// Train in the accepted `start` (crate::launch::run_session): build, load its checkpoint,
/// then go. `stop` is polled after every iteration.
pub(crate) fn train(
    cfg: &RunConfig,
    start: Start,
    stop: Arc<AtomicBool>,
    progress: &mut dyn Progress,
) -> Result<Outcome> {
    let mut st = build(cfg, Recorder::new(cfg, start.dir, start.accepted.meta())?);
    if let Some(found) = &start.accepted.found {
        restore(&mut st, found).map_err(|e| start.accepted.explain(e))?;
    }
    start.go(cfg, |lock| train_loop(&mut st, &stop, progress, lock))
}

fn train_loop(
    st: &mut State,
    stop: &AtomicBool,
    progress: &mut dyn Progress,
    lock: &mut RunLock,
) -> Result<Outcome> {
    let total = st.cfg.iterations;
    // Learning starts when every buffer holds replay_start transitions (spec §3.9, §4).
    while (st.buffers.iter()).any(|b| b.len() < st.cfg.sampling.replay_start) {
        st.collect();
    }
    let t_rate = Instant::now();
    let first = st.iteration;
    let mut last = None;
    while st.iteration < total {
        let it = st.iteration;
        if it.is_multiple_of(st.cfg.eval.interval)
            && st.rec.evaluated_through.is_none_or(|e| e < it)
        {
            last = Some(st.evaluate(progress)?);
        }
        if it.is_multiple_of(st.cfg.log.checkpoint_interval) && it > first {
            st.checkpoint()?;
        }
        st.iterate()?;
        lock.beat()?;
        let rate = (st.iteration - first) as f64 / t_rate.elapsed().as_secs_f64().max(1e-9);
        progress.iteration(st.iteration, total, rate);
        if stop.load(Ordering::SeqCst) {
            st.checkpoint()?;
            return Ok(Outcome::Interrupted {
                iteration: st.iteration,
            });
        }
    }
    if st.rec.evaluated_through.is_none_or(|e| e < total) {
        last = Some(st.evaluate(progress)?);
    }
    st.checkpoint()?;
    Ok(Outcome::Finished { last })
}

/// Load a verified checkpoint into a freshly built state (nothing is written).
fn restore(st: &mut State, found: &Found) -> Result<()> {
    let (ck, meta) = (&found.dir, &found.meta);
    let (buffers, extra) = checkpoint::load_state(ck, meta, &mut st.opt)?;
    let cache = checkpoint::group(&extra, checkpoint::CACHE);
    let cache = match cache.len() {
        0 => None,
        6 => Some(cache),
        n => bail!("{}: {n} learner-cache tensors, expected 6", ck.display()),
    };
    let past = checkpoint::group(&extra, checkpoint::STALE);
    let n_params = st.opt.nets.num_tensors();
    if let Some(s) = &mut st.stale {
        (s.restore(&past, n_params, meta.iteration))
            .map_err(|e| anyhow::anyhow!("{}: {e}", ck.display()))?;
    } else if !past.is_empty() {
        bail!(
            "{}: the checkpoint holds stale parameters but the config has no staleness model",
            ck.display()
        );
    }
    st.actor.load(&meta.actor_sim).map_err(anyhow::Error::msg)?;
    st.actor.rng = meta.actor_rng.clone();
    st.evaluator
        .sim
        .load(&meta.eval_sim)
        .map_err(anyhow::Error::msg)?;
    st.learner.set_rng(meta.learner_rng.clone());
    st.learner.restore(meta.learner_calls, cache);
    if buffers.len() != st.buffers.len() {
        bail!(
            "{}: {} replay buffers, the config's sync.buffers is {}",
            ck.display(),
            buffers.len(),
            st.buffers.len()
        );
    }
    st.buffers = buffers;
    st.iteration = meta.iteration;
    Ok(())
}
