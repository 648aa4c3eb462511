"""A case: one check of one contract on one model (and signature, and backend).

Check families plan cases with a function registered by :func:`planner`; the engine runs a
case by calling its ``runner`` with the run context, never with itself. Planning and
running need nothing above this module: a family imports this, the run context and the
backends' source, and the engine imports the families.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

from harness.context import RunContext
from harness.contract.model import Contract
from harness.savedmodel.layout import ModelRef


class Skipped(Exception):
    """A case that cannot run here (backend missing, check not applicable); says why."""


@dataclass(frozen=True)
class Case:
    """One check of one contract on one model (and signature, and backend)."""

    contract: Contract
    model: ModelRef
    signature: str | None
    check: str
    family: str
    runner: Callable[[RunContext, "Case"], list[str]] = field(compare=False, repr=False)
    backend: str = "savedmodel"
    #: the format variant the check runs on (e.g. ``tflite-int8``); its id shows it too
    variant: str | None = None

    @property
    def id(self) -> str:
        parts = [self.contract.name, self.model.label, self.signature or "-", self.check]
        return "::".join(parts)


Planner = Callable[[RunContext, Contract, ModelRef], Iterable[Case]]

#: Each family of checks contributes cases through a planner, in registration order.
PLANNERS: list[Planner] = []


def planner(fn: Planner) -> Planner:
    """Register a family's planner (once, even when its module is imported again)."""
    names = [f"{p.__module__}.{p.__qualname__}" for p in PLANNERS]
    name = f"{fn.__module__}.{fn.__qualname__}"
    if name in names:
        PLANNERS[names.index(name)] = fn
    else:
        PLANNERS.append(fn)
    return fn
