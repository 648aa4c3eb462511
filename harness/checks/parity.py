"""Parity: a format's output against the SavedModel's on the same inputs. Arrays in, verdicts out.

Nothing here runs a model or imports a backend. :func:`compare` judges one output:

* Float outputs: each element's error ``|received - reference|`` is divided by its
  allowance ``atol + rtol * |reference|``; the ``statistic`` of those ratios (``max``,
  ``mean``, ``median`` or a quantile ``pNN``) must be <= 1. With ``max`` this is exactly
  ``np.allclose(received, reference, atol, rtol)`` (reference on the right).
* Integer, bool and string outputs (``exact=True``) must be equal element by element.
* NaN/Inf: an element that is NaN or Inf on one side only is always a failure. NaN never
  compares as a pass, *not even NaN on both sides at the same place*: a model that
  returns NaN has no value to agree on (the contract's value checks say whether NaN is
  allowed at all). Equal infinities (same sign) agree.
* Shapes must be equal; nothing is broadcast.

A failure reports the largest absolute and relative errors, where the worst element is,
both values there, and the smallest ``atol`` (with ``rtol=0``) and ``rtol`` (with
``atol=0``) that would have passed: the numbers a user needs to set a tolerance.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.contract.model import Tolerance
from harness.errors import CheckFailure

_QUANTILE = re.compile(r"^p([0-9]{1,2}(?:\.[0-9]+)?)$")


@dataclass(frozen=True)
class ParityResult:
    """The verdict on one output, with the figures behind it."""

    passed: bool
    exact: bool
    reference_shape: tuple[int, ...]
    received_shape: tuple[int, ...]
    size: int
    #: elements outside the elementwise tolerance (or unequal, for exact outputs)
    mismatched: int
    max_abs: float
    max_rel: float
    #: index of the worst element (largest error ratio; first unequal for exact outputs)
    index: tuple[int, ...] | None
    reference_value: Any
    received_value: Any
    #: NaN/Inf that makes the comparison fail regardless of tolerance, described; else None
    nan_mismatch: str | None
    statistic: str
    #: the statistic of error / allowance; the output passes when it is <= 1
    statistic_value: float
    #: smallest atol that passes with rtol=0 (inf: none does; None: exact comparison)
    atol_to_pass: float | None
    #: smallest rtol that passes with atol=0 (inf: none does, the reference is 0 where it errs)
    rtol_to_pass: float | None
    #: shapes differ: a description; no elementwise figures then
    shape_mismatch: str | None = None

    def describe_received(self) -> str:
        """The received value at the worst element, beside the reference's."""
        if self.shape_mismatch:
            return self.shape_mismatch
        if self.index is None:
            return "equal"
        return (f"{_value(self.received_value)} at {list(self.index)} where the reference is "
                f"{_value(self.reference_value)}")

    def describe(self) -> str:
        """The figures in one line: errors, how many elements are off, what would pass."""
        if self.shape_mismatch:
            return would_pass(self)
        text = (f"max abs error {_fmt(self.max_abs)}, max rel error {_fmt(self.max_rel)}; "
                f"{self.mismatched} of {self.size} elements outside the tolerance")
        if self.nan_mismatch:
            text += f"; non-finite: {self.nan_mismatch}"
        return f"{text}; {would_pass(self)}"


def _stat(values: np.ndarray, statistic: str) -> float:
    if values.size == 0:
        return 0.0
    if statistic == "max":
        return float(np.max(values))
    if statistic == "mean":
        return float(np.mean(values))
    if statistic == "median":
        with np.errstate(invalid="ignore"):
            median = float(np.median(values))
        return math.inf if math.isnan(median) else median
    match = _QUANTILE.match(statistic)
    if match is None:
        raise ValueError(f"unknown tolerance statistic {statistic!r}; use max, mean, median or pNN")
    with np.errstate(invalid="ignore"):
        value = float(np.percentile(values, float(match.group(1)), method="linear"))
    return math.inf if math.isnan(value) else value


def _scalar(value: Any) -> Any:
    item = value.item() if hasattr(value, "item") else value
    return item


def _as_bytes(arr: np.ndarray) -> np.ndarray:
    """Strings as bytes (onnxruntime returns str where TensorFlow returns bytes)."""
    flat = [x.encode("utf-8") if isinstance(x, str) else bytes(x) for x in arr.reshape(-1)]
    out = np.empty(len(flat), dtype=object)
    out[:] = flat
    return out.reshape(arr.shape)


