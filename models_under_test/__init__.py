"""Example and fixture SavedModels used by the contract test suite.

Every model here is produced by a seeded, deterministic builder function. The
registry ``BUILDERS`` maps a model name to a function ``builder(dest)`` that
writes that model into ``dest``:

* bundled models (``classifier``, ``text_classifier``, ``image_classifier``)
  write a TF Serving base path, i.e. the SavedModel goes to ``dest/1/``;
* fixtures (``tiny`` and the negative fixtures) write one SavedModel (or, for
  the deliberately broken ones, one directory) directly into ``dest``.

TensorFlow is imported lazily: importing this package (and ``list``) is cheap;
TF is loaded only when a builder actually runs.

Regenerate the committed artifacts with ``python -m models_under_test build``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

MODELS_DIR = Path(__file__).parent
"""Directory of this package; the committed artifacts live below it."""

FIXTURES_SUBDIR = "fixtures"
"""Fixtures live in ``MODELS_DIR / "fixtures" / <name>``."""

SERVING_VERSION = "1"
"""Version folder used by the bundled (TF Serving base path) models."""


@dataclass(frozen=True)
class ModelEntry:
    """Where a model's builder lives and where its artifact goes by default."""

    name: str
    module: str
    function: str
    fixture: bool
    description: str
    violates: str | None = None
    """For negative fixtures, the one property of ``fixtures/contracts/<name>.json`` it breaks:
    ``dtype``, ``signature``, ``rank``, ``asset``, ``not_a_savedmodel``, ``corrupt_pb``,
    ``variables``, ``range``, ``finite``, ``batch_consistent``, ``deterministic``,
    ``relation``, ``reject_rank`` or ``crash``. None for models that must pass their contract."""

    def contract(self, root: Path = MODELS_DIR) -> Path | None:
        """The fixture's contract below ``root`` (None for bundled models: see contracts/)."""
        if not self.fixture:
            return None
        return Path(root, FIXTURES_SUBDIR, "contracts", f"{self.name}.json")

    def relative_dest(self) -> Path:
        """Default destination relative to a models root (e.g. ``MODELS_DIR``)."""
        return Path(FIXTURES_SUBDIR, self.name) if self.fixture else Path(self.name)


