"""RunRecord: the run's events kept for the reports (the worst figures per parity row)."""

from __future__ import annotations

from harness.events import EventStream, ParityMeasured, RequestTimed, ServingFinding
from harness.report.record import RunRecord


def measured(max_abs: float, *, passed: bool = True, output: str = "y") -> ParityMeasured:
    return ParityMeasured(
        contract="c", contract_path="/c.json", model="m", model_label="m@1", version=1,
        signature="s", format="tflite", output=output, label="tflite (exported)", exact=False,
        passed=passed, max_abs=max_abs, max_rel=max_abs / 2, atol_to_pass=max_abs,
        rtol_to_pass=0.0, tolerance=(("atol", 1e-4), ("rtol", 0.0), ("statistic", "max")))


def test_parity_rows_keep_the_worst_figures_and_any_failure() -> None:
    events = EventStream()
    record = RunRecord.attach(events)
    for value, passed in ((1e-6, True), (3e-6, False), (2e-6, True)):
        events.emit(measured(value, passed=passed))
    events.emit(measured(5e-7, output="z"))
    [y, z] = record.parity
    assert (y["output"], y["calls"], y["max_abs"], y["passed"]) == ("y", 3, 3e-6, False)
    assert y["samples"] == [1e-6, 3e-6, 2e-6] and y["atol_to_pass"] == 3e-6
    assert y["tolerance"] == {"atol": 1e-4, "rtol": 0.0, "statistic": "max"}
    assert (z["calls"], z["passed"]) == (1, True)


def test_serving_section_from_findings_and_latency() -> None:
    events = EventStream()
    record = RunRecord.attach(events)
    assert record.sections() == []
    finding = ServingFinding("c", "s", "y", "output", "int64-above-2^53", "y can exceed 2^53")
    events.emit(finding)
    events.emit(finding)  # the same finding from a second check is kept once
    events.emit(RequestTimed("REST", 0.004))
    events.emit(RequestTimed("REST", 0.002))
    [(title, lines)] = record.sections()
    assert title == "serving"
    assert lines == ["REST: 2 requests, mean 3.0 ms",
                     "REST fidelity [c::s] int64-above-2^53: y can exceed 2^53"]
