"""model-contract lint: each rule on a fixture that violates it (exact message, pointer, line),
levels set by a standard, accountable ignores, baselines, plugins, SavedModels, outputs."""

from __future__ import annotations

import datetime
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.contract.lines import pointer_lines
from harness.errors import ContractError, HarnessError
from harness.lint.output import OUTPUTS
from harness.lint.rules import RULES, reference_markdown
from harness.lint.run import lint_paths, write_baseline
from tests.conftest import FIXTURES, ROOT

GOOD: dict[str, Any] = {
    "name": "good", "dims": {"batch": {"min": 1, "max": 8}},
    "signatures": {"classify": {
        "inputs": {"image": {"dtype": "float32", "shape": ["batch", 4], "range": [0.0, 1.0]}},
        "outputs": {"probs": {"dtype": "float32", "shape": ["batch", 3], "range": [0.0, 1.0],
                              "checks": [{"sum": 1.0, "axis": -1}]},
                    "class_id": {"dtype": "int64", "shape": ["batch"]}}}},
    "formats": {"tflite": {"tolerance": {"atol": 1e-4}}, "onnx": {"tolerance": {"atol": 1e-4}}},
}


def write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


def changed(base: dict[str, Any], ptr: str, value: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(base))
    parts = ptr.strip("/").split("/")
    here = data
    for part in parts[:-1]:
        here = here.setdefault(part, {})
    if value is None:
        here.pop(parts[-1])
    else:
        here[parts[-1]] = value
    return data


def renamed(base: dict[str, Any], side: str, old: str, new: str) -> dict[str, Any]:
    data = json.loads(json.dumps(base))
    tensors = data["signatures"]["classify"][side]
    data["signatures"]["classify"][side] = {new if k == old else k: v for k, v in tensors.items()}
    return data


def lines_of(path: Path, tier: str = "strict") -> list[str]:
    return OUTPUTS["text"](lint_paths([path], tier=tier)).splitlines()


def test_a_good_contract_has_no_finding_at_any_tier(tmp_path: Path) -> None:
    assert lines_of(write(tmp_path / "good.json", GOOD)) == [
        "0 error(s), 0 warning(s), 0 info in 1 file(s)"]


def test_the_bundled_contracts_pass_their_standards_lint() -> None:
    result = lint_paths(sorted((ROOT / "contracts").glob("*.json")))
    assert result.findings == () and len(result.subjects) == 3


#: rule -> (a change of GOOD that violates it, the finding's text after "FILE:")
VIOLATIONS: dict[str, tuple[Any, str]] = {
    "GENERIC_TENSOR_NAME": (
        lambda d: renamed(d, "inputs", "image", "input_1"),
        "12: /signatures/classify/inputs/input_1: error GENERIC_TENSOR_NAME: input 'input_1' is "
        "a generated name; name it for what it holds"),
    "TENSOR_NAME_SNAKE_CASE": (
        lambda d: renamed(d, "outputs", "class_id", "classId"),
        "42: /signatures/classify/outputs/classId: warning TENSOR_NAME_SNAKE_CASE: output "
        "'classId' is not lower_snake_case"),
    "SIGNATURE_NAME_SEMANTIC": (
        lambda d: {**d, "signatures": {"serving_default": d["signatures"]["classify"]}},
        "9: /signatures: warning SIGNATURE_NAME_SEMANTIC: the only signature is "
        "'serving_default'; add one named for what it does (e.g. 'classify', 'embed')"),
    "BATCH_DIM_FIRST": (
        lambda d: changed(d, "/signatures/classify/outputs/class_id/shape", [1]),
        "44: /signatures/classify/outputs/class_id/shape: warning BATCH_DIM_FIRST: output "
        "'class_id' does not start with 'batch' while other tensors of signature 'classify' do"),
    "PROBABILITIES_DECLARE_SUM": (
        lambda d: changed(d, "/signatures/classify/outputs/probs/checks", ["finite"]),
        "25: /signatures/classify/outputs/probs: warning PROBABILITIES_DECLARE_SUM: output "
        "'probs' holds probabilities in [0, 1] but declares no sum check; add {\"sum\": 1.0, "
        "\"axis\": -1}"),
    "TOLERANCE_PER_FORMAT": (
        lambda d: changed(d, "/formats/onnx", {}),
        "57: /formats/onnx: warning TOLERANCE_PER_FORMAT: format 'onnx' is enabled without a "
        "tolerance of its own"),
    "ASSET_DECLARED": (
        lambda d: changed(changed(d, "/signatures/classify/inputs/image",
                                  {"dtype": "string", "shape": ["batch"]}),
                          "/signatures/classify/inputs/image/vocabulary", {"asset": "vocab.txt"}),
        "18: /signatures/classify/inputs/image/vocabulary/asset: error ASSET_DECLARED: input "
        "'image' reads asset 'vocab.txt', which /assets does not list"),
    "DTYPE_ALLOWED": (
        lambda d: changed(d, "/signatures/classify/outputs/class_id/dtype", "float64"),
        "43: /signatures/classify/outputs/class_id/dtype: error DTYPE_ALLOWED: output "
        "'class_id' is float64; use one of float32, float16, integer, bool or string dtypes"),
}


