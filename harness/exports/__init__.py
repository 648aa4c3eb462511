"""TFLite, ONNX and TF.js exports of a SavedModel: made in a subprocess, kept in a content-keyed cache.

* :func:`harness.exports.tflite.export_tflite` - ``TFLiteConverter.from_saved_model`` with
  every contract signature in one file; float, dynamic-range, float16 or full-int8.
* :func:`harness.exports.onnx.export_onnx` - tf2onnx, one file per signature.
* :func:`harness.exports.tfjs.export_tfjs` - ``tensorflowjs_converter``, one model.json
  (+ weight shards) per signature, run in the converter's own environment
  (:mod:`harness.exports.tfjs_env`).

Both run :mod:`harness.exports.worker` (the TFLite and ONNX workers forked from the run's
fork server, :mod:`harness.forkserver`, when it runs) with a timeout; a converter that fails, crashes or
times out raises :class:`~harness.errors.ExportError` with the converter's own message,
which the format checks report as a failing check. Exports land in an
:class:`~harness.exports.cache.ExportCache`, never in the model directory.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Sequence

from harness.context import RunContext
from harness.errors import ExportError
from harness.exports.cache import ExportCache, default_cache_dir
from harness.forkserver import client as forkserver

#: converter processes running now (any thread), so that the end of a run can stop them
_RUNNING: set[Converter] = set()
_RUNNING_LOCK = threading.Lock()

#: Seconds a conversion may take (``$MODEL_CONTRACT_EXPORT_TIMEOUT`` overrides).
DEFAULT_TIMEOUT = 900.0
TIMEOUT_ENV = "MODEL_CONTRACT_EXPORT_TIMEOUT"
_NOISE = ("WARNING: All log messages before absl::InitializeLog()", "oneDNN custom operations",
          "I0000 00:00", "To enable the following instructions", "cpu_feature_guard")


@dataclass(frozen=True)
class Export:
    """A converted (or given) artifact and how it came to be."""

    format: str
    path: Path
    #: how it was made, for labels: "TFLiteConverter.from_saved_model, int8" or "given: x.tflite"
    how: str
    given: bool = False
    cached: bool = False
    seconds: float = 0.0
    notes: tuple[str, ...] = ()
    replaced: str = ""
    """Why a cached copy was discarded and this one exported again ("" if none was)."""

    def state(self) -> str:
        """How this run got the artifact, for labels."""
        if self.cached:
            return "cached"
        made = f"converted in {self.seconds:.1f} s"
        return f"re-exported in {self.seconds:.1f} s: {self.replaced}" if self.replaced else made


def shown_path(path: Path) -> str:
    """A path as messages show it: relative to the working directory when below it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def export_timeout() -> float:
    return float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT))


def session_cache(context: RunContext) -> ExportCache:
    """The export cache of a run (made on first use, in the run's memo)."""
    return context.once(("export-cache",),
                        lambda: ExportCache(default_cache_dir(context.options.export_cache)))


def stderr_tail(text: str, lines: int = 25) -> str:
    kept = [ln for ln in text.splitlines() if ln.strip() and not any(n in ln for n in _NOISE)]
    return "\n".join(kept[-lines:])


def hint_for(fmt: str, message: str) -> str | None:
    """What to change, judged from the converter's message."""
    low = message.lower()
    if "flex" in low or "select_tf_ops" in low or "select tf ops" in low:
        return ("the model needs TensorFlow ops that TFLite builtins lack: replace the op, or "
                "set formats.tflite.allow_flex: true (the app must then ship the Flex delegate)")
    if fmt == "tfjs" and ("unsupported ops" in low or "unsupported op" in low):
        return ("the TF.js converter has no kernel for an op of the signature: replace the op, "
                "or list the format with \"enabled\": false if TF.js is not shipped")
    if fmt == "onnx" and ("unsupported" in low or "not supported" in low or "no conversion" in low):
        return ("tf2onnx cannot convert an op at this opset: try a newer formats.onnx.opset, "
                "or replace the op")
    if "quantiz" in low or "representative" in low:
        return "the quantized export failed: drop the variant or change the unsupported op"
    return None


