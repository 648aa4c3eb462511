"""The one comparison of two declared interfaces: every difference, as a typed :class:`Mismatch`.

``expected`` is the side that states what should be (a contract, the older version, the
SavedModel a conversion was made from), ``found`` the side compared with it. The comparison
judges nothing: it lists what differs, and each consumer decides what a difference means -
the static checks (a contract against ``saved_model.pb`` or a server's metadata), the format
conformance checks (a contract against a TFLite/ONNX/TF.js file), the server start check (the
SavedModel against what a server reports) and ``diff`` (breaking or compatible).

Order: missing signatures, extra signatures, then per common signature its ``method_name``,
and for inputs then outputs: missing tensors, extra tensors, then per common tensor its
encoding, dtype, graph tensor name, rank or dims (axis by axis) and value range.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Mapping

from harness.interface.model import SignatureInterface, TensorInterface

SIGNATURE_MISSING = "signature missing"
SIGNATURE_EXTRA = "signature extra"
METHOD_NAME = "method_name"
TENSOR_MISSING = "tensor missing"
TENSOR_EXTRA = "tensor extra"
ENCODING = "encoding"
DTYPE = "dtype"
TENSOR_NAME = "tensor name"
RANK_FIXED = "rank fixed"  # expected: any rank; found: a rank
RANK_OPENED = "rank opened"  # expected: a rank; found: any rank
RANK_CHANGED = "rank changed"
FIXED_SIZE_CHANGED = "fixed size changed"
DIM_WIDENED = "dim widened"  # found admits every size expected does, and more
DIM_NARROWED = "dim narrowed"  # found admits only some of the sizes expected does
DIM_CHANGED = "dim changed"  # the sizes only partly overlap
RANGE_WIDENED = "range widened"
RANGE_NARROWED = "range narrowed"
RANGE_CHANGED = "range changed"

#: every kind a comparison can return
KINDS = (SIGNATURE_MISSING, SIGNATURE_EXTRA, METHOD_NAME, TENSOR_MISSING, TENSOR_EXTRA,
         ENCODING, DTYPE, TENSOR_NAME, RANK_FIXED, RANK_OPENED, RANK_CHANGED, FIXED_SIZE_CHANGED,
         DIM_WIDENED, DIM_NARROWED, DIM_CHANGED, RANGE_WIDENED, RANGE_NARROWED, RANGE_CHANGED)
#: the kinds that say a shape differs
SHAPE_KINDS = (RANK_FIXED, RANK_OPENED, RANK_CHANGED, FIXED_SIZE_CHANGED, DIM_WIDENED,
               DIM_NARROWED, DIM_CHANGED)


@dataclass(frozen=True)
class Mismatch:
    """One difference between the expected and the found interface.

    ``side`` (``inputs``/``outputs``) and ``tensor`` are None for a signature-level
    difference, ``axis`` is set for a dim. ``expected``/``found`` say what each side
    declares, in the contract's words (None: absent on that side).
    """

    kind: str
    signature: str
    side: str | None = None
    tensor: str | None = None
    expected: str | None = None
    found: str | None = None
    axis: int | None = None

    def __post_init__(self) -> None:
        assert self.kind in KINDS, self.kind


def compare_interfaces(expected: Mapping[str, SignatureInterface],
                       found: Mapping[str, SignatureInterface]) -> list[Mismatch]:
    """Every difference between two sets of signatures (by key)."""
    out = [Mismatch(SIGNATURE_MISSING, name, expected=name) for name in expected
           if name not in found]
    out += [Mismatch(SIGNATURE_EXTRA, name, found=name) for name in found if name not in expected]
    for name in expected:
        if name in found:
            out += compare_signatures(expected[name], found[name])
    return out


def compare_signatures(expected: SignatureInterface, found: SignatureInterface) -> list[Mismatch]:
    """Every difference between two signatures (reported under ``expected``'s key)."""
    sig = expected.name
    out = []
    if expected.method_name and expected.method_name != found.method_name:
        out.append(Mismatch(METHOD_NAME, sig, expected=expected.method_name,
                            found=found.method_name))
    for side in ("inputs", "outputs"):
        out += _side(sig, side, expected.side(side), found.side(side))
    return out


def _side(sig: str, side: str, expected: Mapping[str, TensorInterface],
          found: Mapping[str, TensorInterface]) -> list[Mismatch]:
    out = [Mismatch(TENSOR_MISSING, sig, side, name, expected=t.describe_contract())
           for name, t in expected.items() if name not in found]
    out += [Mismatch(TENSOR_EXTRA, sig, side, name, found=t.describe_contract())
            for name, t in found.items() if name not in expected]
    for name, t in expected.items():
        if name in found:
            out += compare_tensors(sig, side, t, found[name])
    return out


def compare_tensors(sig: str, side: str, expected: TensorInterface,
                    found: TensorInterface) -> list[Mismatch]:
    """Every difference between two tensors of one signature (``expected``'s key)."""
    name = expected.name
    out = []
    if expected.encoding != found.encoding:
        out.append(Mismatch(ENCODING, sig, side, name, expected.encoding, found.encoding))
    if expected.dtype != found.dtype:
        out.append(Mismatch(DTYPE, sig, side, name, expected.dtype, found.dtype))
    if expected.tensor_name and expected.tensor_name != found.tensor_name:
        out.append(Mismatch(TENSOR_NAME, sig, side, name, expected.tensor_name,
                            found.tensor_name))
    out += _shape(sig, side, expected, found)
    out += _range(sig, side, expected, found)
    return out


def _shape(sig: str, side: str, a: TensorInterface, b: TensorInterface) -> Iterator[Mismatch]:
    if a.dims is None and b.dims is None:
        return
    shapes = (a.describe_shape(), b.describe_shape())
    if a.dims is None or b.dims is None:
        yield Mismatch(RANK_FIXED if a.dims is None else RANK_OPENED, sig, side, a.name, *shapes)
        return
    if len(a.dims) != len(b.dims):
        yield Mismatch(RANK_CHANGED, sig, side, a.name, *shapes)
        return
    for axis, (x, y) in enumerate(zip(a.dims, b.dims, strict=True)):
        if x.same_sizes(y):
            continue
        if x.size is not None and y.size is not None:
            kind = FIXED_SIZE_CHANGED
        elif y.contains(x):
            kind = DIM_WIDENED
        elif x.contains(y):
            kind = DIM_NARROWED
        else:
            kind = DIM_CHANGED
        yield Mismatch(kind, sig, side, a.name, x.describe(), y.describe(), axis)


def _range(sig: str, side: str, a: TensorInterface, b: TensorInterface) -> Iterator[Mismatch]:
    if a.range is None or b.range is None or a.range == b.range:
        return
    if b.range[0] <= a.range[0] and a.range[1] <= b.range[1]:
        kind = RANGE_WIDENED
    elif a.range[0] <= b.range[0] and b.range[1] <= a.range[1]:
        kind = RANGE_NARROWED
    else:
        kind = RANGE_CHANGED
    yield Mismatch(kind, sig, side, a.name, str(list(a.range)), str(list(b.range)))


def by_tensor(mismatches: list[Mismatch]) -> dict[tuple[str | None, str | None], list[Mismatch]]:
    """The mismatches of each (side, tensor), in order."""
    out: dict[tuple[str | None, str | None], list[Mismatch]] = {}
    for m in mismatches:
        out.setdefault((m.side, m.tensor), []).append(m)
    return out


__all__ = ["KINDS", "SHAPE_KINDS", "Mismatch", "by_tensor", "compare_interfaces",
           "compare_signatures", "compare_tensors"]
