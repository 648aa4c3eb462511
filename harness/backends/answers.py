"""Recorded reference answers: the SavedModel's outputs for given inputs, kept across runs.

Polygraphy's ``--save-outputs`` / ``--load-outputs``, done automatically and safely. A
comparison (parity of TFLite, ONNX, TF.js and their quantized variants) uses the
SavedModel only as its reference; when the same model, runtime, machine and input bytes
come again (a CI run, whose hypothesis profile draws the same examples every run, or a
variant's seeded batch), its answers are read from here instead of loading and calling it.

The store is one sqlite3 database in the cache folder (``--export-cache``, else
``$MODEL_CONTRACT_CACHE``, else ``~/.cache/model-contract``): ``answers/answers.sqlite3``.

* **Key**: sha256 over a layout version, the model's *scope* (:func:`scope_key`: the
  model's content fingerprint, its tags, the signature, TensorFlow's and Keras' versions
  from package metadata, the machine and CPU model, and the environment variables that
  change TensorFlow's numerics or thread pools) and the inputs (:func:`inputs_digest`:
  sorted names, dtype, shape and bytes; string elements one by one, length-prefixed).
  sha256 costs about 0.3 ms for a ``[1,224,224,3]`` float32 input on this project's CI
  machine (SHA extensions; blake2b took 0.43 ms, md5 0.68 ms there).
* **Value**: the outputs, encoded without pickle (:func:`encode_outputs`: ``np.save`` with
  ``allow_pickle=False`` for numeric, bool and fixed-width arrays; a length-prefixed
  encoding of our own for arrays of byte strings), with the blob's sha256 checked on read.
  A row that does not decode or match is a miss: it is deleted and recorded again.
* A database file that is not one (or that sqlite cannot read) is replaced by a fresh
  one, with a note saying so; sqlite errors while reading or writing make misses, never a
  traceback. Concurrent processes (pytest-xdist workers) share the file: WAL journal, a
  busy timeout. New answers are written in one transaction per case; hits update their
  last-used time; past the size cap (:data:`DEFAULT_CAP_MB`, or
  ``$MODEL_CONTRACT_ANSWERS_MB``) the least recently used rows are evicted.

Nothing here imports TensorFlow: a run whose answers are all found never starts it.
"""

from __future__ import annotations

import hashlib
import io
import os
import platform
import sqlite3
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - types only
    from harness.context import RunContext

#: Bumped when the key or the value encoding changes.
LAYOUT = "1"
FILE = Path("answers") / "answers.sqlite3"
#: Size cap of the database's answers, in MB, unless $MODEL_CONTRACT_ANSWERS_MB says.
DEFAULT_CAP_MB = 1024
CAP_ENV = "MODEL_CONTRACT_ANSWERS_MB"
BUSY_TIMEOUT_S = 30.0
#: Environment variables that change TensorFlow's numerics or its thread pools.
NUMERIC_ENV = ("TF_ENABLE_ONEDNN_OPTS", "TF_DETERMINISTIC_OPS", "TF_NUM_INTRAOP_THREADS",
               "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")
#: Packages whose versions decide the SavedModel's answers (read from metadata).
RUNTIME_PACKAGES = ("tensorflow", "tensorflow-cpu", "keras", "tf-keras")

_NUMERIC = b"n"
_STRINGS = b"s"
_U64 = struct.Struct("<Q")

SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    blob BLOB NOT NULL,
    digest TEXT NOT NULL,
    size INTEGER NOT NULL,
    used REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_scope ON answers (scope);
CREATE INDEX IF NOT EXISTS answers_used ON answers (used);
"""


class NotStorable(ValueError):
    """An array the store cannot key or encode without pickle (e.g. an object array of
    something other than byte strings): that call is neither looked up nor recorded."""


# --------------------------------------------------------------------------- keys


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor()


def runtime_versions() -> dict[str, str]:
    """TensorFlow's and Keras' versions, from package metadata (no import)."""
    from importlib import metadata

    versions = {}
    for dist in RUNTIME_PACKAGES:
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return versions


def scope_key(model_fingerprint: str, tags: Sequence[str], signature: str,
              versions: Mapping[str, str] | None = None,
              environ: Mapping[str, str] | None = None) -> str:
    """What an answer depends on besides its inputs, as one hex digest."""
    environ = os.environ if environ is None else environ
    versions = runtime_versions() if versions is None else versions
    parts = [f"layout={LAYOUT}", f"model={model_fingerprint}", "tags=" + ",".join(tags),
             f"signature={signature}", f"machine={platform.machine()}", f"cpu={_cpu_model()}"]
    parts += [f"version:{k}={v}" for k, v in sorted(versions.items())]
    parts += [f"env:{k}={environ.get(k, '')}" for k in NUMERIC_ENV]
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


def _element_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    raise NotStorable(f"an element of type {type(value).__name__} (only bytes are kept)")


def inputs_digest(scope: str, inputs: Mapping[str, Any]) -> str:
    """The key of one call: the scope and every input's name, dtype, shape and bytes."""
    digest = hashlib.sha256(scope.encode("ascii") + b"\0")
    for name in sorted(inputs):
        array = np.asarray(inputs[name])
        digest.update(_U64.pack(len(name.encode("utf-8"))) + name.encode("utf-8"))
        digest.update(array.dtype.str.encode("ascii") + b"\0")
        digest.update(_U64.pack(array.ndim) + b"".join(_U64.pack(d) for d in array.shape))
        if array.dtype.hasobject:
            for item in array.reshape(-1):
                data = _element_bytes(item)
                digest.update(_U64.pack(len(data)) + data)
        elif array.size:
            digest.update(np.ascontiguousarray(array).data.cast("B"))
    return digest.hexdigest()


