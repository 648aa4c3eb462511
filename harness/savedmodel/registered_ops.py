"""The op types the installed TensorFlow registers, remembered across runs.

The op-policy scan asks, for every op type of a model, whether TensorFlow registers it
(:func:`harness.savedmodel.tf_modules.op_registered`). The first question loads TensorFlow's
registry extension, about 0.2 s, on the path of every run before its first model is loaded.
An op type a TensorFlow installation registers stays registered in it, so the answers
"registered" are kept in the cache folder (``registered-ops/KEY.json``), ``KEY`` naming the
installation by the files the answers come from (the registry extension and
``libtensorflow_framework``: path, size, modification time, inode; a reinstall or another
TensorFlow gives another key). A later scan of models whose op types are all known there
loads no extension at all.

Only "registered" is remembered: an op type not known there is asked of TensorFlow as
before (and "not registered" always is), so the scan's findings are the ones TensorFlow
itself gives. An unreadable or unwritable file is treated as empty: it costs time, never
an answer.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Callable

from harness.savedmodel.tf_modules import op_registered

#: The files of a TensorFlow installation that decide the registry's answers.
INSTALLATION_FILES = ("python/framework/_op_def_registry*", "libtensorflow_framework*")


def installation_key(root: Path | None = None) -> str | None:
    """A digest naming the TensorFlow installed at ``root`` (default: the importable one) by
    its files' identity, or None if they are not found; TensorFlow is not imported."""
    if root is None:
        try:
            spec = importlib.util.find_spec("tensorflow")
        except (ImportError, ValueError):
            return None
        if spec is None or not spec.submodule_search_locations:
            return None
        root = Path(next(iter(spec.submodule_search_locations)))
    rows = []
    for pattern in INSTALLATION_FILES:
        for path in sorted(root.glob(pattern)):
            try:
                st = path.stat()
            except OSError:
                return None
            rows.append(f"{path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}")
    if len(rows) < len(INSTALLATION_FILES):
        return None
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()[:32]


class RegisteredOps:
    """``op_registered`` with its "registered" answers kept in ``folder`` across runs."""

    def __init__(self, folder: Path | None,
                 ask: Callable[[str], bool] = op_registered) -> None:
        key = installation_key() if folder is not None else None
        self.file = None if key is None or folder is None else (
            folder / "registered-ops" / f"{key}.json")
        self.ask = ask
        self.known: set[str] = self._read()
        self.learned: set[str] = set()
        self._lock = threading.Lock()  # the scans of a run's models may run in threads

    def _read(self) -> set[str]:
        if self.file is None:
            return set()
        try:
            ops = json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return set()
        return {op for op in ops if isinstance(op, str)} if isinstance(ops, list) else set()

    def __call__(self, op: str) -> bool:
        if op in self.known:
            return True
        if not self.ask(op):
            return False
        with self._lock:
            self.known.add(op)
            self.learned.add(op)
        return True

    def save(self) -> None:
        """Write what was learned (merged with what another process wrote meanwhile)."""
        with self._lock:
            if self.file is None or not self.learned:
                return
            ops = sorted(self._read() | self.known)
            self.learned.clear()
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.file.parent, prefix=".registered-ops-")
        except OSError:
            return
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(ops, out)
            os.replace(tmp, self.file)  # atomic: a reader sees the old list or the new one
        except OSError:
            Path(tmp).unlink(missing_ok=True)
