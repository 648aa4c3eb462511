"""The fuzz family: every negative fixture fails its check with a shrunk, replayable example."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.contract import load_contract
from harness.engine import Engine, Skipped
from harness.errors import CheckFailure
from harness.options import RunOptions
from tests.conftest import FIXTURES

CONTRACTS = FIXTURES / "contracts"

#: fixture -> (the check it must fail, text the failure must contain; with "|", one of them)
NEGATIVE = {
    "out_of_range": ("values", "output 'y' range (/signatures/serving_default/outputs/y/range): at index"),
    "nan_in_range": ("values", "output 'y' check 'finite' (/signatures/serving_default/outputs/y/checks/0)"),
    "batch_dependent": ("batch_consistency", "differs from the same row called alone"),
    # the noise changes y on every call, and label (its argmax) when the noise flips it: the
    # check names the first output that differs, so either is the true message
    "nondeterministic": ("determinism", "output 'label' differs between two calls on the same input|"
                                        "output 'y' differs between two calls on the same input"),
    "broken_argmax": ("values", "relation {'argmax': 'y', 'equals': 'label'}"),
    "accepts_any_rank": ("rejection", "silently accepted x with rank"),
}


def says(message: str, text: str) -> bool:
    return any(alternative in message for alternative in text.split("|"))


def run_check(contract_path: Path, check: str, tmp_path: Path, **options: object) -> list[str]:
    engine = Engine(RunOptions(in_process=True, examples=25, results_dir=tmp_path, **options))  # type: ignore[arg-type]
    try:
        contract = load_contract(contract_path)
        [ref] = engine.models_of(contract)
        [case] = [c for c in engine.plan(contract, ref)
                  if c.check == check and c.signature == "serving_default"]
        return engine.execute(case)
    finally:
        engine.close()


@pytest.mark.parametrize("fixture", sorted(NEGATIVE))
def test_negative_fixture_fails_its_check_replayably(fixture: str, tmp_path: Path) -> None:
    check, text = NEGATIVE[fixture]
    contract = CONTRACTS / f"{fixture}.json"
    with pytest.raises(CheckFailure) as info:
        run_check(contract, check, tmp_path)
    message = str(info.value)
    assert message.startswith(f"[{check}] savedmodel (tf.saved_model.load): ")
    assert says(message, text)
    assert "Inputs: x: float32 [" in message
    assert "Reproduce with: pytest --contract " in message and " --replay " in message
    saved = Path(message.rsplit(" --replay ", 1)[1].strip())
    saved = saved if saved.is_absolute() else Path.cwd() / saved
    assert saved.is_file() and saved.with_suffix(".json").is_file()
    sidecar = json.loads(saved.with_suffix(".json").read_text())
    assert sidecar["check"] == check and sidecar["signature"] == "serving_default"
    # the replay runs the saved example alone and fails the same way
    with pytest.raises(CheckFailure) as again:
        run_check(contract, check, tmp_path, replay=saved)
    assert says(str(again.value), text)


def test_failures_are_shrunk_to_a_minimal_batch(tmp_path: Path) -> None:
    with pytest.raises(CheckFailure) as info:
        run_check(CONTRACTS / "out_of_range.json", "values", tmp_path)
    saved = Path(str(info.value).rsplit(" --replay ", 1)[1].strip())
    with np.load(saved if saved.is_absolute() else Path.cwd() / saved) as data:
        x = data["input:x"]
    assert x.shape == (1, 4)  # one row is enough to leave the range
    assert x[0, 0] > 0.7


GOOD_CHECKS = ["conformance", "values", "determinism", "batch_consistency", "rejection"]


@pytest.mark.parametrize("check", GOOD_CHECKS)
def test_the_good_fixture_passes_every_fuzz_check(check: str, tmp_path: Path) -> None:
    run_check(CONTRACTS / "tiny.json", check, tmp_path)


def test_opt_outs_skip_with_the_reason(tmp_path: Path) -> None:
    data = json.loads((CONTRACTS / "nondeterministic.json").read_text())
    data["signatures"]["serving_default"]["deterministic"] = False
    data["models"] = [str(FIXTURES / "nondeterministic")]
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data))
    with pytest.raises(Skipped, match="declared non-deterministic"):
        run_check(path, "determinism", tmp_path)


def test_a_tensorflow_abort_fails_the_check_not_the_session(tmp_path: Path) -> None:
    """The fixture reaches tf.raw_ops.Abort on any rank but 2: SIGABRT on every CPU."""
    contract = CONTRACTS / "aborts_on_wrong_rank.json"
    engine = Engine(RunOptions(examples=3, results_dir=tmp_path))  # isolated (the default)
    try:
        loaded = load_contract(contract)
        [ref] = engine.models_of(loaded)
        cases = {c.check: c for c in engine.plan(loaded, ref) if c.signature}
        with pytest.raises(CheckFailure) as info:
            engine.execute(cases["rejection"])
        text = str(info.value)
        assert "signature 'serving_default' crashed on x with rank" in text
        assert "the process was killed by SIGABRT" in text
        assert "model-contract fixture: an input of rank other than 2 aborts the process" in text
        # the session goes on: the next check starts a fresh child and passes
        engine.execute(cases["conformance"])
    finally:
        engine.close()


def test_op_determinism_left_on_in_the_process_refuses_the_clock_seeded_fixture(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Why the fixture builders' op determinism must not outlive them (tests/conftest.py).

    ``seed_everything`` turns TensorFlow's op determinism on for the whole process; an
    in-process call of the clock-seeded ``nondeterministic`` fixture is then refused (the
    flake this once was under pytest-xdist, after another test built a fixture in the same
    worker). The check names the cause; restored, the fixture fails its own check again.
    """
    from models_under_test.seeding import op_determinism_enabled, op_determinism_restored, seed_everything

    monkeypatch.setenv("PYTHONHASHSEED", "0")  # seed_everything sets it; restored after
    contract = CONTRACTS / "nondeterministic.json"
    with op_determinism_restored():
        seed_everything()
        assert op_determinism_enabled()
        with pytest.raises(CheckFailure) as info:
            run_check(contract, "determinism", tmp_path)
    assert not op_determinism_enabled()
    refused = str(info.value)
    assert refused.startswith("[determinism] savedmodel (tf.saved_model.load): a valid input was "
                              "refused\nReceived: FailedPreconditionError: ")
    assert "Timestamp cannot be called when determinism is enabled" in refused
    with pytest.raises(CheckFailure) as again:
        run_check(contract, "determinism", tmp_path)
    assert says(str(again.value), NEGATIVE["nondeterministic"][1])


