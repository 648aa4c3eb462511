"""An interrupted run (Ctrl-C) still stops the model server it started: no process or port left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import FIXTURES, ROOT
from tests.standin import STANDIN_WRAPPER


def standin_pids(parent: int | None = None) -> set[int]:
    """Stand-in servers running (only those ``parent`` started, when given: under
    pytest-xdist another worker's serving test may start one of its own meanwhile)."""
    command = ["pgrep", "-f", "tensorflow_model_server_standin.py"]
    if parent is not None:
        command[1:1] = ["-P", str(parent)]
    out = subprocess.run(command, capture_output=True, text=True)
    return {int(p) for p in out.stdout.split()}


def test_ctrl_c_stops_the_server_the_run_started(tmp_path: Path) -> None:
    contract = tmp_path / "tiny.json"
    data = json.loads((FIXTURES / "contracts" / "tiny.json").read_text())
    data["models"] = [str(FIXTURES / "tiny")]
    data["formats"] = {"serving": {}}
    contract.write_text(json.dumps(data))
    before = standin_pids()
    env = dict(os.environ, STANDIN_PYTHON=sys.executable, TF_CPP_MIN_LOG_LEVEL="3")
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--contract", str(contract),
         "--backend", "serving", "--serving-binary", str(STANDIN_WRAPPER), "--examples", "200",
         "--results-dir", str(tmp_path / "results")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        started: set[int] = set()
        while time.monotonic() < deadline and not started:
            time.sleep(0.5)
            started = standin_pids(parent=run.pid) - before
        assert started, "the run never started a server"
        time.sleep(3)  # let it serve a little
        run.send_signal(signal.SIGINT)
        output = run.communicate(timeout=120)[0].decode("utf-8", "replace")
    finally:
        if run.poll() is None:
            run.kill()
    assert "KeyboardInterrupt" in output or "Interrupted" in output or "!!!" in output
    time.sleep(1)
    assert standin_pids() & started == set(), "the server outlived the interrupted run"
