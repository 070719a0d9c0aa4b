//! The asynchronous trainer: the paper's Fig. 2 as threads in one process (spec §4).
//!
//! One file per box, typed messages between them:
//! * [`optimizer`]: the update thread owns the master networks and every Adam; it takes
//!   gradients from a bounded queue and applies them, one iteration each (D11 re-application as
//!   an option), publishes the new parameters, asks for evaluations, writes the CSVs and the
//!   checkpoints.
//! * [`actors`]: simulators driven by the newest policy plus exploration noise, sending chunks
//!   of transitions to a random buffer, throttled to `async.sample_ratio` per update (D6).
//! * [`buffers`]: replay rings serving sampled batches into a bounded queue once every buffer
//!   holds `sampling.replay_start`.
//! * [`learners`]: each takes a batch and the newest parameter snapshot, computes a gradient
//!   with the learner interface and sends it with the snapshot's version (so the staleness of
//!   every applied gradient is known).
//! * [`evaluator`]: evaluates snapshots while training goes on.
//!
//! Parameters move by value: a [`Snapshot`] is flat `f32` buffers with a version, shared behind
//! an `Arc` that a reader takes under a lock held only for the pointer copy; every thread owns
//! its own networks and loads snapshots into them. No lock is held during any computation.
//!
//! Never a hang: every blocking receive has a timeout and looks at the shared halt flag; a
//! thread that panics or returns an error records it (the first failure wins) and halts every
//! other; a watchdog in the supervising thread ends a run whose iterations stop for
//! `async.watchdog_s`. Unlike the synchronous trainer the result depends on thread timing: a
//! resumed run continues from the checkpoint's counters, networks, optimiser states and
//! buffers, not bit for bit (actors and learners are reseeded from the seed and the iteration).

mod actors;
mod buffers;
mod evaluator;
mod learners;
mod optimizer;

use crate::buffer::ReplayBuffer;
use crate::config::RunConfig;
use crate::evaluator::Evaluation;
use crate::recorder::Recorder;
use crate::run_dir::RunLock;
use crate::trainer::{Outcome, Progress, Start, make_evaluator, sub_seed, train_sim};
use anyhow::{Result, anyhow, bail};
use mpg_algos::{Grads, Learner, Nets, Optimizer};
use mpg_envs::Rng;
use rand::SeedableRng;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a blocking receive waits before it looks at the halt flag again.
const POLL: Duration = Duration::from_millis(100);
/// How long the supervisor waits for the threads to end once the run is halted.
const JOIN_DEADLINE: Duration = Duration::from_secs(60);

/// Every network's parameters by value, taken after `version` iterations had been applied.
#[derive(Debug)]
pub struct Snapshot {
    pub version: u64,
    nets: Nets,
}

impl Snapshot {
    pub fn take(nets: &Nets, version: u64) -> Snapshot {
        Snapshot {
            version,
            nets: nets.clone(),
        }
    }

    /// Overwrite `nets` (networks of the same algorithm and task) with this snapshot.
    pub fn load_into(&self, nets: &mut Nets) {
        nets.copy_from(&self.nets);
    }
}

/// A thread's own copy of the networks, refreshed from the newest snapshot when it is newer.
pub(crate) struct LocalNets {
    pub nets: Nets,
    version: Option<u64>,
}

impl LocalNets {
    fn new(cfg: &RunConfig) -> LocalNets {
        // The values come from the snapshots.
        LocalNets {
            nets: cfg.shaped_nets(),
            version: None,
        }
    }

    /// Load the newest snapshot unless it is the one already loaded; returns its version.
    fn refresh(&mut self, shared: &Shared) -> u64 {
        let snap = shared.latest();
        if self.version != Some(snap.version) {
            snap.load_into(&mut self.nets);
            self.version = Some(snap.version);
        }
        snap.version
    }
}

/// A gradient on its way to the optimizer: who computed it (the snapshot version is in
/// `grads.stats.version`), how long the learner waited for its batch, and the CPU time of the
/// computation.
pub struct GradMsg {
    pub learner: usize,
    pub grads: Grads,
    pub batch_wait_ms: f64,
    pub cpu_ms: Option<f64>,
}

/// An evaluation to run on the parameters of iteration `snapshot.version`.
pub struct EvalRequest {
    pub snapshot: Arc<Snapshot>,
    pub wall_s: f64,
    pub env_steps: u64,
}

