"""Symbolic links and special files in a model directory, and a copy that never follows one.

A SavedModel is a plain directory tree. A symbolic link inside it (an asset, a folder
under ``variables/``, ``saved_model.pb`` itself) lets a model read any file of the machine
it runs on into its run (``assets/vocab.txt -> ~/.ssh/id_rsa``), and a link to a large tree
or a device makes copying the model unbounded. The scan reports every link as a policy
violation saying where it points; :func:`copy_model` copies regular files and folders only
and refuses a link or a special file (FIFO, device, socket) instead of following it.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from harness.errors import ModelError

MAX_ENTRIES = 100_000
"""A model directory with more entries than this is refused (the walk stays bounded)."""


@dataclass(frozen=True)
class Link:
    """A symbolic link or a special file found in a model directory."""

    relative: str
    """Its path inside the model directory (``assets/vocab.txt``)."""
    target: str
    """Where the link points (as stored in the link), or what kind of special file it is."""
    is_link: bool = True

    def reason(self) -> str:
        if self.is_link:
            return (f"symbolic link to {self.target}: the model would read whatever that path "
                    "holds on the machine it runs on, not a file of its own")
        return f"{self.target}, not a regular file: reading it can block or never end"


def find_links(model_dir: Path) -> tuple[Link, ...]:
    """Every symbolic link and special file under ``model_dir``, without following any."""
    return tuple(_walk(Path(model_dir)))


def _walk(model_dir: Path) -> Iterator[Link]:
    stack = [model_dir]
    seen = 0
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as error:
            raise ModelError(f"cannot list the model directory: {error.strerror}",
                             file=folder) from None
        for entry in entries:
            seen += 1
            if seen > MAX_ENTRIES:
                raise ModelError(f"the model directory holds more than {MAX_ENTRIES} entries; "
                                 "refusing to scan or copy it", file=model_dir)
            relative = Path(entry.path).relative_to(model_dir).as_posix()
            if entry.is_symlink():
                yield Link(relative, os.readlink(entry.path))
            elif entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
            elif not entry.is_file(follow_symlinks=False):
                yield Link(relative, _kind(entry.stat(follow_symlinks=False).st_mode), False)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def copy_model(source: Path, dest: Path) -> None:
    """Copy the model tree ``source`` to ``dest`` (must not exist), never following a link.

    Raises :class:`ModelError` naming the first link or special file instead of copying it.
    """
    links = find_links(source)
    if links:
        first = links[0]
        raise ModelError(f"{first.relative}: {first.reason()}; the model was not copied "
                         "or loaded", file=source,
                         hint="replace the link by the file itself (the op scan reports "
                              "every link)")

    def refuse_links(src: str, dst: str) -> str:
        if os.path.islink(src) or not os.path.isfile(src):
            raise ModelError("changed while being copied: now a link or special file",
                             file=src)
        return str(shutil.copy2(src, dst, follow_symlinks=False))

    shutil.copytree(source, dest, symlinks=True, copy_function=refuse_links)
