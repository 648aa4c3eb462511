"""A healthy TF2 string-lookup model whose declared rank is not enforced.

``build_string_lookup(dest)``: a tf.Module with ``serving_default`` =
``tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="words")])`` looking
each word up in a ``tf.lookup.StaticHashTable`` initialised from ``assets/words.txt``
(one word per line, id = line number, -1 for unknown words) and returning ``ids`` int64
[None]. A lookup accepts keys of any rank, so inputs of the wrong rank are answered: a
contract written from the documented format (wrong dtypes refused by default, an answered
wrong rank a finding) passes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

WORDS = ("alpha", "beta", "gamma", "delta", "epsilon")
UNKNOWN_ID = -1


def build_string_lookup(dest: Path) -> None:
    from models_under_test.seeding import seed_everything

    seed_everything()
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as scratch:
        vocab = Path(scratch) / "words.txt"
        vocab.write_text("".join(f"{w}\n" for w in WORDS))
        module = tf.Module()
        module.vocab = tf.saved_model.Asset(str(vocab))
        module.table = tf.lookup.StaticHashTable(
            tf.lookup.TextFileInitializer(
                module.vocab, key_dtype=tf.string, key_index=tf.lookup.TextFileIndex.WHOLE_LINE,
                value_dtype=tf.int64, value_index=tf.lookup.TextFileIndex.LINE_NUMBER),
            default_value=UNKNOWN_ID)

        _save_lookup(module, dest)


def build_string_lookup_from_constants(dest: Path) -> None:
    """The same lookup with the table built from in-graph constants
    (``tf.lookup.KeyValueTensorInitializer``) instead of a vocabulary file: the export step
    the TFLite hashtable diagnosis suggests, applied by tests/exports/test_format_checks.py."""
    from models_under_test.seeding import seed_everything

    seed_everything()
    import tensorflow as tf

    module = tf.Module()
    module.table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(WORDS), tf.range(len(WORDS), dtype=tf.int64)),
        default_value=UNKNOWN_ID)

    _save_lookup(module, dest)


def _save_lookup(module: Any, dest: Path) -> None:
    """Save ``module`` with ``serving_default``: words (string [None]) -> ids through its
    ``table``."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="words")])
    def lookup(words: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"ids": module.table.lookup(words)}

    module.lookup = lookup
    tf.saved_model.save(module, str(dest), signatures={"serving_default": module.lookup})
