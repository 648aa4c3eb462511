"""Seeding shared by all builders so every artifact is reproducible."""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

DEFAULT_SEED = 1234


def seed_everything(seed: int = DEFAULT_SEED) -> None:
    """Seed Python, NumPy, TF and Keras, and ask TF for deterministic kernels."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["PYTHONHASHSEED"] = str(seed)
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)  # seeds random, numpy and the TF global generator
    tf.config.experimental.enable_op_determinism()


def op_determinism_enabled() -> bool:
    """Whether TensorFlow's op determinism is on in this process (False if TF is not imported)."""
    import sys

    if "tensorflow" not in sys.modules:
        return False
    from tensorflow.python.framework import config

    return bool(config.is_op_determinism_enabled())


@contextmanager
def op_determinism_restored() -> Iterator[None]:
    """Turn op determinism off again on exit if it was off on entry.

    :func:`seed_everything` turns it on for the whole process, and it stays on: a builder run
    in the same process as a later model call (the tests build fixtures in-process) would
    make that call refuse ops that cannot be deterministic (``tf.timestamp``: "Timestamp
    cannot be called when determinism is enabled"), a failure of the test's process, not of
    the model.
    """
    before = op_determinism_enabled()
    try:
        yield
    finally:
        if not before and op_determinism_enabled():
            from tensorflow.python.framework import config

            config.disable_op_determinism()


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
