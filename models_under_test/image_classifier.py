"""``image_classifier``: Keras MobileNetV2 (alpha 0.35, 96x96x3, 10 classes), untrained.

The real architecture with seeded random weights, made "plausible" so its
output is clearly non-uniform and input-dependent:

1. BatchNorm gamma/beta are perturbed (gamma ~ U(0.6, 1.4), beta ~ N(0, 0.3)).
2. BatchNorm moving mean/variance are calibrated on seeded synthetic images
   (gradients, coloured discs, noise): one forward pass in training mode with
   momentum 0 stores each layer's batch statistics as its moving statistics.
3. The final Dense kernel is rescaled so the logits vary with a standard
   deviation of ``LOGIT_STD`` across the calibration images, and its bias
   centres the logits so no class dominates.

``build_image_classifier`` checks the result (mean top probability well above
1/10, several distinct predicted classes, outputs that vary across inputs) and
refuses to save otherwise. Written as a TF Serving base path: ``<dest>/1/``.

Signatures (input ``x`` float32 [None, 96, 96, 3], pixels in [0, 1]; the model
rescales to MobileNetV2's [-1, 1] itself):

* ``serving_default`` -> ``probs`` float32 [None, 10]
* ``classify``        -> ``probs`` float32 [None, 10], ``class_id`` int64 [None]
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from models_under_test import SERVING_VERSION
from models_under_test.seeding import keras_applications, seed_everything, tf_variables

SIZE = 96
N_CLASSES = 10
ALPHA = 0.35
N_CALIBRATION = 96
LOGIT_STD = 3.0
SEED = 2024


def synthetic_images(n: int, rng: np.random.Generator) -> np.ndarray:
    """Seeded float32 images in [0, 1]: colour gradients, coloured discs and uniform noise."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / (SIZE - 1.0)
    out = np.empty((n, SIZE, SIZE, 3), np.float32)
    for i in range(n):
        kind = i % 3
        if kind == 0:
            colours = rng.uniform(0.0, 1.0, (3, 3))
            image = colours[0] * 0.5 + (xx[..., None] * colours[1] + yy[..., None] * colours[2]) / 2
        elif kind == 1:
            image = np.zeros((SIZE, SIZE, 3)) + rng.uniform(0.0, 0.5, 3)
            for _ in range(4):
                cx, cy, r = rng.uniform(0.0, 1.0, 3)
                inside = (xx - cx) ** 2 + (yy - cy) ** 2 < (0.05 + 0.2 * r) ** 2
                image[inside] = rng.uniform(0.0, 1.0, 3)
        else:
            image = rng.uniform(0.0, 1.0, (SIZE, SIZE, 3))
        out[i] = np.clip(image, 0.0, 1.0)
    return out


def to_model_range(x: np.ndarray | tf.Tensor) -> np.ndarray | tf.Tensor:
    """[0, 1] pixels -> MobileNetV2's expected [-1, 1]."""
    return x * 2.0 - 1.0


def make_model() -> keras.Model:
    """Seeded MobileNetV2 with calibrated BatchNorm statistics and a rescaled head."""
    seed_everything(SEED)
    rng = np.random.default_rng(SEED)
    model = keras_applications().MobileNetV2(  # type: ignore[attr-defined]
        input_shape=(SIZE, SIZE, 3), alpha=ALPHA, weights=None, classes=N_CLASSES
    )
    batch_norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in batch_norms:
        layer.gamma.assign(rng.uniform(0.6, 1.4, layer.gamma.shape).astype(np.float32))
        layer.beta.assign(rng.normal(0.0, 0.3, layer.beta.shape).astype(np.float32))

    calibration = to_model_range(synthetic_images(N_CALIBRATION, rng))
    momenta = [layer.momentum for layer in batch_norms]
    for layer in batch_norms:
        layer.momentum = 0.0
    model(calibration, training=True)  # moving stats := this batch's statistics
    for layer, momentum in zip(batch_norms, momenta, strict=True):
        layer.momentum = momentum

    head = model.layers[-1]
    features = keras.Model(model.input, head.input)(calibration, training=False).numpy()
    kernel, _ = head.get_weights()
    kernel = kernel * (LOGIT_STD / float((features @ kernel).std(axis=0).mean()))
    bias = -(features @ kernel).mean(axis=0)
    head.set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
    return model


