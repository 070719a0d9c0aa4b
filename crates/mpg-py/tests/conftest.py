"""Shared fixtures: the golden files and the `mpg` binary they are replayed through."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[3]
GOLDEN = ROOT / "tests" / "golden"

TASKS = {
    "path-tracking": ("PathTracking", 6, 2),
    "inverted-pendulum": ("InvertedPendulum", 4, 1),
}


def read_table(path: Path) -> dict[str, np.ndarray]:
    """A CSV's columns as float64 arrays."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


def columns(table: dict[str, np.ndarray], prefix: str, n: int) -> np.ndarray:
    return np.stack([table[f"{prefix}{i}"] for i in range(n)], axis=1)


@pytest.fixture(scope="session")
def mpg_bin() -> Path | None:
    """The `mpg` binary: $MPG_BIN, else the checkout's debug or release build, else None (the
    tests that need it then compare with the golden files' own columns only)."""
    env = os.environ.get("MPG_BIN")
    if env:
        return Path(env)
    for p in (ROOT / "target" / "debug" / "mpg", ROOT / "target" / "release" / "mpg"):
        if p.exists():
            return p
    found = shutil.which("mpg")
    return Path(found) if found else None


def mpg_env_step(mpg_bin: Path, task: str, inp: Path, out: Path, *extra: str):
    subprocess.run(
        [str(mpg_bin), "env", "step", "--task", task, "--input", str(inp), "--output", str(out),
         *extra],
        check=True,
        capture_output=True,
    )
    return read_table(out)
