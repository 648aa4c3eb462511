"""Shared fixtures of the project's own tests."""

from __future__ import annotations

import json
import os
import tempfile
import time
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


@pytest.fixture(autouse=True)
def op_determinism_left_off() -> Any:
    """A test that builds a fixture in-process (``seed_everything`` turns TensorFlow's op
    determinism on, process-wide) turns it off again, so a later test in the same worker
    that calls the clock-seeded ``nondeterministic`` fixture in-process is not refused."""
    from models_under_test.seeding import op_determinism_restored

    with op_determinism_restored():
        yield


#: what a test run may leave in the working tree: tool caches, never results or models.
TOOL_CACHES = frozenset({".git", ".tox", ".tox-bootstrap", ".venv", ".pytest_cache", ".hypothesis",
                         ".mypy_cache", ".ruff_cache", ".benchmarks", "__pycache__"})
#: the harness's default results folder, relative to the current directory.
DEFAULT_RESULTS = ROOT / ".model-contract"


def tree_snapshot(root: Path = ROOT) -> dict[str, int]:
    """Every file of the working tree outside tool caches -> its modification time."""
    out = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in TOOL_CACHES and not d.endswith(".egg-info")]
        for name in files:
            if name in TOOL_CACHES:  # e.g. a `.venv` file an editor writes to point at an env
                continue
            path = os.path.join(folder, name)
            try:
                out[os.path.relpath(path, root)] = os.stat(path).st_mtime_ns
            except OSError:
                continue
    return out


def tree_changes(before: dict[str, int], after: dict[str, int]) -> list[str]:
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


@pytest.fixture(autouse=True, scope="session")
def working_tree_untouched() -> Any:
    """Tests write under their temporary directories only: the run leaves the clone as it was."""
    before = tree_snapshot()
    yield
    changed = tree_changes(before, tree_snapshot())
    assert not changed, f"the test run wrote into the working tree {ROOT}: {changed[:20]}"


@pytest.fixture(autouse=True)
def no_results_in_the_working_tree(request: pytest.FixtureRequest) -> Any:
    """Names the test that leaves the harness's default results folder in the clone."""
    existed = DEFAULT_RESULTS.exists()
    yield
    if not existed and DEFAULT_RESULTS.exists():
        pytest.fail(f"{DEFAULT_RESULTS} appeared during {request.node.nodeid} (or a test running "
                    "beside it under pytest-xdist): pass results_dir / --results-dir under "
                    "tmp_path", pytrace=False)


@pytest.fixture()
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The TMPDIR of this test: every temporary folder and worker of the harness lands here."""
    folder = tmp_path / "tmpdir"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.setenv("TMPDIR", str(folder))
    return folder


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


def corpus_contract(name: str, corpus: Path, folder: Path) -> Path:
    """``contracts/corpus/<name>.json`` with its models found in ``corpus`` (wherever it is)."""
    data = json.loads((ROOT / "contracts" / "corpus" / f"{name}.json").read_text())
    data["models"] = [str(corpus / Path(m).name) for m in data["models"]]
    data.pop("$schema", None)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(data))
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


def gone(pid: int, within: float = 10.0) -> bool:
    """Whether process ``pid`` has ended (or is a zombie) within ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[0]
        except (OSError, IndexError):
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False