# --------------------------------------------------------------------------- values


def _encode_array(array: np.ndarray) -> bytes:
    if array.dtype.hasobject:
        head = _STRINGS + _U64.pack(array.ndim) + b"".join(_U64.pack(d) for d in array.shape)
        items = [_element_bytes(x) for x in array.reshape(-1)]
        return head + b"".join(_U64.pack(len(x)) + x for x in items)
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return _NUMERIC + buffer.getvalue()


def _decode_array(data: bytes) -> np.ndarray:
    kind, body = data[:1], data[1:]
    if kind == _NUMERIC:
        return np.load(io.BytesIO(body), allow_pickle=False)
    if kind != _STRINGS:
        raise ValueError(f"unknown array kind {kind!r}")
    (ndim,) = _U64.unpack_from(body, 0)
    shape = tuple(_U64.unpack_from(body, 8 + 8 * i)[0] for i in range(ndim))
    at = 8 + 8 * ndim
    count = int(np.prod(shape, dtype=np.int64))
    items: list[bytes] = []
    for _ in range(count):
        (size,) = _U64.unpack_from(body, at)
        at += 8
        if at + size > len(body):
            raise ValueError("a string element runs past the end")
        items.append(body[at:at + size])
        at += size
    if at != len(body):
        raise ValueError("bytes left after the last string element")
    out = np.empty(count, dtype=object)
    out[:] = items
    return out.reshape(shape)


def encode_outputs(outputs: Mapping[str, Any]) -> bytes:
    """The outputs as one blob, without pickle (raises :class:`NotStorable`)."""
    parts = []
    for name in sorted(outputs):
        raw = name.encode("utf-8")
        data = _encode_array(np.asarray(outputs[name]))
        parts.append(_U64.pack(len(raw)) + raw + _U64.pack(len(data)) + data)
    return _U64.pack(len(parts)) + b"".join(parts)


def decode_outputs(blob: bytes) -> dict[str, np.ndarray]:
    """What :func:`encode_outputs` wrote (raises ValueError on anything else)."""
    try:
        (count,) = _U64.unpack_from(blob, 0)
        at = 8
        out: dict[str, np.ndarray] = {}
        for _ in range(count):
            (size,) = _U64.unpack_from(blob, at)
            name = blob[at + 8:at + 8 + size].decode("utf-8")
            at += 8 + size
            (size,) = _U64.unpack_from(blob, at)
            if at + 8 + size > len(blob):
                raise ValueError("an output runs past the end")
            out[name] = _decode_array(blob[at + 8:at + 8 + size])
            at += 8 + size
    except (struct.error, UnicodeDecodeError) as exc:
        raise ValueError(str(exc)) from None
    if at != len(blob):
        raise ValueError("bytes left after the last output")
    return out


# --------------------------------------------------------------------------- the store


def cap_bytes(environ: Mapping[str, str] | None = None) -> int:
    """The size cap: ``$MODEL_CONTRACT_ANSWERS_MB`` (a number of MB), else the default."""
    environ = os.environ if environ is None else environ
    text = environ.get(CAP_ENV, "")
    try:
        mb = float(text) if text else float(DEFAULT_CAP_MB)
    except ValueError:
        mb = float(DEFAULT_CAP_MB)
    return max(0, int(mb * 1024 * 1024))


@dataclass
class Pending:
    """What one case found and made, written at its end in one transaction."""

    rows: dict[str, tuple[str, bytes, str]] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)