# --------------------------------------------------------------------------- batches
# --calls-per-example N: hypothesis draws N calls per example; the failure is still one call


@pytest.mark.parametrize("fixture", ["out_of_range", "broken_argmax", "nan_in_range"])
def test_with_batches_a_negative_fixture_still_fails_on_one_saved_call(
        fixture: str, tmp_path: Path) -> None:
    check, text = NEGATIVE[fixture]
    contract = CONTRACTS / f"{fixture}.json"
    with pytest.raises(CheckFailure) as info:
        run_check(contract, check, tmp_path, calls_per_example=8)
    message = str(info.value)
    assert says(message, text)
    assert "Inputs: x: float32 [" in message
    saved = Path(message.rsplit(" --replay ", 1)[1].strip())
    saved = saved if saved.is_absolute() else Path.cwd() / saved
    with np.load(saved) as data:
        assert data["input:x"].ndim == 2  # one call, not the batch it came in
    with pytest.raises(CheckFailure) as again:
        run_check(contract, check, tmp_path, replay=saved)
    assert says(str(again.value), text)


def test_with_batches_failures_are_still_shrunk_to_a_minimal_call(tmp_path: Path) -> None:
    with pytest.raises(CheckFailure) as info:
        run_check(CONTRACTS / "out_of_range.json", "values", tmp_path, calls_per_example=16)
    saved = Path(str(info.value).rsplit(" --replay ", 1)[1].strip())
    with np.load(saved if saved.is_absolute() else Path.cwd() / saved) as data:
        x = data["input:x"]
    assert x.shape == (1, 4)  # one row is enough to leave the range
    assert x[0, 0] > 0.7


@pytest.mark.parametrize("in_contract, per_example, least, most", [
    (None, None, 25, 25), (None, 1, 25, 25), (None, 8, 25, 29),
    (8, None, 25, 29),  # the contract's fuzz.calls_per_example
    (8, 1, 25, 25)])  # the option wins over it
def test_examples_count_calls_whatever_the_batch(
        in_contract: int | None, per_example: int | None, least: int, most: int,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--examples 25 with 8 per example: four examples of seven are 28 calls, but the first
    (hypothesis' simplest: the same all-zero call in every place) runs once, so batching()
    plans one more: 1 + 4 x 7 = 29 different calls (fewer only if two calls in a row are
    the same)."""
    from harness.backends.savedmodel import SavedModelBackend
    from harness.fuzz import batching

    calls: list[int] = []
    real = SavedModelBackend.infer_impl

    def infer_impl(self: SavedModelBackend, spec: object, inputs: object) -> object:
        calls.append(1)
        return real(self, spec, inputs)  # type: ignore[arg-type]

    monkeypatch.setattr(SavedModelBackend, "infer_impl", infer_impl)
    contract = CONTRACTS / "tiny.json"
    if in_contract is not None:
        data = json.loads(contract.read_text())
        data["fuzz"] = {"calls_per_example": in_contract}
        data["models"] = [str(FIXTURES / "tiny")]
        contract = tmp_path / "tiny.json"
        contract.write_text(json.dumps(data))
        assert load_contract(contract).fuzz.calls_per_example == in_contract
    run_check(contract, "conformance", tmp_path, calls_per_example=per_example)
    assert least <= len(calls) <= most
    assert batching(25, 8) == (5, 7)
    assert batching(20, 8) == (4, 7) and batching(8, 16) == (2, 8) and batching(7, 1) == (7, 1)


def test_calls_per_example_below_one_is_a_usage_error() -> None:
    import argparse

    from harness.options import positive_int

    assert positive_int("4") == 4
    with pytest.raises(argparse.ArgumentTypeError, match="must be 1 or more, got 0"):
        positive_int("0")
    with pytest.raises(argparse.ArgumentTypeError, match="expected a whole number, got 'x'"):
        positive_int("x")