def test_every_built_in_rule_has_a_violating_fixture() -> None:
    built_in = [r.id for r in RULES.values() if r.check.__module__ == "harness.lint.house"]
    assert sorted(built_in) == sorted(VIOLATIONS)


@pytest.mark.parametrize("rule_id", sorted(VIOLATIONS))
def test_each_rule_reports_file_line_pointer_and_id(tmp_path: Path, rule_id: str) -> None:
    make, expected = VIOLATIONS[rule_id]
    path = write(tmp_path / "c.json", make(GOOD))
    found = lines_of(path)
    assert found[0] == f"{path}:{expected}"
    assert len(found) == 2  # the one finding and the summary


def test_tiers_nest_and_levels_come_from_the_contract_or_its_standard(tmp_path: Path) -> None:
    bad = changed(GOOD, "/formats/onnx", {})  # TOLERANCE_PER_FORMAT is strict
    assert len(lint_paths([write(tmp_path / "c.json", bad)], tier="basic").findings) == 0
    std = {"standard": "org", "schema_version": 1,
           "lint": {"rules": {"TOLERANCE_PER_FORMAT": "error"}}}
    write(tmp_path / "org.json", std)
    path = write(tmp_path / "c.json", {**bad, "extends": ["org.json"]})
    result = lint_paths([path])  # a rule the standard sets applies whatever the tier
    assert [(f.rule, f.level) for f in result.findings] == [("TOLERANCE_PER_FORMAT", "error")]
    assert result.failed
    off = {**bad, "lint": {"rules": {"TOLERANCE_PER_FORMAT": "off"}}}
    assert lint_paths([write(tmp_path / "d.json", off)], tier="strict").findings == ()


def test_an_unknown_rule_id_is_a_contract_error(tmp_path: Path) -> None:
    path = write(tmp_path / "c.json", {**GOOD, "lint": {"rules": {"NO_SUCH_RULE": "error"}}})
    with pytest.raises(ContractError) as info:
        lint_paths([path])
    assert str(info.value) == (f"{path}: /lint/rules/NO_SUCH_RULE: no lint rule named "
                               "'NO_SUCH_RULE' (model-contract rules lists them)")


# ----------------------------------------------------------------------------- ignores

BAD = renamed(GOOD, "inputs", "image", "input_1")
IGNORE = {"rule": "GENERIC_TENSOR_NAME", "pointer": "/signatures/classify/inputs/input_1",
          "reason": "legacy clients send input_1"}


def test_an_accountable_ignore_suppresses_its_finding(tmp_path: Path) -> None:
    path = write(tmp_path / "c.json", {**BAD, "lint": {"ignore": [IGNORE]}})
    assert lint_paths([path], tier="strict").findings == ()


