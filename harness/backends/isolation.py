"""Run any backend in a child process with a time and a memory limit.

TensorFlow aborts the whole process on some bad inputs (a conv fed a tensor of the wrong
rank trips a C++ CHECK), converters and runtimes can hang or exhaust memory. An
:class:`IsolatedBackend` keeps that out of the pytest session: it runs the real backend
in a child running :mod:`harness.backends.worker` (forked from the run's fork server,
:mod:`harness.forkserver`, when the backend needs TensorFlow and the server runs; else
``python -m harness.backends.worker``) and turns a crash, a time-out or a memory overrun
into :class:`BackendCrashed`, a failure of the check that made the call. The next call
starts a fresh child.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from harness.backends.base import Backend, InferenceError
from harness.backends.mapped import Layout, Reader, Writer, split
from harness.context import RunContext
from harness.contract.model import Contract, SignatureSpec
from harness.errors import HarnessError
from harness.forkserver import client as forkserver
from harness.interface.model import SignatureInterface
from harness.savedmodel.layout import ModelRef

#: Defaults; a backend call or load taking longer, or a child using more memory, fails.
CALL_TIMEOUT_S = 120.0
ACTIVATE_TIMEOUT_S = 600.0
MEMORY_LIMIT_MB = 8192


class BackendCrashed(InferenceError):
    """The backend's process died (abort, segfault, killed) or overran its limits."""


class _Remote(Exception):
    """An error the child reported; its text is the child's one-line message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the process was killed by {name}"
    return f"the process exited with status {code}"


def remove_tree(root: Path) -> None:
    """Remove a folder that may hold read-only copies."""
    for folder, _dirs, _files in os.walk(root):
        try:
            os.chmod(folder, 0o700)
        except OSError:
            pass
    shutil.rmtree(root, ignore_errors=True)


def _kill(proc: "subprocess.Popen[bytes] | forkserver.Forked", wait_s: float = 10.0) -> None:
    """Kill a worker and its process group, and wait up to ``wait_s`` for it to end."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.kill()  # a fork killed before its own setsid has no process group yet
    try:
        proc.wait(timeout=wait_s)
    except subprocess.TimeoutExpired:
        pass


#: seconds the program's exit waits for each worker left running (see :func:`_reap`)
REAP_WAIT_S = 2.0


def _reap(proc: "subprocess.Popen[bytes] | forkserver.Forked", tmp: Path) -> None:
    """A :class:`Child` never stopped, at the program's exit (a script that used the engine
    and ended on an exception before ``close()``): its worker killed, and its folder, which
    holds the model's hermetic copy, removed. A stopped child has done both already."""
    _kill(proc, REAP_WAIT_S)
    remove_tree(tmp)


