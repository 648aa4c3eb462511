"""One contract x its models x backends -> check cases and their results.

The engine knows nothing of pytest or the CLI: it plans :class:`Case` objects (plain
data with the function that runs them) through the families' planners, runs them on
request with the run context, and emits a :class:`~harness.events.CaseFinished` event for
every result on the context's event stream. It holds no state the families reach for:
options, caches, loaded backends and started servers live in the
:class:`~harness.context.RunContext` the families are given. The pytest plugin turns cases
into test items; the CLI drives the plugin.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Sequence

from harness.backends import source
from harness.backends.source import release_all
from harness.checks import calls, formats, safety, serving, static
from harness.checks.case import PLANNERS, Case, Planner, Skipped
from harness.context import RunContext
from harness.contract.load import load_contract
from harness.contract.model import Contract
from harness.errors import BackendUnavailable, CheckFailure, CrashFailure, HarnessError
from harness.events import CaseFinished, CaseResult
from harness.fuzz import reuse_references
from harness.interrupt import raise_if_interrupted
from harness.options import RunOptions
from harness.savedmodel.layout import ModelRef

__all__ = ["FAMILIES", "Case", "CaseResult", "Engine", "Skipped"]

#: The check families (importing a family registers its planners), planned in this order.
FAMILIES = (static, safety, calls, formats, serving)


def _calls_savedmodel(case: Case) -> bool:
    """Whether ``case`` calls the SavedModel itself: the fuzzed calls, and parity (its
    reference); conformance of a converted format does not."""
    return case.family == "fuzz" or case.name == "parity"


def _answered_from_store(context: RunContext, case: Case) -> bool:
    """Whether ``case`` calls the SavedModel only for reference answers (parity) that it
    will look up (reuse on: the examples repeat, or a variant's seeded batch) and that the
    store of recorded answers holds for its model and signature: then no SavedModel worker
    is started ahead (the reference opens it at its first miss)."""
    if case.family != "parity" or case.name != "parity" or case.signature is None:
        return False
    if not reuse_references(context, seeded=case.variant is not None):
        return False
    from harness.backends.reference import answers_recorded

    return answers_recorded(context, case.contract, case.model, case.signature)


def _variant_of(case: Case) -> dict[str, object] | None:
    """The quantized variant a format case runs (its contract block), or None."""
    if case.variant is None:
        return None
    return dict(dict(formats.variants(case.contract, case.backend))[case.variant])


def planners() -> list[Planner]:
    """The registered planners, in :data:`FAMILIES` order (others after them)."""
    return list(_ordered(tuple(PLANNERS)))


@functools.lru_cache(maxsize=1)
def _ordered(names: tuple[str, ...]) -> tuple[Planner, ...]:
    """Sorted once per set of registered planners (a fleet plans thousands of models)."""
    order = [f.__name__ for f in FAMILIES]

    def rank(plan: Planner) -> int:
        module = plan.__module__
        found = [i for i, name in enumerate(order) if module == name or module.startswith(name + ".")]
        return found[0] if found else len(order)

    return tuple(sorted((PLANNERS[name] for name in names), key=rank))


class Engine:
    """Plans and runs the cases of one run; results go to the context's event stream."""

    def __init__(self, options: RunOptions | None = None, *,
                 context: RunContext | None = None) -> None:
        self.context = context if context is not None else RunContext(options or RunOptions())
        self.options = self.context.options
        #: every finished case, in order (also emitted as CaseFinished events)
        self.results: list[CaseResult] = []
        #: the SavedModels the selected cases call, in run order, each once: (contract file,
        #: model path); the next one is loaded ahead while the checks of the one before it
        #: run (:meth:`prepare`, :meth:`execute`); _place: its index by (contract file, model)
        self._calling: list[tuple[Contract, ModelRef]] = []
        self._place: dict[tuple[Path, Path], int] = {}
        #: the one loading ahead: (its memo key while not opened, its place in _calling)
        self._loading_ahead: tuple[object, int] | None = None

    # ------------------------------------------------------------------ planning
    def load(self, path: Path) -> Contract:
        return load_contract(path)

    def models_of(self, contract: Contract) -> list[ModelRef]:
        return self.context.models_of(contract)

    def plan(self, contract: Contract, model: ModelRef) -> list[Case]:
        cases: list[Case] = []
        for plan in planners():
            cases.extend(plan(self.context, contract, model))
        return cases

    # ------------------------------------------------------------------ running
    def prepare(self, cases: Sequence[Case], *, load_ahead: bool = True) -> None:
        """Start early, in the background, what the selected ``cases`` will need: a worker
        importing TensorFlow for the SavedModel's calls (unless the only calls are
        reference answers the store holds), which starts loading the SavedModel of the
        first case that calls it (``load_ahead``; after the op-policy gate), and one
        importing each converted format's runtime (isolated runs), and the conversions
        of the formats they check (after the gate). A run that needs neither starts
        neither."""
        if not cases:
            return
        if not self.options.in_process:
            from harness.backends.isolation import prestart

            calling = {(c.contract.path, c.model.path): (c.contract, c.model) for c in cases
                       if _calls_savedmodel(c) and not _answered_from_store(self.context, c)}
            if calling:
                prestart(self.context, "savedmodel")
                if load_ahead:
                    self._calling = list(calling.values())
                    self._place = {key: i for i, key in enumerate(calling)}
                    self._start_loading(0)
            for backend in dict.fromkeys(c.backend for c in cases if c.format is not None):
                prestart(self.context, backend)  # its runtime imported (onnxruntime, LiteRT)
        from harness.exports.prefetch import convert_ahead

        convert_ahead(self.context, ((c.contract, c.model, c.backend, _variant_of(c))
                                     for c in cases if c.family == "parity"))

    def execute(self, case: Case) -> list[str]:
        """Run one case: returns notes; raises CheckFailure, HarnessError or Skipped."""
        start = time.perf_counter()
        outcome, message, notes, replay, crashed = "passed", "", [], None, False
        raise_if_interrupted()  # a Ctrl-C swallowed during the last case (harness.interrupt)
        self._load_next_model(case)
        try:
            notes = case.runner(self.context, case)
            return notes
        except CheckFailure as exc:
            outcome, message, replay = "failed", str(exc), exc.reproduce
            crashed = isinstance(exc, CrashFailure)
            raise
        except Skipped as exc:
            outcome, message = "skipped", str(exc)
            raise
        except HarnessError as exc:
            outcome, message = ("skipped", str(exc)) if isinstance(exc, BackendUnavailable) \
                else ("error", str(exc))
            raise
        except BaseException as exc:
            outcome, message = "error", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            result = CaseFinished(case, outcome, message, tuple(notes),
                                  time.perf_counter() - start, replay, crashed)
            self.results.append(result)
            self.context.events.emit(result)

    def _load_next_model(self, case: Case) -> None:
        """When a case of a model whose SavedModel the run calls starts, the next such model
        starts loading. One loads ahead at a time: one that waits for its first case (the
        cases run in another order than planned) holds the next back, one whose model's
        cases have all gone by unopened (they failed before calling it) is stopped."""
        here = self._place.get((case.contract.path, case.model.path))
        if here is None:
            return
        if self._loading_ahead is not None:
            token, place = self._loading_ahead
            if token in self.context.memo:  # not opened yet
                if place >= here:
                    return
                stale = self.context.memo.take(token)
                if stale is not None:
                    stale.deactivate()
        self._start_loading(here + 1)

    def _start_loading(self, place: int) -> None:
        """Load ahead the SavedModel at ``place`` in :attr:`_calling` (if there is one)."""
        if place >= len(self._calling):
            return
        contract, model = self._calling[place]
        token = source.load_ahead(self.context, "savedmodel", contract, model)
        self._loading_ahead = (token, place) if token is not None else None

    def close(self) -> None:
        """Release every backend, then stop what the run started (servers, containers)."""
        release_all(self.context)
        self.context.memo.clear()
        self.context.closers.close_all()
