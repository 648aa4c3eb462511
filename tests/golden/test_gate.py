"""Goldens load models the one way every check does: op-policy gate first, then isolation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.backends.isolation import IsolatedBackend
from harness.contract.load import load_contract
from harness.golden.run import run_calls
from harness.savedmodel.layout import resolve_model
from tests.conftest import MODELS, write_contract

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = MODELS / "hostile"
#: where the writes_file fixture's tf.print(output_stream=...) would write
PRINT_FILE = Path("/tmp/model_contract_hostile_print.log")


def _stamp(path: Path) -> int | None:
    return path.stat().st_mtime_ns if path.exists() else None


@pytest.mark.parametrize("model, op", [("writes_file", "WriteFile"),
                                       ("reads_file_nested", "ReadFile")])
def test_golden_record_refuses_a_hostile_model(tmp_path: Path, model: str, op: str) -> None:
    contract = write_contract(tmp_path, models=[str(HOSTILE / model)])
    before = _stamp(PRINT_FILE)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "harness.golden", "record", "--contract", str(contract),
         "--root", str(tmp_path / "goldens")],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    [error] = [ln for ln in proc.stderr.splitlines() if ln.startswith("error: ")]
    assert "the op policy forbids" in error and "it was not loaded" in error, proc.stderr
    assert op in proc.stderr and "signature 'serving_default'" in proc.stderr, proc.stderr
    assert f"--allow-op {op}" in proc.stderr, proc.stderr
    assert not (tmp_path / "goldens").exists()  # nothing recorded, from any format
    assert _stamp(PRINT_FILE) == before  # the model never ran


def test_golden_calls_run_in_an_isolated_backend(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []
    original = IsolatedBackend.activate_impl

    def spy(self: IsolatedBackend) -> None:
        made.append(self.inner)
        original(self)

    monkeypatch.setattr(IsolatedBackend, "activate_impl", spy)
    contract = load_contract(ROOT / "contracts" / "classifier.json")
    [*_, ref] = resolve_model(ROOT / "models_under_test" / "classifier")
    x = {"x": np.zeros((2, 784), dtype=np.float32)}
    out = run_calls("savedmodel", contract, ref, {"classify": [x]})
    assert made == ["savedmodel"]
    assert out["classify"][0]["prob"].shape == (2, 10)