class Child:
    """One worker process and its two pipes.

    ``preload`` names a runtime the worker imports as soon as it starts (``tensorflow``),
    before it reads its first request: a child started ahead of need (:func:`prestart`)
    pays that import while the parent does other work. A worker for a runtime of
    :data:`FORKED_PRELOADS` is forked from the run's fork server when one runs (it has the
    runtime imported already); ``proc`` is then a :class:`~harness.forkserver.client.Forked`.
    """

    def __init__(self, *, memory_limit_mb: float, preload: str | None = None) -> None:
        parent_read, child_write = os.pipe()
        child_read, parent_write = os.pipe()
        self.log = tempfile.TemporaryFile(mode="w+b")
        # The child's temporary files (its hermetic model copy among them) live here, and go
        # with it even when it dies without cleaning up.
        self.tmp = Path(tempfile.mkdtemp(prefix="model-contract-child-"))
        env = dict(os.environ)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        env["TMPDIR"] = str(self.tmp)
        try:
            forked = forkserver.spawn(
                "backend", ["{fd[0]}", "{fd[1]}", preload], stdout=self.log.fileno(),
                stderr=self.log.fileno(), env=env, cwd=os.getcwd(),
                fds=(child_read, child_write)) if preload in FORKED_PRELOADS else None
            self.proc: subprocess.Popen[bytes] | forkserver.Forked = forked or subprocess.Popen(
                [sys.executable, "-m", "harness.backends.worker", str(child_read),
                 str(child_write), *([preload] if preload else [])],
                pass_fds=(child_read, child_write), stdin=subprocess.DEVNULL,
                stdout=self.log, stderr=self.log, env=env, start_new_session=True,
            )
        except BaseException:
            for fd in (parent_read, child_write, child_read, parent_write):
                os.close(fd)
            self.log.close()
            remove_tree(self.tmp)
            raise
        os.close(child_read)
        os.close(child_write)
        self._reaper = weakref.finalize(self, _reap, self.proc, self.tmp)
        self.writer = Connection(parent_write, readable=False)
        self.reader = Connection(parent_read, writable=False)
        self.memory_limit_mb = memory_limit_mb
        self.peak_mb = 0.0
        #: the memory a thread found over the limit while nobody awaited a reply (then it
        #: killed the child: :meth:`watch_memory`), told by the reply's wait
        self.overran_mb = 0.0
        self._watcher: threading.Thread | None = None
        self._unwatch = threading.Event()  # set: the thread ends (at once, if it waits)
        #: the files (in the child's temporary folder) large inputs and outputs travel in
        #: (:mod:`harness.backends.mapped`): this side writes the one, reads the other
        self.inputs_file = self.tmp / "inputs.bin"
        self.outputs_file = self.tmp / "outputs.bin"
        self._inputs = Writer(str(self.inputs_file))
        self._outputs = Reader()

    def infer_request(self, signature: str, inputs: Mapping[str, Any], check_inputs: bool
                      ) -> tuple[Any, ...]:
        """The request of one call: large numeric arrays are written to the child's mapped
        file (one copy, no pickle, no pipe chunks), the rest is pickled as before."""
        large, rest = split(inputs)
        if not large:
            return ("infer", signature, dict(inputs), check_inputs, str(self.outputs_file))
        size, layout = self._inputs.write(large)
        return ("infer_mapped", signature, rest, str(self.inputs_file), size, layout,
                check_inputs, str(self.outputs_file))

    def _mapped_outputs(self, rest: dict[str, Any], size: int, layout: Layout,
                        order: list[str]) -> dict[str, Any]:
        """The outputs of an ``ok_mapped`` reply: the large ones copied out of the child's
        output file (the next call overwrites it), in the backend's order."""
        large = self._outputs.arrays(str(self.outputs_file), size, layout, copy=True)
        return {name: large[name] if name in large else rest[name] for name in order}

    def request(self, message: tuple[Any, ...], timeout: float) -> Any:
        self.send(message)
        return self.receive(timeout)

    def send(self, message: tuple[Any, ...]) -> None:
        try:
            self.writer.send(message)
        except (BrokenPipeError, OSError):
            raise self._died() from None

    def watch_memory(self) -> None:
        """Watch the child's memory from a thread until :meth:`receive` (which watches it
        while it waits) or :meth:`stop`: for a request sent ahead (a load the run does not
        wait for yet), so that the memory limit holds then too. Over the limit, the child
        is killed, and the reply's wait fails with the memory-limit message."""
        self._unwatch.clear()
        pid = self.proc.pid

        def watch() -> None:
            while not self._unwatch.is_set() and os.path.exists(f"/proc/{pid}"):
                rss = _rss_mb(pid)
                self.peak_mb = max(self.peak_mb, rss)
                if rss > self.memory_limit_mb:
                    self.overran_mb = rss
                    self.kill()  # as receive() kills: a fork not yet in its own group too
                    return
                self._unwatch.wait(0.05)

        self._watcher = threading.Thread(target=watch, name=f"memory watch of {pid}",
                                         daemon=True)
        self._watcher.start()

    def _stop_watching(self) -> None:
        if self._watcher is not None:  # every reply's wait comes here: no lock when none runs
            self._unwatch.set()
            self._watcher.join()
            self._watcher = None

    def _over_limit(self, rss: float) -> BackendCrashed:
        return BackendCrashed("isolated", "", f"the backend used {rss:.0f} MB, over the "
                              f"memory limit of {self.memory_limit_mb:.0f} MB; it was stopped")

    def receive(self, timeout: float) -> Any:
        """The next reply's value (or its error raised), waiting at most ``timeout`` seconds
        while watching the child's memory."""
        self._stop_watching()
        deadline = time.monotonic() + timeout
        while not self.reader.poll(0.05):
            if self.proc.poll() is not None:
                raise self._died()
            rss = _rss_mb(self.proc.pid)
            self.peak_mb = max(self.peak_mb, rss)
            if rss > self.memory_limit_mb:
                self.kill()
                raise self._over_limit(rss)
            if time.monotonic() > deadline:
                self.kill()
                raise BackendCrashed("isolated", "", f"no answer within {timeout:.0f} s; the "
                                     "backend was stopped (a hang in TensorFlow or the runtime?)")
        try:
            reply = self.reader.recv()
        except (EOFError, OSError):
            raise self._died() from None
        if reply[0] == "ok":
            return reply[1]
        if reply[0] == "ok_mapped":
            return self._mapped_outputs(*reply[1:])
        _, kind, detail = reply
        if kind == "inference":
            raise _Remote(detail)
        if kind == "raise":
            raise detail
        raise RuntimeError(f"bug in the backend worker:\n{detail}")

    def _died(self) -> BackendCrashed:
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.proc.wait()
        if self.overran_mb:
            return self._over_limit(self.overran_mb)
        how = ("the process ended; its exit status was lost with the fork server"
               if getattr(self.proc, "status_lost", False) else _describe_exit(code))
        return BackendCrashed("isolated", "", f"{how}; last output: {self.log_tail()}")

    def log_tail(self, lines: int = 6) -> str:
        try:
            self.log.seek(0)
            text = self.log.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return "<no log>"
        useful = [ln.strip() for ln in text.splitlines()
                  if ln.strip() and not ln.startswith(("I0000", "W0000")) and "    @ " not in ln]
        fatal = [ln for ln in useful if "Check failed" in ln or ln.startswith("F0000")
                 or "Fatal" in ln or "Error" in ln]
        return " | ".join((fatal or useful)[-lines:]) or "<nothing>"

    def stop(self) -> None:
        self._stop_watching()
        if self.proc.poll() is None:
            try:
                self.writer.send(("stop",))
                self.proc.wait(timeout=10)
            except Exception:  # noqa: BLE001 - fall through to kill
                self.kill()
        self.reader.close()
        self.writer.close()
        self.log.close()
        self._inputs.close()
        self._outputs.close()
        remove_tree(self.tmp)
        self._reaper.detach()

    def kill(self) -> None:
        _kill(self.proc)


