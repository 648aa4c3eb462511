"""The release gate: a diff's changes judged against the contracts' semantic versions.

When both sides carry a ``version`` of the form MAJOR.MINOR.PATCH (contracts do; models
do not), a breaking change needs a major bump and a compatible one a minor bump:

* breaking change, same major -> fail ("breaking without a major version bump");
* breaking change, major bumped -> pass (the version says callers must adapt);
* compatible change, neither major nor minor bumped -> warning;
* a version that went down -> fail.

Without versions on both sides every breaking change fails, as before. ``groups`` limits
what fails to the breaking changes of those groups (signature, tensor, shape, values,
assets); the others are still listed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from harness.contract.diff import BREAKING, COMPATIBLE, GROUPS, DiffResult
from harness.errors import HarnessError

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:[-+].*)?$")


@dataclass(frozen=True)
class Verdict:
    """What the gate says about one diff."""

    failed: bool
    reasons: tuple[str, ...]  # why it failed
    warnings: tuple[str, ...]


def semver(text: str | None) -> tuple[int, int, int] | None:
    match = SEMVER.match(text or "")
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def check_groups(groups: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(groups)
    unknown = [g for g in chosen if g not in GROUPS]
    if unknown:
        raise HarnessError(f"unknown change group {unknown[0]!r}; expected some of "
                           f"{', '.join(GROUPS)}")
    return chosen


def judge(result: DiffResult, groups: Iterable[str] = GROUPS) -> Verdict:
    """The gate's verdict on ``result``, gating on the breaking changes of ``groups``."""
    gated = check_groups(groups)
    breaking = [c for c in result.changes if c.severity == BREAKING and c.group in gated]
    compatible = [c for c in result.changes if c.severity == COMPATIBLE]
    old, new = semver(result.old_version), semver(result.new_version)
    reasons: list[str] = []
    warnings: list[str] = []
    if old is None or new is None:
        if breaking:
            reasons.append(f"{len(breaking)} breaking change(s)")
        return Verdict(bool(reasons), tuple(reasons), ())
    span = f"{result.old_version} -> {result.new_version}"
    if new < old:
        reasons.append(f"the version went down ({span})")
    if breaking and new[0] <= old[0]:
        reasons.append(f"{len(breaking)} breaking change(s) without a major version bump "
                       f"({span}); release it as {old[0] + 1}.0.0")
    elif not breaking and compatible and new[:2] <= old[:2]:
        warnings.append(f"{len(compatible)} compatible change(s) without a minor version bump "
                        f"({span}); release it as {old[0]}.{old[1] + 1}.0")
    return Verdict(bool(reasons), tuple(reasons), tuple(warnings))
