"""Run the serving family of one contract through the engine, in process."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.engine import Engine, Skipped
from harness.errors import BackendUnavailable, CheckFailure
from harness.options import RunOptions
from harness.report.record import RunRecord

#: where run_serving writes failing examples and reports: the running test's tmp_path
#: (pushed by the autouse fixture in tests/serving/conftest.py).
RESULTS: list[Path] = []


@dataclass(frozen=True)
class Outcome:
    outcome: str
    message: str
    notes: tuple[str, ...]


def run_serving(contract: Path, *, checks: tuple[str, ...] | None = None, examples: int = 2,
                **options: Any) -> tuple[dict[str, Outcome], RunRecord]:
    """{case id: outcome} of every serving case (closing every server it started), and what
    the run's events said."""
    options.setdefault("results_dir", RESULTS[-1])
    engine = Engine(RunOptions(contracts=(contract,), backends=("serving",), examples=examples,
                               in_process=True, **options))
    record = RunRecord.attach(engine.context.events)
    out: dict[str, Outcome] = {}
    try:
        loaded = engine.load(contract)
        for ref in engine.models_of(loaded):
            for case in engine.plan(loaded, ref):
                if case.family != "serving" or (checks and case.check not in checks):
                    continue
                try:
                    notes = engine.execute(case)
                    out[case.id] = Outcome("passed", "", tuple(notes))
                except CheckFailure as exc:
                    out[case.id] = Outcome("failed", str(exc), ())
                except (Skipped, BackendUnavailable) as exc:
                    out[case.id] = Outcome("skipped", str(exc), ())
    finally:
        engine.close()
    return out, record


def not_passed(results: dict[str, Outcome]) -> dict[str, str]:
    return {k: f"{v.outcome}: {v.message[:2000]}" for k, v in results.items() if v.outcome != "passed"}
