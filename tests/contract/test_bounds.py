"""Contracts cannot make the harness allocate without bound: refused at validation, capped
when drawn."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from harness.cli import main
from harness.contract import load_contract
from harness.errors import ContractError
from harness.generation.calls import budget_notes
from harness.strategies import call_strategy


def write(tmp_path: Path, inputs: dict[str, Any], dims: dict[str, Any] | None = None,
          fuzz: dict[str, Any] | None = None) -> Path:
    data: dict[str, Any] = {"name": "t", "signatures": {"s": {
        "inputs": inputs, "outputs": {"y": {"dtype": "float32"}}}}}
    if dims is not None:
        data["dims"] = dims
    if fuzz is not None:
        data["fuzz"] = fuzz
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data))
    return path


IMAGE = {"x": {"dtype": "float32", "shape": ["batch", 224, 224, 3]}}


def test_a_batch_of_100000_images_is_refused_with_the_pointer(tmp_path: Path) -> None:
    path = write(tmp_path, IMAGE, {"batch": {"min": 1, "max": 100000}})
    with pytest.raises(ContractError) as caught:
        load_contract(path)
    assert str(caught.value) == (
        f"{path}: /signatures/s/inputs/x: input 'x' can take 56.08 GiB (15052800000 elements "
        "of float32 at shape [batch=100000, 224, 224, 3]); the limit is 1.00 GiB per input: "
        "lower the dims' max (or set /fuzz/max_tensor_bytes to raise the limit)")


def test_fixed_dim_of_2_to_the_40_is_refused(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, {"x": {"dtype": "uint8", "shape": [2 ** 40]}})
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr()
    assert ("/signatures/s/inputs/x: input 'x' can take 1.00 TiB (1099511627776 elements of "
            "uint8 at shape [1099511627776])") in err.out + err.err
    assert "Traceback" not in err.out + err.err


def test_null_dims_count_at_max_free_dim_and_calls_are_summed(tmp_path: Path) -> None:
    inputs = {"a": {"dtype": "float64", "shape": ["n", None]},
              "b": {"dtype": "float64", "shape": ["n", None]}}
    path = write(tmp_path, inputs, {"n": {"min": 1, "max": 2 ** 20}},
                 {"max_free_dim": 64, "max_tensor_bytes": 2 ** 30, "max_call_bytes": 2 ** 29})
    with pytest.raises(ContractError) as caught:
        load_contract(path)
    assert caught.value.problems == (
        ("/signatures/s/inputs", "one call of 's' can take 1.00 GiB over its inputs; the limit "
         "is 512.00 MiB per call: lower the dims' max (or set /fuzz/max_call_bytes to raise the limit)"),)


def test_the_limit_is_configurable(tmp_path: Path) -> None:
    path = write(tmp_path, IMAGE, {"batch": {"min": 1, "max": 100000}},
                 {"max_tensor_bytes": 64 * 2 ** 30})
    assert load_contract(path).name == "t"


def test_string_inputs_are_sized_by_their_length(tmp_path: Path) -> None:
    path = write(tmp_path, {"s": {"dtype": "string", "shape": ["batch"],
                                  "length": [0, 10 ** 6]}},
                 {"batch": {"min": 1, "max": 10 ** 4}})
    with pytest.raises(ContractError, match=r"input 's' can take 9\.3\d GiB"):
        load_contract(path)


def test_generation_stays_within_the_per_call_budget(tmp_path: Path) -> None:
    # 5000 rows of 48 KiB = 234 MiB: valid, but over the 64 MiB drawn per call
    path = write(tmp_path, {"x": {"dtype": "float32", "shape": ["batch", 64, 64, 3]}},
                 {"batch": {"min": 1, "max": 5000}})
    contract = load_contract(path)
    assert budget_notes(contract, "s") == [
        "inputs drawn within the per-call budget of 64.00 MiB (fuzz.call_budget_bytes): "
        "dim 'batch' up to 1250 (declared max 5000)"]
    sizes = []

    @settings(max_examples=60, database=None, deadline=None, derandomize=True)
    @given(call_strategy(contract, "s"))
    def draw(call: Any) -> None:
        sizes.append(call.inputs["x"].nbytes)
        assert call.inputs["x"].nbytes <= 64 * 2 ** 20

    draw()
    assert max(sizes) == 1250 * 64 * 64 * 3 * 4  # the capped max is still reached


def test_a_small_contract_has_no_budget_note(tmp_path: Path) -> None:
    path = write(tmp_path, IMAGE, {"batch": {"min": 1, "max": 8}})
    assert budget_notes(load_contract(path), "s") == []


def test_the_budget_lowers_null_dims_too(tmp_path: Path) -> None:
    path = write(tmp_path, {"x": {"dtype": "float64", "shape": [None, None, None]}},
                 fuzz={"max_free_dim": 512, "call_budget_bytes": 2 ** 20})
    notes = budget_notes(load_contract(path), "s")
    assert notes == ["inputs drawn within the per-call budget of 1.00 MiB "
                     "(fuzz.call_budget_bytes): null dims up to 32 (fuzz.max_free_dim 512)"]
