"""``classifier``: a small MNIST-shaped MLP, trained briefly on seeded synthetic data.

Keras model: Dense(128, relu) -> Dropout(0.2) -> Dense(10, softmax) on 784 inputs.
Written as a TF Serving base path: ``<dest>/1/``.

Signatures (all take ``x`` float32 [None, 784], pixels in [0, 1]):

* ``classify``        -> ``class_id`` int64 [None] (argmax of prob), ``prob`` float32 [None, 10]
* ``embed``           -> ``embedding`` float32 [None, 128] (hidden layer after relu)
* ``serving_default`` -> ``prob`` float32 [None, 10] only (the classic "predict" output;
  use ``classify`` for the class id)
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from models_under_test import SERVING_VERSION
from models_under_test.seeding import seed_everything, tf_variables

N_INPUTS = 784
N_HIDDEN = 128
N_CLASSES = 10
N_TRAIN = 2048
EPOCHS = 2
SEED = 1234


def make_model() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input(shape=(N_INPUTS,), name="x"),
            keras.layers.Dense(N_HIDDEN, activation="relu", name="hidden"),
            keras.layers.Dropout(0.2, name="dropout"),
            keras.layers.Dense(N_CLASSES, activation="softmax", name="prob"),
        ],
        name="classifier",
    )


def synthetic_dataset(n: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Ten random prototype 'images' in [0, 1]; each sample is a noisy, clipped prototype."""
    rng = np.random.default_rng(seed)
    prototypes = rng.uniform(0.0, 1.0, size=(N_CLASSES, N_INPUTS))
    labels = rng.integers(0, N_CLASSES, size=n)
    noise = rng.normal(0.0, 0.35, size=(n, N_INPUTS))
    x = np.clip(prototypes[labels] + noise, 0.0, 1.0).astype(np.float32)
    return x, labels.astype(np.int64)


def train_model() -> keras.Model:
    seed_everything(SEED)
    model = make_model()
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    x, y = synthetic_dataset(N_TRAIN)
    model.fit(x, y, batch_size=64, epochs=EPOCHS, shuffle=True, verbose=0)
    # Copy into a fresh, uncompiled model so the optimizer state is not exported.
    export = make_model()
    export.set_weights(model.get_weights())
    return export


class ClassifierModule(tf.Module):
    """Exports the network's variables and three signatures, not the Keras model object.

    The Keras model is only closed over (tracking it would also export Keras's
    own traced call functions); its variables are tracked explicitly.
    """

    def __init__(self, model: keras.Model) -> None:
        super().__init__(name="classifier")
        self.network_variables = tf_variables(model)
        hidden = model.get_layer("hidden")
        spec = tf.TensorSpec([None, N_INPUTS], tf.float32, name="x")

        def prob(x: tf.Tensor) -> tf.Tensor:
            return model(x, training=False)

        def classify(x: tf.Tensor) -> dict[str, tf.Tensor]:
            p = prob(x)
            return {"class_id": tf.argmax(p, axis=-1, output_type=tf.int64), "prob": p}

        def embed(x: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"embedding": hidden(x)}

        def serve(x: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"prob": prob(x)}

        self.classify = tf.function(classify, input_signature=[spec])
        self.embed = tf.function(embed, input_signature=[spec])
        # Not named `serve`: TFLiteConverter.from_saved_model treats a top-level `serve`
        # attribute as Keras 3's model.export endpoint and then converts only that one
        # function as "serving_default", silently dropping the other signatures.
        self.predict = tf.function(serve, input_signature=[spec])


def build_classifier(dest: Path) -> None:
    module = ClassifierModule(train_model())
    tf.saved_model.save(
        module,
        str(Path(dest) / SERVING_VERSION),
        signatures={
            "classify": module.classify,
            "embed": module.embed,
            "serving_default": module.predict,
        },
    )
