"""Test helper for the tensorflow_model_server STAND-IN (a test fixture, NOT TensorFlow Serving).

`start_standin(...)` runs tests/standin/tensorflow_model_server_standin.py (or the
`tensorflow_model_server` wrapper script next to it) as a subprocess on free loopback
ports, waits until every model reports AVAILABLE, and always kills the process group on
exit, also on errors:

    with start_standin({"half_plus_two": Path(".../saved_model_half_plus_two_cpu")}) as server:
        requests.post(server.rest_url + "/v1/models/half_plus_two:predict", ...)
        grpc.insecure_channel(server.grpc_target)
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType

STANDIN_DIR = Path(__file__).resolve().parent
STANDIN_SCRIPT = STANDIN_DIR / "tensorflow_model_server_standin.py"
STANDIN_WRAPPER = STANDIN_DIR / "tensorflow_model_server"

__all__ = ["STANDIN_DIR", "STANDIN_SCRIPT", "STANDIN_WRAPPER", "StandIn", "StandInError",
           "free_port", "start_standin", "model_config_text"]


class StandInError(RuntimeError):
    """The stand-in did not start, or a model did not become AVAILABLE."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def model_config_text(models: Mapping[str, Path]) -> str:
    """A ModelServerConfig text proto serving each base path under its name."""
    entries = "".join(
        f'  config {{ name: "{name}" base_path: "{Path(path).resolve()}" '
        'model_platform: "tensorflow" }\n'
        for name, path in models.items()
    )
    return "model_config_list {\n" + entries + "}\n"


def _model_names(config_file: Path) -> list[str]:
    from google.protobuf import text_format  # noqa: PLC0415 - protobuf only, no TensorFlow
    from tensorflow_serving.config import model_server_config_pb2  # noqa: PLC0415

    config = model_server_config_pb2.ModelServerConfig()
    text_format.Parse(config_file.read_text(encoding="utf-8"), config)
    return [model.name for model in config.model_config_list.config]


class StandIn:
    """A running stand-in server process (context manager)."""

    def __init__(self, process: subprocess.Popen[bytes], rest_port: int, grpc_port: int,
                 log_path: Path, workdir: tempfile.TemporaryDirectory[str]) -> None:
        self.process = process
        self.rest_port = rest_port
        self.grpc_port = grpc_port
        self.log_path = log_path
        self._workdir = workdir

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def log(self) -> str:
        """The process's stdout and stderr so far."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it after 10 s; idempotent."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait(timeout=10)
        else:
            try:  # children of an exited leader
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self._workdir.cleanup()

    def __enter__(self) -> StandIn:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()


def _status(url: str) -> tuple[int, dict[str, object] | None]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, None
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return 0, None


def start_standin(
    models: Mapping[str, Path] | None = None,
    *,
    config_file: Path | None = None,
    extra_args: Iterable[str] = (),
    expect_unavailable: Iterable[str] = (),
    keep_serving_on_load_failure: bool = False,
    use_wrapper: bool = False,
    python: str = sys.executable,
    timeout_s: float = 120.0,
) -> StandIn:
    """Start the stand-in with `models` ({name: base path}) or a `config_file`.

    Waits until every model except `expect_unavailable` has an AVAILABLE version (those
    must merely report a status). Raises StandInError with the server log otherwise."""
    if (models is None) == (config_file is None):
        raise ValueError("start_standin needs exactly one of models= or config_file=")
    workdir = tempfile.TemporaryDirectory(prefix="standin-")
    work = Path(workdir.name)
    if models is not None:
        config_file = work / "models.config"
        config_file.write_text(model_config_text(models), encoding="utf-8")
    assert config_file is not None
    names = _model_names(config_file)
    rest_port, grpc_port = free_port(), free_port()
    while grpc_port == rest_port:
        grpc_port = free_port()
    program = [str(STANDIN_WRAPPER)] if use_wrapper else [python, str(STANDIN_SCRIPT)]
    command = [
        *program,
        f"--port={grpc_port}",
        f"--rest_api_port={rest_port}",
        f"--model_config_file={config_file}",
        "--standin_bind_address=127.0.0.1",
        *(["--standin_keep_serving_on_load_failure"] if keep_serving_on_load_failure else []),
        *extra_args,
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "STANDIN_PYTHON": python}
    log_path = work / "server.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(  # noqa: S603 - our own fixture
            command, stdout=log_file, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    server = StandIn(process, rest_port, grpc_port, log_path, workdir)
    try:
        _wait_until_ready(server, names, set(expect_unavailable), timeout_s)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_until_ready(server: StandIn, names: list[str], unavailable: set[str],
                      timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    pending = list(names)
    while pending:
        if server.process.poll() is not None:
            raise StandInError(
                f"stand-in exited with code {server.process.returncode} before serving:\n"
                + server.log()[-4000:]
            )
        if time.monotonic() > deadline:
            raise StandInError(
                f"stand-in: models {pending} not ready after {timeout_s:.0f} s:\n" + server.log()[-4000:]
            )
        name = pending[0]
        code, body = _status(f"{server.rest_url}/v1/models/{name}")
        if code == 0:
            time.sleep(0.2)
            continue
        states = [] if body is None else body.get("model_version_status", [])
        if name in unavailable:
            if code in (200, 404):
                pending.pop(0)
            continue
        if any(entry.get("state") == "AVAILABLE" for entry in states):  # type: ignore[union-attr]
            pending.pop(0)
            continue
        raise StandInError(
            f"stand-in: model {name!r} is not AVAILABLE (HTTP {code}): {json.dumps(body)}\n"
            + server.log()[-4000:]
        )
