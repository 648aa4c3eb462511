"""``status``: every version under test is AVAILABLE over REST and gRPC."""

from __future__ import annotations

from harness.checks.case import Case
from harness.checks.serving.access import endpoint
from harness.checks.serving.declare import serving_check
from harness.context import RunContext
from harness.errors import CheckFailure


@serving_check("status", scope="model")
def status(context: RunContext, case: Case) -> list[str]:
    from harness.serving.grpc_client import GrpcClient, GrpcError
    from harness.serving.rest import RestClient, RestError

    ep = endpoint(context, case)
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
