"""Parity's reference answers recorded by one run and reused by the next: only when the
examples repeat, never a false alarm from a recorded answer, a genuine failure still
reported, ``--fresh-references`` calls every answer, and a warm run starts no TensorFlow."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import harness.backends  # noqa: F401 - registers the backends
import harness.checks.formats  # noqa: F401 - registers the planner
from harness.backends.answers import FILE, decode_outputs, encode_outputs
from harness.engine import Engine
from harness.errors import CheckFailure
from harness.options import RunOptions
from tests.conftest import FIXTURES, write_contract
from tests.savedmodel.test_tf_modules import run_traced

CONTRACTS = FIXTURES / "contracts"
#: what hypothesis reads to load its ``ci`` profile (derandomized) by itself
CI_VARIABLES = ("CI", "__TOX_ENVIRONMENT_VARIABLE_ORIGINAL_CI", "TF_BUILD", "bamboo.buildKey",
                "BUILDKITE", "CIRCLECI", "CIRRUS_CI", "CODEBUILD_BUILD_ID", "GITHUB_ACTIONS",
                "GITLAB_CI", "HEROKU_TEST_RUN_ID", "TEAMCITY_VERSION")


def parity(tmp_path: Path, contract: Path, only: str | None = None,
           **options: Any) -> dict[str, tuple[str, Any]]:
    """check -> (outcome, notes or failure message) of the parity cases (or of the one
    named ``only``), in this process."""
    options.setdefault("in_process", True)
    options.setdefault("export_cache", tmp_path / "cache")
    engine = Engine(RunOptions(examples=options.pop("examples", 8),
                               results_dir=tmp_path / "results", **options))
    loaded = engine.load(contract)
    out: dict[str, tuple[str, Any]] = {}
    try:
        for model in engine.models_of(loaded):
            for case in engine.plan(loaded, model):
                if case.name != "parity" or only not in (None, case.check):
                    continue
                try:
                    out[case.check] = ("passed", engine.execute(case))
                except CheckFailure as exc:
                    out[case.check] = ("failed", str(exc))
    finally:
        engine.close()
    return out


def rows(tmp_path: Path) -> dict[str, dict[str, np.ndarray]]:
    path = tmp_path / "cache" / FILE
    if not path.is_file():
        return {}
    conn = sqlite3.connect(path)
    try:
        return {k: decode_outputs(bytes(b)) for k, b in conn.execute("SELECT key, blob FROM answers")}
    finally:
        conn.close()


@pytest.fixture
def seed_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    """As ``--hypothesis-seed`` does: the examples repeat run to run."""
    monkeypatch.setattr("hypothesis.core.global_force_seed", 1234)


def given_renamed() -> Path:
    """The tiny model, with its given (renamed) TFLite and ONNX files and a name map."""
    return CONTRACTS / "tiny_renamed_mapped.json"


@pytest.mark.usefixtures("seed_forced")
def test_a_second_run_reuses_the_answers_the_first_recorded(tmp_path: Path) -> None:
    first = parity(tmp_path, given_renamed())
    assert first["parity[tflite]"][0] == first["parity[onnx]"][0] == "passed"
    note = first["parity[tflite]"][1][0]
    assert note.endswith(": 8 calls compared; 8 reference answers called and recorded"), note
    recorded = rows(tmp_path)
    assert 0 < len(recorded) <= 8  # one per distinct input
    second = parity(tmp_path, given_renamed())
    for check in ("parity[tflite]", "parity[onnx]"):
        outcome, notes = second[check]
        assert outcome == "passed"
        assert notes[0].startswith(f"ran on {check[7:-1]} (given: ")
        assert notes[0].endswith("against savedmodel: 8 calls compared; 8 reference answers "
                                 "recorded earlier (the SavedModel was not called)")


def test_a_run_whose_examples_do_not_repeat_records_nothing(tmp_path: Path) -> None:
    """Without a derandomized profile or a forced seed: no lookup, no write, the old note."""
    env = {k: v for k, v in os.environ.items() if k not in CI_VARIABLES}
    contract = given_renamed()
    done, _ = run_traced_env(tmp_path, env, ["--contract", str(contract), "-k", "parity",
                                             "--examples", "5"])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "calls compared" in done.stdout
    assert "reference answers" not in done.stdout
    assert rows(tmp_path) == {}


@pytest.mark.usefixtures("seed_forced")
def test_fresh_references_calls_every_answer_and_records_none(tmp_path: Path) -> None:
    parity(tmp_path, given_renamed())
    assert len(rows(tmp_path)) == 8
    fresh = parity(tmp_path, given_renamed(), fresh_references=True)
    outcome, notes = fresh["parity[onnx]"]
    assert outcome == "passed"
    assert notes[0].endswith("against savedmodel (tf.saved_model.load): 8 calls compared"), notes


@pytest.mark.usefixtures("seed_forced")
def test_a_stale_recorded_answer_is_replaced_not_reported(tmp_path: Path) -> None:
    """Every recorded answer made wrong (with a valid checksum): the run still passes,
    judged on fresh answers, says so, and the store holds the right answers again."""
    parity(tmp_path, given_renamed())
    right = rows(tmp_path)
    conn = sqlite3.connect(tmp_path / "cache" / FILE)
    for key, outputs in right.items():
        wrong = encode_outputs({**outputs, "y": outputs["y"] + 0.5})
        conn.execute("UPDATE answers SET blob = ?, digest = ? WHERE key = ?",
                     (wrong, hashlib.sha256(wrong).hexdigest(), key))
    conn.commit()
    conn.close()
    again = parity(tmp_path, given_renamed())
    outcome, notes = again["parity[tflite]"]
    assert outcome == "passed", notes
    assert notes[0].endswith(": 8 calls compared; 8 reference answers called and recorded; "
                             "8 recorded answers replaced by fresh ones after a comparison "
                             "failed against them (judged on the fresh ones)"), notes
    assert again["parity[onnx]"][0] == "passed"  # on the answers re-recorded by tflite's case
    restored = rows(tmp_path)
    assert restored.keys() == right.keys()
    for key in right:
        assert np.array_equal(restored[key]["y"], right[key]["y"])


@pytest.mark.usefixtures("seed_forced")
def test_a_genuine_failure_is_reported_on_a_fresh_answer(tmp_path: Path) -> None:
    """The given ONNX file of a perturbed copy of the model: with the SavedModel's answers
    recorded, the failure is the same as with every answer called."""
    contract = CONTRACTS / "tiny_perturbed_onnx.json"
    first = parity(tmp_path, contract)
    assert first["parity[onnx]"][0] == "failed"
    assert rows(tmp_path)  # the SavedModel's answers were recorded
    recorded = parity(tmp_path, contract)
    fresh = parity(tmp_path, contract, fresh_references=True)
    outcome, message = recorded["parity[onnx]"]
    assert outcome == "failed"
    assert message.startswith("[parity[onnx]] onnx (given: ")
    assert "output 'y' of signature 'serving_default'" in message
    assert "would pass with atol=" in message
    assert message == fresh["parity[onnx]"][1]


def run_traced_env(tmp_path: Path, env: dict[str, str], args: list[str]) -> Any:
    """pytest on ``args`` in a traced fresh interpreter with ``env``, cache under tmp_path."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        return run_traced(tmp_path, ["-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA",
                                     *args, "--results-dir", str(tmp_path / "results"),
                                     "--export-cache", str(tmp_path / "cache")])
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_a_warm_ci_run_starts_no_tensorflow_in_any_process(tmp_path: Path) -> None:
    """Two runs on a CI runner (CI=true: hypothesis' derandomized profile), exporting TFLite
    and ONNX: the second finds the exports and every reference answer, and neither the run
    nor any process it starts imports TensorFlow."""
    contract = write_contract(tmp_path, models=[str(FIXTURES / "tiny")],
                              formats={"tflite": {}, "onnx": {}})
    env = dict(os.environ, CI="true")
    args = ["--contract", str(contract), "-k", "parity", "--examples", "10"]
    done, trace = run_traced_env(tmp_path, env, args)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "reference answers called and recorded" in done.stdout
    assert trace  # the first run exported: TensorFlow started
    done, trace = run_traced_env(tmp_path, env, args)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "4 passed" in done.stdout
    for fmt in ("tflite", "onnx"):
        assert f"parity[{fmt}]: ran on {fmt} (exported: " in done.stdout
    assert done.stdout.count("10 calls compared; 10 reference answers recorded earlier (the "
                             "SavedModel was not called)") == 2, done.stdout[-3000:]
    assert trace == ""
    report = json.loads((tmp_path / "results" / "report.json").read_text())
    assert report
    # one answer per distinct input: tflite's and onnx's cases drew the same inputs
    assert 0 < len(rows(tmp_path)) <= 10
    # some answers gone: the SavedModel (not started ahead) is opened at the first miss
    conn = sqlite3.connect(tmp_path / "cache" / FILE)
    conn.execute("DELETE FROM answers WHERE rowid IN (SELECT rowid FROM answers LIMIT 3)")
    conn.commit()
    conn.close()
    done, trace = run_traced_env(tmp_path, env, args)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "4 passed" in done.stdout
    assert "against savedmodel (tf.saved_model.load): 10 calls compared; " in done.stdout
    assert " reference answers called and recorded" in done.stdout
    assert trace  # the SavedModel's worker imported TensorFlow


