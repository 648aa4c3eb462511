"""One answer for the fleet: every planned case exactly once, as data (JSON) and counts.

:class:`CaseRows` subscribes to a run's event stream and turns each ``CaseFinished`` (and
the ``ParityMeasured`` events of that case) into a row: outcome, seconds, message, worst
parity error. Rows travel to whoever tallies them (in pytest, on the test report, so they
cross xdist workers). :func:`fleet_result` joins the rows with the plan: a planned case
without a row is *crashed* (its process died, or it never ran), so planned = passed +
failed + skipped + crashed always holds. :func:`merge` combines shard results of one plan.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from harness.errors import FleetError
from harness.events import CaseFinished, EventStream, ParityMeasured

if TYPE_CHECKING:  # pragma: no cover - types only
    from harness.checks.case import Case

FORMAT = "model-contract-fleet-result"
VERSION = 1
OUTCOMES = ("passed", "failed", "skipped", "crashed")
#: The fleet table's columns; a case's column is its family, or its format for parity.
COLUMNS = ("static", "safety", "fuzz", "tflite", "onnx", "tfjs", "serving", "lint")
#: the engine's outcomes as the fleet counts them: an error (a model that cannot be read or
#: loaded, a bug) is "crashed", and so is a failure because the backend's process died
#: (``CaseFinished.crashed``, a ``CrashFailure``): the model gave no wrong answer, it gave none
_OUTCOME = {"passed": "passed", "failed": "failed", "skipped": "skipped", "error": "crashed"}
MESSAGE_CHARS = 1200
RESULT_SCHEMA = Path(__file__).resolve().parent / "schema" / "fleet-result-v1.schema.json"


def _short(text: str) -> str:
    """At most MESSAGE_CHARS: its head and its tail (where a dead worker's last words are)."""
    if len(text) <= MESSAGE_CHARS:
        return text
    half = MESSAGE_CHARS // 2
    return text[:half] + " ... " + text[-half:]


class CaseRows:
    """A subscriber: one row per finished case (by case id)."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self._worst: float | None = None

    @classmethod
    def attach(cls, events: EventStream) -> "CaseRows":
        rows = cls()
        events.subscribe(rows)
        return rows

    def __call__(self, event: Any) -> None:
        if isinstance(event, ParityMeasured) and event.max_abs is not None:
            value = math.inf if math.isnan(event.max_abs) else float(event.max_abs)
            self._worst = value if self._worst is None else max(self._worst, value)
        elif isinstance(event, CaseFinished):
            outcome = "crashed" if event.crashed else _OUTCOME.get(event.outcome, "crashed")
            self.rows[event.case.id] = {
                "id": event.case.id, "outcome": outcome, "seconds": round(event.seconds, 4),
                # a passed case's notes (e.g. the lint findings of a model without contract)
                "message": _short(event.message or "\n".join(event.notes)),
                "worst_parity": self._worst}
            self._worst = None


def column_of(case: "Case") -> str:
    """The fleet table column of a case: its format (parity, conformance), or its family."""
    return case.format if case.format is not None else case.family


def crashed_row(case_id: str, message: str) -> dict[str, Any]:
    return {"id": case_id, "outcome": "crashed", "seconds": 0.0, "message": _short(message),
            "worst_parity": None}


def deselected_row(case_id: str) -> dict[str, Any]:
    return {"id": case_id, "outcome": "skipped", "seconds": 0.0,
            "message": "deselected (-k or -m): not run", "worst_parity": None}


def fleet_result(plan: Any, rows: Mapping[str, dict[str, Any]],
                 reports: Mapping[str, str] | None = None,
                 runtime: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The fleet result of a plan (:class:`harness.fleet.plan.FleetPlan`) and its rows
    (``runtime``: per model, where an executor ran it, e.g. the TensorFlow of its Ray task)."""
    models = []
    for model in plan.models:
        cases = []
        for case in model.cases:
            row = dict(rows.get(case.id) or crashed_row(
                case.id, "no result: the process running it died or it never ran"))
            row.update(column=column_of(case), version=case.model.version,
                       labels=model.labels_of(case.model.version))
            cases.append(row)
        models.append({"name": model.name,
                       "contract": str(model.contract) if model.contract else None,
                       "versions": list(model.versions), "problem": model.problem,
                       "labels": dict(model.labels),
                       "formats": list(model.formats) if model.formats is not None else None,
                       "runtime": dict((runtime or {})[model.name]) if model.name in (runtime or {})
                       else None,
                       "report": (reports or {}).get(model.name), "cases": cases})
    return finish({
        "format": FORMAT, "version": VERSION,
        "plan": {"id": plan.id, "fleet": plan.fleet.name, "source": str(plan.fleet.path),
                 "shard": [plan.shard.index, plan.shard.count] if plan.shard else None,
                 "models": len(plan.models), "cases": plan.cases,
                 "conversions": plan.conversions},
        "fleet_models": {name: {"shard": s, "cases": n} for name, (s, n) in plan.shards.items()},
        "models": models})


def finish(result: dict[str, Any]) -> dict[str, Any]:
    """Add the totals and the per-model table; check planned = the four outcomes."""
    totals = dict.fromkeys(OUTCOMES, 0)
    for model in result["models"]:
        table: dict[str, dict[str, Any]] = {}
        for row in model["cases"]:
            totals[row["outcome"]] += 1
            cell = table.setdefault(row["column"], {**dict.fromkeys(OUTCOMES, 0),
                                                    "seconds": 0.0, "worst_parity": None})
            cell[row["outcome"]] += 1
            cell["seconds"] = round(cell["seconds"] + row["seconds"], 4)
            if row["worst_parity"] is not None:
                cell["worst_parity"] = max(cell["worst_parity"] or 0.0, row["worst_parity"])
        model["table"] = table
    planned = sum(len(m["cases"]) for m in result["models"])
    assert planned == sum(totals.values())
    result["labels"] = by_label(result["models"])
    result["totals"] = {"planned": planned, **totals,
                        "models_without_contract": sum(
                            1 for m in result["models"] if m["contract"] is None),
                        "models_with_problem": sum(1 for m in result["models"] if m["problem"])}
    return result


def by_label(models: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Per version label (e.g. ``stable``): the outcomes of the cases of the versions it names."""
    labels: dict[str, dict[str, int]] = {}
    for model in models:
        for row in model["cases"]:
            for label in row.get("labels") or ():
                counts = labels.setdefault(label, dict.fromkeys(OUTCOMES, 0))
                counts[row["outcome"]] += 1
    return {k: labels[k] for k in sorted(labels)}


def accounting(result: Mapping[str, Any]) -> str:
    t = result["totals"]
    return (f"planned {t['planned']} = passed {t['passed']} + failed {t['failed']} + "
            f"skipped {t['skipped']} + crashed {t['crashed']}")


def verdict_ok(result: Mapping[str, Any]) -> bool:
    t = result["totals"]
    return not (t["failed"] or t["crashed"] or t["models_with_problem"] - t["models_without_contract"])


def merge(paths: Iterable[Path]) -> tuple[dict[str, Any], list[str]]:
    """Combine shard results of one plan; returns the result and notes on unreadable shards.

    A shard file that cannot be read (truncated, not a fleet result) is reported, and the
    cases its models planned (known from any other shard's plan) count as crashed. Shards of
    different plans are refused.
    """
    notes: list[str] = []
    results: list[tuple[Path, dict[str, Any]]] = []
    for path in paths:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise ValueError("not a model-contract fleet result")
            results.append((Path(path), data))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            reason = (f"not valid JSON (truncated?): {exc.msg} at line {exc.lineno} column "
                      f"{exc.colno}" if isinstance(exc, json.JSONDecodeError) else str(exc))
            notes.append(f"{path}: unreadable shard result: {reason}")
    if not results:
        raise FleetError("no readable shard result to merge", hint="; ".join(notes) or None)
    first_path, first = results[0]
    for path, data in results[1:]:
        if data["plan"]["id"] != first["plan"]["id"]:
            raise FleetError(f"shards of different fleet plans: {first_path} has plan "
                             f"{first['plan']['id']}, {path} has plan {data['plan']['id']}",
                             file=path, hint="merge the shard results of one fleet run "
                             "(same fleet, contracts and --shard N)")
    fleet_models: dict[str, Any] = first["fleet_models"]
    models: dict[str, dict[str, Any]] = {}
    seen_shards: set[int] = set()
    for path, data in results:
        shard = data["plan"].get("shard")
        if shard is not None:
            if shard[0] in seen_shards:
                raise FleetError(f"shard {shard[0]}/{shard[1]} is given twice", file=path)
            seen_shards.add(shard[0])
        for model in data["models"]:
            models[model["name"]] = model
    for name, info in sorted(fleet_models.items()):
        if name in models:
            continue
        notes.append(f"model {name}: no shard result (shard {info['shard']} missing or "
                     f"unreadable); its {info['cases']} planned cases count as crashed")
        models[name] = {"name": name, "contract": None, "versions": [], "report": None,
                        "problem": f"shard {info['shard']}'s result is missing or unreadable",
                        "cases": [{**crashed_row(f"{name}#{i}", f"shard {info['shard']}'s "
                                                 "result is missing or unreadable"),
                                   "column": "unknown", "version": None}
                                  for i in range(info["cases"])]}
    ordered = [models[n] for n in fleet_models if n in models]
    plan = dict(first["plan"], shard=None, models=len(ordered),
                cases=sum(i["cases"] for i in fleet_models.values()))
    return finish({"format": FORMAT, "version": VERSION, "plan": plan,
                   "fleet_models": fleet_models, "models": ordered}), notes
