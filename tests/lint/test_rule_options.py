"""Rule options: a standard or a contract configures a rule ({"level", "options"}), validated
against the option's schema (the published schemas carry the built-in ones), locked like any
value, and documented in `model-contract rules` and the generated reference."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.errors import ContractError
from harness.lint.rules import RULES, Rule, RuleOption, rules_schema
from harness.lint.run import lint_paths
from tests.conftest import ROOT
from tests.lint.test_lint import GOOD, changed, renamed, write


def lint_lines(path: Path, tier: str = "strict") -> list[str]:
    return [f"{f.pointer}: {f.level} {f.rule}: {f.message}"
            for f in lint_paths([path], tier=tier).findings]


def with_rules(data: dict[str, Any], rules: dict[str, Any]) -> dict[str, Any]:
    return {**data, "lint": {"rules": rules}}


def test_dtype_allowed_takes_the_house_list(tmp_path: Path) -> None:
    data = changed(GOOD, "/signatures/classify/outputs/class_id/dtype", "int32")
    assert lint_lines(write(tmp_path / "a.json", data)) == []  # int32 is allowed by default
    strict = with_rules(data, {"DTYPE_ALLOWED": {"options": {"allowed": ["float32", "int64"]}}})
    assert lint_lines(write(tmp_path / "b.json", strict)) == [
        "/signatures/classify/outputs/class_id/dtype: error DTYPE_ALLOWED: output 'class_id' is "
        "int32; use one of float32, int64"]


def test_tensor_name_pattern_replaces_snake_case(tmp_path: Path) -> None:
    data = with_rules(GOOD, {"TENSOR_NAME_SNAKE_CASE": {
        "level": "error", "options": {"pattern": "^[a-z]+$"}}})
    assert lint_lines(write(tmp_path / "c.json", data)) == [
        "/signatures/classify/outputs/class_id: error TENSOR_NAME_SNAKE_CASE: output 'class_id' "
        "does not match the pattern '^[a-z]+$'"]


def test_signature_names_take_accepted_verbs_and_generic_names(tmp_path: Path) -> None:
    data = {**GOOD, "signatures": {"classify": GOOD["signatures"]["classify"],
                                   "run_it": GOOD["signatures"]["classify"]}}
    verbs = with_rules(data, {"SIGNATURE_NAME_SEMANTIC": {"options": {
        "verbs": ["classify", "embed", "detect"]}}})
    assert lint_lines(write(tmp_path / "v.json", verbs)) == [
        "/signatures/run_it: warning SIGNATURE_NAME_SEMANTIC: signature 'run_it' does not start "
        "with an accepted verb (classify, embed, detect)"]
    only_predict = {**GOOD, "signatures": {"predict": GOOD["signatures"]["classify"]},
                    "lint": {"rules": {"SIGNATURE_NAME_SEMANTIC": {"options": {
                        "generic": ["serving_default", "predict"]}}}}}
    assert lint_lines(write(tmp_path / "p.json", only_predict)) == [
        "/signatures: warning SIGNATURE_NAME_SEMANTIC: the only signature is 'predict'; add one "
        "named for what it does (e.g. 'classify', 'embed')"]


def test_batch_dim_first_takes_the_dim_name(tmp_path: Path) -> None:
    data = json.loads(json.dumps(GOOD).replace('"batch"', '"n"'))
    data = changed(data, "/signatures/classify/outputs/class_id/shape", [3, "n"])
    data = with_rules(data, {"BATCH_DIM_FIRST": {"options": {"dim": "n"}}})
    assert lint_lines(write(tmp_path / "n.json", data)) == [
        "/signatures/classify/outputs/class_id/shape/1: warning BATCH_DIM_FIRST: output "
        "'class_id' has dim 'n' at position 1; n is the first dim"]


#: a bad option -> the message `validate` (and lint) gives, after "FILE: "
BAD_OPTIONS = {
    "not a dtype": ({"DTYPE_ALLOWED": {"options": {"allowed": ["float32", "float"]}}},
                    "/lint/rules/DTYPE_ALLOWED/options/allowed/1: 'float' is not a dtype; "
                    "expected one of float16, float32, float64, bfloat16, int8, int16, int32, "
                    "int64, uint8, uint16, uint32, uint64, bool, string, complex64, complex128"),
    "unknown option": ({"DTYPE_ALLOWED": {"options": {"alowed": ["float32"]}}},
                       "/lint/rules/DTYPE_ALLOWED/options: unknown key 'alowed'; did you mean "
                       "'allowed'?"),
    "wrong type": ({"BATCH_DIM_FIRST": {"options": {"dim": 3}}},
                   "/lint/rules/BATCH_DIM_FIRST/options/dim: found an integer 3; expected a "
                   "string"),
    "bad level": ({"BATCH_DIM_FIRST": {"level": "loud"}},
                  "/lint/rules/BATCH_DIM_FIRST/level: 'loud' is not a lint level; expected one "
                  "of error, warning, info, off"),
}


@pytest.mark.parametrize("case", sorted(BAD_OPTIONS))
def test_options_are_validated_by_the_schema(tmp_path: Path, case: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    rules, expected = BAD_OPTIONS[case]
    path = write(tmp_path / "c.json", with_rules(GOOD, rules))
    assert main(["validate", str(path)]) == 1
    assert capsys.readouterr().err.splitlines()[0] == f"{path}: {expected}"
    assert main(["lint", str(path)]) == 2  # an invalid contract is a user error, not a finding
    assert capsys.readouterr().err.splitlines()[0] == f"model-contract lint: error: {path}: {expected}"


def test_a_pattern_that_is_not_a_regular_expression(tmp_path: Path) -> None:
    path = write(tmp_path / "c.json", with_rules(GOOD, {"TENSOR_NAME_SNAKE_CASE": {
        "options": {"pattern": "^[a-z"}}}))
    with pytest.raises(ContractError) as info:
        lint_paths([path])
    assert str(info.value) == (f"{path}: /lint/rules/TENSOR_NAME_SNAKE_CASE/options/pattern: "
                               "'^[a-z' is not a regular expression (unterminated character set "
                               "at position 1)")


def test_a_plugin_rule_s_options_are_checked_when_it_runs(tmp_path: Path) -> None:
    def max_outputs(doc: Any, options: Any) -> Any:
        for name, sig in doc.get("signatures", {}).items():
            if len(sig.get("outputs", {})) > options["max"]:
                yield f"/signatures/{name}/outputs", f"more than {options['max']} outputs"

    RULES.add("ACME_MAX_OUTPUTS", Rule("ACME_MAX_OUTPUTS", "minimal", "error", "At most N outputs.",
                                       max_outputs, options=(RuleOption(
                                           "max", {"type": "integer", "minimum": 1}, 4,
                                           "The most outputs a signature may have."),)))
    try:
        ok = write(tmp_path / "ok.json", with_rules(GOOD, {"ACME_MAX_OUTPUTS": {"options": {"max": 1}}}))
        assert lint_lines(ok) == ["/signatures/classify/outputs: error ACME_MAX_OUTPUTS: more "
                                  "than 1 outputs"]
        for options, expected in [
                ({"max": 0}, "/lint/rules/ACME_MAX_OUTPUTS/options/max: 0 is below the "
                             "minimum 1"),
                ({"most": 2}, "/lint/rules/ACME_MAX_OUTPUTS/options/most: ACME_MAX_OUTPUTS has "
                              "no option 'most' (its options: max)")]:
            bad = write(tmp_path / "bad.json", with_rules(GOOD, {"ACME_MAX_OUTPUTS": {"options": options}}))
            with pytest.raises(ContractError) as info:
                lint_paths([bad])
            assert str(info.value) == f"{bad}: {expected}"
    finally:
        RULES._items.pop("ACME_MAX_OUTPUTS", None)


# ----------------------------------------------------------------------------- standards


def org(tmp_path: Path, rules: dict[str, Any], locked: list[str]) -> None:
    write(tmp_path / "org.json", {"standard": "org", "schema_version": 1,
                                  "lint": {"rules": rules}, "locked": locked})


def test_a_standard_sets_options_and_a_contract_may_only_narrow_what_it_locks(tmp_path: Path) -> None:
    org(tmp_path, {"DTYPE_ALLOWED": {"level": "warning", "options": {
        "allowed": ["float32", "int64", "string"]}}}, ["/lint/rules/DTYPE_ALLOWED"])
    data = {**changed(GOOD, "/signatures/classify/outputs/class_id/dtype", "int32"),
            "extends": ["org.json"]}
    inherited = write(tmp_path / "c.json", data)
    assert lint_lines(inherited, tier="basic") == [  # a rule a standard sets applies at any tier
        "/signatures/classify/outputs/class_id/dtype: warning DTYPE_ALLOWED: output 'class_id' is "
        "int32; use one of float32, int64, string"]
    narrower = write(tmp_path / "n.json", with_rules(data, {"DTYPE_ALLOWED": {
        "level": "error", "options": {"allowed": ["float32", "int64"]}}}))
    assert lint_lines(narrower)[0].startswith(
        "/signatures/classify/outputs/class_id/dtype: error DTYPE_ALLOWED")
    wider = write(tmp_path / "w.json", with_rules(data, {"DTYPE_ALLOWED": {
        "level": "info", "options": {"allowed": ["float32", "int64", "string", "int32"]}}}))
    with pytest.raises(ContractError) as info:
        lint_paths([wider])
    lock = f"(locked by {tmp_path}/org.json /locked/0: /lint/rules/DTYPE_ALLOWED)"
    assert str(info.value).splitlines() == [
        f"{wider}: 2 problems in the contract:",
        f"  {wider}: /lint/rules/DTYPE_ALLOWED: lowers the level \"warning\" to \"info\"; a "
        f"locked rule's level may only be raised {lock}",
        f"  {wider}: /lint/rules/DTYPE_ALLOWED: adds [\"int32\"] to option 'allowed' "
        f"[\"float32\", \"int64\", \"string\"]; it may only be narrowed {lock}",
        "  hint: a file that extends a standard may only tighten what it locks; change the "
        "standard, or drop the change"]


def test_a_contract_may_raise_a_locked_level_and_add_options(tmp_path: Path) -> None:
    org(tmp_path, {"TENSOR_NAME_SNAKE_CASE": "warning"}, ["/lint/rules/TENSOR_NAME_SNAKE_CASE"])
    data = {**renamed(GOOD, "outputs", "class_id", "classId"), "extends": ["org.json"]}
    raised = write(tmp_path / "r.json", with_rules(data, {"TENSOR_NAME_SNAKE_CASE": {
        "level": "error", "options": {"pattern": "^[a-z][A-Za-z]*$"}}}))
    assert lint_lines(raised) == []
    dropped = write(tmp_path / "d.json", with_rules(data, {"TENSOR_NAME_SNAKE_CASE": {
        "options": {"pattern": "^[a-z][A-Za-z]*$"}}}))
    with pytest.raises(ContractError) as info:
        lint_paths([dropped])
    assert str(info.value).splitlines()[0] == (
        f"{dropped}: /lint/rules/TENSOR_NAME_SNAKE_CASE: drops the level \"warning\" the standard "
        f"locks (write it again) (locked by {tmp_path}/org.json /locked/0: "
        "/lint/rules/TENSOR_NAME_SNAKE_CASE)")


# ----------------------------------------------------------------------------- documentation


@pytest.mark.parametrize("name", ["contract-v1", "standard-v1"])
def test_the_published_schemas_carry_the_registry_s_options(name: str) -> None:
    schema = json.loads((ROOT / "contracts" / "schema" / f"{name}.schema.json").read_text())
    assert schema["properties"]["lint"]["properties"]["rules"] == rules_schema()


def test_rules_lists_each_rule_s_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules"]) == 0
    out = capsys.readouterr().out.splitlines()
    dtype = out.index(next(line for line in out if line.startswith("DTYPE_ALLOWED ")))
    assert out[dtype + 1].split() [:4] == ["option", "allowed", "(default", '["float16",']
    assert any(line.startswith("BASELINE_STALE") for line in out)
    reference = (ROOT / "docs" / "rules.md").read_text()
    assert "### DTYPE_ALLOWED" in reference and "| `allowed` | array of dtypes |" in reference