def check_output(probs: np.ndarray) -> None:
    """Refuse a model whose softmax is near-uniform or ignores its input."""
    top = float(probs.max(axis=-1).mean())
    distinct = len(np.unique(probs.argmax(axis=-1)))
    spread = float(probs.std(axis=0).mean())
    if top < 0.3 or distinct < 3 or spread < 0.05:
        raise RuntimeError(
            "image_classifier output is too uniform or input-independent: "
            f"mean top probability {top:.3f}, {distinct} distinct classes, "
            f"mean std across inputs {spread:.3f}"
        )


def checked_model_input(x: tf.Tensor) -> tf.Tensor:
    """``x`` in the network's range when its shape is ``[batch, SIZE, SIZE, 3]``; any other
    shape is an error (InvalidArgumentError), in every format.

    The model's input guard. Fed a tensor of the wrong rank, the convolution kernels abort
    the whole process (a C++ CHECK), which would take down a server on one bad request (the
    rejection check found this). A loaded signature does not check shapes, so the model must.

    Each choice below was tried on TF 2.21 (wrong-rank inputs in a child process), TFLite,
    ONNX and TF.js 4.22:

    * ``tf.ensure_shape`` (the guard before): TF.js 4.22's op mapper reads EnsureShape's
      shape from a second input, while TensorFlow's op has one input and a ``shape``
      attribute, so every call of the converted model fails (docs/tfjs.md).
    * ``tf.reshape(x, [-1, SIZE, SIZE, 3])``: grappler proves it redundant from the static
      shape of ``x`` and removes it; a ``[96, 96, 3]`` input aborts TensorFlow again.
    * Here the shape is read at run time: ``x`` is reshaped to its own shape when dims 1-3
      are ``[SIZE, SIZE, 3]`` and to ``[-1, -1, -1, -1]`` (refused: "Only one input size may
      be -1") otherwise; a wrong rank already fails in the comparison ("Incompatible
      shapes"). That reshape's result has no static dims, which TFLite's converter cannot
      lower a convolution on, so the rescaled tensor is reshaped to ``[-1, SIZE, SIZE, 3]``
      once more. The rescale sits between the two reshapes on purpose: grappler merges
      ``Reshape(Reshape(x))`` into one reshape and would then drop it as redundant.

    The ops (Shape, StridedSlice, Equal, All, SelectV2, Reshape, Mul, Sub) run in every
    format; TFLite, ONNX and TF.js also check an input's shape themselves before a call.
    """
    shape = tf.shape(x)
    expected = tf.reduce_all(tf.equal(shape[1:], [SIZE, SIZE, 3]))
    checked = tf.reshape(x, tf.where(expected, shape, [-1, -1, -1, -1]))
    return tf.reshape(to_model_range(checked), [-1, SIZE, SIZE, 3])


class ImageClassifierModule(tf.Module):
    """Exports the network's variables, not the Keras model object.

    Tracking the Keras model itself would make tf.saved_model.save also export
    Keras's own traced call functions (a second ~300 KB copy of the graph), so
    the model is only closed over and its variables are tracked explicitly.
    """

    def __init__(self, model: keras.Model) -> None:
        super().__init__(name="image_classifier")
        self.network_variables = tf_variables(model)
        spec = tf.TensorSpec([None, SIZE, SIZE, 3], tf.float32, name="x")

        def probs(x: tf.Tensor) -> tf.Tensor:
            return model(checked_model_input(x), training=False)

        # One shared function for the network, called by both signatures.
        self.probs = tf.function(probs, input_signature=[spec])
        # Not named `serve`: TFLiteConverter.from_saved_model treats a top-level `serve`
        # attribute as Keras 3's model.export endpoint and then converts only that one
        # function as "serving_default", silently dropping the other signatures.
        self.predict = tf.function(self._serve, input_signature=[spec])
        self.classify = tf.function(self._classify, input_signature=[spec])

    def _serve(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"probs": self.probs(x)}

    def _classify(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        probs = self.probs(x)
        return {"probs": probs, "class_id": tf.argmax(probs, axis=-1, output_type=tf.int64)}


def build_image_classifier(dest: Path) -> None:
    module = ImageClassifierModule(make_model())
    held_out = synthetic_images(30, np.random.default_rng(SEED + 1))
    check_output(module.predict(tf.constant(held_out))["probs"].numpy())
    tf.saved_model.save(
        module,
        str(Path(dest) / SERVING_VERSION),
        signatures={"serving_default": module.predict, "classify": module.classify},
    )