/// A finished evaluation, with the evaluator's simulator state for checkpoints.
pub struct EvalDone {
    pub iteration: u64,
    pub wall_s: f64,
    pub env_steps: u64,
    pub eval: Evaluation,
    pub sim: mpg_envs::SimState,
}

/// What the update thread tells the supervisor (which drives the caller's progress display).
pub enum Event {
    Iteration { done: u64, rate: f64 },
    Evaluated { iteration: u64, eval: Evaluation },
}

/// A failure injected by the test hook `MPG_TEST_FAIL=<thread>[:panic|:hang]` (e.g.
/// `learner-0`, `actor-1:panic`, `evaluator`, `learner-0:hang`): after two units of work (a
/// gradient, a sampling call, a stored chunk, an evaluation, an application) the named thread
/// returns an error, panics, or hangs until the run is halted (for the watchdog). For the
/// fault-injection tests only (tests/e2e.rs); unset, it costs one comparison per unit of work.
#[derive(Clone, Debug)]
struct Fault {
    thread: String,
    mode: FaultMode,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum FaultMode {
    Error,
    Panic,
    Hang,
}

/// What every thread shares.
pub struct Shared {
    halt: AtomicBool,
    failure: Mutex<Option<String>>,
    latest: Mutex<Arc<Snapshot>>,
    /// Iterations applied, with a condition variable the throttled actors wait on.
    clock: Mutex<u64>,
    tick: Condvar,
    /// Transitions collected by the actors (the throttle's count).
    sampled: AtomicU64,
    /// Each buffer's "holds replay_start" flag; learning starts when all are set.
    ready: Vec<AtomicBool>,
    /// (transitions, iteration) when learning started: the throttle's origin.
    throttle_origin: Mutex<Option<(u64, u64)>>,
    /// What each thread is doing, for the watchdog's diagnostic.
    doing: Vec<(String, Mutex<&'static str>)>,
    fault: Option<Fault>,
}

/// Lock a mutex even if a panicking thread poisoned it (the data is plain counters/buffers;
/// the panic itself is reported separately).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub fn halted(&self) -> bool {
        self.halt.load(Ordering::SeqCst)
    }

    pub fn halt(&self) {
        self.halt.store(true, Ordering::SeqCst);
        self.tick.notify_all();
    }

    /// Record a thread's failure (the first one wins) and halt every thread.
    pub fn fail(&self, thread: &str, why: String) {
        let mut f = lock(&self.failure);
        if f.is_none() {
            *f = Some(format!("{thread}: {why}"));
        }
        drop(f);
        self.halt();
    }

    pub fn latest(&self) -> Arc<Snapshot> {
        Arc::clone(&lock(&self.latest))
    }

    fn publish(&self, snap: Snapshot) {
        let v = snap.version;
        *lock(&self.latest) = Arc::new(snap);
        *lock(&self.clock) = v;
        self.tick.notify_all();
    }

    pub fn all_ready(&self) -> bool {
        self.ready.iter().all(|r| r.load(Ordering::SeqCst))
    }

    fn set_doing(&self, thread: usize, what: &'static str) {
        *lock(&self.doing[thread].1) = what;
    }

