"""The serving family: the contract checked through a model server, over REST and gRPC.

Planned when ``engine.backend_selected(contract, "serving")``; one server per contract
and model base path is shared by every case (:mod:`harness.serving.servers`).

* ``status`` (model-level): every version under test is AVAILABLE (REST and gRPC).
* ``metadata``: REST ``/metadata`` and gRPC GetModelMetadata report the contract's
  signature, names, dtypes and shapes, judged by the static checks' own functions on
  the server's view; returns the REST fidelity findings of the signature as notes.
* ``predict-rest-row``, ``predict-rest-columnar``, ``predict-grpc``: fuzzed calls; the
  outputs conform to the contract and agree with the SavedModel within the tolerance
  for ``serving`` (float32 values round-trip exactly through TF Serving's JSON, so REST
  is held to the same tolerance; the REST-vs-gRPC difference is recorded).
* ``classify`` / ``regress``: signatures whose input is serialized tf.Examples and whose
  method is classify/regress, through the Classify/Regress APIs, against the SavedModel.
* ``addressing``: ``/versions/N`` and ``/labels/L`` (REST), ``ModelSpec.version`` and
  ``version_label`` (gRPC) reach the version under test and answer as its SavedModel.
* ``bad-requests``: wrong dtype / wrong rank (where the contract rejects them) and an
  unknown signature are refused: HTTP 400 with ``{"error": ...}``, gRPC INVALID_ARGUMENT
  (FAILED_PRECONDITION too for an unknown signature key, as TF Serving answers); never 200.
* ``batch-consistency``: a batch of N answers as N single requests do.

Comparisons go through :func:`harness.checks.parity.compare` and are recorded in
``engine.data["parity"]`` with format ``serving-rest`` / ``serving-grpc``.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Iterable, Mapping

import numpy as np

import harness.backends.serving  # noqa: F401 - registers serving-rest and serving-grpc
from harness.backends.base import Backend, InferenceError
from harness.checks.conformance import describe_inputs, output_conformance
from harness.checks.parity import compare, parity_failure
from harness.contract.model import Contract, SignatureSpec
from harness.engine import REPORT_SECTIONS, Case, Engine, Skipped, planner, register
from harness.errors import CheckFailure, HarnessError
from harness.fuzz import capped_examples, run_property
from harness.savedmodel.layout import ModelRef
from harness.serving import config as cfg
from harness.serving.findings import rest_blocked, signature_findings

FAMILY = "serving"
CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"
GRPC_REFUSALS = ("INVALID_ARGUMENT", "FAILED_PRECONDITION")

Runner = Callable[[Engine, Case], list[str]]
#: check name -> runner; every check is one case per signature except "status".
SERVING_CHECKS: dict[str, Runner] = {}


def serving_check(name: str) -> Callable[[Runner], Runner]:
    def register(fn: Runner) -> Runner:
        SERVING_CHECKS[name] = fn
        return fn

    return register


# --------------------------------------------------------------------------- access


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


def serving_backend(engine: Engine, case: Case, name: str) -> Any:
    """The ``serving-rest``/``serving-grpc`` backend; start/trust problems become failures."""
    try:
        backend = engine.backend(name, case.contract, case.model)
        backend.activate()  # again, if the engine released it to bound memory
        return backend
    except Exception as exc:  # noqa: BLE001 - converted or re-raised
        failure = _as_failure(case, exc)
        if failure is None:
            raise
        raise failure from None


def endpoint(engine: Engine, case: Case) -> Any:
    from harness.serving.servers import endpoint_for

    try:
        return endpoint_for(engine, case.contract, case.model)
    except Exception as exc:  # noqa: BLE001
        failure = _as_failure(case, exc)
        if failure is None:
            raise
        raise failure from None


def reference(engine: Engine, case: Case) -> Backend:
    return engine.backend("savedmodel", case.contract, case.model)


def _signature(case: Case) -> SignatureSpec:
    return case.contract.signature(case.signature or "")


def _latency(engine: Engine, protocol: str, seconds: float) -> None:
    stats = engine.data.setdefault("serving_latency", {}).setdefault(protocol, [0, 0.0])
    stats[0] += 1
    stats[1] += seconds


def _timed(engine: Engine, protocol: str, fn: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    try:
        return fn()
    finally:
        _latency(engine, protocol, time.perf_counter() - start)


def _ref_call(ref: Backend, sig: SignatureSpec, inputs: Mapping[str, np.ndarray],
              check: str) -> dict[str, np.ndarray]:
    try:
        return ref.infer(sig.name, inputs)
    except InferenceError as exc:
        raise CheckFailure(check, f"{ref.label}: the reference refused a valid input",
                           received=exc.message, details=[describe_inputs(inputs)]) from None


def _refused(backend: Any, sig: SignatureSpec, inputs: Mapping[str, np.ndarray], check: str,
             exc: Exception, how: str) -> CheckFailure:
    return CheckFailure(check, f"{backend.label}: a valid input was refused ({how})",
                        received=str(exc),
                        documented=f"outputs for any input the contract allows ({sig.pointer})",
                        details=[describe_inputs(inputs)])


def record(engine: Engine, case: Case, fmt: str, output: str, result: Any, tolerance: Any,
           label: str) -> None:
    from harness.checks.formats import record as record_row

    record_row(engine, case, fmt, output, result, tolerance, label=label)


def compare_outputs(engine: Engine, case: Case, sig: SignatureSpec, fmt: str, label: str,
                    ref: Mapping[str, np.ndarray], got: Mapping[str, np.ndarray],
                    inputs: Mapping[str, np.ndarray], *, how: str = "") -> None:
    """Every contract output against the SavedModel's, within the serving tolerance."""
    failures = []
    for spec in sig.outputs:
        if spec.name not in got or spec.name not in ref:
            continue  # conformance reports missing outputs
        tol = case.contract.tolerance_for("serving", sig.name, spec.name)
        result = compare(ref[spec.name], got[spec.name], tol, exact=not spec.is_float)
        record(engine, case, fmt, spec.name, result, None if result.exact else tol, label)
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


