//! `mpg_tasks._core`: the batched simulators of `mpg-envs` and the prior models of `mpg-prior`
//! for Python (issue 26). The Gymnasium classes are in `python/mpg_tasks/`; this module holds
//! what they call: [`Batch`] (a batched simulator with Gymnasium's episode bookkeeping) and the
//! model functions.
//!
//! Numpy arrays come in and go out without copies: the callers pass C-contiguous arrays of the
//! right dtype (the Python side converts) and this module writes into the output arrays the
//! Python side allocated. The GIL is released while the simulator or a model computes. Every
//! bad input becomes a `ValueError` naming the argument; nothing here panics on user input.

use mpg_envs::path_tracking::{self, CORRECTED_LIMIT, V_REF};
use mpg_envs::pendulum::Pendulum;
use mpg_envs::{Sim, SimError, Task, Termination, VecSim};
use mpg_prior::{FastModel, PathModel, PendulumModel};
use numpy::{
    PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyReadwriteArray1,
    PyReadwriteArray2, PyUntypedArrayMethods,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::sync::Mutex;

fn value_err(msg: impl Into<String>) -> PyErr {
    PyValueError::new_err(msg.into())
}

/// The task named `name` (`path-tracking` or `inverted-pendulum`).
fn parse_task(name: &str) -> PyResult<Task> {
    name.parse::<Task>()
        .map_err(|e| value_err(format!("task: {e}")))
}

fn parse_termination(name: &str) -> PyResult<Termination> {
    name.parse::<Termination>()
        .map_err(|e| value_err(format!("termination: {e}")))
}

/// The simulator of `task`. The pendulum is built without its own episode limit (D20): time
/// limits are [`Batch`]'s (Gymnasium's truncation), so a limit is never reported as a
/// termination. Path tracking under `corrected` keeps its 200-step limit (D1), which [`Batch`]
/// reports as a truncation.
fn new_sim(task: Task, agents: usize, seed: u64, termination: Termination) -> Box<dyn Sim> {
    match task {
        Task::PathTracking => Box::new(VecSim::new(
            path_tracking::PathTracking::new(termination),
            agents,
            seed,
        )),
        Task::InvertedPendulum => Box::new(VecSim::new(
            Pendulum {
                max_episode_steps: 0,
            },
            agents,
            seed,
        )),
    }
}

/// A C-contiguous 2-d array's values, checked to be `[rows, cols]`.
fn rows_of<'a, T: numpy::Element>(
    what: &str,
    a: &'a PyReadonlyArray2<'_, T>,
    rows: Option<usize>,
    cols: usize,
) -> PyResult<&'a [T]> {
    let shape = a.shape();
    if shape[1] != cols || rows.is_some_and(|r| r != shape[0]) {
        let r = rows.map_or("n".to_string(), |r| r.to_string());
        return Err(value_err(format!(
            "{what}: expected shape ({r}, {cols}), got ({}, {})",
            shape[0], shape[1]
        )));
    }
    a.as_slice()
        .map_err(|_| value_err(format!("{what}: the array must be C-contiguous")))
}

fn out_slice<'a, T: numpy::Element>(
    what: &str,
    a: &'a mut PyReadwriteArray1<'_, T>,
    len: usize,
) -> PyResult<&'a mut [T]> {
    if a.len() != len {
        return Err(value_err(format!(
            "{what}: expected {len} values, got {}",
            a.len()
        )));
    }
    a.as_slice_mut()
        .map_err(|_| value_err(format!("{what}: the array must be C-contiguous")))
}

fn out_slice2<'a>(
    what: &str,
    a: &'a mut PyReadwriteArray2<'_, f32>,
    rows: usize,
    cols: usize,
) -> PyResult<&'a mut [f32]> {
    if a.shape() != [rows, cols] {
        return Err(value_err(format!(
            "{what}: expected shape ({rows}, {cols}), got {:?}",
            a.shape()
        )));
    }
    a.as_slice_mut()
        .map_err(|_| value_err(format!("{what}: the array must be C-contiguous")))
}

fn sim_err(what: &str, e: SimError) -> PyErr {
    value_err(format!("{what}: {e}"))
}