def compare(reference: np.ndarray, received: np.ndarray, tolerance: Tolerance, *,
            exact: bool) -> ParityResult:
    """Judge ``received`` against ``reference`` (see the module docstring for the rules)."""
    ref = np.asarray(reference)
    rec = np.asarray(received)
    if ref.shape != rec.shape:
        return ParityResult(
            passed=False, exact=exact, reference_shape=ref.shape, received_shape=rec.shape,
            size=int(ref.size), mismatched=int(max(ref.size, rec.size)), max_abs=math.inf,
            max_rel=math.inf, index=None, reference_value=None, received_value=None,
            nan_mismatch=None, statistic=tolerance.statistic, statistic_value=math.inf,
            atol_to_pass=None if exact else math.inf, rtol_to_pass=None if exact else math.inf,
            shape_mismatch=f"shape {list(rec.shape)} where the SavedModel gives {list(ref.shape)}")
    if exact or ref.dtype.kind in "OSUb" or rec.dtype.kind in "OSUb":
        return _compare_exact(ref, rec, tolerance)
    return _compare_close(ref, rec, tolerance)


def _compare_exact(ref: np.ndarray, rec: np.ndarray, tolerance: Tolerance) -> ParityResult:
    if ref.dtype.kind in "OSU" or rec.dtype.kind in "OSU":
        ref_c, rec_c = _as_bytes(ref), _as_bytes(rec)
        unequal = ref_c != rec_c
        abs_err = np.where(unequal, math.inf, 0.0)
        rel_err = abs_err
    else:
        ref_f = ref.astype(np.float64)
        rec_f = rec.astype(np.float64)
        with np.errstate(invalid="ignore"):
            unequal = ~(ref_f == rec_f)  # NaN == NaN is False: never a pass
            abs_err = np.where(unequal, np.abs(rec_f - ref_f), 0.0)
            abs_err = np.where(unequal & ~np.isfinite(abs_err), math.inf, abs_err)
            denom = np.abs(ref_f)
            rel_err = np.where(unequal, np.divide(abs_err, denom, out=np.full_like(abs_err, math.inf),
                                                  where=denom > 0), 0.0)
    unequal = np.asarray(unequal, dtype=bool)
    mismatched = int(unequal.sum())
    index = None
    if mismatched:
        index = tuple(int(i) for i in np.argwhere(unequal)[0])
    return ParityResult(
        passed=mismatched == 0, exact=True, reference_shape=ref.shape, received_shape=rec.shape,
        size=int(ref.size), mismatched=mismatched,
        max_abs=float(abs_err.max()) if abs_err.size else 0.0,
        max_rel=float(rel_err.max()) if rel_err.size else 0.0,
        index=index,
        reference_value=_scalar(ref[index]) if index is not None else None,
        received_value=_scalar(rec[index]) if index is not None else None,
        nan_mismatch=None, statistic="exact", statistic_value=float(mismatched),
        atol_to_pass=None, rtol_to_pass=None)


def _describe_nonfinite(ref: np.ndarray, rec: np.ndarray, bad: np.ndarray) -> str:
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    count = int(bad.sum())
    r, g = ref[first], rec[first]
    if np.isnan(r) and np.isnan(g):
        what = "NaN on both sides (NaN never compares as a pass)"
    elif np.isnan(g) or np.isinf(g):
        what = f"{g} in the format where the SavedModel gives {r}"
    else:
        what = f"{r} in the SavedModel where the format gives {g}"
    more = f" ({count} such elements)" if count > 1 else ""
    return f"{what} at {list(first)}{more}"


def _compare_close(ref: np.ndarray, rec: np.ndarray, tolerance: Tolerance) -> ParityResult:
    ref_f = ref.astype(np.float64)
    rec_f = rec.astype(np.float64)
    ref_fin, rec_fin = np.isfinite(ref_f), np.isfinite(rec_f)
    both_fin = ref_fin & rec_fin
    same_inf = np.isinf(ref_f) & np.isinf(rec_f) & (ref_f == rec_f)
    bad = ~both_fin & ~same_inf  # NaN anywhere, or Inf on one side / opposite signs
    with np.errstate(invalid="ignore", over="ignore"):
        abs_err = np.where(both_fin, np.abs(rec_f - ref_f), 0.0)
        abs_err = np.where(bad, math.inf, abs_err)
        mag = np.abs(np.where(both_fin, ref_f, 0.0))
        rel_err = np.divide(abs_err, mag, out=np.where(abs_err > 0, math.inf, 0.0), where=mag > 0)
        allowance = tolerance.atol + tolerance.rtol * mag
        ratio = np.divide(abs_err, allowance, out=np.where(abs_err > 0, math.inf, 0.0),
                          where=allowance > 0)
    ratio = np.where(bad, math.inf, ratio)
    stat_value = _stat(ratio.reshape(-1), tolerance.statistic)
    mismatched = int((ratio > 1.0).sum())
    nan_mismatch = _describe_nonfinite(ref_f, rec_f, bad) if bad.any() else None
    index: tuple[int, ...] | None = None
    if ratio.size:
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
        else:
            index = tuple(int(i) for i in np.unravel_index(int(np.argmax(ratio)), ratio.shape))
    finite_abs = abs_err[both_fin]
    finite_rel = rel_err[both_fin]
    if bad.any():
        atol_to_pass: float = math.inf
        rtol_to_pass: float = math.inf
    else:
        atol_to_pass = _stat(finite_abs, tolerance.statistic) if finite_abs.size else 0.0
        rtol_to_pass = _stat(finite_rel, tolerance.statistic) if finite_rel.size else 0.0
    passed = nan_mismatch is None and stat_value <= 1.0
    return ParityResult(
        passed=passed, exact=False, reference_shape=ref.shape, received_shape=rec.shape,
        size=int(ref.size), mismatched=mismatched,
        max_abs=float(abs_err.max()) if abs_err.size else 0.0,
        max_rel=float(rel_err.max()) if rel_err.size else 0.0,
        index=index,
        reference_value=_scalar(ref[index]) if index is not None else None,
        received_value=_scalar(rec[index]) if index is not None else None,
        nan_mismatch=nan_mismatch, statistic=tolerance.statistic, statistic_value=stat_value,
        atol_to_pass=atol_to_pass, rtol_to_pass=rtol_to_pass)


