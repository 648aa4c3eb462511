"""Pre-exported TFLite/ONNX artifacts that must FAIL the parity family, checked as given files.

Written to ``fixtures/exports/`` by ``python -m models_under_test.fixtures_exports``; each
has a contract under ``fixtures/contracts/`` whose ``models`` is the good ``tiny`` model:

* ``tiny_perturbed.tflite`` / ``tiny_perturbed.onnx`` - exported (with the harness's own
  converters) from a copy of ``tiny`` whose weights are perturbed by seeded noise
  (sd 0.05): they load, run and keep the names, but their ``y`` disagrees with ``tiny``'s
  beyond the tolerance. Contracts ``tiny_perturbed_tflite.json``, ``tiny_perturbed_onnx.json``.
* ``tiny_renamed.tflite`` / ``tiny_renamed.onnx`` - ``tiny`` with output ``y`` returned as
  ``probabilities``: name mapping must fail (``tiny_renamed_output.json``) unless the
  contract maps the name (``tiny_renamed_mapped.json``, which passes).

And one SavedModel that the *standard* TFLite export gets wrong (a known converter defect):

* ``fixtures/keras3_saved`` - a small Keras 3 model (Dense, BatchNormalization, Dense,
  softmax) saved with ``tf.saved_model.save(model)``. ``TFLiteConverter.from_saved_model``
  keeps its weights as resource variables (VAR_HANDLE/READ_VARIABLE) that nothing in the
  .tflite initialises: the file loads and runs, and returns NaN. Contract
  ``keras3_uninitialised_tflite.json`` must fail ``parity[tflite]`` and say why.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

from models_under_test import MODELS_DIR

EXPORTS_DIR = MODELS_DIR / "fixtures" / "exports"
PERTURB_SEED = 11
PERTURB_SD = 0.05


def build_perturbed_tiny(dest: Path) -> None:
    """``tiny`` with its weights (not its bias) perturbed by seeded noise."""
    import tensorflow as tf

    from models_under_test.fixtures_static import TinyModule, _tiny_serve, save_tiny_variant

    def perturb(module: TinyModule) -> None:
        noise = np.random.default_rng(PERTURB_SEED).normal(0.0, PERTURB_SD, size=(4, 2))
        module.w.assign_add(tf.constant(noise, tf.float32))

    save_tiny_variant(dest, _tiny_serve, extra=perturb)


def build_renamed_tiny(dest: Path) -> None:
    """``tiny`` whose output ``y`` is called ``probabilities``."""
    from models_under_test.fixtures_static import TinyModule, save_tiny_variant

    def serve(module: TinyModule, x: object) -> dict[str, object]:
        out = module.outputs(module.logits(x))
        return {"probabilities": out["y"], "label": out["label"]}

    save_tiny_variant(dest, serve)


def build_keras3_saved(dest: Path) -> None:
    """A Keras 3 model saved with tf.saved_model.save (inputs 'inputs', output 'output_0')."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(PERTURB_SEED)
    model = keras.Sequential([keras.Input((8,), name="x"), keras.layers.Dense(16, activation="relu"),
                              keras.layers.BatchNormalization(),
                              keras.layers.Dense(3, activation="softmax")])
    tf.saved_model.save(model, str(dest))


def build_exports(out: Path = EXPORTS_DIR) -> list[Path]:
    from harness.exports.cache import ExportCache
    from harness.exports.onnx import export_onnx
    from harness.exports.tflite import export_tflite

    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        cache = ExportCache(Path(tmp, "cache"))
        for name, builder in (("tiny_perturbed", build_perturbed_tiny),
                              ("tiny_renamed", build_renamed_tiny)):
            model = Path(tmp, name)
            builder(model)
            tfl = export_tflite(model, ["serving_default"], cache=cache)
            onx = export_onnx(model, ["serving_default"], cache=cache)["serving_default"]
            if not hasattr(onx, "path"):
                raise onx  # type: ignore[misc]
            for src, suffix in ((tfl.path, ".tflite"), (onx.path, ".onnx")):
                target = out / f"{name}{suffix}"
                shutil.copyfile(src, target)
                written.append(target)
    return written


if __name__ == "__main__":
    import sys

    if "--keras3" in sys.argv:
        target = MODELS_DIR / "fixtures" / "keras3_saved"
        shutil.rmtree(target, ignore_errors=True)
        build_keras3_saved(target)
        print(target)
        sys.exit(0)
    for path in build_exports():
        print(path, path.stat().st_size)
