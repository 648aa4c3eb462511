"""The serving family's cases: which checks run for each signature of a contract."""

from __future__ import annotations

from typing import Iterable

from harness.checks.case import Case, planner
from harness.checks.serving.declare import CLASSIFY_METHOD, FAMILY, REGRESS_METHOD, SERVING_BACKENDS, run_case
from harness.checks.serving.examples import example_input, served_method
from harness.context import RunContext
from harness.contract.model import Contract
from harness.savedmodel.layout import ModelRef
from harness.serving import config as cfg


@planner
def serving_cases(context: RunContext, contract: Contract, model: ModelRef) -> Iterable[Case]:
    if not context.backend_selected(contract, "serving"):
        return
    protocols = cfg.protocols(contract)
    yield Case(contract, model, None, "status", FAMILY, run_case, backend="serving")
    for sig in contract.signatures:
        checks = ["metadata"]
        if "rest" in protocols:
            checks += ["predict-rest-row", "predict-rest-columnar"]
        if "grpc" in protocols:
            checks.append("predict-grpc")
        if example_input(sig) is not None:
            method = served_method(context, contract, model, sig)
            if method == CLASSIFY_METHOD:
                checks.append("classify")
            elif method == REGRESS_METHOD:
                checks.append("regress")
        checks += ["addressing", "bad-requests", "batch-consistency"]
        for check in checks:
            yield Case(contract, model, sig.name, check, FAMILY, run_case, backend=SERVING_BACKENDS[check])