def _findings(engine: Engine, case: Case, sig: SignatureSpec) -> list[str]:
    found = signature_findings(case.contract, sig)
    rows: list[dict[str, str]] = engine.data.setdefault("serving_findings", [])
    for item in found:
        row = item.as_dict()
        if row not in rows:
            rows.append(row)
    return [f.describe() for f in found]


def _skip_rest_if_blocked(sig: SignatureSpec) -> None:
    blocked = rest_blocked(sig)
    if blocked:
        raise Skipped(f"signature {sig.name!r} cannot be called over REST: TF Serving's JSON API "
                      f"does not support {', '.join(blocked)} (a REST fidelity finding; use gRPC)")


# --------------------------------------------------------------------------- status


@serving_check("status")
def status(engine: Engine, case: Case) -> list[str]:
    from harness.serving.grpc_client import GrpcClient, GrpcError
    from harness.serving.rest import RestClient, RestError

    ep = endpoint(engine, case)
    version = ep.version_of(case.model)
    problems, seen = [], []
    if ep.rest_url:
        client = RestClient(ep.rest_url, ep.model.name)
        try:
            response = client.status(version=version)
        except RestError as exc:
            problems.append(f"REST GET {client.path(version)}: {exc}")
        else:
            entries = response.body.get("model_version_status", []) \
                if isinstance(response.body, dict) else []
            states = {str(e.get("version")): e.get("state") for e in entries}
            if response.status != 200:
                problems.append(f"REST GET {client.path(version)}: {response.describe()}")
            elif version is not None and states.get(str(version)) != "AVAILABLE":
                problems.append(f"REST: version {version} is {states.get(str(version), 'absent')} "
                                f"(all: {states})")
            elif version is None and "AVAILABLE" not in states.values():
                problems.append(f"REST: no version AVAILABLE ({states})")
            else:
                seen.append(f"REST {states}")
        finally:
            client.close()
    if ep.grpc_target:
        grpc_client = GrpcClient(ep.grpc_target, ep.model.name)
        try:
            answer = grpc_client.status(version=version)
            states = {str(v): s for v, s, _ in answer}
            if version is not None and states.get(str(version)) != "AVAILABLE":
                problems.append(f"gRPC: version {version} is {states.get(str(version), 'absent')}")
            elif version is None and "AVAILABLE" not in states.values():
                problems.append(f"gRPC: no version AVAILABLE ({states})")
            else:
                seen.append(f"gRPC {states}")
        except GrpcError as exc:
            problems.append(f"gRPC GetModelStatus: {exc}")
        finally:
            grpc_client.close()
    if problems:
        raise CheckFailure("status", f"{ep.label}: model {ep.model.name!r} is not AVAILABLE"
                           + (f" at version {version}" if version is not None else ""),
                           received="; ".join(problems), documented="state AVAILABLE, error_code OK",
                           details=[f"expected versions: {list(ep.model.version_numbers)}"])
    notes = [f"{ep.label}: model {ep.model.name!r} version "
             f"{version if version is not None else 'latest'} AVAILABLE ({'; '.join(seen)})"]
    if ep.started:
        notes.append(f"{ep.label} started in {ep.start_seconds:.1f} s")
    return notes


