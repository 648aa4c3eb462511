"""TFLite/ONNX exports in a subprocess: cached by content, never written into the model."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from harness.errors import ExportError
from harness.exports import Export, run_worker
from harness.exports.cache import ExportCache
from harness.exports.onnx import export_onnx
from harness.exports.tflite import export_tflite
from tests.exports.conftest import FIXTURES, tree_state


def test_first_run_converts_each_format_once(first_exports: dict[str, Any]) -> None:
    tflite, onnx, cache = first_exports["tflite"], first_exports["onnx"], first_exports["cache"]
    assert isinstance(tflite, Export) and isinstance(onnx, Export)
    assert not tflite.cached and not onnx.cached
    assert cache.conversions == 2
    assert tflite.path.read_bytes()[4:8] == b"TFL3"  # the flatbuffer identifier
    assert onnx.path.stat().st_size > 0
    assert "from_saved_model(signature_keys=['serving_default'])" in tflite.how
    assert "--opset 17" in onnx.how


def test_second_run_with_unchanged_model_converts_nothing(first_exports: dict[str, Any],
                                                          tiny_model: Path, cache_root: Path) -> None:
    cache = ExportCache(cache_root)  # a new session: only the files on disk are shared
    tflite = export_tflite(tiny_model, ["serving_default"], cache=cache)
    onnx = export_onnx(tiny_model, ["serving_default"], cache=cache)["serving_default"]
    assert cache.conversions == 0 and cache.hits == 2
    assert isinstance(onnx, Export) and onnx.cached and tflite.cached
    assert tflite.path == first_exports["tflite"].path
    assert onnx.path == first_exports["onnx"].path


def test_model_directory_is_never_written(first_exports: dict[str, Any], tiny_model: Path,
                                          cache_root: Path) -> None:
    assert tree_state(tiny_model) == first_exports["before"]
    assert cache_root not in tiny_model.parents and tiny_model not in cache_root.parents


def test_a_copy_with_the_same_bytes_is_a_hit_elsewhere(first_exports: dict[str, Any],
                                                       tiny_model: Path, cache_root: Path,
                                                       tmp_path: Path) -> None:
    """The key is the content, not the path or the mtime (changed content: test_cache.py)."""
    moved = tmp_path / "elsewhere" / "tiny"
    shutil.copytree(tiny_model, moved)
    (moved / "saved_model.pb").touch()
    cache = ExportCache(cache_root)
    assert export_tflite(moved, ["serving_default"], cache=cache).cached
    assert cache.conversions == 0


def test_a_converter_failure_is_an_export_error_with_its_message(tmp_path: Path) -> None:
    broken = tmp_path / "truncated"
    shutil.copytree(FIXTURES / "truncated_pb", broken)
    cache = ExportCache(tmp_path / "cache")
    with pytest.raises(ExportError) as info:
        export_tflite(broken, ["serving_default"], cache=cache)
    text = str(info.value)
    assert "TFLite export (TFLiteConverter.from_saved_model" in text
    assert "failed (exit status 1)" in text and "converter output:" in text
    assert str(broken) in text
    onnx = export_onnx(broken, ["serving_default"], cache=cache)["serving_default"]
    assert isinstance(onnx, ExportError) and "ONNX export" in str(onnx)
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []


def test_a_converter_that_hangs_times_out(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"timed out after 0.01 s") as info:
        run_worker("tflite", ["--saved-model", str(tmp_path), "--signature", "s",
                              "--output", str(tmp_path / "o")],
                   what="TFLite export", model_dir=tmp_path, timeout=0.01)
    assert info.value.hint and "MODEL_CONTRACT_EXPORT_TIMEOUT" in info.value.hint
