"""Transitions per second of the package's vector env from Python, beside the plain-Rust rollout
(`mpg env rollout`) and Gymnasium's MuJoCo InvertedPendulum-v5, in one sitting.

    python crates/mpg-py/bench/throughput.py --mpg target/release/mpg [--seconds 2]

Run it in a venv holding the mpg-tasks wheel, gymnasium and mujoco (docs/python.md says how).
Every row steps zero actions (no policy cost), one thread unless the row says otherwise:

* ``mpg_tasks`` vector env, two ways: (a) as ``mpg env rollout`` runs the simulator — no
  autoreset, no time limit (``done`` ignored, D18), ``copy=False`` (no allocation per step);
  (b) with Gymnasium's defaults — next-step autoreset, truncation at the evaluation length,
  ``copy=True`` (fresh output arrays each step); path tracking then under
  ``termination="corrected"`` (under ``"paper"`` every other step would be a reset, D1).
  Zero actions let the pendulums fall and the vehicles drift, so (b) resets now and then.
* ``mpg env rollout --policy zero``: the Rust loop over the same simulator (no resets). At one
  agent its time is dominated by the rayon ``pool.install`` it makes around every step.
* MuJoCo: ``gymnasium.make("InvertedPendulum-v5")`` stepped in a loop, resetting when an
  episode ends (1 agent), and ``gymnasium.make_vec(..., vectorization_mode="sync")`` (256 and
  4096 agents, Gymnasium's autoreset). Its episodes also end once |θ| > 0.2.

Prints a markdown table (one line per configuration) for docs/python.md.
"""

from __future__ import annotations

import argparse
import platform
import re
import subprocess
import time

import numpy as np


def timed(step, transitions_per_call: int, seconds: float) -> float:
    """Transitions per second of `step()` over about `seconds` (after a short warm-up)."""
    for _ in range(3):
        step()
    calls, t0 = 0, time.perf_counter()
    while True:
        for _ in range(16):
            step()
        calls += 16
        dt = time.perf_counter() - t0
        if dt >= seconds:
            return calls * transitions_per_call / dt


def ours(task_cls, n: int, seconds: float, gym_defaults: bool, threads: int = 1) -> float:
    if gym_defaults:
        venv = task_cls(num_envs=n, termination="corrected", threads=threads)
    else:
        venv = task_cls(
            num_envs=n, copy=False, autoreset=False, max_episode_steps=0, threads=threads
        )
    venv.reset(seed=0)
    act = np.zeros((n, venv.single_action_space.shape[0]), np.float32)
    return timed(lambda: venv.step(act), n, seconds)


def rust_rollout(mpg: str, task: str, n: int, seconds_hint: float, threads: int = 1) -> float:
    # Enough steps for about a second of simulation at a few million transitions/s.
    steps = max(100, int(3e6 * seconds_hint / n))
    out = subprocess.run(
        [mpg, "env", "rollout", "--task", task, "--policy", "zero", "--agents", str(n),
         "--steps", str(steps), "--threads", str(threads)],
        check=True, capture_output=True, text=True,
    )
    m = re.search(r"simulator: (\d+) transitions/s", out.stdout + out.stderr)
    if not m:
        raise RuntimeError(f"no throughput in: {out.stdout}{out.stderr}")
    return float(m.group(1))


def mujoco(n: int, seconds: float) -> float | None:
    try:
        import gymnasium as gym
        import mujoco  # noqa: F401
    except ImportError:
        return None
    if n == 1:
        env = gym.make("InvertedPendulum-v5")
        env.reset(seed=0)
        a = np.zeros(1, np.float32)

        def step():
            _, _, term, trunc, _ = env.step(a)
            if term or trunc:
                env.reset()

        return timed(step, 1, seconds)
    venv = gym.make_vec("InvertedPendulum-v5", num_envs=n, vectorization_mode="sync")
    venv.reset(seed=0)
    a = np.zeros((n, 1), np.float32)
    return timed(lambda: venv.step(a), n, seconds)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mpg", help="the mpg binary (a release build) for the Rust rows")
    ap.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    ap.add_argument("--agents", default="1,256,4096")
    args = ap.parse_args()

    import mpg_tasks

    agents = [int(a) for a in args.agents.split(",")]
    print(f"CPU: {cpu_model()}; Python {platform.python_version()}; numpy {np.__version__}")
    print()
    print("| task | agents | mpg_tasks, no reset, copy=False | mpg_tasks, Gymnasium defaults "
          "| Rust `mpg env rollout` | MuJoCo InvertedPendulum-v5 |")
    print("|---|---:|---:|---:|---:|---:|")
    for task, cls in (("inverted-pendulum", mpg_tasks.InvertedPendulumVectorEnv),
                      ("path-tracking", mpg_tasks.PathTrackingVectorEnv)):
        for n in agents:
            a = ours(cls, n, args.seconds, gym_defaults=False)
            b = ours(cls, n, args.seconds, gym_defaults=True)
            r = rust_rollout(args.mpg, task, n, args.seconds) if args.mpg else None
            m = mujoco(n, args.seconds) if task == "inverted-pendulum" else None
            cells = [f"{v / 1e6:.3f} M/s" if v else "–" for v in (a, b, r, m)]
            print(f"| {task} | {n} | " + " | ".join(cells) + " |", flush=True)
        n = agents[-1]
        a = ours(cls, n, args.seconds, gym_defaults=False, threads=2)
        r = rust_rollout(args.mpg, task, n, args.seconds, threads=2) if args.mpg else None
        cells = [f"{v / 1e6:.3f} M/s" if v else "–" for v in (a, None, r, None)]
        print(f"| {task} | {n}, 2 threads | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
