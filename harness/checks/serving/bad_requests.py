"""``bad-requests``: wrong dtype, wrong rank and unknown signatures are refused."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from harness.checks.case import Case, Skipped
from harness.checks.conformance import describe_inputs
from harness.checks.serving.access import case_signature, endpoint, serving_backend, timed
from harness.checks.serving.declare import GRPC_REFUSALS, serving_check
from harness.context import RunContext
from harness.errors import CheckFailure
from harness.fuzz import capped_examples, run_property
from harness.serving import config as cfg
from harness.serving.findings import rest_blocked


def _rest_wrong_values(value: np.ndarray, dtype: str) -> tuple[str, Any] | None:
    """A JSON tensor of the wrong type for ``dtype`` (JSON numbers are fine for floats)."""
    from harness.serving.rest import tensor_to_json

    arr = np.asarray(value)
    if dtype in ("float32", "float64"):
        return "strings", tensor_to_json(np.full(arr.shape, b"not a number", dtype=object), "string")
    if dtype.startswith(("int", "uint")):
        return "non-integral numbers", tensor_to_json(arr.astype(np.float64) + 0.5, "float64")
    if dtype == "string":
        return "numbers", tensor_to_json(np.zeros(arr.shape, dtype=np.float64), "float64")
    if dtype == "bool":
        return "numbers", tensor_to_json(np.full(arr.shape, 2.0), "float64")
    return None


@serving_check("bad-requests")
def bad_requests(context: RunContext, case: Case) -> list[str]:
    from harness.serving.rest import tensor_to_json
    from harness.strategies import wrong_dtype_inputs, wrong_rank_inputs

    sig = case_signature(case)
    ep = endpoint(context, case)
    protocols = cfg.protocols(case.contract)
    rest = serving_backend(context, case, "serving-rest") if ep.rest_url and "rest" in protocols \
        and not rest_blocked(sig) else None
    grpc = serving_backend(context, case, "serving-grpc") if ep.grpc_target and "grpc" in protocols \
        else None
    if rest is None and grpc is None:
        raise Skipped(f"{ep.label}: no protocol to send bad requests over")
    version = ep.version_of(case.model)
    unknown = "no_such_signature__model_contract"
    sent: list[str] = []

    def rest_expect(document: Any, what: str, inputs: Mapping[str, np.ndarray]) -> None:
        assert rest is not None
        response = timed(context, "REST", lambda: rest.client.predict(document, version=version))
        sent.append(f"REST {what}")
        if response.status == 400 and response.error:
            return
        problem = "answered 200" if response.status == 200 else "did not refuse it properly"
        raise CheckFailure(
            case.check, f"{rest.label}: {problem} for {what} (signature {sig.name!r})",
            received=response.describe() + ("" if response.error or response.status == 200
                                            else " (no {\"error\": ...} body)"),
            documented="HTTP 400 with {\"error\": \"...\"}: the contract declares "
                       f"{list(sig.reject)} of wrong inputs refused ({sig.pointer}/reject)"
                       if "signature" not in what else "HTTP 400 with {\"error\": \"...\"}",
            details=[describe_inputs(inputs)])

    def grpc_expect(name: str, inputs: Mapping[str, Any], what: str,
                    arrays: Mapping[str, np.ndarray]) -> None:
        from harness.serving.grpc_client import GrpcError

        assert grpc is not None
        sent.append(f"gRPC {what}")
        try:
            answer = timed(context, "gRPC", lambda: grpc.client.predict(name, inputs, version=version))
        except GrpcError as exc:
            if exc.code in GRPC_REFUSALS:
                return
            raise CheckFailure(case.check, f"{grpc.label}: {what} was refused with the wrong status "
                               f"(signature {sig.name!r})", received=str(exc),
                               documented="INVALID_ARGUMENT", details=[describe_inputs(arrays)]) from None
        shapes = {k: list(np.shape(v)) for k, v in answer.outputs.items()}
        raise CheckFailure(case.check, f"{grpc.label}: answered OK for {what} (signature {sig.name!r})",
                           received=f"a normal answer (output shapes {shapes})",
                           documented=f"INVALID_ARGUMENT (the contract declares {list(sig.reject)} "
                                      f"of wrong inputs refused, {sig.pointer}/reject)",
                           details=[describe_inputs(arrays)])

    def prop(c: Any) -> None:
        dtypes = {t.name: t.dtype for t in sig.inputs}
        good = {n: tensor_to_json(np.asarray(v), dtypes[n]) for n, v in c.inputs.items()}
        if rest is not None:
            rest_expect({"signature_name": unknown, "inputs": good}, "an unknown signature name",
                        c.inputs)
            if "dtype" in sig.reject:
                for spec in sig.inputs:
                    wrong = _rest_wrong_values(c.inputs[spec.name], spec.dtype)
                    if wrong is not None:
                        rest_expect({"signature_name": sig.name, "inputs": {**good, spec.name: wrong[1]}},
                                    f"input {spec.name!r} ({spec.dtype}) sent as JSON {wrong[0]}",
                                    c.inputs)
            if "rank" in sig.reject:
                for label, bad in wrong_rank_inputs(c, sig):
                    doc = {"signature_name": sig.name,
                           "inputs": {n: tensor_to_json(np.asarray(v), dtypes[n])
                                      for n, v in bad.inputs.items()}}
                    rest_expect(doc, label, bad.inputs)
        if grpc is not None:
            grpc_expect(unknown, c.inputs, "an unknown signature name", c.inputs)
            variants = []
            if "dtype" in sig.reject:
                variants += wrong_dtype_inputs(c, sig)
            if "rank" in sig.reject:
                variants += wrong_rank_inputs(c, sig)
            for label, bad in variants:
                grpc_expect(sig.name, bad.inputs, label, bad.inputs)

    run_property(context, case, sig, prop, examples=capped_examples(context, case.contract, 3))
    kinds = sorted(set(s.split(" ", 1)[1] if s.startswith(("REST", "gRPC")) else s for s in sent))
    return [f"{ep.label}: refused {len(sent)} bad requests ({'; '.join(kinds[:6])}"
            f"{'; ...' if len(kinds) > 6 else ''})"]
