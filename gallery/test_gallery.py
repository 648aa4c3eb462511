"""Run every gallery entry through the command line, as a user would, and hold it to its
judged outcome (gallery/entries.py, docs/gallery.md). ``tox -e gallery`` runs this file."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from gallery.entries import BASIC_PITCH, CHECK_RUNS, CONTRACTS, NMP, REFUSALS, ROOT, CheckRun, Refusal


def model_contract(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "import sys; from harness.cli import main; sys.exit(main())",
               *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)


def outcomes(junit: Path) -> dict[str, tuple[str, str]]:
    """check name -> (outcome, message) from pytest's JUnit XML."""
    result: dict[str, tuple[str, str]] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for kind in ("failure", "error", "skipped"):
            node = case.find(kind)
            if node is not None:
                outcome = "failed" if kind in ("failure", "error") else "skipped"
                message = (node.get("message") or "") + "\n" + (node.text or "")
        result[case.get("name", "")] = (outcome, message)
    return result


@pytest.mark.parametrize("run", CHECK_RUNS, ids=[r.id for r in CHECK_RUNS])
def test_check(run: CheckRun, tmp_path: Path) -> None:
    folder = run.package.folder()
    args = ["check", str(CONTRACTS / run.contract), "--model", str(folder / run.savedmodel),
            "--results-dir", str(tmp_path / "results")]
    if run.tflite:
        args += ["--tflite", str(folder / run.tflite)]
    if run.onnx:
        args += ["--onnx", str(folder / run.onnx)]
    junit = tmp_path / "junit.xml"
    args += ["--", "--junitxml", str(junit), "--hypothesis-profile", "ci"]
    if run.select:
        args += ["-k", run.select]
    done = model_contract(*args)
    print(done.stdout[-20000:])
    assert junit.is_file(), f"no test ran (exit {done.returncode}):\n{done.stderr[-4000:]}"
    seen = outcomes(junit)
    assert seen, f"no check collected:\n{done.stdout[-4000:]}"
    unexpected = {name: message for name, (outcome, message) in seen.items()
                  if outcome == "failed" and name not in run.expect_failed}
    assert not unexpected, "failures not judged in the gallery:\n" + "\n".join(
        f"{name}: {message[:3000]}" for name, message in unexpected.items())
    skipped = {name: message for name, (outcome, message) in seen.items() if outcome == "skipped"}
    assert not skipped, f"checks skipped: {skipped}"
    for name, text in run.expect_failed.items():
        outcome, message = seen.get(name, ("not run", ""))
        assert outcome == "failed", f"{name}: expected the judged failure ({text}), got {outcome}"
        assert text in message, f"{name} failed otherwise than judged:\n{message[:3000]}"
    assert done.returncode == (1 if run.expect_failed else 0), done.stderr[-4000:]


@pytest.mark.parametrize("refusal", REFUSALS, ids=[r.id for r in REFUSALS])
def test_refusal(refusal: Refusal, tmp_path: Path) -> None:
    path = refusal.package.folder() / refusal.path
    assert path.exists(), f"{refusal.package.name}=={refusal.package.version} has no {refusal.path}"
    done = model_contract("init", str(path), "-o", str(tmp_path / "contract.json"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert refusal.message in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "contract.json").exists()


def test_basic_pitch_formats_disagree_only_on_digital_silence(tmp_path: Path) -> None:
    """The evidence for basic-pitch's judged failures, measured with the tool's own backends
    and comparison: the shipped TFLite and ONNX files and a batch of two agree with the
    SavedModel within the default tolerance on audio, noise, quiet noise and full-scale DC,
    and differ far beyond it on a window of digital silence."""
    import numpy as np

    from harness.backends.source import open_backend
    from harness.checks.parity import compare
    from harness.contract.model import Tolerance
    from harness.engine import Engine
    from harness.options import RunOptions
    from harness.savedmodel.layout import resolve_model

    folder = BASIC_PITCH.folder()
    engine = Engine(RunOptions(in_process=True, results_dir=tmp_path,
                               tflite=folder / (NMP + ".tflite"), onnx=folder / (NMP + ".onnx")))
    contract = engine.load(CONTRACTS / "basic_pitch.json")
    model = resolve_model(folder / NMP)[0]
    try:
        backends = {name: open_backend(engine.context, name, contract, model)
                    for name in ("savedmodel", "tflite", "onnx")}
        rng = np.random.default_rng(0)
        t = np.arange(43844, dtype=np.float64) / 22050
        windows = {
            "sine 440 Hz": 0.5 * np.sin(2 * np.pi * 440 * t),
            "white noise": rng.uniform(-1, 1, t.size),
            "quiet noise (1e-3)": rng.uniform(-1e-3, 1e-3, t.size),
            "full-scale DC": np.ones(t.size),
            "half silent": np.concatenate([np.zeros(t.size // 2), rng.uniform(-1, 1, t.size // 2)]),
            "digital silence": np.zeros(t.size),
        }
        worst: dict[str, float] = {}
        for label, window in windows.items():
            x = window.astype(np.float32)[None, :, None]
            ref = backends["savedmodel"].infer("serving_default", {"input_2": x})
            answers = {name: backends[name].infer("serving_default", {"input_2": x})
                       for name in ("tflite", "onnx")}
            pair = backends["savedmodel"].infer("serving_default",
                                                {"input_2": np.concatenate([x, x])})
            answers["savedmodel, batch of 2"] = {k: v[:1] for k, v in pair.items()}
            worst[label] = max(
                compare(ref[out], got[out], Tolerance(), exact=False).max_abs
                for got in answers.values() for out in ("contour", "note", "onset"))
        print(worst)
    finally:
        engine.close()
    silence = worst.pop("digital silence")
    assert max(worst.values()) < 1e-5, worst
    assert silence > 1e-3
