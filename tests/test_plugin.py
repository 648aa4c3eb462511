"""The pytest plugin, black-box: run pytest on a small project and match its output lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, write_contract


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly", *args)


def test_contract_items_have_readable_ids_and_pass(pytester: pytest.Pytester) -> None:
    contract = write_contract(pytester.path, models=[str(FIXTURES / "tiny")])
    result = run(pytester, "--contract", str(contract), "-m", "static", "--collect-only", "-q")
    result.stdout.fnmatch_lines([
        "c.json::tiny::tags",
        "c.json::tiny::variables",
        "c.json::tiny::assets",
        "c.json::tiny::serving_default::signature",
        "c.json::tiny::serving_default::inputs",
        "c.json::tiny::serving_default::outputs",
    ])
    result = run(pytester, "--contract", str(contract), "-m", "static")
    result.assert_outcomes(passed=6)


def test_k_selects_one_check(pytester: pytest.Pytester) -> None:
    contract = write_contract(pytester.path, models=[str(FIXTURES / "tiny")])
    result = run(pytester, "--contract", str(contract), "-k", "serving_default and outputs",
                 "-m", "static", "-v")
    result.stdout.fnmatch_lines(["*c.json::tiny::serving_default::outputs PASSED*"])
    result.assert_outcomes(passed=1)


def test_bad_contract_fails_its_own_item_only_without_traceback(pytester: pytest.Pytester) -> None:
    good = write_contract(pytester.path, "good.json", models=[str(FIXTURES / "tiny")])
    bad = pytester.path / "bad.json"
    bad.write_text(json.dumps({"name": "b", "signatures": {"s": {
        "inputs": {"x": {"dtype": "float", "shape": [3]}}, "outputs": {"y": {"dtype": "float32"}}}}}))
    result = run(pytester, "--contract", str(bad), "--contract", str(good), "-m", "static or not fuzz")
    result.stdout.fnmatch_lines([
        "*bad.json: /signatures/s/inputs/x/dtype: 'float' is not a dtype; expected one of float16, float32*",
    ])
    assert "Traceback" not in result.stdout.str()
    assert "harness/" not in result.stdout.str()  # no frames of the harness
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] == 1 and outcomes["passed"] >= 6


def test_json_syntax_error_names_line_and_column(pytester: pytest.Pytester) -> None:
    bad = pytester.path / "broken.json"
    bad.write_text('{\n  "name": "b",\n  "signatures": {\n}')
    result = run(pytester, "--contract", str(bad))
    result.stdout.fnmatch_lines(["*broken.json: line 4, column 2: invalid JSON: *"])
    result.assert_outcomes(failed=1)


def test_model_option_replaces_the_contract_models(pytester: pytest.Pytester) -> None:
    contract = write_contract(pytester.path, models=["does/not/exist"])
    result = run(pytester, "--contract", str(contract), "--model", str(FIXTURES / "tiny"),
                 "-m", "static")
    result.assert_outcomes(passed=6)


def test_missing_model_path_is_reported_with_a_hint(pytester: pytest.Pytester) -> None:
    contract = write_contract(pytester.path, models=["does/not/exist"])
    result = run(pytester, "--contract", str(contract))
    result.stdout.fnmatch_lines([
        "*does/not/exist: model path does not exist",
        "*hint: paths in a contract's \"models\" are relative to the contract file",
    ])
    result.assert_outcomes(failed=1)


def test_version_folders_are_each_their_own_node(pytester: pytest.Pytester, corpus: Path) -> None:
    contract = pytester.path / "hp2.json"
    contract.write_text(json.dumps({
        "name": "hp2", "models": [str(corpus / "saved_model_half_plus_two_2_versions")],
        "signatures": {"serving_default": {"inputs": {"x": {"dtype": "float32", "shape": [None, 1]}},
                                           "outputs": {"y": {"dtype": "float32", "shape": [None, 1]}}}}}))
    result = run(pytester, "--contract", str(contract), "-m", "static", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["hp2.json::saved_model_half_plus_two_2_versions@123::tags",
                                 "*hp2.json::saved_model_half_plus_two_2_versions@124::tags"])


def test_bundled_version_folders_are_each_their_own_node(pytester: pytest.Pytester) -> None:
    """The same from the repository alone: the bundled TF1 export has versions 1 and 2."""
    contract = FIXTURES / "contracts" / "tf1_half_plus_two.json"
    result = run(pytester, "--contract", str(contract), "-m", "static", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["*tf1_half_plus_two.json::tf1_half_plus_two@1::tags",
                                 "*tf1_half_plus_two.json::tf1_half_plus_two@2::tags"])


def test_a_wrong_rank_answered_is_a_finding_not_a_failure(pytester: pytest.Pytester) -> None:
    """The default reject (["dtype"]): the check passes and the run's notes say what was seen."""
    contract = FIXTURES / "contracts" / "string_lookup.json"
    result = run(pytester, "--contract", str(contract), "-k", "rejection", "--examples", "3",
                 "--results-dir", str(pytester.path / "results"), "-v")
    assert result.ret == 0
    result.stdout.fnmatch_lines([
        "*string_lookup::serving_default::rejection PASSED*",
        "*model contract notes*",
        "string_lookup::string_lookup::serving_default::rejection: savedmodel (tf.saved_model.load): "
        "signature 'serving_default' answers inputs of the wrong rank (words with rank 0; *): its "
        "declared ranks are not enforced (a finding, not a failure: add \"rank\" to "
        "/signatures/serving_default/reject to require refusal)"])
    report = json.loads((pytester.path / "results" / "report.json").read_text())
    assert [(f["signature"], f["kind"]) for f in report["findings"]] == [
        ("serving_default", "rank-not-enforced")]


