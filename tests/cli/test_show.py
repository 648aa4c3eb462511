"""``model-contract show``: the contract as written, or merged with its standards (--resolved)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from tests.conftest import ROOT


def test_show_resolved_names_the_file_of_every_value(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["show", "--resolved", "contracts/image_classifier.json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line for line in lines}
    assert rows["/signatures/classify/outputs/probs/checks"].endswith(
        '["finite", {"sum": 1.0, "axis": -1, "atol": 1e-05}]  # standards/image-classifier.json')
    assert rows["/signatures/classify/outputs/probs/shape"].endswith(
        '["batch", 10]  # contracts/image_classifier.json')
    assert rows["/tags"].endswith('["serve"]  # standards/classifier.json')
    assert rows["/name"].endswith('"image_classifier"  # contracts/image_classifier.json')


def test_show_resolved_json(capsys: pytest.CaptureFixture[str],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["show", "--resolved", "--json", "contracts/text_classifier.json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["contract"]["signatures"]["classify"]["outputs"]["label"] == {
        "dtype": "int64", "shape": ["batch"]}
    assert out["provenance"]["/signatures/classify/outputs/label/dtype"] == \
        "standards/text-classifier.json"
    assert "extends" not in out["contract"]


def test_show_of_a_loosening_contract_exits_2_with_both_places(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads((ROOT / "contracts" / "image_classifier.json").read_text())
    data["extends"] = [str(ROOT / "standards" / "image-classifier.json")]
    data["models"] = []
    data["signatures"]["classify"]["inputs"]["x"]["range"] = [0.0, 255.0]
    path = tmp_path / "loose.json"
    path.write_text(json.dumps(data))
    assert main(["show", "--resolved", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[0] == (
        f"model-contract show: error: {path}: /signatures/classify/inputs/x/range: widens range "
        f"[0.0, 1.0] to [0.0, 255.0]; only a narrower one is allowed (locked by "
        f"{ROOT}/standards/image-classifier.json /locked/0: /signatures/classify)")


def test_show_without_resolved_prints_the_file(capsys: pytest.CaptureFixture[str]) -> None:
    path = ROOT / "contracts" / "classifier.json"
    assert main(["show", str(path)]) == 0
    assert capsys.readouterr().out == path.read_text().rstrip() + "\n"
