"""--keep-warm: the fork server kept between runs. A later run forks its workers from the
server an earlier run started (TensorFlow imported once), each run's forks still end with
it, the server ends after its idle time or on 'model-contract warm stop', and a folder
others can enter is refused with a warning (the run uses a server of its own)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from pathlib import Path
from typing import Any, Iterator

import pytest

from harness.forkserver import kept
from tests.conftest import FIXTURES, ROOT, write_contract

#: one run of the tiny model with --keep-warm: prints the kept server's pid, the pid of the
#: server forked for this run's connection and the pid of the worker, then (unless told
#: to hang) closes the run as the engine does
RUN = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    from harness.backends.isolation import IsolatedBackend, prestart
    from harness.context import RunContext
    from harness.contract import load_contract
    from harness.forkserver import client, kept
    from harness.options import RunOptions
    from harness.savedmodel.layout import resolve_model
    [ref] = resolve_model(sys.argv[1])
    context = RunContext(RunOptions(examples=3, keep_warm=True))
    prestart(context, "savedmodel")
    backend = IsolatedBackend(ref, load_contract(sys.argv[2]), context, inner="savedmodel")
    backend.activate()
    y = backend.infer("serving_default", {"x": np.full((2, 4), 0.5, np.float32)})["y"]
    fork = backend.child.proc.pid
    connection = int(open(f"/proc/{fork}/stat").read().rsplit(") ", 1)[1].split()[1])
    [server] = [k.pid for k in kept.servers() if k.running and k.key == kept.key()]
    print(json.dumps({"server": server, "connection": connection, "fork": fork,
                      "shape": list(y.shape), "own": client.current().proc is not None,
                      "tensorflow": "tensorflow" in sys.modules}), flush=True)
    if sys.argv[3] == "hang":
        time.sleep(600)
    backend.deactivate()
    context.closers.close_all()
""")