# --------------------------------------------------------------------------- metadata


@serving_check("metadata")
def metadata(engine: Engine, case: Case) -> list[str]:
    from harness.checks.static import SIGNATURE_CHECKS
    from harness.serving.metadata import as_model_info, fetch_metadata

    sig = _signature(case)
    ep = endpoint(engine, case)
    version = ep.version_of(case.model)
    try:
        served = fetch_metadata(ep, version=version)
    except Exception as exc:  # noqa: BLE001 - the server cannot say what it serves
        raise CheckFailure("metadata", f"{ep.label}: no metadata for model {ep.model.name!r}",
                           received=f"{type(exc).__name__}: {exc}",
                           documented="GET .../metadata and GetModelMetadata answer") from None
    problems: list[str] = []
    notes: list[str] = []
    for protocol, signatures in served.items():
        info = as_model_info(case.contract, signatures, f"{ep.label} over {protocol}")
        for name in ("signature", "inputs", "outputs"):
            try:
                notes += [f"{protocol}: {n}" for n in SIGNATURE_CHECKS[name](case.contract, sig, info)]
            except CheckFailure as exc:
                problems.append(f"{protocol}: {exc.title}")
                if exc.received is not None:
                    problems.append(f"  Received: {exc.received} / Documented: {exc.documented}")
                problems += [f"  {d}" for d in exc.details]
                if name == "signature":
                    break
    if len(served) == 2:
        rest, grpc = served["REST"].get(sig.name), served["gRPC"].get(sig.name)
        if rest != grpc:
            problems.append(f"REST and gRPC metadata disagree on signature {sig.name!r}")
    if problems:
        raise CheckFailure("metadata", f"{ep.label}: signature {sig.name!r} as the server reports "
                           "it does not match the contract", details=problems)
    return notes + _findings(engine, case, sig)


# --------------------------------------------------------------------------- predict


