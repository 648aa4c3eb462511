"""What one input's elements may be: the base of every value domain.

A domain answers four questions for the tensor strategy:

* :meth:`Domain.elements` - a hypothesis strategy for one element (small tensors are drawn
  element-wise, so hypothesis shrinks each value);
* :meth:`Domain.fill` - ``n`` elements from a seeded numpy generator for a *fill kind*
  (large tensors: hypothesis draws only the kind and the seed, so shrinking stays cheap);
* :meth:`Domain.edges` - the edge values an edge-seeded tensor gets at a few positions;
* :meth:`Domain.simplest` - the value everything shrinks to.

Fill kinds, simplest first (hypothesis shrinks toward the first): ``zeros`` (every element
the simplest value), ``constant`` (one drawn value everywhere), ``uniform`` (independent
values over the whole domain), ``band`` (values in a narrow band around a drawn centre)
and ``sparse`` (mostly the simplest value, a drawn share of uniform values).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from hypothesis import strategies as st

from harness.errors import ContractError

FILL_KINDS = ("zeros", "constant", "uniform", "band", "sparse")

@dataclass(frozen=True)
class Place:
    """Where a contract problem is reported: the contract file and a JSON pointer."""

    file: Path
    pointer: str

    def at(self, *keys: object) -> "Place":
        """The place of a key below this one (RFC 6901 escaping)."""
        tail = "".join("/" + str(k).replace("~", "~0").replace("/", "~1") for k in keys)
        return Place(self.file, self.pointer.rstrip("/") + tail)

    def error(self, message: str, hint: str | None = None) -> ContractError:
        return ContractError(message, file=self.file, place=self.pointer, hint=hint)


class Domain(ABC):
    """The set of values one input's elements are drawn from (frozen dataclasses subclass it)."""

    #: The numpy dtype of generated arrays (``object`` for strings).
    dtype: np.dtype[Any]

    @abstractmethod
    def simplest(self) -> Any:
        """The value every element shrinks to (0, or the range end nearest 0, b"" ...)."""

    @abstractmethod
    def uniform(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` independent values spread over the whole domain (1-D array of ``dtype``)."""

    @abstractmethod
    def elements(self) -> st.SearchStrategy[Any]:
        """One element, drawn by hypothesis (used for small tensors)."""

    @abstractmethod
    def edges(self) -> tuple[Any, ...]:
        """Edge values of this domain, all inside it (NaN/Inf/subnormal only when allowed)."""

    def band(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Values close together: here, a few distinct values repeated."""
        few = self.uniform(rng, int(rng.integers(1, 4)))
        return few[rng.integers(0, len(few), n)]

    def from_elements(self, values: list[Any]) -> np.ndarray:
        """A 1-D array of ``dtype`` from values drawn with :meth:`elements`."""
        out = np.empty(len(values), dtype=self.dtype)
        out[:] = values
        return out

    def full(self, n: int, value: Any) -> np.ndarray:
        """``n`` copies of ``value``."""
        out = np.empty(n, dtype=self.dtype)
        out.fill(value)
        return out

    def fill(self, rng: np.random.Generator, n: int, kind: str) -> np.ndarray:
        """``n`` values of fill ``kind`` (one of :data:`FILL_KINDS`), all inside the domain."""
        return _FILLS[kind](self, rng, n)


def unit_floats(rng: np.random.Generator, n: int, dtype: np.dtype[Any]) -> np.ndarray:
    """``n`` uniform values in [0, 1) of float32 or float64, made with as few passes as possible.

    float32: 23 random mantissa bits under the exponent of 1.0 give [1, 2); minus 1 gives
    [0, 1) on a 2**-23 grid. This is about twice as fast as ``rng.random(dtype=float32)``.
    """
    if dtype != np.float32:
        return rng.random(n)
    bits = rng.bit_generator.random_raw((n + 1) // 2).view(np.uint32)[:n]
    bits >>= np.uint32(9)
    bits |= np.uint32(0x3F800000)
    out = bits.view(np.float32)
    out -= np.float32(1.0)
    return out


def _zeros(domain: Domain, rng: np.random.Generator, n: int) -> np.ndarray:
    return domain.full(n, domain.simplest())


def _constant(domain: Domain, rng: np.random.Generator, n: int) -> np.ndarray:
    return domain.full(n, domain.uniform(rng, 1)[0])


def _uniform(domain: Domain, rng: np.random.Generator, n: int) -> np.ndarray:
    return domain.uniform(rng, n)


def _band(domain: Domain, rng: np.random.Generator, n: int) -> np.ndarray:
    return domain.band(rng, n)


def _sparse(domain: Domain, rng: np.random.Generator, n: int) -> np.ndarray:
    out = domain.full(n, domain.simplest())
    count = int(rng.binomial(n, rng.uniform(0.01, 0.2)))
    if count:
        out[rng.integers(0, n, count)] = domain.uniform(rng, count)  # repeats overwrite: fine
    return out


_FILLS: dict[str, Callable[[Domain, np.random.Generator, int], np.ndarray]] = {
    "zeros": _zeros, "constant": _constant, "uniform": _uniform, "band": _band, "sparse": _sparse,
}
assert set(_FILLS) == set(FILL_KINDS), "every fill kind needs a fill function"