    fn diagnostic(&self) -> String {
        self.doing
            .iter()
            .map(|(name, d)| format!("{name}: {}", *lock(d)))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The test hook ([`Fault`]): fail here if `thread` is the named one and has done two
    /// units of work.
    fn test_fault(&self, thread: &str, units_done: u64) -> Result<()> {
        match &self.fault {
            Some(f) if f.thread == thread && units_done == 2 => match f.mode {
                FaultMode::Panic => panic!("test hook MPG_TEST_FAIL: injected panic in {thread}"),
                FaultMode::Error => bail!("test hook MPG_TEST_FAIL: injected error in {thread}"),
                FaultMode::Hang => {
                    while !self.halted() {
                        std::thread::sleep(POLL);
                    }
                    bail!("test hook MPG_TEST_FAIL: hung in {thread}")
                }
            },
            _ => Ok(()),
        }
    }
}

/// Receive with the shared timeout; `Ok(None)` on a timeout (the caller looks at the halt flag).
fn recv_poll<T>(rx: &Receiver<T>) -> Result<Option<T>, RecvTimeoutError> {
    match rx.recv_timeout(POLL) {
        Ok(x) => Ok(Some(x)),
        Err(RecvTimeoutError::Timeout) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Start a thread named `name` whose error or panic is recorded in `shared` and halts the run.
fn spawn<T: Send + 'static>(
    name: String,
    shared: &Arc<Shared>,
    body: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<JoinHandle<Option<T>>> {
    let shared = Arc::clone(shared);
    let thread_name = name.clone();
    install_panic_recorder();
    Ok(std::thread::Builder::new().name(name).spawn(move || {
        PANICKING_THREAD
            .with(|c| *c.borrow_mut() = Some((thread_name.clone(), Arc::clone(&shared))));
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
            Ok(Ok(v)) => Some(v),
            Ok(Err(e)) => {
                shared.fail(&thread_name, format!("{e:#}"));
                None
            }
            Err(p) => {
                // Normally recorded already by the panic hook; the first failure wins.
                shared.fail(&thread_name, format!("panicked: {}", panic_message(&*p)));
                None
            }
        }
    })?)
}

/// The panic message of a payload (`&str` or `String`, as `panic!` makes them).
fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

thread_local! {
    /// The trainer thread running here, for the panic hook.
    static PANICKING_THREAD: std::cell::RefCell<Option<(String, Arc<Shared>)>> =
        const { std::cell::RefCell::new(None) };
}

/// A process-wide panic hook that records a trainer thread's panic as its failure *before*
/// unwinding drops the thread's channels: otherwise a peer that sees the closed channel
/// may record "buffer-1 has stopped" first and the report would blame the wrong thread.
fn install_panic_recorder() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = PANICKING_THREAD.try_with(|c| {
                if let Ok(c) = c.try_borrow()
                    && let Some((name, shared)) = c.as_ref()
                {
                    shared.fail(name, format!("panicked: {}", panic_message(info.payload())));
                }
            });
            previous(info);
        }));
    });
}

