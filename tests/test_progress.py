"""Progress is told on the run's event stream; a front end subscribes to write lines."""

from __future__ import annotations

from typing import Any

import pytest

from harness.events import EventStream, StepFinished, StepStarted
from harness.progress import Progress, progress_lines


def test_a_step_emits_started_and_finished_and_lines_follow_from_them() -> None:
    stream = EventStream()
    seen: list[Any] = []
    lines: list[str] = []
    stream.subscribe(seen.append)
    stream.subscribe(progress_lines(lines.append))
    with Progress(stream).step("tflite: loading tiny"):
        stream.emit("another event")  # not a step: no line
    assert seen[0] == StepStarted("tflite: loading tiny")
    assert isinstance(seen[2], StepFinished) and not seen[2].failed
    assert lines[0] == "tflite: loading tiny ..."
    assert lines[1].startswith("tflite: loading tiny: done in ") and lines[1].endswith(" s")
    assert len(lines) == 2


def test_a_failed_step_says_so_and_the_error_goes_on() -> None:
    stream = EventStream()
    lines: list[str] = []
    stream.subscribe(progress_lines(lines.append))
    with pytest.raises(RuntimeError), Progress(stream).step("serving: starting"):
        raise RuntimeError("no server")
    assert lines[0] == "serving: starting ..."
    assert lines[1].startswith("serving: starting: failed after ")


def test_the_run_context_tells_its_own_stream() -> None:
    from harness.context import RunContext

    context = RunContext()
    lines: list[str] = []
    context.events.subscribe(progress_lines(lines.append))
    with context.progress.step("loading"):
        pass
    assert lines[0] == "loading ..." and lines[1].startswith("loading: done in ")
    assert StepFinished("x", 1.25).describe() == "x: done in 1.2 s"
    assert StepFinished("x", 1.25, failed=True).describe() == "x: failed after 1.2 s"
