"""The TFLite backend on given files: signature runner, dynamic batch, names, dtypes, skips."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from harness.backends.base import InferenceError
from harness.backends.source import open_backend
from harness.backends.tflite import TFLiteBackend
from harness.context import RunContext
from harness.contract.load import load_contract
from harness.errors import BackendUnavailable, CheckFailure
from harness.options import RunOptions
from harness.savedmodel.layout import resolve_model
from tests.conftest import write_contract

FIXTURES = Path(__file__).resolve().parents[2] / "models_under_test" / "fixtures"
EXPORTS = FIXTURES / "exports"
MAPPED = {"serving_default": {"outputs": {"y": "probabilities"}}}


def backend_for(tmp_path: Path, formats: dict) -> TFLiteBackend:
    contract = load_contract(write_contract(tmp_path, models=[str(FIXTURES / "tiny")],
                                            formats=formats))
    backend = TFLiteBackend(resolve_model(FIXTURES / "tiny")[0], contract)
    backend.activate()
    return backend


def softmax_of_tiny(x: np.ndarray) -> np.ndarray:
    from models_under_test.fixtures_static import tiny_weights

    w, b = tiny_weights()
    logits = x.astype(np.float64) @ w + b
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_runs_any_batch_size_and_returns_contract_names(tmp_path: Path) -> None:
    backend = backend_for(tmp_path, {"tflite": {"path": str(EXPORTS / "tiny_renamed.tflite"),
                                                "name_map": MAPPED}})
    rng = np.random.default_rng(0)
    for batch in (1, 5, 2, 16):
        x = rng.uniform(0, 1, size=(batch, 4)).astype(np.float32)
        out = backend.infer("serving_default", {"x": x})
        assert set(out) == {"y", "label"}
        assert out["y"].shape == (batch, 2) and out["label"].shape == (batch,)
        np.testing.assert_allclose(out["y"], softmax_of_tiny(x), atol=1e-5)
        np.testing.assert_array_equal(out["label"], out["y"].argmax(axis=-1))
    assert backend.label.startswith("tflite (given: ")
    assert backend.label.endswith("tiny_renamed.tflite)")


def test_exposes_the_format_side_names_dtypes_and_dynamic_dims(tmp_path: Path) -> None:
    backend = backend_for(tmp_path, {"tflite": {"path": str(EXPORTS / "tiny_renamed.tflite"),
                                                "name_map": MAPPED}})
    io = backend.signatures_impl()["serving_default"]
    assert io.inputs["x"].dtype == "float32" and io.inputs["x"].shape == (None, 4)
    assert io.outputs["probabilities"].dtype == "float32"
    assert io.outputs["label"].dtype == "int64" and io.outputs["label"].shape == (None,)
    res = backend.resolution(backend.contract.signature("serving_default"))
    assert dict(res.outputs) == {"y": "probabilities", "label": "label"}


def test_fixed_dims_are_checked_not_silently_resized(tmp_path: Path) -> None:
    backend = backend_for(tmp_path, {"tflite": {"path": str(EXPORTS / "tiny_renamed.tflite"),
                                                "name_map": MAPPED}})
    with pytest.raises(InferenceError, match=r"shape_signature \[-1, 4\]"):
        backend.infer("serving_default", {"x": np.zeros((2, 5), np.float32)})


def test_unresolved_output_is_a_conformance_failure_naming_both_sides(tmp_path: Path) -> None:
    backend = backend_for(tmp_path, {"tflite": {"path": str(EXPORTS / "tiny_renamed.tflite")}})
    with pytest.raises(CheckFailure) as info:
        backend.infer("serving_default", {"x": np.zeros((1, 4), np.float32)})
    text = str(info.value)
    assert text.startswith("[conformance[tflite]]")
    assert "outputs: label int64 [?]; probabilities float32 [?, 2]" in text
    assert "outputs: y float32 [batch, 2]; label int64 [batch]" in text
    assert "never matched by position" in text


def test_a_wrong_name_map_target_is_reported(tmp_path: Path) -> None:
    backend = backend_for(tmp_path, {"tflite": {
        "path": str(EXPORTS / "tiny_renamed.tflite"),
        "name_map": {"serving_default": {"outputs": {"y": "probs"}}}}})
    with pytest.raises(CheckFailure, match="name_map says 'probs'"):
        backend.infer("serving_default", {"x": np.zeros((1, 4), np.float32)})


def test_missing_signature_lists_the_files_signatures(tmp_path: Path) -> None:
    backend = backend_for(tmp_path, {"tflite": {
        "path": str(EXPORTS / "tiny_renamed.tflite"),
        "name_map": {"serving_default": {"signature": "predict"}}}})
    with pytest.raises(CheckFailure) as info:
        backend.infer("serving_default", {"x": np.zeros((1, 4), np.float32)})
    assert "signature 'predict' is missing from the tflite model" in str(info.value)
    assert "tflite signatures: serving_default" in str(info.value)


def test_missing_runtime_makes_the_backend_unavailable_with_install_hint(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    with pytest.raises(BackendUnavailable) as info:
        TFLiteBackend.check_available()
    assert "pip install ai-edge-litert" in str(info.value)
    contract = load_contract(write_contract(tmp_path, models=[str(FIXTURES / "tiny")],
                                            formats={"tflite": {}}))
    with pytest.raises(BackendUnavailable):
        open_backend(RunContext(RunOptions(in_process=True)), "tflite", contract,
                     resolve_model(FIXTURES / "tiny")[0])


def test_given_file_that_does_not_exist_names_the_contract_place(tmp_path: Path) -> None:
    from harness.errors import HarnessError

    with pytest.raises(HarnessError, match="/formats/tflite/path"):
        backend_for(tmp_path, {"tflite": {"path": "nowhere.tflite"}})
