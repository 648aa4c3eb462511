"""A case's format and variant are data; its printed check is derived from them."""

from __future__ import annotations

from pathlib import Path

from harness.engine import Engine
from harness.options import RunOptions
from tests.conftest import FIXTURES, write_contract


def test_format_cases_carry_format_and_variant_and_derive_their_check(tmp_path: Path) -> None:
    contract = write_contract(tmp_path, models=[str(FIXTURES / "tiny")], formats={
        "tflite": {"variants": [{"quantization": "int8"}, {"quantization": "int8"}]},
        "onnx": {"enabled": False}})
    engine = Engine(RunOptions())
    loaded = engine.load(contract)
    cases = [c for c in engine.plan(loaded, engine.models_of(loaded)[0]) if c.family == "parity"]
    assert [(c.name, c.format, c.variant, c.backend, c.check) for c in cases] == [
        ("conformance", "tflite", None, "tflite", "conformance[tflite]"),
        ("parity", "tflite", None, "tflite", "parity[tflite]"),
        ("parity", "tflite", "tflite-int8", "tflite", "parity[tflite-int8]"),
        ("parity", "tflite", "tflite-int8-2", "tflite", "parity[tflite-int8-2]")]
    assert cases[2].id == "tiny::tiny::serving_default::parity[tflite-int8]"
    others = [c for c in engine.plan(loaded, engine.models_of(loaded)[0]) if c.family != "parity"]
    assert all(c.format is None and c.variant is None and c.check == c.name for c in others)


def test_the_parity_family_declares_its_checks() -> None:
    from harness.checks.case import CHECKS

    assert [s.name for s in CHECKS.values() if s.family == "parity"] == ["conformance", "parity"]