/// The simulator and Gymnasium's episode bookkeeping around it.
struct Inner {
    sim: Box<dyn Sim>,
    /// Agents whose episode ended at the last step: reset, not stepped, at the next step
    /// (Gymnasium's next-step autoreset).
    pending: Vec<bool>,
    /// Steps since each agent's reset.
    steps: Vec<u32>,
    done: Vec<bool>,
}

/// A batch of `num_envs` agents of one task (spec §1, §2) with Gymnasium's episode semantics:
/// `terminated` is the task's own `done` (D1 for path tracking), `truncated` a time limit
/// (`max_episode_steps`, 0 for none; path tracking under `corrected` also ends at its 200-step
/// limit, D1). With `autoreset`, an agent whose episode ended is reset at the next step instead
/// of being stepped (reward 0, neither terminated nor truncated), as Gymnasium ≥ 1.0's
/// next-step autoreset.
#[pyclass(module = "mpg_tasks._core")]
struct Batch {
    // A mutex only so the class is `Sync`; every method takes `&mut self` (pyo3's borrow
    // flag refuses a second caller), so the lock is never contended.
    inner: Mutex<Inner>,
    task: Task,
    termination: Termination,
    agents: usize,
    limit: u32,
    autoreset: bool,
    threads: usize,
}

impl Batch {
    fn inner(&mut self) -> &mut Inner {
        // Never poisoned: nothing panics while it is held.
        self.inner.get_mut().unwrap_or_else(|e| e.into_inner())
    }
}

#[pymethods]
impl Batch {
    #[new]
    #[pyo3(signature = (task, num_envs, seed, termination = "paper", max_episode_steps = 0, autoreset = true, threads = 1))]
    fn new(
        task: &str,
        num_envs: usize,
        seed: u64,
        termination: &str,
        max_episode_steps: u32,
        autoreset: bool,
        threads: usize,
    ) -> PyResult<Self> {
        let task = parse_task(task)?;
        let termination = parse_termination(termination)?;
        if num_envs == 0 {
            return Err(value_err("num_envs: must be at least 1"));
        }
        if threads == 0 {
            return Err(value_err("threads: must be at least 1"));
        }
        let mut sim = new_sim(task, num_envs, seed, termination);
        sim.set_threads(threads);
        Ok(Batch {
            inner: Mutex::new(Inner {
                sim,
                pending: vec![false; num_envs],
                steps: vec![0; num_envs],
                done: vec![false; num_envs],
            }),
            task,
            termination,
            agents: num_envs,
            limit: max_episode_steps,
            autoreset,
            threads,
        })
    }

    #[getter]
    fn num_envs(&self) -> usize {
        self.agents
    }

    #[getter]
    fn obs_dim(&self) -> usize {
        self.task.spec().obs_dim
    }

    #[getter]
    fn act_dim(&self) -> usize {
        self.task.spec().act_dim
    }

    /// Reset every agent: from a fresh simulator seeded by `seed` (D8: block k draws from the
    /// seed's xoshiro stream jumped k times, as `mpg env rollout --seed`), or, without a seed,
    /// with the draws that follow the last ones. Writes the observations into `obs`.
    #[pyo3(signature = (obs, seed = None))]
    fn reset(&mut self, obs: PyReadwriteArray2<'_, f32>, seed: Option<u64>) -> PyResult<()> {
        let (task, agents, termination, threads) =
            (self.task, self.agents, self.termination, self.threads);
        let mut obs = obs;
        let out = out_slice2("obs", &mut obs, agents, task.spec().obs_dim)?;
        let inner = self.inner();
        match seed {
            Some(seed) => {
                inner.sim = new_sim(task, agents, seed, termination);
                inner.sim.set_threads(threads);
            }
            None => inner.sim.reset_all(),
        }
        inner.pending.fill(false);
        inner.steps.fill(0);
        inner.sim.observe(out);
        Ok(())
    }

    /// Set every agent's state from an observation (the authors' `reset(init_obs=…)`,
    /// `mpg env step`'s starting states); episodes restart from these states.
    fn set_obs(&mut self, obs: PyReadonlyArray2<'_, f32>) -> PyResult<()> {
        let (agents, od) = (self.agents, self.task.spec().obs_dim);
        let values = rows_of("obs", &obs, Some(agents), od)?;
        let inner = self.inner();
        inner.sim.set_obs(values).map_err(|e| sim_err("obs", e))?;
        inner.pending.fill(false);
        inner.steps.fill(0);
        Ok(())
    }

