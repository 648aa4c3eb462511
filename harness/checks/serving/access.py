"""Getting at the server under test: its endpoint, its protocol backends, the reference SavedModel."""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping

import numpy as np

import harness.backends.serving  # noqa: F401 - registers serving-rest and serving-grpc
from harness.backends.base import Backend, InferenceError
from harness.backends.source import open_backend
from harness.checks.case import Case, Skipped
from harness.checks.conformance import describe_inputs
from harness.context import RunContext
from harness.contract.model import SignatureSpec
from harness.errors import CheckFailure
from harness.events import RequestTimed
from harness.serving.findings import rest_blocked


def _as_failure(case: Case, exc: BaseException) -> CheckFailure | None:
    from harness.serving.servers import ServingStartError, UntrustedServer

    if isinstance(exc, UntrustedServer):
        head, _, _ = exc.message.partition("\n")
        return CheckFailure(case.check, head, details=exc.problems)
    if isinstance(exc, ServingStartError):
        return CheckFailure(case.check, f"the model server could not serve {case.model.label}",
                            received=exc.message,
                            documented="every version under test AVAILABLE")
    return None


def serving_backend(context: RunContext, case: Case, name: str) -> Any:
    """The ``serving-rest``/``serving-grpc`` backend; start/trust problems become failures."""
    try:
        backend = open_backend(context, name, case.contract, case.model)
        backend.activate()  # again, if the context released it to bound memory
        return backend
    except Exception as exc:  # noqa: BLE001 - converted or re-raised
        failure = _as_failure(case, exc)
        if failure is None:
            raise
        raise failure from None


def endpoint(context: RunContext, case: Case) -> Any:
    from harness.serving.servers import endpoint_for

    try:
        return endpoint_for(context, case.contract, case.model)
    except Exception as exc:  # noqa: BLE001
        failure = _as_failure(case, exc)
        if failure is None:
            raise
        raise failure from None


def reference(context: RunContext, case: Case) -> Backend:
    return open_backend(context, "savedmodel", case.contract, case.model)


def case_signature(case: Case) -> SignatureSpec:
    return case.contract.signature(case.signature or "")


def timed(context: RunContext, protocol: str, fn: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    try:
        return fn()
    finally:
        context.events.emit(RequestTimed(protocol, time.perf_counter() - start))


def ref_call(ref: Backend, sig: SignatureSpec, inputs: Mapping[str, np.ndarray],
              check: str) -> dict[str, np.ndarray]:
    try:
        return ref.infer(sig.name, inputs)
    except InferenceError as exc:
        raise CheckFailure(check, f"{ref.label}: the reference refused a valid input",
                           received=exc.message, details=[describe_inputs(inputs)]) from None


def refused(backend: Any, sig: SignatureSpec, inputs: Mapping[str, np.ndarray], check: str,
             exc: Exception, how: str) -> CheckFailure:
    return CheckFailure(check, f"{backend.label}: a valid input was refused ({how})",
                        received=str(exc),
                        documented=f"outputs for any input the contract allows ({sig.pointer})",
                        details=[describe_inputs(inputs)])



def skip_rest_if_blocked(sig: SignatureSpec) -> None:
    blocked = rest_blocked(sig)
    if blocked:
        raise Skipped(f"signature {sig.name!r} cannot be called over REST: TF Serving's JSON API "
                      f"does not support {', '.join(blocked)} (a REST fidelity finding; use gRPC)")




def infer_call(backend: Backend, signature: str, inputs: Mapping[str, np.ndarray]
                ) -> Callable[[], dict[str, np.ndarray]]:
    return lambda: backend.infer(signature, inputs)
