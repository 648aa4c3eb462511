"""The run's side of the fork server: start it, fork workers from it, hear how they end.

One fork server per process that runs checks (a pytest process, an xdist worker, a Ray
task), started by :func:`start` when the run knows it will need TensorFlow (the engine's
``prepare``). :func:`spawn` then gives a :class:`Forked` process (``pid``, ``poll``,
``wait``, ``kill``, ``returncode``: what the callers used of :class:`subprocess.Popen`)
forked from the server instead of a fresh interpreter, or ``None`` when there is no
server (never started, disabled, dead, or refused): the caller then spawns as before.
A fork has the safety properties of a spawned worker (its own session, log files, temporary
folder and environment, killed as a group); only the imports are shared.

``$MODEL_CONTRACT_FORKSERVER=0`` turns it off (every worker is spawned, as before).
What happened is told in the ``harness.forkserver`` logger's debug output.
"""

from __future__ import annotations

import itertools
import logging
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Sequence

from harness.context import RunContext

log = logging.getLogger("harness.forkserver")

#: set to 0 to spawn every worker (no fork server)
SWITCH_ENV = "MODEL_CONTRACT_FORKSERVER"
#: seconds a request waits for the server to be ready (its imports) and to fork
READY_TIMEOUT_S = 120.0
MAX_MESSAGE = 1 << 16


