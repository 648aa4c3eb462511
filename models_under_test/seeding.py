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
