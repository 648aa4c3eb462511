"""A run's outputs on the golden inputs against the golden outputs. Arrays in, verdicts out.

Each output of each call is judged by :func:`harness.checks.parity.compare` with the
contract's tolerance for that backend (:meth:`Contract.tolerance_for`; for ``savedmodel``
that is the contract's own ``tolerance``), integer/bool/string outputs exactly. The
reference is the golden recorded for the same backend (``outputs-tflite.npz``) when there
is one, else the SavedModel golden.

A golden whose manifest names another model fingerprint than the model has now is
**stale**: it is reported as such and not compared (its numbers belong to another model).
A mismatch names both environments: the one that recorded the golden and this run's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from harness.checks.parity import ParityResult, compare, would_pass
from harness.contract.model import Contract, Tolerance
from harness.errors import CheckFailure
from harness.golden.arrays import load_calls
from harness.golden.manifest import Manifest, describe_environment, read_manifest, tf_version

INPUTS = "inputs.npz"
MANIFEST = "manifest.json"


def outputs_file(backend: str) -> str:
    return f"outputs-{backend}.npz"


@dataclass(frozen=True)
class Golden:
    """A golden directory, loaded: manifest, input calls, outputs per recorded backend."""

    directory: Path
    manifest: Manifest
    inputs: tuple[Mapping[str, np.ndarray], ...]
    outputs: Mapping[str, tuple[Mapping[str, np.ndarray], ...]]

    def reference_for(self, backend: str) -> str:
        """Which recorded backend ``backend`` is compared with: itself if recorded, else savedmodel."""
        return backend if backend in self.outputs else "savedmodel"


def load_golden(directory: Path) -> Golden:
    directory = Path(directory)
    manifest = read_manifest(directory / MANIFEST)
    inputs = tuple(load_calls(directory / INPUTS))
    outputs = {}
    for backend in manifest.backends:
        path = directory / outputs_file(backend)
        if path.is_file():
            outputs[backend] = tuple(load_calls(path))
    return Golden(directory, manifest, inputs, outputs)


def stale_reason(golden: Golden, current_fingerprint: str) -> str | None:
    """Why ``golden`` does not belong to the model as it is now, or None if it does."""
    recorded = golden.manifest.fingerprint
    if recorded == current_fingerprint:
        return None
    return (f"STALE golden {golden.directory}: recorded for model fingerprint {recorded[:12]} "
            f"({golden.manifest.model_path}, {golden.manifest.describe_recording()}), but the model "
            f"now has fingerprint {current_fingerprint[:12]}; not compared. If the model changed on "
            f"purpose, re-record: python -m harness.golden record --contract "
            f"{golden.manifest.contract} --force")


@dataclass(frozen=True)
class OutputVerdict:
    """One output over every golden call: the worst call's figures."""

    output: str
    passed: bool
    exact: bool
    tolerance: Tolerance
    max_abs: float
    max_rel: float
    #: index of the call with the worst result, and that result
    call: int
    worst: ParityResult


@dataclass(frozen=True)
class GoldenVerdict:
    """One backend's outputs on one golden: match, mismatch or stale."""

    model: str
    signature: str
    backend: str
    status: str  # match | mismatch | stale
    reference: str
    golden: Path
    recorded: Mapping[str, Any]
    current: Mapping[str, Any]
    outputs: tuple[OutputVerdict, ...] = ()
    stale: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return self.status == "match"

    def as_row(self) -> dict[str, Any]:
        """JSON-ready figures for the drift report."""
        return {
            "model": self.model, "signature": self.signature, "backend": self.backend,
            "status": self.status, "reference": self.reference,
            "tf": tf_version(self.current), "tf_golden": tf_version(self.recorded),
            "versions": dict(self.current.get("versions", {})),
            "stale": self.stale,
            "outputs": [{"output": o.output, "passed": o.passed, "exact": o.exact,
                         "max_abs": _finite(o.max_abs), "max_rel": _finite(o.max_rel),
                         "atol": o.tolerance.atol, "rtol": o.tolerance.rtol}
                        for o in self.outputs],
        }


def _finite(value: float) -> float | str:
    return value if math.isfinite(value) else ("inf" if value > 0 else "-inf") if not math.isnan(value) else "nan"