def test_a_variant_batch_is_recorded_even_when_examples_are_random(tmp_path: Path) -> None:
    """A quantized variant is judged on one seeded batch, the same every run: its answers
    are recorded without a repeating profile; a stale one makes the batch judged afresh."""
    variants = [{"quantization": "float16", "tolerance": {"atol": 1e-2, "rtol": 0}}]
    contract = write_contract(tmp_path, models=[str(FIXTURES / "tiny")],
                              formats={"tflite": {"variants": variants}})
    first = parity(tmp_path, contract, "parity[tflite-float16]", backends=("tflite",))
    outcome, notes = first["parity[tflite-float16]"]
    assert outcome == "passed", notes
    assert " rows; " in notes[0] and notes[0].endswith(" reference answers called and recorded")
    batch = notes[0].split(": ")[-1].split("; ")[0]  # "N calls, M rows"
    calls = int(batch.split(" calls, ")[0])
    assert notes[0].endswith(f"; {calls} reference answers called and recorded")
    assert 0 < len(rows(tmp_path)) <= calls  # one row per distinct input
    second = parity(tmp_path, contract, "parity[tflite-float16]", backends=("tflite",))
    outcome, notes = second["parity[tflite-float16]"]
    assert outcome == "passed"
    assert notes[0].endswith(f": {batch}; {calls} reference answers recorded earlier "
                             "(the SavedModel was not called)"), notes
    conn = sqlite3.connect(tmp_path / "cache" / FILE)
    key, blob = conn.execute("SELECT key, blob FROM answers LIMIT 1").fetchone()
    outputs = decode_outputs(bytes(blob))
    wrong = encode_outputs({**outputs, "y": outputs["y"] + 0.5})
    conn.execute("UPDATE answers SET blob = ?, digest = ? WHERE key = ?",
                 (wrong, hashlib.sha256(wrong).hexdigest(), key))
    conn.commit()
    conn.close()
    third = parity(tmp_path, contract, "parity[tflite-float16]", backends=("tflite",))
    outcome, notes = third["parity[tflite-float16]"]
    assert outcome == "passed", notes
    # the whole batch judged again on fresh answers (each recorded one replaced)
    assert notes[0].endswith(f": {batch}; {calls} reference answers called and "
                             f"recorded; {calls} recorded answers replaced by fresh ones after a "
                             "comparison failed against them (judged on the fresh ones)"), notes
    assert np.array_equal(rows(tmp_path)[key]["y"], outputs["y"])