#: inner backend -> the runtime its worker imports first (a spare child has it imported).
#: onnxruntime and LiteRT take 0.1-0.2 s to import, TensorFlow seconds; none starts another.
PRELOADS: dict[str, str] = {"savedmodel": "tensorflow", "onnx": "onnxruntime",
                            "tflite": "ai_edge_litert.interpreter"}
#: runtimes the fork server has imported: a worker for them is forked from it when it runs
FORKED_PRELOADS = frozenset({"tensorflow"})


def prestart(context: RunContext, inner: str) -> None:
    """Make a worker for ``inner`` ready ahead of need, unless one is waiting.

    The run's fork server (:mod:`harness.forkserver`) is started, importing TensorFlow: the
    workers are then forked from it, ready at once. Without one (turned off, or it cannot
    start) one spare worker is started now, importing its runtime; the first
    :class:`IsolatedBackend` of ``inner`` then takes it instead of starting a child and
    waiting for the import. Neither has loaded a model (the op-policy gate still runs
    before a model is sent to a worker); the run's closers stop them.
    """
    preload = PRELOADS.get(inner)
    if preload is None:
        return
    if preload in FORKED_PRELOADS and forkserver.start_for(context):
        return
    spares = _spares(context)
    if preload in spares:
        return
    spares[preload] = Child(memory_limit_mb=MEMORY_LIMIT_MB, preload=preload)


def _spares(context: RunContext) -> dict[str, Child]:
    def make() -> dict[str, Child]:
        spares: dict[str, Child] = {}

        def stop_spares() -> None:
            while spares:
                spares.popitem()[1].stop()

        context.closers.add(stop_spares)
        return spares

    return context.once(("isolation-spares",), make)


def _new_child(context: RunContext, inner: str, memory_limit_mb: float) -> Child:
    """A spare started for ``inner``'s runtime if one is alive, else a fresh child."""
    preload = PRELOADS.get(inner)
    spare = _spares(context).pop(preload, None) if preload else None
    if spare is not None and spare.proc.poll() is None:
        spare.memory_limit_mb = memory_limit_mb
        return spare
    if spare is not None:
        spare.stop()
    return Child(memory_limit_mb=memory_limit_mb, preload=preload)


