"""``tiny`` (the good reference fixture) and the statically broken fixtures.

``tiny``: signature ``serving_default``, input ``x`` float32 [None, 4] in [0, 1],
outputs ``y`` float32 [None, 2] (softmax) and ``label`` int64 [None] (argmax of y).
Each static fixture differs from ``tiny`` (or from its contract, see
``fixtures/contracts/<name>.json``) in exactly one way that can be seen without
running the model: a dtype, a rank, a missing signature or asset, or a broken
SavedModel directory.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
import tensorflow as tf

from models_under_test.seeding import seed_everything

TINY_SEED = 7
N_FEATURES = 4
N_CLASSES = 2


def tiny_weights() -> tuple[np.ndarray, np.ndarray]:
    """Seeded weights of ``tiny``: logits are large, centred on x = 0.5, so y is confident."""
    rng = np.random.default_rng(TINY_SEED)
    w = rng.normal(0.0, 4.0, size=(N_FEATURES, N_CLASSES)).astype(np.float32)
    b = (-0.5 * w.sum(axis=0)).astype(np.float32)
    return w, b


class TinyModule(tf.Module):
    """Dense(4 -> 2) with its variables, shared by every tiny-based fixture."""

    def __init__(self) -> None:
        super().__init__(name="tiny")
        w, b = tiny_weights()
        self.w = tf.Variable(w, name="w")
        self.b = tf.Variable(b, name="b")

    def logits(self, x: tf.Tensor) -> tf.Tensor:
        return tf.matmul(x, self.w) + self.b

    @staticmethod
    def outputs(logits: tf.Tensor) -> dict[str, tf.Tensor]:
        return TinyModule.outputs_from_probs(tf.nn.softmax(logits, axis=-1))

    @staticmethod
    def outputs_from_probs(y: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"y": y, "label": tf.argmax(y, axis=-1, output_type=tf.int64)}


def x_spec(dtype: tf.DType = tf.float32, shape: list[int | None] | None = None) -> tf.TensorSpec:
    return tf.TensorSpec([None, N_FEATURES] if shape is None else shape, dtype, name="x")


def save_tiny_variant(
    dest: Path,
    serve: Callable[[TinyModule, tf.Tensor], dict[str, tf.Tensor]],
    spec: tf.TensorSpec | None = None,
    extra: Callable[[TinyModule], None] | None = None,
) -> None:
    """Save a TinyModule whose ``serving_default`` is ``serve(module, x)``."""
    seed_everything()
    module = TinyModule()
    # `predict`, not `serve`: see models_under_test/classifier.py (TFLite converter quirk).
    module.predict = tf.function(lambda x: serve(module, x), input_signature=[spec or x_spec()])
    if extra is not None:
        extra(module)
    tf.saved_model.save(module, str(dest), signatures={"serving_default": module.predict})


def _tiny_serve(module: TinyModule, x: tf.Tensor) -> dict[str, tf.Tensor]:
    return module.outputs(module.logits(x))


def build_tiny(dest: Path) -> None:
    """The good fixture; its contract ``fixtures/contracts/tiny.json`` passes."""
    save_tiny_variant(dest, _tiny_serve)


def build_wrong_dtype(dest: Path) -> None:
    """x is float64 (the contract says float32); outputs keep their float32/int64 dtypes."""
    save_tiny_variant(
        dest,
        lambda module, x: _tiny_serve(module, tf.cast(x, tf.float32)),
        spec=x_spec(tf.float64),
    )


def build_missing_signature(dest: Path) -> None:
    """Same model as ``tiny``; the contract additionally requires signature ``classify``."""
    save_tiny_variant(dest, _tiny_serve)


def build_wrong_rank(dest: Path) -> None:
    """x is [None, 4, 1] (the contract says [batch, 4])."""
    save_tiny_variant(
        dest,
        lambda module, x: _tiny_serve(module, tf.squeeze(x, axis=-1)),
        spec=x_spec(shape=[None, N_FEATURES, 1]),
    )


def build_missing_asset(dest: Path) -> None:
    """Ships asset ``other.txt`` only; the contract requires ``vocab.txt``."""
    with tempfile.TemporaryDirectory() as tmp:
        other = Path(tmp, "other.txt")
        other.write_text("this asset is not the vocabulary the contract asks for\n")

        def attach(module: TinyModule) -> None:
            module.other = tf.saved_model.Asset(str(other))

        save_tiny_variant(dest, _tiny_serve, extra=attach)


def build_not_a_savedmodel(dest: Path) -> None:
    """A directory with a README.txt and no saved_model.pb."""
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "README.txt").write_text(
        "Negative fixture: this directory is deliberately not a SavedModel "
        "(there is no saved_model.pb or saved_model.pbtxt).\n"
    )


def build_truncated_pb(dest: Path) -> None:
    """``tiny`` with saved_model.pb cut to half its bytes."""
    build_tiny(dest)
    pb = dest / "saved_model.pb"
    data = pb.read_bytes()
    pb.write_bytes(data[: len(data) // 2])


def build_missing_variables(dest: Path) -> None:
    """``tiny`` with its variables/ directory removed."""
    build_tiny(dest)
    shutil.rmtree(dest / "variables")