/// Train in the accepted `start` (crate::launch::run_session): build, load its checkpoint,
/// then start every thread.
pub(crate) fn train(
    cfg: &RunConfig,
    start: Start,
    stop: Arc<AtomicBool>,
    progress: &mut dyn Progress,
) -> Result<Outcome> {
    tch::set_num_threads(cfg.threads as i32);
    let spec = cfg.task.spec();
    let mut opt = Optimizer::new(
        Nets::new(
            cfg.algo,
            cfg.task,
            cfg.learner.init,
            cfg.learner.squash,
            &mut Rng::seed_from_u64(sub_seed(cfg.seed, 1)),
        ),
        &cfg.learner,
    );
    let a = &cfg.r#async;
    let mut buffers: Vec<ReplayBuffer> = (0..a.buffers)
        .map(|k| {
            ReplayBuffer::new(
                cfg.sampling.buffer_size,
                spec.obs_dim,
                spec.act_dim,
                Rng::seed_from_u64(sub_seed(cfg.seed, 5 + 1000 * k as u64)),
            )
        })
        .collect();
    let mut evaluator = make_evaluator(cfg, sub_seed(cfg.seed, 6));
    let mut iteration = 0;
    if let Some(found) = &start.accepted.found {
        let (ck, meta) = (&found.dir, &found.meta);
        let mut load = || -> Result<Vec<ReplayBuffer>> {
            let (loaded, _) = crate::checkpoint::load_state(ck, meta, &mut opt)?;
            if loaded.len() != a.buffers {
                bail!(
                    "{}: the checkpoint has {} replay buffers, async.buffers is {}",
                    ck.display(),
                    loaded.len(),
                    a.buffers
                );
            }
            evaluator
                .sim
                .load(&meta.eval_sim)
                .map_err(anyhow::Error::msg)?;
            Ok(loaded)
        };
        buffers = load().map_err(|e| start.accepted.explain(e))?;
        iteration = meta.iteration;
    }
    let rec = Recorder::new(cfg, start.dir, start.accepted.meta())?;
    start.go(cfg, |lock| {
        supervise(
            cfg, rec, opt, buffers, evaluator, iteration, stop, progress, lock,
        )
    })
}
/// Start every thread, relay progress, watch for failures and stalls, then join them all.
#[allow(clippy::too_many_arguments)]
fn supervise(
    cfg: &RunConfig,
    rec: Recorder,
    opt: Optimizer,
    buffers: Vec<ReplayBuffer>,
    evaluator: crate::evaluator::Evaluator,
    resumed_at: u64,
    stop: Arc<AtomicBool>,
    progress: &mut dyn Progress,
    lock_file: &mut RunLock,
) -> Result<Outcome> {
    let a = cfg.r#async.clone();
    let mut names = vec!["optimizer".to_string(), "evaluator".to_string()];
    names.extend((0..a.learners).map(|k| format!("learner-{k}")));
    names.extend((0..a.actors).map(|k| format!("actor-{k}")));
    names.extend((0..a.buffers).map(|k| format!("buffer-{k}")));
    let fault = std::env::var("MPG_TEST_FAIL").ok().map(|v| {
        let (thread, mode) = match v.split_once(':') {
            Some((t, "panic")) => (t, FaultMode::Panic),
            Some((t, "hang")) => (t, FaultMode::Hang),
            Some((t, _)) => (t, FaultMode::Error),
            None => (v.as_str(), FaultMode::Error),
        };
        Fault {
            thread: thread.to_string(),
            mode,
        }
    });
    let sampled: u64 = buffers.iter().map(|b| b.added).sum();
    let shared = Arc::new(Shared {
        halt: AtomicBool::new(false),
        failure: Mutex::new(None),
        latest: Mutex::new(Arc::new(Snapshot::take(&opt.nets, resumed_at))),
        clock: Mutex::new(resumed_at),
        tick: Condvar::new(),
        sampled: AtomicU64::new(sampled),
        ready: buffers
            .iter()
            .map(|b| AtomicBool::new(b.len() >= cfg.sampling.replay_start))
            .collect(),
        throttle_origin: Mutex::new(None),
        doing: names
            .iter()
            .map(|n| (n.clone(), Mutex::new("starting")))
            .collect(),
        fault,
    });
    let buffers: Vec<Arc<Mutex<ReplayBuffer>>> = buffers
        .into_iter()
        .map(|b| Arc::new(Mutex::new(b)))
        .collect();
    // Reseeded on every start (D8 cannot hold across threads): a resumed run draws new streams.
    let seed = |component: u64| sub_seed(cfg.seed ^ resumed_at.rotate_left(29), component);

    let (grad_tx, grad_rx) = mpsc::sync_channel::<GradMsg>(a.grad_queue);
    let (batch_tx, batch_rx) = mpsc::sync_channel(a.batch_queue);
    let batch_rx = Arc::new(Mutex::new(batch_rx));
    let (eval_tx, eval_rx) = mpsc::channel::<EvalRequest>();
    let (done_tx, done_rx) = mpsc::channel::<EvalDone>();
    let (event_tx, event_rx) = mpsc::channel::<Event>();
    let mut inboxes = Vec::new();
    let mut handles: Vec<(String, JoinHandle<Option<()>>)> = Vec::new();
    let mut idx = 2;

    // Buffers first, then learners and actors, so that every receiver exists before its senders.
    for (k, buf) in buffers.iter().enumerate() {
        let (tx, rx) = mpsc::sync_channel(2 * a.actors);
        inboxes.push(tx);
        let t = buffers::BufferThread {
            id: k,
            index: idx + a.learners + a.actors + k,
            buffer: Arc::clone(buf),
            inbox: rx,
            batches: batch_tx.clone(),
            batch_size: cfg.learner.batch_size,
            replay_start: cfg.sampling.replay_start,
            shared: Arc::clone(&shared),
        };
        handles.push((
            format!("buffer-{k}"),
            spawn(format!("buffer-{k}"), &shared, move || t.run())?,
        ));
    }
    drop(batch_tx);
    for k in 0..a.learners {
        let mut learner = Learner::new(
            cfg.algo,
            cfg.task,
            cfg.learner.clone(),
            seed(2 + 1000 * k as u64),
        );
        // As the synchronous trainer: the n-step targets' simulator follows D1.
        learner.set_termination(cfg.env.termination);
        let t = learners::LearnerThread {
            id: k,
            index: idx,
            learner,
            nets: LocalNets::new(cfg),
            batches: Arc::clone(&batch_rx),
            grads: grad_tx.clone(),
            threads: a.learner_threads,
            shared: Arc::clone(&shared),
        };
        idx += 1;
        handles.push((
            format!("learner-{k}"),
            spawn(format!("learner-{k}"), &shared, move || t.run())?,
        ));
    }
    drop(grad_tx);
    for k in 0..a.actors {
        let actor = crate::actor::Actor::new(
            train_sim(cfg, cfg.sampling.actor_agents, seed(3 + 1000 * k as u64)),
            Rng::seed_from_u64(seed(4 + 1000 * k as u64)),
            cfg.algo,
            cfg.learner.explore_sigma,
            cfg.learner.log_std_clip,
        );
        let t = actors::ActorThread {
            id: k,
            index: idx,
            actor,
            nets: LocalNets::new(cfg),
            inboxes: inboxes.clone(),
            route: Rng::seed_from_u64(seed(7 + 1000 * k as u64)),
            per_call: cfg.sampling.transitions_per_call,
            ratio: a.sample_ratio,
            shared: Arc::clone(&shared),
        };
        idx += 1;
        handles.push((
            format!("actor-{k}"),
            spawn(format!("actor-{k}"), &shared, move || t.run())?,
        ));
    }
    drop(inboxes);
    let eval_sim = evaluator.sim.save();
    let ev = evaluator::EvaluatorThread {
        index: 1,
        evaluator,
        nets: LocalNets::new(cfg),
        requests: eval_rx,
        done: done_tx,
        shared: Arc::clone(&shared),
    };
    handles.push((
        "evaluator".into(),
        spawn("evaluator".into(), &shared, move || ev.run())?,
    ));
    let up = optimizer::UpdateThread::new(
        cfg.clone(),
        rec,
        opt,
        buffers,
        resumed_at,
        optimizer::Channels {
            grads: grad_rx,
            eval: eval_tx,
            eval_done: done_rx,
            events: event_tx,
        },
        stop,
        Arc::clone(&shared),
        eval_sim,
    );
    let update = spawn("optimizer".into(), &shared, move || up.run())?;

    // Relay progress; the watchdog ends a run whose iterations stop.
    let watchdog = Duration::from_secs(a.watchdog_s);
    let mut last_tick = Instant::now();
    loop {
        match event_rx.recv_timeout(POLL) {
            Ok(Event::Iteration { done, rate }) => {
                last_tick = Instant::now();
                progress.iteration(done, cfg.iterations, rate);
            }
            Ok(Event::Evaluated { iteration, eval }) => progress.evaluation(iteration, &eval),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if let Err(e) = lock_file.beat() {
            shared.fail("lock", format!("{e:#}"));
        }
        if shared.halted() && update.is_finished() {
            break;
        }
        if last_tick.elapsed() > watchdog && !shared.halted() {
            shared.fail(
                "watchdog",
                format!(
                    "no iteration completed in {} s (async.watchdog_s) at iteration {}; threads: {}",
                    a.watchdog_s,
                    *lock(&shared.clock),
                    shared.diagnostic()
                ),
            );
        }
    }
    shared.halt();
    let deadline = Instant::now() + JOIN_DEADLINE;
    let mut stuck = Vec::new();
    let mut outcome = None;
    let mut all: Vec<(String, Option<JoinHandle<Option<()>>>)> =
        handles.into_iter().map(|(n, h)| (n, Some(h))).collect();
    let mut update = Some(update);
    loop {
        if update.as_ref().is_some_and(|h| h.is_finished()) {
            outcome = update.take().unwrap().join().ok().flatten();
        }
        for (_, h) in all.iter_mut() {
            if h.as_ref().is_some_and(|h| h.is_finished()) {
                let _ = h.take().unwrap().join();
            }
        }
        let pending = update.is_some() || all.iter().any(|(_, h)| h.is_some());
        if !pending {
            break;
        }
        if Instant::now() > deadline {
            if update.is_some() {
                stuck.push("optimizer".to_string());
            }
            stuck.extend(
                all.iter()
                    .filter(|(_, h)| h.is_some())
                    .map(|(n, _)| n.clone()),
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let failure = lock(&shared.failure).clone();
    match (failure, outcome) {
        (Some(f), _) => Err(anyhow!("the asynchronous trainer stopped: {f}")),
        (None, Some(o)) if stuck.is_empty() => Ok(o),
        (None, _) => Err(anyhow!(
            "the asynchronous trainer stopped without a result; threads that did not end within {} s: {}",
            JOIN_DEADLINE.as_secs(),
            stuck.join(", ")
        )),
    }
}