def test_without_contract_the_plugin_collects_nothing_extra(pytester: pytest.Pytester) -> None:
    write_contract(pytester.path, models=[str(FIXTURES / "tiny")])
    pytester.makepyfile(test_plain="def test_ok():\n    assert True\n")
    result = run(pytester)
    result.assert_outcomes(passed=1)


def test_static_failure_shows_received_and_documented(pytester: pytest.Pytester) -> None:
    contract = write_contract(pytester.path, models=[str(FIXTURES / "wrong_dtype")])
    result = run(pytester, "--contract", str(contract), "-m", "static")
    result.stdout.fnmatch_lines([
        "*[[]inputs[]] signature 'serving_default': inputs do not match the contract",
        "*signature 'serving_default' input 'x': dtype Received: float64 / Documented: float32 "
        "(/signatures/serving_default/inputs/x/dtype)",
    ])
    assert "Traceback" not in result.stdout.str()


def test_examples_option_then_profile_then_contract(pytester: pytest.Pytester) -> None:
    """--examples wins; an explicitly chosen hypothesis profile comes next; then the contract."""
    from hypothesis import settings

    settings.register_profile("three", max_examples=3)
    contract = write_contract(pytester.path, models=[str(FIXTURES / "tiny")],
                              fuzz={"examples": 7})
    pytester.makeconftest("""
import harness.fuzz as fuzz
seen = []
original = fuzz.examples_for
def spy(engine, contract):
    n = original(engine, contract)
    seen.append(n)
    return n
fuzz.examples_for = spy
def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(f"EXAMPLES {seen[:1]}")
""")
    base = ["--contract", str(contract), "-k", "conformance", "--in-process"]
    run(pytester, *base).stdout.fnmatch_lines(["EXAMPLES [[]7[]]"])
    run(pytester, *base, "--hypothesis-profile", "three").stdout.fnmatch_lines(["EXAMPLES [[]None[]]"])
    run(pytester, *base, "--hypothesis-profile", "three", "--examples", "2").stdout.fnmatch_lines(
        ["EXAMPLES [[]2[]]"])
