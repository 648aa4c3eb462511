"""How a model server is started: the base-path layout, the model config text, the command.

Everything here is pure (no process is started, nothing imported beyond the stdlib and the
contract model), so the exact argument lists and config text are unit-tested even where no
``tensorflow_model_server`` binary and no Docker engine exist.

A *layout* maps each model version under test to a folder the server sees as
``BASE/<version>``. For the binary the folders are symlinks in a temporary directory
pointing at the user's (read-only) model directories; for the container each version
folder is bind-mounted read-only at ``/models/<name>/<version>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from harness.contract.model import Contract
from harness.savedmodel.layout import ModelRef

#: The TF Serving image used when no binary is found (never ``latest``).
DEFAULT_IMAGE = "tensorflow/serving:2.19.1"
#: Ports the image's entrypoint starts the server on (gRPC, REST).
CONTAINER_GRPC_PORT = 8500
CONTAINER_REST_PORT = 8501
#: Where models and the config file are mounted inside the container.
CONTAINER_MODELS = "/models"
CONTAINER_CONFIG = "/models/models.config"
#: Version given to a plain SavedModel directory (not a base path with version folders).
PLAIN_MODEL_VERSION = 1


@dataclass(frozen=True)
class ServingModel:
    """One model as the server is configured to serve it."""

    name: str
    #: version -> the SavedModel directory holding it (the user's, never written to)
    versions: Mapping[int, Path]
    #: label -> version (``formats.serving.version_labels``)
    labels: Mapping[str, int] = field(default_factory=dict)

    @property
    def version_numbers(self) -> tuple[int, ...]:
        return tuple(sorted(self.versions))


def serving_options(contract: Contract) -> Mapping[str, object]:
    spec = contract.formats.get("serving")
    return spec.options if spec is not None else {}


def model_name(contract: Contract) -> str:
    """The model's name on the server: ``formats.serving.model_name``, else the contract's name."""
    return str(serving_options(contract).get("model_name") or contract.name)


def version_labels(contract: Contract) -> dict[str, int]:
    raw = serving_options(contract).get("version_labels") or {}
    assert isinstance(raw, Mapping)
    return {str(k): int(v) for k, v in raw.items()}


def protocols(contract: Contract) -> tuple[str, ...]:
    raw = serving_options(contract).get("protocols") or ("rest", "grpc")
    assert isinstance(raw, (list, tuple))
    return tuple(str(p) for p in raw)


def model_config_text(model: ServingModel, base_path: str) -> str:
    """The ``--model_config_file`` text proto: every version under test, labels if any."""
    versions = " ".join(f"versions: {v}" for v in model.version_numbers)
    lines = [
        "model_config_list {",
        "  config {",
        f'    name: "{_escape(model.name)}"',
        f'    base_path: "{_escape(base_path)}"',
        '    model_platform: "tensorflow"',
        f"    model_version_policy {{ specific {{ {versions} }} }}",
    ]
    for label, version in sorted(model.labels.items()):
        lines.append(f'    version_labels {{ key: "{_escape(label)}" value: {version} }}')
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def binary_command(binary: str, *, config_file: str, grpc_port: int, rest_port: int,
                   labels: bool) -> list[str]:
    """The ``tensorflow_model_server`` argument list (free loopback ports chosen by the caller)."""
    command = [
        binary,
        f"--port={grpc_port}",
        f"--rest_api_port={rest_port}",
        f"--model_config_file={config_file}",
        "--file_system_poll_wait_seconds=0",
    ]
    if labels:
        command.append("--allow_version_labels_for_unavailable_models=true")
    return command


def binary_layout(model: ServingModel, root: Path) -> Path:
    """``root/<name>/<version>`` symlinks to each version folder; returns the base path.

    Only ``root`` (a temporary directory of the harness) is written to.
    """
    base = root / model.name
    base.mkdir(parents=True, exist_ok=True)
    for version, source in model.versions.items():
        link = base / str(version)
        if not link.exists():
            link.symlink_to(Path(source).resolve(), target_is_directory=True)
    return base


@dataclass(frozen=True)
class ContainerSpec:
    """Everything ``DockerContainer`` needs: image, read-only mounts, ports and arguments."""

    image: str
    #: (host path, container path) pairs, all mounted read-only
    mounts: tuple[tuple[str, str], ...]
    ports: tuple[int, int]
    arguments: tuple[str, ...]

    def docker_run(self) -> list[str]:
        """The equivalent ``docker run`` command line (shown in messages and the README)."""
        command = ["docker", "run", "--rm"]
        for port in self.ports:
            command += ["-p", f"127.0.0.1::{port}"]
        for host, inside in self.mounts:
            command += ["-v", f"{host}:{inside}:ro"]
        return command + [self.image, *self.arguments]


def container_spec(model: ServingModel, *, image: str, config_file: Path) -> ContainerSpec:
    """The container for ``model``: each version folder mounted read-only, plus the config.

    The image's entrypoint already passes ``--port=8500 --rest_api_port=8501``; the
    ``--model_config_file`` given here takes precedence over its ``--model_name``.
    """
    base = f"{CONTAINER_MODELS}/{model.name}"
    mounts = [(str(Path(src).resolve()), f"{base}/{version}")
              for version, src in sorted(model.versions.items())]
    mounts.append((str(Path(config_file).resolve()), CONTAINER_CONFIG))
    arguments = [f"--model_config_file={CONTAINER_CONFIG}", "--file_system_poll_wait_seconds=0"]
    if model.labels:
        arguments.append("--allow_version_labels_for_unavailable_models=true")
    return ContainerSpec(image, tuple(mounts), (CONTAINER_GRPC_PORT, CONTAINER_REST_PORT),
                         tuple(arguments))


def container_base_path(model: ServingModel) -> str:
    return f"{CONTAINER_MODELS}/{model.name}"


def serving_model(contract: Contract, refs: Sequence[ModelRef]) -> ServingModel:
    """The served model for the refs of one base path (a plain directory becomes version 1)."""
    versions: dict[int, Path] = {}
    for ref in refs:
        versions[PLAIN_MODEL_VERSION if ref.version is None else int(ref.version)] = Path(ref.path)
    return ServingModel(model_name(contract), versions, version_labels(contract))
