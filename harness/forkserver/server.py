"""The fork server's own process: ``python -m harness.forkserver.server SOCKET_FD``.

It imports TensorFlow (quietly, :func:`harness.backends.tf_import.import_tensorflow`) and
tf2onnx before any thread of its own starts, loads no model, and then forks, on request,
the workers that today start with ``python -m WORKER``: the isolated backend's worker and
the TFLite/ONNX converters. A fork pays no import.

One request per datagram on the Unix socket ``SOCKET_FD`` (``SOCK_SEQPACKET``): a pickled
``(request_id, worker, argv, env, cwd)`` with file descriptors attached (SCM_RIGHTS):
stdin, stdout, stderr, then the worker's own (its pipes); ``"{fd:N}"`` in ``argv`` stands
for the N-th of those (counting from 0 after stderr). The fork starts a new session (its own
process group, killed as one), takes the descriptors as 0/1/2, the environment ``env``
(its own ``TMPDIR``) and ``cwd``, and runs ``WORKERS[worker]``'s ``main(argv)``.

Messages back, one per datagram, pickled: ``("ready", preloaded)`` once the imports are
done, ``("forked", request_id, pid)`` or ``("refused", request_id, message)`` for each
request, and ``("exit", pid, returncode)`` when a fork ends (negative: the signal that
killed it, as :mod:`subprocess` reports it). A fork that crashes ends only itself.

The server stops when the socket closes (the run ended, or the parent died): it kills the
forks still running first, so none outlives the run.

``python -m harness.forkserver.server --listen FOLDER KEY IDLE_S`` is the kept server of
:mod:`harness.forkserver.kept` (``--keep-warm``): it imports as above once, then listens on
the Unix socket ``FOLDER/KEY.sock`` (``SOCK_SEQPACKET``) for runs of the same user. Each connection gets
a server of its own, forked from the listener with the imports done, which says ``ready`` at
once and then behaves exactly as above on that connection (its forks die with the
connection). The listener never loads a model, runs no request itself and starts no thread;
it exits after ``IDLE_S`` seconds with no connection open, or on SIGTERM (``model-contract
warm stop``), removing its socket and its files; servers still serving a run finish it.
"""

from __future__ import annotations

import importlib
import json
import os
import pickle
import select
import shutil
import signal
import socket
import struct
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Iterator

from harness.forkserver import kept

#: worker name -> the module whose ``main(argv)`` the fork runs
WORKERS: dict[str, str] = {
    "backend": "harness.backends.worker",
    "export": "harness.exports.worker",
}

#: what the server imports before it forks anything: ``module:function`` to call, or a module
PRELOADS: tuple[str, ...] = ("harness.backends.tf_import:import_tensorflow", "tf2onnx",
                             "harness.backends.worker", "harness.exports.worker")

#: at most this many descriptors travel with one request
MAX_FDS = 8
MAX_MESSAGE = 1 << 20


def preload() -> list[str]:
    """Import :data:`PRELOADS`; the names imported (a missing optional one is skipped)."""
    done = []
    for entry in PRELOADS:
        module, _, function = entry.partition(":")
        try:
            loaded = importlib.import_module(module)
            if function:
                getattr(loaded, function)()
        except Exception:  # noqa: BLE001 - a fork then imports it itself, or reports why not
            continue
        done.append(entry)
    return done


def send(sock: socket.socket, message: tuple[Any, ...]) -> None:
    sock.send(pickle.dumps(message))


def run_fork(worker: str, argv: list[str], env: dict[str, str], cwd: str,
             fds: list[int]) -> None:
    """In the forked child: become the worker; never returns."""
    code = 1
    try:
        os.setsid()
        for target, fd in enumerate(fds[:3]):
            os.dup2(fd, target)
        extra = fds[3:]
        for fd in fds[:3]:
            if fd > 2 and fd not in extra:
                os.close(fd)
        argv = [arg.format(fd=extra) if arg.startswith("{fd") else arg for arg in argv]
        os.environ.clear()
        os.environ.update(env)
        tempfile.tempdir = None  # the fork's own TMPDIR, not a folder the server looked up
        os.chdir(cwd)
        try:
            with open("/proc/self/comm", "w", encoding="ascii") as comm:
                comm.write(f"mc-{worker}")  # what `ps` shows for it
        except OSError:
            pass
        sys.argv = [WORKERS[worker], *argv]
        result = importlib.import_module(WORKERS[worker]).main(argv)
        code = result if isinstance(result, int) else 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - told on the fork's stderr, as a spawned worker would
        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)  # never the server's code after this point; skip TF's teardown


def _returncode(status: int) -> int:
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _wake_on_child_exit() -> tuple[int, int]:
    """A pipe that SIGCHLD writes to (``signal.set_wakeup_fd``), so a ``select`` loop wakes
    when a fork ends; (read end, write end)."""
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    os.set_blocking(wake_read, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_write)
    return wake_read, wake_write


def _drain(wake_read: int) -> None:
    try:
        os.read(wake_read, 4096)
    except BlockingIOError:
        pass


def _leave_loop(wake: tuple[int, int], *sockets: socket.socket) -> None:
    """In a fork of a serving loop: drop the loop's wake-up pipe and sockets."""
    signal.set_wakeup_fd(-1)
    for fd in wake:
        os.close(fd)
    for sock in sockets:
        sock.close()


def _reaped(running: set[int]) -> Iterator[tuple[int, int]]:
    """(pid, wait status) of each fork in ``running`` that has ended, removed from it."""
    while running:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        running.discard(pid)
        yield pid, status


