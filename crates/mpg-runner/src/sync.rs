//! The synchronous trainer: actor, buffer, learner, optimizer and evaluator in turn on one
//! thread, deterministic (D8): the same seed and config give the same `eval.csv` and
//! `train.csv` (timing columns aside), and a resumed run continues them exactly.

use crate::actor::Actor;
use crate::buffer::ReplayBuffer;
use crate::checkpoint::{self, Meta};
use crate::config::{EvalReset, RunConfig};
use crate::evaluator::{Evaluation, Evaluator, metric_names};
use crate::run_dir::{RunDir, RunLock, Status, append_csv, file_len, truncate, write_atomic};
use anyhow::{Context, Result, bail};
use mpg_algos::{Learner, Nets, Optimizer};
use mpg_envs::pendulum::Pendulum;
use mpg_envs::{Rng, Sim, Task, VecSim, make_sim};
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Derived seeds of the run's generators (D8): one run seed, a fixed stream per component.
fn sub_seed(seed: u64, component: u64) -> u64 {
    // SplitMix64 of (seed, component): well-separated streams for every component.
    let mut z = seed ^ component.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Finished {
        last: Option<Evaluation>,
    },
    /// Stopped by a signal after checkpointing at `iteration`.
    Interrupted {
        iteration: u64,
    },
}

/// Progress reported to the caller after each iteration and evaluation (the CLI's bar).
pub trait Progress {
    fn iteration(&mut self, _done: u64, _total: u64, _updates_per_s: f64) {}
    fn evaluation(&mut self, _iteration: u64, _eval: &Evaluation) {}
}

/// A progress sink that shows nothing.
pub struct Silent;
impl Progress for Silent {}

/// Sums over the open `train.csv` interval.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Interval {
    n: u64,
    q_loss: f64,
    q1_norm: f64,
    q2_norm: f64,
    policy_n: u64,
    policy_loss: f64,
    policy_norm: f64,
    w_data: f64,
    w_model: f64,
    pg_ms: f64,
    q_grad_ms: f64,
    apply_ms: f64,
    staleness: f64,
    dropped: u64,
    policy_applied: u64,
}

/// `train.csv`'s columns (documented in docs/run-folder.md).
pub const TRAIN_HEADER: [&str; 16] = [
    "iteration",
    "wall_s",
    "env_steps",
    "q_loss",
    "q1_grad_norm",
    "q2_grad_norm",
    "policy_loss",
    "policy_grad_norm",
    "w_data",
    "w_model",
    "policy_updates",
    "dropped_nonfinite",
    "staleness",
    "pg_ms",
    "q_grad_ms",
    "apply_ms",
];

/// Columns of `eval.csv` and `train.csv` that hold timings (excluded from determinism checks).
pub const TIMING_COLUMNS: [&str; 4] = ["wall_s", "pg_ms", "q_grad_ms", "apply_ms"];

/// A run's CSV (header first) without its timing columns: what two runs of one seed and config
/// share exactly, and a resumed run with an uninterrupted one (D8).
pub fn csv_without_timing(path: &std::path::Path) -> Result<Vec<Vec<String>>> {
    let mut rd =
        csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    let h: Vec<String> = rd.headers()?.iter().map(String::from).collect();
    let keep: Vec<usize> = (0..h.len())
        .filter(|&i| !TIMING_COLUMNS.contains(&h[i].as_str()))
        .collect();
    let mut rows = vec![keep.iter().map(|&i| h[i].clone()).collect::<Vec<_>>()];
    for r in rd.records() {
        let r = r?;
        rows.push(keep.iter().map(|&i| r[i].to_string()).collect());
    }
    Ok(rows)
}

fn eval_header(task: Task, episodes: usize) -> Vec<String> {
    let mut h: Vec<String> = ["iteration", "wall_s", "env_steps", "mean_return"]
        .map(String::from)
        .to_vec();
    h.extend((0..episodes).map(|k| format!("return_{k}")));
    h.extend(metric_names(task).iter().map(|s| s.to_string()));
    h
}

fn num(x: f64) -> String {
    format!("{x}")
}

fn mean(sum: f64, n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        num(sum / n as f64)
    }
}

/// Everything the loop owns.
struct State {
    cfg: RunConfig,
    dir: RunDir,
    opt: Optimizer,
    learner: Learner,
    actor: Actor,
    buffer: ReplayBuffer,
    evaluator: Evaluator,
    iteration: u64,
    evaluated_through: Option<u64>,
    interval: Interval,
    elapsed_before: f64,
    started: Instant,
}

