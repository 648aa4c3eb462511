"""Serving outputs against the SavedModel's, emitted as parity measurements; REST fidelity findings."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from harness.checks.case import Case
from harness.checks.conformance import describe_inputs
from harness.checks.parity import compare, parity_failure
from harness.context import RunContext
from harness.contract.model import SignatureSpec
from harness.errors import CheckFailure
from harness.serving.findings import signature_findings


def record(context: RunContext, case: Case, fmt: str, output: str, result: Any, tolerance: Any,
           label: str) -> None:
    from harness.checks.formats import record as record_row

    record_row(context, case, fmt, output, result, tolerance, label=label)


def compare_outputs(context: RunContext, case: Case, sig: SignatureSpec, fmt: str, label: str,
                    ref: Mapping[str, np.ndarray], got: Mapping[str, np.ndarray],
                    inputs: Mapping[str, np.ndarray], *, how: str = "") -> None:
    """Every contract output against the SavedModel's, within the serving tolerance."""
    failures = []
    for spec in sig.outputs:
        if spec.name not in got or spec.name not in ref:
            continue  # conformance reports missing outputs
        tol = case.contract.tolerance_for("serving", sig.name, spec.name)
        result = compare(ref[spec.name], got[spec.name], tol, exact=not spec.is_float)
        record(context, case, fmt, spec.name, result, None if result.exact else tol, label)
        if not result.passed:
            failure = parity_failure(result, check=case.check, format=fmt, signature=sig.name,
                                     output=spec.name, tolerance=tol,
                                     source=label[len(fmt):].strip(" ()") if label.startswith(fmt)
                                     else label)
            failures.append(CheckFailure(
                failure.check, failure.title + (f" ({how})" if how else ""),
                received=failure.received, documented=failure.documented,
                details=list(failure.details) + [describe_inputs(inputs)]))
    if failures:
        raise failures[0]


def record_findings(context: RunContext, case: Case, sig: SignatureSpec) -> list[str]:
    found = signature_findings(case.contract, sig)
    for item in found:
        context.events.emit(item)
    return [f.describe() for f in found]