def test_an_expired_ignore_stops_applying_and_says_so(tmp_path: Path) -> None:
    path = write(tmp_path / "c.json",
                 {**BAD, "lint": {"ignore": [{**IGNORE, "expires": "2026-01-31"}]}})
    result = lint_paths([path], today=datetime.date(2026, 2, 1))
    assert [f"{f.line}: {f.pointer}: {f.level} {f.rule}: {f.message}" for f in result.findings] == [
        "12: /signatures/classify/inputs/input_1: error GENERIC_TENSOR_NAME: input 'input_1' is a "
        "generated name; name it for what it holds",
        "65: /lint/ignore/0: warning IGNORE_EXPIRED: the ignore of GENERIC_TENSOR_NAME at "
        "/signatures/classify/inputs/input_1 expired on 2026-01-31; it no longer applies"]
    still = lint_paths([path], today=datetime.date(2026, 1, 31))
    assert still.findings == ()


def test_a_stale_ignore_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path / "c.json", {**GOOD, "lint": {"ignore": [IGNORE]}})
    assert lines_of(path)[0] == (
        f"{path}:65: /lint/ignore/0: warning IGNORE_STALE: the ignore of GENERIC_TENSOR_NAME at "
        "/signatures/classify/inputs/input_1 matches no finding; remove it")


def test_a_standard_can_forbid_ignoring_a_rule_it_locks(tmp_path: Path) -> None:
    write(tmp_path / "org.json", {"standard": "org", "schema_version": 1,
                                  "lint": {"rules": {"GENERIC_TENSOR_NAME": "error"},
                                           "forbid_ignoring_locked": True},
                                  "locked": ["/lint/rules/GENERIC_TENSOR_NAME",
                                             "/lint/forbid_ignoring_locked"]})
    path = write(tmp_path / "c.json", {**BAD, "extends": ["org.json"],
                                       "lint": {"ignore": [IGNORE]}})
    found = lines_of(path)
    assert found[:2] == [
        f"{path}:12: /signatures/classify/inputs/input_1: error GENERIC_TENSOR_NAME: input "
        "'input_1' is a generated name; name it for what it holds",
        f"{path}:68: /lint/ignore/0: error IGNORE_FORBIDDEN: ignores GENERIC_TENSOR_NAME, whose "
        "level a standard locks; ignores of locked rules are forbidden here, so it does not apply"]
    loosen = write(tmp_path / "d.json", {**BAD, "extends": ["org.json"],
                                         "lint": {"forbid_ignoring_locked": False}})
    with pytest.raises(ContractError) as info:
        lint_paths([loosen])
    assert str(info.value).splitlines()[0] == (
        f"{loosen}: /lint/forbid_ignoring_locked: changes true to false (locked by "
        f"{tmp_path}/org.json /locked/1: /lint/forbid_ignoring_locked)")


def test_a_baseline_keeps_legacy_findings_quiet_and_new_ones_loud(tmp_path: Path) -> None:
    legacy = write(tmp_path / "c.json", BAD)
    baseline = tmp_path / "baseline.json"
    write_baseline(lint_paths([legacy]), baseline)
    quiet = lint_paths([legacy], baseline=baseline)
    assert quiet.findings == () and quiet.baselined == 1 and not quiet.failed
    worse = write(tmp_path / "c.json", renamed(BAD, "outputs", "class_id", "dense_3"))
    loud = lint_paths([worse], baseline=baseline)
    assert [f.pointer for f in loud.findings] == ["/signatures/classify/outputs/dense_3"]
    assert loud.failed


def test_a_stale_baseline_entry_is_reported(tmp_path: Path) -> None:
    legacy = write(tmp_path / "c.json", BAD)
    other = write(tmp_path / "other.json", renamed(GOOD, "outputs", "class_id", "dense_3"))
    baseline = tmp_path / "baseline.json"
    write_baseline(lint_paths([legacy, other]), baseline)
    write(tmp_path / "c.json", GOOD)  # the legacy finding is fixed: its entry is stale
    result = lint_paths([legacy], baseline=baseline)
    assert OUTPUTS["text"](result).splitlines() == [
        f"{baseline}:4: /findings/0: warning BASELINE_STALE: the baseline entry "
        f"GENERIC_TENSOR_NAME at {legacy} /signatures/classify/inputs/input_1 matches no finding; "
        "remove it (or rewrite the baseline with --write-baseline)",
        "0 error(s), 1 warning(s), 0 info in 1 file(s)"]
    assert not result.failed  # a warning: the run still passes
    # the entry of a file this run did not lint is not judged; both files: one stale entry
    assert [f.rule for f in lint_paths([other], baseline=baseline).findings] == []
    both = lint_paths([legacy, other], baseline=baseline)
    assert [(f.rule, f.pointer) for f in both.findings] == [("BASELINE_STALE", "/findings/0")]
    assert both.baselined == 1


