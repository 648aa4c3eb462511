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

With ``--keep-warm`` the run connects to the user's kept server instead
(:mod:`harness.forkserver.kept`), starting it if none fits: the connection is served exactly
as a server of the run's own would serve it, and only the connection ends with the run.
When no kept server can be had (the folder is not the user's own, it failed to start) the
run says why in a warning and starts a server of its own.
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
import warnings
from pathlib import Path
from typing import Any, Sequence

from harness.context import RunContext
from harness.forkserver import kept as kept_servers

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


class KeepWarmWarning(UserWarning):
    """``--keep-warm`` could not be honoured; the run used a fork server of its own."""


class ForkServer:
    """The server process and the thread that reads its messages.

    ``kept``: connect to the user's kept server (:mod:`harness.forkserver.kept`) instead of
    starting a process of the run's own; the thread makes the connection (starting the kept
    server when none runs), so the run goes on meanwhile."""

    def __init__(self, kept: kept_servers.Starting | None = None) -> None:
        self.kept = kept
        self.proc: subprocess.Popen[bytes] | None = None
        self.tmp: Path | None = None
        self.log: Any = None
        self.sock: socket.socket | None = None
        #: why the kept server could not serve this run (then the run starts its own)
        self.unavailable: str | None = None
        if kept is None:
            self._start_own()
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
        if self.proc is not None:
            log.debug("fork server started (pid %d)", self.proc.pid)

    def _start_own(self) -> None:
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

    def _connect_kept(self) -> bool:
        """In the reader thread: the connection to the kept server; False if none."""
        assert self.kept is not None
        try:
            sock = self.kept.connect()
        except (kept_servers.Unavailable, OSError) as exc:
            self.unavailable = str(exc)
            log.warning("--keep-warm: %s; this run starts a fork server of its own", exc)
            return False
        with self.changed:
            if self.stopping:
                sock.close()
                return False
            self.sock = sock
        if self.kept.started is not None:
            log.debug("kept fork server started (pid %d)", self.kept.started)
        return True

    # ---------------------------------------------------------------- messages
    def _read(self) -> None:
        if self.kept is not None and not self._connect_kept():
            with self.changed:
                self.dead = True
                self.changed.notify_all()
            return
        assert self.sock is not None
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
        if not self.stopping and self.proc is not None:
            try:
                code: int | str = self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                code = "its socket closed"
            log.debug("fork server (pid %d) died (%s); workers will be forked from a fresh "
                      "one, or spawned", self.proc.pid, code)
        elif not self.stopping:
            log.debug("the kept fork server closed this run's connection; workers will be "
                      "forked from a fresh server, or spawned")

    def alive(self) -> bool:
        return not self.dead and (self.proc is None or self.proc.poll() is None)

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> bool:
        """Wait until the server has its imports done (True) or is dead (False)."""
        with self.changed:
            return self.changed.wait_for(lambda: self.ready or self.dead, timeout) \
                and not self.dead

    def spawn(self, worker: str, argv: Sequence[str], *, stdout: int, stderr: int,
              env: dict[str, str], cwd: str, fds: Sequence[int] = ()) -> Forked | None:
        """Fork ``worker`` (a name of :data:`harness.forkserver.server.WORKERS`) with ``argv``
        (``"{fd[N]}"`` for the N-th of ``fds``); ``None`` if the server cannot."""
        if not self.wait_ready():
            return None
        request_id = next(self.ids)
        devnull = os.open(os.devnull, os.O_RDONLY)
        try:
            assert self.sock is not None
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
        them, as they would stop spawned workers). A kept server only loses this run's
        connection (the server it forked for the run exits)."""
        with self.changed:
            self.stopping = True
            sock = self.sock
        if kill_forks:
            for forked in list(self.forks.values()):
                forked.kill()
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        if self.proc is not None:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except OSError:
                    pass
                self.proc.wait()
        if self.kept is None or sock is not None:
            self.reader.join(timeout=5)
        if self.log is not None:
            self.log.close()
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
        log.debug("fork server stopped (%s)", self.describe())

    def describe(self) -> str:
        return (f"pid {self.proc.pid}" if self.proc is not None
                else "this run's connection to the kept server")


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(") ", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


#: the server of this process (pid of the owner, server)
_CURRENT: dict[str, tuple[int, ForkServer]] = {}
#: pid of the process whose run wants a server started at its first fork (:func:`start_for`),
#: and ("keep") whether that run keeps it warm between runs (``--keep-warm``)
_WANTED: dict[str, int] = {}
#: why --keep-warm could not be honoured in this process' run (told once, then a server of
#: the run's own is used; forgotten when the run ends)
_KEPT_FAILED: dict[int, str] = {}
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
            if server.unavailable is not None:
                _give_up_kept(server.unavailable)
            else:
                log.debug("fork server (%s) died; starting a fresh one", server.describe())
            _stop_quietly(server)
        try:
            server = ForkServer(_kept_starting())
        except OSError as exc:
            log.debug("fork server could not start (%s); workers are spawned", exc)
            _CURRENT.pop("server", None)
            return None
        _CURRENT["server"] = (os.getpid(), server)
        return server


def _kept_starting() -> kept_servers.Starting | None:
    """The kept server to connect to if this run keeps one warm (and it can), else None."""
    if _WANTED.get("keep") != os.getpid() or os.getpid() in _KEPT_FAILED:
        return None
    try:
        return kept_servers.starting()
    except kept_servers.Unavailable as exc:
        _give_up_kept(str(exc))
        return None


def _give_up_kept(reason: str) -> None:
    """No kept server for the rest of this run: remember why, and warn with it."""
    _KEPT_FAILED[os.getpid()] = reason
    warnings.warn(KeepWarmWarning(f"--keep-warm: {reason}; this run used a fork server of its "
                                  f"own (TensorFlow imported once for the run)"), stacklevel=3)


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
        if kept_servers.wanted(context.options.keep_warm):
            _WANTED["keep"] = os.getpid()
        else:
            _WANTED.pop("keep", None)
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


def wait_ready() -> None:
    """Wait until this process's server (if the run wants one) has its imports done, or
    died: a fork asked for then is quick (:meth:`ForkServer.spawn` would wait the same)."""
    server = current()
    if server is not None:
        server.wait_ready()


def stop() -> None:
    """Stop this process's server (the run's closers call it)."""
    with _CURRENT_LOCK:
        owner, server = _CURRENT.pop("server", (-1, None))
        _WANTED.pop("pid", None)
        _WANTED.pop("keep", None)
        _KEPT_FAILED.pop(os.getpid(), None)  # the next run (a Ray worker's) tries again
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


__all__ = ["ForkServer", "Forked", "KeepWarmWarning", "SWITCH_ENV", "current", "enabled", "spawn", "start", "start_for", "stop", "wait_ready"]
