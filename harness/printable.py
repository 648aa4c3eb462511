"""Text from a model or a contract made safe to print on a terminal.

Tensor names, signature keys and file names come from the model and may hold raw control
characters: NUL, escape sequences, or bidirectional overrides such as U+202E that make a
terminal show text reversed. :func:`printable` escapes every such character (as ``\\x00``,
``\\x1b``, ``\\u202e``), keeping newlines and tabs, so what a user reads is what the file
holds. User errors and check failures are rendered through it.
"""

from __future__ import annotations

import unicodedata

_KEEP = frozenset("\n\t")


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 \
        else f"\\U{code:08x}"


def printable(text: str) -> str:
    """``text`` with control, format (bidi) and unassigned characters escaped."""
    if text.isprintable():
        return text
    return "".join(char if char in _KEEP or char.isprintable() or char == " "
                   or unicodedata.category(char) in ("Zs",) else _escape(char)
                   for char in text)