def _predict_check(engine: Engine, case: Case, protocol: str, row: bool = False) -> list[str]:
    sig = _signature(case)
    name = "serving-rest" if protocol == "REST" else "serving-grpc"
    if protocol == "REST":
        _skip_rest_if_blocked(sig)
        if row:
            _require_row_format(sig)
    backend = serving_backend(engine, case, name)
    ref = reference(engine, case)
    how = "row format" if row and protocol == "REST" else ("columnar" if protocol == "REST"
                                                           else "PredictRequest")
    grpc = _optional_grpc(engine, case) if protocol == "REST" and not row else None
    rest_vs_grpc: list[float] = []

    def prop(c: Any) -> None:
        expected = _ref_call(ref, sig, c.inputs, case.check)
        try:
            if protocol == "REST":
                got = _timed(engine, "REST", lambda: backend.predict(sig, c.inputs, row=row))
            else:
                got = _timed(engine, "gRPC", lambda: backend.infer(sig.name, c.inputs))
        except InferenceError as exc:
            raise _refused(backend, sig, c.inputs, case.check, exc, how) from None
        except Exception as exc:  # noqa: BLE001 - RestError from the direct predict
            raise _refused(backend, sig, c.inputs, case.check, exc, how) from None
        output_conformance(case.contract, sig, c.inputs, got, source=f"{backend.label} ({how})",
                           dims=c.dims, check=case.check)
        compare_outputs(engine, case, sig, name, backend.label, expected, got, c.inputs, how=how)
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

    run_property(engine, case, sig, prop)
    notes = [f"ran on {backend.label} ({how}) against {ref.label}"]
    if protocol == "REST":
        _findings(engine, case, sig)  # recorded for the report; shown as notes by "metadata"
    if rest_vs_grpc:
        worst = max(rest_vs_grpc)
        engine.data.setdefault("serving_rest_vs_grpc", []).append(
            {"contract": case.contract.name, "model": case.model.label, "signature": sig.name,
             "calls": len(rest_vs_grpc), "max_abs": worst})
        notes.append(f"REST vs gRPC: max abs difference {worst:.3g} over {len(rest_vs_grpc)} calls"
                     + (" (float values identical: TF Serving's JSON round-trips float32)"
                        if worst == 0 else ""))
    return notes


def _optional_grpc(engine: Engine, case: Case) -> Any:
    if "grpc" not in cfg.protocols(case.contract):
        return None
    try:
        return engine.backend("serving-grpc", case.contract, case.model)
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


@serving_check("predict-rest-row")
def predict_rest_row(engine: Engine, case: Case) -> list[str]:
    return _predict_check(engine, case, "REST", row=True)


@serving_check("predict-rest-columnar")
def predict_rest_columnar(engine: Engine, case: Case) -> list[str]:
    return _predict_check(engine, case, "REST", row=False)


@serving_check("predict-grpc")
def predict_grpc(engine: Engine, case: Case) -> list[str]:
    return _predict_check(engine, case, "gRPC")


# --------------------------------------------------------------------------- classify/regress


def _method(engine: Engine, case: Case) -> str:
    from harness.checks.static import signature_of

    try:
        return signature_of(case.contract, _signature(case), engine.model_info(case.model)).method_name
    except (CheckFailure, HarnessError):
        return ""  # the static checks report an unreadable model or a missing signature


def _example_input(sig: SignatureSpec) -> str | None:
    examples = [t.name for t in sig.inputs if t.example is not None]
    return examples[0] if len(examples) == 1 and len(sig.inputs) == 1 else None


