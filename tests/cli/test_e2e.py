"""End to end: `model-contract lint`, `rules` and `diff` run as a user runs them (a separate
process through pytester, output lines matched), on files built in the test's folder: a
standard and team contracts, a SavedModel, a git repository."""

from __future__ import annotations

import json
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, ROOT, TINY_CONTRACT
from tests.sarif import sarif_problems


def cli(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.run(sys.executable, "-m", "harness.cli", *args, timeout=600)


def write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


def tiny(**changes: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(TINY_CONTRACT))
    data.update(changes)
    return data


def signatures(**outputs: Any) -> dict[str, Any]:
    sigs = json.loads(json.dumps(TINY_CONTRACT["signatures"]))
    sigs["classify"] = sigs.pop("serving_default")
    sigs["classify"]["outputs"].update(outputs)
    return {"classify": sigs["classify"]}


# ----------------------------------------------------------------------------- lint


def project(root: Path) -> tuple[Path, Path]:
    """An organisation's standard and a team contract that breaks two of its rules."""
    write(root / "standards" / "org.json", {
        "standard": "org", "schema_version": 1,
        "lint": {"tier": "basic", "rules": {"TENSOR_NAME_SNAKE_CASE": "error",
                                            "GENERIC_TENSOR_NAME": "error"},
                 "forbid_ignoring_locked": True},
        "locked": ["/lint/rules/GENERIC_TENSOR_NAME", "/lint/forbid_ignoring_locked"]})
    team = write(root / "teams" / "birds.json", tiny(
        extends=["../standards/org.json"], name="birds",
        signatures=signatures(classId={"dtype": "int64", "shape": ["batch"]},
                              dense_3={"dtype": "float32", "shape": ["batch", 2]}),
        lint={"ignore": [
            {"rule": "TENSOR_NAME_SNAKE_CASE", "pointer": "/signatures/classify/outputs/classId",
             "reason": "the mobile client reads classId", "expires": "2000-01-31"},
            {"rule": "GENERIC_TENSOR_NAME", "pointer": "/signatures/classify/outputs/dense_3",
             "reason": "legacy"}]}))
    return root / "standards" / "org.json", team


def line_of(path: Path, text: str) -> int:
    return path.read_text().splitlines().index(text) + 1


def test_lint_a_team_contract_and_a_savedmodel(pytester: pytest.Pytester) -> None:
    _, team = project(pytester.path)
    shutil.copytree(FIXTURES / "keras3_saved", pytester.path / "model")
    result = cli(pytester, "lint", "teams/birds.json", "model")
    assert result.ret == 1
    dense_3 = line_of(team, '    "dense_3": {')
    class_id = line_of(team, '    "classId": {')
    result.stdout.fnmatch_lines([
        f"teams/birds.json:{dense_3}: "
        "/signatures/classify/outputs/dense_3: error GENERIC_TENSOR_NAME: output 'dense_3' is a "
        "generated name; name it for what it holds",
        f"teams/birds.json:{class_id}: "
        "/signatures/classify/outputs/classId: error TENSOR_NAME_SNAKE_CASE: output 'classId' is "
        "not lower_snake_case",
        "teams/birds.json:*: /lint/ignore/0: warning IGNORE_EXPIRED: the ignore of "
        "TENSOR_NAME_SNAKE_CASE at /signatures/classify/outputs/classId expired on 2000-01-31; it "
        "no longer applies",
        "teams/birds.json:*: /lint/ignore/1: error IGNORE_FORBIDDEN: ignores GENERIC_TENSOR_NAME, "
        "whose level a standard locks; ignores of locked rules are forbidden here, so it does not "
        "apply",
        "model/saved_model.pb: /signatures/serving_default/inputs/inputs: error "
        "GENERIC_TENSOR_NAME: input 'inputs' is a generated name; name it for what it holds",
        "model/saved_model.pb: /signatures/serving_default/outputs/output_0: error "
        "GENERIC_TENSOR_NAME: output 'output_0' is a generated name; name it for what it holds",
        "model/saved_model.pb: /signatures: warning SIGNATURE_NAME_SEMANTIC: the only signature "
        "is 'serving_default'; add one named for what it does (e.g. 'classify', 'embed')",
        "5 error(s), 2 warning(s), 0 info in 2 file(s)"])
    assert "oneDNN" not in result.stderr.str()  # TensorFlow's start-up lines stay quiet


def test_lint_levels_tiers_and_an_ignore_that_still_applies(pytester: pytest.Pytester) -> None:
    project(pytester.path)
    team = pytester.path / "teams" / "birds.json"
    data = json.loads(team.read_text())
    data["lint"] = {"ignore": [{"rule": "TENSOR_NAME_SNAKE_CASE",
                                "pointer": "/signatures/classify/outputs/classId",
                                "reason": "the mobile client reads classId",
                                "expires": "2999-12-31"}],
                    "rules": {"TOLERANCE_PER_FORMAT": "info"}}
    data["signatures"]["classify"]["outputs"].pop("dense_3")
    data["formats"] = {"tflite": {}}
    write(team, data)
    result = cli(pytester, "lint", "teams/birds.json")
    assert result.ret == 0  # the ignore applies until 2999-12-31; the info finding fails nothing
    result.stdout.fnmatch_lines([
        "teams/birds.json:*: /formats/tflite: info TOLERANCE_PER_FORMAT: format 'tflite' is "
        "enabled without a tolerance of its own",
        "0 error(s), 0 warning(s), 1 info in 1 file(s)"])
    result = cli(pytester, "lint", "teams/birds.json", "--tier", "minimal")
    result.stdout.fnmatch_lines(["0 error(s), 0 warning(s), 1 info in 1 file(s)"])


def test_lint_outputs_for_ci_and_a_baseline(pytester: pytest.Pytester) -> None:
    _, team = project(pytester.path)
    assert cli(pytester, "lint", "teams/birds.json", "--format", "sarif", "-o", "lint.sarif").ret == 1
    sarif = json.loads((pytester.path / "lint.sarif").read_text())
    assert sarif_problems(sarif) == []
    results = sarif["runs"][0]["results"]
    assert [(r["ruleId"], r["level"]) for r in results] == [
        ("GENERIC_TENSOR_NAME", "error"), ("TENSOR_NAME_SNAKE_CASE", "error"),
        ("IGNORE_EXPIRED", "warning"), ("IGNORE_FORBIDDEN", "error")]
    assert results[0]["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "teams/birds.json"},
        "region": {"startLine": line_of(team, '    "dense_3": {')}}

    import jsonschema

    result = cli(pytester, "lint", "teams/birds.json", "--format", "json")
    report = json.loads(result.stdout.str())
    schema = json.loads((ROOT / "contracts" / "schema" / "lint-report-v1.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(report)
    assert report["counts"] == {"error": 3, "warning": 1, "info": 0}
    suite = ET.fromstring(cli(pytester, "lint", "teams/birds.json", "--format", "junit").stdout.str())
    assert suite.get("failures") == "3"

    result = cli(pytester, "lint", "teams/birds.json", "--write-baseline", "baseline.json")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["wrote baseline.json: 4 finding(s) recorded"])
    result = cli(pytester, "lint", "teams/birds.json", "--baseline", "baseline.json")
    assert result.ret == 0  # legacy findings are quiet
    result.stdout.fnmatch_lines(["0 error(s), 0 warning(s), 0 info in 1 file(s); 4 known "
                                 "finding(s) in the baseline"])
    data = json.loads(team.read_text())
    outputs = data["signatures"]["classify"]["outputs"]
    outputs["dense_4"] = outputs.pop("dense_3")  # a new violation, and a stale baseline entry
    write(team, data)
    result = cli(pytester, "lint", "teams/birds.json", "--baseline", "baseline.json")
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        "teams/birds.json:*: /signatures/classify/outputs/dense_4: error GENERIC_TENSOR_NAME: "
        "output 'dense_4' is a generated name; name it for what it holds",
        "baseline.json:*: /findings/0: warning BASELINE_STALE: the baseline entry "
        "GENERIC_TENSOR_NAME at teams/birds.json /signatures/classify/outputs/dense_3 matches no "
        "finding; remove it (or rewrite the baseline with --write-baseline)",
        "1 error(s), 1 warning(s), 0 info in 1 file(s); 3 known finding(s) in the baseline"])


