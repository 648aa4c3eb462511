"""A worker the program never stopped (a script that used the engine and ended on an
exception before ``close()``) is killed at the program's exit, and its folder, which holds
the model's hermetic copy, is removed: nothing is left in the temporary folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from harness.backends.isolation import MEMORY_LIMIT_MB, Child
from tests.conftest import gone

SCRIPT = """
from harness.backends.isolation import Child
child = Child(memory_limit_mb=1024)
print(child.proc.pid, child.tmp, flush=True)
raise RuntimeError("the script ends here, never stopping its worker")
"""


def test_a_worker_left_running_is_killed_and_its_folder_removed_at_exit(tmp_path: Path) -> None:
    env = dict(os.environ, TMPDIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "RuntimeError: the script ends here" in done.stderr
    pid, folder = done.stdout.split()
    assert Path(folder).parent == tmp_path
    assert not Path(folder).exists()
    assert [p.name for p in tmp_path.iterdir()] == []
    assert gone(int(pid))


def test_a_stopped_worker_leaves_nothing_for_the_exit(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    child = Child(memory_limit_mb=MEMORY_LIMIT_MB)
    assert child.tmp.parent == tmp_path and child._reaper.alive
    child.stop()
    assert not child._reaper.alive  # the exit neither waits for it nor touches its folder
    assert [p.name for p in tmp_path.iterdir()] == []