def _examples_check(engine: Engine, case: Case, kind: str) -> list[str]:
    from harness.serving.rest import RestClient, examples_request

    sig = _signature(case)
    name = _example_input(sig)
    assert name is not None
    ep = endpoint(engine, case)
    version = ep.version_of(case.model)
    ref = reference(engine, case)
    protocols = [p for p in cfg.protocols(case.contract)
                 if (p == "rest" and ep.rest_url) or (p == "grpc" and ep.grpc_target)]
    if not protocols:
        raise Skipped(f"{ep.label} has no address for the protocols {cfg.protocols(case.contract)}")
    rest = RestClient(ep.rest_url, ep.model.name) if "rest" in protocols else None
    grpc = serving_backend(engine, case, "serving-grpc").client if "grpc" in protocols else None

    def answers(examples: list[bytes]) -> list[tuple[str, str, Any]]:
        out: list[tuple[str, str, Any]] = []
        if rest is not None:
            doc = examples_request(examples, sig.name)
            call = rest.classify if kind == "classify" else rest.regress
            response = _timed(engine, "REST", lambda: call(doc, version=version))
            if response.status != 200:
                raise CheckFailure(case.check, f"{ep.label}: REST :{kind} refused valid examples",
                                   received=response.describe(),
                                   documented=f"{{\"results\": [...]}} for every example ({sig.pointer})")
            out.append(("serving-rest", "REST", response.body.get("results")))
        if grpc is not None:
            from harness.serving.grpc_client import GrpcError

            call_g = grpc.classify if kind == "classify" else grpc.regress
            try:
                result = _timed(engine, "gRPC", lambda: call_g(sig.name, examples, version=version))
            except GrpcError as exc:
                raise CheckFailure(case.check, f"{ep.label}: gRPC {kind.capitalize()} refused "
                                   "valid examples", received=str(exc),
                                   documented=f"a result for every example ({sig.pointer})") from None
            out.append(("serving-grpc", "gRPC", result))
        return out

    def prop(c: Any) -> None:
        examples = [bytes(e) for e in np.asarray(c.inputs[name], dtype=object).reshape(-1)]
        expected = _ref_call(ref, sig, c.inputs, case.check)
        for fmt, protocol, result in answers(examples):
            label = f"{fmt} ({ep.origin}) :{kind}"
            got = _classify_arrays(result, expected) if kind == "classify" \
                else _regress_arrays(result, expected)
            if got is None:
                raise CheckFailure(case.check, f"{label}: the answer does not have one result per "
                                   "example", received=str(result)[:300],
                                   documented=f"{len(examples)} results ({sig.pointer})")
            compare_outputs(engine, case, sig, fmt, f"{fmt} ({ep.origin})", expected, got,
                            c.inputs, how=f"{protocol} {kind}")

    try:
        run_property(engine, case, sig, prop)
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


@serving_check("classify")
def classify(engine: Engine, case: Case) -> list[str]:
    return _examples_check(engine, case, "classify")


@serving_check("regress")
def regress(engine: Engine, case: Case) -> list[str]:
    return _examples_check(engine, case, "regress")


# --------------------------------------------------------------------------- addressing


@serving_check("addressing")
def addressing(engine: Engine, case: Case) -> list[str]:
    sig = _signature(case)
    ep = endpoint(engine, case)
    version = ep.version_of(case.model)
    if version is None:
        raise Skipped(f"{case.model.label} is a plain SavedModel directory on a given server: "
                      "no version to address")
    labels = sorted(label for label, v in ep.model.labels.items() if v == version)
    rest = None
    if ep.rest_url and "rest" in cfg.protocols(case.contract) and not rest_blocked(sig):
        rest = serving_backend(engine, case, "serving-rest")
    grpc = None
    if ep.grpc_target and "grpc" in cfg.protocols(case.contract):
        grpc = serving_backend(engine, case, "serving-grpc")
    ref = reference(engine, case)
    _labels_point_at(case, ep, grpc, version, labels)
    addresses: list[tuple[int | None, str | None]] = [(version, None)] + [(None, label)
                                                                          for label in labels]

    def prop(c: Any) -> None:
        expected = _ref_call(ref, sig, c.inputs, case.check)
        for v, label in addresses:
            where = f"/versions/{v}" if v is not None else f"/labels/{label}"
            if rest is not None:
                try:
                    got = rest.predict(sig, c.inputs, row=False, version=v, label=label)
                except Exception as exc:  # noqa: BLE001
                    raise CheckFailure(case.check, f"{rest.label}: POST .../{where.strip('/')}:predict "
                                       "was refused", received=str(exc),
                                       documented=f"the answer of version {version}") from None
                compare_outputs(engine, case, sig, "serving-rest", rest.label, expected, got,
                                c.inputs, how=f"REST {where}")
            if grpc is not None:
                spec = f"ModelSpec.version={v}" if v is not None else f"ModelSpec.version_label={label!r}"
                try:
                    answer = grpc.client.predict(sig.name, c.inputs, version=v, label=label)
                except Exception as exc:  # noqa: BLE001
                    raise CheckFailure(case.check, f"{grpc.label}: Predict with {spec} was refused",
                                       received=str(exc),
                                       documented=f"the answer of version {version}") from None
                if answer.version is not None and answer.version != version:
                    raise CheckFailure(case.check, f"{grpc.label}: Predict with {spec} was answered "
                                       "by another version",
                                       received=f"PredictResponse.model_spec.version = {answer.version}",
                                       documented=f"version {version}"
                                       + (f" (formats.serving.version_labels[{label!r}])" if label else ""))
                compare_outputs(engine, case, sig, "serving-grpc", grpc.label, expected,
                                dict(answer.outputs), c.inputs, how=f"gRPC {spec}")

    run_property(engine, case, sig, prop, examples=capped_examples(engine, case.contract, 3))
    reached = [f"/versions/{version}"] + [f"/labels/{label}" for label in labels]
    notes = [f"{ep.label}: {', '.join(reached)} answer as version {version}'s SavedModel"]
    if not labels and ep.model.labels:
        notes.append(f"no label of formats.serving.version_labels points at version {version}")
    return notes