_ENTRIES: tuple[ModelEntry, ...] = (
    ModelEntry("classifier", "classifier", "build_classifier", False,
               "MLP 784 -> 128 relu -> 10 softmax; signatures classify, embed, serving_default"),
    ModelEntry("text_classifier", "text_classifier", "build_text_classifier", False,
               "string tokens + vocab.txt asset -> 3-way softmax; classify, serving_default"),
    ModelEntry("image_classifier", "image_classifier", "build_image_classifier", False,
               "MobileNetV2 alpha=0.35 96x96x3 -> 10 classes; serving_default, classify"),
    ModelEntry("tiny", "fixtures_static", "build_tiny", True,
               "good reference fixture: x f32[None,4] -> y f32[None,2] softmax, label i64[None]"),
    ModelEntry("wrong_dtype", "fixtures_static", "build_wrong_dtype", True,
               "input x is float64 instead of float32", "dtype"),
    ModelEntry("missing_signature", "fixtures_static", "build_missing_signature", True,
               "contract requires signature 'classify' which the model lacks", "signature"),
    ModelEntry("wrong_rank", "fixtures_static", "build_wrong_rank", True,
               "input x is [None,4,1] instead of [None,4]", "rank"),
    ModelEntry("missing_asset", "fixtures_static", "build_missing_asset", True,
               "contract requires asset vocab.txt; model ships other.txt only", "asset"),
    ModelEntry("not_a_savedmodel", "fixtures_static", "build_not_a_savedmodel", True,
               "directory with README.txt and no saved_model.pb", "not_a_savedmodel"),
    ModelEntry("truncated_pb", "fixtures_static", "build_truncated_pb", True,
               "copy of tiny with saved_model.pb cut to half its bytes", "corrupt_pb"),
    ModelEntry("missing_variables", "fixtures_static", "build_missing_variables", True,
               "copy of tiny with variables/ removed", "variables"),
    ModelEntry("out_of_range", "fixtures_dynamic", "build_out_of_range", True,
               "y leaves [0,1] (still sums to 1) when x[...,0] > 0.7", "range"),
    ModelEntry("nan_in_range", "fixtures_dynamic", "build_nan_in_range", True,
               "y is NaN when x[...,0] > 0.9 (inside the declared input range)", "finite"),
    ModelEntry("batch_dependent", "fixtures_dynamic", "build_batch_dependent", True,
               "subtracts the batch mean of x before the dense layer: rows depend on the batch", "batch_consistent"),
    ModelEntry("nondeterministic", "fixtures_dynamic", "build_nondeterministic", True,
               "adds clock-seeded tf.random uniform noise to the logits on every call", "deterministic"),
    ModelEntry("broken_argmax", "fixtures_dynamic", "build_broken_argmax", True,
               "label = (argmax(y) + 1) mod 2 when x[...,1] > 0.5", "relation"),
    ModelEntry("accepts_any_rank", "fixtures_dynamic", "build_accepts_any_rank", True,
               "x has unknown rank; inputs of any rank >= 1 are silently accepted", "reject_rank"),
    ModelEntry("aborts_on_wrong_rank", "fixtures_dynamic", "build_aborts_on_wrong_rank", True,
               "x has unknown rank; any rank but 2 reaches tf.raw_ops.Abort (SIGABRT)", "crash"),
    ModelEntry("string_lookup", "fixtures_lookup", "build_string_lookup", True,
               "TF2 words string[None] -> ids int64[None] via a StaticHashTable from an asset"),
    ModelEntry("tf1_half_plus_two", "fixtures_tf1", "build_tf1_half_plus_two", True,
               "TF1 Builder export, versions 1 and 2: tf.Example regress/classify, shapeless "
               "TensorInfos, legacy init op / main op, asset"),
)

ENTRIES: dict[str, ModelEntry] = {entry.name: entry for entry in _ENTRIES}


def _lazy_builder(entry: ModelEntry) -> Callable[[Path], None]:
    def builder(dest: Path) -> None:
        module = importlib.import_module(f"{__name__}.{entry.module}")
        getattr(module, entry.function)(Path(dest))

    builder.__name__ = entry.function
    builder.__qualname__ = entry.function
    builder.__doc__ = f"Write model {entry.name!r} into dest: {entry.description}."
    return builder


BUILDERS: dict[str, Callable[[Path], None]] = {
    entry.name: _lazy_builder(entry) for entry in _ENTRIES
}


def default_dest(name: str, root: Path = MODELS_DIR) -> Path:
    """Where model ``name`` lives below ``root`` (``root/name`` or ``root/fixtures/name``)."""
    return Path(root) / _entry(name).relative_dest()


def build(name: str, dest: Path) -> None:
    """Write model ``name`` into ``dest`` (which must be missing or an empty directory)."""
    _entry(name)
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise FileExistsError(
            f"cannot build model {name!r} into {dest}: it exists and is not an empty directory"
        )
    dest.mkdir(parents=True, exist_ok=True)
    BUILDERS[name](dest)


def build_all(root: Path) -> list[Path]:
    """Build every registered model into its default place below ``root``; return the paths."""
    written = []
    for name in BUILDERS:
        dest = default_dest(name, root)
        build(name, dest)
        written.append(dest)
    return written


def _entry(name: str) -> ModelEntry:
    try:
        return ENTRIES[name]
    except KeyError:
        known = ", ".join(sorted(ENTRIES))
        raise KeyError(f"unknown model {name!r}; known models: {known}") from None


__all__ = [
    "BUILDERS",
    "ENTRIES",
    "MODELS_DIR",
    "ModelEntry",
    "build",
    "build_all",
    "default_dest",
]