class AnswerStore:
    """The database of recorded answers (one per run and cache folder)."""

    def __init__(self, root: Path, cap: int | None = None) -> None:
        self.path = Path(root) / FILE
        self.cap = cap_bytes() if cap is None else cap
        #: what went wrong with the file (replaced, unusable), for the cases' notes
        self.notes: list[str] = []
        self._conn: sqlite3.Connection | None = None
        self._broken = False

    # ------------------------------------------------------------------ the file
    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                               check_same_thread=False)  # used by one thread at a time
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)
            conn.execute("SELECT count(*) FROM answers WHERE key = ''").fetchone()
        except BaseException:
            conn.close()
            raise
        return conn

    def connection(self) -> sqlite3.Connection | None:
        """The open database; a file that is not one is replaced (noted); None if the
        store cannot be used at all (noted): then every lookup misses."""
        if self._conn is not None or self._broken:
            return self._conn
        try:
            self._conn = self._connect()
        except sqlite3.DatabaseError as exc:
            self.notes.append(f"the recorded answers' database {self.path} could not be read "
                              f"({exc}); it was replaced by an empty one")
            try:
                for suffix in ("", "-wal", "-shm"):
                    Path(str(self.path) + suffix).unlink(missing_ok=True)
                self._conn = self._connect()
            except (OSError, sqlite3.Error) as again:
                self._unusable(again)
        except (OSError, sqlite3.Error) as exc:
            self._unusable(exc)
        return self._conn

    def _unusable(self, exc: BaseException) -> None:
        self._broken = True
        self._conn = None
        self.notes.append(f"the recorded answers' database {self.path} cannot be used "
                          f"({exc}); every reference answer is called")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # ------------------------------------------------------------------ reading
    def has_scope(self, scope: str) -> bool:
        """Whether any answer of this model scope is recorded."""
        conn = self.connection()
        if conn is None:
            return False
        try:
            return conn.execute("SELECT 1 FROM answers WHERE scope = ? LIMIT 1",
                                (scope,)).fetchone() is not None
        except sqlite3.Error:
            return False

    def lookup(self, key: str, pending: Pending) -> dict[str, np.ndarray] | None:
        """The recorded outputs for ``key``, or None (a bad row is deleted: a miss)."""
        conn = self.connection()
        if conn is None:
            return None
        try:
            row = conn.execute("SELECT blob, digest FROM answers WHERE key = ?",
                               (key,)).fetchone()
        except sqlite3.Error:
            return None
        if row is None:
            return None
        blob, digest = bytes(row[0]), str(row[1])
        try:
            if hashlib.sha256(blob).hexdigest() != digest:
                raise ValueError("checksum mismatch")
            outputs = decode_outputs(blob)
        except ValueError:
            self._delete(key)
            return None
        pending.used.add(key)
        return outputs

    def _delete(self, key: str) -> None:
        conn = self.connection()
        if conn is None:
            return
        try:
            conn.execute("DELETE FROM answers WHERE key = ?", (key,))
        except sqlite3.Error:
            pass

    # ------------------------------------------------------------------ writing
    @staticmethod
    def stage(pending: Pending, key: str, scope: str, outputs: Mapping[str, Any]) -> bool:
        """Keep ``outputs`` for the case's write; False if they cannot be stored."""
        try:
            blob = encode_outputs(outputs)
        except NotStorable:
            return False
        pending.rows[key] = (scope, blob, hashlib.sha256(blob).hexdigest())
        pending.used.discard(key)
        return True

    def commit(self, pending: Pending) -> None:
        """Write a case's new answers and last-used times in one transaction; evict past
        the cap. Errors lose only the recording (the next run calls again)."""
        if not pending.rows and not pending.used:
            return
        conn = self.connection()
        if conn is None:
            return
        now = time.time()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    "INSERT OR REPLACE INTO answers (key, scope, blob, digest, size, used) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [(k, s, b, d, len(b), now) for k, (s, b, d) in pending.rows.items()])
                conn.executemany("UPDATE answers SET used = ? WHERE key = ?",
                                 [(now, k) for k in pending.used])
                self._evict(conn)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            self.notes.append(f"answers could not be recorded in {self.path} ({exc})")
        finally:
            pending.rows.clear()
            pending.used.clear()

    def _evict(self, conn: sqlite3.Connection) -> None:
        (total,) = conn.execute("SELECT coalesce(sum(size), 0) FROM answers").fetchone()
        if total <= self.cap:
            return
        excess = total - self.cap
        doomed: list[tuple[str]] = []
        for key, size in conn.execute("SELECT key, size FROM answers ORDER BY used, key"):
            doomed.append((key,))
            excess -= size
            if excess <= 0:
                break
        conn.executemany("DELETE FROM answers WHERE key = ?", doomed)

    def keys(self) -> list[str]:
        """Every recorded key (tests and diagnostics)."""
        conn = self.connection()
        return [] if conn is None else [r[0] for r in conn.execute("SELECT key FROM answers")]


def store_for(context: "RunContext", root: Path) -> AnswerStore:
    """The run's store for the cache folder ``root`` (once per run; closed at its end)."""
    def make() -> AnswerStore:
        store = AnswerStore(root)
        context.closers.add(store.close)
        return store

    store: AnswerStore = context.once(("answer-store", Path(root)), make)
    return store
