"""String inputs whose elements are serialized ``tf.train.Example`` protos.

Each declared feature gets ``prod(shape)`` values: float32 -> float_list (float domain,
``range`` respected, default [-1e3, 1e3]), int64 -> int64_list (default [-1000, 1000]),
string -> bytes_list (printable text, 0..8 characters). Encoding is
:func:`harness.tf_example.encode_example` (pure Python).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st

from harness.contract.model import TensorSpec
from harness.generation.domain import Domain, Place
from harness.generation.numeric import float_domain, int_domain
from harness.generation.text import DEFAULT_ALPHABET, DEFAULT_LENGTH, TextDomain
from harness.tf_example import encode_example


@dataclass(frozen=True, eq=False)
class FeatureDomain:
    """One feature: its name, kind (float32 | int64 | string), value count and value domain."""

    name: str
    kind: str
    count: int
    values: Domain


@dataclass(frozen=True, eq=False)
class ExampleDomain(Domain):
    features: tuple[FeatureDomain, ...]
    dtype: np.dtype[Any] = np.dtype(object)

    def encode(self, values: dict[str, list[Any]]) -> bytes:
        return encode_example(values, {f.name: f.kind for f in self.features})

    def simplest(self) -> bytes:
        return self.encode({f.name: [f.values.simplest()] * f.count for f in self.features})

    def uniform(self, rng: np.random.Generator, n: int) -> np.ndarray:
        out = np.empty(n, dtype=object)
        out[:] = [self.encode({f.name: f.values.uniform(rng, f.count).tolist() for f in self.features})
                  for _ in range(n)]
        return out

    def elements(self) -> st.SearchStrategy[bytes]:
        return st.fixed_dictionaries({
            f.name: st.lists(f.values.elements(), min_size=f.count, max_size=f.count)
            for f in self.features
        }).map(self.encode)

    def from_elements(self, values: list[Any]) -> np.ndarray:
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out

    def edges(self) -> tuple[bytes, ...]:
        """Examples whose features all take their j-th edge value (range ends, 0, b"")."""
        per_feature = {f.name: f.values.edges() or (f.values.simplest(),) for f in self.features}
        rounds = max(len(e) for e in per_feature.values())
        return tuple(dict.fromkeys(
            self.encode({f.name: [per_feature[f.name][j % len(per_feature[f.name])]] * f.count
                         for f in self.features})
            for j in range(rounds)
        ))


def example_domain(spec: TensorSpec, place: Place) -> ExampleDomain:
    assert spec.example is not None
    features = []
    for feature in spec.example:
        where = place.at("example", feature.name)
        as_tensor = TensorSpec(feature.name, feature.dtype, feature.shape, where.pointer,
                               range=feature.range)
        values: Domain
        if feature.dtype == "float32":
            values = float_domain(as_tensor, where, np.dtype(np.float32))
        elif feature.dtype == "int64":
            values = int_domain(as_tensor, where, np.dtype(np.int64))
        elif feature.dtype == "string":
            if feature.range is not None:
                raise where.at("range").error("a range does not apply to a string feature")
            values = TextDomain(DEFAULT_ALPHABET, *DEFAULT_LENGTH)
        else:
            raise where.at("dtype").error(
                f"feature dtype {feature.dtype!r} is not one of float32, int64, string")
        features.append(FeatureDomain(feature.name, feature.dtype, math.prod(feature.shape), values))
    return ExampleDomain(tuple(features))
