"""The run context: everything a backend or a check is given when it is built.

One frozen :class:`RunContext` per run (and one per backend child process, made from the
same options): the run's options (and so the results folder, the policy's extra allowed
ops, given artifacts), the event stream results go to, the session memo (model reads, scan
reports, loaded backends, the export cache, server endpoints, each made once) and the
closers that stop what the run started. Backends and checks receive it; none of them
holds the engine, and the engine is only the planner and executor above them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Hashable, TypeVar, cast

from harness.errors import BackendUnavailable, HarnessError
from harness.events import EventStream
from harness.options import RunOptions
from harness.progress import Progress

if TYPE_CHECKING:  # pragma: no cover - types only
    from harness.contract.model import Contract
    from harness.savedmodel.layout import ModelRef
    from harness.savedmodel.reader import SavedModelInfo

T = TypeVar("T")


@dataclass(frozen=True)
class _Raised:
    """An error kept by :meth:`Memo.once` to raise again."""

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


class Memo:
    """'Make once, remember the result or the error' for one run."""

    def __init__(self) -> None:
        self._items: dict[Hashable, Any] = {}

    def once(self, key: Hashable, make: Callable[[], T]) -> T:
        """``make()`` once per run for ``key``: its result is kept, and so is the error it
        raised, which is raised again for every later case (a model that cannot load fails
        each of its checks with the same message instead of being loaded again)."""
        if key not in self._items:
            try:
                self._items[key] = make()
            except Exception as exc:  # noqa: BLE001 - remembered, re-raised per case
                self._items[key] = _Raised(exc)
                raise
            return cast(T, self._items[key])
        cached = self._items[key]
        if isinstance(cached, _Raised):
            raise remembered(cached.error, key)
        return cast(T, cached)

    def get(self, key: Hashable) -> Any:
        item = self._items.get(key)
        return None if isinstance(item, _Raised) else item

    def take(self, key: Hashable) -> Any:
        """The item kept for ``key``, no longer kept (None if there is none, or an error)."""
        item = self._items.pop(key, None)
        return None if isinstance(item, _Raised) else item

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def values(self) -> list[Any]:
        return [v for v in self._items.values() if not isinstance(v, _Raised)]

    def clear(self) -> None:
        self._items.clear()


class Closers:
    """What the run started and must stop at its end (servers, containers), last first."""

    def __init__(self) -> None:
        self._items: list[Callable[[], None]] = []

    def add(self, close: Callable[[], None]) -> None:
        self._items.append(close)

    def close_all(self) -> None:
        while self._items:
            close = self._items.pop()
            try:
                close()
            except Exception:  # noqa: BLE001 - one failed stop must not skip the others
                pass


@dataclass(frozen=True)
class RunContext:
    """Options, events, memo and closers of one run; frozen, handed to whatever needs them."""

    options: RunOptions = field(default_factory=RunOptions)
    events: EventStream = field(default_factory=EventStream, compare=False)
    memo: Memo = field(default_factory=Memo, compare=False, repr=False)
    closers: Closers = field(default_factory=Closers, compare=False, repr=False)

    @property
    def progress(self) -> Progress:
        """Long steps (loading, converting, starting a server), told on :attr:`events`."""
        return Progress(self.events)

    @property
    def results_dir(self) -> Path:
        return Path(self.options.results_dir)

    def once(self, key: Hashable, make: Callable[[], T]) -> T:
        return self.memo.once(key, make)

    def model_info(self, ref: "ModelRef") -> "SavedModelInfo":
        """The static read of a model (saved_model.pb), once per run."""
        from harness.savedmodel.reader import read_saved_model

        return self.once(("model-info", ref.path), lambda: read_saved_model(ref.path))

    def models_of(self, contract: "Contract") -> "list[ModelRef]":
        """The model versions a run checks: ``--model`` or the contract's ``models``."""
        from harness.errors import ModelError
        from harness.savedmodel.layout import CONTRACT_MODELS_HINT, resolve_model

        paths = self.options.models or contract.models
        if not paths:
            raise ModelError("the contract names no models and no --model was given",
                             file=contract.path, place="/models")
        hint = None if self.options.models else CONTRACT_MODELS_HINT  # --model: the user's path
        refs: list[ModelRef] = []
        for path in paths:
            refs.extend(resolve_model(path, hint=hint))
        return refs

    def backend_selected(self, contract: "Contract", name: str) -> bool:
        """Whether a backend runs: given an artifact (--tflite, --onnx), named by --backend,
        or (without --backend) listed by the contract."""
        if self.options.artifact(name) is not None:
            return True
        if self.options.backends:
            return name in self.options.backends
        if name == "savedmodel":
            return True
        return contract.format(name) is not None
