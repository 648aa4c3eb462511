"""``predict-rest-row``, ``predict-rest-columnar``, ``predict-grpc``: fuzzed calls through the server."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from harness.backends.base import InferenceError
from harness.backends.source import open_backend
from harness.checks.case import Case, Skipped
from harness.checks.conformance import output_conformance
from harness.checks.serving.access import (
    case_signature,
    ref_call,
    reference,
    refused,
    serving_backend,
    skip_rest_if_blocked,
    timed,
)
from harness.checks.serving.compare import compare_outputs, record_findings
from harness.checks.serving.declare import over, serving_check
from harness.context import RunContext
from harness.contract.model import SignatureSpec
from harness.events import RestGrpcCompared
from harness.fuzz import run_property
from harness.serving import config as cfg


def _predict_check(context: RunContext, case: Case, protocol: str, row: bool = False) -> list[str]:
    sig = case_signature(case)
    name = "serving-rest" if protocol == "REST" else "serving-grpc"
    if protocol == "REST":
        skip_rest_if_blocked(sig)
        if row:
            _require_row_format(sig)
    backend = serving_backend(context, case, name)
    ref = reference(context, case)
    how = "row format" if row and protocol == "REST" else ("columnar" if protocol == "REST"
                                                           else "PredictRequest")
    grpc = _optional_grpc(context, case) if protocol == "REST" and not row else None
    rest_vs_grpc: list[float] = []

    def prop(c: Any) -> None:
        expected = ref_call(ref, sig, c.inputs, case.check)
        try:
            if protocol == "REST":
                got = timed(context, "REST", lambda: backend.predict(sig, c.inputs, row=row))
            else:
                got = timed(context, "gRPC", lambda: backend.infer(sig.name, c.inputs))
        except InferenceError as exc:
            raise refused(backend, sig, c.inputs, case.check, exc, how) from None
        except Exception as exc:  # noqa: BLE001 - RestError from the direct predict
            raise refused(backend, sig, c.inputs, case.check, exc, how) from None
        output_conformance(case.contract, sig, c.inputs, got, source=f"{backend.label} ({how})",
                           dims=c.dims, check=case.check)
        compare_outputs(context, case, sig, name, backend.label, expected, got, c.inputs, how=how)
        if grpc is not None:
            try:
                other = grpc.infer(sig.name, c.inputs)
            except Exception:  # noqa: BLE001 - predict-grpc reports gRPC refusals
                return
            for spec in sig.outputs:
                if spec.is_float and spec.name in other and spec.name in got:
                    a = np.asarray(got[spec.name], dtype=np.float64)
                    b = np.asarray(other[spec.name], dtype=np.float64)
                    if a.shape == b.shape and a.size:
                        with np.errstate(invalid="ignore"):
                            diff = np.abs(a - b)
                        both_nan = np.isnan(a) & np.isnan(b)
                        diff = np.where(both_nan, 0.0, diff)
                        rest_vs_grpc.append(float(np.nanmax(np.where(np.isnan(diff), math.inf, diff))))

    run_property(context, case, sig, prop)
    notes = [f"ran on {backend.label} ({how}) against {ref.label}"]
    if protocol == "REST":
        record_findings(context, case, sig)  # recorded for the report; shown as notes by "metadata"
    if rest_vs_grpc:
        worst = max(rest_vs_grpc)
        context.events.emit(RestGrpcCompared(case.contract.name, case.model.label, sig.name,
                                             len(rest_vs_grpc), worst))
        notes.append(f"REST vs gRPC: max abs difference {worst:.3g} over {len(rest_vs_grpc)} calls"
                     + (" (float values identical: TF Serving's JSON round-trips float32)"
                        if worst == 0 else ""))
    return notes


def _optional_grpc(context: RunContext, case: Case) -> Any:
    if "grpc" not in cfg.protocols(case.contract):
        return None
    try:
        return open_backend(context, "serving-grpc", case.contract, case.model)
    except Exception:  # noqa: BLE001 - predict-grpc reports it
        return None


def _require_row_format(sig: SignatureSpec) -> None:
    from harness.checks.calls import batch_axis_dim

    if any(t.shape is not None and len(t.shape) == 0 for t in sig.inputs + sig.outputs):
        raise Skipped(f"signature {sig.name!r} has a scalar input or output: the row format "
                      "(instances) needs a batch dimension on every tensor")
    if batch_axis_dim(sig) is None:
        raise Skipped(f"signature {sig.name!r}: the row format (instances) needs every input and "
                      "output to lead with the same named batch dim; use the columnar form")


@serving_check("predict-rest-row", backend="serving-rest", applies=over("rest"))
def predict_rest_row(context: RunContext, case: Case) -> list[str]:
    return _predict_check(context, case, "REST", row=True)


@serving_check("predict-rest-columnar", backend="serving-rest", applies=over("rest"))
def predict_rest_columnar(context: RunContext, case: Case) -> list[str]:
    return _predict_check(context, case, "REST", row=False)


@serving_check("predict-grpc", backend="serving-grpc", applies=over("grpc"))
def predict_grpc(context: RunContext, case: Case) -> list[str]:
    return _predict_check(context, case, "gRPC")
