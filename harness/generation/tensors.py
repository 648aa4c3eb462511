"""Draw one tensor of a given shape from a value domain.

Two paths, chosen by the element count ``n`` of the drawn shape:

* ``n <= SMALL_TENSOR`` (64): every element is drawn by hypothesis from the domain's element
  strategy, so failures shrink value by value to readable numbers.
* larger: hypothesis draws only a fill kind (weighted by :data:`KIND_TABLE`, simplest first)
  and a 32-bit seed; ``np.random.Generator(PCG64(seed))`` fills the array. Filling a
  [1, 224, 224, 3] float32 tensor takes about a millisecond (benchmarks/bench_strategies.py),
  and shrinking goes to the ``zeros`` kind and seed 0.

Then, with probability ``edge_probability``, edge values are seeded in: hypothesis draws a
non-empty subset of the domain's edge values (so shrinking finds *which* edge value matters)
and the generator puts each at 1..3 random positions (fewer if the tensor is smaller).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import strategies as st

from harness.generation.chance import chance
from harness.generation.domain import Domain

SMALL_TENSOR = 64

#: Fill kinds with their weights (by repetition), simplest first: zeros 10%, constant 10%,
#: uniform 40%, band 20%, sparse 20%.
KIND_TABLE = ("zeros", "constant", "uniform", "uniform", "uniform", "uniform",
              "band", "band", "sparse", "sparse")

#: A fill's seed: 64 bits, not the 32 of an edge's chance (generation.chance), so the two never
#: share a span label; hypothesis' mutator copies spans of one label over each other, and a
#: chance given a seed's value (or the reverse) mostly overran: wasted executions.
SEEDS = st.integers(0, 2**64 - 1)
KINDS = st.sampled_from(KIND_TABLE)


class TensorSource:
    """A domain with the strategies that draw from it, prepared once per input."""

    def __init__(self, domain: Domain, edge_probability: float) -> None:
        self.domain = domain
        self.edge_probability = edge_probability
        self.edges: tuple[Any, ...] = domain.edges()
        self.elements: st.SearchStrategy[Any] = domain.elements()
        self.with_edges: st.SearchStrategy[bool] = (
            chance(edge_probability) if self.edges else st.just(False))
        self.edge_subsets: st.SearchStrategy[list[int]] = st.lists(
            st.integers(0, max(len(self.edges) - 1, 0)), min_size=1,
            max_size=max(len(self.edges), 1), unique=True)
        self._lists: dict[int, st.SearchStrategy[list[Any]]] = {}

    def __repr__(self) -> str:
        return f"TensorSource({type(self.domain).__name__}, edge_probability={self.edge_probability})"

    def _elements_of_size(self, n: int) -> st.SearchStrategy[list[Any]]:
        if n not in self._lists:
            self._lists[n] = st.lists(self.elements, min_size=n, max_size=n)
        return self._lists[n]

    def draw(self, draw: st.DrawFn, shape: tuple[int, ...]) -> np.ndarray:
        """One array of ``shape`` (dtype of the domain)."""
        n = math.prod(shape)
        if n == 0:
            return np.empty(shape, dtype=self.domain.dtype)
        edged = draw(self.with_edges)
        if n <= SMALL_TENSOR:
            values = draw(self._elements_of_size(n))
            flat = self.domain.from_elements(values)
            rng = np.random.Generator(np.random.PCG64(draw(SEEDS) if edged else 0))
        else:
            kind = draw(KINDS)
            rng = np.random.Generator(np.random.PCG64(draw(SEEDS)))
            flat = self.domain.fill(rng, n, kind)
        if edged:
            chosen = draw(self.edge_subsets)
            place_edges(flat, [self.edges[i] for i in chosen], rng)
        return flat.reshape(shape)


def place_edges(flat: np.ndarray, values: list[Any], rng: np.random.Generator) -> None:
    """Write each of ``values`` at 1..3 random positions of ``flat`` (each once if room)."""
    n = len(flat)
    repeats = rng.integers(0, 3, size=len(values)).tolist()
    order = list(range(len(values))) + [i for i, r in enumerate(repeats) for _ in range(r)]
    order = order[:n]
    positions = rng.choice(n, size=len(order), replace=False)
    for position, index in zip(positions.tolist(), order, strict=True):
        flat[position] = values[index]
