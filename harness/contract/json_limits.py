"""What a contract's JSON may not hold whatever the schema says: deep nesting, infinities.

Python's ``json`` reads ``1e999`` as ``inf`` (and ``-1e999`` as ``-inf``): a tolerance or a
range end that is infinite means "anything passes", never what the author meant, so every
non-finite number is refused with its pointer. Nesting is bounded (:data:`MAX_DEPTH`; real
contracts are under ten levels deep) so that neither the parser nor the schema validator
recurses without bound.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Iterator

MAX_DEPTH = 64


def too_deep(data: Any) -> bool:
    """True when objects/arrays nest more than :data:`MAX_DEPTH` levels (no recursion)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_DEPTH:
                return True
            values = item.values() if isinstance(item, dict) else item
            stack.extend((value, depth + 1) for value in values)
    return False


def non_finite(data: Any) -> Iterator[tuple[list[Any], float]]:
    """(path, value) of every infinite or NaN number in ``data``."""
    stack: list[tuple[Any, list[Any]]] = [(data, [])]
    while stack:
        item, path = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            yield path, item
        elif isinstance(item, dict):
            stack.extend((value, path + [key]) for key, value in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((value, path + [i]) for i, value in reversed(list(enumerate(item))))


def pointer(parts: Iterable[Any]) -> str:
    """A JSON pointer (RFC 6901) for a path of keys and indices."""
    out = ""
    for part in parts:
        out += "/" + str(part).replace("~", "~0").replace("/", "~1")
    return out or "/"
