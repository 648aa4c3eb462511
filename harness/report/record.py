"""The run as the reports see it: a subscriber that keeps what the events said.

:class:`RunRecord` subscribes to a run's :class:`~harness.events.EventStream` and keeps
the finished cases, the parity matrix (one row per model, signature, format and output,
with the worst figures over all calls), the REST and TF.js fidelity findings, the servers started,
request latencies and REST-vs-gRPC differences. The terminal summary, the JSON/HTML report
and calibration read it; none of them reads the engine.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from harness.events import (
    CaseFinished,
    EventStream,
    ModelFinding,
    ParityMeasured,
    RequestTimed,
    RestGrpcCompared,
    ServerStarted,
    ServingFinding,
    TfjsFinding,
)

#: Per-call errors kept per parity row, for the report's distribution plot.
MAX_SAMPLES = 500


def _finite_or_inf(value: float | None) -> float:
    return math.inf if value is None or math.isnan(value) else float(value)


class RunRecord:
    """What a run's events said, kept for the reports (subscribe with :meth:`attach`)."""

    def __init__(self) -> None:
        self.results: list[CaseFinished] = []
        self.parity: list[dict[str, Any]] = []
        self._parity_rows: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.findings: list[dict[str, str]] = []
        self.server_starts: list[dict[str, Any]] = []
        #: protocol -> [requests, seconds]
        self.latency: dict[str, list[float]] = {}
        self.rest_vs_grpc: list[dict[str, Any]] = []
        #: findings of the checks that are not failures (e.g. ranks a signature does not enforce)
        self.model_findings: list[dict[str, str]] = []

    @classmethod
    def attach(cls, events: EventStream) -> "RunRecord":
        record = cls()
        events.subscribe(record)
        return record

    def __call__(self, event: Any) -> None:
        if isinstance(event, CaseFinished):
            self.results.append(event)
        elif isinstance(event, ParityMeasured):
            self._measured(event)
        elif isinstance(event, (ServingFinding, TfjsFinding)):
            row = event.as_dict()
            if row not in self.findings:
                self.findings.append(row)
        elif isinstance(event, ModelFinding):
            row = event.as_dict()
            if row not in self.model_findings:
                self.model_findings.append(row)
        elif isinstance(event, ServerStarted):
            self.server_starts.append(event.as_dict())
        elif isinstance(event, RequestTimed):
            stats = self.latency.setdefault(event.protocol, [0, 0.0])
            stats[0] += 1
            stats[1] += event.seconds
        elif isinstance(event, RestGrpcCompared):
            self.rest_vs_grpc.append({"contract": event.contract, "model": event.model,
                                      "signature": event.signature, "calls": event.calls,
                                      "max_abs": event.max_abs})

    def _measured(self, m: ParityMeasured) -> None:
        row = self._parity_rows.get(m.key)
        if row is None:
            row = {"contract": m.contract, "model": m.model, "version": m.version,
                   "signature": m.signature, "format": m.format, "output": m.output,
                   "label": m.label, "calls": 0, "max_abs": 0.0, "max_rel": 0.0,
                   "passed": True, "judged": m.judged,
                   "tolerance": None if m.tolerance is None else dict(m.tolerance),
                   "exact": m.exact, "atol_to_pass": 0.0 if not m.exact else None,
                   "rtol_to_pass": 0.0 if not m.exact else None}
            self._parity_rows[m.key] = row
            self.parity.append(row)
        row["calls"] += m.calls
        samples = row.setdefault("samples", [])
        if len(samples) < MAX_SAMPLES:
            samples.append(_finite_or_inf(m.max_abs))
        row["max_abs"] = max(row["max_abs"], _finite_or_inf(m.max_abs))
        row["max_rel"] = max(row["max_rel"], _finite_or_inf(m.max_rel))
        if not m.exact:
            row["atol_to_pass"] = max(row["atol_to_pass"] or 0.0, _finite_or_inf(m.atol_to_pass))
            row["rtol_to_pass"] = max(row["rtol_to_pass"] or 0.0, _finite_or_inf(m.rtol_to_pass))
        if m.nan_mismatch:
            row["nan_mismatch"] = m.nan_mismatch
        if m.top1 is not None:
            row["top1_agreement"] = m.top1
            row["top1_required"] = m.top1_required
        if m.judged:
            passed = m.passed if m.top1 is None else m.top1 >= (m.top1_required or 0.0)
            row["passed"] = bool(row["passed"] and passed)

    # ------------------------------------------------------------- pytest-xdist
    def shareable(self) -> dict[str, Any]:
        """This process's figures as plain data, for the controller of a pytest-xdist run
        (the finished cases travel on their test reports)."""
        from harness.report.shared import shareable

        return shareable(self._figures())

    def merge(self, incoming: Mapping[str, Any]) -> None:
        """Add a worker's :meth:`shareable` figures (each parity row belongs to one case, and
        a case runs in one worker: rows are added, findings kept once, latencies summed)."""
        from harness.report.shared import merge_into

        figures = self._figures()
        merge_into(figures, incoming)
        self.parity = list(figures.get("parity", []))
        self._parity_rows = {}
        self.findings = list(figures.get("serving_findings", []))
        self.server_starts = list(figures.get("serving_starts", []))
        self.rest_vs_grpc = list(figures.get("serving_rest_vs_grpc", []))
        self.latency = dict(figures.get("serving_latency", {}))
        self.model_findings = list(figures.get("findings", []))

    def _figures(self) -> dict[str, Any]:
        return {"parity": self.parity, "serving_findings": self.findings,
                "serving_starts": self.server_starts, "serving_rest_vs_grpc": self.rest_vs_grpc,
                "serving_latency": self.latency, "findings": self.model_findings}

    def serving_summary(self) -> tuple[str, list[str]] | None:
        """End-of-run section: server starts, latency, REST fidelity findings."""
        rest = [row for row in self.findings if row.get("format", "serving") == "serving"]
        if not (rest or self.server_starts or self.latency):
            return None
        lines = []
        for start in self.server_starts:
            lines.append(f"{start['label']}: model {start['model']!r} versions "
                         f"{start['versions']} AVAILABLE after {start['seconds']:.1f} s")
        for protocol, (count, seconds) in sorted(self.latency.items()):
            if count:
                lines.append(f"{protocol}: {count} requests, mean {1000 * seconds / count:.1f} ms")
        for row in rest:
            lines.append(f"REST fidelity [{row['contract']}::{row['signature']}] "
                         f"{row['kind']}: {row['message']}")
        return "serving", lines

    def tfjs_summary(self) -> tuple[str, list[str]] | None:
        """End-of-run section: the TF.js fidelity findings."""
        lines = [f"TF.js fidelity [{row['contract']}::{row['signature']}] {row['kind']}: "
                 f"{row['message']}" for row in self.findings if row.get("format") == "tfjs"]
        return ("tfjs", lines) if lines else None

    def sections(self) -> list[tuple[str, list[str]]]:
        """The end-of-run sections the front ends print (after the notes)."""
        return [s for s in (self.serving_summary(), self.tfjs_summary()) if s is not None]
