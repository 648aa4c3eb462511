"""The export cache: converted artifacts keyed by what they were made from.

An entry's key is a sha256 over

* the model's *content fingerprint* (sha256 over the relative path and bytes of every file
  of the SavedModel directory, in sorted order),
* the versions of the converters involved (TensorFlow, tf2onnx), and
* the export options (format, signatures, tags, quantization, opset, representative data).

Anything that changes the model, the converter or the options gives a new key; an
unchanged model converts nothing on a second run.

Each entry's metadata (``NAME.json`` beside the artifact) records the artifact's sha256
(``_sha256``). A lookup verifies it: an artifact that does not match (truncated, changed
since it was written, or with unreadable metadata) is discarded and exported again, and
the new entry says so (:attr:`CacheEntry.replaced`, shown in the backend's label).

The cache lives outside the model directory (``--export-cache``, else
``$MODEL_CONTRACT_CACHE``, else ``~/.cache/model-contract``); the model directory is only
ever read. Writes are atomic: a producer writes to a temporary file in the cache folder and
``os.replace``-s it into place, so no reader ever sees a partial file. A conversion holds an
advisory lock on its key (``KEY.lock``, removed after, :meth:`ExportCache.making`) while it
runs: another process of the run that needs the same entry (an isolated backend's child
while the run converts ahead of it, a second pytest-xdist worker) waits and then finds it,
instead of converting the same model again.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

# where the cache lives (shared with the op registry's answers); re-exported here
from harness.cache_dir import ENV_VAR as ENV_VAR
from harness.cache_dir import default_cache_dir as default_cache_dir

#: Bumped when the layout or the meaning of a key changes.
CACHE_LAYOUT = "2"

# (directory) -> (stat tuple of every file, fingerprint): fingerprints are computed once
# per session unless a file's mtime or size changes.
_FINGERPRINTS: dict[Path, tuple[tuple[tuple[str, int, int], ...], str]] = {}


def _stat_tuples(model_dir: Path) -> tuple[tuple[str, int, int], ...]:
    rows = []
    for path in sorted(model_dir.rglob("*")):
        if path.is_file():
            st = path.stat()
            rows.append((path.relative_to(model_dir).as_posix(), st.st_mtime_ns, st.st_size))
    return tuple(rows)


def fingerprint(model_dir: Path) -> str:
    """sha256 over the relative paths and bytes of every file below ``model_dir``.

    Memoised for the session by the (relative path, mtime, size) of every file, so a model
    is hashed once unless it changes.
    """
    model_dir = Path(model_dir).resolve()
    stats = _stat_tuples(model_dir)
    cached = _FINGERPRINTS.get(model_dir)
    if cached is not None and cached[0] == stats:
        return cached[1]
    digest = hashlib.sha256()
    for rel, _, _ in stats:
        digest.update(rel.encode("utf-8") + b"\0")
        with open(model_dir / rel, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    value = digest.hexdigest()
    _FINGERPRINTS[model_dir] = (stats, value)
    return value


def converter_versions() -> dict[str, str]:
    """Versions of the converters, read from package metadata (no TensorFlow import)."""
    from importlib import metadata

    versions = {}
    for dist in ("tensorflow", "tensorflow-cpu", "tf2onnx", "onnx", "tf-keras", "keras"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return versions


def cache_key(model_dir: Path, options: Mapping[str, Any]) -> str:
    """The entry key for exporting ``model_dir`` with ``options`` (JSON-serialisable)."""
    payload = {
        "layout": CACHE_LAYOUT,
        "model": fingerprint(model_dir),
        "converters": converter_versions(),
        "options": options,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    """Where an export lives, whether this call made it, and what its maker noted."""

    path: Path
    key: str
    hit: bool
    meta: Mapping[str, Any]
    replaced: str = ""
    """Why a cached artifact was discarded before this one was made ("" if none was)."""


DIGEST_KEY = "_sha256"


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_atomic(final: Path, data: bytes) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=".partial-", dir=final.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp_name, final)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock through the file ``path``, which is removed again on release.

    Whoever waited on a lock file that its holder removed meanwhile locks the new one:
    after ``flock`` the file must still be the one at ``path``."""
    while True:
        handle = open(path, "a+b")
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            current = os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
        except FileNotFoundError:
            current = False
        if current:
            break
        handle.close()
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        handle.close()


