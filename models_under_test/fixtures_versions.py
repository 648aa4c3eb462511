"""Version pairs for ``model-contract diff``: TF Serving base paths with versions 1 and 2.

* ``renamed_output``: version 2 renames output ``y`` to ``probs`` -- a breaking change
  (a caller reading ``y`` gets nothing).
* ``added_output``: version 2 adds output ``logits`` -- a compatible change.

Version 1 of both is the same tiny model: signature ``serving_default``, input ``x``
float32 [None, 4] -> ``y`` float32 [None, 2] (softmax) and ``label`` int64 [None] (argmax).
Each builder writes ``dest/1`` and ``dest/2``. Rebuild the committed artifacts with
``python -m models_under_test.fixtures_versions`` (writes ``models_under_test/versions/``).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np

VERSIONS_DIR = Path(__file__).parent / "versions"
"""Where the built base paths live: ``versions/<name>/{1,2}``."""

SEED = 11
N_FEATURES = 4
N_CLASSES = 2


def _weights() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED)
    w = rng.normal(0.0, 2.0, size=(N_FEATURES, N_CLASSES)).astype(np.float32)
    b = rng.normal(0.0, 0.5, size=(N_CLASSES,)).astype(np.float32)
    return w, b


def _save(dest: Path, outputs: Callable[[Any, Any], dict[str, Any]]) -> None:
    """Save a Dense(4 -> 2) module whose ``serving_default`` returns ``outputs(tf, logits)``."""
    from models_under_test.seeding import seed_everything

    seed_everything()
    import tensorflow as tf

    module = tf.Module(name="versioned")
    w, b = _weights()
    module.w = tf.Variable(w, name="w")
    module.b = tf.Variable(b, name="b")

    @tf.function(input_signature=[tf.TensorSpec([None, N_FEATURES], tf.float32, name="x")])
    def predict(x: Any) -> dict[str, Any]:
        return outputs(tf, tf.matmul(x, module.w) + module.b)

    module.predict = predict
    tf.saved_model.save(module, str(dest), signatures={"serving_default": module.predict})


def _v1_outputs(tf: Any, logits: Any) -> dict[str, Any]:
    y = tf.nn.softmax(logits, axis=-1)
    return {"y": y, "label": tf.argmax(y, axis=-1, output_type=tf.int64)}


def _renamed_outputs(tf: Any, logits: Any) -> dict[str, Any]:
    probs = tf.nn.softmax(logits, axis=-1)
    return {"probs": probs, "label": tf.argmax(probs, axis=-1, output_type=tf.int64)}


def _added_outputs(tf: Any, logits: Any) -> dict[str, Any]:
    return {**_v1_outputs(tf, logits), "logits": tf.identity(logits)}


def build_renamed_output(dest: Path) -> None:
    """``dest/1``: outputs y, label. ``dest/2``: outputs probs, label (y renamed: breaking)."""
    _save(Path(dest) / "1", _v1_outputs)
    _save(Path(dest) / "2", _renamed_outputs)


def build_added_output(dest: Path) -> None:
    """``dest/1``: outputs y, label. ``dest/2``: y, label and logits (added: compatible)."""
    _save(Path(dest) / "1", _v1_outputs)
    _save(Path(dest) / "2", _added_outputs)


VERSION_BUILDERS: dict[str, Callable[[Path], None]] = {
    "renamed_output": build_renamed_output,
    "added_output": build_added_output,
}
"""Base-path name -> builder(dest) writing ``dest/1`` and ``dest/2``."""


def build_all(root: Path = VERSIONS_DIR) -> list[Path]:
    """(Re)build every version pair below ``root``; returns the base paths."""
    written = []
    for name, builder in VERSION_BUILDERS.items():
        dest = Path(root) / name
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        builder(dest)
        written.append(dest)
    return written


if __name__ == "__main__":
    for path in build_all(Path(sys.argv[1]) if len(sys.argv) > 1 else VERSIONS_DIR):
        print(f"built {path}")
