"""Wrong inputs a model must refuse: one input of a valid call changed in dtype or rank.

Each variant keeps every other input as it was and is labelled for reports, e.g.
``"x as float64"`` or ``"x with rank 3"``. Converted values stay representable: NaN/Inf
become 0 and values are clipped to the target dtype before a cast.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.contract.model import DTYPES, SignatureSpec
from harness.generation.call import Call
from harness.generation.dtypes import numpy_dtype

#: For each input dtype, the wrong dtypes it is sent as.
WRONG_DTYPES: dict[str, tuple[str, ...]] = {
    "float32": ("float64", "int32"),
    "float64": ("float32", "int32"),
    "float16": ("float32", "int32"),
    "bfloat16": ("float32", "int32"),
    **{name: ("float32",) for name in ("int8", "int16", "int32", "int64",
                                       "uint8", "uint16", "uint32", "uint64")},
    "bool": ("int32",),
    "string": ("float32",),
    "complex64": ("float32",),
    "complex128": ("float32",),
}
assert set(WRONG_DTYPES) == set(DTYPES), "every dtype needs wrong dtypes to try"


def wrong_dtype_inputs(call: Call, signature: SignatureSpec) -> list[tuple[str, Call]]:
    """(label, call) for each input of ``signature`` sent as each of its wrong dtypes."""
    out = []
    for spec in signature.inputs:
        if spec.name not in call.inputs:
            continue
        value = call.inputs[spec.name]
        for target in WRONG_DTYPES[spec.dtype]:
            out.append((f"{spec.name} as {target}", call.with_input(spec.name, convert(value, target))))
    return out


def wrong_rank_inputs(call: Call, signature: SignatureSpec) -> list[tuple[str, Call]]:
    """(label, call) with one input given a leading or a trailing axis of 1, or (rank >= 1) its
    last axis dropped.

    The leading axis keeps every inner size, so a model that silently broadcasts or maps over
    extra axes answers it; the trailing axis and the dropped axis change the innermost size.

    Inputs declared with any rank (``shape: null``) are skipped: no rank is wrong for them.
    """
    out = []
    for spec in signature.inputs:
        if spec.name not in call.inputs or spec.shape is None:
            continue
        value = call.inputs[spec.name]
        leading = np.ascontiguousarray(value[np.newaxis, ...])
        out.append((f"{spec.name} with rank {leading.ndim} (a leading axis)",
                    call.with_input(spec.name, leading)))
        grown = np.ascontiguousarray(value[..., np.newaxis])
        out.append((f"{spec.name} with rank {grown.ndim}", call.with_input(spec.name, grown)))
        if value.ndim >= 1:
            shrunk = _drop_last_axis(value)
            out.append((f"{spec.name} with rank {shrunk.ndim}", call.with_input(spec.name, shrunk)))
    return out


def convert(value: np.ndarray, target: str) -> np.ndarray:
    """``value`` as dtype ``target`` with every element representable there."""
    dtype = numpy_dtype(target)
    if value.dtype == object:  # strings carry no number: send zeros of the right shape
        return np.zeros(value.shape, dtype=dtype)
    source: np.ndarray[Any, Any] = value
    if source.dtype.kind == "c":
        source = source.real
    if source.dtype.kind == "b":
        return source.astype(dtype)
    numbers = np.nan_to_num(source.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return np.clip(np.trunc(numbers), info.min, info.max).astype(dtype)
    limit = float(np.finfo(dtype).max)
    return np.clip(numbers, -limit, limit).astype(dtype)


def _drop_last_axis(value: np.ndarray) -> np.ndarray:
    if value.shape[-1] > 0:
        # .copy(), not np.ascontiguousarray: that one returns at least rank 1.
        return np.asarray(value[..., 0]).copy()
    out = np.empty(value.shape[:-1], dtype=value.dtype)
    out.fill(b"" if value.dtype == object else 0)
    return out
