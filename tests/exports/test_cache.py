"""The export cache: content fingerprints, keys, atomic commits (no TensorFlow needed)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from harness.exports import cache as cache_module
from harness.exports.cache import ExportCache, cache_key, default_cache_dir, fingerprint


def _model(folder: Path) -> Path:
    (folder / "variables").mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(b"graph")
    (folder / "variables" / "variables.index").write_bytes(b"index")
    return folder


def test_fingerprint_depends_on_content_and_paths_only(tmp_path: Path) -> None:
    a = _model(tmp_path / "a")
    b = _model(tmp_path / "b")
    assert fingerprint(a) == fingerprint(b)
    (b / "variables" / "variables.index").write_bytes(b"indeX")
    assert fingerprint(a) != fingerprint(b)
    (b / "variables" / "variables.index").write_bytes(b"index")
    assert fingerprint(a) == fingerprint(b)
    (b / "variables" / "variables.index").rename(b / "variables" / "other.index")
    assert fingerprint(a) != fingerprint(b)


def test_fingerprint_is_memoised_by_stat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _model(tmp_path / "m")
    first = fingerprint(model)
    opened: list[str] = []
    real_open = open

    def counting_open(path: object, *args: object, **kwargs: object) -> object:
        opened.append(str(path))
        return real_open(path, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr("builtins.open", counting_open)
    assert fingerprint(model) == first
    assert opened == []  # unchanged (path, mtime, size): no file read again
    (model / "saved_model.pb").write_bytes(b"graph2")
    assert fingerprint(model) != first
    assert opened


def test_key_changes_with_options_and_converter_versions(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    model = _model(tmp_path / "m")
    base = cache_key(model, {"format": "tflite", "quantization": "float"})
    assert base == cache_key(model, {"quantization": "float", "format": "tflite"})
    assert base != cache_key(model, {"format": "tflite", "quantization": "int8"})
    monkeypatch.setattr(cache_module, "converter_versions", lambda: {"tensorflow": "0.0"})
    assert base != cache_key(model, {"format": "tflite", "quantization": "float"})


def test_default_cache_dir_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MODEL_CONTRACT_CACHE", str(tmp_path / "env"))
    assert default_cache_dir(tmp_path / "opt") == tmp_path / "opt"
    assert default_cache_dir() == tmp_path / "env"
    monkeypatch.delenv("MODEL_CONTRACT_CACHE")
    assert default_cache_dir() == Path.home() / ".cache" / "model-contract"


def test_get_or_make_makes_once_then_hits(tmp_path: Path) -> None:
    cache = ExportCache(tmp_path / "cache")
    made: list[Path] = []

    def make(tmp: Path) -> dict[str, object]:
        made.append(tmp)
        tmp.write_bytes(b"artifact")
        return {"notes": ["n"]}

    first = cache.get_or_make("ab" * 32, "model.tflite", make)
    assert not first.hit and first.path.read_bytes() == b"artifact"
    again = ExportCache(tmp_path / "cache").get_or_make("ab" * 32, "model.tflite", make)
    assert again.hit and again.meta == {"notes": ["n"]}
    assert len(made) == 1 and cache.conversions == 1
    assert made[0].parent == first.path.parent  # the temp file lives in the cache folder
    assert [p.name for p in first.path.parent.iterdir() if p.name.startswith(".partial")] == []


def test_a_failed_make_leaves_no_entry_and_no_partial_file(tmp_path: Path) -> None:
    cache = ExportCache(tmp_path / "cache")

    def make(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise RuntimeError("converter crashed")

    with pytest.raises(RuntimeError):
        cache.get_or_make("cd" * 32, "model.tflite", make)
    assert cache.lookup("cd" * 32, "model.tflite") is None
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []
    with pytest.raises(RuntimeError, match="wrote nothing"):
        cache.get_or_make("cd" * 32, "model.tflite", lambda tmp: None)


def test_concurrent_makers_never_expose_a_partial_file(tmp_path: Path) -> None:
    """Two workers converting the same entry at once: both succeed, readers see whole files."""
    root = tmp_path / "cache"
    payload = b"x" * 200_000
    seen: list[bytes] = []
    start = threading.Barrier(3)

    def make(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            for i in range(0, len(payload), 10_000):
                handle.write(payload[i:i + 10_000])
                os.sched_yield()

    def worker() -> None:
        start.wait()
        entry = ExportCache(root).get_or_make("ef" * 32, "m.onnx", make)
        seen.append(entry.path.read_bytes())

    def reader() -> None:
        start.wait()
        final = ExportCache(root).path_for("ef" * 32, "m.onnx")
        for _ in range(2000):
            if final.exists():
                seen.append(final.read_bytes())

    threads = [threading.Thread(target=worker), threading.Thread(target=worker),
               threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen and all(data == payload for data in seen)


# --------------------------------------------------------------------------- digests


def _made(cache: ExportCache, key: str, payload: bytes = b"tflite-bytes" * 100) -> Path:
    def make(tmp: Path) -> dict[str, str]:
        tmp.write_bytes(payload)
        return {"how": "test"}

    return cache.get_or_make(key, "model.tflite", make).path


def test_each_entry_records_the_sha256_of_its_artifact(tmp_path: Path) -> None:
    import hashlib
    import json

    cache = ExportCache(tmp_path)
    path = _made(cache, "ab" * 32)
    meta = json.loads(path.with_name("model.tflite.json").read_text())
    assert meta == {"how": "test", "_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    entry = cache.lookup("ab" * 32, "model.tflite")
    assert entry is not None and entry.hit and entry.replaced == ""


@pytest.mark.parametrize("damage", ["truncate", "flip", "sidecar", "no_digest"])
def test_a_damaged_entry_is_discarded_and_made_again(tmp_path: Path, damage: str) -> None:
    import json

    cache = ExportCache(tmp_path)
    key = "cd" * 32
    path = _made(cache, key)
    good = path.read_bytes()
    sidecar = path.with_name("model.tflite.json")
    if damage == "truncate":
        path.write_bytes(good[:100])
    elif damage == "flip":
        path.write_bytes(good[:-1] + b"X")
    elif damage == "sidecar":
        sidecar.write_text("{not json")
    else:
        sidecar.write_text(json.dumps({"how": "test"}))
    assert cache.lookup(key, "model.tflite") is None
    assert not path.exists() and not sidecar.exists()
    reason = cache.discarded[(key, "model.tflite")]
    assert reason.startswith("the cached model.tflite was discarded: ")
    if damage == "truncate":
        assert "(truncated or changed since it was written; 100 bytes)" in reason
    if damage == "sidecar":
        assert "its metadata model.tflite.json is unreadable" in reason
    made: list[Path] = []

    def make(tmp: Path) -> None:
        made.append(tmp)
        tmp.write_bytes(good)

    entry = cache.get_or_make(key, "model.tflite", make)
    assert made and not entry.hit and entry.path.read_bytes() == good
    assert entry.replaced == reason
    again = cache.get_or_make(key, "model.tflite", make)
    assert again.hit and again.replaced == "" and len(made) == 1


def test_export_state_says_it_was_exported_again(tmp_path: Path) -> None:
    from harness.exports import Export

    fresh = Export("tflite", tmp_path / "m.tflite", "x", seconds=1.25)
    assert fresh.state() == "converted in 1.2 s"
    redone = Export("tflite", tmp_path / "m.tflite", "x", seconds=1.25,
                    replaced="the cached m.tflite was discarded: its sha256 ...")
    assert redone.state() == ("re-exported in 1.2 s: the cached m.tflite was discarded: "
                              "its sha256 ...")
    assert Export("tflite", tmp_path / "m.tflite", "x", cached=True).state() == "cached"
