"""The Mixed Policy Gradient paper's two tasks for Python (issue 26).

Importing the package registers two Gymnasium ids::

    import gymnasium, mpg_tasks
    env = gymnasium.make("mpg/PathTracking-v0", termination="corrected")
    envs = gymnasium.make_vec("mpg/InvertedPendulum-v0", num_envs=256)

(``gymnasium.make("mpg_tasks:mpg/PathTracking-v0")`` imports the package itself.)

The prior models are plain functions over numpy arrays: :func:`model_step` and
:func:`model_vjp` (also as ``mpg_tasks.path_tracking.model_step`` etc.).

Everything runs in Rust (the workspace's ``mpg-envs`` and ``mpg-prior`` crates): the same
simulators and models as the ``mpg`` command line, bit for bit.
"""

from . import _core
from .envs import (
    InvertedPendulumEnv,
    InvertedPendulumVectorEnv,
    MpgEnv,
    MpgVectorEnv,
    PathTrackingEnv,
    PathTrackingVectorEnv,
)
from .models import model_step, model_vjp
from ._checks import as_float_array as _as_float_array
from . import models as _models

path_tracking = _models.TaskModel("path-tracking")
inverted_pendulum = _models.TaskModel("inverted-pendulum")

ENV_IDS = ("mpg/PathTracking-v0", "mpg/InvertedPendulum-v0")

__all__ = [
    "ENV_IDS",
    "InvertedPendulumEnv",
    "InvertedPendulumVectorEnv",
    "MpgEnv",
    "MpgVectorEnv",
    "PathTrackingEnv",
    "PathTrackingVectorEnv",
    "inverted_pendulum",
    "linear_policy",
    "model_step",
    "model_vjp",
    "path_tracking",
    "register_envs",
]


def linear_policy(task: str, obs):
    """The task's fixed linear controller (spec §5; the pendulum's LQR gain), as
    ``mpg env rollout --policy linear``: actions ``[n, act_dim]`` for ``obs [n, obs_dim]``."""
    return _core.linear_policy(
        _models._task(task), _as_float_array("obs", obs, _models.np.float32, ndim=2)
    )


def register_envs() -> None:
    """Register ``mpg/PathTracking-v0`` and ``mpg/InvertedPendulum-v0`` (idempotent).

    Truncation at the evaluation length (spec §1.11: 200 steps; §2.4: 100 steps) through
    Gymnasium's ``max_episode_steps``; ``gymnasium.make_vec`` builds the batched
    :class:`MpgVectorEnv` (its ``vector_entry_point``).
    """
    from gymnasium.envs.registration import register, registry

    for env_id, name, steps in (
        ("mpg/PathTracking-v0", "PathTracking", _core.task_spec("path-tracking")["eval_steps"]),
        (
            "mpg/InvertedPendulum-v0",
            "InvertedPendulum",
            _core.task_spec("inverted-pendulum")["eval_steps"],
        ),
    ):
        if env_id in registry:
            continue
        register(
            id=env_id,
            entry_point=f"mpg_tasks.envs:{name}Env",
            vector_entry_point=f"mpg_tasks.envs:{name}VectorEnv",
            max_episode_steps=steps,
        )


register_envs()