def serve(sock: socket.socket) -> None:
    wake = _wake_on_child_exit()
    running: set[int] = set()
    try:
        while True:
            ready, _, _ = select.select([sock.fileno(), wake[0]], [], [])
            if wake[0] in ready:
                _drain(wake[0])
            _reap(sock, running)
            if sock.fileno() not in ready:
                continue
            try:
                data, fds, _flags, _addr = socket.recv_fds(sock, MAX_MESSAGE, MAX_FDS)
            except InterruptedError:
                continue
            if not data:
                return  # the parent closed its end: the run is over
            request_id, worker, argv, env, cwd = pickle.loads(data)
            if worker not in WORKERS or len(fds) < 3:
                send(sock, ("refused", request_id, f"unknown worker {worker!r}"))
                for fd in fds:
                    os.close(fd)
                continue
            try:
                pid = os.fork()
            except OSError as exc:
                send(sock, ("refused", request_id, f"fork failed: {exc}"))
                for fd in fds:
                    os.close(fd)
                continue
            if pid == 0:
                _leave_loop(wake, sock)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.default_int_handler)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                run_fork(worker, argv, env, cwd, fds)
            for fd in fds:
                os.close(fd)
            running.add(pid)
            send(sock, ("forked", request_id, pid))
    finally:
        for pid in running:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def _reap(sock: socket.socket, running: set[int]) -> None:
    for pid, status in _reaped(running):
        try:
            send(sock, ("exit", pid, _returncode(status)))
        except OSError:
            pass


def _serve_connection(sock: socket.socket, loaded: list[str]) -> None:
    """The server of one run's connection (the run's own server, or a kept server's fork
    for one run): ready, then :func:`serve`; never returns."""
    try:
        send(sock, ("ready", loaded))
        serve(sock)
    except (BrokenPipeError, ConnectionResetError):
        pass
    except BaseException:  # noqa: BLE001 - told in the listener's log; the run sees it closed
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _peer_uid(sock: socket.socket) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[2]


def listen(spot: kept.Place, idle_s: float) -> None:
    """The kept server: import, listen on ``spot.socket``, fork a server per connection,
    exit after ``idle_s`` seconds without one (or on SIGTERM). Never returns; whatever it
    made (its temporary folder, socket and info file) is removed on every way out."""
    path, info = str(spot.socket), str(spot.info)
    staged, info_staged = f"{path}.{os.getpid()}", f"{info}.{os.getpid()}"
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    # Its own temporary folder, beside the socket (forks get theirs from each request).
    tmp = os.environ["TMPDIR"] = tempfile.mkdtemp(prefix=f"{spot.key}-", dir=spot.folder)
    tempfile.tempdir = None
    bound: int | None = None
    try:
        loaded = preload()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        listener.bind(staged)
        listener.listen(16)
        os.rename(staged, path)  # atomic: a client connects to a server that is ready, or none
        bound = os.stat(path).st_ino
        with open(info_staged, "w", encoding="utf-8") as out:
            json.dump({"pid": os.getpid(), "started": time.time(), "idle_s": idle_s,
                       "python": sys.executable, "harness": str(kept.HARNESS),
                       "preloaded": loaded}, out)
        os.rename(info_staged, info)
        _accept(listener, loaded, idle_s, stopping)
    except BaseException:  # noqa: BLE001 - told in its log (the run that started it reads it)
        traceback.print_exc()
    finally:
        _remove_own(staged, info_staged)
        if bound is not None:
            _remove_own(*([path] if _inode(path) == bound else []))
            if _pid_in(info) == os.getpid():
                _remove_own(info)
        shutil.rmtree(tmp, ignore_errors=True)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0 if bound is not None else 1)


def _accept(listener: socket.socket, loaded: list[str], idle_s: float,
            stopping: list[int]) -> None:
    """The kept server's loop: a server forked per connection, until ``idle_s`` seconds
    pass with none, or ``stopping`` (SIGTERM)."""
    wake = _wake_on_child_exit()
    servers: set[int] = set()
    last = time.monotonic()
    while not stopping:
        left = None if servers else idle_s - (time.monotonic() - last)
        if left is not None and left <= 0:
            return
        ready, _, _ = select.select([listener.fileno(), wake[0]], [], [], left)
        if wake[0] in ready:
            _drain(wake[0])
        for _ in _reaped(servers):
            last = time.monotonic()
        if listener.fileno() not in ready or stopping:
            continue
        try:
            conn, _addr = listener.accept()
        except (InterruptedError, BlockingIOError, ConnectionAbortedError):
            continue
        if _peer_uid(conn) != os.getuid():
            conn.close()  # the folder is the user's own; this is a second lock
            continue
        try:
            pid = os.fork()
        except OSError:
            conn.close()
            continue
        if pid == 0:
            _leave_loop(wake, listener)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            _serve_connection(conn, loaded)
        conn.close()
        servers.add(pid)
        last = time.monotonic()


def _inode(path: str) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def _pid_in(info: str) -> int | None:
    try:
        return int(json.loads(Path(info).read_text("utf-8")).get("pid"))
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def _remove_own(*paths: str) -> None:
    for path in paths:
        try:
            os.unlink(path)
        except OSError:
            pass


def main(argv: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops it, not the terminal's ^C
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if argv[:1] == ["--listen"]:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        listen(kept.Place(Path(argv[1]), argv[2]), float(argv[3]))
    sock = socket.socket(fileno=int(argv[0]))
    _serve_connection(sock, preload())


if __name__ == "__main__":
    main(sys.argv[1:])
