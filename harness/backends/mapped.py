"""Large arrays between an isolated backend's parent and child through a mapped file.

Both directions work alike: the sender lays the large numeric arrays out in a file of the
child's temporary folder (each 64-byte aligned, the file grown by doubling and never shrunk)
and writes them in place; the message on the pipe carries only the file's path, its size and
the layout ``[(name, dtype, shape, offset), ...]``; the receiver maps the file read-only and
reads the arrays there. Inputs go parent -> child (``inputs.bin``), outputs child -> parent
(``outputs.bin``). Everything else is pickled through the pipe as before.
"""

from __future__ import annotations

import mmap
import os
from typing import Any, Mapping

import numpy as np

#: Arrays of at least this many bytes travel through a mapped file, not the pipe (a
#: [1,224,224,3] float32 array pickled through the pipe costs 0.7-1.2 ms a call here).
MAPPED_BYTES = 1 << 16
#: Kinds of dtypes whose arrays can be mapped (numbers and booleans; strings are pickled).
MAPPED_KINDS = "biufc"

Layout = list[tuple[str, str, tuple[int, ...], int]]


def split(arrays: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``arrays`` as (the ones to map, the rest)."""
    large = {k: v for k, v in arrays.items() if isinstance(v, np.ndarray)
             and v.dtype.kind in MAPPED_KINDS and v.nbytes >= MAPPED_BYTES}
    return large, {k: v for k, v in arrays.items() if k not in large}


def _close(view: mmap.mmap | None) -> None:
    if view is not None:
        try:
            view.close()
        except BufferError:  # a view of it is still alive; it goes with the last one
            pass


class Writer:
    """The sending side: one file, mapped read-write, grown as the arrays need."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.map: mmap.mmap | None = None

    def write(self, large: Mapping[str, np.ndarray]) -> tuple[int, Layout]:
        """Write ``large`` into the file; returns the map's size and the layout."""
        layout: Layout = []
        offset = 0
        for name, array in large.items():
            offset = -(-offset // 64) * 64  # each array 64-byte aligned
            layout.append((name, array.dtype.str, array.shape, offset))
            offset += array.nbytes
        if self.map is None or len(self.map) < offset:
            grown = max(offset, 2 * len(self.map) if self.map is not None else offset)
            with open(self.path, "a+b") as handle:
                handle.truncate(max(grown, os.fstat(handle.fileno()).st_size))
                new = mmap.mmap(handle.fileno(), grown)
            self.close()
            self.map = new
        for (_, dtype, shape, start), array in zip(layout, large.values(), strict=True):
            np.ndarray(shape, dtype=dtype, buffer=self.map, offset=start)[...] = array
        return len(self.map), layout

    def close(self) -> None:
        _close(self.map)
        self.map = None


class Reader:
    """The receiving side: the sender's file mapped read-only (again when it grew)."""

    def __init__(self) -> None:
        self.path = ""
        self.map: mmap.mmap | None = None

    def arrays(self, path: str, size: int, layout: Layout, *, copy: bool = False
               ) -> dict[str, np.ndarray]:
        """The arrays of ``layout``: views of the map, or copies (``copy``) when the sender
        overwrites the file before the receiver is done with them."""
        if self.map is None or path != self.path or len(self.map) < size:
            self.close()
            with open(path, "rb") as handle:
                self.map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
            self.path = path
        views = {name: np.ndarray(tuple(shape), dtype=np.dtype(dtype), buffer=self.map,
                                  offset=offset)
                 for name, dtype, shape, offset in layout}
        return {k: v.copy() for k, v in views.items()} if copy else views

    def close(self) -> None:
        _close(self.map)
        self.map = None