class _LoadingAhead:
    """A child started and asked to load a model by a background thread
    (:meth:`IsolatedBackend.load_ahead`), so that the run goes on meanwhile: the thread first
    waits for the run's fork server to finish importing TensorFlow (seconds), then forks the
    child and sends it the load request (milliseconds), and watches its memory until the
    reply is awaited. :meth:`take` waits for the thread; :meth:`cancel` stops the child, or,
    if the thread still waits for the server, keeps it from starting one."""

    def __init__(self, start: Callable[[], Child]) -> None:
        self._lock = threading.Lock()
        self._child: Child | None = None
        self._cancelled = False
        self._thread = threading.Thread(target=self._run, args=(start,), daemon=True,
                                        name="model-contract-load-ahead")
        self._thread.start()

    def _run(self, start: Callable[[], Child]) -> None:
        forkserver.wait_ready()
        with self._lock:
            if self._cancelled:
                return
            try:
                child = start()
            except Exception:  # noqa: BLE001 - the first use starts a child and reports why
                return
            child.watch_memory()  # nobody waits for this load yet: a thread watches it
            self._child = child

    def started(self) -> Child | None:
        """The child asked to load (its reply not read yet), once the thread has asked it;
        None if it could not be started or asked."""
        self._thread.join()
        return self._child

    def take(self) -> Child | None:
        """:meth:`started`, handed over: cancelling no longer stops it."""
        child = self.started()
        with self._lock:
            self._child = None
        return child

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            child, self._child = self._child, None
        if child is not None:
            child.kill()
            child.stop()


