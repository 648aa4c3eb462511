"""Seeding shared by all builders so every artifact is reproducible."""

from __future__ import annotations

import os

DEFAULT_SEED = 1234


def seed_everything(seed: int = DEFAULT_SEED) -> None:
    """Seed Python, NumPy, TF and Keras, and ask TF for deterministic kernels."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["PYTHONHASHSEED"] = str(seed)
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)  # seeds random, numpy and the TF global generator
    tf.config.experimental.enable_op_determinism()


def tf_variables(model: object) -> list[object]:
    """The ``tf.Variable`` behind each of a Keras model's variables, for a tf.Module to track.

    Keras 3 wraps them (``KerasVariable.value`` is the tf.Variable); Keras 2 (TensorFlow
    2.12 to 2.15) hands out tf.Variables directly, where ``.value`` is a method.
    """
    import tensorflow as tf

    return [v if isinstance(v, tf.Variable) else v.value for v in model.variables]  # type: ignore[attr-defined]


def keras_applications() -> object:
    """``keras.applications``; the Keras 2.12 package has none, ``tf.keras`` does."""
    import keras

    try:
        return keras.applications
    except AttributeError:
        import tensorflow as tf

        return tf.keras.applications
