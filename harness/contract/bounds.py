"""How much memory the inputs of one call can take, and the limits on it.

Inputs are drawn in the process that runs the tests (pytest or the CLI), not in the
isolated backend, so a contract that allows a huge tensor could exhaust that process.
Two limits apply when a contract is validated (each configurable in the contract):

* ``fuzz.max_tensor_bytes`` (default 1 GiB): the largest one input can be, with every
  named dim at its max and every ``null`` dim at ``fuzz.max_free_dim``;
* ``fuzz.max_call_bytes`` (default 4 GiB): all inputs of one call together.

A contract over either is refused with the JSON pointer of the input (or signature).
Generation then draws within a smaller per-call budget, ``fuzz.call_budget_bytes``
(default 64 MiB): when the largest call the dims allow is over it, the max of the named
dims (largest first, the batch usually) is lowered for drawing until it fits, and the
checks say so in their notes. Sizes are estimates: strings count 64 bytes of object
overhead plus their longest length (4 bytes a character when an alphabet is given).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping

from harness.contract.json_limits import pointer

DEFAULT_MAX_TENSOR_BYTES = 1 << 30
DEFAULT_MAX_CALL_BYTES = 4 << 30
DEFAULT_CALL_BUDGET_BYTES = 64 << 20
DEFAULT_MAX_FREE_DIM = 4
ANY_RANK = 3
"""``shape: null`` draws up to this rank (see :mod:`harness.generation.calls`)."""
STRING_OVERHEAD = 64
DEFAULT_STRING_LENGTH = 8

_ITEMSIZE: Mapping[str, int] = {
    "float16": 2, "bfloat16": 2, "float32": 4, "float64": 8,
    "int8": 1, "int16": 2, "int32": 4, "int64": 8,
    "uint8": 1, "uint16": 2, "uint32": 4, "uint64": 8,
    "bool": 1, "complex64": 8, "complex128": 16,
}


@dataclass(frozen=True)
class Limits:
    max_tensor_bytes: int = DEFAULT_MAX_TENSOR_BYTES
    max_call_bytes: int = DEFAULT_MAX_CALL_BYTES
    call_budget_bytes: int = DEFAULT_CALL_BUDGET_BYTES

    @classmethod
    def from_fuzz(cls, fuzz: Mapping[str, Any]) -> Limits:
        return cls(int(fuzz.get("max_tensor_bytes", DEFAULT_MAX_TENSOR_BYTES)),
                   int(fuzz.get("max_call_bytes", DEFAULT_MAX_CALL_BYTES)),
                   int(fuzz.get("call_budget_bytes", DEFAULT_CALL_BUDGET_BYTES)))


@dataclass(frozen=True)
class InputSize:
    """What sizing needs of one input."""

    name: str
    pointer: str
    dtype: str
    shape: tuple[Any, ...] | None
    element_bytes: int

    def elements(self, dims: Mapping[str, int], free: int) -> int:
        if self.shape is None:
            return free ** ANY_RANK
        return math.prod(free if e is None else dims.get(e, 0) if isinstance(e, str) else int(e)
                         for e in self.shape)

    def bytes(self, dims: Mapping[str, int], free: int) -> int:
        return self.elements(dims, free) * self.element_bytes

    def describe(self, dims: Mapping[str, int], free: int) -> str:
        if self.shape is None:
            return f"[{', '.join([str(free)] * ANY_RANK)}] (any rank)"
        parts = [str(free) if e is None else f"{e}={dims.get(e, 0)}" if isinstance(e, str)
                 else str(e) for e in self.shape]
        return f"[{', '.join(parts)}]"


def human(size: float) -> str:
    """``1073741824`` -> ``1.00 GiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{size:.0f} B" if unit == "B" else f"{size:.2f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def element_bytes(tensor: Mapping[str, Any]) -> int:
    """Bytes one element of a raw contract tensor takes when drawn (estimate for strings)."""
    dtype = tensor["dtype"]
    if dtype != "string":
        return _ITEMSIZE[dtype]
    if "example" in tensor:
        total = 0
        for feature in tensor["example"].values():
            count = math.prod(int(n) for n in feature.get("shape", [1]))
            total += count * (8 if feature["dtype"] != "string"
                              else STRING_OVERHEAD + DEFAULT_STRING_LENGTH)
        return STRING_OVERHEAD + total
    length = tensor.get("length", [0, DEFAULT_STRING_LENGTH])[1]
    per_char = 4 if tensor.get("alphabet") else 1
    return STRING_OVERHEAD + int(length) * per_char


def inputs_of(signature: Mapping[str, Any], base: str) -> list[InputSize]:
    """Sizing view of a raw signature's inputs (``base`` is the signature's pointer)."""
    return [InputSize(name, base + pointer(["inputs", name]), t["dtype"],
                      None if t.get("shape") is None else tuple(t["shape"]), element_bytes(t))
            for name, t in signature.get("inputs", {}).items()]


def size_problems(data: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(pointer, message) for every input or call of a raw contract over its limits."""
    fuzz = data.get("fuzz", {})
    limits = Limits.from_fuzz(fuzz)
    free = int(fuzz.get("max_free_dim", DEFAULT_MAX_FREE_DIM))
    dims = {name: int(bound["max"]) for name, bound in data.get("dims", {}).items()}
    fix = "lower the dims' max (or set /fuzz/{key} to raise the limit)"
    for sig_name, sig in data.get("signatures", {}).items():
        base = pointer(["signatures", sig_name])
        inputs = inputs_of(sig, base)
        for item in inputs:
            size = item.bytes(dims, free)
            if size > limits.max_tensor_bytes:
                yield (item.pointer,
                       f"input {item.name!r} can take {human(size)} "
                       f"({item.elements(dims, free)} elements of {item.dtype} at shape "
                       f"{item.describe(dims, free)}); the limit is "
                       f"{human(limits.max_tensor_bytes)} per input: "
                       + fix.format(key="max_tensor_bytes"))
        total = sum(item.bytes(dims, free) for item in inputs)
        if total > limits.max_call_bytes and len(inputs) > 1:
            yield (base + "/inputs",
                   f"one call of {sig_name!r} can take {human(total)} over its inputs; the "
                   f"limit is {human(limits.max_call_bytes)} per call: "
                   + fix.format(key="max_call_bytes"))


@dataclass(frozen=True)
class CappedDim:
    """A dim drawn below its declared max to keep calls within the budget."""

    name: str
    declared_max: int
    drawn_max: int


def fit_budget(inputs: Iterable[InputSize], bounds: Mapping[str, tuple[int, int]], free: int,
               budget: int) -> tuple[dict[str, int], int, tuple[CappedDim, ...]]:
    """Maxima to draw named dims (and ``null`` dims) with so one call fits ``budget``.

    Halves the largest max above its min until the call fits or every dim is at its min
    (then the minimal call is drawn: validation already bounded it). Returns the dims'
    maxima, the free-dim max and what was lowered.
    """
    inputs = list(inputs)
    maxima = {name: hi for name, (_lo, hi) in bounds.items()}
    lows = {name: lo for name, (lo, _hi) in bounds.items()}
    free_used = any(i.shape is None or None in i.shape for i in inputs)

    def total() -> int:
        return sum(i.bytes(maxima, free) for i in inputs)

    while total() > budget:
        candidates = [(hi, name) for name, hi in maxima.items() if hi > lows[name]]
        if free_used and free > 1:
            candidates.append((free, ""))
        if not candidates:
            break
        hi, name = max(candidates)
        if name:
            maxima[name] = max(lows[name], hi // 2)
        else:
            free = max(1, free // 2)
    capped = tuple(CappedDim(name, bounds[name][1], maxima[name]) for name in sorted(maxima)
                   if maxima[name] < bounds[name][1])
    return maxima, free, capped


def capped_note(capped: tuple[CappedDim, ...], free: int, declared_free: int,
                budget: int) -> list[str]:
    """The note a check adds when generation drew below the contract's bounds."""
    parts = [f"dim {c.name!r} up to {c.drawn_max} (declared max {c.declared_max})"
             for c in capped]
    if free < declared_free:
        parts.append(f"null dims up to {free} (fuzz.max_free_dim {declared_free})")
    if not parts:
        return []
    return [f"inputs drawn within the per-call budget of {human(budget)} "
            f"(fuzz.call_budget_bytes): {', '.join(parts)}"]