class IsolatedBackend(Backend):
    """A backend of another name run in a child process; same interface, same results."""

    name = "isolated"

    def __init__(self, model: ModelRef, contract: Contract, context: RunContext | None = None,
                 *, inner: str, kwargs: Mapping[str, Any] | None = None,
                 call_timeout: float = CALL_TIMEOUT_S,
                 activate_timeout: float = ACTIVATE_TIMEOUT_S,
                 memory_limit_mb: float = MEMORY_LIMIT_MB) -> None:
        super().__init__(model, contract, context)
        self.inner = inner
        self.kwargs = dict(kwargs or {})
        self.call_timeout = call_timeout
        self.activate_timeout = activate_timeout
        self.memory_limit_mb = memory_limit_mb
        self.child: Child | None = None
        self.inner_label = inner
        self.crashes = 0
        self.loads = 0
        #: answers of the last batch (:meth:`infer_ahead`) by the id of their inputs object
        self._ahead: dict[int, tuple[Mapping[str, np.ndarray], Any]] = {}
        #: the model loading ahead of the first use, in a child (:meth:`load_ahead`)
        self._loading: _LoadingAhead | None = None

    @property
    def label(self) -> str:
        return self.inner_label

    def _ensure_child(self) -> Child:
        if self.child is None or self.child.proc.poll() is not None:
            if self.child is not None:
                self.child.stop()
                self.child = None
            loading = self._take_loading()
            try:
                self.child = (self._finish_load(loading) if loading is not None
                              else self._load_in_child())
            except BackendCrashed as first:
                # A process killed while loading (OOM killer, a signal) says nothing about the
                # model: load once more in a fresh process before calling the model unloadable.
                try:
                    self.child = self._load_in_child()
                except BackendCrashed as second:
                    raise HarnessError(
                        f"{self.inner} could not load {self.model.path}: {second.message} "
                        f"(tried twice, each in a fresh process; the first time: "
                        f"{first.message})") from None
        assert self.child is not None
        return self.child

    def _take_loading(self) -> Child | None:
        """The child loading ahead, if one was started, once it has been asked to load.
        Interrupted while it waits (Ctrl-C during TensorFlow's import), the load ahead is
        cancelled: this backend may have left the run's memo, and the run's end would not
        stop a child the thread started later."""
        loading, self._loading = self._loading, None
        if loading is None:
            return None
        try:
            return loading.take()
        except BaseException:
            loading.cancel()
            raise

    def _load_in_child(self) -> Child:
        """A fresh child with the model loaded; the child is stopped if loading fails."""
        return self._finish_load(self._start_load())

    def _start_load(self) -> Child:
        """A fresh child, asked to load the model (its answer not read yet)."""
        child = _new_child(self.context, self.inner, self.memory_limit_mb)
        try:
            child.send(("activate", self.inner, self.model, str(self.contract.path),
                        self.context.options, self.kwargs))
        except BaseException:
            child.stop()
            raise
        return child

    def _finish_load(self, child: Child) -> Child:
        """``child`` once it has loaded the model (:meth:`_start_load`); stopped if it fails."""
        try:
            self.inner_label = child.receive(self.activate_timeout)
        except BaseException:
            child.stop()
            raise
        self.loads += 1
        return child

    def load_ahead(self) -> None:
        """Start loading the model in a child, in the background (:class:`_LoadingAhead`),
        and return at once, even while the fork server still imports TensorFlow: the checks
        that need no TensorFlow run meanwhile. The first use takes that child, waiting then
        for what is left of the load. A child that cannot be started or asked is left for
        that first use, which starts one and reports why."""
        if self.active or self.child is not None or self._loading is not None:
            return
        _spares(self.context)  # made here, not in the thread (the run's memo has no lock)
        self._loading = _LoadingAhead(self._start_load)

    def deactivate(self) -> None:
        if self._loading is not None:  # loading ahead, never used: its load is not awaited
            self._loading.cancel()
            self._loading = None
        super().deactivate()

    def activate_impl(self) -> None:
        self._ensure_child()

    def infer_ahead(self, signature: str, batch: Sequence[Mapping[str, np.ndarray]]) -> None:
        """One request for the whole batch; the child answers call by call, and each answer
        (or error) waits here for the :meth:`infer` of the same inputs. A crash, hang or
        memory overrun on one call is that call's answer (the child is restarted for the
        next); the calls after it run one by one when asked. Batches with a large input go
        call by call (through the mapped file)."""
        self._ahead.clear()
        if len(batch) < 2 or any(split(inputs)[0] for inputs in batch):
            return
        child = self._ensure_child()
        start = time.perf_counter()
        try:
            child.send(("infer_many", signature, [dict(inputs) for inputs in batch]))
            for inputs in batch:
                try:
                    answer: Any = child.receive(self.call_timeout)
                except BackendCrashed as exc:
                    self._ahead[id(inputs)] = (inputs, self._crashed(child, signature,
                                                                     exc.message))
                    return
                except _Remote as exc:
                    answer = InferenceError(self.label, signature, exc.message)
                except Exception as exc:  # noqa: BLE001 - raised again when this call is asked
                    answer = exc
                self._ahead[id(inputs)] = (inputs, answer)
        except BackendCrashed as exc:  # the request itself could not be sent
            self._ahead[id(batch[0])] = (batch[0], self._crashed(child, signature, exc.message))
        except BaseException:  # interrupted with answers still on their way: not reusable
            self._ahead.clear()
            child.kill()
            child.stop()
            if self.child is child:
                self.child = None
            raise
        finally:
            self.stats.seconds += time.perf_counter() - start

    def _crashed(self, child: Child, signature: str, message: str) -> BackendCrashed:
        self.crashes += 1
        child.stop()
        if self.child is child:
            self.child = None
        return BackendCrashed(self.label, signature, message)

    def infer_impl(self, signature: SignatureSpec, inputs: Mapping[str, np.ndarray]) -> Mapping[str, Any]:
        entry = self._ahead.pop(id(inputs), None)
        if entry is not None and entry[0] is inputs:
            if isinstance(entry[1], BaseException):
                raise entry[1]
            answer: Mapping[str, Any] = entry[1]
            return answer
        child = self._ensure_child()
        try:
            return child.request(child.infer_request(signature.name, inputs, False),
                                 self.call_timeout)
        except _Remote as exc:
            raise InferenceError(self.label, signature.name, exc.message) from None
        except BackendCrashed as exc:
            raise self._crashed(child, signature.name, exc.message) from None

    def signatures_impl(self) -> Mapping[str, SignatureInterface]:
        result: Mapping[str, SignatureInterface] = self._ensure_child().request(("signatures",), self.call_timeout)
        return result

    def resolution(self, spec: SignatureSpec) -> Any:
        """The format's names for ``spec`` (TFLite, ONNX backends), computed in the child."""
        return self._ensure_child().request(("call", "resolution", spec.name), self.call_timeout)

    def known_defects(self) -> list[str]:
        defects: list[str] = self._ensure_child().request(("call", "known_defects", None),
                                                          self.call_timeout)
        return defects

    def deactivate_impl(self) -> None:
        if self.child is not None:
            self.child.stop()
            self.child = None
