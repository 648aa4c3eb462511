"""Contract JSON the schema cannot guard: absurd nesting and numbers that read as infinity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.contract import load_contract
from harness.errors import ContractError

GOOD = {"name": "t", "signatures": {"s": {"inputs": {}, "outputs": {"y": {"dtype": "float32"}}}}}


@pytest.mark.parametrize("depth", [65, 100_000])
def test_deep_nesting_is_exit_1_with_a_clear_message(tmp_path: Path, depth: int,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "deep.json"
    path.write_text('{"a":' * depth + "1" + "}" * depth)
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr()
    assert (f"{path}: objects and arrays are nested more than 64 levels deep; a contract is a "
            "few levels deep") in out.err + out.out
    assert "RecursionError" not in out.err + out.out and "Traceback" not in out.err + out.out


def test_nesting_at_the_limit_is_left_to_the_schema(tmp_path: Path) -> None:
    data = dict(GOOD, description=None)
    nested: object = 1
    for _ in range(60):
        nested = [nested]
    data["x_deep"] = nested
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ContractError) as caught:
        load_contract(path)
    assert "nested" not in str(caught.value)


@pytest.mark.parametrize("where, text", [
    ("/tolerance/atol", '"tolerance": {"atol": 1e999}'),
    ("/signatures/s/inputs/x/range/1", '"signatures": {"s": {"inputs": {"x": {"dtype": '
                                       '"float32", "range": [0, 1e999]}}, "outputs": {"y": '
                                       '{"dtype": "float32"}}}}'),
])
def test_a_number_that_reads_as_infinity_is_refused_with_its_pointer(
        tmp_path: Path, where: str, text: str) -> None:
    body = {"name": "t"}
    raw = json.dumps(body)[:-1] + ", " + text
    if '"signatures"' not in text:
        raw += ', "signatures": ' + json.dumps(GOOD["signatures"])
    path = tmp_path / "c.json"
    path.write_text(raw + "}")
    with pytest.raises(ContractError) as caught:
        load_contract(path)
    assert str(caught.value) == (f"{path}: {where}: the number reads as inf (too large for a "
                                 "64-bit float); write a finite number")


def test_negative_infinity_too(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps(GOOD)[:-1] + ', "tolerance": {"rtol": -1e999}}')
    with pytest.raises(ContractError, match=r"/tolerance/rtol: the number reads as -inf"):
        load_contract(path)


def test_a_deep_contract_fails_its_item_in_a_pytest_run_not_pytest(
        pytester: pytest.Pytester) -> None:
    """pytest_configure reads the contract files early (the formats whose workers it starts
    ahead) with the loader's parser: a file nested 100000 deep fails its own item with the
    loader's message; pytest itself does not crash."""
    path = pytester.path / "deep.json"
    path.write_text('{"a":' * 100_000 + "1" + "}" * 100_000)
    result = pytester.runpytest("-p", "no:cacheprovider", "--contract", str(path),
                                "--results-dir", str(pytester.path / "results"))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*{path}: objects and arrays are nested more than 64 levels "
                                 "deep; a contract is a few levels deep*"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
