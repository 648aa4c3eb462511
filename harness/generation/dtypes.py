"""Contract dtype names -> numpy dtypes, and exact float bounds.

numpy has no bfloat16; :mod:`ml_dtypes` (installed with TensorFlow) provides it. Strings
are numpy ``object`` arrays of ``bytes``, which is what TensorFlow accepts for tf.string.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.contract.model import DTYPES
from harness.generation.domain import Place

_NUMPY_NAMES = {name: name for name in DTYPES if name not in ("bfloat16", "string")}
_NUMPY_NAMES["string"] = "object"
_UINT_OF_SIZE = {2: np.uint16, 4: np.uint32, 8: np.uint64}


def numpy_dtype(name: str, place: Place | None = None) -> np.dtype[Any]:
    """The numpy dtype for a contract dtype name; bfloat16 needs :mod:`ml_dtypes`."""
    if name == "bfloat16":
        try:
            import ml_dtypes
        except ImportError:
            message = "bfloat16 inputs need ml_dtypes (numpy has no bfloat16)"
            hint = "pip install ml_dtypes (TensorFlow installs it)"
            if place is None:
                from harness.errors import ContractError

                raise ContractError(message, hint=hint) from None
            raise place.error(message, hint=hint) from None
        return np.dtype(ml_dtypes.bfloat16)
    if name not in _NUMPY_NAMES:
        raise KeyError(f"unknown dtype {name!r}")
    return np.dtype(_NUMPY_NAMES[name])


@dataclass(frozen=True)
class FloatInfo:
    """The limits of a float dtype that generation needs."""

    max: float
    tiny: float  # smallest positive normal
    smallest_subnormal: float
    bits: int  # 16, 32 or 64 (bfloat16: 16)


@functools.lru_cache(maxsize=None)
def float_info(dtype: np.dtype[Any]) -> FloatInfo:
    """The limits of ``dtype`` (kept: generation asks for them on every drawn tensor)."""
    if dtype.name == "bfloat16":
        import ml_dtypes

        info: Any = ml_dtypes.finfo(dtype)
    else:
        info = np.finfo(dtype)
    return FloatInfo(float(info.max), float(info.tiny), float(info.smallest_subnormal),
                     dtype.itemsize * 8)


def round_up(value: float, dtype: np.dtype[Any]) -> float:
    """The smallest finite ``dtype`` value >= ``value`` (``value`` within +-max of dtype)."""
    x = _nearest(value, dtype)
    if float(x[0]) < value:
        x = _step(x, up=True)
    return float(x[0])


def round_down(value: float, dtype: np.dtype[Any]) -> float:
    """The largest finite ``dtype`` value <= ``value`` (``value`` within +-max of dtype)."""
    x = _nearest(value, dtype)
    if float(x[0]) > value:
        x = _step(x, up=False)
    return float(x[0])


def _nearest(value: float, dtype: np.dtype[Any]) -> np.ndarray:
    limit = float_info(dtype).max
    clamped = min(max(value, -limit), limit)
    return np.array([clamped], dtype=np.float64).astype(dtype)


def _step(x: np.ndarray, *, up: bool) -> np.ndarray:
    """The next representable value above/below ``x`` (a 1-element array), via its bits."""
    uint = _UINT_OF_SIZE[x.dtype.itemsize]
    if float(x[0]) == 0.0:
        tiniest = np.array([1], dtype=uint).view(x.dtype)
        return tiniest if up else -tiniest
    bits = x.view(uint).copy()
    if (float(x[0]) > 0) == up:
        bits += uint(1)
    else:
        bits -= uint(1)
    return bits.view(x.dtype)


def is_integral(value: Any) -> bool:
    """True for ints and integral finite floats (JSON numbers), never for bools."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value) and value == int(value)
