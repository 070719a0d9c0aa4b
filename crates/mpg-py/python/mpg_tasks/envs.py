"""Gymnasium environments over the workspace's batched simulators (spec §1, §2).

* :class:`PathTrackingEnv`, :class:`InvertedPendulumEnv`: one agent, ``gymnasium.Env``
  (``gymnasium.make("mpg/PathTracking-v0")``, ``"mpg/InvertedPendulum-v0"``).
* :class:`PathTrackingVectorEnv`, :class:`InvertedPendulumVectorEnv`: ``num_envs`` agents of one
  batched simulator, ``gymnasium.vector.VectorEnv`` with next-step autoreset
  (``gymnasium.make_vec(id, num_envs=…)``).

Observations are raw (spec §1.1: ``[v_x − 20, v_y, r, Δy, Δφ, X]``; §2.1: ``[p, θ, ṗ, θ̇]``),
rewards raw (§1.6, §2.1). ``terminated`` is the task's ``done``; for path tracking it follows
decision D1: ``termination="paper"`` (the default, as the authors' code and the project's
trainers) reports ``done`` after *every* step, because the coded stability bounds are negative;
``termination="corrected"`` takes them as absolute values, so an episode ends on a real failure
(or truncates at 200 steps). ``truncated`` is the time limit, by default the evaluation length
(spec §1.11: 200 steps; §2.4: 100 steps).
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import batch_space

from . import _core
from ._checks import as_float_array

try:  # Gymnasium ≥ 1.1 names the autoreset mode in the metadata.
    from gymnasium.vector import AutoresetMode

    _NEXT_STEP = AutoresetMode.NEXT_STEP
except ImportError:  # pragma: no cover - Gymnasium 1.0
    _NEXT_STEP = "NextStep"

_TERMINATIONS = ("paper", "corrected")


def _core_seed(seed) -> int:
    """A Gymnasium seed (a non-negative int) as the simulator's u64 seed (D8)."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed: expected a non-negative integer or None, got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed: expected a non-negative integer or None, got {seed}")
    return int(seed) % 2**64


def _action_space(task: str, shape) -> spaces.Box:
    if task == "path-tracking":
        # Normalised u ∈ [−1, 1]²; the simulator clips after scaling (spec §1.1).
        return spaces.Box(-1.0, 1.0, shape=shape, dtype=np.float32)
    # a ∈ [−3, 3]: the MuJoCo ctrlrange; the simulator does not clamp (D5).
    return spaces.Box(-3.0, 3.0, shape=shape, dtype=np.float32)


def _check_termination(task: str, termination: str) -> str:
    if termination not in _TERMINATIONS:
        raise ValueError(
            f"termination: unknown rule {termination!r} (allowed: {', '.join(_TERMINATIONS)})"
        )
    return termination


