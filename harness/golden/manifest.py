"""The manifest of a golden: what was recorded, from which model, with which versions.

``baselines/<model>/<signature>/manifest.json`` says which model the golden belongs to (its
content fingerprint, :func:`harness.exports.cache.fingerprint`), where the contract is, how
the inputs were drawn (seed, generator), the dtypes and shapes of every input and output,
and the environment of the recording run (TensorFlow and converter versions, Python,
platform). A run that compares against the golden names both environments in its messages.

Nothing here imports TensorFlow: versions are read from package metadata.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

#: Bumped when the layout of a golden directory changes.
GOLDEN_LAYOUT = 1

#: Distributions whose versions are recorded (those that are installed).
TRACKED = ("tensorflow-cpu", "tensorflow", "keras", "tf-keras", "tf2onnx", "onnx", "onnxruntime",
           "ai-edge-litert", "numpy", "protobuf", "hypothesis")

#: How a version is shown in messages: distribution -> short name.
SHORT = {"tensorflow-cpu": "TF", "tensorflow": "TF", "tf2onnx": "tf2onnx", "onnxruntime": "onnxruntime",
         "ai-edge-litert": "ai-edge-litert", "keras": "keras", "numpy": "numpy"}


def environment() -> dict[str, Any]:
    """This run's environment: package versions, Python, platform."""
    from importlib import metadata

    versions: dict[str, str] = {}
    for dist in TRACKED:
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return {
        "versions": versions,
        "python": platform.python_version(),
        "platform": f"{platform.system()}-{platform.machine()}",
    }


def tf_version(env: Mapping[str, Any]) -> str:
    versions = env.get("versions", {})
    return str(versions.get("tensorflow-cpu") or versions.get("tensorflow") or "?")


def describe_environment(env: Mapping[str, Any], backend: str | None = None) -> str:
    """``TF 2.21.0 / keras 3.15.1 / tf2onnx 1.17.0 / onnxruntime 1.32.0 on Linux-x86_64 (Python 3.11.9)``.

    With ``backend`` only the versions that matter to it are named (TF always).
    """
    versions = env.get("versions", {})
    wanted = {"savedmodel": ("keras",), "tflite": ("ai-edge-litert",),
              "onnx": ("tf2onnx", "onnx", "onnxruntime")}
    names = ("keras", "tf2onnx", "onnx", "onnxruntime", "ai-edge-litert") if backend is None \
        else wanted.get(backend, ())
    parts = [f"TF {tf_version(env)}"]
    parts += [f"{name} {versions[name]}" for name in names if name in versions]
    return (" / ".join(parts)
            + f" on {env.get('platform', '?')} (Python {env.get('python', '?')})")


@dataclass(frozen=True)
class Manifest:
    """The contents of ``manifest.json`` (see the module docstring)."""

    model: str
    signature: str
    model_path: str
    fingerprint: str
    contract: str
    seed: int
    generator: str
    environment: Mapping[str, Any]
    #: one entry per call: {"dims": {...}, "inputs": {name: {"dtype", "shape"}}}
    calls: tuple[Mapping[str, Any], ...]
    #: backend -> {"outputs": {name: {"dtype", "shapes": [...]}}} for each recorded backend
    backends: Mapping[str, Mapping[str, Any]]
    #: backend -> why it was not recorded (unavailable, conversion failed)
    not_recorded: Mapping[str, str] = field(default_factory=dict)
    layout: int = GOLDEN_LAYOUT

    def to_json(self) -> dict[str, Any]:
        return {
            "layout": self.layout,
            "model": self.model,
            "signature": self.signature,
            "model_path": self.model_path,
            "fingerprint": self.fingerprint,
            "contract": self.contract,
            "inputs": {"seed": self.seed, "generator": self.generator, "calls": list(self.calls)},
            "recorded_with": dict(self.environment),
            "backends": {k: dict(v) for k, v in self.backends.items()},
            "not_recorded": dict(self.not_recorded),
        }

    @staticmethod
    def from_json(data: Mapping[str, Any], path: Path | None = None) -> "Manifest":
        try:
            inputs = data["inputs"]
            return Manifest(
                model=str(data["model"]), signature=str(data["signature"]),
                model_path=str(data["model_path"]), fingerprint=str(data["fingerprint"]),
                contract=str(data["contract"]), seed=int(inputs["seed"]),
                generator=str(inputs["generator"]), environment=dict(data["recorded_with"]),
                calls=tuple(inputs["calls"]), backends=dict(data["backends"]),
                not_recorded=dict(data.get("not_recorded", {})), layout=int(data["layout"]))
        except (KeyError, TypeError, ValueError) as exc:
            from harness.errors import HarnessError

            raise HarnessError(f"golden manifest is incomplete or malformed ({type(exc).__name__}: {exc})",
                               file=path, hint="re-record it: python -m harness.golden record --force") from None

    def describe_recording(self) -> str:
        return describe_environment(self.environment)


def write_manifest(path: Path, manifest: Manifest) -> None:
    path.write_text(json.dumps(manifest.to_json(), indent=1, sort_keys=False) + "\n", encoding="utf-8")


def read_manifest(path: Path) -> Manifest:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        from harness.errors import HarnessError

        raise HarnessError(f"cannot read golden manifest ({exc})", file=path) from None
    return Manifest.from_json(data, Path(path))