/// Build every component of a fresh run from its config (D8: all from the one seed).
fn build(cfg: &RunConfig, dir: &RunDir) -> State {
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
    let learner = Learner::new(
        cfg.algo,
        cfg.task,
        cfg.learner.clone(),
        sub_seed(cfg.seed, 2),
    );
    let sim = |agents: usize, s: u64| -> Box<dyn Sim> {
        match cfg.task {
            Task::InvertedPendulum => Box::new(VecSim::new(
                Pendulum {
                    max_episode_steps: cfg.env.max_episode_steps,
                },
                agents,
                s,
            )),
            Task::PathTracking => make_sim(cfg.task, agents, s, cfg.env.termination),
        }
    };
    let actor = Actor::new(
        sim(cfg.sampling.actor_agents, sub_seed(cfg.seed, 3)),
        Rng::seed_from_u64(sub_seed(cfg.seed, 4)),
        cfg.algo,
        cfg.learner.explore_sigma,
        cfg.learner.log_std_clip,
    );
    let buffer = ReplayBuffer::new(
        cfg.sampling.buffer_size,
        spec.obs_dim,
        spec.act_dim,
        Rng::seed_from_u64(sub_seed(cfg.seed, 5)),
    );
    let eval_agents = if cfg.eval.reset == EvalReset::Fresh {
        cfg.eval.episodes
    } else {
        1
    };
    // Evaluation episodes run the full fixed length (spec §5): no episode limit in its sim.
    let eval_sim: Box<dyn Sim> = match cfg.task {
        Task::InvertedPendulum => Box::new(VecSim::new(
            Pendulum {
                max_episode_steps: 0,
            },
            eval_agents,
            sub_seed(cfg.seed, 6),
        )),
        Task::PathTracking => make_sim(
            cfg.task,
            eval_agents,
            sub_seed(cfg.seed, 6),
            cfg.env.termination,
        ),
    };
    State {
        cfg: cfg.clone(),
        dir: dir.clone(),
        opt,
        learner,
        actor,
        buffer,
        evaluator: Evaluator::new(eval_sim, cfg.eval.reset, cfg.eval.episodes),
        iteration: 0,
        evaluated_through: None,
        interval: Interval::default(),
        elapsed_before: 0.0,
        started: Instant::now(),
    }
}

impl State {
    fn wall_s(&self) -> f64 {
        self.elapsed_before + self.started.elapsed().as_secs_f64()
    }

    fn evaluate(&mut self, progress: &mut dyn Progress) -> Result<Evaluation> {
        let ev = self.evaluator.evaluate(&self.opt.nets);
        let mut row = vec![
            self.iteration.to_string(),
            num(self.wall_s()),
            self.buffer.added.to_string(),
            num(ev.mean_return),
        ];
        row.extend(ev.returns.iter().map(|r| num(*r)));
        row.extend(ev.metrics.iter().map(|(_, v)| num(*v)));
        append_csv(
            &self.dir.eval_csv(),
            &eval_header(self.cfg.task, ev.returns.len()),
            &[row],
        )?;
        self.evaluated_through = Some(self.iteration);
        progress.evaluation(self.iteration, &ev);
        Ok(ev)
    }

    fn write_train_row(&mut self) -> Result<()> {
        let i = std::mem::take(&mut self.interval);
        let row = vec![
            self.iteration.to_string(),
            num(self.wall_s()),
            self.buffer.added.to_string(),
            mean(i.q_loss, i.n),
            mean(i.q1_norm, i.n),
            if self.opt.nets.q2.is_some() {
                mean(i.q2_norm, i.n)
            } else {
                String::new()
            },
            mean(i.policy_loss, i.policy_n),
            mean(i.policy_norm, i.policy_n),
            mean(i.w_data, i.policy_n),
            mean(i.w_model, i.policy_n),
            i.policy_applied.to_string(),
            i.dropped.to_string(),
            mean(i.staleness, i.n),
            mean(i.pg_ms, i.policy_n),
            mean(i.q_grad_ms, i.n),
            mean(i.apply_ms, i.n),
        ];
        let header: Vec<String> = TRAIN_HEADER.iter().map(|s| s.to_string()).collect();
        append_csv(&self.dir.train_csv(), &header, &[row])
    }

    fn checkpoint(&mut self) -> Result<()> {
        let mut meta = Meta {
            format: 1,
            iteration: self.iteration,
            evaluated_through: self.evaluated_through,
            adam_steps: vec![
                self.opt.q1.step,
                self.opt.q2.as_ref().map_or(0, |a| a.step),
                self.opt.policy.step,
            ],
            dropped_total: self.opt.dropped_total,
            dropped_in_row: self.opt.dropped_in_row,
            learner_calls: self.learner.calls(),
            actor_rng: self.actor.rng.clone(),
            learner_rng: self.learner.rng().clone(),
            actor_sim: self.actor.save(),
            eval_sim: self.evaluator.sim.save(),
            eval_csv_len: file_len(&self.dir.eval_csv()),
            train_csv_len: file_len(&self.dir.train_csv()),
            elapsed_s: self.wall_s(),
            interval: serde_json::to_string(&self.interval)?,
            config: self.cfg.to_toml(),
            tensors_len: 0,
            replay_len: 0,
        };
        checkpoint::save(
            &self.dir.checkpoint(),
            &mut meta,
            &self.opt,
            &self.buffer,
            self.learner.cached(),
        )
    }

