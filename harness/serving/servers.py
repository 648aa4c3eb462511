"""Getting a model server for one contract and model base path, once per session.

The first way that applies:

1. ``--serving-url`` and/or ``--serving-grpc``: a server the user runs. It is trusted
   only after its metadata (signature names, dtypes, shapes) matches the SavedModel's,
   read statically from ``saved_model.pb``.
2. A ``tensorflow_model_server`` binary (``--serving-binary`` or on PATH): the versions
   under test are symlinked into a temporary base path, a model config file is written,
   the server starts on free loopback ports and is waited for (every version AVAILABLE).
3. A Docker engine: the same in a ``tensorflow/serving:<tag>`` container (testcontainers),
   each version folder mounted read-only.
4. None: :class:`~harness.errors.BackendUnavailable`, so the serving cases skip, saying
   what to install.

Started servers are stopped at the end: their ``stop`` is appended to
the run context's closers (called when the run ends) and registered with ``atexit``;
a binary also gets ``PR_SET_PDEATHSIG`` so it dies with the harness. Results are
labelled by what ran (``serving (tensorflow_model_server at PATH)``,
``serving (server at URL)``, ``serving (tensorflow/serving:TAG container)``): nothing
is called "TF Serving" that the harness did not start from the real binary or image.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Protocol

from harness.context import RunContext
from harness.contract.model import Contract
from harness.errors import BackendUnavailable, HarnessError
from harness.events import ServerStarted
from harness.serving import config as cfg
from harness.serving.config import ServingModel

INSTALL = ("install tensorflow_model_server (https://www.tensorflow.org/tfx/serving/setup) "
           "or start Docker, or pass --serving-url http://HOST:PORT / --serving-grpc HOST:PORT")
START_TIMEOUT_S = 180.0
LOG_TAIL = 3000


class ServingStartError(HarnessError):
    """The server did not start or did not make every version AVAILABLE (log tail included)."""


class UntrustedServer(HarnessError):
    """A given server does not serve the model under test (its metadata differs)."""

    def __init__(self, message: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(message + "".join(f"\n  {p}" for p in problems))


@dataclass(frozen=True)
class Endpoint:
    """Where one model is served, and by what."""

    origin: str
    model: ServingModel
    rest_url: str | None
    grpc_target: str | None
    #: versions are addressed explicitly (False only for a given server and a plain model dir)
    versioned: bool
    started: bool
    start_seconds: float = 0.0

    @property
    def label(self) -> str:
        return f"serving ({self.origin})"

    def version_of(self, ref: Any) -> int | None:
        if not self.versioned:
            return None
        version = getattr(ref, "version", None)
        return cfg.PLAIN_MODEL_VERSION if version is None else int(version)


class Server(Protocol):
    def stop(self) -> None: ...
    def log_tail(self) -> str: ...


# ------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    os.setsid()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except Exception:  # noqa: BLE001 - a backstop only
            pass


class ServerProcess:
    """A ``tensorflow_model_server`` process in its own session; ``stop`` kills the group."""

    def __init__(self, command: list[str], workdir: tempfile.TemporaryDirectory[str],
                 env: Mapping[str, str] | None = None) -> None:
        self.command = command
        self._workdir = workdir
        self.log_path = Path(workdir.name) / "server.log"
        self._lock = threading.Lock()
        environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - the user's server binary
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=environment, preexec_fn=_die_with_parent)

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-LOG_TAIL:]
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL after 10 s; idempotent."""
        with self._lock:
            pid = self.process.pid
            for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
                try:
                    os.killpg(pid, sig)
                except (ProcessLookupError, PermissionError):
                    break
                try:
                    self.process.wait(timeout=wait)
                    # the leader is gone; make sure no child of it survives
                    try:
                        os.killpg(pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
                    break
                except subprocess.TimeoutExpired:
                    continue
            try:
                self._workdir.cleanup()
            except OSError:
                pass


class ServerContainer:
    """A ``tensorflow/serving`` container run by testcontainers; ``stop`` removes it."""

    def __init__(self, spec: cfg.ContainerSpec, workdir: tempfile.TemporaryDirectory[str]) -> None:
        from testcontainers.core.container import DockerContainer  # noqa: PLC0415

        self.spec = spec
        self._workdir = workdir
        self._lock = threading.Lock()
        container = DockerContainer(spec.image).with_exposed_ports(*spec.ports)
        for host, inside in spec.mounts:
            container = container.with_volume_mapping(host, inside, mode="ro")
        self.container = container.with_command(list(spec.arguments))
        self.container.start()
        self._stopped = False

    def address(self, port: int) -> str:
        return f"{self.container.get_container_host_ip()}:{self.container.get_exposed_port(port)}"

    def alive(self) -> bool:
        try:
            wrapped = self.container.get_wrapped_container()
            wrapped.reload()
            return str(wrapped.status) in ("created", "running")
        except Exception:  # noqa: BLE001 - gone
            return False

    def log_tail(self) -> str:
        try:
            out, err = self.container.get_logs()
            return (out + err).decode("utf-8", "replace")[-LOG_TAIL:]
        except Exception:  # noqa: BLE001
            return ""

    def stop(self) -> None:
        with self._lock:
            if not self._stopped:
                self._stopped = True
                try:
                    self.container.stop()
                finally:
                    self._workdir.cleanup()


def register_closer(context: RunContext, server: Server) -> None:
    """Stop ``server`` at the end of the run (the context's closers) and at exit."""
    context.closers.add(server.stop)
    atexit.register(server.stop)


# ------------------------------------------------------------------------- waiting


def wait_available(rest_url: str, model: ServingModel, server: Any, *,
                   timeout: float = START_TIMEOUT_S, what: str = "server") -> None:
    """Poll ``GET /v1/models/NAME`` until every version is AVAILABLE.

    Fails fast, with the server's log tail, if the server exits or a version ends in
    an error; fails after ``timeout`` seconds otherwise.
    """
    from harness.serving.rest import RestClient, RestError

    client = RestClient(rest_url, model.name, timeout=5.0)
    deadline = time.monotonic() + timeout
    wanted = set(model.version_numbers)
    last = "no answer yet"
    try:
        while True:
            if not server.alive():
                raise ServingStartError(
                    f"{what} exited before serving model {model.name!r}; its log ends:\n"
                    + server.log_tail())
            try:
                response = client.status()
            except RestError as exc:
                last = str(exc)
            else:
                last = response.describe()
                entries = response.body.get("model_version_status", []) \
                    if isinstance(response.body, dict) else []
                states = {int(e.get("version", -1)): e for e in entries}
                failed = [e for v, e in states.items() if v in wanted and e.get("state") == "END"
                          and (e.get("status") or {}).get("error_code", "OK") != "OK"]
                if failed:
                    raise ServingStartError(
                        f"{what} could not load model {model.name!r}: "
                        + "; ".join(f"version {e.get('version')}: "
                                    f"{(e.get('status') or {}).get('error_message')}"
                                    for e in failed)
                        + "\nits log ends:\n" + server.log_tail())
                if wanted and all(states.get(v, {}).get("state") == "AVAILABLE" for v in wanted):
                    return
            if time.monotonic() > deadline:
                raise ServingStartError(
                    f"{what}: model {model.name!r} versions {sorted(wanted)} not AVAILABLE after "
                    f"{timeout:.0f} s (last status: {last}); its log ends:\n" + server.log_tail())
            time.sleep(0.2)
    finally:
        client.close()


# ------------------------------------------------------------------------- the ways


def find_binary(option: str | None) -> str | None:
    """``--serving-binary`` (must exist), else ``tensorflow_model_server`` on PATH."""
    if option:
        found = shutil.which(option) or (option if Path(option).is_file() else None)
        if found is None or not os.access(found, os.X_OK):
            raise BackendUnavailable("serving", f"--serving-binary {option}: not an executable file",
                                     install=INSTALL)
        return str(Path(found).resolve())
    return shutil.which("tensorflow_model_server")


def docker_available() -> str | None:
    """None when a Docker engine answers, else why not."""
    try:
        import docker  # noqa: PLC0415 - installed with testcontainers
    except ImportError:
        return "the docker/testcontainers Python packages are not installed"
    try:
        client = docker.from_env(timeout=5)
        client.ping()
        client.close()
    except Exception as exc:  # noqa: BLE001 - any failure means: no engine here
        return f"no Docker engine answers ({type(exc).__name__}: {str(exc)[:120]})"
    return None


def start_binary(binary: str, model: ServingModel, *,
                 timeout: float = START_TIMEOUT_S) -> tuple[ServerProcess, Endpoint]:
    workdir = tempfile.TemporaryDirectory(prefix="model-contract-serving-")
    root = Path(workdir.name)
    base = cfg.binary_layout(model, root / "models")
    config_file = root / "models.config"
    config_file.write_text(cfg.model_config_text(model, str(base)), encoding="utf-8")
    grpc_port, rest_port = free_port(), free_port()
    while rest_port == grpc_port:
        rest_port = free_port()
    command = cfg.binary_command(binary, config_file=str(config_file), grpc_port=grpc_port,
                                 rest_port=rest_port, labels=bool(model.labels))
    start = time.perf_counter()
    server = ServerProcess(command, workdir)
    origin = f"tensorflow_model_server at {binary}"
    try:
        wait_available(f"http://127.0.0.1:{rest_port}", model, server, timeout=timeout,
                       what=f"{binary} ({' '.join(command[1:])})")
    except BaseException:
        server.stop()
        raise
    endpoint = Endpoint(origin, model, f"http://127.0.0.1:{rest_port}", f"127.0.0.1:{grpc_port}",
                        versioned=True, started=True, start_seconds=time.perf_counter() - start)
    return server, endpoint


def start_container(image: str, model: ServingModel, *,
                    timeout: float = START_TIMEOUT_S) -> tuple[ServerContainer, Endpoint]:
    workdir = tempfile.TemporaryDirectory(prefix="model-contract-serving-")
    config_file = Path(workdir.name) / "models.config"
    config_file.write_text(cfg.model_config_text(model, cfg.container_base_path(model)),
                           encoding="utf-8")
    spec = cfg.container_spec(model, image=image, config_file=config_file)
    start = time.perf_counter()
    try:
        server = ServerContainer(spec, workdir)
    except Exception as exc:  # noqa: BLE001 - pull/run failures are start failures
        workdir.cleanup()
        raise ServingStartError(f"could not run {' '.join(spec.docker_run())}: "
                                f"{type(exc).__name__}: {exc}") from None
    try:
        rest = "http://" + server.address(cfg.CONTAINER_REST_PORT)
        grpc_target = server.address(cfg.CONTAINER_GRPC_PORT)
        wait_available(rest, model, server, timeout=timeout, what=f"container {image}")
    except BaseException:
        server.stop()
        raise
    return server, Endpoint(f"{image} container", model, rest, grpc_target, versioned=True,
                            started=True, start_seconds=time.perf_counter() - start)


def _given_endpoint(context: RunContext, contract: Contract, refs: list[Any]) -> Endpoint:
    opts = context.options
    model = cfg.serving_model(contract, refs)
    versioned = all(getattr(r, "version", None) is not None for r in refs)
    where = " and ".join(x for x in (opts.serving_url, opts.serving_grpc) if x)
    endpoint = Endpoint(f"server at {where}", model, opts.serving_url, opts.serving_grpc,
                        versioned=versioned, started=False)
    check_serves(context, contract, refs, endpoint)
    return endpoint


def check_serves(context: RunContext, contract: Contract, refs: list[Any], endpoint: Endpoint) -> None:
    """Trust a given server only if its metadata matches each SavedModel's signatures."""
    from harness.serving.metadata import compare_with_saved_model, fetch_metadata

    problems: list[str] = []
    for ref in refs:
        info = context.model_info(ref)
        version = endpoint.version_of(ref)
        try:
            served = fetch_metadata(endpoint, version=version)
        except Exception as exc:  # noqa: BLE001 - unreachable or refused: not trusted
            silent = unanswered_address(endpoint, exc)
            if silent is not None:
                raise UntrustedServer(
                    f"{endpoint.label}: nothing answers at {silent}",
                    [f"{type(exc).__name__}: {exc}",
                     "hint: is the server running, and is this the port of its "
                     + ("gRPC API (--serving-grpc)" if silent == endpoint.grpc_target
                        else "REST API (--serving-url)") + "?"]) from None
            raise UntrustedServer(
                f"{endpoint.label}: cannot read the metadata of model {endpoint.model.name!r}"
                + (f" version {version}" if version is not None else ""),
                [f"{type(exc).__name__}: {exc}",
                 "hint: the model name on the server is formats.serving.model_name, else the "
                 f"contract's name ({contract.name!r})"]) from None
        for protocol, signatures in served.items():
            problems += [f"{ref.label} over {protocol}: {p}"
                         for p in compare_with_saved_model(contract, info, signatures)]
    if problems:
        raise UntrustedServer(
            f"{endpoint.label} does not serve the model under test: its metadata differs from "
            "the SavedModel's signatures (saved_model.pb)", problems)


def unanswered_address(endpoint: Endpoint, exc: BaseException) -> str | None:
    """The address nothing answered at (connection refused, no route, timed out), if that is
    what ``exc`` says; None when a server answered (with an error)."""
    from harness.serving.grpc_client import GrpcError
    from harness.serving.rest import RestError

    if isinstance(exc, RestError) and exc.response is None:
        return endpoint.rest_url
    if isinstance(exc, GrpcError) and exc.code in ("UNAVAILABLE", "DEADLINE_EXCEEDED"):
        return endpoint.grpc_target
    return None


def endpoint_for(context: RunContext, contract: Contract, ref: Any) -> Endpoint:
    """The endpoint serving ``ref``; starts (or checks) a server once per (contract, base)."""
    def make() -> Endpoint:
        with context.progress.step(f"serving: starting (or checking) the model server for "
                                   f"{ref.base.name}"):
            return _make_endpoint(context, contract, ref)

    endpoint: Endpoint = context.once(("serving-endpoint", str(contract.path), str(ref.base)),
                                      make)
    return endpoint


def _refs_of_base(context: RunContext, contract: Contract, ref: Any) -> list[Any]:
    try:
        refs = [r for r in context.models_of(contract) if r.base == ref.base]
    except HarnessError:
        refs = []
    return refs or [ref]


def _make_endpoint(context: RunContext, contract: Contract, ref: Any) -> Endpoint:
    opts = context.options
    refs = _refs_of_base(context, contract, ref)
    if opts.serving_url or opts.serving_grpc:
        return _given_endpoint(context, contract, refs)
    model = cfg.serving_model(contract, refs)
    binary = find_binary(opts.serving_binary)
    if binary is not None:
        server, endpoint = start_binary(binary, model)
        register_closer(context, server)
        _record_start(context, endpoint)
        return endpoint
    image = opts.serving_image or cfg.DEFAULT_IMAGE
    why_not = docker_available()
    if why_not is None:
        container, endpoint = start_container(image, model)
        register_closer(context, container)
        _record_start(context, endpoint)
        return endpoint
    raise BackendUnavailable(
        "serving", "no model server: no --serving-url/--serving-grpc given, no "
        f"tensorflow_model_server on PATH (or --serving-binary), and for {image}: {why_not}",
        install=INSTALL)


def _record_start(context: RunContext, endpoint: Endpoint) -> None:
    context.events.emit(ServerStarted(
        endpoint.label, endpoint.model.name, tuple(endpoint.model.version_numbers),
        endpoint.start_seconds, endpoint.rest_url, endpoint.grpc_target))
