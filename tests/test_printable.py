"""Control characters from a model never reach the terminal raw."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.errors import CheckFailure, ModelError
from harness.printable import printable

HOSTILE_NAME = "x\u202eevil\x00\x1b[31m"


def test_printable_escapes_controls_and_bidi_but_keeps_layout() -> None:
    assert printable(HOSTILE_NAME) == "x\\u202eevil\\x00\\x1b[31m"
    assert printable("a\tb\nc d é 日本") == "a\tb\nc d é 日本"
    assert printable("\u2066\u200f\x7f\x85") == "\\u2066\\u200f\\x7f\\x85"


def test_errors_render_escaped() -> None:
    error = ModelError(f"tensor {HOSTILE_NAME!s} is odd", file="/m", place=HOSTILE_NAME)
    assert str(error) == "/m: x\\u202eevil\\x00\\x1b[31m: tensor x\\u202eevil\\x00\\x1b[31m is odd"
    failure = CheckFailure("inputs", f"input {HOSTILE_NAME}", received=HOSTILE_NAME)
    assert "\u202e" not in str(failure) and "\x00" not in str(failure)
    assert "Received: x\\u202eevil\\x00\\x1b[31m" in str(failure)


def test_a_signature_input_named_with_controls_is_shown_escaped(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    from tensorflow.core.protobuf import saved_model_pb2

    from harness.contract import load_contract
    from harness.engine import Engine
    from harness.options import RunOptions
    from tests.conftest import FIXTURES

    model = tmp_path / "model"
    shutil.copytree(FIXTURES / "tiny", model)
    pb = model / "saved_model.pb"
    saved = saved_model_pb2.SavedModel.FromString(pb.read_bytes())
    signature = saved.meta_graphs[0].signature_def["serving_default"]
    signature.inputs[HOSTILE_NAME].CopyFrom(signature.inputs["x"])
    del signature.inputs["x"]
    pb.write_bytes(saved.SerializeToString())
    engine = Engine(RunOptions(in_process=True, models=(model,)))
    contract = load_contract(FIXTURES / "contracts" / "tiny.json")
    [ref] = engine.models_of(contract)
    [case] = [c for c in engine.plan(contract, ref) if c.check == "inputs"]
    with pytest.raises(CheckFailure) as caught:
        engine.execute(case)
    text = str(caught.value)
    assert "(model inputs: x\\u202eevil\\x00\\x1b[31m)" in text
    assert not any(ch in text for ch in "\u202e\x00\x1b")
