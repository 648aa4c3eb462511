"""Ctrl-C is never lost (harness/interrupt.py).

A SIGINT that lands while a garbage-collector callback runs (hypothesis installs one) raises
KeyboardInterrupt inside the callback, where Python can only print it as "Exception ignored";
the run would go on as if nobody had pressed Ctrl-C (a 5,000-example run did, and exited 0).
The harness remembers the signal and raises it again before the next fuzzed call or case.
"""

from __future__ import annotations

import gc
import os
import signal
from typing import Any

import pytest

from harness import interrupt


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_ctrl_c_swallowed_in_a_gc_callback_is_raised_at_the_next_safe_point() -> None:
    interrupt.install()
    assert signal.getsignal(signal.SIGINT) is interrupt._on_sigint
    fired: list[str] = []

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start" and not fired:
            fired.append(phase)
            os.kill(os.getpid(), signal.SIGINT)
            sum(range(1000))  # Python code after the signal: the handler runs here

    gc.callbacks.append(callback)
    try:
        gc.collect()  # the KeyboardInterrupt is raised in the callback and swallowed by Python
    finally:
        gc.callbacks.remove(callback)
    assert fired  # we got here: Python lost the interrupt ...
    with pytest.raises(KeyboardInterrupt):  # ... the harness did not
        interrupt.raise_if_interrupted()
    interrupt.install()  # a new run forgets it
    interrupt.raise_if_interrupted()


def test_a_handler_someone_else_installed_is_left_alone() -> None:
    def theirs(signum: int, frame: Any) -> None:
        pass

    previous = signal.signal(signal.SIGINT, theirs)
    try:
        interrupt.install()
        assert signal.getsignal(signal.SIGINT) is theirs
    finally:
        signal.signal(signal.SIGINT, previous)
