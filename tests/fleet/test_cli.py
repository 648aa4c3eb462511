"""model-contract fleet: the plan up front, and bad fleet input as one message (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main


def test_fleet_plan_lists_every_model_and_the_one_without_contract(
        fleet_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["fleet", str(fleet_root / "models.config"), "--contracts",
                 str(fleet_root / "contracts"), "--plan"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0].startswith("fleet models: 34 models, 46 model versions, ")
    assert out[0].endswith("; 1 without a contract (linted only): orphan")
    assert "  scale-003: 25 cases, versions [1, 2] (labels stable=1)" in out
    assert "  orphan: no contract named 'orphan'; 1 case, versions [2]" in out
    assert len(out) == 35


def test_fleet_plan_of_one_shard(fleet_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fleet", str(fleet_root / "fleet.json"), "--plan", "--shard", "2/4"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("fleet generated: ") and "(shard 2/4 of 34 models)" in first


@pytest.mark.parametrize("text, message", [
    ("model_config_list { config { name: \"a\" base_path: \"/x\" \n",
     "line 1: not a model_config_list: the file ends inside a block (a '}' is missing)"),
    ("model_config_list {\n config { name: \"a\" base_path: \"/x\"\n model_version_policy "
     "{ newest {} } } }\n", "line 2: not a model_config_list: unknown model_version_policy "
     "'newest' (latest, all or specific)"),
])
def test_bad_model_config_is_one_message_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str) -> None:
    config = tmp_path / "models.config"
    config.write_text(text)
    assert main(["fleet", str(config), "--plan"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"model-contract fleet: error: {config}: {message}\n")
    assert "Traceback" not in err


def test_two_contracts_with_one_name_are_refused(
        fleet_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    contracts = tmp_path / "contracts"
    contracts.mkdir()
    source = (fleet_root / "contracts" / "scale-000.json").read_text()
    (contracts / "a.json").write_text(source)
    (contracts / "b.json").write_text(source)
    assert main(["fleet", str(fleet_root / "models.config"), "--contracts", str(contracts),
                 "--plan"]) == 2
    assert capsys.readouterr().err.startswith(
        f"model-contract fleet: error: {contracts}: two contracts are named 'scale-000': "
        "a.json and b.json\n")
