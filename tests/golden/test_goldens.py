"""Every environment's outputs on the golden inputs against baselines/ (one test per golden and backend).

SavedModel always; TFLite, ONNX and TF.js where the contract lists them (skipped with the
install command where their runtime is missing: Node.js for TF.js). A stale golden (recorded for another model
fingerprint) fails as STALE without being compared; a mismatch names the TensorFlow and
converter versions of the recording and of this run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.errors import BackendUnavailable
from harness.golden.compare import MANIFEST, compare_golden, golden_failure, load_golden, stale_reason
from harness.golden.manifest import environment, read_manifest
from harness.golden.run import GOLDEN_BACKENDS, backends_for

ROOT = Path(__file__).resolve().parents[2]
BASELINES = ROOT / "baselines"


def _cases() -> list[Any]:
    cases = []
    for manifest_path in sorted(BASELINES.glob(f"*/*/{MANIFEST}")):
        man = read_manifest(manifest_path)
        for backend in GOLDEN_BACKENDS:
            cases.append(pytest.param(manifest_path.parent, backend,
                                      id=f"{man.model}::{man.signature}::{backend}"))
    return cases


_OUTPUTS: dict[tuple[str, str], Any] = {}


def _outputs(contract: Any, ref: Any, backend: str, model: str) -> Any:
    """Outputs of every golden signature of ``model`` by ``backend`` (each model loaded once)."""
    from harness.golden.arrays import load_calls
    from harness.golden.run import run_calls

    key = (model, backend)
    if key not in _OUTPUTS:
        calls = {d.name: load_calls(d / "inputs.npz") for d in sorted((BASELINES / model).iterdir())
                 if (d / MANIFEST).is_file()}
        try:
            _OUTPUTS[key] = run_calls(backend, contract, ref, calls)
        except Exception as exc:  # noqa: BLE001 - re-raised by every test of this model/backend
            _OUTPUTS[key] = exc
    value = _OUTPUTS[key]
    if isinstance(value, BaseException):
        raise value
    return value


@pytest.mark.parametrize(("directory", "backend"), _cases())
def test_golden(directory: Path, backend: str, golden_log: list[dict[str, Any]]) -> None:
    from harness.contract.load import load_contract
    from harness.exports.cache import fingerprint
    from harness.savedmodel.layout import resolve_model

    golden = load_golden(directory)
    man = golden.manifest
    contract = load_contract(ROOT / man.contract)
    if backend not in backends_for(contract):
        pytest.skip(f"{man.contract} does not list format {backend!r} (or disables it)")
    model_dir = ROOT / man.model_path
    refs = [r for r in resolve_model(model_dir.parent) if r.path.resolve() == model_dir.resolve()]
    ref = refs[0] if refs else resolve_model(model_dir)[-1]
    current = fingerprint(ref.path)
    if stale_reason(golden, current):
        verdict = compare_golden(golden, contract, backend, [], environment(), fingerprint=current)
        golden_log.append(verdict.as_row())
        raise golden_failure(verdict)
    try:
        received = _outputs(contract, ref, backend, man.model)[man.signature]
    except BackendUnavailable as exc:
        pytest.skip(str(exc))
    verdict = compare_golden(golden, contract, backend, received, environment(), fingerprint=current)
    golden_log.append(verdict.as_row())
    if not verdict.passed:
        raise golden_failure(verdict)
