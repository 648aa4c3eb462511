"""The run report as plain data: what ran, on which models, with which results and figures.

Built from the results of the cases (:func:`case_record`: plain data, so pytest-xdist
workers can send them to the controller) and a :class:`~harness.report.record.RunRecord`
(the parity matrix and the findings the run's events carried); written as JSON and
rendered as a terminal table (:mod:`.terminal`) and a self-contained HTML page (:mod:`.html`).
"""

from __future__ import annotations

import datetime as _dt
import math
import platform
import sys
from typing import Any, Iterable, Mapping

from harness.events import CaseResult
from harness.report.place import place_of
from harness.report.record import RunRecord


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for module, name in (("tensorflow", "tensorflow"), ("onnxruntime", "onnxruntime"),
                         ("tf2onnx", "tf2onnx"), ("ai_edge_litert", "ai-edge-litert"),
                         ("hypothesis", "hypothesis")):
        mod = sys.modules.get(module)
        version = getattr(mod, "__version__", None) if mod else None
        if version:
            out[name] = str(version)
    return out


def _clean(value: Any) -> Any:
    """JSON-safe: infinities and NaN as strings, tuples as lists, private keys dropped."""
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def result_row(result: CaseResult) -> dict[str, Any]:
    case = result.case
    return {
        "id": case.id,
        "contract": case.contract.name,
        "contract_path": str(case.contract.path),
        "model": case.model.label,
        "model_path": str(case.model.path),
        "signature": case.signature,
        "check": case.check,
        "family": case.family,
        "pointer": place_of(result),
        "outcome": result.outcome,
        "message": result.message,
        "notes": list(result.notes),
        "seconds": round(result.seconds, 4),
        "replay": result.replay,
    }


def case_record(result: CaseResult) -> dict[str, Any]:
    """One case's result with what the report says of its contract and model, as plain
    data (it crosses from a pytest-xdist worker to the controller)."""
    c, m = result.case.contract, result.case.model
    return {
        "result": result_row(result),
        "contract": {"name": c.name, "version": c.version, "description": c.description,
                     "path": str(c.path), "signatures": [s.name for s in c.signatures],
                     "formats": sorted(k for k in c.formats if c.format(k))},
        "model": {"label": m.label, "path": str(m.path), "base": str(m.base),
                  "version": m.version, "contract": c.name},
    }


def build_report(record: RunRecord) -> dict[str, Any]:
    """The report of the cases a run finished, with the figures its events carried."""
    return report_from([case_record(r) for r in record.results], record)


def report_from(records: Iterable[Mapping[str, Any]], record: RunRecord) -> dict[str, Any]:
    """The report of ``records`` (from :func:`case_record`, in the order the cases finished)
    and the run's figures in ``record`` (parity rows, findings)."""
    records = list(records)
    results = [dict(r["result"]) for r in records]
    contracts: dict[str, Any] = {}
    models: dict[str, Any] = {}
    for r in records:
        contracts.setdefault(r["contract"]["path"], r["contract"])
        models.setdefault(r["model"]["path"], r["model"])
    counts: dict[str, int] = {}
    for row in results:
        counts[row["outcome"]] = counts.get(row["outcome"], 0) + 1
    return _clean({
        "tool": "model-contract",
        "generated": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": _versions(),
        "platform": platform.platform(),
        "counts": counts,
        "contracts": list(contracts.values()),
        "models": list(models.values()),
        "results": results,
        "parity": list(record.parity),
        "findings": list(record.findings) + list(record.model_findings),
    })
