"""The run's fork server: workers forked from it behave as spawned ones (crash isolation,
exit messages, time limits, nothing left behind), and when it dies or cannot start the run
goes on (a fresh server, or spawned workers)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from harness.backends import isolation  # noqa: E402
from harness.backends.isolation import BackendCrashed, IsolatedBackend, prestart  # noqa: E402
from harness.context import RunContext  # noqa: E402
from harness.contract import load_contract  # noqa: E402
from harness.errors import ExportError  # noqa: E402
from harness.exports import run_worker  # noqa: E402
from harness.forkserver import client as forkserver  # noqa: E402
from harness.options import RunOptions  # noqa: E402
from harness.savedmodel.layout import resolve_model  # noqa: E402
from tests.conftest import FIXTURES, ROOT, gone, write_contract  # noqa: E402

X = {"x": np.full((2, 4), 0.5, np.float32)}


def tiny(tmp_path: Path) -> tuple[RunContext, Any, Any]:
    contract = load_contract(write_contract(tmp_path, models=[str(FIXTURES / "tiny")]))
    [ref] = resolve_model(FIXTURES / "tiny")
    context = RunContext(RunOptions(examples=3, results_dir=tmp_path / "results",
                                    export_cache=tmp_path / "cache"))
    return context, contract, ref


def server_pid(server: forkserver.ForkServer) -> int:
    """The pid of a fork server this run started (a kept server's connection has none)."""
    assert server.proc is not None, "the run connected to a kept server, it started none"
    return server.proc.pid


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[1])


def kill_on_next_call(monkeypatch: pytest.MonkeyPatch, sig: signal.Signals) -> None:
    """The next ``infer`` request kills its worker with ``sig`` first (a crash mid-call)."""
    real = isolation.Child.request
    left = [1]

    def request(self: isolation.Child, message: tuple[Any, ...], timeout: float) -> Any:
        if message[0] == "infer" and left:
            left.pop()
            os.kill(self.proc.pid, sig)
        return real(self, message, timeout)

    monkeypatch.setattr(isolation.Child, "request", request)


def test_savedmodel_workers_are_forked_from_one_server(tmp_path: Path, scratch: Path) -> None:
    context, contract, ref = tiny(tmp_path)
    prestart(context, "savedmodel")
    server = forkserver.current()
    assert server is not None and isolation._spares(context) == {}  # no spare beside it
    backends = [IsolatedBackend(ref, contract, context, inner="savedmodel") for _ in range(2)]
    try:
        for backend in backends:
            backend.activate()
            assert backend.child is not None
            assert isinstance(backend.child.proc, forkserver.Forked)
            assert parent_of(backend.child.proc.pid) == server_pid(server)
            assert backend.infer("serving_default", X)["y"].shape == (2, 2)
        assert "harness.backends.tf_import:import_tensorflow" in server.preloaded
        pids = [b.child.proc.pid for b in backends if b.child is not None]
    finally:
        for backend in backends:
            backend.deactivate()
        context.closers.close_all()
    assert all(gone(pid) for pid in [*pids, server_pid(server)])
    assert forkserver.current() is None
    assert sorted(scratch.iterdir()) == []


def test_a_fork_that_crashes_fails_its_call_and_the_server_survives(
        tmp_path: Path, scratch: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    context, contract, ref = tiny(tmp_path)
    assert forkserver.start_for(context)
    server = forkserver.current()
    backend = IsolatedBackend(ref, contract, context, inner="savedmodel")
    try:
        backend.activate()
        assert backend.child is not None
        kill_on_next_call(monkeypatch, signal.SIGABRT)
        with pytest.raises(BackendCrashed) as crashed:
            backend.infer("serving_default", X)
        assert crashed.value.message.startswith("the process was killed by SIGABRT; last output:")
        assert backend.crashes == 1
        assert forkserver.current() is server and server is not None and server.alive()
        assert backend.infer("serving_default", X)["y"].shape == (2, 2)  # a fresh fork
        assert backend.loads == 2 and parent_of(backend.child.proc.pid) == server_pid(server)
    finally:
        backend.deactivate()
        context.closers.close_all()
    assert sorted(scratch.iterdir()) == []


def test_a_dead_server_is_replaced_and_its_orphans_still_report(
        tmp_path: Path, scratch: Path, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.DEBUG, logger="harness.forkserver")
    context, contract, ref = tiny(tmp_path)
    assert forkserver.start_for(context)
    first = forkserver.current()
    assert first is not None
    orphan = IsolatedBackend(ref, contract, context, inner="savedmodel")
    fresh = IsolatedBackend(ref, contract, context, inner="savedmodel")
    try:
        orphan.activate()
        os.killpg(server_pid(first), signal.SIGKILL)  # the server dies mid-run
        assert gone(server_pid(first))
        assert orphan.infer("serving_default", X)["y"].shape == (2, 2)  # its fork lives on
        fresh.activate()  # forked from a fresh server
        second = forkserver.current()
        assert second is not None and second is not first
        assert fresh.child is not None and parent_of(fresh.child.proc.pid) == server_pid(second)
        assert fresh.infer("serving_default", X)["y"].shape == (2, 2)
        kill_on_next_call(monkeypatch, signal.SIGKILL)
        with pytest.raises(BackendCrashed) as crashed:
            orphan.infer("serving_default", X)
        assert crashed.value.message.startswith(
            "the process ended; its exit status was lost with the fork server; last output:")
    finally:
        orphan.deactivate()
        fresh.deactivate()
        context.closers.close_all()
    assert "died; starting a fresh one" in caplog.text
    assert sorted(scratch.iterdir()) == []


def test_a_server_that_cannot_start_leaves_workers_spawned(
        tmp_path: Path, scratch: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="harness.forkserver")

    def cannot(*_: Any) -> None:
        raise OSError("no fork today")

    monkeypatch.setattr(forkserver, "ForkServer", cannot)
    context, contract, ref = tiny(tmp_path)
    prestart(context, "savedmodel")
    assert forkserver.current() is None
    assert "tensorflow" in isolation._spares(context)  # today's spare instead
    backend = IsolatedBackend(ref, contract, context, inner="savedmodel")
    try:
        backend.activate()
        assert backend.child is not None and isinstance(backend.child.proc, subprocess.Popen)
        assert backend.infer("serving_default", X)["y"].shape == (2, 2)
    finally:
        backend.deactivate()
        context.closers.close_all()
    assert "fork server could not start (no fork today); workers are spawned" in caplog.text
    assert sorted(scratch.iterdir()) == []


def stuck_conversion(tmp_path: Path) -> list[str]:
    """Converter arguments that block (the representative samples are a FIFO nobody writes)."""
    fifo = tmp_path / "samples.npz"
    os.mkfifo(fifo)
    [ref] = resolve_model(FIXTURES / "tiny")
    return ["--saved-model", str(ref.path), "--signature", "serving_default",
            "--quantization", "int8", "--representative", str(fifo),
            "--output", str(tmp_path / "out.tflite")]


def forked_converters(server: forkserver.ForkServer) -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()
            and _comm(p) == "mc-export" and _parent(p) == server_pid(server)]


