"""``metadata``: the server's view of each signature matches the contract."""

from __future__ import annotations

from harness.checks.case import Case
from harness.checks.serving.access import case_signature, endpoint
from harness.checks.serving.compare import record_findings
from harness.checks.serving.declare import serving_check
from harness.context import RunContext
from harness.errors import CheckFailure


@serving_check("metadata")
def metadata(context: RunContext, case: Case) -> list[str]:
    from harness.checks.static import SIGNATURE_CHECKS
    from harness.serving.metadata import as_model_info, fetch_metadata

    sig = case_signature(case)
    ep = endpoint(context, case)
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
    return notes + record_findings(context, case, sig)
