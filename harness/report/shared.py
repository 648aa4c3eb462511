"""The run's figures a pytest-xdist worker hands to the controller, and how they merge.

Each worker runs its share of the cases with its own engine, so the figures its
:class:`~harness.report.record.RunRecord` kept from the run's events (parity rows, serving
findings, server starts, request latency, findings) are split between the workers. At the
end of its session a worker sends :func:`shareable` (plain data) to the controller, which
merges every worker's part into its own record with :func:`merge_into`; the reports and
terminal sections are then written once, by the controller, from the whole.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Mapping


def _concatenated(mine: list[Any], theirs: list[Any]) -> list[Any]:
    return mine + list(theirs)


def _unique(mine: list[Any], theirs: list[Any]) -> list[Any]:
    out = list(mine)
    for item in theirs:
        if item not in out:
            out.append(item)
    return out


def _summed(mine: dict[str, list[float]], theirs: Mapping[str, list[float]]) -> dict[str, Any]:
    out = {k: list(v) for k, v in mine.items()}
    for key, (count, seconds) in theirs.items():
        was = out.setdefault(key, [0, 0.0])
        out[key] = [was[0] + count, was[1] + seconds]
    return out


#: figure -> how the controller merges a worker's value into its own. A
#: parity row belongs to one case, and a case runs in one worker, so rows concatenate.
MERGES: dict[str, Callable[[Any, Any], Any]] = {
    "parity": _concatenated,
    "serving_findings": _unique,
    "serving_starts": _concatenated,
    "serving_rest_vs_grpc": _concatenated,
    "serving_latency": _summed,
    "findings": _concatenated,
}

#: the empty value of each key, for a controller that has recorded nothing yet
EMPTY: dict[str, Callable[[], Any]] = {
    "parity": list, "serving_findings": list, "serving_starts": list,
    "serving_rest_vs_grpc": list, "serving_latency": dict, "findings": list,
}
assert set(MERGES) == set(EMPTY)


def shareable(data: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a worker's figures the controller needs, as plain data."""
    return {key: copy.deepcopy(data[key]) for key in MERGES if data.get(key)}


def merge_into(data: dict[str, Any], incoming: Mapping[str, Any]) -> None:
    """Add one worker's :func:`shareable` figures to ``data``."""
    for key, value in incoming.items():
        merge = MERGES.get(key)
        if merge is not None:
            data[key] = merge(data.get(key) or EMPTY[key](), value)