    /// One iteration: maybe collect, sample, compute, apply, log.
    fn iterate(&mut self) -> Result<()> {
        let cfg = &self.cfg;
        if self.iteration % cfg.sampling.updates_per_call == 0 {
            self.actor.collect(
                &self.opt.nets,
                &mut self.buffer,
                cfg.sampling.transitions_per_call,
            );
        }
        let batch = self.buffer.sample(cfg.learner.batch_size);
        let it = self.iteration;
        let need_policy = self.opt.policy_due(it);
        let grads = self
            .learner
            .compute(&self.opt.nets, &batch, it, need_policy);
        let t0 = Instant::now();
        let applied = self.opt.apply(&grads).map_err(anyhow::Error::new)?;
        let apply_ms = t0.elapsed().as_secs_f64() * 1e3;
        let s = &grads.stats;
        let iv = &mut self.interval;
        iv.n += 1;
        iv.q_loss += s.q_loss;
        iv.q1_norm += s.q1_norm;
        iv.q2_norm += s.q2_norm.unwrap_or(0.0);
        iv.q_grad_ms += s.q_grad_ms;
        iv.apply_ms += apply_ms;
        iv.staleness += applied.staleness as f64;
        iv.dropped += applied.dropped as u64;
        iv.policy_applied += applied.policy_applied as u64;
        if let Some(l) = s.policy_loss {
            iv.policy_n += 1;
            iv.policy_loss += l;
            iv.policy_norm += s.policy_norm.unwrap_or(0.0);
            iv.w_data += s.w_data.unwrap_or(0.0);
            iv.w_model += s.w_model.unwrap_or(0.0);
            iv.pg_ms += s.pg_ms.unwrap_or(0.0);
        }
        self.iteration += 1;
        if self.iteration % self.cfg.log.interval == 0 {
            self.write_train_row()?;
        }
        Ok(())
    }
}

/// Start a new run in `dir` (which must not hold one) or continue the one there (`resume`).
/// `stop` is polled after every iteration: when set, the run checkpoints and returns
/// [`Outcome::Interrupted`].
pub fn run(
    cfg: &RunConfig,
    dir: &RunDir,
    resume: bool,
    allow_config_change: bool,
    stop: Arc<AtomicBool>,
    progress: &mut dyn Progress,
) -> Result<Outcome> {
    dir.prepare()?;
    let mut lock = RunLock::acquire(dir)?;
    let mut st = build(cfg, dir);
    if resume {
        restore(&mut st, allow_config_change)?;
    } else {
        if dir.config().exists()
            || dir.eval_csv().exists()
            || checkpoint::locate(&dir.checkpoint()).is_some()
        {
            bail!(
                "{} already holds a run; continue it with --resume, or choose another --out",
                dir.root.display()
            );
        }
        write_atomic(&dir.config(), cfg.to_toml().as_bytes())?;
    }
    dir.write_status(&Status::Running)?;
    let result = train_loop(&mut st, &stop, progress, &mut lock);
    match &result {
        Ok(Outcome::Finished { .. }) => dir.write_status(&Status::Finished)?,
        Ok(Outcome::Interrupted { iteration }) => dir.write_status(&Status::Interrupted(
            format!("stopped by a signal at iteration {iteration}"),
        ))?,
        Err(e) => {
            let _ = dir.write_status(&Status::Failed(format!("{e:#}")));
        }
    }
    result
}

fn train_loop(
    st: &mut State,
    stop: &AtomicBool,
    progress: &mut dyn Progress,
    lock: &mut RunLock,
) -> Result<Outcome> {
    let total = st.cfg.iterations;
    // Learning starts when the buffer holds replay_start transitions (spec §3.9).
    while st.buffer.len() < st.cfg.sampling.replay_start {
        st.actor.collect(
            &st.opt.nets,
            &mut st.buffer,
            st.cfg.sampling.transitions_per_call,
        );
    }
    let t_rate = Instant::now();
    let first = st.iteration;
    let mut last = None;
    while st.iteration < total {
        let it = st.iteration;
        if it % st.cfg.eval.interval == 0 && st.evaluated_through.is_none_or(|e| e < it) {
            last = Some(st.evaluate(progress)?);
        }
        if it % st.cfg.log.checkpoint_interval == 0 && it > first {
            st.checkpoint()?;
        }
        st.iterate()?;
        lock.beat();
        let rate = (st.iteration - first) as f64 / t_rate.elapsed().as_secs_f64().max(1e-9);
        progress.iteration(st.iteration, total, rate);
        if stop.load(Ordering::SeqCst) {
            st.checkpoint()?;
            return Ok(Outcome::Interrupted {
                iteration: st.iteration,
            });
        }
    }
    if st.evaluated_through.is_none_or(|e| e < total) {
        last = Some(st.evaluate(progress)?);
    }
    st.checkpoint()?;
    Ok(Outcome::Finished { last })
}