def _comm(entry: Path) -> str:
    try:
        return (entry / "comm").read_text().strip()
    except OSError:
        return ""


def _parent(entry: Path) -> int:
    try:
        return int((entry / "stat").read_text().rsplit(") ", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def test_a_forked_converter_that_crashes_fails_its_export(tmp_path: Path, scratch: Path) -> None:
    context, _, _ = tiny(tmp_path)
    assert forkserver.start_for(context)
    server = forkserver.current()
    assert server is not None
    failure: list[BaseException] = []

    def convert() -> None:
        try:
            run_worker("tflite", stuck_conversion(tmp_path), what="TFLite export (test)",
                       model_dir=tmp_path)
        except BaseException as exc:  # noqa: BLE001
            failure.append(exc)

    thread = threading.Thread(target=convert)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not forked_converters(server) and time.monotonic() < deadline:
            time.sleep(0.05)
        [pid] = forked_converters(server)
        os.kill(pid, signal.SIGABRT)
        thread.join(30)
    finally:
        context.closers.close_all()
    assert isinstance(failure[0], ExportError)
    assert str(failure[0]).splitlines()[0] == (
        f"{tmp_path}: TFLite export (test): the converter crashed (SIGABRT); converter output:")
    assert sorted(scratch.iterdir()) == []


def test_a_forked_converter_that_overruns_its_time_is_stopped(tmp_path: Path,
                                                               scratch: Path) -> None:
    context, _, _ = tiny(tmp_path)
    assert forkserver.start_for(context)
    try:
        with pytest.raises(ExportError) as failed:
            run_worker("tflite", stuck_conversion(tmp_path), what="TFLite export (test)",
                       model_dir=tmp_path, timeout=2)
        server = forkserver.current()
        assert server is not None and forked_converters(server) == []
    finally:
        context.closers.close_all()
    assert str(failed.value).splitlines() == [
        f"{tmp_path}: TFLite export (test) timed out after 2 s",
        "  hint: raise $MODEL_CONTRACT_EXPORT_TIMEOUT if the model is just large"]
    assert sorted(scratch.iterdir()) == []


def test_the_server_and_its_forks_end_with_the_run_process(tmp_path: Path,
                                                           scratch: Path) -> None:
    """The run's process killed outright (no closers run): its server sees the socket close,
    kills its forks and exits."""
    contract = write_contract(tmp_path, models=[str(FIXTURES / "tiny")])
    script = textwrap.dedent(f"""
        import sys, time
        from harness.backends.isolation import IsolatedBackend, prestart
        from harness.context import RunContext
        from harness.contract import load_contract
        from harness.forkserver import client
        from harness.options import RunOptions
        from harness.savedmodel.layout import resolve_model
        [ref] = resolve_model({str(FIXTURES / "tiny")!r})
        context = RunContext(RunOptions(examples=3))
        prestart(context, "savedmodel")
        backend = IsolatedBackend(ref, load_contract({str(contract)!r}), context,
                                  inner="savedmodel")
        backend.activate()
        print(client.current().proc.pid, backend.child.proc.pid, flush=True)
        time.sleep(600)
    """)
    run = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE,
                           env=dict(os.environ, TMPDIR=str(scratch)), text=True)
    try:
        assert run.stdout is not None
        server_pid, fork_pid = map(int, run.stdout.readline().split())
    finally:
        run.kill()
        run.wait()
    assert gone(server_pid) and gone(fork_pid)
