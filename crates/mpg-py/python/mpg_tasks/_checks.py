"""Input conversion shared by the environments and the models: every bad input is a
``ValueError`` naming the argument (never a crash, never a silent cast of garbage)."""

from __future__ import annotations

import numpy as np

# Real numbers only: booleans, complex numbers, strings and objects are refused.
_NUMERIC_KINDS = "fiu"


def as_float_array(name: str, value, dtype, ndim: int | None = None) -> np.ndarray:
    """``value`` as a C-contiguous array of ``dtype`` (no copy when it already is one)."""
    try:
        arr = np.asarray(value)
    except Exception as e:  # ragged lists and the like
        raise ValueError(f"{name}: not an array of numbers ({e})") from None
    if arr.dtype.kind not in _NUMERIC_KINDS:
        raise ValueError(
            f"{name}: expected real numbers (a float or integer dtype), got dtype {arr.dtype}"
        )
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-d array, got shape {arr.shape}")
    return np.asarray(arr, dtype=dtype, order="C")
