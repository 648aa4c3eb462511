"""Run golden calls through a backend: the one place goldens touch a model.

Backends come the one way every check gets them
(:func:`harness.backends.source.open_backend`): the op-policy scan first (a model that
breaks the policy is refused before anything loads it), then the backend in an isolated
child process (unless the run context says ``in_process``). TFLite, ONNX and TF.js
exports go through the export cache like every other check.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from harness.context import RunContext
from harness.contract.model import Contract
from harness.savedmodel.layout import ModelRef, resolve_model

#: Backends a golden records and compares, in this order. serving is compared elsewhere.
GOLDEN_BACKENDS = ("savedmodel", "tflite", "onnx", "tfjs")


@dataclass(frozen=True)
class Target:
    """One golden: a contract's model (latest version) and one of its signatures."""

    contract: Contract
    model: ModelRef
    signature: str

    @property
    def model_name(self) -> str:
        return self.model.base.name

    def directory(self, root: Path) -> Path:
        return Path(root) / self.model_name / self.signature


def targets(contract_paths: Sequence[Path]) -> list[Target]:
    """Every (model, signature) of the contracts; a TF Serving base path gives its latest version."""
    from harness.contract.load import load_contract

    out: list[Target] = []
    for path in contract_paths:
        contract = load_contract(Path(path))
        for model_path in contract.models:
            refs = resolve_model(model_path)
            ref = refs[-1]
            for sig in contract.signatures:
                out.append(Target(contract, ref, sig.name))
    return out


def backends_for(contract: Contract) -> list[str]:
    """savedmodel, and each converted format the contract lists and has not disabled."""
    return [name for name in GOLDEN_BACKENDS if name == "savedmodel" or contract.format(name) is not None]


def check_backend(name: str) -> None:
    """Raise :class:`~harness.errors.BackendUnavailable` when ``name`` cannot run here."""
    from harness.backends import BACKENDS

    BACKENDS[name].check_available()


def run_calls(name: str, contract: Contract, model: ModelRef,
              calls: Mapping[str, Sequence[Mapping[str, np.ndarray]]], *,
              context: RunContext | None = None) -> dict[str, list[dict[str, np.ndarray]]]:
    """Outputs of each signature on each of its calls (``{signature: [outputs per call]}``),
    by backend ``name``, loaded once (after the op-policy gate) and released after.

    Raises :class:`~harness.errors.PolicyViolation`,
    :class:`~harness.errors.BackendUnavailable`, :class:`~harness.errors.ExportError` or
    :class:`~harness.backends.base.InferenceError` with the backend's own message.
    """
    import harness.backends  # noqa: F401 - registers every backend
    from harness.backends.source import open_backend

    backend = open_backend(context if context is not None else RunContext(), name, contract, model)
    try:
        return {sig: [backend.infer(sig, dict(call)) for call in sig_calls]
                for sig, sig_calls in calls.items()}
    finally:
        backend.deactivate()
