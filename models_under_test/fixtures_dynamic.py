"""Fixtures that look right statically but misbehave when run.

Same interface as ``tiny`` (``serving_default``: ``x`` float32 [None, 4] ->
``y`` float32 [None, 2], ``label`` int64 [None]) unless stated. Each one breaks
exactly one runtime property of ``fixtures/contracts/<name>.json``.
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from models_under_test.fixtures_static import TinyModule, save_tiny_variant

NOISE_SEED = 99


def _out_of_range(module: TinyModule, x: tf.Tensor) -> dict[str, tf.Tensor]:
    # 4*y - 1.5 keeps the sum at 1 (4 - 2*1.5) and the argmax, but leaves [0, 1]
    # whenever a probability is outside [0.375, 0.625].
    out = module.outputs(module.logits(x))
    stretched = 4.0 * out["y"] - 1.5
    out["y"] = tf.where(x[:, :1] > 0.7, stretched, out["y"])
    return out


def build_out_of_range(dest: Path) -> None:
    """y leaves [0, 1] for inputs with x[..., 0] > 0.7 (rows still sum to 1)."""
    save_tiny_variant(dest, _out_of_range)


def _nan_in_range(module: TinyModule, x: tf.Tensor) -> dict[str, tf.Tensor]:
    out = module.outputs(module.logits(x))
    nan = tf.fill(tf.shape(out["y"]), tf.constant(float("nan"), tf.float32))
    y = tf.where(x[:, :1] > 0.9, nan, out["y"])
    return TinyModule.outputs_from_probs(y)


def build_nan_in_range(dest: Path) -> None:
    """y is NaN where x[..., 0] > 0.9, inside the declared input range [0, 1].

    ``label`` is tf.argmax of the returned y, which (like numpy) gives 0 for an
    all-NaN row, so label == argmax(y) still holds row by row.
    """
    save_tiny_variant(dest, _nan_in_range)


def _batch_dependent(module: TinyModule, x: tf.Tensor) -> dict[str, tf.Tensor]:
    centred = x - tf.reduce_mean(x, axis=0, keepdims=True) + 0.5
    return module.outputs(module.logits(centred))


def build_batch_dependent(dest: Path) -> None:
    """Subtracts the batch mean of x (then adds 0.5) before the dense layer.

    Every output is still a valid softmax with a matching label, but a row's
    result depends on the other rows of the batch (a batch of one always gives
    the same output).
    """
    save_tiny_variant(dest, _batch_dependent)


def _nondeterministic(module: TinyModule, x: tf.Tensor) -> dict[str, tf.Tensor]:
    logits = module.logits(x)
    # Seeded from the wall clock (microseconds), so the noise differs between
    # calls and between processes: a fixed-seed random op would repeat itself
    # in every freshly loaded process.
    clock = tf.cast(tf.math.floormod(tf.timestamp() * 1e6, 2.0**31), tf.int64)
    seed = tf.stack([clock, tf.constant(NOISE_SEED, tf.int64)])
    noise = tf.random.stateless_uniform(tf.shape(logits), seed=seed, minval=-0.5, maxval=0.5)
    return module.outputs(logits + noise)


def build_nondeterministic(dest: Path) -> None:
    """Adds uniform(-0.5, 0.5) noise (tf.random, clock-seeded) to the logits on every call.

    y is still a softmax in [0, 1] summing to 1 and label is its argmax; only
    repeated calls on the same input disagree.
    """
    save_tiny_variant(dest, _nondeterministic)


def _broken_argmax(module: TinyModule, x: tf.Tensor) -> dict[str, tf.Tensor]:
    out = module.outputs(module.logits(x))
    flipped = (out["label"] + 1) % 2
    out["label"] = tf.where(x[:, 1] > 0.5, flipped, out["label"])
    return out


def build_broken_argmax(dest: Path) -> None:
    """label = (argmax(y) + 1) mod 2 for rows with x[..., 1] > 0.5."""
    save_tiny_variant(dest, _broken_argmax)


def _any_rank(module: TinyModule, x: tf.Tensor) -> dict[str, tf.Tensor]:
    logits = tf.tensordot(x, module.w, axes=[[-1], [0]]) + module.b
    return module.outputs(logits)


def build_accepts_any_rank(dest: Path) -> None:
    """x is tf.TensorSpec(None, tf.float32): unknown rank, contracted over its last axis.

    For a [batch, 4] input it equals ``tiny``; an input of another rank (e.g.
    [batch, 3, 4] or [4]) is silently accepted and yields ``y`` of shape
    input.shape[:-1] + [2] and ``label`` of shape input.shape[:-1]. The
    signature's output shapes are therefore of unknown rank too.
    """
    save_tiny_variant(dest, _any_rank, spec=tf.TensorSpec(None, tf.float32, name="x"))


ABORT_MESSAGE = "model-contract fixture: an input of rank other than 2 aborts the process"


def _aborts_on_wrong_rank(module: TinyModule, x: tf.Tensor) -> dict[str, tf.Tensor]:
    def crash() -> tf.Tensor:
        abort = tf.raw_ops.Abort(error_msg=ABORT_MESSAGE, exit_without_error=False)
        with tf.control_dependencies([abort]):
            return tf.zeros([1, 4], tf.float32)

    rows = tf.cond(tf.equal(tf.rank(x), 2), lambda: tf.reshape(x, [-1, 4]), crash)
    return module.outputs(module.logits(rows))


def build_aborts_on_wrong_rank(dest: Path) -> None:
    """x is tf.TensorSpec(None, tf.float32); an input of rank 2 is ``tiny``, any other rank
    reaches ``tf.raw_ops.Abort`` and kills the process with SIGABRT, on every CPU and build
    (unlike a kernel's own shape CHECK, which some builds turn into an error instead).
    """
    save_tiny_variant(dest, _aborts_on_wrong_rank, spec=tf.TensorSpec(None, tf.float32, name="x"))