/// Load the newest checkpoint into a freshly built state, after checking it fits the config.
fn restore(st: &mut State, allow_config_change: bool) -> Result<()> {
    let dir = &st.dir;
    let Some(ck) = checkpoint::locate(&dir.checkpoint()) else {
        // Stopped before its first checkpoint: nothing to continue, so start over.
        let saved = std::fs::read_to_string(dir.config()).unwrap_or_default();
        if toml::from_str::<RunConfig>(&saved).ok().as_ref() != Some(&st.cfg)
            && !allow_config_change
        {
            bail!(
                "{}: the config differs from the run's; resume with the run's own config, or pass --allow-config-change",
                dir.root.display()
            );
        }
        truncate(&dir.eval_csv(), 0)?;
        truncate(&dir.train_csv(), 0)?;
        return Ok(());
    };
    let meta = checkpoint::load_meta(&ck)?;
    let saved: RunConfig = toml::from_str(&meta.config).context("the checkpoint's config")?;
    if saved != st.cfg {
        let changed = diff_keys(&saved, &st.cfg);
        if !allow_config_change {
            bail!(
                "{}: the config differs from the run's ({}); resume with the run's own config, or pass --allow-config-change",
                dir.root.display(),
                changed.join(", ")
            );
        }
        if saved.algo != st.cfg.algo || saved.task != st.cfg.task {
            bail!(
                "{}: a run cannot change its algorithm or task",
                dir.root.display()
            );
        }
        append_note(
            dir,
            &format!(
                "config changed on resume at iteration {}: {}",
                meta.iteration,
                changed.join(", ")
            ),
        )?;
        write_atomic(&dir.config(), st.cfg.to_toml().as_bytes())?;
    }
    let (buffer, cache) = checkpoint::load_state(&ck, &meta, &mut st.opt)?;
    st.actor.load(&meta.actor_sim).map_err(anyhow::Error::msg)?;
    st.actor.rng = meta.actor_rng.clone();
    st.evaluator
        .sim
        .load(&meta.eval_sim)
        .map_err(anyhow::Error::msg)?;
    st.learner.set_rng(meta.learner_rng.clone());
    st.learner.restore(meta.learner_calls, cache);
    st.buffer = buffer;
    st.iteration = meta.iteration;
    st.evaluated_through = meta.evaluated_through;
    st.interval = serde_json::from_str(&meta.interval)?;
    st.elapsed_before = meta.elapsed_s;
    truncate(&dir.eval_csv(), meta.eval_csv_len)?;
    truncate(&dir.train_csv(), meta.train_csv_len)?;
    Ok(())
}

fn diff_keys(a: &RunConfig, b: &RunConfig) -> Vec<String> {
    let ta = toml::Table::try_from(a).unwrap_or_default();
    let tb = toml::Table::try_from(b).unwrap_or_default();
    let mut out = Vec::new();
    fn walk(p: &str, a: &toml::Table, b: &toml::Table, out: &mut Vec<String>) {
        for (k, va) in a {
            let path = if p.is_empty() {
                k.clone()
            } else {
                format!("{p}.{k}")
            };
            match (va, b.get(k)) {
                (toml::Value::Table(x), Some(toml::Value::Table(y))) => walk(&path, x, y, out),
                (x, Some(y)) if x == y => {}
                (x, y) => out.push(format!(
                    "{path}: {x} → {}",
                    y.map_or("(none)".into(), |v| v.to_string())
                )),
            }
        }
        for k in b.keys().filter(|k| !a.contains_key(*k)) {
            out.push(format!(
                "{}{k}: added",
                if p.is_empty() {
                    String::new()
                } else {
                    format!("{p}.")
                }
            ));
        }
    }
    walk("", &ta, &tb, &mut out);
    out
}

/// Append a line to the run's `provenance.toml` notes.
fn append_note(dir: &RunDir, note: &str) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.provenance())?;
    writeln!(
        f,
        "\n[[note]]\ntext = {:?}\nat = {}",
        note,
        crate::run_dir::now_s()
    )?;
    Ok(())
}