    /// Write the current observations into `obs`.
    fn observe(&mut self, obs: PyReadwriteArray2<'_, f32>) -> PyResult<()> {
        let (agents, od) = (self.agents, self.task.spec().obs_dim);
        let mut obs = obs;
        let out = out_slice2("obs", &mut obs, agents, od)?;
        self.inner().sim.observe(out);
        Ok(())
    }

    /// One step of every agent (actions `[num_envs, act_dim]`), the GIL released; writes the
    /// observations, raw rewards and the terminated/truncated flags into the given arrays.
    fn step(
        &mut self,
        py: Python<'_>,
        actions: PyReadonlyArray2<'_, f32>,
        obs: PyReadwriteArray2<'_, f32>,
        reward: PyReadwriteArray1<'_, f32>,
        terminated: PyReadwriteArray1<'_, bool>,
        truncated: PyReadwriteArray1<'_, bool>,
    ) -> PyResult<()> {
        let spec = self.task.spec();
        let (n, od, ad) = (self.agents, spec.obs_dim, spec.act_dim);
        let act = rows_of("actions", &actions, Some(n), ad)?;
        let (mut obs, mut reward) = (obs, reward);
        let (mut terminated, mut truncated) = (terminated, truncated);
        let obs = out_slice2("obs", &mut obs, n, od)?;
        let reward = out_slice("reward", &mut reward, n)?;
        let term = out_slice("terminated", &mut terminated, n)?;
        let trunc = out_slice("truncated", &mut truncated, n)?;
        let (task, termination, limit, autoreset) =
            (self.task, self.termination, self.limit, self.autoreset);
        let inner = self.inner();
        py.allow_threads(|| {
            inner
                .sim
                .step(act, reward, &mut inner.done)
                .map_err(|e| match e {
                    SimError::NonFinite { agent, value, .. } => value_err(format!(
                        "actions: the action of env {agent} is not finite ({value})"
                    )),
                    e => sim_err("actions", e),
                })?;
            let corrected_pt = task == Task::PathTracking && termination == Termination::Corrected;
            let mut any_pending = false;
            for i in 0..n {
                if inner.pending[i] {
                    // Stepped above from its ended episode; the reset below replaces it.
                    any_pending = true;
                    reward[i] = 0.0;
                    term[i] = false;
                    trunc[i] = false;
                    inner.steps[i] = 0;
                    continue;
                }
                inner.steps[i] = inner.steps[i].saturating_add(1);
                term[i] = inner.done[i];
                trunc[i] = limit > 0 && inner.steps[i] >= limit;
                if corrected_pt && inner.steps[i] >= CORRECTED_LIMIT {
                    // The simulator's `done` includes its time limit here (D1); it is a
                    // truncation, and a termination only on a real failure, re-tested below.
                    trunc[i] = true;
                }
            }
            if any_pending {
                inner
                    .sim
                    .reset_agents(&inner.pending)
                    .map_err(|e| sim_err("reset", e))?;
            }
            inner.sim.observe(obs);
            if corrected_pt {
                for i in 0..n {
                    if !inner.pending[i] && inner.steps[i] >= CORRECTED_LIMIT && term[i] {
                        term[i] = corrected_failure(&obs[i * od..(i + 1) * od], &act[i * 2..]);
                    }
                }
            }
            for i in 0..n {
                inner.pending[i] = autoreset && (term[i] || trunc[i]);
            }
            Ok(())
        })
    }
}

/// The `corrected` failure test of D1 on the post-step observation and the step's action.
fn corrected_failure(o: &[f32], u: &[f32]) -> bool {
    let (steer, acc) = path_tracking::physical_action(u[0], u[1]);
    path_tracking::coded_done(
        o[0] as f64 + V_REF,
        o[1] as f64,
        o[2] as f64,
        o[3] as f64,
        o[4] as f64,
        steer,
        acc,
        Termination::Corrected,
    )
}

/// A model call's checked inputs: (rows, obs, act, noise).
type ModelInputs<'a> = (usize, &'a [f64], &'a [f64], &'a [f64]);
/// A VJP's outputs: (dL/d obs, dL/d act).
type VjpOut<'py> = (Bound<'py, PyArray2<f64>>, Bound<'py, PyArray2<f64>>);

