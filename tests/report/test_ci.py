"""check's results for CI (--report FORMAT:FILE, model-contract check --format): JSON against
its published schema, JUnit, SARIF 2.1.0 against the vendored SARIF schema; each failure at
the contract file and the line of the signature or tensor it is about."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from harness.report.ci import line_of, located
from tests.conftest import FIXTURES, ROOT, write_contract
from tests.sarif import sarif_problems

CHECK_REPORT_SCHEMA = ROOT / "contracts" / "schema" / "check-report-v1.schema.json"
#: what the wrong_dtype fixture's inputs check says (the contract says float32, the model float64)
INPUTS_FAILURE = (
    "[inputs] signature 'serving_default': inputs do not match the contract\n"
    "signature 'serving_default' input 'x': dtype Received: float64 / Documented: float32 "
    "(/signatures/serving_default/inputs/x/dtype)")


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly", *args)


def check_report_problems(report: Any) -> list[str]:
    import jsonschema

    schema = json.loads(CHECK_REPORT_SCHEMA.read_text(encoding="utf-8"))
    return [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(report)]


def test_the_plugin_writes_json_junit_and_sarif_pointing_at_the_failing_tensor(
        pytester: pytest.Pytester) -> None:
    contract = write_contract(pytester.path, models=[str(FIXTURES / "wrong_dtype")])
    result = run(pytester, "--contract", str(contract), "-m", "static",
                 "--results-dir", str(pytester.path / "results"),
                 "--report", "sarif:ci/out.sarif", "--report", "junit:ci/out.xml",
                 "--report", "json:ci/out.json")
    result.assert_outcomes(passed=6, failed=1)
    result.stdout.fnmatch_lines(["model-contract sarif report: ci/out.sarif",
                                 "model-contract junit report: ci/out.xml",
                                 "model-contract json report: ci/out.json"])
    line = contract.read_text().splitlines().index('    "x": {') + 1  # where input x is written

    sarif = json.loads((pytester.path / "ci" / "out.sarif").read_text())
    assert sarif_problems(sarif) == []
    (found,) = sarif["runs"][0]["results"]
    rules = [r["id"] for r in sarif["runs"][0]["tool"]["driver"]["rules"]]
    assert rules[found["ruleIndex"]] == found["ruleId"] == "inputs"
    assert found["level"] == "error"
    assert found["message"]["text"] == f"tiny::wrong_dtype::serving_default::inputs: {INPUTS_FAILURE}"
    assert found["locations"] == [{
        "physicalLocation": {"artifactLocation": {"uri": "c.json"}, "region": {"startLine": line}},
        "logicalLocations": [{"fullyQualifiedName": "/signatures/serving_default/inputs/x",
                              "kind": "member"}]}]

    suite = ET.fromstring((pytester.path / "ci" / "out.xml").read_text())
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("7", "1", "0")
    (case,) = [c for c in suite.iter("testcase") if c.find("failure") is not None]
    assert (case.get("name"), case.get("file"), case.get("line")) == (
        "tiny::wrong_dtype::serving_default::inputs", "c.json", str(line))
    failure = case.find("failure")
    assert failure is not None and failure.get("message") == INPUTS_FAILURE.splitlines()[0]
    assert failure.text == f"c.json:{line}: /signatures/serving_default/inputs/x: {INPUTS_FAILURE}"

    report = json.loads((pytester.path / "ci" / "out.json").read_text())
    assert check_report_problems(report) == []
    assert report["failed"] is True and report["counts"] == {"passed": 6, "failed": 1}
    rows = {r["check"]: (r["pointer"], r["line"]) for r in report["results"]}
    assert rows["inputs"] == ("/signatures/serving_default/inputs/x", line)
    assert rows["outputs"][0] == "/signatures/serving_default/outputs"
    assert rows["tags"][0] == "/tags"


def test_a_passing_run_writes_reports_with_no_failure(pytester: pytest.Pytester) -> None:
    contract = write_contract(pytester.path, models=[str(FIXTURES / "tiny")])
    result = run(pytester, "--contract", str(contract), "-m", "static",
                 "--results-dir", str(pytester.path / "results"), "--report", "sarif:out.sarif",
                 "--report", "json:out.json")
    result.assert_outcomes(passed=7)
    sarif = json.loads((pytester.path / "out.sarif").read_text())
    assert sarif_problems(sarif) == [] and sarif["runs"][0]["results"] == []
    report = json.loads((pytester.path / "out.json").read_text())
    assert check_report_problems(report) == [] and report["failed"] is False


def test_an_unknown_report_format_is_a_usage_error(pytester: pytest.Pytester) -> None:
    contract = write_contract(pytester.path, models=[str(FIXTURES / "tiny")])
    result = run(pytester, "--contract", str(contract), "--report", "xml:out.xml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--report xml:out.xml: unknown format 'xml'; expected one of "
                                 "json, junit, sarif"])
    result = run(pytester, "--contract", str(contract), "--report", "sarif")
    result.stderr.fnmatch_lines(["*--report sarif: expected FORMAT:FILE, e.g. sarif:results.sarif"])


def test_an_inherited_tensor_points_at_the_line_the_contract_writes(tmp_path: Path) -> None:
    contract = tmp_path / "c.json"
    contract.write_text('{"extends": ["std.json"],\n "name": "c",\n "signatures": {\n'
                        '  "classify": {"outputs": {"probs": {"shape": [3]}}}}}\n')
    row = {"contract_path": str(contract), "pointer": "/signatures/classify/inputs/image"}
    assert [r["line"] for r in located({"results": [row]})] == [4]  # /signatures/classify
    assert line_of({}, "/x") is None


# ----------------------------------------------------------------------------- the CLI


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True,
                          text=True, cwd=str(cwd), env=env, timeout=600)


def test_cli_check_format_sarif_prints_sarif_alone_on_stdout(tmp_path: Path) -> None:
    contract = write_contract(tmp_path, models=[str(FIXTURES / "wrong_dtype")])
    done = cli("check", contract.name, "--format", "sarif", "--results-dir", "results",
               "--", "-m", "static", "-p", "no:cacheprovider", cwd=tmp_path)
    assert done.returncode == 1, done.stderr  # exit codes are unchanged by --format
    sarif = json.loads(done.stdout)
    assert sarif_problems(sarif) == []
    assert [r["ruleId"] for r in sarif["runs"][0]["results"]] == ["inputs"]
    assert "1 failed, 6 passed" in done.stderr  # pytest's own lines go to stderr

    done = cli("check", contract.name, "--format", "junit", "-o", "out.xml", "--results-dir",
               "results", "--", "-m", "static", "-p", "no:cacheprovider", cwd=tmp_path)
    assert done.returncode == 1
    assert ET.parse(tmp_path / "out.xml").getroot().get("failures") == "1"
    assert "1 failed, 6 passed" in done.stdout

    passing = write_contract(tmp_path, "ok.json", models=[str(FIXTURES / "tiny")])
    done = cli("check", passing.name, "--format", "json", "--results-dir", "results",
               "--", "-m", "static", "-p", "no:cacheprovider", cwd=tmp_path)
    assert done.returncode == 0
    assert check_report_problems(json.loads(done.stdout)) == []

    done = cli("check", passing.name, "-o", "out.txt", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == ("model-contract check: error: -o FILE goes with --format "
                                   "json|junit|sarif (pytest's own lines go to stdout)")
