"""``classify`` / ``regress``: tf.Example signatures through the Classify and Regress APIs."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from harness.checks.case import Applies, Case, Skipped
from harness.checks.serving.access import (
    case_signature,
    endpoint,
    ref_call,
    reference,
    serving_backend,
    timed,
)
from harness.checks.serving.compare import compare_outputs
from harness.checks.serving.declare import CLASSIFY_METHOD, REGRESS_METHOD, serving_check
from harness.context import RunContext
from harness.contract.model import Contract, SignatureSpec
from harness.errors import CheckFailure, HarnessError
from harness.fuzz import run_property
from harness.savedmodel.layout import ModelRef
from harness.serving import config as cfg


def served_method(context: RunContext, contract: Contract, model: ModelRef, sig: SignatureSpec) -> str:
    from harness.checks.static import signature_of

    try:
        return signature_of(contract, sig, context.model_info(model)).method_name or ""
    except (CheckFailure, HarnessError):
        return ""  # the static checks report an unreadable model or a missing signature


def example_input(sig: SignatureSpec) -> str | None:
    examples = [t.name for t in sig.inputs if t.example is not None]
    return examples[0] if len(examples) == 1 and len(sig.inputs) == 1 else None


def _examples_check(context: RunContext, case: Case, kind: str) -> list[str]:
    from harness.serving.rest import RestClient, examples_request

    sig = case_signature(case)
    name = example_input(sig)
    assert name is not None
    ep = endpoint(context, case)
    version = ep.version_of(case.model)
    ref = reference(context, case)
    protocols = [p for p in cfg.protocols(case.contract)
                 if (p == "rest" and ep.rest_url) or (p == "grpc" and ep.grpc_target)]
    if not protocols:
        raise Skipped(f"{ep.label} has no address for the protocols {cfg.protocols(case.contract)}")
    rest = RestClient(ep.rest_url, ep.model.name) if "rest" in protocols else None
    grpc = serving_backend(context, case, "serving-grpc").client if "grpc" in protocols else None

    def answers(examples: list[bytes]) -> list[tuple[str, str, Any]]:
        out: list[tuple[str, str, Any]] = []
        if rest is not None:
            doc = examples_request(examples, sig.name)
            call = rest.classify if kind == "classify" else rest.regress
            response = timed(context, "REST", lambda: call(doc, version=version))
            if response.status != 200:
                raise CheckFailure(case.check, f"{ep.label}: REST :{kind} refused valid examples",
                                   received=response.describe(),
                                   documented=f"{{\"results\": [...]}} for every example ({sig.pointer})")
            out.append(("serving-rest", "REST", response.body.get("results")))
        if grpc is not None:
            from harness.serving.grpc_client import GrpcError

            call_g = grpc.classify if kind == "classify" else grpc.regress
            try:
                result = timed(context, "gRPC", lambda: call_g(sig.name, examples, version=version))
            except GrpcError as exc:
                raise CheckFailure(case.check, f"{ep.label}: gRPC {kind.capitalize()} refused "
                                   "valid examples", received=str(exc),
                                   documented=f"a result for every example ({sig.pointer})") from None
            out.append(("serving-grpc", "gRPC", result))
        return out

    def prop(c: Any) -> None:
        examples = [bytes(e) for e in np.asarray(c.inputs[name], dtype=object).reshape(-1)]
        expected = ref_call(ref, sig, c.inputs, case.check)
        for fmt, protocol, result in answers(examples):
            label = f"{fmt} ({ep.origin}) :{kind}"
            got = _classify_arrays(result, expected) if kind == "classify" \
                else _regress_arrays(result, expected)
            if got is None:
                raise CheckFailure(case.check, f"{label}: the answer does not have one result per "
                                   "example", received=str(result)[:300],
                                   documented=f"{len(examples)} results ({sig.pointer})")
            compare_outputs(context, case, sig, fmt, f"{fmt} ({ep.origin})", expected, got,
                            c.inputs, how=f"{protocol} {kind}")

    try:
        run_property(context, case, sig, prop)
    finally:
        if rest is not None:
            rest.close()
    return [f"ran :{kind} over {', '.join(protocols)} on {ep.label} against {ref.label}"]


def _regress_arrays(result: Any, expected: Mapping[str, np.ndarray]) -> dict[str, np.ndarray] | None:
    """Regression results -> the signature's float output, shaped like the reference's."""
    if not isinstance(result, list):
        return None
    values = np.asarray([float(v) for v in result], dtype=np.float32)
    floats = [k for k, v in expected.items() if np.asarray(v).dtype.kind == "f"]
    if len(floats) != 1 or np.asarray(expected[floats[0]]).size != values.size:
        return None
    return {floats[0]: values.reshape(np.shape(expected[floats[0]]))}


def _classify_arrays(result: Any, expected: Mapping[str, np.ndarray]) -> dict[str, np.ndarray] | None:
    """Classification results -> ``scores`` (and ``classes`` if the signature has it)."""
    if not isinstance(result, list):
        return None
    scores, labels = [], []
    for item in result:
        if not isinstance(item, list):
            return None
        scores.append([float(pair[1]) for pair in item])
        labels.append([pair[0].encode("utf-8") if isinstance(pair[0], str) else bytes(pair[0])
                       for pair in item])
    out: dict[str, np.ndarray] = {}
    if "scores" in expected:
        ref = np.asarray(expected["scores"])
        arr = np.asarray(scores, dtype=np.float32)
        if arr.size != ref.size:
            return None
        out["scores"] = arr.reshape(ref.shape)
    if "classes" in expected:
        ref = np.asarray(expected["classes"])
        arr = np.empty(ref.shape, dtype=object)
        flat = [x for row in labels for x in row]
        if len(flat) != ref.size:
            return None
        arr.reshape(-1)[:] = flat
        out["classes"] = arr
    return out


def method_is(method: str) -> Applies:
    """Applies to a tf.Example signature whose SignatureDef's method is ``method``."""
    return lambda context, contract, model, sig: (
        example_input(sig) is not None and served_method(context, contract, model, sig) == method)


@serving_check("classify", applies=method_is(CLASSIFY_METHOD))
def classify(context: RunContext, case: Case) -> list[str]:
    return _examples_check(context, case, "classify")


@serving_check("regress", applies=method_is(REGRESS_METHOD))
def regress(context: RunContext, case: Case) -> list[str]:
    return _examples_check(context, case, "regress")
