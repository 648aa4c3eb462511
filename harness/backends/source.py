"""The one way to get a backend: availability, the op-policy gate, isolation, activation.

:func:`open_backend` is what the check families, goldens, ``init``'s probe and calibration
use alike. In order it

1. finds the backend's class in :data:`~harness.backends.base.BACKENDS` and checks that
   its runtime is installed (:class:`~harness.errors.BackendUnavailable` otherwise);
2. runs the op-policy scan (:func:`harness.safety.gate.gate`): a model that breaks the
   policy is refused before any loader touches it;
3. builds the backend with the run context, in an isolated child process unless the run
   is ``--in-process`` or the backend is a client of another process (a model server);
4. activates it (which exports the format, or takes the given artifact).

Each (backend, model, contract, variant) is made once per run and kept; at most
:data:`MAX_ACTIVE` stay loaded, the least recently used is released and reloads on its next
call, so a run over many models stays within memory.
"""

from __future__ import annotations

from typing import Any, Hashable, Mapping

from harness.backends.base import BACKENDS, Backend
from harness.context import RunContext
from harness.contract.model import Contract
from harness.errors import BackendUnavailable, HarnessError
from harness.safety.gate import gate
from harness.savedmodel.layout import ModelRef

#: Loaded backends kept at once (each isolated one is a process holding TensorFlow).
MAX_ACTIVE = 3


def open_backend(context: RunContext, name: str, contract: Contract, ref: ModelRef, *,
                 variant: str | None = None, options: Mapping[str, Any] | None = None
                 ) -> Backend:
    """The activated backend ``name`` for ``ref`` under ``contract``, made once per run.

    ``variant`` names a variant of the format (e.g. ``tflite-int8``) and ``options`` are
    its settings, handed to the backend's constructor.
    """
    key = _key(name, contract, ref, variant)

    def make() -> Backend:
        cls = BACKENDS.get(name)
        if cls is None:
            raise BackendUnavailable(name, "no such backend is registered")
        cls.check_available()
        gate(context, contract, ref)
        spec = contract.formats.get(cls.name)
        given = context.options.artifact(cls.name) or (spec is not None and spec.options.get("path"))
        doing = "loading" if given and variant is None else cls.preparing
        with context.progress.step(f"{variant or cls.name}: {doing} {ref.label}"):
            backend = context.memo.take(("ahead", key)) or build(cls, context, contract, ref,
                                                                 variant=options)
            backend.activate()  # loaded ahead: what is left of its load
        return backend

    backend = context.once(key, make)
    _touch(context, key, backend)
    return backend


def load_ahead(context: RunContext, name: str, contract: Contract, ref: ModelRef
               ) -> Hashable | None:
    """Start loading backend ``name`` for ``ref`` in the background (in its isolated child,
    :meth:`Backend.load_ahead`); :func:`open_backend`, later, takes that backend and waits
    for what is left of its load. After the op-policy gate, as every way to a backend; a
    backend that is not there, a model the gate refuses or that cannot be read, an
    in-process run, a backend made already: nothing starts (the check that opens it says
    why). A backend loaded ahead and never opened is stopped with the run's others.

    Returns the memo key the backend waits under until it is opened (it leaves the memo
    then), or None if nothing started."""
    key = _key(name, contract, ref, None)
    cls = BACKENDS.get(name)
    if cls is None or context.options.in_process or not cls.isolate or key in context.memo \
            or ("ahead", key) in context.memo:
        return None
    try:
        cls.check_available()
        gate(context, contract, ref)
    except (HarnessError, ImportError):
        return None
    backend = context.once(("ahead", key), lambda: build(cls, context, contract, ref))
    backend.load_ahead()
    return ("ahead", key)


def _key(name: str, contract: Contract, ref: ModelRef, variant: str | None) -> Hashable:
    """The run's memo key of one backend (see :func:`open_backend`)."""
    return ("backend", name, variant, ref.path, ",".join(contract.tags) + "|" + str(contract.path))


def build(cls: type[Backend], context: RunContext, contract: Contract, ref: ModelRef, *,
          variant: Mapping[str, Any] | None = None) -> Backend:
    """The backend itself, or (by default) the same backend in an isolated child process.

    Only :func:`open_backend` and :func:`load_ahead` call this, after the gate."""
    kwargs: dict[str, Any] = {"variant": dict(variant)} if variant else {}
    options = context.options
    if options.in_process or not cls.isolate:
        return cls(ref, contract, context, **kwargs)
    from harness.backends import isolation

    return isolation.IsolatedBackend(
        ref, contract, context, inner=cls.name, kwargs=kwargs,
        call_timeout=options.call_timeout or isolation.CALL_TIMEOUT_S,
        memory_limit_mb=options.memory_limit or isolation.MEMORY_LIMIT_MB)


def _touch(context: RunContext, key: Hashable, backend: Backend) -> None:
    recent: list[Hashable] = context.once(("backends-recent",), list)
    recent[:] = [k for k in recent if k != key] + [key]
    while len(recent) > MAX_ACTIVE:
        old = context.memo.get(recent.pop(0))
        if isinstance(old, Backend):
            old.deactivate()


def release_all(context: RunContext) -> None:
    """Deactivate every backend the run made (closing must not mask results)."""
    for item in context.memo.values():
        if isinstance(item, Backend):
            try:
                item.deactivate()
            except Exception:  # noqa: BLE001 - closing must not mask results
                pass