def _labels_point_at(case: Case, ep: Any, grpc: Any, version: int, labels: list[str]) -> None:
    """Before fuzzing: a gRPC Predict with each label is answered by ``version``.

    (``PredictResponse.model_spec.version`` names the version that answered; REST answers
    carry no version, so over REST a label is judged by its outputs only.)
    """
    from harness.exports.tflite import seeded_inputs
    from harness.serving.grpc_client import GrpcError

    if grpc is None or not labels:
        return
    sig = _signature(case)
    inputs = seeded_inputs(case.contract, sig, assets_dir=case.model.path / "assets", count=1)[0]
    for label in labels:
        try:
            answer = grpc.client.predict(sig.name, inputs, label=label)
        except GrpcError as exc:
            raise CheckFailure(case.check, f"{grpc.label}: Predict with ModelSpec.version_label="
                               f"{label!r} was refused", received=str(exc),
                               documented=f"the answer of version {version}") from None
        if answer.version != version:
            raise CheckFailure(case.check, f"{ep.label}: label {label!r} does not point at "
                               f"version {version}",
                               received=f"PredictResponse.model_spec.version = {answer.version} "
                                        f"for ModelSpec.version_label={label!r}",
                               documented=f"version {version} (formats.serving.version_labels"
                                          f"[{label!r}] in {case.contract.path.name})")


# --------------------------------------------------------------------------- bad requests


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
def bad_requests(engine: Engine, case: Case) -> list[str]:
    from harness.serving.rest import tensor_to_json
    from harness.strategies import wrong_dtype_inputs, wrong_rank_inputs

    sig = _signature(case)
    ep = endpoint(engine, case)
    protocols = cfg.protocols(case.contract)
    rest = serving_backend(engine, case, "serving-rest") if ep.rest_url and "rest" in protocols \
        and not rest_blocked(sig) else None
    grpc = serving_backend(engine, case, "serving-grpc") if ep.grpc_target and "grpc" in protocols \
        else None
    if rest is None and grpc is None:
        raise Skipped(f"{ep.label}: no protocol to send bad requests over")
    version = ep.version_of(case.model)
    unknown = "no_such_signature__model_contract"
    sent: list[str] = []

    def rest_expect(document: Any, what: str, inputs: Mapping[str, np.ndarray]) -> None:
        assert rest is not None
        response = _timed(engine, "REST", lambda: rest.client.predict(document, version=version))
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
            answer = _timed(engine, "gRPC", lambda: grpc.client.predict(name, inputs, version=version))
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

    run_property(engine, case, sig, prop, examples=capped_examples(engine, case.contract, 3))
    kinds = sorted(set(s.split(" ", 1)[1] if s.startswith(("REST", "gRPC")) else s for s in sent))
    return [f"{ep.label}: refused {len(sent)} bad requests ({'; '.join(kinds[:6])}"
            f"{'; ...' if len(kinds) > 6 else ''})"]


# --------------------------------------------------------------------------- batch consistency


