"""Fault injection: a worker killed while loading or during a call, Ctrl-C on the run, a
corrupt export cache, a model removed mid-run. After each: no process or temporary folder
left, the user's files unchanged, every planned check reported.

``FAULTS`` names every scenario; ``tests/test_faults.py`` is also what the hardening
figures count (faults survived / tried).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest

pytest.importorskip("tensorflow")

from harness.backends import isolation  # noqa: E402
from harness.contract import load_contract  # noqa: E402
from harness.engine import Engine  # noqa: E402
from harness.errors import HarnessError  # noqa: E402
from harness.options import RunOptions  # noqa: E402
from tests.conftest import FIXTURES, ROOT  # noqa: E402

FAULTS = ("kill_while_loading", "kill_during_a_call", "ctrl_c", "corrupt_cache",
          "model_removed_mid_run")


# --------------------------------------------------------------------------- helpers



@pytest.fixture()
def user_model(tmp_path: Path) -> tuple[Path, Path]:
    """The user's model (a copy of tiny) and a contract pointing at it."""
    model = tmp_path / "user" / "tiny"
    shutil.copytree(FIXTURES / "tiny", model)
    data = json.loads((FIXTURES / "contracts" / "tiny.json").read_text())
    data["models"] = [str(model)]
    contract = tmp_path / "user" / "tiny.json"
    contract.write_text(json.dumps(data))
    return model, contract


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    return {p.relative_to(folder).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(),
                                               p.stat().st_mode)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def workers_in(scratch: Path) -> list[int]:
    """Live processes whose TMPDIR is inside ``scratch`` (the harness's workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().split(") ", 1)[1].split()[0]
        except OSError:
            continue
        tmpdir = next((v[7:] for v in environ if v.startswith(b"TMPDIR=")), b"")
        if state != "Z" and tmpdir.startswith(str(scratch).encode() + b"/"):
            found.append(int(entry.name))
    return found


def assert_clean(scratch: Path) -> None:
    deadline = time.monotonic() + 10
    while workers_in(scratch) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert workers_in(scratch) == [], "a worker process outlived the run"
    assert sorted(p.name for p in scratch.iterdir()) == [], "a temporary folder was left"


def run_all(contract_path: Path, tmp_path: Path, *, between: Callable[[Engine, Any], None]
            = lambda engine, case: None, **options: Any) -> tuple[list[Any], Engine]:
    """Plan every case of the contract and run each; return (planned cases, engine)."""
    engine = Engine(RunOptions(examples=3, results_dir=tmp_path / "results", **options))
    try:
        contract = load_contract(contract_path)
        [ref] = engine.models_of(contract)
        planned = engine.plan(contract, ref)
        for case in planned:
            try:
                engine.execute(case)
            except (AssertionError, HarnessError, Exception) as exc:  # noqa: BLE001
                if not isinstance(exc, (AssertionError, HarnessError)) and \
                        type(exc).__name__ != "Skipped":
                    raise
            between(engine, case)
    finally:
        engine.close()
    return planned, engine


def reported(planned: list[Any], engine: Engine) -> dict[str, str]:
    outcomes = {r.case.id: r.outcome for r in engine.results}
    assert set(outcomes) == {c.id for c in planned}, "a planned check was not reported"
    assert not [r for r in engine.results
                if r.outcome == "error" and not r.message.startswith(("/", "savedmodel"))], \
        "an internal error was reported"
    return outcomes


def kill_on(kind: str, monkeypatch: pytest.MonkeyPatch, times: int = 1) -> dict[str, int]:
    left = {"kills": times}
    real = isolation.Child.send

    def send(self: isolation.Child, message: tuple) -> None:
        if message[0] == kind and left["kills"]:
            left["kills"] -= 1
            if kind == "infer":
                self.request(("signatures",), 60)  # the child is alive and loaded
            os.killpg(self.proc.pid, signal.SIGKILL)
        real(self, message)

    monkeypatch.setattr(isolation.Child, "send", send)
    return left


# --------------------------------------------------------------------------- faults


def test_kill_while_loading(tmp_path: Path, scratch: Path, user_model: tuple[Path, Path],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    model, contract = user_model
    before = snapshot(model)
    left = kill_on("activate", monkeypatch)
    planned, engine = run_all(contract, tmp_path)
    assert left["kills"] == 0
    outcomes = reported(planned, engine)
    assert set(outcomes.values()) <= {"passed", "skipped"}, outcomes
    assert snapshot(model) == before
    assert_clean(scratch)


def test_kill_during_a_call(tmp_path: Path, scratch: Path, user_model: tuple[Path, Path],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    model, contract = user_model
    before = snapshot(model)
    left = kill_on("infer", monkeypatch)
    planned, engine = run_all(contract, tmp_path)
    assert left["kills"] == 0
    outcomes = reported(planned, engine)
    failed = [r for r in engine.results if r.outcome == "failed"]
    assert len(failed) == 1, outcomes
    assert "the process was killed by SIGKILL" in failed[0].message
    assert "It did not happen again when the same input was tried once more" in failed[0].message
    assert sum(1 for o in outcomes.values() if o == "passed") == len(planned) - 1 - sum(
        1 for o in outcomes.values() if o == "skipped")
    assert snapshot(model) == before
    assert_clean(scratch)


def test_model_removed_mid_run(tmp_path: Path, scratch: Path,
                               user_model: tuple[Path, Path]) -> None:
    model, contract = user_model
    removed: list[str] = []

    def remove_after_first_fuzz_case(engine: Engine, case: Any) -> None:
        if case.family == "fuzz" and not removed:
            shutil.rmtree(model)
            removed.append(case.id)

    planned, engine = run_all(contract, tmp_path, between=remove_after_first_fuzz_case)
    assert removed
    outcomes = reported(planned, engine)
    # the loaded model keeps answering from its read-only copy; nothing crashed
    assert all(o in ("passed", "skipped", "error") for o in outcomes.values()), outcomes
    for result in engine.results:
        if result.outcome == "error":
            assert "does not exist" in result.message, result.message
    assert_clean(scratch)


def test_corrupt_export_cache(tmp_path: Path, scratch: Path, user_model: tuple[Path, Path]) -> None:
    pytest.importorskip("ai_edge_litert")
    model, contract = user_model
    data = json.loads(contract.read_text())
    data["formats"] = {"tflite": {}}
    contract.write_text(json.dumps(data))
    before = snapshot(model)
    cache = tmp_path / "cache"

    def tflite_conformance() -> tuple[list[str], Engine]:
        engine = Engine(RunOptions(examples=3, results_dir=tmp_path / "results",
                                   export_cache=cache, backends=("tflite",)))
        try:
            loaded = load_contract(contract)
            [ref] = engine.models_of(loaded)
            [case] = [c for c in engine.plan(loaded, ref)
                      if c.check == "conformance[tflite]"]
            return engine.execute(case), engine
        finally:
            engine.close()

    first, _ = tflite_conformance()
    assert any("converted in" in note for note in first), first
    [artifact] = [p for p in cache.rglob("*.tflite")]
    artifact.write_bytes(artifact.read_bytes()[:1000])
    second, _ = tflite_conformance()
    assert any("re-exported in" in n and "was discarded: its sha256" in n
               and "truncated or changed since it was written; 1000 bytes" in n
               for n in second), second
    third, _ = tflite_conformance()
    assert any("cached" in note for note in third), third
    assert snapshot(model) == before
    assert_clean(scratch)


def test_ctrl_c(tmp_path: Path, scratch: Path, user_model: tuple[Path, Path]) -> None:
    model, contract = user_model
    before = snapshot(model)
    env = dict(os.environ, TMPDIR=str(scratch), TF_CPP_MIN_LOG_LEVEL="3")
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist",
         "--contract", str(contract), "--examples", "5000",
         "--results-dir", str(tmp_path / "results")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not workers_in(scratch):
            time.sleep(0.3)
        assert workers_in(scratch), "the run never started a worker"
        time.sleep(2)
        # the run's fork server is among them (assert_clean below: gone with its forks)
        assert [pid for pid in workers_in(scratch) if b"harness.forkserver.server"
                in Path(f"/proc/{pid}/cmdline").read_bytes()], "no fork server"
        run.send_signal(signal.SIGINT)
        output = run.communicate(timeout=120)[0].decode("utf-8", "replace")
    finally:
        if run.poll() is None:
            run.kill()
    assert "KeyboardInterrupt" in output or "Interrupted" in output or "!!!" in output, output
    assert run.returncode == 2, output[-2000:]
    assert snapshot(model) == before
    assert_clean(scratch)
