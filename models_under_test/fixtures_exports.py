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
* ``fixtures/keras3_module`` - the seed article's multi-signature pattern (a tf.Module
  holding a Keras 3 model, ``classify`` and ``embed`` tf.functions calling it), which the
  standard export gets wrong the same way (``keras3_module_uninitialised_tflite.json``).
  The two export steps the diagnosis suggests instead are built by
  :func:`build_keras3_export_archive` and :func:`build_keras3_closed_module`; tests apply
  both and their TFLite exports pass parity. (Converting the same module with
  ``TFLiteConverter.from_concrete_functions`` does not help: it reads the same
  uninitialised variables.)

Rebuild the two SavedModels with ``python -m models_under_test.fixtures_exports --keras3``.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

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


KERAS3_SEED = 7


def keras3_classifier() -> Any:
    """A seeded Keras 3 classifier: 8 features -> Dense 16 relu ('hidden') -> BatchNorm ->
    Dense 3 softmax."""
    import keras

    keras.utils.set_random_seed(KERAS3_SEED)
    return keras.Sequential([keras.Input((8,), name="x"),
                             keras.layers.Dense(16, activation="relu", name="hidden"),
                             keras.layers.BatchNormalization(),
                             keras.layers.Dense(3, activation="softmax")])


def _endpoints(model: Any) -> dict[str, Any]:
    """The seed article's two signatures, as plain functions calling the Keras model."""
    import tensorflow as tf

    hidden = model.get_layer("hidden")

    def classify(x: Any) -> dict[str, Any]:
        prob = model(x, training=False)
        return {"class_id": tf.argmax(prob, axis=-1, output_type=tf.int64), "prob": prob}

    def embed(x: Any) -> dict[str, Any]:
        return {"embedding": hidden(x)}

    return {"classify": classify, "embed": embed}


def _x_spec() -> Any:
    import tensorflow as tf

    return tf.TensorSpec([None, 8], tf.float32, name="x")


def build_keras3_module(dest: Path) -> None:
    """The seed article's pattern, which the standard TFLite export gets wrong: a tf.Module
    *holding* a Keras 3 model (``self.model = model``) whose ``classify`` and ``embed``
    tf.functions call it, saved with ``tf.saved_model.save``."""
    import tensorflow as tf

    module = tf.Module()
    module.model = keras3_classifier()
    for name, fn in _endpoints(module.model).items():
        setattr(module, name, tf.function(fn, input_signature=[_x_spec()]))
    tf.saved_model.save(module, str(dest), signatures={"classify": module.classify,
                                                        "embed": module.embed})


def build_keras3_export_archive(dest: Path) -> None:
    """Fix 1 (proven by tests/exports/test_format_checks.py): the same model and signatures
    written by Keras 3's ``keras.export.ExportArchive`` (track the model, one
    ``add_endpoint`` per signature)."""
    import keras

    model = keras3_classifier()
    archive = keras.export.ExportArchive()
    archive.track(model)
    for name, fn in _endpoints(model).items():
        archive.add_endpoint(name, fn, input_signature=[_x_spec()])
    archive.write_out(str(dest), verbose=False)


def build_keras3_closed_module(dest: Path) -> None:
    """Fix 2 (proven likewise): a tf.Module that does *not* hold the Keras model but tracks
    its tf.Variables (``[v.value for v in model.variables]``) and closes over the model in
    its tf.functions (models_under_test/classifier.py is built this way)."""
    import tensorflow as tf

    from models_under_test.seeding import tf_variables

    model = keras3_classifier()
    module = tf.Module()
    module.weights = tf_variables(model)
    for name, fn in _endpoints(model).items():
        setattr(module, name, tf.function(fn, input_signature=[_x_spec()]))
    tf.saved_model.save(module, str(dest), signatures={"classify": module.classify,
                                                        "embed": module.embed})


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
        for folder, builder in (("keras3_saved", build_keras3_saved),
                                ("keras3_module", build_keras3_module)):
            target = MODELS_DIR / "fixtures" / folder
            shutil.rmtree(target, ignore_errors=True)
            builder(target)
            print(target)
        sys.exit(0)
    for path in build_exports():
        print(path, path.stat().st_size)
