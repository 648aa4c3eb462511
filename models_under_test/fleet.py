"""A generated fleet: many tiny models, their contracts and a TF Serving ``model_config_list``.

``build_fleet(root, models=33)`` writes, below ``root``::

    models/<name>/<version>/   TF Serving base paths (SavedModels)
    contracts/<name>.json      one contract per model, named like it
    models.config              the model_config_list: every model, with a version policy
    fleet.json                 the same fleet as a manifest (harness/fleet schema)

Three kinds of model (``scale``, ``total``, ``pick``), each in two versions (v2 computes with
a different constant), take ``x`` float32 [batch, 4]. Models cycle through the kinds and
through the version policies ``latest`` (the default), ``all`` and ``specific {1}``; every
third model has a ``stable`` version label. One more model, ``orphan``, has no contract.

Cheap to build: one SavedModel is saved per kind and version (six saves) and copied to
every model folder that uses it. Nothing here is committed; tests and benchmarks build it
into a temporary directory.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KINDS = ("scale", "total", "pick")
VERSIONS = (1, 2)
POLICIES = ("latest", "all", "specific")
ORPHAN = "orphan"


@dataclass(frozen=True)
class FleetModel:
    name: str
    kind: str
    policy: str
    labels: tuple[tuple[str, int], ...] = ()

    @property
    def versions_checked(self) -> tuple[int, ...]:
        return {"latest": (2,), "all": (1, 2), "specific": (1,)}[self.policy]


def fleet_models(count: int = 33) -> list[FleetModel]:
    """The fleet's models (without the orphan): kinds and policies cycle."""
    return [FleetModel(f"{KINDS[i % 3]}-{i:03d}", KINDS[i % 3], POLICIES[(i // 3) % 3],
                       (("stable", 1),) if i % 3 == 0 and POLICIES[(i // 3) % 3] == "all" else ())
            for i in range(count)]


def _save(kind: str, version: int, dest: Path) -> None:
    import tensorflow as tf

    spec = tf.TensorSpec([None, 4], tf.float32, name="x")
    factor = float(version)

    class Tiny(tf.Module):
        @tf.function(input_signature=[spec])
        def serve(self, x: Any) -> dict[str, Any]:
            x = tf.ensure_shape(x, [None, 4])  # refuse other ranks, as the contract says
            if kind == "scale":
                return {"y": x * factor}
            if kind == "total":
                return {"total": tf.reduce_sum(x, axis=-1) * factor}
            weights = tf.constant([[factor, 0.0, 0.0], [0.0, 1.0, 0.0],
                                   [0.0, 0.0, 1.0], [0.0, 0.0, -1.0]])
            logits = tf.matmul(x, weights)
            prob = tf.nn.softmax(logits, axis=-1)
            return {"class_id": tf.argmax(prob, axis=-1, output_type=tf.int64), "prob": prob}

    module = Tiny()
    tf.saved_model.save(module, str(dest), signatures={"serving_default": module.serve})


def contract_for(name: str, kind: str) -> dict[str, Any]:
    """The contract of one fleet model (its ``name`` matches the model's)."""
    x = {"dtype": "float32", "shape": ["batch", 4], "range": [-1.0, 1.0]}
    outputs: dict[str, Any] = {
        "scale": {"y": {"dtype": "float32", "shape": ["batch", 4], "checks": ["finite"]}},
        "total": {"total": {"dtype": "float32", "shape": ["batch"], "checks": ["finite"]}},
        "pick": {"class_id": {"dtype": "int64", "shape": ["batch"]},
                 "prob": {"dtype": "float32", "shape": ["batch", 3], "range": [0.0, 1.0],
                          "checks": ["finite", {"sum": 1.0, "axis": -1, "atol": 1e-5}]}},
    }[kind]
    signature: dict[str, Any] = {"inputs": {"x": x}, "outputs": outputs}
    if kind == "pick":
        signature["relations"] = [{"argmax": "prob", "equals": "class_id"}]
    return {"name": name, "version": "1.0.0", "tags": ["serve"],
            "dims": {"batch": {"min": 1, "max": 8}},
            "signatures": {"serving_default": signature},
            "fuzz": {"examples": 3}}


def config_text(models: list[FleetModel], models_dir: Path) -> str:
    """The ``model_config_list`` text proto of the fleet (plus the orphan, latest version)."""
    lines = ["model_config_list {"]
    for m in [*models, FleetModel(ORPHAN, "scale", "latest")]:
        lines += ["  config {", f'    name: "{m.name}"',
                  f'    base_path: "{models_dir / m.name}"', '    model_platform: "tensorflow"']
        if m.policy == "all":
            lines.append("    model_version_policy { all {} }")
        elif m.policy == "specific":
            lines.append("    model_version_policy { specific { versions: 1 } }")
        for label, version in m.labels:
            lines.append(f'    version_labels {{ key: "{label}" value: {version} }}')
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def manifest_for(models: list[FleetModel]) -> dict[str, Any]:
    """The same fleet as a manifest; paths relative to the manifest's folder."""
    entries: list[dict[str, Any]] = []
    for m in models:
        versions: Any = {"latest": "latest", "all": "all", "specific": [1]}[m.policy]
        entries.append({"name": m.name, "base_path": f"models/{m.name}",
                        "contract": f"contracts/{m.name}.json", "versions": versions})
    entries.append({"name": ORPHAN, "base_path": f"models/{ORPHAN}"})
    return {"fleet": "generated", "models": entries}


def build_fleet(root: Path, models: int = 33) -> Path:
    """Write the fleet below ``root``; returns the ``models.config`` path."""
    root = Path(root)
    fleet = fleet_models(models)
    saved = root / ".saved"
    for kind in KINDS:
        for version in VERSIONS:
            _save(kind, version, saved / kind / str(version))
    models_dir, contracts_dir = root / "models", root / "contracts"
    contracts_dir.mkdir(parents=True, exist_ok=True)
    for m in [*fleet, FleetModel(ORPHAN, "scale", "latest")]:
        for version in VERSIONS:
            shutil.copytree(saved / m.kind / str(version), models_dir / m.name / str(version))
        if m.name != ORPHAN:
            (contracts_dir / f"{m.name}.json").write_text(
                json.dumps(contract_for(m.name, m.kind), indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(saved)
    config = root / "models.config"
    config.write_text(config_text(fleet, models_dir.resolve()), encoding="utf-8")
    (root / "fleet.json").write_text(json.dumps(manifest_for(fleet), indent=2) + "\n",
                                     encoding="utf-8")
    return config
