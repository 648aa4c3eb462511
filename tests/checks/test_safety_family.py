"""The op-policy scan as a check and as a gate: hostile models are never loaded by default."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.backends.source import open_backend
from harness.contract import load_contract
from harness.engine import Engine
from harness.errors import PolicyViolation
from harness.options import RunOptions
from harness.savedmodel.layout import ModelRef
from tests.conftest import FIXTURES, MODELS, write_contract

HOSTILE = MODELS / "hostile"


def hostile_contract(tmp_path: Path, name: str, **changes: object) -> Path:
    return write_contract(tmp_path, models=[str(HOSTILE / name)], **changes)


def test_backend_refuses_a_hostile_model_before_loading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tensorflow as tf

    loads: list[str] = []
    monkeypatch.setattr(tf.saved_model, "load", lambda *a, **k: loads.append("load"))
    engine = Engine()
    contract = load_contract(hostile_contract(tmp_path, "reads_file_nested"))
    with pytest.raises(PolicyViolation) as info:
        open_backend(engine.context, "savedmodel", contract, ModelRef(HOSTILE / "reads_file_nested",
                                                          HOSTILE / "reads_file_nested"))
    assert loads == []
    text = str(info.value)
    assert "ReadFile" in text and "signature 'serving_default'" in text
    assert "--allow-op ReadFile" in text


def test_ops_check_fails_on_hostile_and_passes_on_good(tmp_path: Path) -> None:
    engine = Engine()
    for name, expect in [("py_func", "EagerPyFunc"), ("custom_op", "ZzCustomOp"),
                         ("writes_file", "WriteFile")]:
        contract = load_contract(hostile_contract(tmp_path, name))
        [ref] = engine.models_of(contract)
        [case] = [c for c in engine.plan(contract, ref) if c.check == "ops"]
        with pytest.raises(PolicyViolation, match=expect):
            engine.execute(case)
    contract = load_contract(write_contract(tmp_path, models=[str(FIXTURES / "tiny")]))
    [ref] = engine.models_of(contract)
    [case] = [c for c in engine.plan(contract, ref) if c.check == "ops"]
    notes = engine.execute(case)
    assert "none denied" in notes[0]


def test_allow_op_option_permits_the_op(tmp_path: Path) -> None:
    contract = load_contract(hostile_contract(tmp_path, "py_func"))
    engine = Engine(RunOptions(allow_ops=("EagerPyFunc", "PyFunc")))
    [ref] = engine.models_of(contract)
    [case] = [c for c in engine.plan(contract, ref) if c.check == "ops"]
    engine.execute(case)
