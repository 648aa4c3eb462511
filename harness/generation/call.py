"""One generated call of a signature: its inputs and the sizes its named dims took."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

#: Arrays up to this many elements are shown in full in a call's repr.
REPR_FULL_SIZE = 64


@dataclass(frozen=True, eq=False)
class Call:
    """Inputs for one call of ``signature``; ``dims`` are the sizes bound to named dims.

    Equality is identity (inputs are arrays); compare ``inputs`` yourself when needed.
    """

    signature: str
    inputs: Mapping[str, np.ndarray]
    dims: Mapping[str, int]

    @property
    def batch_size(self) -> int | None:
        """The size of dim ``batch`` if bound, else the leading size every input shares."""
        if "batch" in self.dims:
            return int(self.dims["batch"])
        leading = {x.shape[0] if x.ndim else None for x in self.inputs.values()}
        if len(leading) == 1:
            (size,) = leading
            return size
        return None

    def row(self, i: int) -> "Call":
        """This call restricted to row ``i`` of the leading axis (a batch of one).

        Raises :class:`ValueError` when the inputs do not all share a leading batch axis,
        :class:`IndexError` when ``i`` is outside it.
        """
        size = self.batch_size
        if size is None:
            raise ValueError(f"call of {self.signature!r} has no batch axis shared by every input")
        for name, x in self.inputs.items():
            if x.ndim == 0 or x.shape[0] != size:
                raise ValueError(f"input {name!r} of {self.signature!r} has shape {list(x.shape)}; "
                                 f"its leading axis is not the batch of {size}")
        if not 0 <= i < size:
            raise IndexError(f"row {i} is outside the batch of {size}")
        dims = dict(self.dims)
        if "batch" in dims:
            dims["batch"] = 1
        return Call(self.signature,
                    MappingProxyType({k: x[i:i + 1].copy() for k, x in self.inputs.items()}),
                    MappingProxyType(dims))

    def with_input(self, name: str, value: np.ndarray) -> "Call":
        """This call with input ``name`` replaced (dims unchanged)."""
        inputs = dict(self.inputs)
        inputs[name] = value
        return Call(self.signature, MappingProxyType(inputs), self.dims)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k!r}: {_describe(x)}" for k, x in self.inputs.items())
        return f"Call(signature={self.signature!r}, dims={dict(self.dims)!r}, inputs={{{shown}}})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """Hypothesis prints falsifying examples with this (not field by field)."""
        printer.text(repr(self))


def _describe(x: np.ndarray) -> str:
    if x.size <= REPR_FULL_SIZE:
        return f"np.array({x.tolist()!r}, dtype={x.dtype.name!r})"
    head = f"<{x.dtype.name}{list(x.shape)}"
    if x.dtype.kind in "fiu":
        with np.errstate(invalid="ignore"):
            as64 = x.astype(np.float64)
        finite = as64[np.isfinite(as64)]
        extra = ""
        if finite.size:
            extra = f" min={finite.min():.6g} max={finite.max():.6g} mean={finite.mean():.6g}"
        nans = int(np.isnan(as64).sum())
        infs = int(np.isinf(as64).sum())
        if nans:
            extra += f" nan={nans}"
        if infs:
            extra += f" inf={infs}"
        return head + extra + ">"
    return head + ">"
