"""The prior models of both tasks as batched numpy functions (spec §1.9, §2.3).

The same Rust code as the learners' fast gradient path (crate ``mpg-prior``): one step in f64
per row, and its hand-derived vector-Jacobian product. Observations are raw (not scaled), actions
in policy units (path tracking: the normalised ``u``, scaled to steer and acceleration but not
clipped; pendulum: ``a``, force = 100·a, not clipped).

The model noise is an input: path tracking adds it to Δy (the authors draw N(0.5, 0.01²));
the pendulum adds it to the cart position (N(0.1, 0.5²)). Pass the mean for a noise-free step
(the golden model files' convention).
"""

from __future__ import annotations

import numpy as np

from . import _core
from ._checks import as_float_array

TASKS = ("path-tracking", "inverted-pendulum")

#: The model noise of each task (spec §1.9, §2.3): (mean, standard deviation).
NOISE = {"path-tracking": (0.5, 0.01), "inverted-pendulum": (0.1, 0.5)}


def _task(task: str) -> str:
    if task not in TASKS:
        raise ValueError(f"task: unknown task {task!r} (allowed: {', '.join(TASKS)})")
    return task


def _noise(noise, n: int) -> np.ndarray:
    if np.ndim(noise) == 0:
        value = as_float_array("noise", noise, np.float64, ndim=0)
        return np.full(n, float(value), dtype=np.float64)
    return as_float_array("noise", noise, np.float64, ndim=1)


def model_step(task: str, obs, act, noise):
    """One model step of every row: ``(next_obs [n, obs_dim], reward [n])``, float64.

    ``obs`` is ``[n, obs_dim]``, ``act`` ``[n, act_dim]``, ``noise`` ``[n]`` or a scalar. The
    reward is raw (spec §1.6 on the pre-step state for path tracking, §2.3 on the post-step
    model state for the pendulum).
    """
    task = _task(task)
    obs = as_float_array("obs", obs, np.float64, ndim=2)
    act = as_float_array("act", act, np.float64, ndim=2)
    return _core.model_step(task, obs, act, _noise(noise, obs.shape[0]))


def model_vjp(task: str, obs, act, noise, g_next, g_reward):
    """The vector-Jacobian product of :func:`model_step` at ``(obs, act, noise)``.

    Given dL/d next_obs ``g_next [n, obs_dim]`` and dL/d reward ``g_reward [n]`` (or a
    scalar), returns ``(dL/d obs [n, obs_dim], dL/d act [n, act_dim])``. The path-tracking
    speed clip passes the gradient inside [1, 35] m/s (bounds included) and the heading wrap
    with gradient 1, as the autograd models do.
    """
    task = _task(task)
    obs = as_float_array("obs", obs, np.float64, ndim=2)
    act = as_float_array("act", act, np.float64, ndim=2)
    n = obs.shape[0]
    g_next = as_float_array("g_next", g_next, np.float64, ndim=2)
    if np.ndim(g_reward) == 0:
        g_reward = np.full(n, float(as_float_array("g_reward", g_reward, np.float64, ndim=0)))
    g_reward = as_float_array("g_reward", g_reward, np.float64, ndim=1)
    return _core.model_vjp(task, obs, act, _noise(noise, n), g_next, g_reward)


class TaskModel:
    """:func:`model_step` and :func:`model_vjp` of one task (``mpg_tasks.path_tracking``,
    ``mpg_tasks.inverted_pendulum``)."""

    def __init__(self, task: str):
        self.task = _task(task)
        spec = _core.task_spec(task)
        self.obs_dim = spec["obs_dim"]
        self.act_dim = spec["act_dim"]
        self.noise_mean, self.noise_std = NOISE[task]

    def model_step(self, obs, act, noise):
        """:func:`mpg_tasks.model_step` of this task."""
        return model_step(self.task, obs, act, noise)

    def model_vjp(self, obs, act, noise, g_next, g_reward):
        """:func:`mpg_tasks.model_vjp` of this task."""
        return model_vjp(self.task, obs, act, noise, g_next, g_reward)

    def __repr__(self) -> str:
        return f"<mpg_tasks prior model of {self.task}>"
