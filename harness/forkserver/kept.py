"""The fork server kept between runs (``--keep-warm``): where it lives, which one fits a run,
starting it, finding it, stopping it.

A run with ``--keep-warm`` (or ``$MODEL_CONTRACT_KEEP_WARM=1``) does not start a fork server
of its own: it connects to the kept server of its user that matches it, and starts that one
when none runs. The kept server (``python -m harness.forkserver.server --listen``) imported
TensorFlow once; every run that connects gets a server of its own forked from it, so a
later run pays no TensorFlow import, and everything else stays as with a server per run:
a worker is a fork with its own session, temporary folder, limits and logs; a crash ends
one worker; no model is loaded before the run's op-policy scan, and never by the server.

Which server fits a run is a key over what the imports depend on: the Python executable,
the harness' own source files (names, sizes, times), the installed TensorFlow, tf2onnx,
Keras, NumPy and ONNX packages, and the environment variables read at import
(``TF_*``, ``PYTHON*``, ``LD_*``, threads). Another checkout, an upgrade or a changed
variable gets another server; the old one ends after its idle time.

The folder: ``$MODEL_CONTRACT_WARM_DIR``, else ``$XDG_RUNTIME_DIR/model-contract``, else
``model-contract-warm-UID`` in the temporary folder. It must belong to the user and be
closed to everyone else (mode 0700; made so when created): whoever can connect can have a
worker forked. The server also checks each peer's user id. Per key it holds ``KEY.sock``,
``KEY.json`` (pid, start, idle time), ``KEY.log`` (the server's own output) and ``KEY.lock``.
A server started for a key stops the running ones of the same checkout and Python under
another key (their code or packages changed since): they would only hold memory.

``$MODEL_CONTRACT_KEEP_WARM_IDLE`` sets the seconds a kept server waits for the next run
(default 900); ``model-contract warm`` lists the kept servers, ``model-contract warm stop``
stops them.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

#: the harness package of this checkout (or installation): part of the key, and what
#: ``model-contract warm`` shows each server serving
HARNESS = Path(__file__).resolve().parents[1]
#: set to 1 to keep the fork server between runs without the option
KEEP_ENV = "MODEL_CONTRACT_KEEP_WARM"
#: seconds a kept server waits for the next run before it exits
IDLE_ENV = "MODEL_CONTRACT_KEEP_WARM_IDLE"
DEFAULT_IDLE_S = 900.0
#: the folder of the kept servers (else $XDG_RUNTIME_DIR/model-contract, else tmp)
DIR_ENV = "MODEL_CONTRACT_WARM_DIR"
#: seconds a run waits for a kept server it started to finish its imports
START_TIMEOUT_S = 120.0
#: the longest path a Unix socket can have on Linux (sun_path, with its NUL)
MAX_SOCKET_PATH = 107
#: the server binds ``KEY.sock.PID`` first, then renames it: room for that suffix
STAGING = 8
#: packages whose installed version is part of the key (found, never imported)
PACKAGES = ("tensorflow", "tf2onnx", "keras", "tf_keras", "numpy", "onnx", "ml_dtypes")
#: environment variables read while importing: part of the key
ENV_PREFIXES = ("TF_", "PYTHON", "LD_", "CUDA", "OMP_", "KMP_", "MKL_", "XLA_", "OPENBLAS_")


class Unavailable(Exception):
    """No kept server can serve this run; the message says why (the run uses a server of
    its own instead)."""


def wanted(option: bool) -> bool:
    """``--keep-warm``, or ``$MODEL_CONTRACT_KEEP_WARM`` set to a true value."""
    return option or os.environ.get(KEEP_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def idle_seconds() -> float:
    text = os.environ.get(IDLE_ENV, "").strip()
    if not text:
        return DEFAULT_IDLE_S
    try:
        value = float(text)
    except ValueError:
        raise Unavailable(f"${IDLE_ENV}={text!r} is not a number of seconds") from None
    if not value > 0:
        raise Unavailable(f"${IDLE_ENV}={text!r} must be more than 0 seconds")
    return value


def folder() -> Path:
    """The user's folder of kept servers, made if missing; :class:`Unavailable` if anyone
    else could reach into it."""
    given = os.environ.get(DIR_ENV)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if given:
        path = Path(given)
    elif runtime and Path(runtime).is_dir():
        path = Path(runtime) / "model-contract"
    else:
        path = Path(tempfile.gettempdir()) / f"model-contract-warm-{os.getuid()}"
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(path)
    except OSError as exc:
        raise Unavailable(f"{path}: cannot make the folder of kept servers ({exc})") from None
    if not stat.S_ISDIR(info.st_mode):
        raise Unavailable(f"{path}: not a folder (a link or a file); kept servers need a "
                          f"folder of your own (set ${DIR_ENV})")
    if info.st_uid != os.getuid():
        raise Unavailable(f"{path}: belongs to user id {info.st_uid}, not to you; kept "
                          f"servers need a folder of your own (set ${DIR_ENV})")
    if info.st_mode & 0o077:
        raise Unavailable(f"{path}: others may enter it (mode {stat.S_IMODE(info.st_mode):o}); "
                          f"anyone who can reach a kept server's socket can have a worker "
                          f"forked, so it must be 0700: chmod 700 {path}")
    return path


def _package_stamp(name: str) -> list[object]:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return [name, None]
    if spec is None:
        return [name, None]
    places: list[str | None] = list(spec.submodule_search_locations or []) or [spec.origin]
    stamps: list[object] = [name]
    for place in places:
        try:
            info = os.stat(place) if place else None
        except OSError:
            info = None
        stamps.append([place, info and (info.st_ino, info.st_mtime_ns)])
    return stamps


def key() -> str:
    """Which kept server fits this process (see the module's text): 16 hex digits."""
    sources = []
    for path in sorted(HARNESS.rglob("*.py")):
        info = path.stat()
        sources.append([str(path.relative_to(HARNESS)), info.st_size, info.st_mtime_ns])
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith(ENV_PREFIXES))
    parts = {"python": [os.path.realpath(sys.executable), sys.version, sys.prefix],
             "harness": [str(HARNESS), sources], "packages": [_package_stamp(p) for p in PACKAGES],
             "env": env}
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Place:
    """The files of one kept server."""

    folder: Path
    key: str

    @property
    def socket(self) -> Path:
        return self.folder / f"{self.key}.sock"

    @property
    def info(self) -> Path:
        return self.folder / f"{self.key}.json"

    @property
    def log(self) -> Path:
        return self.folder / f"{self.key}.log"

    @property
    def lock(self) -> Path:
        return self.folder / f"{self.key}.lock"