# ----------------------------------------------------------------------------- models


def test_a_savedmodel_is_linted_from_saved_model_pb() -> None:
    result = lint_paths([FIXTURES / "keras3_saved"])
    pb = str(FIXTURES / "keras3_saved" / "saved_model.pb")
    assert [(f.file, f.line, f.pointer, f.rule) for f in result.findings] == [
        (pb, None, "/signatures/serving_default/inputs/inputs", "GENERIC_TENSOR_NAME"),
        (pb, None, "/signatures/serving_default/outputs/output_0", "GENERIC_TENSOR_NAME"),
        (pb, None, "/signatures", "SIGNATURE_NAME_SEMANTIC")]


def test_a_savedmodel_is_linted_with_a_standard_s_settings(tmp_path: Path) -> None:
    write(tmp_path / "org.json", {"standard": "org", "schema_version": 1, "extends": ["base.json"],
                                  "lint": {"tier": "minimal", "rules": {
                                      "SIGNATURE_NAME_SEMANTIC": "error",
                                      "TENSOR_NAME_SNAKE_CASE": {"options": {"pattern": "^x"}}}}})
    write(tmp_path / "base.json", {"standard": "base", "schema_version": 1,
                                   "lint": {"rules": {"GENERIC_TENSOR_NAME": "off"}}})
    result = lint_paths([FIXTURES / "keras3_saved"], standard=str(tmp_path / "org.json"))
    assert [f"{f.pointer}: {f.level} {f.rule}: {f.message}" for f in result.findings] == [
        "/signatures/serving_default/inputs/inputs: warning TENSOR_NAME_SNAKE_CASE: input "
        "'inputs' does not match the pattern '^x'",
        "/signatures/serving_default/outputs/output_0: warning TENSOR_NAME_SNAKE_CASE: output "
        "'output_0' does not match the pattern '^x'",
        "/signatures: error SIGNATURE_NAME_SEMANTIC: the only signature is 'serving_default'; add "
        "one named for what it does (e.g. 'classify', 'embed')"]
    with pytest.raises(HarnessError) as info:
        lint_paths([FIXTURES / "keras3_saved"], standard=str(tmp_path / "nope.json"))
    assert str(info.value) == f"--standard {tmp_path}/nope.json: no such standard file"


# ----------------------------------------------------------------------------- outputs


def _result(tmp_path: Path) -> Any:
    return lint_paths([write(tmp_path / "c.json", changed(BAD, "/formats/onnx", {}))],
                      tier="strict")


def test_json_output_validates_against_the_published_schema(tmp_path: Path) -> None:
    import jsonschema

    schema = json.loads((ROOT / "contracts" / "schema" / "lint-report-v1.schema.json").read_text())
    report = json.loads(OUTPUTS["json"](_result(tmp_path)))
    jsonschema.Draft202012Validator(schema).validate(report)
    assert report["counts"] == {"error": 1, "warning": 1, "info": 0} and report["failed"]


