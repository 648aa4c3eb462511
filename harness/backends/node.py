"""The Node.js runtime that runs TF.js models: pinned npm packages, and one child per model.

The packages (``@tensorflow/tfjs-core``, ``-converter``, ``-backend-cpu`` and
``-backend-wasm``: the parts of ``@tensorflow/tfjs`` that load and run a graph model, no
native ``tfjs-node``) are pinned in ``tfjs_runtime/package.json`` and
``package-lock.json`` shipped in the package. :func:`runtime_dir` installs them with
``npm ci`` into the export cache on first use (``CACHE/tfjs-runtime/<lock sha256>``; a
second run, or a CI machine that keeps the cache, installs nothing), atomically: a half
installed folder is never used.

:class:`NodeModel` starts ``node tfjs_runtime/run_model.js MODEL_JSON BACKEND`` and talks
JSON lines over its stdin/stdout; tensors travel as base64 of their bytes. The child is
started in the process of the backend (which is itself an isolated worker by default),
so it dies with it; its stderr goes to a temporary file quoted when it fails.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import IO, Any, Mapping

import numpy as np

from harness.errors import BackendUnavailable

PACKAGE_DIR = Path(__file__).resolve().parent / "tfjs_runtime"
SCRIPT = PACKAGE_DIR / "run_model.js"
INSTALL = ("install Node.js 20 and npm (Debian: apt-get install nodejs npm); the TF.js "
           "packages are then installed by the harness itself with npm ci")
#: Seconds ``npm ci`` may take.
NPM_TIMEOUT = 600.0
#: Seconds one request to the Node child may take.
CALL_TIMEOUT = 300.0
#: numpy dtype names of the tensors TF.js holds (everything else is converted or refused)
TFJS_DTYPES = ("float32", "int32", "bool", "string")


def node_binary() -> str:
    """``node`` on PATH, or :class:`BackendUnavailable` saying how to install it."""
    found = shutil.which("node")
    if found is None:
        raise BackendUnavailable("tfjs", "Node.js (`node`) is not on PATH", install=INSTALL)
    return found


def npm_binary() -> str:
    found = shutil.which("npm")
    if found is None:
        raise BackendUnavailable("tfjs", "npm is not on PATH (the TF.js packages are "
                                 "installed with npm ci)", install=INSTALL)
    return found


def lock_digest() -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update((PACKAGE_DIR / name).read_bytes())
    return digest.hexdigest()[:16]


def runtime_dir(cache_root: Path) -> Path:
    """The folder whose ``node_modules`` holds the pinned TF.js packages (installed once)."""
    target = Path(cache_root) / "tfjs-runtime" / lock_digest()
    if (target / "node_modules" / ".model-contract-complete").is_file():
        return target
    npm = npm_binary()
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".installing-", dir=target.parent))
    try:
        for name in ("package.json", "package-lock.json"):
            shutil.copy2(PACKAGE_DIR / name, work / name)
        try:
            proc = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts",
                                   "--loglevel=error"], cwd=work, capture_output=True,
                                  text=True, timeout=NPM_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise BackendUnavailable("tfjs", f"npm ci of the TF.js packages took over "
                                     f"{NPM_TIMEOUT:g} s", install=INSTALL) from None
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-8:])
            raise BackendUnavailable("tfjs", f"npm ci of the pinned TF.js packages "
                                     f"({PACKAGE_DIR / 'package-lock.json'}) failed:\n{tail}",
                                     install=INSTALL)
        (work / "node_modules" / ".model-contract-complete").write_text("ok\n")
        try:
            os.replace(work, target)
        except OSError:  # another process finished first; its copy is as good
            if not (target / "node_modules" / ".model-contract-complete").is_file():
                raise
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return target


class NodeError(Exception):
    """The Node child refused a request or died; the message is TF.js's own."""

    def __init__(self, message: str, *, load: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.load = load


def encode(value: np.ndarray, dtype: str) -> dict[str, Any]:
    """One input as the Node child reads it, cast to the TF.js dtype ``dtype``."""
    shape = list(value.shape)
    if dtype == "string":
        flat = [v if isinstance(v, bytes) else str(v).encode("utf-8")
                for v in value.reshape(-1).tolist()]
        return {"dtype": "string", "shape": shape,
                "data": [base64.b64encode(v).decode("ascii") for v in flat]}
    kind = np.uint8 if dtype == "bool" else np.dtype(dtype)
    raw = np.ascontiguousarray(value.astype(kind)).astype(np.dtype(kind).newbyteorder("<"))
    return {"dtype": dtype, "shape": shape, "data": base64.b64encode(raw.tobytes()).decode()}


def decode(spec: Mapping[str, Any]) -> np.ndarray:
    shape = tuple(int(d) for d in spec["shape"])
    if spec["dtype"] == "string":
        out = np.empty(len(spec["data"]), dtype=object)
        out[:] = [base64.b64decode(s) for s in spec["data"]]
        return out.reshape(shape)
    raw = base64.b64decode(spec["data"])
    if spec["dtype"] == "bool":
        return np.frombuffer(raw, dtype=np.uint8).astype(bool).reshape(shape)
    kind = np.dtype(spec["dtype"]).newbyteorder("<")
    return np.frombuffer(raw, dtype=kind).astype(np.dtype(spec["dtype"])).reshape(shape)


class NodeModel:
    """One TF.js graph model loaded in a Node child process."""

    def __init__(self, model_json: Path, *, runtime: Path, backend: str = "auto") -> None:
        self.model_json = Path(model_json)
        env = dict(os.environ)
        env["NODE_PATH"] = str(runtime / "node_modules")
        self._log: IO[bytes] = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [node_binary(), str(SCRIPT), str(self.model_json), backend],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, env=env)
        self.info = self.request({"op": "describe"})

    def request(self, message: Mapping[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(json.dumps(message).encode() + b"\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except (BrokenPipeError, OSError):
            line = b""
        if not line:
            code = self.proc.wait(timeout=10)
            raise NodeError(f"the Node process running {self.model_json.name} ended (exit "
                            f"status {code}): {self.stderr_tail()}")
        try:
            reply: dict[str, Any] = json.loads(line)
        except ValueError:
            raise NodeError(f"the Node process running {self.model_json.name} answered "
                            f"something that is not JSON: {line[:200]!r}") from None
        if not reply.get("ok"):
            raise NodeError(str(reply.get("error")), load=bool(reply.get("load")))
        return reply

    def run(self, inputs: Mapping[str, dict[str, Any]], outputs: list[str]
            ) -> dict[str, np.ndarray]:
        reply = self.request({"op": "run", "inputs": dict(inputs), "outputs": outputs})
        return {name: decode(spec) for name, spec in reply["outputs"].items()}

    def echo(self, inputs: Mapping[str, dict[str, Any]], *, values: bool = True
             ) -> dict[str, Any]:
        """The inputs sent to the child, made into TF.js tensors there and sent back (as
        arrays; with ``values=False`` only their dtypes and shapes): the transport alone,
        without running the model."""
        reply = self.request({"op": "echo", "inputs": dict(inputs), "values": values})
        if not values:
            return dict(reply["outputs"])
        return {name: decode(spec) for name, spec in reply["outputs"].items()}

    def stderr_tail(self, lines: int = 8) -> str:
        try:
            self._log.seek(0)
            text = self._log.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return "<no output>"
        kept = [ln for ln in text.splitlines() if ln.strip()]
        return " | ".join(kept[-lines:]) or "<nothing on stderr>"

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except Exception:  # noqa: BLE001 - fall through to kill
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdout,):
            if stream is not None:
                stream.close()
        self._log.close()
