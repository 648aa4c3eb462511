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
        "c.json::tiny::ops",
        "c.json::tiny::serving_default::signature",
        "c.json::tiny::serving_default::inputs",
        "c.json::tiny::serving_default::outputs",
    ])
    result = run(pytester, "--contract", str(contract), "-m", "static")
    result.assert_outcomes(passed=7)  # the op-policy scan is static too (it executes nothing)


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
    result.assert_outcomes(passed=7)


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
    """--examples wins; an explicitly chosen hypothesis profile comes next; then the contract.
    Each run is a process of its own: in-process, what earlier tests imported decided whether
    the spy below was the function the run called (this test failed when run alone)."""
    contract = write_contract(pytester.path, models=[str(FIXTURES / "tiny")],
                              fuzz={"examples": 7})
    pytester.makeconftest("""
from hypothesis import settings
import harness.fuzz as fuzz
settings.register_profile("three", max_examples=3)
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
    base = ["-p", "no:cacheprovider", "--contract", str(contract), "-k", "conformance",
            "--in-process"]
    own = pytester.runpytest_subprocess
    own(*base).stdout.fnmatch_lines(["EXAMPLES [[]7[]]"])
    own(*base, "--hypothesis-profile", "three").stdout.fnmatch_lines(["EXAMPLES [[]None[]]"])
    own(*base, "--hypothesis-profile", "three", "--examples", "2").stdout.fnmatch_lines(
        ["EXAMPLES [[]2[]]"])


def test_given_artifacts_are_checked_when_the_contract_lists_no_formats(
        pytester: pytest.Pytester) -> None:
    """--tflite/--onnx name files to check: giving them adds their formats' checks."""
    contract = write_contract(pytester.path, models=[str(FIXTURES / "tiny")])
    exports = FIXTURES / "exports"
    result = pytester.runpytest_subprocess(
        # 10 calls: hypothesis' first is all zeros, where the perturbed weights do not show
        "-p", "no:cacheprovider", "--contract", str(contract), "-m", "parity", "--examples", "10",
        "--tflite", str(exports / "tiny_perturbed.tflite"),
        "--onnx", str(exports / "tiny_perturbed.onnx"), "--backend", "savedmodel",
        "--results-dir", str(pytester.path / "results"))
    result.stdout.fnmatch_lines([
        "*[[]parity[[]tflite]] tflite (given: *tiny_perturbed.tflite*output 'y'*",
        "*[[]parity[[]onnx]] onnx (given: *tiny_perturbed.onnx*output 'y'*",
    ])
    result.assert_outcomes(passed=2, failed=2)


def test_replay_of_a_missing_file_is_one_usage_error(pytester: pytest.Pytester) -> None:
    contract = write_contract(pytester.path, models=[str(FIXTURES / "tiny")])
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--contract", str(contract),
                                           "--replay", "nowhere/failure.npz")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: nowhere/failure.npz: --replay: no such file",
                                 "  hint: give the .npz path the failure's 'Reproduce with:' "
                                 "line names"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert "FileNotFoundError" not in result.stdout.str() + result.stderr.str()


def test_replay_runs_only_its_own_test_and_keeps_the_full_runs_report(
        pytester: pytest.Pytester) -> None:
    broken = FIXTURES / "contracts" / "broken_argmax.json"
    results = pytester.path / "results"
    base = ["-p", "no:cacheprovider", "--results-dir", str(results)]
    full = pytester.runpytest_subprocess(*base, "--contract", str(broken), "-k", "values",
                                         "--examples", "5")
    full.assert_outcomes(failed=1)
    saved = next((results / "failures").glob("*values.npz"))
    report = (results / "report.json").read_text()

    # the same contract: only the test that saved the example runs (here: fails again)
    again = pytester.runpytest_subprocess(*base, "--contract", str(broken), "--replay", str(saved))
    again.assert_outcomes(failed=1)
    again.stdout.fnmatch_lines(["*broken_argmax::serving_default::values*",
                                f"model-contract report: {results / 'replay' / 'report.html'}*"])
    assert (results / "report.json").read_text() == report  # the full run's report stays

    # another contract: a usage error naming the one it belongs to
    other = write_contract(pytester.path, models=[str(FIXTURES / "tiny")])
    wrong = pytester.runpytest_subprocess(*base, "--contract", str(other), "--replay", str(saved))
    assert wrong.ret == pytest.ExitCode.USAGE_ERROR
    wrong.stderr.fnmatch_lines([
        f"ERROR: {saved}: --replay: the example was saved by contract *broken_argmax.json, "
        "model *broken_argmax, signature 'serving_default', check 'values', not by the "
        f"contract of this run ({other})",
        "  hint: run it with --contract *broken_argmax.json"])

    # the right contract, but another check selected: a usage error, not a model failure
    node = f"{broken}::broken_argmax::serving_default::determinism"
    mismatch = pytester.runpytest_subprocess(*base, "--contract", str(broken), node,
                                             "--replay", str(saved))
    assert mismatch.ret == pytest.ExitCode.USAGE_ERROR
    mismatch.stderr.fnmatch_lines(["*--replay: the example was saved by contract *, check "
                                   "'values'; no selected test is that check*"])