class ExportCache:
    """A folder of exports addressed by key; counts the conversions it ran."""

    def __init__(self, root: Path) -> None:
        # Absolute: converters run with another working directory (the TF.js one in its own
        # environment), and a relative --export-cache must mean the user's folder there too.
        self.root = Path(root).absolute()
        self.conversions = 0
        self.hits = 0
        self.discarded: dict[tuple[str, str], str] = {}
        """(key, name) -> why its cached artifact was discarded (until it is made again)."""

    def path_for(self, key: str, name: str) -> Path:
        return self.root / key[:2] / key / name

    def lookup(self, key: str, name: str) -> CacheEntry | None:
        """The entry if its artifact is complete (its metadata is written before it)."""
        final = self.path_for(key, name)
        if not final.is_file():
            return None
        sidecar = final.with_name(final.name + ".json")
        problem = None
        try:
            meta = json.loads(sidecar.read_text(encoding="utf-8"))
            if not isinstance(meta, dict):
                raise ValueError("not an object")
        except (OSError, ValueError) as error:
            meta, problem = {}, f"its metadata {sidecar.name} is unreadable ({error})"
        if problem is None:
            recorded, actual = meta.get(DIGEST_KEY), file_digest(final)
            if recorded != actual:
                problem = (f"its sha256 {actual[:12]} is not the recorded {str(recorded)[:12]} "
                           f"(truncated or changed since it was written; "
                           f"{final.stat().st_size} bytes)")
        if problem is not None:
            self.discarded[(key, name)] = f"the cached {name} was discarded: {problem}"
            for path in (final, sidecar):
                path.unlink(missing_ok=True)
            return None
        self.hits += 1
        return CacheEntry(final, key, True, {k: v for k, v in meta.items() if k != DIGEST_KEY})

    @contextmanager
    def making(self, keys: Iterable[str]) -> Iterator[None]:
        """Hold the lock of each entry in ``keys`` (waiting for whoever makes it now).

        Look the entries up again inside: what the previous holder made is there."""
        with ExitStack() as stack:
            for key in sorted(set(keys)):  # one order everywhere: no deadlock
                folder = self.root / key[:2]
                folder.mkdir(parents=True, exist_ok=True)
                stack.enter_context(_locked(folder / f"{key}.lock"))
            yield

    def temp_path(self, key: str, name: str) -> Path:
        """A fresh temporary file next to where entry ``key/name`` goes (for a converter)."""
        final = self.path_for(key, name)
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".partial-", suffix=final.suffix, dir=final.parent)
        os.close(fd)
        return Path(tmp_name)

    def commit(self, tmp: Path, key: str, name: str,
               meta: Mapping[str, Any] | None = None) -> CacheEntry:
        """Move a finished temporary file into place: metadata first, then the artifact."""
        final = self.path_for(key, name)
        if not tmp.is_file() or tmp.stat().st_size == 0:
            raise RuntimeError(f"the converter wrote nothing to {tmp}")
        self.conversions += 1
        recorded = dict(meta or {})
        recorded[DIGEST_KEY] = file_digest(tmp)
        _write_atomic(final.with_name(final.name + ".json"),
                      json.dumps(recorded, indent=1).encode("utf-8"))
        os.replace(tmp, final)
        return CacheEntry(final, key, False, dict(meta or {}),
                          self.discarded.pop((key, name), ""))

    def get_or_make(self, key: str, name: str,
                    make: Callable[[Path], Mapping[str, Any] | None]) -> CacheEntry:
        """The cached file ``name`` of entry ``key``, made with ``make(tmp_path)`` if missing.

        ``make`` writes the artifact to the temporary path it is given (inside the cache
        folder) and may return metadata to keep beside it; only when it returns normally
        is the file moved into place atomically.
        """
        hit = self.lookup(key, name)
        if hit is not None:
            return hit
        with self.making([key]):
            hit = self.lookup(key, name)
            if hit is not None:
                return hit
            tmp = self.temp_path(key, name)
            try:
                meta = make(tmp)
                return self.commit(tmp, key, name, meta)
            finally:
                if tmp.exists():
                    tmp.unlink()
