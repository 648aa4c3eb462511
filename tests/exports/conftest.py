"""Shared, session-scoped exports of a copy of the ``tiny`` fixture (conversions are slow)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.exports.cache import ExportCache

FIXTURES = Path(__file__).resolve().parents[2] / "models_under_test" / "fixtures"


def tree_state(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file's bytes and mtime below ``folder`` (to prove nothing was written there)."""
    return {p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of fixtures/tiny (so tests may check that it is never written)."""
    dest = tmp_path_factory.mktemp("models") / "tiny"
    shutil.copytree(FIXTURES / "tiny", dest)
    return dest


@pytest.fixture(scope="session")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("export-cache")


@pytest.fixture(scope="session")
def first_exports(tiny_model: Path, cache_root: Path) -> dict[str, object]:
    """The first run: one TFLite and one ONNX export of tiny into an empty cache."""
    from harness.exports.onnx import export_onnx
    from harness.exports.tflite import export_tflite

    before = tree_state(tiny_model)
    cache = ExportCache(cache_root)
    tflite = export_tflite(tiny_model, ["serving_default"], cache=cache)
    onnx = export_onnx(tiny_model, ["serving_default"], cache=cache)
    return {"tflite": tflite, "onnx": onnx["serving_default"], "cache": cache, "before": before}
