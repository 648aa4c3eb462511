"""The release gate: diff x semantic version x gated groups; ranges; --against a git revision."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.contract.diff import KIND_GROUPS, diff_paths
from harness.contract.release import judge, semver
from harness.errors import HarnessError
from tests.conftest import TINY_CONTRACT, write_contract


def contract(tmp_path: Path, name: str, version: str, **changes: Any) -> Path:
    return write_contract(tmp_path, name, version=version, models=[], **changes)


def narrowed_batch() -> dict[str, Any]:
    return {"dims": {"batch": {"min": 1, "max": 4}}}


def added_output() -> dict[str, Any]:
    sigs = json.loads(json.dumps(TINY_CONTRACT["signatures"]))
    sigs["serving_default"]["outputs"]["extra"] = {"dtype": "float32"}
    return {"signatures": sigs}


def verdict(old: Path, new: Path, groups: tuple[str, ...] | None = None) -> Any:
    (result,) = diff_paths(old, new)
    return judge(result) if groups is None else judge(result, groups)


def test_semver_reads_major_minor_patch() -> None:
    assert semver("1.2.3") == (1, 2, 3) and semver("2.0.0-rc.1") == (2, 0, 0)
    assert semver("v1") is None and semver(None) is None


def test_breaking_without_a_major_bump_fails(tmp_path: Path) -> None:
    old = contract(tmp_path, "old.json", "1.4.0")
    v = verdict(old, contract(tmp_path, "new.json", "1.5.0", **narrowed_batch()))
    assert v.failed and v.reasons == (
        "1 breaking change(s) without a major version bump (1.4.0 -> 1.5.0); release it as "
        "2.0.0",)


def test_breaking_with_a_major_bump_passes(tmp_path: Path) -> None:
    old = contract(tmp_path, "old.json", "1.4.0")
    v = verdict(old, contract(tmp_path, "new.json", "2.0.0", **narrowed_batch()))
    assert not v.failed and v.reasons == () and v.warnings == ()


def test_compatible_without_a_minor_bump_warns(tmp_path: Path) -> None:
    old = contract(tmp_path, "old.json", "1.4.0")
    v = verdict(old, contract(tmp_path, "new.json", "1.4.1", **added_output()))
    assert not v.failed and v.warnings == (
        "1 compatible change(s) without a minor version bump (1.4.0 -> 1.4.1); release it as "
        "1.5.0",)
    assert verdict(old, contract(tmp_path, "n2.json", "1.5.0", **added_output())).warnings == ()


def test_a_version_that_goes_down_fails(tmp_path: Path) -> None:
    v = verdict(contract(tmp_path, "old.json", "2.0.0"), contract(tmp_path, "new.json", "1.9.0"))
    assert v.reasons == ("the version went down (2.0.0 -> 1.9.0)",)


def test_without_versions_every_breaking_change_fails(tmp_path: Path) -> None:
    old = contract(tmp_path, "old.json", "")
    v = verdict(old, contract(tmp_path, "new.json", "", **narrowed_batch()))
    assert v.failed and v.reasons == ("1 breaking change(s)",)


def test_gating_on_groups(tmp_path: Path) -> None:
    old = contract(tmp_path, "old.json", "1.0.0")
    new = contract(tmp_path, "new.json", "1.0.0", **narrowed_batch())  # a shape change
    assert verdict(old, new, ("shape",)).failed
    assert not verdict(old, new, ("signature", "tensor", "values", "assets")).failed
    with pytest.raises(HarnessError, match="unknown change group 'dims'"):
        verdict(old, new, ("dims",))


def test_every_kind_of_change_has_a_group() -> None:
    from harness.contract import diff as module

    source = Path(module.__file__).read_text()
    import re

    kinds = set(re.findall(r'Change\((?:BREAKING|COMPATIBLE|UNCHANGED|severity|narrow|widen), "([^"]+)"',
                           source))
    kinds |= {"output renamed?", "input renamed?", "input removed", "output removed"}
    assert kinds <= set(KIND_GROUPS), kinds - set(KIND_GROUPS)


def test_value_ranges_of_contracts(tmp_path: Path) -> None:
    sigs = json.loads(json.dumps(TINY_CONTRACT["signatures"]))
    sigs["serving_default"]["inputs"]["x"]["range"] = [0.0, 0.5]
    sigs["serving_default"]["outputs"]["y"]["range"] = [-1.0, 1.0]
    old = contract(tmp_path, "old.json", "1.0.0")
    new = contract(tmp_path, "new.json", "1.0.0", signatures=sigs)
    (result,) = diff_paths(old, new)
    assert [(c.severity, c.kind, c.group, c.where, c.message) for c in result.breaking] == [
        ("breaking", "range narrowed", "values", "serving_default/inputs/x",
         "signature 'serving_default': input 'x' range [0.0, 1.0] -> [0.0, 0.5]; callers "
         "sending values outside it break"),
        ("breaking", "range widened", "values", "serving_default/outputs/y",
         "signature 'serving_default': output 'y' range [0.0, 1.0] -> [-1.0, 1.0]; callers "
         "relying on the old range break")]
    (back,) = diff_paths(new, old)
    assert back.breaking == () and back.count("compatible") == 2


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_against_a_git_revision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
                       cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    path = contract(tmp_path, "c.json", "1.0.0")
    git("add", "c.json")
    git("commit", "-qm", "v1")
    contract(tmp_path, "c.json", "1.1.0", **narrowed_batch())  # the working tree moves on
    monkeypatch.chdir(tmp_path)
    assert main(["diff", "c.json", "--against", "main:c.json"]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "main:c.json -> c.json"
    assert ("  FAIL: 1 breaking change(s) without a major version bump (1.0.0 -> 1.1.0); "
            "release it as 2.0.0") in out.splitlines()
    assert json.loads(path.read_text())["version"] == "1.1.0"  # the working tree is untouched
    assert main(["diff", "c.json", "--against", "main:c.json", "--gate", "tensor"]) == 0
    capsys.readouterr()
    assert main(["diff", "c.json", "--against", "nope:c.json"]) == 2
    assert "cannot read 'nope:c.json' with git: fatal:" in capsys.readouterr().err


def test_removing_a_deprecated_output_is_compatible_after_its_sunset(tmp_path: Path) -> None:
    import datetime

    sigs = json.loads(json.dumps(TINY_CONTRACT["signatures"]))
    sigs["serving_default"]["outputs"]["label"]["deprecated"] = {"sunset": "2027-01-31",
                                                                  "reason": "use argmax(y)"}
    old = contract(tmp_path, "old.json", "1.0.0", signatures=sigs)
    gone = json.loads(json.dumps(sigs))
    del gone["serving_default"]["outputs"]["label"]
    gone["serving_default"].pop("relations")
    new = contract(tmp_path, "new.json", "1.1.0", signatures=gone)
    (before,) = diff_paths(old, new, today=datetime.date(2027, 1, 30))
    assert [(c.severity, c.kind, c.message) for c in before.breaking] == [
        ("breaking", "output removed", "signature 'serving_default': output 'label' (int64 "
         "[batch(1..8)]) was removed (deprecated, but its sunset is 2027-01-31)")]
    (after,) = diff_paths(old, new, today=datetime.date(2027, 1, 31))
    assert after.breaking == ()
    assert [(c.severity, c.kind, c.group, c.message) for c in after.changes] == [
        ("compatible", "output retired", "tensor",
         "signature 'serving_default': output 'label' was removed after its sunset (2027-01-31)")]
    assert not judge(after).failed and judge(before).failed


def test_removing_a_deprecated_signature(tmp_path: Path) -> None:
    import datetime

    sigs = json.loads(json.dumps(TINY_CONTRACT["signatures"]))
    sigs["old_api"] = dict(json.loads(json.dumps(sigs["serving_default"])),
                           deprecated={"sunset": "2026-06-01"})
    sigs["old_api"]["outputs"]["z"] = {"dtype": "float32"}  # not a twin of serving_default
    old = contract(tmp_path, "old.json", "1.0.0", signatures=sigs)
    new = contract(tmp_path, "new.json", "1.1.0")
    (after,) = diff_paths(old, new, today=datetime.date(2026, 6, 1))
    assert [(c.severity, c.kind) for c in after.changes if c.kind != "signature unchanged"] == [
        ("compatible", "signature retired")]
    (before,) = diff_paths(old, new, today=datetime.date(2026, 5, 31))
    assert [c.message for c in before.breaking] == [
        "signature 'old_api' was removed; its callers fail (deprecated, but its sunset is "
        "2026-06-01)"]


def test_gate_reports_as_junit_and_sarif(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import xml.etree.ElementTree as ET

    monkeypatch.chdir(tmp_path)
    contract(tmp_path, "old.json", "1.0.0")
    contract(tmp_path, "new.json", "1.1.0", **narrowed_batch())
    assert main(["diff", "old.json", "new.json", "--format", "sarif"]) == 1
    run = json.loads(capsys.readouterr().out)["runs"][0]
    result, version = run["results"]
    assert result["ruleId"] == "BREAKING_SHAPE" and result["level"] == "error"
    assert version["ruleId"] == "VERSION" and version["message"]["text"].startswith(
        "1 breaking change(s) without a major version bump (1.0.0 -> 1.1.0)")
    location = result["locations"][0]
    assert location["physicalLocation"]["artifactLocation"] == {"uri": "new.json"}
    line = location["physicalLocation"]["region"]["startLine"]
    text = (tmp_path / "new.json").read_text().splitlines()
    assert text[line - 1].strip() == '"shape": ['  # /signatures/serving_default/inputs/x/shape
    assert location["logicalLocations"][0]["fullyQualifiedName"] == \
        "/signatures/serving_default/inputs/x/shape"
    assert main(["diff", "old.json", "new.json", "--format", "junit"]) == 1
    suite = ET.fromstring(capsys.readouterr().out)
    assert suite.get("failures") == "1"
    failure = suite.find("testcase/failure")
    assert failure is not None and "without a major version bump" in (failure.get("message") or "")
    contract(tmp_path, "major.json", "2.0.0", **narrowed_batch())
    assert main(["diff", "old.json", "major.json", "--format", "sarif"]) == 0
    (passed,) = json.loads(capsys.readouterr().out)["runs"][0]["results"]
    assert passed["ruleId"] == "BREAKING_SHAPE" and passed["level"] == "note"
