"""The safety family: the op-policy scan, as a check and as a gate before every loader.

``ops`` is a model-level test item that reports what the scan found. Independently, the
scan runs before any backend loads a model (:data:`harness.engine.BEFORE_LOAD`), so a
hostile model fails every check that would have loaded it, with the scan's message,
before TensorFlow touches it, unless the contract's ``ops`` section or ``--allow-op``
permits those ops.
"""

from __future__ import annotations

from typing import Any, Iterable

from harness.contract.model import Contract
from harness.engine import BEFORE_LOAD, Case, Engine, planner, register
from harness.savedmodel.layout import ModelRef


def policy_for(engine: Engine, contract: Contract) -> Any:
    from harness.safety import OpPolicy

    return OpPolicy.from_mapping(dict(contract.ops), file=contract.path,
                                 pointer="/ops").permitting(engine.options.allow_ops)


def scan(engine: Engine, contract: Contract, ref: ModelRef) -> Any:
    """The scan report of one model under the contract's policy, once per session."""
    from harness.safety import scan_saved_model

    return engine.once(("scan", ref.path, contract.path), lambda: scan_saved_model(
        ref.path, policy_for(engine, contract), tags=set(contract.tags)))


def gate(engine: Engine, contract: Contract, ref: ModelRef) -> None:
    """Refuse to load a model whose graph breaks the op policy."""
    scan(engine, contract, ref).raise_for_violations()


register(BEFORE_LOAD, gate)


def _run_ops(engine: Engine, case: Case) -> list[str]:
    report = scan(engine, case.contract, case.model)
    report.raise_for_violations()
    ops = sorted(set().union(*report.ops_by_signature.values())) if report.ops_by_signature else []
    return [f"op policy: {len(ops)} op types reachable from signatures, none denied "
            f"(scan took {report.seconds * 1000:.0f} ms)"]


@planner
def safety_cases(engine: Engine, contract: Contract, model: ModelRef) -> Iterable[Case]:
    yield Case(contract, model, None, "ops", "safety", _run_ops)
