"""The prior models: equal to `mpg env step --model` (the tch models in f32) and to the golden
model files; the vector-Jacobian product agrees with central finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import mpg_tasks
from conftest import GOLDEN, TASKS, columns, mpg_env_step, read_table

# The golden files' convention: the noise at its mean (spec §1.9: 0.5, §2.3: 0.1).
MEAN = {"path-tracking": 0.5, "inverted-pendulum": 0.1}


def rel(a, b):
    return np.max(np.abs(a - b) / (np.abs(b) + 1.0))


@pytest.mark.parametrize("task", list(TASKS))
def test_model_step_equals_mpg_env_step_model(task, mpg_bin, tmp_path):
    _, od, ad = TASKS[task]
    path = GOLDEN / f"{task.replace('-', '_')}_model_golden.csv"
    g = read_table(path)
    # The golden inputs as the binary reads them: f32.
    obs = columns(g, "o", od).astype(np.float32).astype(np.float64)
    act = columns(g, "u", ad).astype(np.float32).astype(np.float64)
    nxt, rew = mpg_tasks.model_step(task, obs, act, MEAN[task])
    assert nxt.shape == obs.shape and rew.shape == (len(obs),) and nxt.dtype == np.float64
    if mpg_bin is not None:
        ref = mpg_env_step(mpg_bin, task, path, tmp_path / "out.csv", "--model")
        # The binary steps the tch model in f32, ours is f64: they differ by f32 rounding
        # (measured 8.7e-7 relative on path tracking, 2.3e-7 on the pendulum).
        assert rel(nxt, columns(ref, "n", od)) <= 1e-6
        assert rel(rew, ref["reward"]) <= 1e-6
    # The golden file itself (README: a faithful implementation reaches ≤ 1e-6 relative).
    assert rel(nxt, columns(g, "n", od)) <= 1e-6
    assert rel(rew, g["reward"]) <= 1e-6


@pytest.mark.parametrize("task", list(TASKS))
def test_task_modules_and_noise_broadcast(task):
    mod = mpg_tasks.path_tracking if task == "path-tracking" else mpg_tasks.inverted_pendulum
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(5, mod.obs_dim)) * 0.1
    act = rng.uniform(-1, 1, (5, mod.act_dim))
    a = mod.model_step(obs, act, np.full(5, mod.noise_mean))
    b = mpg_tasks.model_step(task, obs, act, mod.noise_mean)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    # The noise is additive on Δy (index 3) / p (index 0).
    c = mpg_tasks.model_step(task, obs, act, mod.noise_mean + 0.25)
    k = 3 if task == "path-tracking" else 0
    assert np.allclose(c[0][:, k] - a[0][:, k], 0.25, atol=1e-12)


def states(task, n, rng):
    if task == "path-tracking":
        obs = np.column_stack([
            rng.uniform(-4, 4, n), rng.normal(0, 0.5, n), rng.normal(0, 0.2, n),
            rng.normal(0, 1, n), rng.normal(0, 0.3, n), rng.uniform(0, 600, n),
        ])
        act = rng.uniform(-1.2, 1.2, (n, 2))
    else:
        obs = rng.normal(0, [0.5, 0.2, 0.5, 0.5], (n, 4))
        act = rng.uniform(-3, 3, (n, 1))
    return obs, act


@pytest.mark.parametrize("task", list(TASKS))
def test_vjp_agrees_with_finite_differences(task):
    rng = np.random.default_rng(1)
    n = 64
    obs, act = states(task, n, rng)
    noise = rng.normal(MEAN[task], 0.1, n)
    od, ad = obs.shape[1], act.shape[1]
    g_next = rng.normal(size=(n, od))
    g_rew = rng.normal(size=n)
    gs, ga = mpg_tasks.model_vjp(task, obs, act, noise, g_next, g_rew)

    def loss(o, a):
        nx, r = mpg_tasks.model_step(task, o, a, noise)
        return np.sum(nx * g_next, axis=1) + r * g_rew  # one scalar per row

    h = 1e-6
    for arr, grad, dim, which in ((obs, gs, od, 0), (act, ga, ad, 1)):
        for j in range(dim):
            step = np.zeros_like(arr)
            step[:, j] = h * np.maximum(1.0, np.abs(arr[:, j]))
            up = (arr + step, act) if which == 0 else (obs, arr + step)
            dn = (arr - step, act) if which == 0 else (obs, arr - step)
            fd = (loss(*up) - loss(*dn)) / (2 * step[:, j])
            err = np.abs(fd - grad[:, j]) / (np.abs(fd) + 1.0)
            assert err.max() <= 1e-5, (which, j, err.max())


def test_vjp_zero_cotangent_is_zero_and_linear():
    rng = np.random.default_rng(2)
    obs, act = states("inverted-pendulum", 8, rng)
    z = mpg_tasks.model_vjp("inverted-pendulum", obs, act, 0.1, np.zeros((8, 4)), 0.0)
    assert not np.any(z[0]) and not np.any(z[1])
    g = rng.normal(size=(8, 4))
    a = mpg_tasks.model_vjp("inverted-pendulum", obs, act, 0.1, g, 1.0)
    b = mpg_tasks.model_vjp("inverted-pendulum", obs, act, 0.1, 2 * g, 2.0)
    assert np.allclose(2 * a[0], b[0], rtol=1e-14) and np.allclose(2 * a[1], b[1], rtol=1e-14)
