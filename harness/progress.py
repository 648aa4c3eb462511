"""Saying what a long step is doing while it does it (converting, loading, starting a server).

The engine owns one :class:`Progress`; the steps that can take seconds (a backend's load,
which for TFLite/ONNX includes the conversion unless the export cache has it, a model
server's start) run inside :meth:`Progress.step`, which tells every listener when the step
starts and how long it took. Front ends subscribe: the pytest plugin writes whole lines
through pytest's terminal reporter, the CLI writes them to stderr.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable, Iterator

Listener = Callable[[str], None]


class Progress:
    """Listeners of step messages (plain text, one line each)."""

    def __init__(self) -> None:
        self.listeners: list[Listener] = []

    def say(self, text: str) -> None:
        for listener in self.listeners:
            listener(text)

    @contextmanager
    def step(self, text: str) -> Iterator[None]:
        """``text ...`` now, then ``text: done in N s`` (or ``failed after N s``)."""
        self.say(f"{text} ...")
        start = time.perf_counter()
        try:
            yield
        except BaseException:
            self.say(f"{text}: failed after {time.perf_counter() - start:.1f} s")
            raise
        self.say(f"{text}: done in {time.perf_counter() - start:.1f} s")