def enabled() -> bool:
    return os.environ.get(SWITCH_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


class Forked:
    """A worker forked by the server; its exit status comes from the server's reaper."""

    def __init__(self, server: ForkServer, pid: int) -> None:
        self.server = server
        self.pid = pid
        self.returncode: int | None = None
        #: the server died before this fork ended: its exit status is unknown
        self.status_lost = False

    def poll(self) -> int | None:
        if self.returncode is None:
            self.server.update(self)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        code = self.server.wait_for(self, timeout)
        if code is None:
            raise subprocess.TimeoutExpired(f"fork {self.pid}", timeout or 0.0)
        return code

    def kill(self) -> None:
        if self.poll() is not None:
            return
        for kill in (os.killpg, os.kill):
            try:
                kill(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


class ForkServer:
    """The server process and the thread that reads its messages."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        #: the server's own TMPDIR (removed with it); forks get theirs from the caller
        self.tmp = Path(tempfile.mkdtemp(prefix="model-contract-forkserver-"))
        self.log = tempfile.TemporaryFile(mode="w+b", dir=self.tmp)
        env = dict(os.environ, TMPDIR=str(self.tmp))
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "harness.forkserver.server", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=self.log,
                stderr=self.log, env=env, start_new_session=True,
                cwd=str(Path(__file__).resolve().parents[2]))
        except BaseException:
            ours.close()
            theirs.close()
            self.log.close()
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise
        theirs.close()
        self.sock = ours
        self.lock = threading.Lock()  # one request on the socket at a time
        self.changed = threading.Condition()
        self.ready = False
        self.dead = False
        self.stopping = False
        self.preloaded: list[str] = []
        self.replies: dict[int, tuple[str, Any]] = {}
        self.exits: dict[int, int] = {}
        self.forks: dict[int, Forked] = {}
        self.ids = itertools.count()
        self.reader = threading.Thread(target=self._read, name="model-contract-forkserver",
                                       daemon=True)
        self.reader.start()
        log.debug("fork server started (pid %d)", self.proc.pid)

    # ---------------------------------------------------------------- messages
    def _read(self) -> None:
        try:
            while True:
                data = self.sock.recv(MAX_MESSAGE)
                if not data:
                    break
                message = pickle.loads(data)
                with self.changed:
                    if message[0] == "ready":
                        self.ready, self.preloaded = True, list(message[1])
                    elif message[0] in ("forked", "refused"):
                        self.replies[message[1]] = (message[0], message[2])
                    elif message[0] == "exit":
                        self.exits[message[1]] = message[2]
                    self.changed.notify_all()
        except (OSError, EOFError, pickle.UnpicklingError):
            pass
        with self.changed:
            self.dead = True
            self.changed.notify_all()
        if not self.stopping:
            try:
                code: int | str = self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                code = "its socket closed"
            log.debug("fork server (pid %d) died (%s); workers will be forked from a fresh "
                      "one, or spawned", self.proc.pid, code)

    def alive(self) -> bool:
        return not self.dead and self.proc.poll() is None

    def spawn(self, worker: str, argv: Sequence[str], *, stdout: int, stderr: int,
              env: dict[str, str], cwd: str, fds: Sequence[int] = ()) -> Forked | None:
        """Fork ``worker`` (a name of :data:`harness.forkserver.server.WORKERS`) with ``argv``
        (``"{fd[N]}"`` for the N-th of ``fds``); ``None`` if the server cannot."""
        with self.changed:
            if not self.changed.wait_for(lambda: self.ready or self.dead, READY_TIMEOUT_S) \
                    or self.dead:
                return None
        request_id = next(self.ids)
        devnull = os.open(os.devnull, os.O_RDONLY)
        try:
            with self.lock:
                socket.send_fds(self.sock, [pickle.dumps((request_id, worker, list(argv), env,
                                                          cwd))],
                                [devnull, stdout, stderr, *fds])
        except OSError as exc:
            log.debug("fork server unreachable: %s", exc)
            return None
        finally:
            os.close(devnull)
        with self.changed:
            self.changed.wait_for(lambda: request_id in self.replies or self.dead,
                                  READY_TIMEOUT_S)
            kind, value = self.replies.pop(request_id, ("refused", "the fork server died"))
            if kind != "forked":
                log.debug("fork server refused %s: %s", worker, value)
                return None
            forked = Forked(self, value)
            self.forks[value] = forked
            return forked

    def update(self, forked: Forked) -> None:
        with self.changed:
            self._settle(forked)

    def _settle(self, forked: Forked) -> None:
        if forked.pid in self.exits:
            forked.returncode = self.exits.pop(forked.pid)
            self.forks.pop(forked.pid, None)
        elif self.dead and not _running(forked.pid):
            # Reaped by someone else once the server died: the status went with the server.
            forked.returncode, forked.status_lost = -signal.SIGKILL, True
            self.forks.pop(forked.pid, None)

    def wait_for(self, forked: Forked, timeout: float | None) -> int | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.changed:
            while True:
                self._settle(forked)
                if forked.returncode is not None:
                    return forked.returncode
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                # Once the server is dead no message comes: look at /proc now and then.
                self.changed.wait(0.05 if self.dead else left)

    def stop(self, *, kill_forks: bool = True) -> None:
        """Close the socket (the server kills its forks and exits), then reap it.

        ``kill_forks=False`` for a server that died: its forks live on (their owners stop
        them, as they would stop spawned workers)."""
        self.stopping = True
        if kill_forks:
            for forked in list(self.forks.values()):
                forked.kill()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            self.proc.wait()
        self.reader.join(timeout=5)
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        log.debug("fork server stopped (pid %d)", self.proc.pid)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(") ", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


#: the server of this process (pid of the owner, server)
_CURRENT: dict[str, tuple[int, ForkServer]] = {}
#: pid of the process whose run wants a server started at its first fork (:func:`start_for`)
_WANTED: dict[str, int] = {}
_CURRENT_LOCK = threading.Lock()


def start() -> ForkServer | None:
    """The server of this process, started now unless it runs (or is turned off)."""
    if not enabled():
        return None
    with _CURRENT_LOCK:
        owner, server = _CURRENT.get("server", (-1, None))
        if server is not None and owner == os.getpid() and server.alive():
            return server
        if server is not None and owner == os.getpid():
            log.debug("fork server (pid %d) died; starting a fresh one", server.proc.pid)
            _stop_quietly(server)
        try:
            server = ForkServer()
        except OSError as exc:
            log.debug("fork server could not start (%s); workers are spawned", exc)
            _CURRENT.pop("server", None)
            return None
        _CURRENT["server"] = (os.getpid(), server)
        return server


def start_for(context: RunContext, *, now: bool = True) -> bool:
    """A server for the run ``context`` (its closers stop it): started ``now``, or at the
    first fork (a run that might convert: it starts only if a converter does run).
    Whether the run has one."""
    def make() -> bool:
        if not enabled():
            return False
        context.closers.add(stop)
        return True

    if not context.once(("forkserver",), make):
        return False
    with _CURRENT_LOCK:
        _WANTED["pid"] = os.getpid()
    return start() is not None if now else True


def current() -> ForkServer | None:
    """The running server of this process: started if the run wants one and it has none
    yet, replaced if it died; ``None`` if the run wants none."""
    with _CURRENT_LOCK:
        owner, server = _CURRENT.get("server", (-1, None))
        wanted = _WANTED.get("pid") == os.getpid()
    if server is not None and owner == os.getpid() and server.alive():
        return server
    return start() if wanted else None


def stop() -> None:
    """Stop this process's server (the run's closers call it)."""
    with _CURRENT_LOCK:
        owner, server = _CURRENT.pop("server", (-1, None))
        _WANTED.pop("pid", None)
    if server is not None and owner == os.getpid():
        server.stop()


def _stop_quietly(server: ForkServer) -> None:
    try:
        server.stop(kill_forks=False)
    except Exception:  # noqa: BLE001 - a dead server's leftovers
        pass


def spawn(worker: str, argv: Sequence[str], *, stdout: int, stderr: int, env: dict[str, str],
          cwd: str, fds: Sequence[int] = ()) -> Forked | None:
    """A fork of ``worker`` from this process's server, or ``None`` (then spawn as before)."""
    server = current()
    if server is None:
        return None
    forked = server.spawn(worker, argv, stdout=stdout, stderr=stderr, env=env, cwd=cwd, fds=fds)
    if forked is None:
        log.debug("no fork for %s: spawning it instead", worker)
    else:
        log.debug("forked %s as pid %d", worker, forked.pid)
    return forked


__all__ = ["ForkServer", "Forked", "SWITCH_ENV", "current", "enabled", "spawn", "start", "start_for", "stop"]