def compare_golden(golden: Golden, contract: Contract, backend: str,
                   received: Sequence[Mapping[str, np.ndarray]], current: Mapping[str, Any], *,
                   fingerprint: str) -> GoldenVerdict:
    """Judge ``received`` (one outputs mapping per golden call) against ``golden``."""
    man = golden.manifest
    base = dict(model=man.model, signature=man.signature, backend=backend, golden=golden.directory,
                recorded=man.environment, current=current)
    reason = stale_reason(golden, fingerprint)
    reference = golden.reference_for(backend)
    if reason is not None:
        return GoldenVerdict(status="stale", reference=reference, stale=reason, **base)  # type: ignore[arg-type]
    expected = golden.outputs.get(reference)
    if expected is None:
        raise FileNotFoundError(f"{golden.directory / outputs_file(reference)} is missing; "
                                "re-record the golden")
    if len(received) != len(expected):
        raise ValueError(f"{len(received)} calls received for a golden of {len(expected)} calls")
    spec = contract.signature(man.signature)
    verdicts = []
    for out in spec.outputs:
        tol = contract.tolerance_for(backend, man.signature, out.name)
        exact = not out.is_float
        worst: tuple[int, ParityResult] | None = None
        max_abs = max_rel = 0.0
        passed = True
        for i, (ref_call, rec_call) in enumerate(zip(expected, received, strict=True)):
            if out.name not in ref_call or out.name not in rec_call:
                missing = "golden" if out.name not in ref_call else "this run"
                raise KeyError(f"output {out.name!r} of call {i} is missing in {missing}")
            result = compare(ref_call[out.name], rec_call[out.name], tol, exact=exact)
            max_abs, max_rel = max(max_abs, result.max_abs), max(max_rel, result.max_rel)
            passed = passed and result.passed
            if worst is None or _badness(result) > _badness(worst[1]):
                worst = (i, result)
        assert worst is not None
        verdicts.append(OutputVerdict(out.name, passed, exact, tol, max_abs, max_rel, worst[0], worst[1]))
    status = "match" if all(v.passed for v in verdicts) else "mismatch"
    return GoldenVerdict(status=status, reference=reference, outputs=tuple(verdicts), **base)  # type: ignore[arg-type]


def _badness(result: ParityResult) -> tuple[bool, float]:
    return (not result.passed, result.statistic_value)


def golden_failure(verdict: GoldenVerdict) -> CheckFailure:
    """The failure for a mismatching or stale verdict: both environments, figures, what to do."""
    check = f"golden[{verdict.backend}]"
    where = f"{verdict.model}::{verdict.signature}"
    if verdict.status == "stale":
        return CheckFailure(check, f"{where}: the golden is stale", details=[verdict.stale or ""])
    bad = [o for o in verdict.outputs if not o.passed]
    first = bad[0]
    res = first.worst
    ref_file = verdict.golden / outputs_file(verdict.reference)
    title = (f"{verdict.backend}: output {first.output!r} of {where} differs from the golden "
             + ("(tolerance: exact match)" if first.exact else f"beyond tolerance {first.tolerance.describe()}"))
    at = list(res.index) if res.index is not None else []
    received = (f"{_show(res.received_value)} at {at} of call {first.call} "
                f"(this run: {describe_environment(verdict.current, verdict.backend)})")
    documented = (f"{_show(res.reference_value)} (golden recorded with "
                  f"{describe_environment(verdict.recorded, verdict.reference)}; {ref_file})")
    if res.shape_mismatch:
        received = f"{res.shape_mismatch} (this run: {describe_environment(verdict.current, verdict.backend)})"
        documented = f"shape {list(res.reference_shape)} (golden recorded with {describe_environment(verdict.recorded)})"
    details = []
    for o in bad:
        figures = (f"max abs error {o.max_abs:.3g}, max rel error {o.max_rel:.3g}" if not o.exact
                   else f"{o.worst.mismatched} of {o.worst.size} elements differ in call {o.call}")
        details.append(f"output {o.output!r}: {figures}; {would_pass(o.worst)}")
    details.append(f"the golden: {verdict.golden} (compared against its {verdict.reference} outputs)")
    details.append("if the change is intended (a new TensorFlow, a new export), re-record: "
                   f"python -m harness.golden record --contract {_contract_of(verdict)} --force")
    return CheckFailure(check, title, received=received, documented=documented, details=details)


def _contract_of(verdict: GoldenVerdict) -> str:
    try:
        return read_manifest(verdict.golden / MANIFEST).contract
    except Exception:  # noqa: BLE001 - only for the hint
        return "CONTRACT"


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.9g}"
    return repr(value)