def run_worker(fmt: str, args: Sequence[str], *, what: str, model_dir: Path,
               timeout: float | None = None, python: Path | None = None) -> dict[str, Any]:
    """Run the converter worker; return its JSON result or raise :class:`ExportError`.

    The TFLite and ONNX workers are forked from the run's fork server
    (:mod:`harness.forkserver`) when it runs, else spawned. ``python`` runs the worker in
    another environment (the TF.js converter's, always spawned): the worker's file is then
    run by path, so that environment needs none of the harness's own dependencies.
    """
    timeout = export_timeout() if timeout is None else timeout
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    root = str(Path(__file__).resolve().parents[2])
    if python is None:
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH")
                                    else "")
        command = [sys.executable, "-m", "harness.exports.worker", fmt, *args]
    else:
        env.pop("PYTHONPATH", None)
        env.pop("PYTHONHOME", None)
        command = [str(python), str(Path(__file__).resolve().parent / "worker.py"), fmt, *args]
    folder = Path(tempfile.mkdtemp(prefix="model-contract-export-"))
    try:
        with open(folder / "stdout", "w+b") as out, open(folder / "stderr", "w+b") as err:
            proc: Converter | None = None
            if python is None:
                proc = forkserver.spawn("export", [fmt, *args], stdout=out.fileno(),
                                        stderr=err.fileno(), env=dict(env, TMPDIR=str(folder)),
                                        cwd=root)
            if proc is None:
                proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out,
                                        stderr=err, env=env, cwd=root)
            returncode = _wait(proc, timeout)
            out.seek(0)
            err.seek(0)
            proc_stdout = out.read().decode("utf-8", "replace")
            proc_stderr = err.read().decode("utf-8", "replace")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if returncode is None:
        tail = stderr_tail(proc_stderr)
        raise ExportError(f"{what} timed out after {timeout:g} s" +
                          (f":\n{tail}" if tail else ""), file=model_dir,
                          hint=f"raise ${TIMEOUT_ENV} if the model is just large")
    if returncode != 0:
        tail = stderr_tail(proc_stderr)
        if returncode < 0:
            try:
                sig = signal.Signals(-returncode).name
            except ValueError:
                sig = str(-returncode)
            head = f"{what}: the converter crashed ({sig})"
        else:
            head = f"{what} failed (exit status {returncode})"
        raise ExportError(f"{head}; converter output:\n{tail or '(nothing on stderr)'}",
                          file=model_dir, hint=hint_for(fmt, proc_stderr))
    last = proc_stdout.strip().splitlines()[-1] if proc_stdout.strip() else "{}"
    try:
        result: dict[str, Any] = json.loads(last)
    except json.JSONDecodeError:
        result = {}
    result["stderr"] = proc_stderr
    return result


class Converter(Protocol):
    """What :func:`run_worker` uses of a converter process (spawned or forked)."""

    pid: int

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def kill(self) -> None: ...


def _wait(proc: Converter, timeout: float) -> int | None:
    """The converter's exit status, or ``None`` if it overran ``timeout`` (it is killed).
    It never outlives this call: an interrupt (Ctrl-C) kills it too."""
    with _RUNNING_LOCK:
        _RUNNING.add(proc)
    try:
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return None
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(proc)
        if proc.poll() is None:  # interrupted (Ctrl-C) while it ran: it does not outlive us
            proc.kill()
            proc.wait()


def stop_conversions() -> None:
    """Kill every converter this process is running (a run that ends stops what it started)."""
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for proc in running:
        if proc.poll() is None:
            proc.kill()


__all__ = ["Export", "ExportCache", "default_cache_dir", "export_timeout", "run_worker",
           "session_cache", "shown_path", "stop_conversions"]
