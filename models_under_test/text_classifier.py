"""``text_classifier``: token sequences -> 3-way sentiment (negative, neutral, positive).

Input ``tokens``: string [None, None], a batch of token sequences; the empty
string is padding. Tokens are looked up in ``assets/vocab.txt`` (one word per
line, line number = id, written by this builder) through a
``tf.lookup.StaticHashTable`` whose default value is one out-of-vocabulary id
(``len(VOCABULARY)``); then an embedding, a masked mean over the non-padding tokens (so a
row's result does not depend on how much padding the batch adds), and a dense
layer. Trained briefly on seeded synthetic sentences (label = sign of
#positive - #negative words). Written as a TF Serving base path: ``<dest>/1/``.

Signatures ``classify`` and ``serving_default`` (identical):
``tokens`` -> ``scores`` float32 [None, 3] (softmax), ``label`` int64 [None] (argmax).

Why one OOV id and not ``StaticVocabularyTable(num_oov_buckets=k)``: hashed OOV
buckets need the ``StringToHashBucketFast`` op, which neither tf2onnx nor the
TFLite builtins support; a StaticHashTable with a default value exports to ONNX.
(TFLite still cannot run it: its runtime does not initialise a hash table from
a text-file asset.)
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import tensorflow as tf

from models_under_test import SERVING_VERSION
from models_under_test.seeding import seed_everything

POSITIVE = ("good", "great", "excellent", "happy", "love", "wonderful",
            "best", "nice", "amazing", "enjoy", "fantastic", "pleasant")
NEGATIVE = ("bad", "terrible", "awful", "sad", "hate", "worst",
            "poor", "boring", "horrible", "annoying", "ugly", "dull")
NEUTRAL = ("the", "a", "an", "movie", "film", "book", "food", "service", "is",
           "was", "it", "this", "that", "and", "but", "very", "really", "quite",
           "of", "place", "story", "day", "time", "with", "for", "music")
VOCABULARY: tuple[str, ...] = POSITIVE + NEGATIVE + NEUTRAL
CLASSES = ("negative", "neutral", "positive")
PAD = ""
OOV_ID = len(VOCABULARY)
N_IDS = len(VOCABULARY) + 1  # vocabulary + one out-of-vocabulary id
EMBED_DIM = 16
MAX_TRAIN_LEN = 12
N_TRAIN = 1024
TRAIN_STEPS = 200
LEARNING_RATE = 0.02
SEED = 4321


def synthetic_sentences(n: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Padded [n, MAX_TRAIN_LEN] token matrix (bytes objects) and int64 labels."""
    rng = np.random.default_rng(seed)
    tokens = np.full((n, MAX_TRAIN_LEN), PAD, dtype=object)
    labels = np.empty(n, dtype=np.int64)
    for row in range(n):
        length = int(rng.integers(1, MAX_TRAIN_LEN + 1))
        kinds = rng.choice(3, size=length, p=[0.2, 0.6, 0.2])  # 0 neg, 1 neutral, 2 pos
        pools = (NEGATIVE, NEUTRAL, POSITIVE)
        words = [pools[k][int(rng.integers(len(pools[k])))] for k in kinds]
        if rng.uniform() < 0.05:
            words[int(rng.integers(length))] = "unseenword"  # train the OOV id
        tokens[row, :length] = words
        score = int((kinds == 2).sum()) - int((kinds == 0).sum())
        labels[row] = 2 if score > 0 else (0 if score < 0 else 1)
    return tokens.astype(str), labels


class TextClassifierModule(tf.Module):
    def __init__(self, vocab_file: Path) -> None:
        super().__init__(name="text_classifier")
        rng = np.random.default_rng(SEED)
        self.vocab = tf.saved_model.Asset(str(vocab_file))
        initializer = tf.lookup.TextFileInitializer(
            self.vocab,
            key_dtype=tf.string,
            key_index=tf.lookup.TextFileIndex.WHOLE_LINE,
            value_dtype=tf.int64,
            value_index=tf.lookup.TextFileIndex.LINE_NUMBER,
        )
        self.table = tf.lookup.StaticHashTable(initializer, default_value=OOV_ID)
        # Padding flag through a one-entry table rather than tokens != "": tf2onnx
        # turns string comparisons into a failing Cast and has no StringLength.
        self.padding = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant([PAD]), tf.constant([0], tf.int64)
            ),
            default_value=tf.constant(1, tf.int64),
        )
        self.embedding = tf.Variable(
            rng.normal(0.0, 0.1, size=(N_IDS, EMBED_DIM)).astype(np.float32), name="embedding"
        )
        self.kernel = tf.Variable(
            rng.normal(0.0, 0.1, size=(EMBED_DIM, len(CLASSES))).astype(np.float32), name="kernel"
        )
        self.bias = tf.Variable(np.zeros(len(CLASSES), np.float32), name="bias")
        spec = tf.TensorSpec([None, None], tf.string, name="tokens")
        self.classify = tf.function(self._classify, input_signature=[spec])

    def logits(self, tokens: tf.Tensor) -> tf.Tensor:
        ids = self.table.lookup(tokens)
        is_token = tf.cast(self.padding.lookup(tokens), tf.float32)  # 0.0 for padding
        mask = tf.expand_dims(is_token, axis=-1)
        vectors = tf.nn.embedding_lookup(self.embedding, ids) * mask
        count = tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)
        pooled = tf.reduce_sum(vectors, axis=1) / count
        return tf.matmul(pooled, self.kernel) + self.bias

    def _classify(self, tokens: tf.Tensor) -> dict[str, tf.Tensor]:
        scores = tf.nn.softmax(self.logits(tokens), axis=-1)
        return {"scores": scores, "label": tf.argmax(scores, axis=-1, output_type=tf.int64)}


def train(module: TextClassifierModule) -> float:
    """Full-batch Adam on the synthetic sentences; returns the final training accuracy."""
    tokens, labels = synthetic_sentences(N_TRAIN)
    x = tf.constant(tokens)
    y = tf.constant(labels)
    variables = [module.embedding, module.kernel, module.bias]
    optimizer = tf.keras.optimizers.Adam(LEARNING_RATE)

    @tf.function
    def step() -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(y, module.logits(x))
            )
        # no zip(strict=): TF 2.12's autograph replaces zip with one that lacks it
        optimizer.apply_gradients(list(zip(tape.gradient(loss, variables), variables)))
        return loss

    for _ in range(TRAIN_STEPS):
        step()
    predicted = tf.argmax(module.logits(x), axis=-1).numpy()
    return float((predicted == labels).mean())


def build_text_classifier(dest: Path) -> None:
    seed_everything(SEED)
    with tempfile.TemporaryDirectory() as tmp:
        vocab_file = Path(tmp, "vocab.txt")
        vocab_file.write_text("".join(f"{word}\n" for word in VOCABULARY))
        module = TextClassifierModule(vocab_file)
        accuracy = train(module)
        if accuracy < 0.8:
            raise RuntimeError(f"text_classifier trained to only {accuracy:.2f} accuracy")
        tf.saved_model.save(
            module,
            str(Path(dest) / SERVING_VERSION),
            signatures={"classify": module.classify, "serving_default": module.classify},
        )
