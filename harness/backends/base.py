"""The one interface every backend shares: activate / infer / deactivate.

The base class does the common work: it checks inputs against the contract before a
call, times every call, wraps a backend's own exceptions into :class:`InferenceError`,
and converts outputs to numpy. A backend implements only the ``*_impl`` hooks and what
is particular to its format.

Backends are registered in :data:`BACKENDS` with :func:`register`; TensorFlow,
onnxruntime and LiteRT are imported lazily inside the hooks.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping, Sequence, TypeVar

import numpy as np

from harness.checks.conformance import dtype_name
from harness.context import RunContext
from harness.contract.model import Contract, SignatureSpec
from harness.errors import HarnessError
from harness.interface.model import SignatureInterface
from harness.registry import Registry
from harness.savedmodel.layout import ModelRef

if TYPE_CHECKING:  # pragma: no cover - types only
    from harness.backends.names import Resolution


class InferenceError(Exception):
    """A backend refused or failed a call (wrong input, runtime error); carries its message."""

    def __init__(self, backend: str, signature: str, message: str) -> None:
        self.backend = backend
        self.signature = signature
        self.message = message
        super().__init__(f"{backend} refused or failed the call to {signature!r}: {message}")


@dataclass
class CallStats:
    calls: int = 0
    seconds: float = 0.0
    per_signature: dict[str, int] = field(default_factory=dict)


class Backend(ABC):
    """A way to run a model: the SavedModel itself, a TFLite or ONNX export, a server."""

    #: registry key and the name used in test ids and reports
    name: ClassVar[str] = ""
    #: how to install what this backend needs (shown when it is unavailable)
    install: ClassVar[str | None] = None
    #: run in a child process by default (a crash or hang then fails a check, not the run)
    isolate: ClassVar[bool] = True
    #: what activation does, for progress lines ("loading", "converting and loading")
    preparing: ClassVar[str] = "loading"

    def __init__(self, model: ModelRef, contract: Contract,
                 context: RunContext | None = None) -> None:
        self.model = model
        self.contract = contract
        #: the run's options, export cache and events (a fresh default run when not given)
        self.context = context if context is not None else RunContext()
        self.active = False
        self.stats = CallStats()
        self.activate_seconds = 0.0

    # ----------------------------------------------------------------- public API
    @classmethod
    def check_available(cls) -> None:
        """Raise :class:`BackendUnavailable` when this backend cannot run here."""

    def activate(self) -> None:
        if self.active:
            return
        start = time.perf_counter()
        self.activate_impl()
        self.activate_seconds = time.perf_counter() - start
        self.active = True

    def deactivate(self) -> None:
        if self.active:
            self.deactivate_impl()
            self.active = False

    def infer(self, signature: str, inputs: Mapping[str, np.ndarray], *,
              check_inputs: bool = True) -> dict[str, np.ndarray]:
        """Run ``signature`` on named inputs; returns outputs by the contract's names.

        With ``check_inputs`` the inputs are checked against the contract first (names,
        dtypes), so a harness bug cannot pass as a model result; the rejection check turns
        it off to send deliberately wrong inputs.
        """
        if not self.active:
            self.activate()
        spec = self.contract.signature(signature)
        if check_inputs:
            self._check_inputs(spec, inputs)
        start = time.perf_counter()
        try:
            outputs = self.infer_impl(spec, inputs)
        except (HarnessError, AssertionError, InferenceError):
            raise
        except Exception as exc:  # noqa: BLE001 - the backend's own error is the result
            raise InferenceError(self.label, signature, _one_line(exc)) from exc
        finally:
            self.stats.calls += 1
            self.stats.seconds += time.perf_counter() - start
            self.stats.per_signature[signature] = self.stats.per_signature.get(signature, 0) + 1
        return {k: np.asarray(v) if not isinstance(v, np.ndarray) else v for k, v in outputs.items()}

    def infer_ahead(self, signature: str, batch: Sequence[Mapping[str, np.ndarray]]) -> None:
        """Answer these calls of ``signature`` now, before :meth:`infer` asks for each (with
        the same inputs object, in any order): an isolated backend answers a batch in one
        round trip to its child. Each answer is used once; the next batch drops what was
        not asked for. The default does nothing: each call runs when it is asked."""

    def load_ahead(self) -> None:
        """Start loading the model in the background, so that the first call finds it
        loaded (or loading); only after the op-policy gate (see
        :func:`harness.backends.source.load_ahead`). An isolated backend asks its child; the
        default does nothing: :meth:`activate` loads it when the first call needs it."""

    @property
    def label(self) -> str:
        """What ran, for messages and reports (e.g. ``savedmodel (tf.saved_model.load)``)."""
        return self.name

    def describe(self) -> str:
        return self.label

    # ----------------------------------------------------------------- hooks
    @abstractmethod
    def activate_impl(self) -> None:
        """Load the model (and export/convert it if the format needs that)."""

    @abstractmethod
    def infer_impl(self, signature: SignatureSpec, inputs: Mapping[str, np.ndarray]
                   ) -> Mapping[str, Any]:
        """Run one call; return outputs keyed by the contract's output names."""

    def deactivate_impl(self) -> None:
        """Release resources; the default does nothing."""

    def signatures_impl(self) -> Mapping[str, SignatureInterface]:
        """The signatures as this format declares them, under its own names (for name
        mapping and conformance); default: none known."""
        return {}

    def resolution(self, spec: SignatureSpec) -> "Resolution":
        """The contract's names of ``spec`` in this format (converted formats rename them)."""
        raise HarnessError(f"{self.label} keeps the contract's names; nothing to resolve "
                           f"for signature {spec.name!r}")

    def known_defects(self) -> list[str]:
        """Known causes of wrong numbers this artifact shows (e.g. a converter defect),
        each with the export step to change; shown with a failed comparison. Default: none."""
        return []

    # ----------------------------------------------------------------- helpers
    def _check_inputs(self, spec: SignatureSpec, inputs: Mapping[str, np.ndarray]) -> None:
        declared = {t.name: t for t in spec.inputs}
        missing = sorted(set(declared) - set(inputs))
        extra = sorted(set(inputs) - set(declared))
        if missing or extra:
            raise HarnessError(
                f"inputs for signature {spec.name!r} do not match the contract "
                f"(missing {missing}, unexpected {extra})", file=self.contract.path)
        for name, value in inputs.items():
            want = declared[name].dtype
            have = dtype_name(value)
            if have != want:
                raise HarnessError(
                    f"input {name!r} of signature {spec.name!r} is {have}, contract says {want}",
                    file=self.contract.path, place=declared[name].pointer)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    lines = [ln for ln in text.splitlines() if ln.strip()]
    head = lines[0] if lines else text
    return f"{type(exc).__name__}: {head[:500]}"


B = TypeVar("B", bound=type[Backend])

#: backend name -> class
BACKENDS: Registry[type[Backend]] = Registry("backend")


def register(cls: B) -> B:
    """Class decorator adding a backend to :data:`BACKENDS` under ``cls.name``."""
    assert cls.name, cls
    BACKENDS.add(cls.name, cls)
    return cls


BackendFactory = Callable[[ModelRef, Contract], Backend]
