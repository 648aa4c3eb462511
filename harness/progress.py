"""Saying what a long step is doing while it does it (converting, loading, starting a server).

The steps that can take seconds (a backend's load, which for TFLite/ONNX includes the
conversion unless the export cache has it, a model server's start) run inside
:meth:`Progress.step`, which emits a :class:`~harness.events.StepStarted` when the step
starts and a :class:`~harness.events.StepFinished` (how long it took, whether it failed) when
it ends, on the run's event stream. Front ends subscribe like every other consumer:
:func:`progress_lines` turns those events into the lines a terminal shows (the pytest plugin
writes them through pytest's terminal reporter, the CLI to stderr).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from harness.events import EventStream, StepFinished, StepStarted

Write = Callable[[str], None]


class Progress:
    """Long steps of one run, told on its event stream."""

    def __init__(self, events: EventStream) -> None:
        self.events = events

    @contextmanager
    def step(self, text: str) -> Iterator[None]:
        """``text ...`` now, then ``text: done in N s`` (or ``failed after N s``)."""
        self.events.emit(StepStarted(text))
        start = time.perf_counter()
        try:
            yield
        except BaseException:
            self.events.emit(StepFinished(text, time.perf_counter() - start, failed=True))
            raise
        self.events.emit(StepFinished(text, time.perf_counter() - start))


def progress_lines(write: Write) -> Callable[[Any], None]:
    """A subscriber writing each step event as one line of plain text (other events pass)."""

    def subscriber(event: Any) -> None:
        if isinstance(event, (StepStarted, StepFinished)):
            write(event.describe())

    return subscriber
