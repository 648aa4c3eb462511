"""Tensor spec -> value domain: one builder per dtype, in a table that covers every dtype.

``enum`` takes precedence for any dtype. String inputs then use, in this order:
``vocabulary`` (list or asset), ``example`` (serialized tf.train.Example), ``alphabet`` /
``length``, or default printable text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from harness.contract.model import COMPLEX_DTYPES, DTYPES, FLOAT_DTYPES, INT_DTYPES, TensorSpec
from harness.generation.domain import Domain, Place
from harness.generation.dtypes import numpy_dtype
from harness.generation.example import example_domain
from harness.generation.numeric import bool_domain, complex_domain, float_domain, int_domain
from harness.generation.pool import enum_domain
from harness.generation.text import text_domain, vocabulary_domain

DomainBuilder = Callable[[TensorSpec, Place, "Path | None"], Domain]


def _numeric(build: Callable[..., Domain]) -> DomainBuilder:
    def builder(spec: TensorSpec, place: Place, assets_dir: Path | None) -> Domain:
        return build(spec, place, numpy_dtype(spec.dtype, place))
    return builder


def _string(spec: TensorSpec, place: Place, assets_dir: Path | None) -> Domain:
    if spec.range is not None:
        raise place.at("range").error("a range does not apply to dtype string")
    if spec.vocabulary is not None or spec.vocabulary_asset is not None:
        return vocabulary_domain(spec, place, assets_dir)
    if spec.example is not None:
        return example_domain(spec, place)
    return text_domain(spec, place)


DOMAIN_BUILDERS: dict[str, DomainBuilder] = {
    **{name: _numeric(float_domain) for name in FLOAT_DTYPES},
    **{name: _numeric(int_domain) for name in INT_DTYPES},
    **{name: _numeric(complex_domain) for name in COMPLEX_DTYPES},
    "bool": _numeric(bool_domain),
    "string": _string,
}
assert set(DOMAIN_BUILDERS) == set(DTYPES), "every contract dtype needs a domain builder"


def domain_for(spec: TensorSpec, place: Place, assets_dir: Path | None = None) -> Domain:
    """The domain of ``spec``'s elements; :class:`ContractError` at ``place`` if there is none."""
    if spec.dtype not in DOMAIN_BUILDERS:
        raise place.at("dtype").error(f"unknown dtype {spec.dtype!r}; expected one of {', '.join(DTYPES)}")
    if spec.enum is not None:
        return enum_domain(spec, place, numpy_dtype(spec.dtype, place))
    return DOMAIN_BUILDERS[spec.dtype](spec, place, assets_dir)
