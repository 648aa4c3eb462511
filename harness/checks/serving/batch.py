"""``batch-consistency``: a batch of N answers as N single requests do."""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.backends.base import InferenceError
from harness.checks.case import Case, Skipped
from harness.checks.conformance import describe_inputs
from harness.checks.parity import compare
from harness.checks.serving.access import (
    case_signature,
    endpoint,
    infer_call,
    refused,
    serving_backend,
    timed,
)
from harness.checks.serving.declare import serving_check
from harness.context import RunContext
from harness.errors import CheckFailure
from harness.fuzz import run_property
from harness.serving import config as cfg
from harness.serving.findings import rest_blocked


@serving_check("batch-consistency")
def batch_consistency(context: RunContext, case: Case) -> list[str]:
    from harness.checks.calls import batch_axis_dim

    sig = case_signature(case)
    if sig.stateful or not sig.batch_consistent:
        raise Skipped(f"signature {sig.name!r} opts out of batch consistency ({sig.pointer})")
    dim = batch_axis_dim(sig)
    if dim is None or case.contract.dims[dim].max < 2:
        raise Skipped(f"signature {sig.name!r} has no batch dim allowing 2 rows or more")
    ep = endpoint(context, case)
    use_grpc = bool(ep.grpc_target) and "grpc" in cfg.protocols(case.contract)
    if not use_grpc and rest_blocked(sig):
        raise Skipped(f"signature {sig.name!r}: no gRPC address and REST cannot carry it")
    backend = serving_backend(context, case, "serving-grpc" if use_grpc else "serving-rest")
    protocol = "gRPC" if use_grpc else "REST"

    def prop(c: Any) -> None:
        from hypothesis import assume

        size = int(c.dims.get(dim, np.shape(next(iter(c.inputs.values())))[0]))
        assume(size >= 2)
        try:
            batched = timed(context, protocol, lambda: backend.infer(sig.name, c.inputs))
        except InferenceError as exc:
            raise refused(backend, sig, c.inputs, case.check, exc, f"a batch of {size}") from None
        for i in range(size):
            row = {k: np.asarray(v)[i:i + 1] for k, v in c.inputs.items()}
            try:
                single = timed(context, protocol, infer_call(backend, sig.name, row))
            except InferenceError as exc:
                raise refused(backend, sig, row, case.check, exc, f"row {i} alone") from None
            for spec in sig.outputs:
                tol = case.contract.tolerance_for("serving", sig.name, spec.name)
                result = compare(np.asarray(single[spec.name]),
                                 np.asarray(batched[spec.name])[i:i + 1], tol,
                                 exact=not spec.is_float)
                if not result.passed:
                    raise CheckFailure(
                        case.check, f"{backend.label}: signature {sig.name!r} output "
                        f"{spec.name!r}: row {i} of a batch of {size} differs from the same row "
                        "sent alone", received=f"in the batch: {result.describe_received()}",
                        documented=f"equal to the single-row request within {tol.describe()}",
                        details=[result.describe(), describe_inputs(c.inputs)])

    run_property(context, case, sig, prop)
    return [f"ran on {backend.label}"]