@pytest.fixture
def warm_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The kept servers' folder of this test (short enough for a socket path); every
    server in it is stopped at the end."""
    folder = tmp_path / "w"
    made = None
    if len(str(folder)) > 70:  # a deep --basetemp: a socket path there would be too long
        made = folder = Path(tempfile.mkdtemp(prefix="mc-w-", dir="/tmp"))
    monkeypatch.setenv(kept.DIR_ENV, str(folder))
    yield folder
    try:
        kept.stop_all()
    except kept.Unavailable:  # the test made the folder unusable: it started no server there
        pass
    if made is not None:
        shutil.rmtree(made, ignore_errors=True)


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def ends(pid: int, within: float = 15.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not running(pid):
            return True
        time.sleep(0.05)
    return False


def run(tmp_path: Path, scratch: Path, hang: bool = False, **env: str
        ) -> subprocess.Popen[str]:
    contract = write_contract(tmp_path, models=[str(FIXTURES / "tiny")])
    return subprocess.Popen([sys.executable, "-c", RUN, str(FIXTURES / "tiny"), str(contract),
                             "hang" if hang else "close"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, TMPDIR=str(scratch), **env))


def finished(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def test_a_second_run_forks_from_the_server_the_first_one_kept(
        tmp_path: Path, scratch: Path, warm_dir: Path) -> None:
    pytest.importorskip("tensorflow")
    first = finished(run(tmp_path, scratch))
    assert first["shape"] == [2, 2] and first["own"] is False
    assert first["tensorflow"] is False  # the run's own process never imports it
    server = first["server"]
    assert isinstance(server, int) and running(server)  # outlives the run that started it
    assert ends(first["connection"]) and ends(first["fork"])  # the run's own went
    second = finished(run(tmp_path, scratch))
    assert second["server"] == server and second["shape"] == [2, 2]
    assert second["connection"] != first["connection"]
    [listed] = kept.servers()
    assert listed.pid == server and listed.running and listed.harness == str(ROOT / "harness")
    assert sorted(p.suffix for p in warm_dir.iterdir() if not p.is_dir()) == [
        ".json", ".lock", ".log", ".sock"]
    assert sorted(scratch.iterdir()) == []  # each run's temporary folders went with it
    # A variable TensorFlow reads at import changed: another key, a fresh server, and the
    # stale one of the same checkout and Python stops.
    third = finished(run(tmp_path, scratch, TF_ENABLE_ONEDNN_OPTS=(
        "0" if os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "1" else "1")))
    assert third["server"] != server and ends(server)
    assert [k.pid for k in kept.servers()] == [third["server"]]


def test_a_run_killed_outright_takes_its_forks_along_not_the_kept_server(
        tmp_path: Path, scratch: Path, warm_dir: Path) -> None:
    pytest.importorskip("tensorflow")
    proc = run(tmp_path, scratch, hang=True)
    try:
        assert proc.stdout is not None
        line = json.loads(proc.stdout.readline())
    finally:
        proc.kill()
        proc.wait()
    assert ends(line["connection"]) and ends(line["fork"])
    assert running(line["server"])


def test_the_kept_server_ends_after_its_idle_time(
        tmp_path: Path, scratch: Path, warm_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("tensorflow")
    monkeypatch.setenv(kept.IDLE_ENV, "2")
    result = finished(run(tmp_path, scratch))
    server = result["server"]
    assert ends(server, within=30)
    assert kept.servers() == []
    assert sorted(p.suffix for p in warm_dir.iterdir()) == [".lock", ".log"]


def test_warm_lists_and_stops_the_kept_servers(
        tmp_path: Path, scratch: Path, warm_dir: Path) -> None:
    pytest.importorskip("tensorflow")
    cli = [sys.executable, "-m", "harness.cli", "warm"]
    env = dict(os.environ)
    none = subprocess.run(cli, cwd=ROOT, env=env, capture_output=True, text=True)
    assert none.returncode == 0
    assert none.stdout == f"no kept fork server runs (folder {warm_dir}); --keep-warm starts one\n"
    server = finished(run(tmp_path, scratch))["server"]
    listed = subprocess.run(cli, cwd=ROOT, env=env, capture_output=True, text=True)
    assert listed.stdout.startswith(f"1 kept fork server(s) in {warm_dir}:\n  pid {server}, up ")
    assert "ends after 900 s without a run" in listed.stdout
    stopped = subprocess.run([*cli, "stop"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert stopped.returncode == 0
    assert stopped.stdout.startswith(f"stopped 1 kept fork server(s) in {warm_dir}\n"
                                     f"  pid {server} ({sys.executable}, ")
    assert ends(server)
    assert not any(p.suffix in (".sock", ".json") for p in warm_dir.iterdir())


def test_a_folder_others_can_enter_is_refused_and_the_run_uses_its_own_server(
        tmp_path: Path, warm_dir: Path) -> None:
    warm_dir.mkdir(mode=0o700, exist_ok=True)
    os.chmod(warm_dir, 0o777)
    with pytest.raises(kept.Unavailable) as refused:
        kept.place()
    assert str(refused.value) == (
        f"{warm_dir}: others may enter it (mode 777); anyone who can reach a kept server's "
        f"socket can have a worker forked, so it must be 0700: chmod 700 {warm_dir}")
    from harness.context import RunContext
    from harness.forkserver import client
    from harness.options import RunOptions

    context = RunContext(RunOptions(keep_warm=True))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert client.start_for(context)
        server = client.current()
        assert server is not None and server.proc is not None and server.kept is None
        [warning] = [w.message for w in caught if isinstance(w.message, client.KeepWarmWarning)]
        assert str(warning) == (f"--keep-warm: {refused.value}; this run used a fork server of "
                                f"its own (TensorFlow imported once for the run)")
    finally:
        context.closers.close_all()
    assert not any(p.suffix == ".sock" for p in warm_dir.iterdir())


def test_a_folder_of_another_kind_or_too_deep_is_refused(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "real"
    target.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(target)
    monkeypatch.setenv(kept.DIR_ENV, str(link))
    with pytest.raises(kept.Unavailable, match=r"not a folder \(a link or a file\)"):
        kept.folder()
    deep = tmp_path / ("d" * 100)
    monkeypatch.setenv(kept.DIR_ENV, str(deep))
    with pytest.raises(kept.Unavailable) as long:
        kept.place()
    assert str(long.value).endswith(f".sock: too long for a Unix socket's path (at most 99 "
                                    f"bytes here); set ${kept.DIR_ENV} to a shorter folder")
    monkeypatch.setenv(kept.IDLE_ENV, "soon")
    with pytest.raises(kept.Unavailable, match=r"\$MODEL_CONTRACT_KEEP_WARM_IDLE='soon' is not a "
                                               r"number of seconds"):
        kept.idle_seconds()


def test_the_key_follows_what_the_imports_depend_on(monkeypatch: pytest.MonkeyPatch) -> None:
    before = kept.key()
    monkeypatch.setenv("MODEL_CONTRACT_UNRELATED", "1")
    assert kept.key() == before  # not read at import: the same server fits
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0" if os.environ.get(
        "TF_ENABLE_ONEDNN_OPTS") == "1" else "1")
    assert kept.key() != before  # read by TensorFlow's import: another server


def test_a_kept_server_that_cannot_start_is_told_and_the_run_uses_its_own(
        tmp_path: Path, scratch: Path, warm_dir: Path) -> None:
    """The socket's name is taken by a folder: the kept server cannot take it, says why in
    its log and exits, leaving nothing behind; the run warns with that log and forks from
    a server of its own."""
    pytest.importorskip("tensorflow")
    from harness.context import RunContext
    from harness.forkserver import client
    from harness.options import RunOptions

    spot = kept.place()
    spot.socket.mkdir(parents=True)
    (spot.socket / "taken").write_text("")
    context = RunContext(RunOptions(keep_warm=True))
    try:
        assert client.start_for(context)
        first = client.current()
        assert first is not None and first.kept is not None
        first.reader.join(timeout=180)
        assert first.unavailable is not None and first.unavailable.startswith(
            f"the kept fork server exited (1) while starting; its output ({spot.log}): "
            "Traceback (most recent call last):")
        assert "IsADirectoryError" in first.unavailable
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            second = client.current()
        assert second is not None and second is not first and second.proc is not None
        [warning] = [w.message for w in caught if isinstance(w.message, client.KeepWarmWarning)]
        assert str(warning).startswith("--keep-warm: the kept fork server exited (1) while "
                                       "starting; its output (")
        assert str(warning).endswith("; this run used a fork server of its own (TensorFlow "
                                     "imported once for the run)")
    finally:
        context.closers.close_all()
    assert sorted(p.name for p in warm_dir.iterdir()) == [
        f"{spot.key}.lock", f"{spot.key}.log", f"{spot.key}.sock"]  # the folder, untouched
    assert sorted(scratch.iterdir()) == []