def test_sarif_output_points_at_file_and_line(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    sarif = json.loads(OUTPUTS["sarif"](_result(tmp_path)))
    assert sarif["version"] == "2.1.0" and sarif["$schema"].endswith("sarif-2.1.0.json")
    run = sarif["runs"][0]
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    first = run["results"][0]
    assert ids[first["ruleIndex"]] == first["ruleId"] == "GENERIC_TENSOR_NAME"
    assert first["level"] == "error"
    assert first["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "c.json"}, "region": {"startLine": 12}}
    assert first["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == \
        "/signatures/classify/inputs/input_1"
    for result in run["results"]:  # what SARIF 2.1.0 requires of a result
        assert set(result) >= {"ruleId", "message", "locations"}
        assert result["level"] in ("none", "note", "warning", "error")
        assert result["message"]["text"]


def test_junit_output_has_a_failure_per_error(tmp_path: Path) -> None:
    suite = ET.fromstring(OUTPUTS["junit"](_result(tmp_path)))
    assert suite.get("failures") == "1" and suite.get("tests") == "1"
    failure = suite.find("testcase/failure")
    assert failure is not None and failure.get("type") == "GENERIC_TENSOR_NAME"
    out = suite.find("testcase/system-out")
    assert out is not None and "TOLERANCE_PER_FORMAT /formats/onnx" in (out.text or "")


def test_pointer_lines_finds_keys_and_array_items() -> None:
    text = '{\n "a": [1,\n  {"b": "x:y"}],\n "c": {}\n}'
    assert pointer_lines(text) == {"/": 1, "/a": 2, "/a/0": 2, "/a/1": 3, "/a/1/b": 3, "/c": 4}
    assert pointer_lines("{oops") == {}


# ----------------------------------------------------------------------------- CLI, plugins


def test_cli_lint_exit_codes_and_formats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path / "good.json", GOOD)
    bad = write(tmp_path / "bad.json", BAD)
    assert main(["lint", str(good)]) == 0
    assert main(["lint", str(bad), "--format", "sarif", "-o", str(tmp_path / "out.sarif")]) == 1
    assert json.loads((tmp_path / "out.sarif").read_text())["version"] == "2.1.0"
    baseline = tmp_path / "base.json"
    assert main(["lint", str(bad), "--write-baseline", str(baseline)]) == 0
    assert main(["lint", str(bad), "--baseline", str(baseline)]) == 0
    capsys.readouterr()
    assert main(["lint", str(tmp_path / "missing.json")]) == 2
    assert "contract file not found" in capsys.readouterr().err


def test_rules_reference_in_docs_is_generated_from_the_registry(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert (ROOT / "docs" / "rules.md").read_text() == reference_markdown()
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    assert all(rule_id in out for rule_id in RULES)


def test_a_plugin_rule_from_an_installed_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    site = tmp_path / "site"
    (site / "acme_rules").mkdir(parents=True)
    (site / "acme_rules" / "__init__.py").write_text(
        "from harness.lint import rule\n\n"
        "@rule('ACME_NO_EMBED', tier='minimal', level='error', doc='No embed signatures.')\n"
        "def no_embed(doc):\n"
        "    if 'embed' in doc.get('signatures', {}):\n"
        "        yield '/signatures/embed', 'embed signatures are not allowed at acme'\n",
        encoding="utf-8")
    info = site / "acme_rules-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-rules\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[model_contract.rules]\nacme = acme_rules\n")
    monkeypatch.syspath_prepend(str(site))
    data = changed(GOOD, "/signatures/embed", GOOD["signatures"]["classify"])
    path = write(tmp_path / "c.json", data)
    try:
        assert main(["lint", str(path)]) == 1
        assert capsys.readouterr().out.splitlines()[0].endswith(
            "/signatures/embed: error ACME_NO_EMBED: embed signatures are not allowed at acme")
        assert main(["rules"]) == 0
        assert "ACME_NO_EMBED" in capsys.readouterr().out
    finally:
        RULES._items.pop("ACME_NO_EMBED", None)
        sys.modules.pop("acme_rules", None)


def test_a_finding_on_an_inherited_value_says_where_it_came_from(tmp_path: Path) -> None:
    write(tmp_path / "org.json", {"standard": "org", "schema_version": 1, "signatures": {
        "classify": {"inputs": {"input_1": {"dtype": "float32"}},
                     "outputs": {"label": {"dtype": "int64"}}}}})
    path = write(tmp_path / "c.json", {"extends": ["org.json"], "name": "c"})
    (finding,) = lint_paths([path]).findings
    assert (finding.rule, finding.line, finding.message) == (
        "GENERIC_TENSOR_NAME", 1, f"input 'input_1' is a generated name; name it for what it "
        f"holds (inherited from {tmp_path}/org.json)")
