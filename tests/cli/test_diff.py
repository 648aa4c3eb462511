"""``model-contract diff``: the fixture version pairs gate as documented; the rules, unit by unit."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from harness.cli import main
from harness.contract.diff import (
    BREAKING,
    COMPATIBLE,
    UNCHANGED,
    DimRange,
    Interface,
    SignatureInterface,
    TensorInterface,
    diff_interfaces,
)
from tests.conftest import FIXTURES, MODELS, ROOT, write_contract

VERSIONS = MODELS / "versions"


@pytest.fixture(scope="module", autouse=True)
def version_fixtures() -> None:
    for name in ("renamed_output", "added_output"):
        for version in ("1", "2"):
            if not (VERSIONS / name / version / "saved_model.pb").is_file():
                pytest.fail(f"fixture {VERSIONS / name / version} is missing; build it with "
                            "python -m models_under_test.fixtures_versions")


# ----------------------------------------------------------------------------- command line


def test_renamed_output_is_breaking_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(VERSIONS / "renamed_output")]) == 1
    out = capsys.readouterr().out
    assert "renamed_output/1 -> " in out and "renamed_output/2" in out
    assert "breaking  output renamed?  serving_default/outputs/y -> probs" in out
    assert "BREAKING: 1 breaking, 0 compatible, 0 unchanged" in out


def test_added_output_is_compatible_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(VERSIONS / "added_output")]) == 0
    out = capsys.readouterr().out
    assert "compatible  output added  serving_default/outputs/logits" in out
    assert "compatible: 0 breaking, 1 compatible, 0 unchanged" in out


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(VERSIONS / "renamed_output" / "1"),
                 str(VERSIONS / "renamed_output" / "2"), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["breaking"] is True
    (diff,) = data["diffs"]
    assert diff["counts"] == {"breaking": 1, "compatible": 0, "unchanged": 0}
    (change,) = diff["changes"]
    assert change["kind"] == "output renamed?"
    assert change["old"] == "y: float32 [None, 2]" and change["new"] == "probs: float32 [None, 2]"
    assert change["pointer"] == "/signatures/serving_default/outputs/probs"
    import jsonschema

    schema = json.loads((ROOT / "contracts" / "schema" / "diff-report-v1.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(data)
    assert data["$schema"] == schema["$id"]


def test_model_with_itself_is_unchanged_by_fingerprint(capsys: pytest.CaptureFixture[str]) -> None:
    model = str(VERSIONS / "added_output" / "1")
    assert main(["diff", model, model]) == 0
    assert "unchanged (fingerprint.pb signature_def_hash equal)" in capsys.readouterr().out


def test_without_fingerprint_the_signatures_are_compared(capsys: pytest.CaptureFixture[str]) -> None:
    model = str(VERSIONS / "added_output" / "1")
    assert main(["diff", model, model, "--no-fingerprint"]) == 0
    out = capsys.readouterr().out
    assert "unchanged  signature unchanged  serving_default" in out
    assert "fingerprint" not in out


def test_contract_against_model_reports_dtype(capsys: pytest.CaptureFixture[str]) -> None:
    contract = FIXTURES / "contracts" / "tiny.json"
    assert main(["diff", str(contract), str(FIXTURES / "wrong_dtype")]) == 1
    out = capsys.readouterr().out
    assert "dtype changed" in out and "float32 -> float64" in out


def test_contracts_narrowed_batch_is_breaking(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    old = write_contract(tmp_path, "old.json")
    new = write_contract(tmp_path, "new.json", dims={"batch": {"min": 1, "max": 4}})
    assert main(["diff", str(old), str(new)]) == 1
    out = capsys.readouterr().out
    assert "dim narrowed" in out and "serving_default/inputs/x[0]" in out
    assert "batch(1..8) -> batch(1..4)" in out
    # the other way round the range grew: compatible everywhere
    assert main(["diff", str(new), str(old)]) == 0


def test_single_version_is_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(MODELS / "classifier")]) == 2
    err = capsys.readouterr().err
    assert "nothing to compare: only version 1" in err and "Traceback" not in err


def test_not_a_savedmodel_is_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(FIXTURES / "not_a_savedmodel"), str(FIXTURES / "tiny")]) == 2
    err = capsys.readouterr().err
    assert "not a SavedModel" in err and "Traceback" not in err


# ----------------------------------------------------------------------------- rules


def tensor(name: str, dtype: str = "float32", *dims: DimRange) -> TensorInterface:
    return TensorInterface(name, dtype, tuple(dims))


FREE = DimRange.free()
BATCH = DimRange(1, 32, "batch")


def iface(inputs: list[TensorInterface], outputs: list[TensorInterface], *,
          name: str = "serving_default", assets: tuple[str, ...] = ()) -> Interface:
    sig = SignatureInterface(name, "tensorflow/serving/predict",
                             {t.name: t for t in inputs}, {t.name: t for t in outputs})
    return Interface("side", {name: sig}, assets, ("serve",))


def kinds(old: Interface, new: Interface) -> list[tuple[str, str, str]]:
    return [(c.severity, c.kind, c.where) for c in diff_interfaces(old, new).changes]


def test_identical_interfaces_are_unchanged() -> None:
    side = iface([tensor("x", "float32", FREE, DimRange.fixed(4))], [tensor("y", "float32", FREE)])
    assert kinds(side, side) == [(UNCHANGED, "signature unchanged", "serving_default")]


@pytest.mark.parametrize("old_dim, new_dim, severity, kind", [
    (FREE, DimRange.fixed(4), BREAKING, "dim narrowed"),
    (DimRange.fixed(4), FREE, COMPATIBLE, "dim widened"),
    (DimRange.fixed(4), DimRange.fixed(5), BREAKING, "fixed size changed"),
    (BATCH, DimRange(1, 8, "batch"), BREAKING, "dim narrowed"),
    (DimRange(1, 8, "batch"), BATCH, COMPATIBLE, "dim widened"),
    (DimRange(1, 8), DimRange(4, 16), BREAKING, "dim changed"),
])
def test_input_dims(old_dim: DimRange, new_dim: DimRange, severity: str, kind: str) -> None:
    out = [tensor("y", "float32", FREE)]
    old = iface([tensor("x", "float32", FREE, old_dim)], out)
    new = iface([tensor("x", "float32", FREE, new_dim)], out)
    assert kinds(old, new) == [(severity, kind, "serving_default/inputs/x[1]")]


def test_output_dims_narrowed_is_compatible_but_fixed_size_change_breaks() -> None:
    x = [tensor("x", "float32", FREE)]
    assert kinds(iface(x, [tensor("y", "float32", FREE, FREE)]),
                 iface(x, [tensor("y", "float32", FREE, DimRange.fixed(3))])) == [
        (COMPATIBLE, "dim narrowed", "serving_default/outputs/y[1]")]
    assert kinds(iface(x, [tensor("y", "float32", FREE, DimRange.fixed(2))]),
                 iface(x, [tensor("y", "float32", FREE, DimRange.fixed(3))])) == [
        (BREAKING, "fixed size changed", "serving_default/outputs/y[1]")]


def test_rank_and_dtype() -> None:
    y = [tensor("y", "float32", FREE)]
    old = iface([tensor("x", "float32", FREE, DimRange.fixed(4))], y)
    assert kinds(old, iface([tensor("x", "float32", FREE)], y)) == [
        (BREAKING, "rank changed", "serving_default/inputs/x")]
    assert kinds(old, iface([tensor("x", "float64", FREE, DimRange.fixed(4))], y)) == [
        (BREAKING, "dtype changed", "serving_default/inputs/x")]
    any_rank = iface([TensorInterface("x", "float32", None)], y)
    assert kinds(any_rank, old) == [(BREAKING, "rank fixed", "serving_default/inputs/x")]
    assert kinds(old, any_rank) == [(COMPATIBLE, "rank opened", "serving_default/inputs/x")]


def test_new_input_removed_output_and_assets() -> None:
    x, x2 = tensor("x", "float32", FREE), tensor("mask", "bool", FREE)
    y, z = tensor("y", "float32", FREE), tensor("z", "int64", FREE)
    old = iface([x], [y, z], assets=("vocab.txt",))
    new = iface([x, x2], [y], assets=("labels.txt",))
    assert sorted(kinds(old, new)) == sorted([
        (BREAKING, "new required input", "serving_default/inputs/mask"),
        (BREAKING, "output removed", "serving_default/outputs/z"),
        (BREAKING, "asset removed", "assets/vocab.txt"),
        (COMPATIBLE, "asset added", "assets/labels.txt"),
    ])


def test_signature_renamed_removed_added() -> None:
    x, y = [tensor("x", "float32", FREE)], [tensor("y", "float32", FREE)]
    assert kinds(iface(x, y, name="predict"), iface(x, y, name="serve")) == [
        (BREAKING, "signature renamed?", "predict -> serve")]
    other = iface(x, [tensor("z", "float32", FREE)], name="serve")
    assert sorted(kinds(iface(x, y, name="predict"), other)) == [
        (BREAKING, "signature removed", "predict"), (COMPATIBLE, "signature added", "serve")]


def test_breaking_changes_come_first() -> None:
    x = tensor("x", "float32", FREE)
    old = iface([x], [tensor("y", "float32", FREE)])
    new = iface([x], [tensor("y", "float32", FREE), tensor("extra", "float32", FREE)],
                assets=())
    new = Interface(new.label, new.signatures, ("a.txt",), ("serve", "gpu"))
    severities = [c.severity for c in diff_interfaces(old, new).changes]
    assert severities == sorted(severities, key=[BREAKING, COMPATIBLE, UNCHANGED].index)
    assert severities[0] == BREAKING  # the tag-set changed


def test_dim_range_text() -> None:
    assert DimRange.free().describe() == "None"
    assert DimRange(1, 32, "batch").describe() == "batch(1..32)"
    assert DimRange(2, math.inf).describe() == "2..inf"
