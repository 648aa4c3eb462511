"""The serving family's cases, derived from its declared checks: ``status`` once per model,
then for each signature the checks that apply, in the order of the modules below."""

from __future__ import annotations

from typing import Iterable

from harness.checks.case import Case, declared_cases, planner
from harness.checks.serving import (
    addressing,
    bad_requests,
    batch,
    examples,
    metadata,
    predict,
    status,
)
from harness.checks.serving.declare import FAMILY
from harness.context import RunContext
from harness.contract.model import Contract
from harness.savedmodel.layout import ModelRef

#: the order checks are planned in (and so listed in reports)
MODULES = (status, metadata, predict, examples, addressing, bad_requests, batch)


@planner
def serving_cases(context: RunContext, contract: Contract, model: ModelRef) -> Iterable[Case]:
    return declared_cases(context, contract, model, FAMILY, modules=[m.__name__ for m in MODULES])
