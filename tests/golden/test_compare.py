"""Comparison against a golden, without TensorFlow: a perturbed golden fails naming both
environments; a golden for another model fingerprint is STALE and not compared."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from harness.contract.load import load_contract
from harness.golden.arrays import load_calls, save_calls
from harness.golden.compare import compare_golden, golden_failure, load_golden
from harness.golden.manifest import tf_version

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "baselines" / "classifier" / "classify"
OLD_ENV = {"versions": {"tensorflow-cpu": "2.15.1", "keras": "2.15.0", "tf2onnx": "1.17.0"},
           "python": "3.11.9", "platform": "Linux-x86_64"}


@pytest.fixture
def golden_copy(tmp_path: Path) -> Path:
    target = tmp_path / "classifier" / "classify"
    shutil.copytree(GOLDEN, target)
    return target


def _received(directory: Path) -> list[dict[str, np.ndarray]]:
    return load_calls(directory / "outputs-savedmodel.npz")


def test_identical_outputs_match(golden_copy: Path) -> None:
    golden = load_golden(golden_copy)
    contract = load_contract(ROOT / golden.manifest.contract)
    verdict = compare_golden(golden, contract, "savedmodel", _received(golden_copy), OLD_ENV,
                             fingerprint=golden.manifest.fingerprint)
    assert verdict.status == "match"
    assert [o.max_abs for o in verdict.outputs] == [0.0, 0.0]


def test_perturbed_golden_fails_naming_both_versions(golden_copy: Path) -> None:
    received = _received(golden_copy)
    perturbed = [dict(call) for call in received]
    prob = perturbed[1]["prob"].copy()
    prob[3, 7] += 1e-3  # tolerance atol=1e-5, rtol=1e-4: far beyond
    perturbed[1]["prob"] = prob
    save_calls(golden_copy / "outputs-savedmodel.npz", perturbed)
    golden = load_golden(golden_copy)
    contract = load_contract(ROOT / golden.manifest.contract)
    verdict = compare_golden(golden, contract, "savedmodel", received, OLD_ENV,
                             fingerprint=golden.manifest.fingerprint)
    assert verdict.status == "mismatch"
    bad = [o for o in verdict.outputs if not o.passed]
    assert [o.output for o in bad] == ["prob"]
    assert bad[0].call == 1 and bad[0].worst.index == (3, 7)
    assert bad[0].max_abs == pytest.approx(1e-3, rel=1e-3)
    message = str(golden_failure(verdict))
    assert "[golden[savedmodel]] savedmodel: output 'prob' of classifier::classify differs from the golden" in message
    assert "beyond tolerance atol=1e-05, rtol=0.0001" in message
    assert "this run: TF 2.15.1 / keras 2.15.0 on Linux-x86_64" in message
    assert f"golden recorded with TF {tf_version(golden.manifest.environment)}" in message
    assert "at [3, 7] of call 1" in message
    assert "would pass with atol=1.0e-03" in message
    assert "python -m harness.golden record --contract contracts/classifier.json --force" in message


def test_perturbed_integer_output_fails_exactly(golden_copy: Path) -> None:
    received = _received(golden_copy)
    changed = [dict(call) for call in received]
    changed[0]["class_id"] = changed[0]["class_id"] + 1
    save_calls(golden_copy / "outputs-savedmodel.npz", changed)
    golden = load_golden(golden_copy)
    contract = load_contract(ROOT / golden.manifest.contract)
    verdict = compare_golden(golden, contract, "savedmodel", received, OLD_ENV,
                             fingerprint=golden.manifest.fingerprint)
    assert verdict.status == "mismatch"
    assert "(tolerance: exact match)" in str(golden_failure(verdict))


def test_stale_fingerprint_is_reported_not_compared(golden_copy: Path) -> None:
    manifest = json.loads((golden_copy / "manifest.json").read_text())
    recorded = manifest["fingerprint"]
    manifest["fingerprint"] = "0" * 64
    (golden_copy / "manifest.json").write_text(json.dumps(manifest))
    golden = load_golden(golden_copy)
    contract = load_contract(ROOT / golden.manifest.contract)
    verdict = compare_golden(golden, contract, "savedmodel", [], OLD_ENV, fingerprint=recorded)
    assert verdict.status == "stale"
    assert verdict.outputs == ()
    message = str(golden_failure(verdict))
    assert "the golden is stale" in message
    assert f"STALE golden {golden_copy}: recorded for model fingerprint 000000000000" in message
    assert f"now has fingerprint {recorded[:12]}; not compared" in message
    assert verdict.as_row()["status"] == "stale"


def test_tflite_is_compared_with_its_own_golden_and_tolerance(golden_copy: Path) -> None:
    golden = load_golden(golden_copy)
    contract = load_contract(ROOT / golden.manifest.contract)
    tflite = load_calls(golden_copy / "outputs-tflite.npz")
    verdict = compare_golden(golden, contract, "tflite", tflite, OLD_ENV,
                             fingerprint=golden.manifest.fingerprint)
    assert verdict.reference == "tflite" and verdict.status == "match"
    assert verdict.outputs[1].tolerance.atol == 1e-4  # formats.tflite.tolerance


def test_golden_inputs_cover_min_and_max_batch() -> None:
    for manifest_path in (ROOT / "baselines").glob("*/*/manifest.json"):
        data = json.loads(manifest_path.read_text())
        batches = {call["dims"].get("batch") for call in data["inputs"]["calls"]}
        contract = load_contract(ROOT / data["contract"])
        bound = contract.dims["batch"]
        assert {bound.min, bound.max} <= batches, manifest_path
