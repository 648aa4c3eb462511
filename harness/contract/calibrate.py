"""``init --calibrate``: propose per-format, per-output tolerances from observed errors.

The model is exported to TFLite, ONNX and TF.js as ``check`` would export it, each is run on
fuzzed inputs next to the SavedModel with a tolerance that cannot fail, and for every float
output the largest absolute error seen is multiplied by a stated margin (default 10x) and
rounded up to one significant digit. Integer, bool and string outputs stay exact. A format
that cannot be exported or run here (no Node.js for TF.js, an op a converter refuses) is left
out with the reason.
"""

from __future__ import annotations

import copy
import json
import math
import tempfile
from pathlib import Path
from typing import Any, Callable, Mapping

from harness.savedmodel.layout import ModelRef

DEFAULT_MARGIN = 10.0
FLOOR = 1e-7
FORMATS = ("tflite", "onnx", "tfjs")
#: a tolerance no error reaches, so every fuzzed call is measured
UNBOUNDED = {"atol": 1e30, "rtol": 0.0}


def round_up(value: float) -> float:
    """``value`` rounded up to one significant digit (3.1e-06 -> 4e-06), at least FLOOR."""
    if not math.isfinite(value):
        return value
    value = max(value, FLOOR)
    exponent = math.floor(math.log10(value))
    digit = math.ceil(round(value / 10 ** exponent, 9))
    return float(f"{digit}e{exponent}")


def calibrate(data: Mapping[str, Any], ref: ModelRef, *, margin: float = DEFAULT_MARGIN,
              examples: int = 20, formats: tuple[str, ...] = FORMATS,
              progress: Callable[[str], None] | None = None
              ) -> tuple[dict[str, Any], list[str]]:
    """``data`` with ``formats`` and per-output tolerances set, and a note per decision.

    ``progress`` hears each long step (converting, loading, the fuzzed calls of each check)
    as it starts and ends."""
    from harness.engine import Engine
    from harness.options import RunOptions
    from harness.progress import progress_lines
    from harness.report.record import RunRecord

    result = copy.deepcopy(dict(data))
    trial = copy.deepcopy(result)
    trial["models"] = [str(ref.path)]
    trial["formats"] = {fmt: {"tolerance": dict(UNBOUNDED)} for fmt in formats}
    notes: list[str] = [f"calibration: margin {margin:g}x the largest error seen over "
                        f"{examples} fuzzed calls per signature, rounded up to one digit"]
    with tempfile.TemporaryDirectory(prefix="model-contract-calibrate-") as tmp:
        path = Path(tmp) / "calibrate.json"
        path.write_text(json.dumps(trial), encoding="utf-8")
        engine = Engine(RunOptions(examples=examples, results_dir=Path(tmp) / "results"))
        record = RunRecord.attach(engine.context.events)
        if progress is not None:
            engine.context.events.subscribe(progress_lines(progress))
        failed: dict[str, str] = {}
        try:
            contract = engine.load(path)
            for case in engine.plan(contract, ref):
                fmt = case.format or ""
                if case.family != "parity" or case.name != "parity" or case.variant is not None \
                        or fmt not in formats:
                    continue
                try:
                    with engine.context.progress.step(f"{case.check} of signature {case.signature!r}: "
                                              f"{examples} fuzzed calls"):
                        engine.execute(case)
                except Exception as exc:  # noqa: BLE001 - a format that cannot run is left out
                    failed.setdefault(fmt, str(exc).splitlines()[0][:300])
            rows = list(record.parity)
        finally:
            engine.close()
    result["formats"] = dict(result.get("formats", {}))
    for fmt in formats:
        if fmt in failed:
            notes.append(f"calibration: {fmt} left out: {failed[fmt]}")
            continue
        result["formats"].setdefault(fmt, {})
    for row in rows:
        fmt, sig, out = row["format"], row["signature"], row["output"]
        if fmt in failed or row.get("exact"):
            continue
        seen = float(row["max_abs"])
        atol = round_up(seen * margin)
        spec = result["signatures"][sig]["outputs"][out]
        spec.setdefault("tolerance", {})[fmt] = {"atol": atol, "rtol": 0.0}
        notes.append(f"calibration: {fmt} {sig}/{out}: max abs error {seen:.3g} over "
                     f"{row['calls']} calls -> atol {atol:g}")
    return result, notes
