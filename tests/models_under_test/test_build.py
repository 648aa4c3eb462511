"""Builders of models_under_test/ and the committed artifacts they produced."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from models_under_test import BUILDERS, ENTRIES, MODELS_DIR, build, default_dest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
tf = pytest.importorskip("tensorflow")

REPO = MODELS_DIR.parent


def _signature(model_dir: Path, key: str):
    loaded = tf.saved_model.load(str(model_dir))
    assert key in loaded.signatures, f"{model_dir}: signatures {sorted(loaded.signatures)}"
    return loaded.signatures[key]


def _input_specs(fn) -> dict[str, tuple[str, list[int | None] | None]]:
    _, kwargs = fn.structured_input_signature
    return {name: (spec.dtype.name, spec.shape.as_list() if spec.shape.rank is not None else None)
            for name, spec in kwargs.items()}


def _output_specs(fn) -> dict[str, tuple[str, list[int | None]]]:
    return {name: (spec.dtype.name, spec.shape.as_list()) for name, spec in fn.structured_outputs.items()}


def _call(fn, **inputs: np.ndarray) -> dict[str, np.ndarray]:
    return {name: value.numpy() for name, value in fn(**{k: tf.constant(v) for k, v in inputs.items()}).items()}


def test_registry_names_and_default_places() -> None:
    bundled = {"classifier", "text_classifier", "image_classifier"}
    assert bundled <= set(BUILDERS)
    assert set(BUILDERS) == set(ENTRIES)
    for name, entry in ENTRIES.items():
        expected = MODELS_DIR / name if name in bundled else MODELS_DIR / "fixtures" / name
        assert default_dest(name) == expected
        assert entry.fixture == (name not in bundled)
        healthy = {"tiny", "string_lookup", "tf1_half_plus_two"}  # fixtures that must pass
        assert (entry.violates is None) == (name in bundled or name in healthy)


def test_build_refuses_a_non_empty_destination(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("not mine")
    with pytest.raises(FileExistsError, match="not an empty directory"):
        build("tiny", tmp_path)
    with pytest.raises(KeyError, match="unknown model 'nope'"):
        build("nope", tmp_path / "nope")


def test_tiny_builds_with_exact_signature(tmp_path: Path) -> None:
    build("tiny", tmp_path / "tiny")
    fn = _signature(tmp_path / "tiny", "serving_default")
    assert list(tf.saved_model.load(str(tmp_path / "tiny")).signatures) == ["serving_default"]
    assert _input_specs(fn) == {"x": ("float32", [None, 4])}
    assert _output_specs(fn) == {"y": ("float32", [None, 2]), "label": ("int64", [None])}

    x = np.random.default_rng(0).uniform(0.0, 1.0, (32, 4)).astype(np.float32)
    out = _call(fn, x=x)
    assert out["y"].dtype == np.float32 and out["label"].dtype == np.int64
    np.testing.assert_allclose(out["y"].sum(axis=-1), 1.0, atol=1e-5)
    assert ((out["y"] >= 0.0) & (out["y"] <= 1.0)).all()
    np.testing.assert_array_equal(out["y"].argmax(axis=-1), out["label"])
    assert set(out["label"].tolist()) == {0, 1}, "tiny should predict both classes"
    single = _call(fn, x=x[:1])
    np.testing.assert_allclose(single["y"][0], out["y"][0], atol=1e-6)


def test_dynamic_fixture_broken_argmax_breaks_only_its_relation(tmp_path: Path) -> None:
    build("broken_argmax", tmp_path / "broken_argmax")
    fn = _signature(tmp_path / "broken_argmax", "serving_default")
    assert _input_specs(fn) == {"x": ("float32", [None, 4])}
    assert _output_specs(fn) == {"y": ("float32", [None, 2]), "label": ("int64", [None])}

    x = np.random.default_rng(1).uniform(0.0, 1.0, (64, 4)).astype(np.float32)
    out = _call(fn, x=x)
    np.testing.assert_allclose(out["y"].sum(axis=-1), 1.0, atol=1e-5)
    agrees = out["y"].argmax(axis=-1) == out["label"]
    flipped_rows = x[:, 1] > 0.5
    assert not agrees[flipped_rows].any()
    assert agrees[~flipped_rows].all()
    np.testing.assert_array_equal(_call(fn, x=x)["y"], out["y"])  # still deterministic


def test_every_fixture_has_a_contract_pointing_at_it() -> None:
    for entry in ENTRIES.values():
        if not entry.fixture:
            continue
        path = entry.contract()
        assert path is not None and path.is_file(), f"missing contract for fixture {entry.name}"
        contract = json.loads(path.read_text())
        assert contract["name"] == entry.name
        assert [(path.parent / m).resolve() for m in contract["models"]] == [default_dest(entry.name).resolve()]
        assert default_dest(entry.name).is_dir(), f"fixture {entry.name} is not built; run python -m models_under_test build"


def test_committed_classifier_is_trained_and_input_dependent() -> None:
    base = MODELS_DIR / "classifier" / "1"
    classify = _signature(base, "classify")
    assert _input_specs(classify) == {"x": ("float32", [None, 784])}
    assert _output_specs(classify) == {"class_id": ("int64", [None]), "prob": ("float32", [None, 10])}
    assert _output_specs(_signature(base, "embed")) == {"embedding": ("float32", [None, 128])}
    assert _output_specs(_signature(base, "serving_default")) == {"prob": ("float32", [None, 10])}

    x = np.random.default_rng(2).uniform(0.0, 1.0, (32, 784)).astype(np.float32)
    out = _call(classify, x=x)
    np.testing.assert_allclose(out["prob"].sum(axis=-1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(out["prob"].argmax(axis=-1), out["class_id"])
    assert out["prob"].max(axis=-1).mean() > 0.15  # uniform would be 0.1
    assert len(set(out["class_id"].tolist())) >= 3
    assert out["prob"].std(axis=0).mean() > 0.01


def test_committed_text_classifier_uses_its_vocabulary_and_ignores_padding() -> None:
    base = MODELS_DIR / "text_classifier" / "1"
    assert (base / "assets" / "vocab.txt").read_text().split()[:3] == ["good", "great", "excellent"]
    fn = _signature(base, "classify")
    assert _input_specs(fn) == {"tokens": ("string", [None, None])}
    assert _output_specs(fn) == {"scores": ("float32", [None, 3]), "label": ("int64", [None])}

    tokens = np.array([["great", "movie", "", ""], ["awful", "boring", "film", "zzz"], ["the", "book", "", ""]])
    out = _call(fn, tokens=tokens)
    assert out["label"].tolist() == [2, 0, 1]  # positive, negative, neutral
    np.testing.assert_allclose(out["scores"].sum(axis=-1), 1.0, atol=1e-5)
    alone = _call(fn, tokens=np.array([["great", "movie"]]))
    np.testing.assert_allclose(alone["scores"][0], out["scores"][0], atol=1e-6)


def test_committed_image_classifier_is_not_uniform_and_depends_on_input() -> None:
    base = MODELS_DIR / "image_classifier" / "1"
    serve = _signature(base, "serving_default")
    assert _input_specs(serve) == {"x": ("float32", [None, 96, 96, 3])}
    assert _output_specs(serve) == {"probs": ("float32", [None, 10])}
    classify = _signature(base, "classify")
    assert _output_specs(classify) == {"probs": ("float32", [None, 10]), "class_id": ("int64", [None])}

    x = np.random.default_rng(3).uniform(0.0, 1.0, (8, 96, 96, 3)).astype(np.float32)
    out = _call(classify, x=x)
    probs = out["probs"]
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(probs.argmax(axis=-1), out["class_id"])
    assert probs.max(axis=-1).mean() > 0.3  # uniform would be 0.1
    assert probs.std(axis=0).mean() > 0.05
    np.testing.assert_allclose(_call(serve, x=x[:1])["probs"][0], probs[0], atol=1e-5)


def test_cli_lists_every_model() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "models_under_test", "list"],
        cwd=REPO, capture_output=True, text=True, check=True, timeout=60,
    )
    listed = [line.split()[0] for line in result.stdout.splitlines()]
    assert listed == list(ENTRIES)


def test_importing_the_registry_does_not_import_tensorflow() -> None:
    code = "import sys, models_under_test; sys.exit('tensorflow' in sys.modules)"
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)


def test_cli_build_replaces_in_place(tmp_path: Path) -> None:
    from models_under_test.__main__ import build_in_place

    first = build_in_place("not_a_savedmodel", tmp_path)
    (first / "stale.txt").write_text("left from an older build")
    second = build_in_place("not_a_savedmodel", tmp_path)
    assert first == second == tmp_path / "fixtures" / "not_a_savedmodel"
    assert sorted(p.name for p in second.iterdir()) == ["README.txt"]
    assert sorted(p.name for p in second.parent.iterdir()) == ["not_a_savedmodel"]  # no temp dirs left


def test_the_tf1_export_rebuilds_byte_for_byte(tmp_path: Path) -> None:
    """Deterministic: no temporary path or clock is baked in (the asset path is relative)."""
    build("tf1_half_plus_two", tmp_path / "tf1")
    committed = MODELS_DIR / "fixtures" / "tf1_half_plus_two"
    files = sorted(p.relative_to(committed) for p in committed.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "tf1") for p in (tmp_path / "tf1").rglob("*")
                           if p.is_file())
    for name in files:
        assert (tmp_path / "tf1" / name).read_bytes() == (committed / name).read_bytes(), name