def place() -> Place:
    """Where the kept server of this process lives; :class:`Unavailable` if it cannot."""
    spot = Place(folder(), key())
    if len(os.fsencode(spot.socket)) + STAGING > MAX_SOCKET_PATH:
        raise Unavailable(f"{spot.socket}: too long for a Unix socket's path (at most "
                          f"{MAX_SOCKET_PATH - STAGING} bytes here); set ${DIR_ENV} to a "
                          f"shorter folder")
    return spot


def _connect(path: Path) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        return None
    return sock


def _log_tail(path: Path, limit: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:].strip()
    except OSError:
        return ""


class Starting:
    """A connection to the kept server being made: :meth:`connect` finds the server, or
    starts it and waits for its imports (call it off the run's main thread)."""

    def __init__(self, spot: Place, idle_s: float) -> None:
        self.spot = spot
        self.idle_s = idle_s
        #: the pid of the kept server this run started, if it started one
        self.started: int | None = None

    def connect(self, timeout: float = START_TIMEOUT_S) -> socket.socket:
        sock = _connect(self.spot.socket)
        if sock is not None:
            return sock
        with open(self.spot.lock, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one run starts it; the others wait and connect
            sock = _connect(self.spot.socket)
            if sock is not None:
                return sock
            return self._start_and_connect(timeout)

    def _start_and_connect(self, timeout: float) -> socket.socket:
        for stale in servers():
            # The same checkout and Python with another key: its code or packages changed
            # since. Runs connected to it finish; it stops listening now, not in 15 minutes.
            if stale.running and stale.key != self.spot.key and stale.python == sys.executable \
                    and stale.harness == str(HARNESS):
                _terminate(stale.pid)
        env = dict(os.environ)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        with open(self.spot.log, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "harness.forkserver.server", "--listen",
                 str(self.spot.folder), self.spot.key, repr(self.idle_s)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                start_new_session=True, cwd=str(HARNESS.parent))
        self.started = proc.pid
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise Unavailable(f"the kept fork server exited ({proc.returncode}) while "
                                  f"starting; its output ({self.spot.log}): "
                                  f"{_log_tail(self.spot.log) or 'none'}")
            sock = _connect(self.spot.socket)
            if sock is not None:
                # It is this process' child: reap it if it ends (idle, stopped) while this
                # process lives, so no zombie is left behind; nothing else waits for it.
                threading.Thread(target=proc.wait, name="model-contract-kept-reaper",
                                 daemon=True).start()
                return sock
            time.sleep(0.02)
        _terminate(proc.pid)
        raise Unavailable(f"the kept fork server did not start within {timeout:.0f} s; "
                          f"its output ({self.spot.log}): {_log_tail(self.spot.log) or 'none'}")


def starting(idle_s: float | None = None) -> Starting:
    """The connection of this run to its kept server, not made yet; :class:`Unavailable`
    (at once) when the folder or the settings do not allow one."""
    return Starting(place(), idle_s if idle_s is not None else idle_seconds())


@dataclass(frozen=True)
class Kept:
    """A kept server as its files tell it."""

    place: Place
    pid: int
    started: float
    idle_s: float
    python: str
    harness: str
    running: bool

    @property
    def key(self) -> str:
        return self.place.key


def _is_kept_server(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"harness.forkserver.server" in command and b"--listen" in command


def servers() -> list[Kept]:
    """The kept servers in the user's folder (one whose process is gone: ``running`` False)."""
    found = []
    base = folder()
    for info in sorted(base.glob("*.json")):
        try:
            data = json.loads(info.read_text("utf-8"))
            pid = int(data["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        found.append(Kept(place=Place(base, info.stem), pid=pid,
                          started=float(data.get("started", 0)),
                          idle_s=float(data.get("idle_s", 0)), python=str(data.get("python")),
                          harness=str(data.get("harness")), running=_is_kept_server(pid)))
    return found


def _terminate(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        pass


def stop_all(wait_s: float = 10.0) -> list[Kept]:
    """Stop every kept server of the user (SIGTERM: each stops listening and exits; runs
    connected to it finish); the ones stopped. Files of servers that are gone are removed."""
    stopped = []
    for kept in servers():
        if kept.running:
            _terminate(kept.pid)
            stopped.append(kept)
        else:
            for leftover in (kept.place.socket, kept.place.info):
                leftover.unlink(missing_ok=True)
    deadline = time.monotonic() + wait_s
    while any(_is_kept_server(k.pid) for k in stopped) and time.monotonic() < deadline:
        time.sleep(0.05)
    for kept in stopped:
        if _is_kept_server(kept.pid):
            try:
                os.kill(kept.pid, signal.SIGKILL)
            except OSError:
                pass
    return stopped


__all__ = ["DEFAULT_IDLE_S", "DIR_ENV", "IDLE_ENV", "KEEP_ENV", "Kept", "Place", "Starting",
           "Unavailable", "folder", "idle_seconds", "key", "place", "servers", "starting",
           "stop_all", "wanted"]