class MpgEnv(gym.Env):
    """One agent of a task's simulator. Subclasses set ``TASK``."""

    TASK: str = ""
    metadata = {"render_modes": ["rgb_array"], "render_fps": 25}

    def __init__(self, render_mode: str | None = None, termination: str = "paper"):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode: unknown mode {render_mode!r} (allowed: None, 'rgb_array')"
            )
        self.render_mode = render_mode
        self.termination = _check_termination(self.TASK, termination)
        spec = _core.task_spec(self.TASK)
        self._od, self._ad = spec["obs_dim"], spec["act_dim"]
        self.observation_space = spaces.Box(
            -np.inf, np.inf, shape=(self._od,), dtype=np.float32
        )
        self.action_space = _action_space(self.TASK, (self._ad,))
        # One agent, no autoreset (Gymnasium's single env is reset by its caller), no time
        # limit of its own (the registration's TimeLimit truncates).
        self._batch = _core.Batch(self.TASK, 1, 0, termination, 0, False, 1)
        self._seeded = False
        self._obs = np.zeros((1, self._od), dtype=np.float32)
        self._rew = np.zeros(1, dtype=np.float32)
        self._term = np.zeros(1, dtype=bool)
        self._trunc = np.zeros(1, dtype=bool)
        self._last_action = np.zeros(self._ad, dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Draw a state from the reset distribution (spec §1.7, §2.1).

        ``seed`` seeds the simulator's generator (the first reset without one draws a seed
        from Gymnasium's ``np_random``); ``options={"obs": o}`` then sets the state from an
        observation instead (the authors' ``reset(init_obs=…)``).
        """
        core_seed = None if seed is None else _core_seed(seed)
        super().reset(seed=seed)
        if core_seed is None and not self._seeded:
            core_seed = int(self.np_random.integers(0, 2**63))
        self._seeded = True
        self._batch.reset(self._obs, core_seed)
        if options:
            unknown = set(options) - {"obs"}
            if unknown:
                raise ValueError(f"options: unknown keys {sorted(unknown)} (allowed: 'obs')")
            obs = as_float_array("options['obs']", options["obs"], np.float32, ndim=1)
            if obs.shape != (self._od,):
                raise ValueError(
                    f"options['obs']: expected shape ({self._od},), got {obs.shape}"
                )
            self._batch.set_obs(obs.reshape(1, self._od))
            self._batch.observe(self._obs)
        self._last_action[:] = 0.0
        return self._obs[0].copy(), {}

    def step(self, action):
        a = as_float_array("action", action, np.float32)
        if a.shape != (self._ad,):
            raise ValueError(f"action: expected shape ({self._ad},), got {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"action: not finite ({a.tolist()})")
        self._batch.step(a.reshape(1, self._ad), self._obs, self._rew, self._term, self._trunc)
        self._last_action[:] = a
        return (
            self._obs[0].copy(),
            float(self._rew[0]),
            bool(self._term[0]),
            bool(self._trunc[0]),
            {},
        )

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        return self._draw(self._obs[0].astype(np.float64), self._last_action)

    def _draw(self, obs, action) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError


# --- drawing (numpy only) ---------------------------------------------------------------------

_H, _W = 240, 320


def _canvas() -> np.ndarray:
    return np.full((_H, _W, 3), 255, dtype=np.uint8)


def _stamp(img, rows, cols, color, radius=1):
    """Discs of ``radius`` pixels at the given (float) pixel positions."""
    rows = np.rint(np.asarray(rows)).astype(int)
    cols = np.rint(np.asarray(cols)).astype(int)
    for dr in range(-radius, radius + 1):
        for dc in range(-radius, radius + 1):
            if dr * dr + dc * dc > radius * radius:
                continue
            r, c = rows + dr, cols + dc
            ok = (r >= 0) & (r < _H) & (c >= 0) & (c < _W)
            img[r[ok], c[ok]] = color


def _segment(img, p0, p1, color, radius=1):
    n = int(max(abs(p1[0] - p0[0]), abs(p1[1] - p0[1]))) + 2
    t = np.linspace(0.0, 1.0, n)
    _stamp(img, p0[0] + t * (p1[0] - p0[0]), p0[1] + t * (p1[1] - p0[1]), color, radius)


def _fill_polygon(img, rows, cols, color):
    """Fill a convex polygon given by its corners' pixel positions (in order)."""
    rr, cc = np.mgrid[0:_H, 0:_W]
    inside = np.ones((_H, _W), dtype=bool)
    sign = None
    k = len(rows)
    for i in range(k):
        r0, c0, r1, c1 = rows[i], cols[i], rows[(i + 1) % k], cols[(i + 1) % k]
        cross = (c1 - c0) * (rr - r0) - (r1 - r0) * (cc - c0)
        if sign is None:
            area = sum(
                (cols[(j + 1) % k] - cols[j]) * (rows[(j + 1) % k] + rows[j]) for j in range(k)
            )
            sign = -1.0 if area > 0 else 1.0
        inside &= sign * cross >= 0
    img[inside] = color


class PathTrackingEnv(MpgEnv):
    """The vehicle path-tracking task (spec §1): 6-d observation, 2-d action.

    ``termination``: ``"paper"`` (D1 as coded: ``terminated`` after every step) or
    ``"corrected"`` (a real failure ends the episode; 200-step limit).
    """

    TASK = "path-tracking"
    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def _draw(self, obs, action):
        """The vehicle (blue, its front red) on the reference path (grey), 60 m × 45 m
        around it, x to the right and y up."""
        img = _canvas()
        x = obs[5]
        scale = _W / 60.0  # pixels per metre
        y_ref, phi_ref = _core.path_reference(float(x))
        y = obs[3] + y_ref
        phi = obs[4] + phi_ref

        def px(wx, wy):
            return (_H / 2 - (wy - y) * scale, _W / 2 + (wx - x) * scale)

        xs = x + np.linspace(-30.0, 30.0, 2 * _W)
        ys = np.array([_core.path_reference(float(v))[0] for v in xs])
        r, c = px(xs, ys)
        _stamp(img, r, c, (150, 150, 150), radius=1)
        half_l, half_w = 2.3, 0.9
        corners = [(half_l, half_w), (half_l, -half_w), (-half_l, -half_w), (-half_l, half_w)]
        cs, sn = math.cos(phi), math.sin(phi)
        pts = [px(x + a * cs - b * sn, y + a * sn + b * cs) for a, b in corners]
        _fill_polygon(img, [p[0] for p in pts], [p[1] for p in pts], (40, 90, 200))
        _segment(img, pts[0], pts[1], (220, 40, 40), radius=1)
        return img


class InvertedPendulumEnv(MpgEnv):
    """The inverted pendulum (spec §2; the MuJoCo task as an analytic cart-pole): 4-d
    observation, 1-d action (force = 100·a N, not clamped, D5)."""

    TASK = "inverted-pendulum"
    metadata = {"render_modes": ["rgb_array"], "render_fps": 25}

    def __init__(self, render_mode: str | None = None, termination: str = "paper"):
        super().__init__(render_mode=render_mode, termination=termination)

    def _draw(self, obs, action):
        """The cart (blue) on its rail and the pole (brown), ±2.5 m of rail around 0."""
        img = _canvas()
        p, theta = obs[0], obs[1]
        scale = _W / 5.0
        rail = _H * 0.7
        _segment(img, (rail, 0), (rail, _W - 1), (120, 120, 120), radius=0)
        cx = _W / 2 + p * scale
        cart_r = [rail - 10, rail - 10, rail + 10, rail + 10]
        cart_c = [cx - 20, cx + 20, cx + 20, cx - 20]
        _fill_polygon(img, cart_r, cart_c, (40, 90, 200))
        length = 0.6 * scale  # the pole's 0.6 m (spec §2.3)
        tip = (rail - 10 - length * math.cos(theta), cx + length * math.sin(theta))
        _segment(img, (rail - 10, cx), tip, (150, 90, 30), radius=3)
        return img


class MpgVectorEnv(gym.vector.VectorEnv):
    """``num_envs`` agents of one batched simulator (spec §1, §2), stepped in Rust with the
    GIL released.

    * Autoreset as Gymnasium ≥ 1.0's default (next step): an agent whose episode ended
      (terminated or truncated) is reset at the following ``step``, which ignores its action and
      returns its first observation with reward 0, ``terminated = truncated = False``. With
      ``autoreset=False`` (Gymnasium's ``AutoresetMode.DISABLED``) agents are never reset by
      ``step``: they keep stepping from where they are, as the project's evaluation does (D7:
      ``done`` ignored inside an episode).
    * ``max_episode_steps``: truncation (None: the evaluation length; 0: none).
    * ``threads``: threads stepping the simulator (the agents are split in blocks of 64; the
      numbers do not depend on the thread count).
    * ``copy``: with ``False``, every call returns the same output arrays (overwritten by the
      next call; no allocation at all), as Gymnasium's own ``copy=False``.
    * ``reset(seed=s)`` draws the same states as ``mpg env rollout --seed s --agents n``;
      ``reset(options={"obs": o})`` then sets every agent's state from ``o [num_envs, obs_dim]``.
    """

    TASK: str = ""
    metadata = {"autoreset_mode": _NEXT_STEP, "render_modes": []}

    def __init__(
        self,
        num_envs: int = 1,
        termination: str = "paper",
        max_episode_steps: int | None = None,
        threads: int = 1,
        copy: bool = True,
        autoreset: bool = True,
        render_mode: str | None = None,
    ):
        if render_mode is not None:
            raise ValueError(
                f"render_mode: the vector env does not render (got {render_mode!r}); "
                "use the single env"
            )
        for name, v, low in (("num_envs", num_envs, 1), ("threads", threads, 1)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
                raise ValueError(f"{name}: expected an integer ≥ {low}, got {v!r}")
        spec = _core.task_spec(self.TASK)
        if max_episode_steps is None:
            max_episode_steps = spec["eval_steps"]
        if (
            isinstance(max_episode_steps, bool)
            or not isinstance(max_episode_steps, (int, np.integer))
            or not 0 <= max_episode_steps < 2**32
        ):
            raise ValueError(
                f"max_episode_steps: expected an integer ≥ 0 (0: no limit), got "
                f"{max_episode_steps!r}"
            )
        self.termination = _check_termination(self.TASK, termination)
        self.num_envs = int(num_envs)
        self.max_episode_steps = int(max_episode_steps)
        self.copy = bool(copy)
        self.autoreset = bool(autoreset)
        if not self.autoreset:
            self.metadata = {
                **self.metadata,
                "autoreset_mode": getattr(
                    getattr(gym.vector, "AutoresetMode", None), "DISABLED", "Disabled"
                ),
            }
        self.render_mode = None
        self._od, self._ad = spec["obs_dim"], spec["act_dim"]
        self.single_observation_space = spaces.Box(
            -np.inf, np.inf, shape=(self._od,), dtype=np.float32
        )
        self.single_action_space = _action_space(self.TASK, (self._ad,))
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._batch = _core.Batch(
            self.TASK,
            self.num_envs,
            0,
            termination,
            self.max_episode_steps,
            self.autoreset,
            int(threads),
        )
        self._seeded = False
        self._bufs = self._new_buffers()

    def _new_buffers(self):
        n = self.num_envs
        return (
            np.empty((n, self._od), dtype=np.float32),
            np.empty(n, dtype=np.float32),
            np.empty(n, dtype=bool),
            np.empty(n, dtype=bool),
        )

    def _buffers(self):
        return self._new_buffers() if self.copy else self._bufs

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is not None and not isinstance(seed, (int, np.integer)):
            raise ValueError(
                f"seed: expected one non-negative integer for the whole batch or None, got "
                f"{seed!r}"
            )
        core_seed = None if seed is None else _core_seed(seed)
        super().reset(seed=seed)
        if core_seed is None and not self._seeded:
            core_seed = int(self.np_random.integers(0, 2**63))
        self._seeded = True
        obs = self._buffers()[0]
        self._batch.reset(obs, core_seed)
        if options:
            unknown = set(options) - {"obs"}
            if unknown:
                raise ValueError(f"options: unknown keys {sorted(unknown)} (allowed: 'obs')")
            o = as_float_array("options['obs']", options["obs"], np.float32, ndim=2)
            self._batch.set_obs(o)
            self._batch.observe(obs)
        return obs, {}

    def step(self, actions):
        a = as_float_array("actions", actions, np.float32, ndim=2)
        if a.shape != (self.num_envs, self._ad):
            raise ValueError(
                f"actions: expected shape ({self.num_envs}, {self._ad}), got {a.shape}"
            )
        obs, rew, term, trunc = self._buffers()
        self._batch.step(a, obs, rew, term, trunc)
        return obs, rew, term, trunc, {}

    def close_extras(self, **kwargs):
        pass


class PathTrackingVectorEnv(MpgVectorEnv):
    """``num_envs`` vehicles of the path-tracking task (spec §1); see :class:`MpgVectorEnv`."""

    TASK = "path-tracking"


class InvertedPendulumVectorEnv(MpgVectorEnv):
    """``num_envs`` inverted pendulums (spec §2); see :class:`MpgVectorEnv`."""

    TASK = "inverted-pendulum"
