"""``model-contract``: help, exit codes, validate, check and scan, called in-process."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import harness.cli as cli
from harness.cli import main
from tests.conftest import FIXTURES, MODELS, ROOT

SUBCOMMANDS = ["validate", "init", "check", "diff", "scan", "show", "lint", "rules", "openapi"]


def test_help_documents_commands_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert name in out
    for code in ("0  ok", "1  the command's verdict is negative", "2  usage or input error",
                 "3  internal error"):
        assert code in out


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help_with_exit_codes(command: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: model-contract {command}")
    assert "exit codes:" in out


def test_check_shares_the_plugin_options(capsys: pytest.CaptureFixture[str]) -> None:
    from harness.options import CONTRACT_RUN_OPTIONS, FLEET_OPTIONS, OPTIONS

    assert main(["check", "--help"]) == 0
    out = capsys.readouterr().out
    for opt in OPTIONS:
        if opt.dest != "contract" and opt.dest not in FLEET_OPTIONS:
            assert opt.flag in out
    assert main(["fleet", "--help"]) == 0
    out = capsys.readouterr().out
    for opt in OPTIONS:
        if opt.dest not in ("contract", "model", "fleet") + CONTRACT_RUN_OPTIONS:
            assert opt.flag in out


@pytest.mark.parametrize("argv", [[], ["frobnicate"], ["diff"], ["check", "c.json", "--examples", "x"]])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "usage: model-contract" in capsys.readouterr().err


def test_passthrough_only_for_check_and_fleet(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "c.json", "--", "-x"]) == 2
    assert capsys.readouterr().err == ("model-contract validate: arguments after '--' are passed "
                                       "to pytest and only 'check' and 'fleet' take them\n")


def test_internal_error_keeps_traceback(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    def boom(ns: object) -> int:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(cli, "_validate", boom)
    assert main(["validate", "x.json"]) == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: kaboom" in err and "internal error" in err


# ----------------------------------------------------------------------------- validate


def test_validate_ok_and_invalid(capsys: pytest.CaptureFixture[str]) -> None:
    good = ROOT / "contracts" / "classifier.json"
    bad = ROOT / "tests" / "contract" / "invalid" / "dim_min_gt_max.json"
    assert main(["validate", str(good)]) == 0
    assert capsys.readouterr().out == f"ok: {good}\n"
    assert main(["validate", str(good), str(bad)]) == 1
    captured = capsys.readouterr()
    assert captured.out == f"ok: {good}\n"
    assert f"{bad}: /dims/batch: min 8 is greater than max 2" in captured.err
    assert "1 of 2 contract(s) invalid" in captured.err
    assert "Traceback" not in captured.err


def test_validate_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "nope.json")]) == 1
    assert "nope.json: contract file not found" in capsys.readouterr().err


# ----------------------------------------------------------------------------- check


def test_check_bad_contract_is_a_user_error(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x", "signatures": {}}')
    assert main(["check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "model-contract check: error:" in err and "/signatures" in err
    assert "Traceback" not in err


def test_check_missing_model_is_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    contract = FIXTURES / "contracts" / "tiny.json"
    assert main(["check", str(contract), "--model", "/nonexistent/model"]) == 2
    err = capsys.readouterr().err
    assert "/nonexistent/model: model path does not exist" in err
    assert "hint" not in err and "\"models\"" not in err  # a command-line path, not "models"


def test_check_missing_relative_model_names_the_current_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    contract = FIXTURES / "contracts" / "tiny.json"
    assert main(["check", str(contract), "--model", "exports/clf"]) == 2
    err = capsys.readouterr().err
    assert "exports/clf: model path does not exist" in err
    assert f"hint: the path is relative to the current directory ({tmp_path})" in err
    assert "\"models\"" not in err


def test_check_nothing_collected_is_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    contract = FIXTURES / "contracts" / "tiny.json"
    assert main(["check", str(contract), "--", "-q", "-k", "no_such_check"]) == 2
    assert "no check was collected" in capsys.readouterr().err


def test_check_end_to_end_on_init_contract(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    contract = tmp_path / "tiny.json"
    assert main(["init", str(FIXTURES / "tiny"), "-o", str(contract)]) == 0
    capsys.readouterr()
    assert main(["check", str(contract), "--examples", "3", "--in-process",
                 "--results-dir", str(tmp_path / "results"), "--", "-q"]) == 0
    out = capsys.readouterr().out
    assert "passed" in out and "failed" not in out


def test_check_failure_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    contract = FIXTURES / "contracts" / "wrong_dtype.json"
    assert main(["check", str(contract), "--results-dir", str(tmp_path / "results"),
                 "--", "-q", "-m", "static"]) == 1
    assert "[inputs]" in capsys.readouterr().out


# ----------------------------------------------------------------------------- scan


def test_scan_violation_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(MODELS / "hostile" / "py_func")]) == 1
    captured = capsys.readouterr()
    assert "VIOLATION:" in captured.out and "PyFunc" in captured.out
    assert "runs a Python callback" in captured.out
    assert "--allow-op" in captured.err


def test_scan_clean_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(FIXTURES / "tiny")]) == 0
    assert capsys.readouterr().out.startswith(f"clean: {FIXTURES / 'tiny'}")


def test_scan_allow_op(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(MODELS / "hostile" / "py_func"),
                 "--allow-op", "PyFunc", "--allow-op", "EagerPyFunc"]) == 0
    assert "--allow-op PyFunc, EagerPyFunc" in capsys.readouterr().out


def test_scan_policy_file_and_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"ops": {"deny": ["MatMul"]}}))
    assert main(["scan", str(FIXTURES / "tiny"), "--policy", str(policy)]) == 1
    assert "MatMul" in capsys.readouterr().out
    contract = tmp_path / "c.json"
    contract.write_text(json.dumps({
        "name": "t", "ops": {"deny": ["Softmax"]},
        "signatures": {"s": {"inputs": {}, "outputs": {"y": {"dtype": "float32"}}}}}))
    assert main(["scan", str(FIXTURES / "tiny"), "--contract", str(contract)]) == 1
    assert "Softmax" in capsys.readouterr().out


def test_scan_base_path_scans_every_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(MODELS / "versions" / "renamed_output")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" (")[0] for line in lines] == [
        f"clean: {MODELS / 'versions' / 'renamed_output' / v}" for v in ("1", "2")]


def test_scan_not_a_savedmodel(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(FIXTURES / "not_a_savedmodel")]) == 2
    err = capsys.readouterr().err
    assert "model-contract scan: error:" in err and "Traceback" not in err


def test_check_replay_of_a_missing_file_exits_2(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    contract = FIXTURES / "contracts" / "tiny.json"
    assert main(["check", str(contract), "--replay", str(tmp_path / "gone.npz"),
                 "--results-dir", str(tmp_path / "results")]) == 2
    captured = capsys.readouterr()
    assert f"{tmp_path / 'gone.npz'}: --replay: no such file" in captured.err
    assert "Traceback" not in captured.out + captured.err


def test_scan_reports_the_scans_own_time_not_tensorflows_import(tmp_path: Path) -> None:
    """The time `model-contract scan` prints is the scan's: in a fresh process, importing
    TensorFlow (seconds) happens before it. A fake clock stands still except while
    TensorFlow is imported, when it jumps 4.3 s; the scan must report 0 ms."""
    import subprocess
    import sys

    program = f"""
import sys, time
clock = [1000.0]
time.perf_counter = lambda: clock[0]
class Jump:
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow":
            clock[0] += 4.3
        return None
sys.meta_path.insert(0, Jump())
from harness.cli import main
sys.exit(main(["scan", {str(FIXTURES / "tiny")!r}]))
"""
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
    assert re.search(r"^clean: .*tiny \(.*; 0 ms\)$", done.stdout, re.MULTILINE), done.stdout


def test_tensorflow_start_up_lines_stay_out_of_failure_output(pytester: pytest.Pytester) -> None:
    """The first test to read a model used to show absl's start-up lines as captured stderr."""
    contract = FIXTURES / "contracts" / "wrong_dtype.json"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--contract", str(contract), "-k", "serving_default and inputs",
        "--results-dir", str(pytester.path / "results"))
    result.assert_outcomes(failed=1)
    text = result.stdout.str() + result.stderr.str()
    assert "dtype Received: float64 / Documented: float32" in text
    assert "absl::InitializeLog" not in text and "oneDNN" not in text
    assert not re.search(r"^[IW]\d{4} ", text, re.MULTILINE), text
