"""The declared-interface model: signatures, their tensors, dims, dtype and encoding.

Every source that declares signatures is read into these frozen dataclasses: a contract,
``saved_model.pb``, a TFLite or ONNX file, a TF.js graph model, a model server's metadata.
A dim is a :class:`DimRange` (the sizes an axis admits: fixed, a named range, or any size);
a tensor's ``dims`` is None when its rank is unknown (any rank). What only one source
knows stays optional: a contract's value ``range`` and ``sunset``, a SignatureDef's graph
tensor name (``tensor_name``), ``method_name`` and ``encoding`` (dense, sparse, ragged...).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Iterable, Mapping

#: :attr:`TensorInterface.encoding` of a plain tensor.
DENSE = "dense"


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class DimRange:
    """The sizes one axis admits: ``lo..hi`` inclusive, ``hi`` = inf for any size."""

    lo: int
    hi: float
    name: str | None = None

    @staticmethod
    def fixed(size: int) -> "DimRange":
        return DimRange(size, size)

    @staticmethod
    def free(name: str | None = None) -> "DimRange":
        return DimRange(0, math.inf, name)

    @property
    def size(self) -> int | None:
        """The one size this axis admits, or None when it admits more than one."""
        return self.lo if self.lo == self.hi else None

    def contains(self, other: "DimRange") -> bool:
        return self.lo <= other.lo and other.hi <= self.hi

    def same_sizes(self, other: "DimRange") -> bool:
        """Whether both admit the same sizes (a dim's name is not compared)."""
        return (self.lo, self.hi) == (other.lo, other.hi)

    def describe(self) -> str:
        if self.lo == self.hi:
            return str(self.lo)
        if self.name:
            hi = "inf" if self.hi == math.inf else str(int(self.hi))
            return f"{self.name}({self.lo}..{hi})"
        if self.lo == 0 and self.hi == math.inf:
            return "None"
        hi = "inf" if self.hi == math.inf else str(int(self.hi))
        return f"{self.lo}..{hi}"


def dims_of(sizes: Iterable[int | None] | None) -> tuple[DimRange, ...] | None:
    """Dims from a model's sizes (None or a negative size: unknown); None: unknown rank."""
    if sizes is None:
        return None
    return tuple(DimRange.free() if d is None or d < 0 else DimRange.fixed(int(d)) for d in sizes)


@dataclass(frozen=True)
class TensorInterface:
    """An input or output: its key in the signature, dtype, dims (None: any rank)."""

    name: str
    dtype: str  # the contract's spelling, or the source's for dtypes a contract cannot declare
    dims: tuple[DimRange, ...] | None
    range: tuple[float, float] | None = None  # a contract's value domain (models declare none)
    sunset: str | None = None  # a contract's deprecation: removable from this date
    #: the source's own name of the tensor (a graph tensor ``x:0``, a contract's ``name``);
    #: empty when the source has none besides ``name``
    tensor_name: str = ""
    #: how the tensor is passed: ``dense``, ``sparse`` (a COO SparseTensor) or a composite's
    #: TypeSpec class without ``Spec`` (``RaggedTensor``, ...); a contract declares dense ones
    encoding: str = DENSE

    @staticmethod
    def of_sizes(name: str, dtype: str, sizes: Iterable[int | None] | None, *,
                 tensor_name: str = "", encoding: str = DENSE) -> "TensorInterface":
        """A tensor as a model declares it: fixed sizes, None (or -1) for unknown ones."""
        return TensorInterface(name, dtype, dims_of(sizes), tensor_name=tensor_name,
                               encoding=encoding)

    @property
    def shape(self) -> tuple[int | None, ...] | None:
        """Each axis' fixed size (None where more than one size is admitted); None: any rank."""
        return None if self.dims is None else tuple(d.size for d in self.dims)

    def describe_contract(self) -> str:
        """``dtype [dims]`` in the contract's words (``None`` for any size, named ranges)."""
        if self.dims is None:
            return f"{self.dtype} <any rank>"
        return f"{self.dtype} [" + ", ".join(d.describe() for d in self.dims) + "]"

    def describe_shape(self) -> str:
        """The dims part of :meth:`describe_contract`."""
        return self.describe_contract().split(" ", 1)[1]

    def describe(self) -> str:
        """As a SignatureDef shows it: ``-1`` for an unknown size, the encoding if not dense."""
        if self.shape is None:
            shape = "<unknown rank>"
        else:
            shape = "[" + ", ".join("-1" if d is None else str(d) for d in self.shape) + "]"
        kind = "" if self.encoding == DENSE else f" ({self.encoding})"
        return f"{self.dtype} {shape}{kind}"

    def same_as(self, other: "TensorInterface") -> bool:
        """Same dtype and dims (the dims' names too); the tensors' names aside."""
        return self.dtype == other.dtype and self.dims == other.dims

    def renamed(self, name: str) -> "TensorInterface":
        return replace(self, name=name)


@dataclass(frozen=True)
class SignatureInterface:
    """A signature: its key, ``method_name`` (None or empty: not stated) and tensors by key."""

    name: str
    method_name: str | None
    inputs: Mapping[str, TensorInterface]
    outputs: Mapping[str, TensorInterface]
    sunset: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", _frozen(self.inputs))
        object.__setattr__(self, "outputs", _frozen(self.outputs))

    def __reduce__(self) -> Any:  # read-only mappings do not pickle: send plain dicts
        return (SignatureInterface, (self.name, self.method_name, dict(self.inputs),
                                     dict(self.outputs), self.sunset))

    @property
    def key(self) -> str:
        return self.name

    def side(self, side: str) -> Mapping[str, TensorInterface]:
        """``inputs`` or ``outputs``."""
        return self.inputs if side == "inputs" else self.outputs

    def same_io(self, other: "SignatureInterface") -> bool:
        return _same_tensors(self.inputs, other.inputs) and _same_tensors(self.outputs,
                                                                          other.outputs)


def _same_tensors(a: Mapping[str, TensorInterface], b: Mapping[str, TensorInterface]) -> bool:
    return set(a) == set(b) and all(a[k].same_as(b[k]) for k in a)


@dataclass(frozen=True)
class Interface:
    """A whole declared interface: where it came from, its signatures, assets and tag-set."""

    label: str
    signatures: Mapping[str, SignatureInterface]
    assets: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    fingerprint: Mapping[str, int] = field(default_factory=lambda: _frozen({}))
    version: str | None = None  # a contract's "version"

    def __post_init__(self) -> None:
        object.__setattr__(self, "signatures", _frozen(self.signatures))


__all__ = ["DENSE", "DimRange", "Interface", "SignatureInterface", "TensorInterface", "dims_of"]