@serving_check("batch-consistency")
def batch_consistency(engine: Engine, case: Case) -> list[str]:
    from harness.checks.calls import batch_axis_dim

    sig = _signature(case)
    if sig.stateful or not sig.batch_consistent:
        raise Skipped(f"signature {sig.name!r} opts out of batch consistency ({sig.pointer})")
    dim = batch_axis_dim(sig)
    if dim is None or case.contract.dims[dim].max < 2:
        raise Skipped(f"signature {sig.name!r} has no batch dim allowing 2 rows or more")
    ep = endpoint(engine, case)
    use_grpc = bool(ep.grpc_target) and "grpc" in cfg.protocols(case.contract)
    if not use_grpc and rest_blocked(sig):
        raise Skipped(f"signature {sig.name!r}: no gRPC address and REST cannot carry it")
    backend = serving_backend(engine, case, "serving-grpc" if use_grpc else "serving-rest")
    protocol = "gRPC" if use_grpc else "REST"

    def prop(c: Any) -> None:
        from hypothesis import assume

        size = int(c.dims.get(dim, np.shape(next(iter(c.inputs.values())))[0]))
        assume(size >= 2)
        try:
            batched = _timed(engine, protocol, lambda: backend.infer(sig.name, c.inputs))
        except InferenceError as exc:
            raise _refused(backend, sig, c.inputs, case.check, exc, f"a batch of {size}") from None
        for i in range(size):
            row = {k: np.asarray(v)[i:i + 1] for k, v in c.inputs.items()}
            try:
                single = _timed(engine, protocol, _infer_call(backend, sig.name, row))
            except InferenceError as exc:
                raise _refused(backend, sig, row, case.check, exc, f"row {i} alone") from None
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

    run_property(engine, case, sig, prop)
    return [f"ran on {backend.label}"]


def _infer_call(backend: Backend, signature: str, inputs: Mapping[str, np.ndarray]
                ) -> Callable[[], dict[str, np.ndarray]]:
    return lambda: backend.infer(signature, inputs)


# --------------------------------------------------------------------------- planning


def _run(engine: Engine, case: Case) -> list[str]:
    return SERVING_CHECKS[case.check](engine, case)


def _backend_of(check: str) -> str:
    if check.startswith("predict-rest"):
        return "serving-rest"
    if check == "predict-grpc":
        return "serving-grpc"
    return "serving"


@planner
def serving_cases(engine: Engine, contract: Contract, model: ModelRef) -> Iterable[Case]:
    if not engine.backend_selected(contract, "serving"):
        return
    protocols = cfg.protocols(contract)
    yield Case(contract, model, None, "status", FAMILY, _run, backend="serving")
    for sig in contract.signatures:
        checks = ["metadata"]
        if "rest" in protocols:
            checks += ["predict-rest-row", "predict-rest-columnar"]
        if "grpc" in protocols:
            checks.append("predict-grpc")
        if _example_input(sig) is not None:
            method = _method(engine, Case(contract, model, sig.name, "", FAMILY, _run))
            if method == CLASSIFY_METHOD:
                checks.append("classify")
            elif method == REGRESS_METHOD:
                checks.append("regress")
        checks += ["addressing", "bad-requests", "batch-consistency"]
        for check in checks:
            yield Case(contract, model, sig.name, check, FAMILY, _run, backend=_backend_of(check))


def findings_summary(engine: Engine) -> tuple[str, list[str]] | None:
    """End-of-run section: REST fidelity findings, server starts, latency."""
    rows = engine.data.get("serving_findings") or []
    starts = engine.data.get("serving_starts") or []
    latency = engine.data.get("serving_latency") or {}
    if not (rows or starts or latency):
        return None
    lines = []
    for start in starts:
        lines.append(f"{start['label']}: model {start['model']!r} versions "
                     f"{start['versions']} AVAILABLE after {start['seconds']:.1f} s")
    for protocol, (count, seconds) in sorted(latency.items()):
        if count:
            lines.append(f"{protocol}: {count} requests, mean {1000 * seconds / count:.1f} ms")
    for row in rows:
        lines.append(f"REST fidelity [{row['contract']}::{row['signature']}] "
                     f"{row['kind']}: {row['message']}")
    return "serving", lines


register(REPORT_SECTIONS, findings_summary)
