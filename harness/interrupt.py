"""Ctrl-C that is never lost.

Python raises ``KeyboardInterrupt`` wherever the main thread happens to be when SIGINT
arrives. If that is inside a garbage-collector callback (hypothesis installs one to time the
collector) or a ``__del__``, the exception cannot propagate: Python prints it as "Exception
ignored" and the run goes on as if nobody had pressed Ctrl-C (seen: a 5,000-example run
interrupted during a collection finished and exited 0). The handler installed here remembers
the signal as well as raising it, and :func:`raise_if_interrupted` raises it again at the next
safe point: before every fuzzed call and every case.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

_pressed = threading.Event()


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    _pressed.set()
    raise KeyboardInterrupt


def install() -> None:
    """At the start of a run: forget any earlier Ctrl-C, and handle SIGINT as Python does,
    remembering it. Only where Python's own handler (or this one) is in place: a handler
    someone else installed is left alone; and only from the main thread. The handler stays
    after the run: it behaves as Python's own, and the next run starts by forgetting."""
    _pressed.clear()
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_sigint)


def raise_if_interrupted() -> None:
    """Raise ``KeyboardInterrupt`` if Ctrl-C was pressed, even if it was swallowed."""
    if _pressed.is_set():
        raise KeyboardInterrupt
