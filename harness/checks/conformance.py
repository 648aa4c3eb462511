"""Outputs of one call against the contract: presence, dtype, shape (with dims bound), values.

Functions here receive arrays, never backends, so every format (SavedModel, TFLite, ONNX,
serving) is judged by the same code. Each raises :class:`CheckFailure` listing every
problem found in the call.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from harness.checks.invariants import RELATIONS, VALUE_CHECKS, check_range
from harness.contract.model import Contract, SignatureSpec, describe_shape
from harness.errors import CheckFailure


def dtype_name(value: Any) -> str:
    """The contract's spelling of a numpy array's dtype (object/bytes arrays are ``string``)."""
    arr = np.asarray(value)
    if arr.dtype.kind in "OSU":
        return "string"
    name = arr.dtype.name
    return "bfloat16" if name == "bfloat16" else name


def bind_dims(contract: Contract, sig: SignatureSpec, inputs: Mapping[str, np.ndarray],
              dims: Mapping[str, int] | None = None) -> dict[str, int]:
    """Sizes of the named dims in this call, as the inputs bind them."""
    bound = dict(dims or {})
    for spec in sig.inputs:
        if spec.shape is None or spec.name not in inputs:
            continue
        shape = np.shape(inputs[spec.name])
        for want, have in zip(spec.shape, shape):
            if isinstance(want, str):
                bound.setdefault(want, int(have))
    return bound


def output_conformance(contract: Contract, sig: SignatureSpec, inputs: Mapping[str, np.ndarray],
                       outputs: Mapping[str, Any], *, source: str,
                       dims: Mapping[str, int] | None = None, check: str = "conformance") -> None:
    """Every contract output present, dtype exact, shape matching with named dims bound."""
    bound = bind_dims(contract, sig, inputs, dims)
    problems = []
    for spec in sig.outputs:
        if spec.name not in outputs:
            problems.append(f"output {spec.name!r}: Received: missing (outputs: "
                            f"{', '.join(sorted(outputs)) or 'none'}) / Documented: present "
                            f"({spec.pointer})")
            continue
        arr = np.asarray(outputs[spec.name])
        have = dtype_name(arr)
        if have != spec.dtype:
            problems.append(f"output {spec.name!r}: dtype Received: {have} / Documented: "
                            f"{spec.dtype} ({spec.pointer}/dtype)")
        if spec.shape is None:
            continue
        if arr.ndim != len(spec.shape):
            problems.append(f"output {spec.name!r}: shape Received: {list(arr.shape)} (rank "
                            f"{arr.ndim}) / Documented: {spec.describe_shape()} (rank "
                            f"{len(spec.shape)})")
            continue
        for axis, (want, size) in enumerate(zip(spec.shape, arr.shape)):
            if isinstance(want, int) and want != size:
                problems.append(f"output {spec.name!r}: shape Received: {list(arr.shape)} / "
                                f"Documented: {spec.describe_shape()}: axis {axis} is {size}, "
                                f"not {want}")
            elif isinstance(want, str):
                if want in bound and bound[want] != size:
                    problems.append(
                        f"output {spec.name!r}: shape Received: {list(arr.shape)} / Documented: "
                        f"{spec.describe_shape()} with {want}={bound[want]} (bound by the "
                        f"inputs): axis {axis} is {size}")
                else:
                    bound.setdefault(want, int(size))
                    limit = contract.dims.get(want)
                    if limit is not None and not limit.min <= size <= limit.max:
                        problems.append(f"output {spec.name!r}: axis {axis} ({want}) is {size}, "
                                        f"outside /dims/{want} [{limit.min}, {limit.max}]")
    if problems:
        raise CheckFailure(check, f"{source}: outputs of signature {sig.name!r} do not conform "
                           "to the contract", details=problems + [describe_inputs(inputs)])


def value_checks(contract: Contract, sig: SignatureSpec, inputs: Mapping[str, np.ndarray],
                 outputs: Mapping[str, Any], *, source: str, check: str = "values") -> None:
    """Ranges, enums, registered value checks and relations of one call's outputs."""
    problems = []
    arrays = {k: np.asarray(v) for k, v in outputs.items()}
    for spec in sig.outputs:
        if spec.name not in arrays:
            continue
        values = arrays[spec.name]
        if spec.range is not None:
            bad = check_range(values, spec.range[0], spec.range[1])
            if bad:
                problems.append(f"output {spec.name!r} range ({spec.pointer}/range): {bad.describe()}")
        if spec.enum is not None and values.size:
            allowed = np.asarray(list(spec.enum), dtype=object)
            flat = values.reshape(-1).astype(object)
            bad_mask = ~np.isin(flat, allowed)
            if bad_mask.any():
                i = int(np.argmax(bad_mask))
                problems.append(f"output {spec.name!r} enum ({spec.pointer}/enum): flat index {i}: "
                                f"received {flat[i]!r}, documented one of {list(spec.enum)}")
        for vc in spec.checks:
            violation = VALUE_CHECKS[vc.kind](values, vc.params)
            if violation:
                problems.append(f"output {spec.name!r} check {vc.kind!r} ({vc.pointer}): "
                                f"{violation.describe()}")
    for rel in sig.relations:
        violation = RELATIONS[rel.kind](arrays, rel.params)
        if violation:
            problems.append(f"relation {dict(rel.params)} ({rel.pointer}): {violation.describe()}")
    if problems:
        raise CheckFailure(check, f"{source}: outputs of signature {sig.name!r} break the "
                           "contract's value invariants", details=problems + [describe_inputs(inputs)])


def describe_inputs(inputs: Mapping[str, Any]) -> str:
    parts = []
    for name, value in inputs.items():
        arr = np.asarray(value)
        if arr.dtype.kind in "fiu" and arr.size:
            with np.errstate(invalid="ignore"):
                stats = f" min={np.nanmin(arr) if not np.isnan(arr).all() else 'nan'!s} " \
                        f"max={np.nanmax(arr) if not np.isnan(arr).all() else 'nan'!s}"
        else:
            stats = ""
        parts.append(f"{name}: {dtype_name(arr)} {list(arr.shape)}{stats}")
    return "Inputs: " + "; ".join(parts)


__all__ = ["bind_dims", "describe_inputs", "describe_shape", "output_conformance", "value_checks"]
