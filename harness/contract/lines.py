"""Where a JSON pointer is in a file's text: the line of every value (for SARIF, JUnit, editors).

:func:`pointer_lines` scans a JSON document once (it is already known to parse) and returns
``pointer -> line`` (1-based) of every value: for an object member, the line of its key.
Pure; no third-party parser.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from harness.contract.json_limits import pointer

_WS = re.compile(r"[ \t\r\n]*")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_DECODER = json.JSONDecoder()


def pointer_lines(text: str) -> dict[str, int]:
    """``pointer -> line`` for every value of the JSON document ``text`` ({} if it is not JSON)."""
    lines: dict[str, int] = {}
    try:
        _value(text, _skip(text, 0), [], lines, None)
    except (ValueError, IndexError):
        return {}
    return lines


def _skip(text: str, i: int) -> int:
    match = _WS.match(text, i)
    return match.end() if match else i


def _line(text: str, i: int) -> int:
    return text.count("\n", 0, i) + 1


def _value(text: str, i: int, path: list[object], lines: dict[str, int], at: int | None) -> int:
    lines[pointer(path)] = _line(text, i if at is None else at)
    ch = text[i]
    if ch == "{":
        i = _skip(text, i + 1)
        if text[i] == "}":
            return i + 1
        while True:
            key_at = i
            key, i = _DECODER.raw_decode(text, i)
            i = _skip(text, i)
            assert text[i] == ":"
            i = _value(text, _skip(text, i + 1), path + [key], lines, key_at)
            i = _skip(text, i)
            if text[i] == ",":
                i = _skip(text, i + 1)
                continue
            return i + 1
    if ch == "[":
        i = _skip(text, i + 1)
        if text[i] == "]":
            return i + 1
        n = 0
        while True:
            i = _value(text, i, path + [n], lines, None)
            n += 1
            i = _skip(text, i)
            if text[i] == ",":
                i = _skip(text, i + 1)
                continue
            return i + 1
    if ch == '"':
        return int(_DECODER.raw_decode(text, i)[1])
    for literal in ("true", "false", "null"):
        if text.startswith(literal, i):
            return i + len(literal)
    match = _NUMBER.match(text, i)
    if not match:
        raise ValueError(f"unexpected {ch!r}")
    return match.end()


def location_uri(file: str) -> str:
    """Where a report (SARIF, JUnit, text) says ``file`` is: relative to the working directory
    when below it (what code-scanning UIs resolve against the checkout), else a file URI."""
    full = Path(os.path.normpath(Path(file).absolute()))
    try:
        return full.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return full.as_uri()
