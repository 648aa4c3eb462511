"""Closed sets of values: ``enum`` (any dtype) and ``vocabulary`` (strings, maybe with OOV).

Elements are drawn from the listed values; the first listed is the simplest. A vocabulary
with ``oov`` also draws out-of-vocabulary strings for about :data:`OOV_SHARE` of the
elements (guaranteed not in the vocabulary).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st

from harness.contract.model import COMPLEX_DTYPES, FLOAT_DTYPES, INT_DTYPES, TensorSpec
from harness.generation.chance import chance
from harness.generation.domain import Domain, Place
from harness.generation.dtypes import float_info, is_integral

#: The share of out-of-vocabulary elements of a vocabulary input with ``oov``.
OOV_SHARE = 0.1


@dataclass(frozen=True, eq=False)
class PoolDomain(Domain):
    """Elements taken from ``values``; with ``oov``, sometimes a string outside them."""

    dtype: np.dtype[Any]
    values: tuple[Any, ...] = field(repr=False)
    oov: Domain | None = None
    _array: np.ndarray = field(init=False, repr=False)
    _members: frozenset[Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        array = np.empty(len(self.values), dtype=self.dtype)
        array[:] = list(self.values)
        object.__setattr__(self, "_array", array)
        object.__setattr__(self, "_members", frozenset(self.values))

    def simplest(self) -> Any:
        return self.values[0]

    def uniform(self, rng: np.random.Generator, n: int) -> np.ndarray:
        out = self._array[rng.integers(0, len(self.values), n)]
        if self.oov is not None:
            mask = rng.random(n) < OOV_SHARE
            count = int(mask.sum())
            if count:
                fresh = np.empty(count, dtype=object)
                fresh[:] = [self.outside(v) for v in self.oov.uniform(rng, count)]
                out[mask] = fresh
        return out

    def outside(self, value: bytes) -> bytes:
        """``value`` if it is not in the vocabulary, else ``value`` extended until it is not."""
        while value in self._members:
            value += b"~"
        return value

    def elements(self) -> st.SearchStrategy[Any]:
        listed = st.sampled_from(self.values)
        if self.oov is None:
            return listed
        unlisted = self.oov.elements().map(self.outside)
        return chance(OOV_SHARE).flatmap(lambda oov: unlisted if oov else listed)

    def from_elements(self, values: list[Any]) -> np.ndarray:
        out = np.empty(len(values), dtype=self.dtype)
        out[:] = values
        return out

    def edges(self) -> tuple[Any, ...]:
        if self.dtype == object:
            empty_ok = self.oov is not None or b"" in self._members
            return (b"",) if empty_ok else ()
        ordered = sorted(self.values, key=lambda v: (abs(v), repr(v))) if self.dtype.kind == "c" \
            else sorted(self.values)
        ends = [ordered[0], ordered[-1]]
        return tuple(dict.fromkeys(ends))


def enum_domain(spec: TensorSpec, place: Place, dtype: np.dtype[Any]) -> PoolDomain:
    """The listed ``enum`` values, checked to be values of ``dtype`` (and inside ``range``)."""
    assert spec.enum is not None
    values = []
    for i, raw in enumerate(spec.enum):
        where = place.at("enum", i)
        values.append(_enum_value(raw, spec.dtype, dtype, where))
        if spec.range is not None and spec.dtype not in COMPLEX_DTYPES:
            lo, hi = spec.range
            if not lo <= raw <= hi:
                raise where.error(f"enum value {raw!r} lies outside the range [{lo}, {hi}]")
    return PoolDomain(dtype, tuple(dict.fromkeys(values)))


def _enum_value(raw: Any, name: str, dtype: np.dtype[Any], where: Place) -> Any:
    if name == "string":
        if not isinstance(raw, str):
            raise where.error(f"enum value {raw!r} is not a string; dtype is string")
        return raw.encode("utf-8")
    if name == "bool":
        if not isinstance(raw, bool):
            raise where.error(f"enum value {raw!r} is not true/false; dtype is bool")
        return raw
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise where.error(f"enum value {raw!r} is not a number; dtype is {name}")
    if name in INT_DTYPES:
        info = np.iinfo(dtype)
        if not is_integral(raw):
            raise where.error(f"enum value {raw!r} is not an integer; dtype is {name}")
        if not info.min <= int(raw) <= info.max:
            raise where.error(f"enum value {raw!r} does not fit in {name} ({info.min}..{info.max})")
        return int(raw)
    part = np.dtype(np.float32) if name == "complex64" else (
        np.dtype(np.float64) if name == "complex128" else dtype)
    assert name in FLOAT_DTYPES + COMPLEX_DTYPES, name
    limit = float_info(part).max
    if not math.isfinite(raw) or abs(raw) > limit:
        raise where.error(f"enum value {raw!r} is not a finite {name} (largest {limit:g})")
    return float(np.array([raw], dtype=np.float64).astype(dtype)[0]) if dtype.kind == "f" \
        else complex(raw)