def top1_agreement(reference: np.ndarray, received: np.ndarray, axis: int = -1) -> float:
    """Share of rows whose argmax along ``axis`` is the same; a row with NaN never agrees."""
    ref = np.asarray(reference, dtype=np.float64)
    rec = np.asarray(received, dtype=np.float64)
    if ref.shape != rec.shape:
        raise ValueError(f"top-1 agreement needs equal shapes: {list(ref.shape)} vs {list(rec.shape)}")
    if ref.ndim == 0 or ref.shape[axis] == 0:
        raise ValueError(f"top-1 agreement needs a non-empty class axis; shape {list(ref.shape)}")
    agree = np.argmax(ref, axis=axis) == np.argmax(rec, axis=axis)
    nan_rows = np.isnan(ref).any(axis=axis) | np.isnan(rec).any(axis=axis)
    agree = agree & ~nan_rows
    return float(agree.mean()) if agree.size else 1.0


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if math.isinf(value):
        return "inf"
    return f"{value:.2g}" if value != 0 else "0"


def _value(value: Any) -> str:
    if isinstance(value, float):
        return repr(value) if not math.isfinite(value) else f"{value:.9g}"
    return repr(value)


def would_pass(result: ParityResult) -> str:
    """``would pass with atol=3.1e-06 (rtol=0) or rtol=2.2e-04 (atol=0)`` or why none would."""
    if result.exact:
        return "integer, bool and string outputs must match exactly; no tolerance applies"
    if result.shape_mismatch:
        return "no tolerance would pass: the shapes differ"
    if result.nan_mismatch:
        return "no tolerance would pass: NaN/Inf do not compare as a pass"
    atol = f"atol={result.atol_to_pass:.1e} (rtol=0)"
    if result.rtol_to_pass is None or math.isinf(result.rtol_to_pass):
        return f"would pass with {atol}; no rtol alone would (the reference is 0 where it differs)"
    return f"would pass with {atol} or rtol={result.rtol_to_pass:.1e} (atol=0)"


def parity_failure(result: ParityResult, *, check: str, format: str, signature: str, output: str,
                   tolerance: Tolerance, source: str = "") -> CheckFailure:
    """The failure for one output: format, signature, output, tolerance, figures, a fix."""
    who = format if not source else source if source.startswith(format) else f"{format} ({source})"
    head = f"{who}: output {output!r} of signature {signature!r} differs from the SavedModel"
    if result.exact:
        title = f"{head} (tolerance: exact match)"
    else:
        title = f"{head} beyond tolerance {tolerance.describe()}"
    details: list[str] = []
    if result.shape_mismatch:
        return CheckFailure(check, title, received=f"{format}: {result.shape_mismatch}",
                            documented=f"savedmodel: shape {list(result.reference_shape)}",
                            details=[would_pass(result)])
    at = list(result.index) if result.index is not None else []
    received = f"{_value(result.received_value)} ({format}, at {at})"
    documented = f"{_value(result.reference_value)} (savedmodel, the reference, at {at})"
    if result.nan_mismatch:
        details.append(f"non-finite: {result.nan_mismatch}")
    details.append(f"max abs error {_fmt(result.max_abs)}, max rel error {_fmt(result.max_rel)}; "
                   f"{result.mismatched} of {result.size} elements outside the tolerance")
    if not result.exact and result.statistic != "max":
        details.append(f"{result.statistic} of error/allowance is {result.statistic_value:.3g} "
                       "(must be <= 1)")
    details.append(would_pass(result))
    return CheckFailure(check, title, received=received, documented=documented, details=details)
