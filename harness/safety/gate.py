"""The op-policy gate: no loader touches a model whose graph breaks the policy.

:func:`scan` reads a model once per run under its contract's policy (the contract's
``ops`` section, plus ``--allow-op``); :func:`gate` raises
:class:`~harness.errors.PolicyViolation` for a model that breaks it. Every way of getting a
backend (:func:`harness.backends.source.open_backend`) calls :func:`gate` first, and the
``ops`` check reports the same scan.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.cache_dir import default_cache_dir
from harness.contract.model import Contract
from harness.safety.policy import OpPolicy
from harness.safety.scan import ScanReport, scan_saved_model
from harness.savedmodel.layout import ModelRef
from harness.savedmodel.registered_ops import RegisteredOps

if TYPE_CHECKING:  # pragma: no cover - types only
    from harness.context import RunContext


def policy_for(context: "RunContext", contract: Contract) -> OpPolicy:
    """The contract's op policy, permitting the run's ``--allow-op`` ops too."""
    return OpPolicy.from_mapping(dict(contract.ops), file=contract.path,
                                 pointer="/ops").permitting(context.options.allow_ops)


def scan(context: "RunContext", contract: Contract, ref: ModelRef) -> ScanReport:
    """The scan report of one model under the contract's policy, once per run."""
    return context.once(("scan", ref.path, contract.path), lambda: _scan(context, contract, ref))


def _scan(context: "RunContext", contract: Contract, ref: ModelRef) -> ScanReport:
    # TensorFlow's "registered" answers, kept in the run's cache folder across runs
    registered = context.once(("registered-ops",), lambda: RegisteredOps(
        default_cache_dir(context.options.export_cache)))
    try:
        return scan_saved_model(ref.path, policy_for(context, contract), tags=set(contract.tags),
                                registered=registered)
    finally:
        registered.save()


def gate(context: "RunContext", contract: Contract, ref: ModelRef) -> None:
    """Refuse to load a model whose graph breaks the op policy."""
    scan(context, contract, ref).raise_for_violations()