def test_parity_matrix_and_notes_count_calls_alike(pytester: pytest.Pytester) -> None:
    """"calls" means one thing in the parity matrix and in the notes: calls compared."""
    import re

    contract = write_contract(pytester.path, models=[str(FIXTURES / "tiny")], formats={
        "tflite": {"variants": [{"quantization": "float16", "tolerance": {"atol": 1e-2}}]},
        "onnx": {}})
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--contract", str(contract), "-m", "parity",
        "--examples", "4", "--results-dir", str(pytester.path / "results"))
    result.assert_outcomes(passed=5)
    out = result.stdout.str()
    noted = {m.group(1): int(m.group(2)) for m in re.finditer(
        r"::serving_default::parity\[([\w-]+)\]: ran on [^\n]*?: (\d+) calls", out)}
    assert set(noted) == {"tflite", "onnx", "tflite-float16"}, out
    matrix = {}
    for line in out.split("parity matrix (each format against the SavedModel)")[1].splitlines():
        cells = line.split()
        if len(cells) > 5 and cells[0] == "tiny" and cells[4].isdigit():
            matrix.setdefault(cells[2], set()).add(int(cells[4]))
    assert matrix == {fmt: {calls} for fmt, calls in noted.items()}, out
    assert noted["tflite-float16"] > 1  # every seeded batch, not one comparison


def test_long_steps_are_announced_while_they_happen(pytester: pytest.Pytester) -> None:
    """Loading (and converting) says what it does and how long it took, on lines of its
    own, in the default and the -v output; -q keeps quiet."""
    contract = write_contract(pytester.path, models=[str(FIXTURES / "tiny")],
                              formats={"tflite": {}})
    # --fresh-references: the SavedModel is called (so loaded, in parity[tflite]) whatever
    # answers the cache folder holds; on a CI runner a recorded answer would defer its load.
    # 10 calls, so that parity[onnx] fails with fresh examples too: hypothesis' first call is
    # all zeros, and the next may be as near zero, where the perturbed weights do not show.
    base = ["-p", "no:cacheprovider", "--contract", str(contract), "-m", "parity",
            "--examples", "10", "--onnx", str(FIXTURES / "exports" / "tiny_perturbed.onnx"),
            "--results-dir", str(pytester.path / "results"), "--fresh-references"]
    verbose = pytester.runpytest_subprocess(*base, "-v")
    verbose.assert_outcomes(passed=3, failed=1)
    verbose.stdout.fnmatch_lines([
        "*::tiny::serving_default::conformance[[]tflite] ",
        "model-contract: tflite: converting (unless the export cache has it) and loading tiny ...",
        "model-contract: tflite: converting (unless the export cache has it) and loading tiny: "
        "done in * s",
        "*::tiny::serving_default::conformance[[]tflite] PASSED*",
        "*::tiny::serving_default::parity[[]tflite] ",
        "model-contract: savedmodel: loading tiny ...",
        "model-contract: savedmodel: loading tiny: done in * s",
        "*::tiny::serving_default::conformance[[]onnx] ",
        "model-contract: onnx: loading tiny ...",  # a given file: nothing to convert
        "model-contract: onnx: loading tiny: done in * s",
    ])
    default = pytester.runpytest_subprocess(*base)
    default.stdout.fnmatch_lines(["model-contract: savedmodel: loading tiny ...",
                                  "model-contract: savedmodel: loading tiny: done in * s"])
    quiet = pytester.runpytest_subprocess(*base, "-q")
    assert "model-contract: savedmodel" not in quiet.stdout.str()


def test_a_missing_given_artifact_is_a_usage_error(pytester: pytest.Pytester) -> None:
    contract = write_contract(pytester.path, models=[str(FIXTURES / "tiny")])
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--contract", str(contract),
                                           "--onnx", "out/model.onnx")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: out/model.onnx: --onnx: no such file"])
    assert "/formats/onnx/path" not in result.stdout.str() + result.stderr.str()


SPARES_AT_COLLECTION = """
from pathlib import Path
from harness.backends import isolation
from harness.pytest_plugin import ENGINE

def pytest_collection_modifyitems(config, items):
    spares = isolation._spares(config.stash[ENGINE].context)
    Path("spares.txt").write_text(" ".join(sorted(spares)) or "none")
"""


@pytest.mark.parametrize("args, started", [
    (["--backend", "onnx", "--backend", "tflite"], "ai_edge_litert.interpreter onnxruntime"),
    (["--backend", "onnx", "--in-process"], "none"),
    (["--backend", "savedmodel"], "none"),  # TensorFlow's worker waits for the plan
], ids=["formats", "in-process", "savedmodel"])
def test_the_workers_of_the_named_formats_start_before_collection(
        pytester: pytest.Pytester, args: list[str], started: str) -> None:
    """--backend onnx/tflite: their workers (runtime imported) are started at configure,
    before the engine is imported and the contracts collected; unused, they are stopped."""
    contract = write_contract(pytester.path, models=[str(FIXTURES / "tiny")])
    pytester.makeconftest(SPARES_AT_COLLECTION)
    result = run(pytester, "--contract", str(contract), "-m", "static", *args)
    result.assert_outcomes(passed=7)
    assert (pytester.path / "spares.txt").read_text() == started
