"""Golden tensors on disk: a list of calls (name -> array) in one ``.npz``, pickle-free.

Array ``i:name`` is tensor ``name`` of call ``i``. String tensors (numpy object or bytes
arrays) are stored as two plain arrays, ``i:name#utf8`` (every element's bytes, concatenated,
uint8) and ``i:name#lengths`` (int64, the tensor's shape), so a golden written under one
numpy major version loads under another (object arrays would be pickled, and numpy 2's
pickles do not load under numpy 1) and trailing NUL bytes survive.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

BYTES = "#utf8"
LENGTHS = "#lengths"


def _encode(key: str, value: np.ndarray, out: dict[str, np.ndarray]) -> None:
    arr = np.asarray(value)
    if arr.dtype.kind in "OSU":
        items = [x.encode("utf-8") if isinstance(x, str) else bytes(x) for x in arr.reshape(-1)]
        out[key + BYTES] = np.frombuffer(b"".join(items), dtype=np.uint8).copy()
        out[key + LENGTHS] = np.array([len(x) for x in items], dtype=np.int64).reshape(arr.shape)
    else:
        out[key] = arr


def save_calls(path: Path, calls: Sequence[Mapping[str, np.ndarray]]) -> None:
    """Write ``calls`` (each a name -> array mapping) to ``path`` (compressed npz)."""
    arrays: dict[str, np.ndarray] = {}
    for i, call in enumerate(calls):
        for name, value in call.items():
            _encode(f"{i}:{name}", value, arrays)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        np.savez_compressed(handle, **arrays)  # type: ignore[arg-type]


def load_calls(path: Path) -> list[dict[str, np.ndarray]]:
    """The calls written by :func:`save_calls`, strings back as object arrays of bytes."""
    calls: dict[int, dict[str, np.ndarray]] = {}
    with np.load(path, allow_pickle=False) as data:
        files = set(data.files)
        for key in sorted(files):
            index, name = key.split(":", 1)
            call = calls.setdefault(int(index), {})
            if name.endswith(LENGTHS):
                base = name[: -len(LENGTHS)]
                lengths = data[key]
                blob = data[f"{index}:{base}{BYTES}"].tobytes()
                flat = np.empty(lengths.size, dtype=object)
                offset = 0
                for j, n in enumerate(lengths.reshape(-1)):
                    flat[j] = blob[offset: offset + int(n)]
                    offset += int(n)
                call[base] = flat.reshape(lengths.shape)
            elif name.endswith(BYTES):
                continue
            else:
                call[name] = data[key]
    return [calls[i] for i in sorted(calls)]
