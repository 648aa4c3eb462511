"""``addressing``: version numbers and labels reach the version under test."""

from __future__ import annotations

from typing import Any

from harness.checks.case import Case, Skipped
from harness.checks.serving.access import case_signature, endpoint, ref_call, reference, serving_backend
from harness.checks.serving.compare import compare_outputs
from harness.checks.serving.declare import serving_check
from harness.context import RunContext
from harness.errors import CheckFailure
from harness.fuzz import capped_examples, run_property
from harness.serving import config as cfg
from harness.serving.findings import rest_blocked


@serving_check("addressing")
def addressing(context: RunContext, case: Case) -> list[str]:
    sig = case_signature(case)
    ep = endpoint(context, case)
    version = ep.version_of(case.model)
    if version is None:
        raise Skipped(f"{case.model.label} is a plain SavedModel directory on a given server: "
                      "no version to address")
    labels = sorted(label for label, v in ep.model.labels.items() if v == version)
    rest = None
    if ep.rest_url and "rest" in cfg.protocols(case.contract) and not rest_blocked(sig):
        rest = serving_backend(context, case, "serving-rest")
    grpc = None
    if ep.grpc_target and "grpc" in cfg.protocols(case.contract):
        grpc = serving_backend(context, case, "serving-grpc")
    ref = reference(context, case)
    _labels_point_at(case, ep, grpc, version, labels)
    addresses: list[tuple[int | None, str | None]] = [(version, None)] + [(None, label)
                                                                          for label in labels]

    def prop(c: Any) -> None:
        expected = ref_call(ref, sig, c.inputs, case.check)
        for v, label in addresses:
            where = f"/versions/{v}" if v is not None else f"/labels/{label}"
            if rest is not None:
                try:
                    got = rest.predict(sig, c.inputs, row=False, version=v, label=label)
                except Exception as exc:  # noqa: BLE001
                    raise CheckFailure(case.check, f"{rest.label}: POST .../{where.strip('/')}:predict "
                                       "was refused", received=str(exc),
                                       documented=f"the answer of version {version}") from None
                compare_outputs(context, case, sig, "serving-rest", rest.label, expected, got,
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
                compare_outputs(context, case, sig, "serving-grpc", grpc.label, expected,
                                dict(answer.outputs), c.inputs, how=f"gRPC {spec}")

    run_property(context, case, sig, prop, examples=capped_examples(context, case.contract, 3))
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
    sig = case_signature(case)
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
