"""The ONNX backend on given files: onnxruntime CPU, names, dtypes, per-signature paths, skips."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from harness.backends.onnx import OnnxBackend
from harness.contract.load import load_contract
from harness.errors import BackendUnavailable, CheckFailure, HarnessError
from harness.savedmodel.layout import resolve_model
from tests.conftest import write_contract

FIXTURES = Path(__file__).resolve().parents[2] / "models_under_test" / "fixtures"
EXPORTS = FIXTURES / "exports"
MAPPED = {"serving_default": {"outputs": {"y": "probabilities"}}}


def backend_for(tmp_path: Path, formats: dict) -> OnnxBackend:
    contract = load_contract(write_contract(tmp_path, models=[str(FIXTURES / "tiny")],
                                            formats=formats))
    backend = OnnxBackend(resolve_model(FIXTURES / "tiny")[0], contract)
    backend.activate()
    return backend


def test_runs_with_contract_names_on_any_batch(tmp_path: Path) -> None:
    backend = backend_for(tmp_path, {"onnx": {"path": str(EXPORTS / "tiny_renamed.onnx"),
                                              "name_map": MAPPED}})
    rng = np.random.default_rng(1)
    for batch in (1, 7):
        x = rng.uniform(0, 1, size=(batch, 4)).astype(np.float32)
        out = backend.infer("serving_default", {"x": x})
        assert out["y"].shape == (batch, 2) and out["y"].dtype == np.float32
        assert out["label"].dtype == np.int64
        np.testing.assert_array_equal(out["label"], out["y"].argmax(axis=-1))
        np.testing.assert_allclose(out["y"].sum(axis=-1), 1.0, atol=1e-6)


def test_per_signature_paths_and_format_dtypes(tmp_path: Path) -> None:
    backend = backend_for(tmp_path, {"onnx": {
        "path": {"serving_default": str(EXPORTS / "tiny_renamed.onnx")}, "name_map": MAPPED}})
    io = backend.signatures_impl()["serving_default"]
    assert io.inputs["x"].dtype == "float32" and io.inputs["x"].shape == (None, 4)
    assert io.outputs["label"].dtype == "int64"
    assert backend.label.startswith("onnx (given: ")


def test_unresolved_output_fails_conformance(tmp_path: Path) -> None:
    backend = backend_for(tmp_path, {"onnx": {"path": str(EXPORTS / "tiny_renamed.onnx")}})
    with pytest.raises(CheckFailure) as info:
        backend.infer("serving_default", {"x": np.zeros((1, 4), np.float32)})
    text = str(info.value)
    assert text.startswith("[conformance[onnx]]")
    assert "output 'y': not found among the onnx outputs [label, probabilities]" in text


def test_wrong_fixed_dim_is_refused_by_the_runtime(tmp_path: Path) -> None:
    from harness.backends.base import InferenceError

    backend = backend_for(tmp_path, {"onnx": {"path": str(EXPORTS / "tiny_renamed.onnx"),
                                              "name_map": MAPPED}})
    with pytest.raises(InferenceError):
        backend.infer("serving_default", {"x": np.zeros((1, 3), np.float32)})


def test_signature_without_a_file_is_a_contract_error(tmp_path: Path) -> None:
    backend = backend_for(tmp_path, {"onnx": {"path": {"other": str(EXPORTS / "tiny_renamed.onnx")}}})
    with pytest.raises(HarnessError, match="formats.onnx.path names only"):
        backend.infer("serving_default", {"x": np.zeros((1, 4), np.float32)})


def test_missing_onnxruntime_is_unavailable_with_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(BackendUnavailable, match="pip install onnxruntime"):
        OnnxBackend.check_available()