/// Checks a model call's inputs: `obs [n, OBS]`, `act [n, ACT]`, `noise [n]`, all finite.
fn model_inputs<'a, M: FastModel>(
    obs: &'a PyReadonlyArray2<'_, f64>,
    act: &'a PyReadonlyArray2<'_, f64>,
    noise: &'a PyReadonlyArray1<'_, f64>,
) -> PyResult<ModelInputs<'a>> {
    let s = rows_of("obs", obs, None, M::OBS)?;
    let n = obs.shape()[0];
    let a = rows_of("act", act, Some(n), M::ACT)?;
    let e = one_per_row("noise", noise, n)?;
    finite("obs", s, M::OBS)?;
    finite("act", a, M::ACT)?;
    finite("noise", e, 1)?;
    Ok((n, s, a, e))
}

/// A 1-d input with one value per row of `obs` (`noise`, `g_reward`), as a contiguous slice.
fn one_per_row<'a>(what: &str, v: &'a PyReadonlyArray1<'_, f64>, n: usize) -> PyResult<&'a [f64]> {
    if v.len() != n {
        return Err(value_err(format!(
            "{what}: expected {n} values (one per row of obs), got {}",
            v.len()
        )));
    }
    v.as_slice()
        .map_err(|_| value_err(format!("{what}: the array must be C-contiguous")))
}

fn finite(what: &str, v: &[f64], per_row: usize) -> PyResult<()> {
    match v.iter().position(|x| !x.is_finite()) {
        None => Ok(()),
        Some(j) => Err(value_err(format!(
            "{what}: row {} is not finite ({})",
            j / per_row,
            v[j]
        ))),
    }
}

type StepOut<'py> = (Bound<'py, PyArray2<f64>>, Bound<'py, PyArray1<f64>>);

fn model_step_of<'py, M: FastModel>(
    py: Python<'py>,
    obs: PyReadonlyArray2<'py, f64>,
    act: PyReadonlyArray2<'py, f64>,
    noise: PyReadonlyArray1<'py, f64>,
) -> PyResult<StepOut<'py>> {
    let (n, s, a, e) = model_inputs::<M>(&obs, &act, &noise)?;
    let next = PyArray2::<f64>::zeros(py, [n, M::OBS], false);
    let reward = PyArray1::<f64>::zeros(py, n, false);
    {
        let (mut nw, mut rw) = (next.readwrite(), reward.readwrite());
        let (nx, rx) = (nw.as_slice_mut()?, rw.as_slice_mut()?);
        py.allow_threads(|| {
            for i in 0..n {
                rx[i] = M::step(
                    &s[i * M::OBS..(i + 1) * M::OBS],
                    &a[i * M::ACT..(i + 1) * M::ACT],
                    e[i],
                    &mut nx[i * M::OBS..(i + 1) * M::OBS],
                );
            }
        });
    }
    Ok((next, reward))
}

fn model_vjp_of<'py, M: FastModel>(
    py: Python<'py>,
    obs: PyReadonlyArray2<'py, f64>,
    act: PyReadonlyArray2<'py, f64>,
    noise: PyReadonlyArray1<'py, f64>,
    g_next: PyReadonlyArray2<'py, f64>,
    g_reward: PyReadonlyArray1<'py, f64>,
) -> PyResult<VjpOut<'py>> {
    let (n, s, a, e) = model_inputs::<M>(&obs, &act, &noise)?;
    let g = rows_of("g_next", &g_next, Some(n), M::OBS)?;
    let gr = one_per_row("g_reward", &g_reward, n)?;
    finite("g_next", g, M::OBS)?;
    finite("g_reward", gr, 1)?;
    let g_obs = PyArray2::<f64>::zeros(py, [n, M::OBS], false);
    let g_act = PyArray2::<f64>::zeros(py, [n, M::ACT], false);
    {
        let (mut sw, mut aw) = (g_obs.readwrite(), g_act.readwrite());
        let (gs, ga) = (sw.as_slice_mut()?, aw.as_slice_mut()?);
        py.allow_threads(|| {
            for i in 0..n {
                M::step_vjp(
                    &s[i * M::OBS..(i + 1) * M::OBS],
                    &a[i * M::ACT..(i + 1) * M::ACT],
                    e[i],
                    &g[i * M::OBS..(i + 1) * M::OBS],
                    gr[i],
                    &mut gs[i * M::OBS..(i + 1) * M::OBS],
                    &mut ga[i * M::ACT..(i + 1) * M::ACT],
                );
            }
        });
    }
    Ok((g_obs, g_act))
}

