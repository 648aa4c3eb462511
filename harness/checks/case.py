"""A case: one check of one contract on one model (and signature, and backend).

A check is declared once, with :func:`check` (or a family's decorator built on it): its
name, family, scope (once per model or once per signature), the backend its case names,
the backend the run must select for it to run, and when it applies to a signature. The
declarations live in one :class:`~harness.registry.Registry`, :data:`CHECKS`; a family's
planner is derived from them (:func:`declared_cases`). The engine runs a case by calling
its ``runner`` with the run context, never with itself: a family imports this module, the
run context and the backends' source, and the engine imports the families.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Sequence

from harness.context import RunContext
from harness.contract.model import Contract, SignatureSpec
from harness.registry import Registry
from harness.savedmodel.layout import ModelRef


class Skipped(Exception):
    """A case that cannot run here (backend missing, check not applicable); says why."""


@dataclass(frozen=True)
class Case:
    """One check of one contract on one model (and signature, and backend).

    A check run once per converted format names it (``format``), and once per quantized
    variant of a format names that too (``variant``); both are data, and the printed
    :attr:`check` is derived from them: ``parity[tflite]``, ``parity[tflite-int8]``.
    """

    contract: Contract
    model: ModelRef
    signature: str | None
    #: the declared check's name (``parity``); :attr:`check` is what is printed
    name: str
    family: str
    runner: Callable[[RunContext, "Case"], list[str]] = field(compare=False, repr=False)
    backend: str = "savedmodel"
    #: the converted format the check runs on (``tflite``, ``onnx``, ``tfjs``)
    format: str | None = None
    #: the format's quantized variant the check runs on (e.g. ``tflite-int8``)
    variant: str | None = None

    @property
    def check(self) -> str:
        """The check as users see it in ids and reports: its name, with its format or
        variant in brackets when it has one."""
        on = self.variant or self.format
        return f"{self.name}[{on}]" if on else self.name

    @property
    def id(self) -> str:
        parts = [self.contract.name, self.model.label, self.signature or "-", self.check]
        return "::".join(parts)


Runner = Callable[[RunContext, Case], list[str]]
Applies = Callable[[RunContext, Contract, ModelRef, SignatureSpec], bool]
Planner = Callable[[RunContext, Contract, ModelRef], Iterable[Case]]


@dataclass(frozen=True)
class CheckSpec:
    """One declared check: what it is called, where it belongs and when it runs."""

    name: str
    family: str
    runner: Runner = field(compare=False)
    #: "model": one case per model; "signature": one case per contract signature
    scope: str = "signature"
    #: the backend the case names (reports, -k selection)
    backend: str = "savedmodel"
    #: a backend the run must select (--backend, or the contract's formats) for it to run
    requires: str | None = None
    #: whether it applies to one signature (default: always)
    applies: Applies | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        return f"{self.family}/{self.name}"

    def case(self, contract: Contract, model: ModelRef, signature: str | None, *,
             format: str | None = None, variant: str | None = None) -> Case:
        """This check's case; one run on a format names the format (its backend too)."""
        return Case(contract, model, signature, self.name, self.family, self.runner,
                    backend=format or self.backend, format=format, variant=variant)


#: Every declared check, by "family/name", in declaration order.
CHECKS: Registry[CheckSpec] = Registry("check")
#: Each family contributes cases through a planner (by its qualified name).
PLANNERS: Registry[Planner] = Registry("planner")


def declare(spec: CheckSpec) -> CheckSpec:
    return CHECKS.add(spec.key, spec)


def check(name: str, *, family: str, scope: str = "signature", backend: str = "savedmodel",
          requires: str | None = None, applies: Applies | None = None
          ) -> Callable[[Runner], Runner]:
    """Declare ``fn(context, case) -> notes`` as the check ``name`` of ``family``."""
    assert scope in ("model", "signature"), scope

    def register(fn: Runner) -> Runner:
        declare(CheckSpec(name, family, fn, scope, backend, requires, applies))
        return fn

    return register


def planner(fn: Planner) -> Planner:
    """Register a family's planner (once, even when its module is imported again)."""
    return PLANNERS.add(f"{fn.__module__}.{fn.__qualname__}", fn)


def declared_cases(context: RunContext, contract: Contract, model: ModelRef, family: str, *,
                   modules: Sequence[str] = ()) -> Iterator[Case]:
    """The cases of ``family``'s declared checks: model-level checks first, then each
    signature's, in declaration order (or in the order of ``modules`` that declare them)."""
    specs = [s for s in CHECKS.values() if s.family == family
             and (s.requires is None or context.backend_selected(contract, s.requires))]
    if modules:
        order = list(modules)
        specs.sort(key=lambda s: order.index(s.runner.__module__)
                   if s.runner.__module__ in order else len(order))
    for spec in specs:
        if spec.scope == "model":
            yield spec.case(contract, model, None)
    for sig in contract.signatures:
        for spec in specs:
            if spec.scope == "signature" and (spec.applies is None
                                              or spec.applies(context, contract, model, sig)):
                yield spec.case(contract, model, sig.name)
