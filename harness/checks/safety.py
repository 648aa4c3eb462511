"""The safety family: the op-policy scan as a check.

``ops`` is a model-level test item that reports what the scan found. Independently, the
same scan gates every loader (:func:`harness.safety.gate.gate`, called by
:func:`harness.backends.source.open_backend`), so a hostile model fails every check that
would have loaded it, with the scan's message, before TensorFlow touches it, unless the
contract's ``ops`` section or ``--allow-op`` permits those ops.
"""

from __future__ import annotations

from typing import Iterable

from harness.checks.case import Case, check, declared_cases, planner
from harness.context import RunContext
from harness.contract.model import Contract
from harness.safety.gate import scan
from harness.savedmodel.layout import ModelRef


@check("ops", family="safety", scope="model")
def ops(context: RunContext, case: Case) -> list[str]:
    report = scan(context, case.contract, case.model)
    report.raise_for_violations()
    ops = sorted(set().union(*report.ops_by_signature.values())) if report.ops_by_signature else []
    return [f"op policy: {len(ops)} op types reachable from signatures, none denied "
            f"(scan took {report.seconds * 1000:.0f} ms)"]


@planner
def safety_cases(context: RunContext, contract: Contract, model: ModelRef) -> Iterable[Case]:
    return declared_cases(context, contract, model, "safety")
