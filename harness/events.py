"""What a run tells its listeners: typed events on one stream.

Checks and servers *emit* events; the terminal summary, the JSON/HTML report, calibration
(and any later consumer, such as a fleet layer) *subscribe*. Nothing is shared through a
mutable dictionary: an event is a frozen record of one fact, and each subscriber keeps the
view of the run it needs (:class:`harness.report.record.RunRecord` is the one the front ends
use).

Pure data: no TensorFlow, no backend, no engine.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Callable, Union

if TYPE_CHECKING:  # pragma: no cover - types only
    from harness.checks.case import Case


@dataclass(frozen=True)
class CaseFinished:
    """One case ran: its outcome, message, notes and (for a fuzzed failure) its replay command."""

    case: "Case"
    outcome: str  # passed | failed | skipped | error
    message: str
    notes: tuple[str, ...]
    seconds: float
    #: the command that replays the saved failing example, when the check saved one
    replay: str | None = None
    #: a failure because the backend's process died (a ``CrashFailure``), not a wrong answer
    crashed: bool = False


#: The name the front ends and reports have always used for a finished case.
CaseResult = CaseFinished


@dataclass(frozen=True)
class ParityMeasured:
    """One comparison of a format's outputs with the SavedModel's, for one output and call."""

    contract: str
    contract_path: str
    model: str  # model base name
    model_label: str  # e.g. classifier@1
    version: int | None
    signature: str | None
    format: str  # tflite, onnx, serving-rest, ... (the variant's check name for variants)
    output: str
    label: str  # what ran, e.g. "tflite (exported: ...; cached)"
    exact: bool
    passed: bool
    max_abs: float | None
    max_rel: float | None
    atol_to_pass: float | None
    rtol_to_pass: float | None
    nan_mismatch: str | None = None
    #: the tolerance it was judged by ({"atol", "rtol", "statistic"}), None for exact or unjudged
    tolerance: tuple[tuple[str, Any], ...] | None = None
    judged: bool = True
    top1: float | None = None
    top1_required: float | None = None
    #: how many calls of the format this comparison covers (a quantized variant: its batches)
    calls: int = 1

    @property
    def key(self) -> tuple[Any, ...]:
        """What the parity matrix keeps one row for (the worst figures over all calls)."""
        return (self.model_label, self.signature, self.format, self.output, self.contract_path)


@dataclass(frozen=True)
class ServingFinding:
    """A REST fidelity finding: what a client loses when it calls a signature over JSON."""

    contract: str
    signature: str
    tensor: str
    side: str  # input | output
    kind: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    def describe(self) -> str:
        return f"REST fidelity ({self.kind}): {self.message}"


@dataclass(frozen=True)
class TfjsFinding:
    """A TF.js fidelity finding: what a signature loses when it runs in TensorFlow.js."""

    contract: str
    signature: str
    tensor: str
    side: str  # input | output | op
    kind: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {**asdict(self), "format": "tfjs"}

    def describe(self) -> str:
        return f"TF.js fidelity ({self.kind}): {self.message}"


@dataclass(frozen=True)
class ModelFinding:
    """Something a check saw that is worth reporting but not a failure (e.g. a signature that
    answers inputs of the wrong rank: its declared ranks are not enforced)."""

    contract: str
    model: str
    signature: str
    tensor: str
    kind: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class ServerStarted:
    """The run started a model server (a binary or a container) and it became AVAILABLE."""

    label: str
    model: str
    versions: tuple[int, ...]
    seconds: float
    rest_url: str | None
    grpc_target: str | None

    def as_dict(self) -> dict[str, Any]:
        row = asdict(self)
        row["versions"] = list(self.versions)
        return row


@dataclass(frozen=True)
class RequestTimed:
    """One request to a model server over ``protocol`` (REST or gRPC) took ``seconds``."""

    protocol: str
    seconds: float


@dataclass(frozen=True)
class RestGrpcCompared:
    """The same calls over REST and gRPC: the largest absolute difference seen."""

    contract: str
    model: str
    signature: str
    calls: int
    max_abs: float


@dataclass(frozen=True)
class StepStarted:
    """A long step (a load, a conversion, a server's start) began."""

    text: str

    def describe(self) -> str:
        return f"{self.text} ..."


@dataclass(frozen=True)
class StepFinished:
    """A long step ended after ``seconds``, done or ``failed``."""

    text: str
    seconds: float
    failed: bool = False

    def describe(self) -> str:
        if self.failed:
            return f"{self.text}: failed after {self.seconds:.1f} s"
        return f"{self.text}: done in {self.seconds:.1f} s"


Event = Union[CaseFinished, ParityMeasured, ServingFinding, TfjsFinding, ModelFinding,
              ServerStarted, RequestTimed, RestGrpcCompared, StepStarted, StepFinished]
Subscriber = Callable[[Any], None]


class EventStream:
    """Emit events to every subscriber, in the order they subscribed."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Subscriber:
        self._subscribers.append(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        if subscriber in self._subscribers:
            self._subscribers.remove(subscriber)

    def emit(self, event: Event) -> None:
        for subscriber in list(self._subscribers):
            subscriber(event)
