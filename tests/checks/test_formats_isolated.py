"""The format fixtures that must fail, run the way a user runs them: ``pytest --contract``
in the default mode, where every backend runs in an isolated child process.

``tests/exports/test_format_checks.py`` drives the same fixtures through the engine in
process (quicker, and it sees the messages' details); this file makes sure the isolated
proxy gives the same messages, for every format.
"""

from __future__ import annotations

import pytest

from tests.conftest import FIXTURES

CONTRACTS = FIXTURES / "contracts"

#: fixture contract -> (check that must fail, lines its failure must show)
MUST_FAIL = {
    "tiny_perturbed_onnx": ("parity[onnx]", [
        "*[[]parity[[]onnx]] onnx (given: *tiny_perturbed.onnx*output 'y' of signature "
        "'serving_default'*beyond tolerance atol=1e-05, rtol=0.0001*",
        "*would pass with atol=*",
        "Reproduce with: pytest --contract *"]),
    "tiny_perturbed_tflite": ("parity[tflite]", [
        "*[[]parity[[]tflite]] tflite (given: *tiny_perturbed.tflite*output 'y' of signature "
        "'serving_default'*beyond tolerance atol=1e-05, rtol=0.0001*",
        "*would pass with atol=*",
        "Reproduce with: pytest --contract *"]),
    "tiny_renamed_output": ("conformance[onnx]", [
        "*names of signature 'serving_default' do not resolve in onnx*",
        "*output 'y': not found among the onnx outputs [[]label, probabilities]*"]),
    "keras3_uninitialised_tflite": ("parity[tflite]", [
        "*output 'output_0' of signature 'serving_default'*",
        "*known converter defect: the TFLite file reads resource variables*READ_VARIABLE*"]),
}


def fails_with_its_message(pytester: pytest.Pytester, fixture: str, *options: str) -> None:
    check, lines = MUST_FAIL[fixture]
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--contract", str(CONTRACTS / f"{fixture}.json"),
        "-k", check.replace("[", " and ").replace("]", ""), *options,
        "--results-dir", str(pytester.path / "results"))
    out = result.stdout.str()
    assert "bug in the backend worker" not in out
    assert "Traceback" not in out
    result.stdout.fnmatch_lines(lines)
    assert result.parseoutcomes().get("failed", 0) >= 1


@pytest.mark.parametrize("fixture", sorted(MUST_FAIL))
def test_format_fixture_fails_with_its_message_in_the_default_isolated_mode(
        pytester: pytest.Pytester, fixture: str) -> None:
    fails_with_its_message(pytester, fixture, "--examples", "3")


def test_renamed_and_mapped_fixture_passes_in_the_default_isolated_mode(
        pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--contract", str(CONTRACTS / "tiny_renamed_mapped.json"),
        "-m", "parity", "--examples", "3", "--results-dir", str(pytester.path / "results"))
    result.assert_outcomes(passed=4)


@pytest.mark.parametrize("fixture", ["tiny_perturbed_onnx", "tiny_perturbed_tflite"])
def test_with_batches_a_perturbed_format_fails_parity_the_same_way(
        pytester: pytest.Pytester, fixture: str) -> None:
    """--calls-per-example 4: each batch goes to the SavedModel's and the format's child in
    one request each; the failure is the same one call, with the same message."""
    fails_with_its_message(pytester, fixture, "--examples", "8", "--calls-per-example", "4")


def test_with_batches_the_renamed_and_mapped_fixture_passes_and_counts_its_calls(
        pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--contract", str(CONTRACTS / "tiny_renamed_mapped.json"),
        "-m", "parity", "--examples", "8", "--calls-per-example", "4", "-rA",
        "--results-dir", str(pytester.path / "results"))
    result.assert_outcomes(passed=4)
    # 8 calls in batches of 4: three examples, the first (all zeros) one call: 1 + 2 x 4
    result.stdout.fnmatch_lines(["*: 9 calls compared*"])


def test_calls_per_example_zero_is_refused_with_the_option_named(
        pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--contract", str(CONTRACTS / "tiny.json"),
        "--calls-per-example", "0")
    result.stderr.fnmatch_lines(["*argument --calls-per-example: must be 1 or more, got 0*"])
    assert result.ret != 0