def test_rules_lists_the_registry(pytester: pytest.Pytester) -> None:
    result = cli(pytester, "rules")
    assert result.ret == 0
    result.stdout.fnmatch_lines([
        "GENERIC_TENSOR_NAME * minimal * error * Tensor names say what they hold*",
        "DTYPE_ALLOWED * strict * error *",
        "* option allowed (default [[]\"float16\", *",
        "BASELINE_STALE * - * warning * A `--baseline` entry*"])
    result = cli(pytester, "rules", "--markdown")
    assert result.stdout.str() == (ROOT / "docs" / "rules.md").read_text().rstrip("\n")


# ----------------------------------------------------------------------------- the release gate


def git(root: Path, *args: str) -> None:
    import subprocess

    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root,
                   check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_diff_against_a_git_revision_gates_on_the_version(pytester: pytest.Pytester) -> None:
    root = pytester.path
    git(root, "init", "-q", "-b", "main")
    path = write(root / "contracts" / "x.json", tiny(version="1.2.0"))
    git(root, "add", "contracts/x.json")
    git(root, "commit", "-qm", "1.2.0")

    write(path, tiny(version="1.3.0", dims={"batch": {"min": 1, "max": 4}}))  # breaking
    result = cli(pytester, "diff", "contracts/x.json", "--against", "main:contracts/x.json")
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        "main:contracts/x.json -> contracts/x.json",
        "  breaking    dim narrowed  serving_default/inputs/x[[]0[]]       batch(1..8) -> "
        "batch(1..4)",
        "  FAIL: 1 breaking change(s) without a major version bump (1.2.0 -> 1.3.0); release it "
        "as 2.0.0"])
    result = cli(pytester, "diff", "contracts/x.json", "--against", "main:contracts/x.json",
                 "--format", "sarif")
    sarif = json.loads(result.stdout.str())
    assert sarif_problems(sarif) == []
    assert [r["ruleId"] for r in sarif["runs"][0]["results"]] == ["BREAKING_SHAPE", "VERSION"]
    result = cli(pytester, "diff", "contracts/x.json", "--against", "main:contracts/x.json",
                 "--format", "json")
    import jsonschema

    report = json.loads(result.stdout.str())
    schema = json.loads((ROOT / "contracts" / "schema" / "diff-report-v1.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(report)
    assert report["failed"] is True and report["diffs"][0]["verdict"]["reasons"] == [
        "1 breaking change(s) without a major version bump (1.2.0 -> 1.3.0); release it as 2.0.0"]
    suite = ET.fromstring(cli(pytester, "diff", "contracts/x.json", "--against",
                              "main:contracts/x.json", "--format", "junit").stdout.str())
    assert suite.get("failures") == "1"
    assert cli(pytester, "diff", "contracts/x.json", "--against", "main:contracts/x.json",
               "--gate", "tensor").ret == 0

    write(path, tiny(version="2.0.0", dims={"batch": {"min": 1, "max": 4}}))
    assert cli(pytester, "diff", "contracts/x.json", "--against", "main:contracts/x.json").ret == 0

    sigs = json.loads(json.dumps(TINY_CONTRACT["signatures"]))
    sigs["serving_default"]["outputs"]["extra"] = {"dtype": "float32"}
    write(path, tiny(version="1.2.1", signatures=sigs))  # compatible, without a minor bump
    result = cli(pytester, "diff", "contracts/x.json", "--against", "main:contracts/x.json")
    assert result.ret == 0
    result.stdout.fnmatch_lines([
        "  warning: 1 compatible change(s) without a minor version bump (1.2.0 -> 1.2.1); "
        "release it as 1.3.0"])
    assert (root / "contracts" / "x.json").read_text() == json.dumps(
        tiny(version="1.2.1", signatures=sigs), indent=1)  # git show: no checkout


def deprecated_label(sunset: str) -> dict[str, Any]:
    sigs = json.loads(json.dumps(TINY_CONTRACT["signatures"]))
    sigs["serving_default"]["outputs"]["label"]["deprecated"] = {"sunset": sunset,
                                                                  "reason": "use argmax(y)"}
    return sigs


def without_label() -> dict[str, Any]:
    sigs = json.loads(json.dumps(TINY_CONTRACT["signatures"]))
    del sigs["serving_default"]["outputs"]["label"]
    del sigs["serving_default"]["relations"]
    return sigs


@pytest.mark.parametrize("sunset, code, line", [
    ("2000-01-31", 0, "  compatible * output retired * serving_default/outputs/label *"),
    ("2999-01-31", 1, "  breaking * output removed * serving_default/outputs/label *"),
])
def test_removing_a_deprecated_output_before_and_after_its_sunset(
        pytester: pytest.Pytester, sunset: str, code: int, line: str) -> None:
    write(pytester.path / "old.json", tiny(version="1.0.0", signatures=deprecated_label(sunset)))
    write(pytester.path / "new.json", tiny(version="1.1.0", signatures=without_label()))
    result = cli(pytester, "diff", "old.json", "new.json")
    assert result.ret == code
    result.stdout.fnmatch_lines([line])
