"""Train Stable-Baselines3's TD3 on the paper's inverted pendulum through the Gymnasium package.

Not run in CI (it needs PyTorch and takes minutes). From the checkout::

    just py                                   # builds and installs mpg-tasks into .venv-py
    .venv-py/bin/pip install stable-baselines3
    .venv-py/bin/python crates/mpg-py/examples/sb3_td3_pendulum.py --steps 5000

The environment is ``mpg/InvertedPendulum-v0``: observation ``[p, θ, ṗ, θ̇]``, action ``a`` in
``[−3, 3]`` (force 100·a N), reward ``−(0.01p² + θ² + 0.1ṗ² + 0.1θ̇²)``, terminated when
``|p| ≥ 2`` or ``|θ| > 0.2``, truncated after 100 steps (spec §2). The script evaluates the policy
before and after training on the project's protocol (D7: fresh 100-step episodes, deterministic
action, ``done`` ignored, raw rewards summed) and prints both, beside the paper's goal of −2
(spec §5) and the fixed LQR controller's score.
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np

import mpg_tasks


def evaluate(act, episodes: int = 5, seed: int = 1000) -> float:
    """Mean raw return of fresh 100-step episodes with ``done`` ignored (D7): the episodes are
    the agents of one vector env without time limit or autoreset."""
    venv = mpg_tasks.InvertedPendulumVectorEnv(
        num_envs=episodes, max_episode_steps=0, autoreset=False
    )
    obs, _ = venv.reset(seed=seed)
    ret = np.zeros(episodes)
    for _ in range(100):
        obs, rew, _, _, _ = venv.step(act(obs))
        ret += rew
    return float(ret.mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=5000, help="environment steps of training")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from stable_baselines3 import TD3
    from stable_baselines3.common.noise import NormalActionNoise

    env = gym.make("mpg/InvertedPendulum-v0")
    noise = NormalActionNoise(mean=np.zeros(1), sigma=0.3 * np.ones(1))
    model = TD3(
        "MlpPolicy", env, action_noise=noise, learning_starts=500, seed=args.seed, verbose=0
    )

    def policy(obs):
        return model.predict(obs, deterministic=True)[0]

    lqr = evaluate(lambda o: mpg_tasks.linear_policy("inverted-pendulum", o))
    before = evaluate(policy)
    model.learn(total_timesteps=args.steps)
    after = evaluate(policy)
    print(f"TD3 on mpg/InvertedPendulum-v0, {args.steps} steps, seed {args.seed}")
    print(f"  mean return before training: {before:9.3f}")
    print(f"  mean return after training:  {after:9.3f}")
    print(f"  LQR controller:              {lqr:9.3f}   (goal, spec §5: -2)")


if __name__ == "__main__":
    main()
