"""Shared fixtures of the project's own tests."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models_under_test"
FIXTURES = MODELS / "fixtures"


@pytest.fixture(autouse=True, scope="session")
def tensorflow_loaded_once() -> None:
    """Import TensorFlow before any in-process pytester run.

    pytester restores ``sys.modules`` after each in-process run; a TensorFlow first imported
    inside a run would be imported a second time by the next run, which aborts the process.
    """
    from harness.backends.savedmodel import import_tensorflow

    import_tensorflow()


def corpus_dir() -> Path:
    """TF Serving's test models: ../shared/corpus/tf-serving-testdata beside the clone."""
    override = os.environ.get("MODEL_CONTRACT_CORPUS")
    return Path(override) if override else ROOT.parent / "shared" / "corpus" / "tf-serving-testdata"


@pytest.fixture(scope="session")
def corpus() -> Path:
    path = corpus_dir()
    if not path.is_dir():
        pytest.skip(f"TF Serving corpus not found at {path} (set MODEL_CONTRACT_CORPUS)")
    return path


TINY_CONTRACT: dict[str, Any] = {
    "name": "tiny",
    "dims": {"batch": {"min": 1, "max": 8}},
    "signatures": {
        "serving_default": {
            "inputs": {"x": {"dtype": "float32", "shape": ["batch", 4], "range": [0.0, 1.0]}},
            "outputs": {
                "y": {"dtype": "float32", "shape": ["batch", 2], "range": [0.0, 1.0],
                      "checks": ["finite", {"sum": 1.0, "axis": -1, "atol": 1e-5}]},
                "label": {"dtype": "int64", "shape": ["batch"]},
            },
            "relations": [{"argmax": "y", "equals": "label"}],
        }
    },
}


def write_contract(folder: Path, name: str = "c.json", **changes: Any) -> Path:
    """A contract for the tiny fixture model family, with top-level keys replaced."""
    data = json.loads(json.dumps(TINY_CONTRACT))
    data.update(changes)
    path = folder / name
    path.write_text(json.dumps(data, indent=1))
    return path
