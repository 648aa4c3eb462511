"""Numeric value domains: floats (incl. float16/bfloat16), integers, bools, complex.

Defaults when the contract gives no ``range``:

* floats: [-1e3, 1e3] (:data:`DEFAULT_FLOAT_RANGE`), intersected with the dtype's finite range;
* integers: the dtype's range intersected with [-1000, 1000] (:data:`DEFAULT_INT_RANGE`),
  so int8 and uint8 use their full range;
* complex: the real and the imaginary part each in the float default (a ``range`` on a
  complex input bounds both parts).

A ``range`` is intersected with what the dtype can hold; a range holding no value of the
dtype is a :class:`~harness.errors.ContractError`. Float ranges are rounded inward to
representable values, so a float32 input with range [0.1, 0.9] never holds a value below
0.1 or above 0.9. Subnormals never appear unless ``allow_subnormal``; NaN and +-Inf only
as edge values and only when ``allow_nan`` / ``allow_inf`` (then regardless of ``range``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from hypothesis import strategies as st

from harness.contract.model import TensorSpec
from harness.generation.domain import Domain, Place, unit_floats
from harness.generation.dtypes import float_info, round_down, round_up

DEFAULT_FLOAT_RANGE = (-1e3, 1e3)
DEFAULT_INT_RANGE = (-1000, 1000)


def _band_fraction(rng: np.random.Generator) -> float:
    """Width of a narrow band as a share of the range: 10**-0.5 .. 10**-6."""
    return float(10.0 ** -rng.uniform(0.5, 6.0))


@dataclass(frozen=True)
class FloatDomain(Domain):
    """Finite floats in [low, high]; ``low``/``high`` are values of ``dtype``."""

    dtype: np.dtype[Any]
    low: float
    high: float
    allow_nan: bool = False
    allow_inf: bool = False
    allow_subnormal: bool = False

    @property
    def _compute(self) -> np.dtype[Any]:
        return np.dtype(np.float64) if self.dtype.itemsize == 8 else np.dtype(np.float32)

    @property
    def _tiny(self) -> float:
        return float_info(self.dtype).tiny

    def simplest(self) -> float:
        return _nearest_zero(self.low, self.high)

    def uniform(self, rng: np.random.Generator, n: int) -> np.ndarray:
        compute = self._compute
        x = unit_floats(rng, n, compute)
        span = self.high - self.low
        if math.isfinite(span) and span <= float(np.finfo(compute).max):
            x *= compute.type(span)
            x += compute.type(self.low)
        else:  # a span beyond the compute type: mix the ends in float64
            u64 = x.astype(np.float64)
            x = (1.0 - u64) * self.low + u64 * self.high
        return self._finish(x)

    def band(self, rng: np.random.Generator, n: int) -> np.ndarray:
        centre = float(self.uniform(rng, 1)[0])
        fraction = _band_fraction(rng)
        width = self.high * fraction - self.low * fraction
        # keep the whole band inside, so it does not pile up on a range end when clipped
        centre = min(max(centre, self.low + width / 2), self.high - width / 2)
        compute = self._compute
        u = unit_floats(rng, n, compute)
        u -= compute.type(0.5)
        with np.errstate(over="ignore"):  # only near +-max; clipped back into the range
            u *= compute.type(width)
            u += compute.type(centre)
        return self._finish(u)

    def _finish(self, x: np.ndarray) -> np.ndarray:
        """Clip into [low, high] in the compute dtype, flush subnormals, cast to ``dtype``."""
        x = x.astype(self._compute, copy=False)
        np.clip(x, self.low, self.high, out=x)
        if not self.allow_subnormal and self.low < self._tiny and self.high > -self._tiny:
            tiny = self._compute.type(self._tiny)
            sub = x < tiny
            sub &= x > -tiny
            sub &= x != 0
            if sub.any():
                x[sub] = 0.0  # 0 is inside: the range reaches both sides of the subnormals
        return x.astype(self.dtype, copy=False)

    def elements(self) -> st.SearchStrategy[float]:
        width: Literal[16, 32, 64] = 16 if self.dtype == np.float16 else (
            64 if self.dtype.itemsize == 8 else 32)
        return st.floats(self.low, self.high, width=width, allow_nan=False,
                         allow_infinity=False, allow_subnormal=self.allow_subnormal)

    def from_elements(self, values: list[Any]) -> np.ndarray:
        return np.asarray(values, dtype=self._compute).astype(self.dtype)

    def edges(self) -> tuple[float, ...]:
        info = float_info(self.dtype)
        candidates = [self.low, self.high, 0.0, -0.0, info.tiny, -info.tiny]
        if self.allow_subnormal:
            largest_sub = info.tiny - info.smallest_subnormal
            candidates += [info.smallest_subnormal, -info.smallest_subnormal,
                           largest_sub, -largest_sub]
        inside = [v for v in candidates if self.low <= v <= self.high]
        if self.allow_nan:
            inside.append(math.nan)
        if self.allow_inf:
            inside += [math.inf, -math.inf]
        return _unique_floats(inside)


@dataclass(frozen=True)
class IntDomain(Domain):
    """Integers in [low, high], both inside the dtype."""

    dtype: np.dtype[Any]
    low: int
    high: int

    def simplest(self) -> int:
        return int(_nearest_zero(self.low, self.high))

    def uniform(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.integers(self.low, self.high, size=n, endpoint=True, dtype=self.dtype)

    def band(self, rng: np.random.Generator, n: int) -> np.ndarray:
        centre = int(self.uniform(rng, 1)[0])
        width = max(1, int((self.high - self.low) * _band_fraction(rng)))
        return rng.integers(max(self.low, centre - width), min(self.high, centre + width),
                            size=n, endpoint=True, dtype=self.dtype)

    def elements(self) -> st.SearchStrategy[int]:
        return st.integers(self.low, self.high)

    def from_elements(self, values: list[Any]) -> np.ndarray:
        return np.asarray(values, dtype=self.dtype)

    def edges(self) -> tuple[int, ...]:
        out: list[int] = []
        for v in (self.low, self.high, 0, -1, 1):
            if self.low <= v <= self.high and v not in out:
                out.append(v)
        return tuple(out)


@dataclass(frozen=True)
class BoolDomain(Domain):
    dtype: np.dtype[Any] = np.dtype(np.bool_)

    def simplest(self) -> bool:
        return False

    def uniform(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.random(n) < 0.5

    def band(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.random(n) < rng.random()  # a drawn share of True

    def elements(self) -> st.SearchStrategy[bool]:
        return st.booleans()

    def edges(self) -> tuple[bool, ...]:
        return (False, True)


@dataclass(frozen=True)
class ComplexDomain(Domain):
    """Complex numbers whose real and imaginary parts are each drawn from ``part``."""

    dtype: np.dtype[Any]
    part: FloatDomain

    def simplest(self) -> complex:
        return complex(self.part.simplest(), self.part.simplest())

    def uniform(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self._combine(self.part.uniform(rng, n), self.part.uniform(rng, n))

    def fill(self, rng: np.random.Generator, n: int, kind: str) -> np.ndarray:
        return self._combine(self.part.fill(rng, n, kind), self.part.fill(rng, n, kind))

    def _combine(self, real: np.ndarray, imag: np.ndarray) -> np.ndarray:
        out = np.empty(len(real), dtype=self.dtype)
        out.real = real
        out.imag = imag
        return out

    def elements(self) -> st.SearchStrategy[complex]:
        return st.builds(complex, self.part.elements(), self.part.elements())

    def edges(self) -> tuple[complex, ...]:
        zero = self.part.simplest()
        out: list[complex] = []
        seen: set[str] = set()
        for e in self.part.edges():
            for value in (complex(e, zero), complex(zero, e)):
                if repr(value) not in seen:
                    seen.add(repr(value))
                    out.append(value)
        return tuple(out)


# --------------------------------------------------------------------------- building


def float_domain(spec: TensorSpec, place: Place, dtype: np.dtype[Any]) -> FloatDomain:
    """The float domain of ``spec`` (also used for complex parts and example features)."""
    info = float_info(dtype)
    given = spec.range is not None
    lo, hi = (float(spec.range[0]), float(spec.range[1])) if spec.range else DEFAULT_FLOAT_RANGE
    where = place.at("range") if given else place
    if lo > hi:
        raise where.error(f"range [{lo:g}, {hi:g}] is empty: min is greater than max")
    if hi < -info.max or lo > info.max:
        raise where.error(f"range [{lo:g}, {hi:g}] lies outside {dtype.name}, whose finite values "
                          f"are within +-{info.max:g}")
    low, high = round_up(max(lo, -info.max), dtype), round_down(min(hi, info.max), dtype)
    if low > high:
        raise where.error(f"range [{lo:g}, {hi:g}] contains no {dtype.name} value "
                          f"(the nearest are {round_down(lo, dtype)!r} and {round_up(hi, dtype)!r})")
    if not spec.allow_subnormal:
        if 0 < low < info.tiny:
            low = info.tiny
        if -info.tiny < high < 0:
            high = -info.tiny
        if low > high:
            raise where.error(f"range [{lo:g}, {hi:g}] holds only subnormal {dtype.name} values",
                              hint='set "allow_subnormal": true or widen the range')
    return FloatDomain(dtype, low, high, spec.allow_nan, spec.allow_inf, spec.allow_subnormal)


def int_domain(spec: TensorSpec, place: Place, dtype: np.dtype[Any]) -> IntDomain:
    info = np.iinfo(dtype)
    if spec.range is None:
        low, high = max(DEFAULT_INT_RANGE[0], int(info.min)), min(DEFAULT_INT_RANGE[1], int(info.max))
        return IntDomain(dtype, low, high)
    lo, hi = spec.range
    low = max(math.ceil(lo), int(info.min))
    high = min(math.floor(hi), int(info.max))
    if low > high:
        raise place.at("range").error(
            f"range [{lo}, {hi}] contains no {dtype.name} value ({dtype.name} holds "
            f"{info.min}..{info.max})")
    return IntDomain(dtype, low, high)


def bool_domain(spec: TensorSpec, place: Place, dtype: np.dtype[Any]) -> BoolDomain:
    if spec.range is not None:
        raise place.at("range").error("a range does not apply to dtype bool")
    return BoolDomain(dtype)


def complex_domain(spec: TensorSpec, place: Place, dtype: np.dtype[Any]) -> ComplexDomain:
    part_dtype = np.dtype(np.float32) if dtype == np.complex64 else np.dtype(np.float64)
    return ComplexDomain(dtype, float_domain(spec, place, part_dtype))


def _nearest_zero(low: float, high: float) -> float:
    if low <= 0 <= high:
        return 0.0 if isinstance(low, float) else 0
    return low if low > 0 else high


def _unique_floats(values: list[float]) -> tuple[float, ...]:
    seen: set[str] = set()
    out = []
    for v in values:
        key = repr(float(v))
        if key not in seen:
            seen.add(key)
            out.append(float(v))
    return tuple(out)
