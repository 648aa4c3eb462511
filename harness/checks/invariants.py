"""Output invariants: value checks on one output and relations across outputs.

Both are registries: a new invariant is one decorated function. A function receives
numpy arrays (never a backend) and returns ``None`` when the invariant holds, or a
:class:`Violation` describing the first place it does not.

Register your own from a conftest or plugin::

    from harness.checks.invariants import value_check

    @value_check("unit_norm")
    def unit_norm(values, params):
        norms = np.linalg.norm(values, axis=params.get("axis", -1))
        bad = np.abs(norms - 1) > params.get("atol", 1e-5)
        return Violation.first(bad, norms, "norm 1") if bad.any() else None

and use it in a contract as ``"checks": ["unit_norm"]`` or ``{"unit_norm": true, "axis": -1}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from harness.registry import Registry


@dataclass(frozen=True)
class Violation:
    """Where an invariant fails: the first bad index, what was found, what was documented."""

    index: tuple[int, ...]
    received: str
    documented: str
    count: int = 1
    total: int = 1

    @staticmethod
    def first(bad: np.ndarray, values: np.ndarray, documented: str) -> "Violation":
        idx = np.argwhere(bad)
        where = tuple(int(i) for i in idx[0]) if idx.size else ()
        found = values[where] if where or values.ndim == 0 else values
        return Violation(where, _fmt(found), documented, int(bad.sum()), int(bad.size))

    def describe(self) -> str:
        at = f"at index {list(self.index)}" if self.index else "at the scalar"
        share = f" ({self.count} of {self.total} elements)" if self.total > 1 else ""
        return f"{at}{share}: received {self.received}, documented {self.documented}"


def _fmt(value: Any) -> str:
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, np.ndarray):
        return np.array2string(value, threshold=8, precision=7)
    return repr(value.item() if isinstance(value, np.generic) else value)


ValueCheckFn = Callable[[np.ndarray, Mapping[str, Any]], "Violation | None"]
RelationFn = Callable[[Mapping[str, np.ndarray], Mapping[str, Any]], "Violation | None"]

#: name -> function(values, params); params are the contract's object (empty for a string).
VALUE_CHECKS: Registry[ValueCheckFn] = Registry("value check")
#: name -> function(outputs by name, params).
RELATIONS: Registry[RelationFn] = Registry("relation")


def value_check(name: str) -> Callable[[ValueCheckFn], ValueCheckFn]:
    """Register a value check under ``name`` (the key used in a contract's ``checks``)."""

    def register(fn: ValueCheckFn) -> ValueCheckFn:
        VALUE_CHECKS.add(name, fn)
        return fn

    return register


def relation(name: str) -> Callable[[RelationFn], RelationFn]:
    """Register a relation under ``name`` (the key that identifies it in ``relations``)."""

    def register(fn: RelationFn) -> RelationFn:
        RELATIONS.add(name, fn)
        return fn

    return register


def check_range(values: np.ndarray, lo: float, hi: float) -> Violation | None:
    """Every element within [lo, hi]; NaN is outside every range."""
    if values.dtype.kind not in "fiuc" or values.size == 0:
        return None
    with np.errstate(invalid="ignore"):
        bad = ~((values >= lo) & (values <= hi))
    return Violation.first(bad, values, f"within [{lo}, {hi}]") if bad.any() else None


@value_check("finite")
def finite(values: np.ndarray, params: Mapping[str, Any]) -> Violation | None:
    if values.dtype.kind not in "fc":
        return None
    bad = ~np.isfinite(values)
    return Violation.first(bad, values, "a finite number (no NaN or Inf)") if bad.any() else None


@value_check("sum")
def sums_to(values: np.ndarray, params: Mapping[str, Any]) -> Violation | None:
    target = float(params["sum"])
    axis = int(params.get("axis", -1))
    atol = float(params.get("atol", 1e-5))
    if values.size == 0:
        return None
    totals = np.sum(values.astype(np.float64), axis=axis)
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(totals - target) <= atol)
    if not bad.any():
        return None
    return Violation.first(bad, totals, f"sum over axis {axis} = {target} (atol {atol})")


@value_check("nonnegative")
def nonnegative(values: np.ndarray, params: Mapping[str, Any]) -> Violation | None:
    if values.dtype.kind not in "fi":
        return None
    with np.errstate(invalid="ignore"):
        bad = ~(values >= 0)
    return Violation.first(bad, values, ">= 0") if bad.any() else None


@value_check("monotonic")
def monotonic(values: np.ndarray, params: Mapping[str, Any]) -> Violation | None:
    axis = int(params.get("axis", -1))
    direction = params.get("monotonic", "increasing")
    if values.size == 0 or values.shape[axis] < 2:
        return None
    steps = np.diff(values, axis=axis)
    with np.errstate(invalid="ignore"):
        bad = ~(steps >= 0) if direction != "decreasing" else ~(steps <= 0)
    return Violation.first(bad, steps, f"{direction} along axis {axis}") if bad.any() else None


@relation("argmax")
def argmax_equals(outputs: Mapping[str, np.ndarray], params: Mapping[str, Any]) -> Violation | None:
    source, target = params["argmax"], params["equals"]
    axis = int(params.get("axis", -1))
    scores, labels = outputs[source], outputs[target]
    if scores.size == 0:
        return None
    expected = np.argmax(scores, axis=axis)
    if expected.shape != labels.shape:
        return Violation((), f"{target} of shape {list(labels.shape)}",
                         f"shape {list(expected.shape)} (argmax of {source} over axis {axis})")
    bad = expected != labels
    if not bad.any():
        return None
    where = tuple(int(i) for i in np.argwhere(bad)[0])
    return Violation(where, f"{target}={_fmt(labels[where])}",
                     f"argmax({source})={int(expected[where])} "
                     f"(row {source}={_fmt(scores[where])})", int(bad.sum()), int(bad.size))
