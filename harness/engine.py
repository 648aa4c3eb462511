"""One contract x its models x backends -> check cases and their results.

The engine knows nothing of pytest or the CLI: it plans :class:`Case` objects (plain
data with the function that runs them), runs them on request, caches what is expensive
(model reads, loaded backends) for the whole session, and tells its listeners about every
result. The pytest plugin turns cases into test items; the CLI drives the plugin.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Hashable, Iterable, TypeVar, cast

from harness.backends.base import BACKENDS, Backend
from harness.checks import static as static_checks
from harness.contract.load import load_contract
from harness.contract.model import Contract
from harness.errors import BackendUnavailable, CheckFailure, HarnessError, ModelError
from harness.options import RunOptions
from harness.progress import Progress
from harness.savedmodel.layout import CONTRACT_MODELS_HINT, ModelRef, resolve_model
from harness.savedmodel.reader import SavedModelInfo, read_saved_model

T = TypeVar("T")


@dataclass(frozen=True)
class _Raised:
    """An error kept by :meth:`Engine.once` to raise again."""

    error: Exception


def remembered(error: Exception, key: Hashable) -> Exception:
    """``error`` as raised again for a later case: a user error says it is the same one."""
    if not isinstance(error, HarnessError) or isinstance(error, BackendUnavailable):
        return error
    what = "load failure" if isinstance(key, tuple) and key[:1] == ("backend",) else "failure"
    again = copy.copy(error)
    again.message = (f"{error.message} [the same {what} as this model's first check: "
                     "not tried again in this run]")
    Exception.__init__(again, again.render())
    return again


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
    runner: Callable[["Engine", "Case"], list[str]] = field(compare=False, repr=False)
    backend: str = "savedmodel"

    @property
    def id(self) -> str:
        parts = [self.contract.name, self.model.label, self.signature or "-", self.check]
        return "::".join(parts)


@dataclass(frozen=True)
class CaseResult:
    case: Case
    outcome: str  # passed | failed | skipped | error
    message: str
    notes: tuple[str, ...]
    seconds: float


Planner = Callable[["Engine", Contract, ModelRef], Iterable[Case]]

#: Each family of checks contributes cases through a planner, in this order.
PLANNERS: list[Planner] = []


def planner(fn: Planner) -> Planner:
    return register(PLANNERS, fn)


def register(registry: list[Any], fn: T) -> T:
    """Add ``fn`` to ``registry``, or replace the function of the same module and name there:
    a family module imported again (pytester's in-process runs drop and re-import modules)
    must not register its checks twice."""
    key = (getattr(fn, "__module__", None), getattr(fn, "__qualname__", None))
    for i, known in enumerate(registry):
        if (getattr(known, "__module__", None), getattr(known, "__qualname__", None)) == key:
            registry[i] = fn
            return fn
    registry.append(fn)
    return fn


#: Loaded backends kept at once (each isolated one is a process holding TensorFlow).
MAX_ACTIVE = 3


class Engine:
    """Session state: options, caches of model reads and loaded backends, result listeners."""

    def __init__(self, options: RunOptions | None = None) -> None:
        load_families()
        self.options = options or RunOptions()
        self.listeners: list[Callable[[CaseResult], None]] = []
        self.results: list[CaseResult] = []
        self._once: dict[Hashable, Any] = {}
        self.data: dict[str, Any] = {}  # per-session data families share (e.g. parity rows)
        self._recent: list[Hashable] = []
        self.progress = Progress()  # long steps (loading, converting, servers) as they happen

    # ------------------------------------------------------------------ planning
    def load(self, path: Path) -> Contract:
        return load_contract(path)

    def models_of(self, contract: Contract) -> list[ModelRef]:
        paths = self.options.models or contract.models
        if not paths:
            raise ModelError("the contract names no models and no --model was given",
                             file=contract.path, place="/models")
        hint = None if self.options.models else CONTRACT_MODELS_HINT  # --model: the user's path
        refs: list[ModelRef] = []
        for path in paths:
            refs.extend(resolve_model(path, hint=hint))
        return refs

    def plan(self, contract: Contract, model: ModelRef) -> list[Case]:
        cases: list[Case] = []
        for plan in PLANNERS:
            cases.extend(plan(self, contract, model))
        return cases

    def backend_selected(self, contract: Contract, name: str) -> bool:
        """Whether a backend runs: given an artifact (--tflite, --onnx), named by --backend,
        or (without --backend) listed by the contract."""
        if self.options.artifact(name) is not None:
            return True
        if self.options.backends:
            return name in self.options.backends
        if name == "savedmodel":
            return True
        return contract.format(name) is not None

    # ------------------------------------------------------------------ running
    def execute(self, case: Case) -> list[str]:
        """Run one case: returns notes; raises CheckFailure, HarnessError or Skipped."""
        start = time.perf_counter()
        outcome, message, notes = "passed", "", []
        try:
            notes = case.runner(self, case)
            return notes
        except CheckFailure as exc:
            outcome, message = "failed", str(exc)
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
            result = CaseResult(case, outcome, message, tuple(notes), time.perf_counter() - start)
            self.results.append(result)
            for listener in self.listeners:
                listener(result)

    def model_info(self, ref: ModelRef) -> SavedModelInfo:
        """The static read of a model, once per session (errors are cached and re-raised)."""
        return self.once(("model-info", ref.path), lambda: read_saved_model(ref.path))

    def once(self, key: Hashable, make: Callable[[], T]) -> T:
        """``make()`` once per session for ``key``: its result is kept, and so is the error it
        raised, which is raised again for every later case (a model that cannot load fails
        each of its checks with the same message instead of being loaded again)."""
        if key not in self._once:
            try:
                self._once[key] = make()
            except Exception as exc:  # noqa: BLE001 - remembered, re-raised per case
                self._once[key] = _Raised(exc)
            return cast(T, self._first(key))
        cached = self._once[key]
        if isinstance(cached, _Raised):
            raise remembered(cached.error, key)
        return cast(T, cached)

    def _first(self, key: Hashable) -> Any:
        cached = self._once[key]
        if isinstance(cached, _Raised):
            raise cached.error
        return cached

    def backend(self, name: str, contract: Contract, ref: ModelRef) -> Backend:
        """A loaded backend for (name, model, contract tags), activated once per session."""
        key = ("backend", name, ref.path, ",".join(contract.tags) + "|" + str(contract.path))

        def make() -> Backend:
            cls = BACKENDS.get(name)
            if cls is None:
                raise BackendUnavailable(name, "no such backend is registered")
            return self.activated(cls, contract, ref, lambda: self.make_backend(cls, contract, ref))

        backend = self.once(key, make)
        self._touch(key, backend)
        return backend

    def activated(self, cls: type[Backend], contract: Contract, ref: ModelRef,
                  make: Callable[[], Backend], what: str | None = None) -> Backend:
        """A backend of class ``cls`` made by ``make``, after the availability check and the
        BEFORE_LOAD hooks (the op-policy scan), activated."""
        cls.check_available()
        self.before_load(contract, ref)
        spec = contract.formats.get(cls.name)
        given = self.options.artifact(cls.name) or (spec is not None and spec.options.get("path"))
        doing = "loading" if given and what is None else cls.preparing
        with self.progress.step(f"{what or cls.name}: {doing} {ref.label}"):
            backend = make()
            backend.engine = self
            backend.activate()
        return backend

    def make_backend(self, cls: type[Backend], contract: Contract, ref: ModelRef,
                      **kwargs: Any) -> Backend:
        """The backend itself, or (by default) the same backend in an isolated child process."""
        if self.options.in_process or not cls.isolate:
            return cls(ref, contract, **kwargs)
        from harness.backends import isolation

        return isolation.IsolatedBackend(
            ref, contract, inner=cls.name, options=self.options, kwargs=kwargs,
            call_timeout=self.options.call_timeout or isolation.CALL_TIMEOUT_S,
            memory_limit_mb=self.options.memory_limit or isolation.MEMORY_LIMIT_MB)

    def _touch(self, key: Hashable, backend: Backend) -> None:
        """Keep at most MAX_ACTIVE backends loaded; the least recently used is released
        (it reloads on its next call), so a run over many models stays within memory."""
        self._recent = [k for k in self._recent if k != key] + [key]
        while len(self._recent) > MAX_ACTIVE:
            old = self._once.get(self._recent.pop(0))
            if isinstance(old, Backend):
                old.deactivate()

    def before_load(self, contract: Contract, ref: ModelRef) -> None:
        """Hook run before any loader touches a model (the op-policy scan plugs in here)."""
        for hook in BEFORE_LOAD:
            hook(self, contract, ref)

    def close(self) -> None:
        """Release every backend, then run the closers families registered (servers, containers)."""
        for item in self._once.values():
            if isinstance(item, Backend):
                try:
                    item.deactivate()
                except Exception:  # noqa: BLE001 - closing must not mask results
                    pass
        self._once.clear()
        closers = self.data.pop("closers", [])
        for close in reversed(closers):
            try:
                close()
            except Exception:  # noqa: BLE001 - one failed stop must not skip the others
                pass


#: Modules that register check families (planners, hooks) when imported.
FAMILY_MODULES = (
    "harness.checks.safety",
    "harness.checks.calls",
    "harness.checks.formats",
    "harness.checks.serving",
)


def load_families() -> None:
    import importlib

    for name in FAMILY_MODULES:
        importlib.import_module(name)


#: End-of-run sections families add: fn(engine) -> (title, lines) or None. Front ends print them.
REPORT_SECTIONS: list[Callable[[Engine], "tuple[str, list[str]] | None"]] = []

#: Hooks run before a backend loads a model: (engine, contract, model) -> None or raise.
BEFORE_LOAD: list[Callable[[Engine, Contract, ModelRef], None]] = []


# ---------------------------------------------------------------------- static family


def _run_model_check(engine: Engine, case: Case) -> list[str]:
    info = engine.model_info(case.model)
    return static_checks.STATIC_CHECKS[case.check](case.contract, info)


def _run_signature_check(engine: Engine, case: Case) -> list[str]:
    info = engine.model_info(case.model)
    assert case.signature is not None
    sig = case.contract.signature(case.signature)
    return static_checks.SIGNATURE_CHECKS[case.check](case.contract, sig, info)


@planner
def static_cases(engine: Engine, contract: Contract, model: ModelRef) -> Iterable[Case]:
    for name in static_checks.STATIC_CHECKS:
        yield Case(contract, model, None, name, "static", _run_model_check)
    for sig in contract.signatures:
        for name in static_checks.SIGNATURE_CHECKS:
            yield Case(contract, model, sig.name, name, "static", _run_signature_check)