/// One prior-model step of every row (spec §1.9, §2.3; f64): `(next_obs [n, obs_dim],
/// reward [n])` from `obs [n, obs_dim]`, `act [n, act_dim]` (policy units) and `noise [n]`.
#[pyfunction]
fn model_step<'py>(
    py: Python<'py>,
    task: &str,
    obs: PyReadonlyArray2<'py, f64>,
    act: PyReadonlyArray2<'py, f64>,
    noise: PyReadonlyArray1<'py, f64>,
) -> PyResult<StepOut<'py>> {
    match parse_task(task)? {
        Task::PathTracking => model_step_of::<PathModel>(py, obs, act, noise),
        Task::InvertedPendulum => model_step_of::<PendulumModel>(py, obs, act, noise),
    }
}

/// The vector-Jacobian product of [`model_step`] at (`obs`, `act`, `noise`): given dL/d
/// next_obs `g_next [n, obs_dim]` and dL/d reward `g_reward [n]`, `(dL/d obs, dL/d act)`.
#[pyfunction]
fn model_vjp<'py>(
    py: Python<'py>,
    task: &str,
    obs: PyReadonlyArray2<'py, f64>,
    act: PyReadonlyArray2<'py, f64>,
    noise: PyReadonlyArray1<'py, f64>,
    g_next: PyReadonlyArray2<'py, f64>,
    g_reward: PyReadonlyArray1<'py, f64>,
) -> PyResult<VjpOut<'py>> {
    match parse_task(task)? {
        Task::PathTracking => model_vjp_of::<PathModel>(py, obs, act, noise, g_next, g_reward),
        Task::InvertedPendulum => {
            model_vjp_of::<PendulumModel>(py, obs, act, noise, g_next, g_reward)
        }
    }
}

/// The task's linear state-feedback controller of spec §5 (path tracking; the pendulum's LQR
/// gain, `mpg env rollout --policy linear`): actions `[n, act_dim]` for `obs [n, obs_dim]`.
#[pyfunction]
fn linear_policy<'py>(
    py: Python<'py>,
    task: &str,
    obs: PyReadonlyArray2<'py, f32>,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let task = parse_task(task)?;
    let spec = task.spec();
    let o = rows_of("obs", &obs, None, spec.obs_dim)?;
    let n = obs.shape()[0];
    let act = PyArray2::<f32>::zeros(py, [n, spec.act_dim], false);
    {
        let mut w = act.readwrite();
        mpg_envs::policy::FixedPolicy::Linear.act(task, o, w.as_slice_mut()?);
    }
    Ok(act)
}

/// The reference path at `x` (spec §1.2): `(y, heading)`.
#[pyfunction]
fn path_reference(x: f64) -> (f64, f64) {
    path_tracking::reference(x)
}

/// A task's constants: obs_dim, act_dim, eval_steps (spec §1.11, §2.4), obs_scale,
/// reward_scale, base_score.
#[pyfunction]
fn task_spec<'py>(py: Python<'py>, task: &str) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
    let spec = parse_task(task)?.spec();
    let d = pyo3::types::PyDict::new(py);
    d.set_item("obs_dim", spec.obs_dim)?;
    d.set_item("act_dim", spec.act_dim)?;
    d.set_item("eval_steps", spec.eval_steps)?;
    d.set_item("obs_scale", spec.obs_scale.to_vec())?;
    d.set_item("reward_scale", spec.reward_scale)?;
    d.set_item("base_score", spec.base_score)?;
    Ok(d)
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Batch>()?;
    m.add_function(wrap_pyfunction!(model_step, m)?)?;
    m.add_function(wrap_pyfunction!(model_vjp, m)?)?;
    m.add_function(wrap_pyfunction!(path_reference, m)?)?;
    m.add_function(wrap_pyfunction!(linear_policy, m)?)?;
    m.add_function(wrap_pyfunction!(task_spec, m)?)?;
    m.add("CORRECTED_LIMIT", CORRECTED_LIMIT)?;
    Ok(())
}
