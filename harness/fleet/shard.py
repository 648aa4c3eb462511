"""``--shard K/N``: which models one CI job checks, the same on every run and machine.

Models are dealt to shards greedily, heaviest first, each to the lightest shard so far
(ties: the lower shard number). A model's weight is its duration in a previous fleet result
when one is given (as pytest-split balances by stored durations), else its planned case
count. The deal depends only on names and weights, never on hashing or dict order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

from harness.errors import FleetError

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    match = _SHARD.match(text)
    if match is None or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise FleetError(f"--shard {text!r}: expected K/N with 1 <= K <= N, e.g. --shard 2/4")
    return Shard(int(match.group(1)), int(match.group(2)))


def deal(weights: Mapping[str, float], count: int) -> dict[str, int]:
    """Model name -> shard (1..count), balancing the summed weights."""
    loads = [0.0] * count
    assigned: dict[str, int] = {}
    for name in sorted(weights, key=lambda n: (-weights[n], n)):
        lightest = min(range(count), key=lambda i: (loads[i], i))
        loads[lightest] += weights[name]
        assigned[name] = lightest + 1
    return assigned
