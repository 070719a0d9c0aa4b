"""Bad input raises ValueError naming the argument; the interpreter survives."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import mpg_tasks


@pytest.fixture
def pt():
    env = gym.make("mpg/PathTracking-v0").unwrapped
    env.reset(seed=0)
    return env


@pytest.fixture
def venv():
    v = mpg_tasks.InvertedPendulumVectorEnv(num_envs=4)
    v.reset(seed=0)
    return v


@pytest.mark.parametrize(
    "action, match",
    [
        (np.zeros(3, np.float32), r"action: expected shape \(2,\)"),
        (np.zeros((1, 2), np.float32), r"action: expected shape \(2,\)"),
        (np.array([np.nan, 0.0], np.float32), "action: not finite"),
        (np.array([np.inf, 0.0]), "action: not finite"),
        (np.array(["a", "b"]), "action: expected real numbers"),
        (np.array([1 + 2j, 0]), "action: expected real numbers"),
        (np.array([True, False]), "action: expected real numbers"),
        ([[1.0], [2.0, 3.0]], "action: not an array of numbers"),
        (None, "action: expected real numbers"),
    ],
)
def test_single_env_bad_actions(pt, action, match):
    with pytest.raises(ValueError, match=match):
        pt.step(action)
    # The env is unchanged and still works.
    assert pt.step(np.zeros(2, np.float32))[0].shape == (6,)


def test_single_env_accepts_float64_and_int_actions(pt):
    pt.step(np.zeros(2))
    pt.step(np.zeros(2, dtype=np.int64))


@pytest.mark.parametrize(
    "actions, match",
    [
        (np.zeros((4, 2), np.float32), r"actions: expected shape \(4, 1\)"),
        (np.zeros((3, 1), np.float32), r"actions: expected shape \(4, 1\)"),
        (np.zeros(4, np.float32), r"actions: expected a 2-d array"),
        (np.array([[0.0], [np.nan], [0.0], [0.0]], np.float32), "actions: the action of env 1 is not finite"),
        (np.zeros((4, 1), np.complex64), "actions: expected real numbers"),
        (np.zeros((4, 1), object), "actions: expected real numbers"),
    ],
)
def test_vector_env_bad_actions(venv, actions, match):
    before = venv._batch
    with pytest.raises(ValueError, match=match):
        venv.step(actions)
    assert venv._batch is before
    obs = venv.step(np.zeros((4, 1)))[0]
    assert obs.shape == (4, 1 * 4)


def test_vector_env_nan_action_leaves_state_unchanged():
    a = mpg_tasks.InvertedPendulumVectorEnv(num_envs=2)
    b = mpg_tasks.InvertedPendulumVectorEnv(num_envs=2)
    a.reset(seed=3), b.reset(seed=3)
    with pytest.raises(ValueError):
        a.step(np.array([[0.5], [np.nan]]))
    assert np.array_equal(a.step(np.ones((2, 1)))[0], b.step(np.ones((2, 1)))[0])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"termination": "strict"}, "termination: unknown rule 'strict'"),
        ({"render_mode": "human"}, "render_mode: unknown mode 'human'"),
    ],
)
def test_single_env_bad_construction(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mpg_tasks.PathTrackingEnv(**kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_envs": 0}, "num_envs: expected an integer"),
        ({"num_envs": 2.5}, "num_envs: expected an integer"),
        ({"threads": 0}, "threads: expected an integer"),
        ({"max_episode_steps": -1}, "max_episode_steps: expected an integer"),
        ({"termination": "nope"}, "termination: unknown rule"),
        ({"render_mode": "rgb_array"}, "render_mode: the vector env does not render"),
    ],
)
def test_vector_env_bad_construction(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mpg_tasks.PathTrackingVectorEnv(**kwargs)


def test_bad_reset_arguments(venv, pt):
    with pytest.raises(ValueError, match="seed: expected one non-negative integer"):
        venv.reset(seed=[1, 2, 3, 4])
    with pytest.raises(ValueError, match="seed: expected a non-negative integer"):
        venv.reset(seed=-1)
    with pytest.raises(ValueError, match="options: unknown keys"):
        venv.reset(options={"state": 1})
    with pytest.raises(ValueError, match=r"obs: expected shape \(4, 4\)"):
        venv.reset(options={"obs": np.zeros((3, 4))})
    with pytest.raises(ValueError, match="obs: .*not finite"):
        venv.reset(options={"obs": np.full((4, 4), np.nan)})
    with pytest.raises(ValueError, match=r"options\['obs'\]: expected shape \(6,\)"):
        pt.reset(options={"obs": np.zeros(4)})


@pytest.mark.parametrize(
    "args, match",
    [
        (("walking", np.zeros((1, 4)), np.zeros((1, 1)), 0.0), "task: unknown task 'walking'"),
        (("inverted-pendulum", np.zeros((1, 5)), np.zeros((1, 1)), 0.0), r"obs: expected shape \(n, 4\)"),
        (("inverted-pendulum", np.zeros(4), np.zeros((1, 1)), 0.0), "obs: expected a 2-d array"),
        (("inverted-pendulum", np.zeros((2, 4)), np.zeros((2, 2)), 0.0), r"act: expected shape \(2, 1\)"),
        (("inverted-pendulum", np.zeros((2, 4)), np.zeros((3, 1)), 0.0), r"act: expected shape \(2, 1\)"),
        (("inverted-pendulum", np.zeros((2, 4)), np.zeros((2, 1)), np.zeros(3)), "noise: expected 2 values"),
        (("inverted-pendulum", np.full((2, 4), np.nan), np.zeros((2, 1)), 0.0), "obs: row 0 is not finite"),
        (("path-tracking", np.zeros((2, 6)), np.array([[0, 0], [np.inf, 0]]), 0.0), "act: row 1 is not finite"),
        (("path-tracking", np.zeros((2, 6)), np.zeros((2, 2)), np.nan), "noise: row 0 is not finite"),
        (("path-tracking", np.zeros((2, 6), complex), np.zeros((2, 2)), 0.0), "obs: expected real numbers"),
        (("path-tracking", np.zeros((2, 6)), np.zeros((2, 2)), "x"), "noise: expected real numbers"),
    ],
)
def test_model_step_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        mpg_tasks.model_step(*args)


def test_model_vjp_bad_input():
    o, a = np.zeros((2, 4)), np.zeros((2, 1))
    with pytest.raises(ValueError, match=r"g_next: expected shape \(2, 4\)"):
        mpg_tasks.model_vjp("inverted-pendulum", o, a, 0.0, np.zeros((2, 6)), np.zeros(2))
    with pytest.raises(ValueError, match="g_reward: expected 2 values"):
        mpg_tasks.model_vjp("inverted-pendulum", o, a, 0.0, np.zeros((2, 4)), np.zeros(5))
    with pytest.raises(ValueError, match="g_next: row 1 is not finite"):
        g = np.zeros((2, 4))
        g[1, 2] = np.nan
        mpg_tasks.model_vjp("inverted-pendulum", o, a, 0.0, g, np.zeros(2))


def test_the_rust_core_refuses_wrong_dtypes_and_layouts():
    # Called directly (bypassing the Python wrappers), numpy's own checks answer TypeError for
    # a wrong dtype; a non-contiguous array of the right dtype is a ValueError.
    b = mpg_tasks._core.Batch("inverted-pendulum", 2, 0)
    obs = np.zeros((2, 4), np.float32)
    with pytest.raises(ValueError, match="actions: the array must be C-contiguous"):
        b.step(np.zeros((2, 2), np.float32)[:, :1], obs, np.zeros(2, np.float32),
               np.zeros(2, bool), np.zeros(2, bool))
    with pytest.raises(ValueError, match="task: unknown task"):
        mpg_tasks._core.Batch("cartpole", 2, 0)
    with pytest.raises(ValueError, match="num_envs: must be at least 1"):
        mpg_tasks._core.Batch("inverted-pendulum", 0, 0)
