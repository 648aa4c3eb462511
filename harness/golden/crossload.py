"""SavedModels across TensorFlow versions: exported by one, loaded by every other.

Two steps, run by the tox matrix (see docs/tf-matrix.md):

1. ``export`` (in each ``tf2NN`` env): rebuild each bundled model with that env's
   TensorFlow (``python -m models_under_test build NAME``) into
   ``<out>/exported-by-<env>/<model>/1``, run it on the golden inputs and keep its outputs
   beside it (``<model>/reference/<signature>.npz``); ``<out>/exports-<env>.json`` says what
   was built, what could not be (with the builder's error: a Keras 3-only API under Keras 2
   is reported here, never skipped silently) and how far the rebuilt model is from the
   golden (weights are retrained per version, so this is informational).
2. ``crossload`` (in each env, after all exports): load every export, run the golden
   inputs, compare with the outputs its exporter recorded (the contract's tolerance). An
   export that this runtime cannot load is reported with the op types its graph uses that
   this TensorFlow does not register (read statically from ``saved_model.pb``), e.g. ops
   added after this version - so a team knows which TF Serving versions can serve it.
   Results: ``<out>/loaded-by-<env>.json``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from harness.golden.arrays import load_calls, save_calls
from harness.golden.manifest import environment
from harness.golden.run import Target, targets

BUNDLED_CONTRACTS = (Path("contracts/classifier.json"), Path("contracts/text_classifier.json"),
                     Path("contracts/image_classifier.json"))
EXPORTED_BY = "exported-by-"
LOADED_BY = "loaded-by-"
NOT_REGISTERED = re.compile(r"Op type not registered '([^']+)'")
BUILD_TIMEOUT = 900

#: (text in a builder's error, what it means) - shown with the error in the report.
KNOWN_CAUSES = (
    ("references an 'untracked' resource",
     "under Keras 2 a variable's `.value` is a method, not the tf.Variable Keras 3's "
     "KerasVariable.value returns, so a builder that tracks `[v.value for v in model.variables]` "
     "tracks no variable and tf.saved_model.save refuses the export (a Keras 3-only API)"),
)


def _by_model() -> dict[str, list[Target]]:
    out: dict[str, list[Target]] = {}
    for t in targets(BUNDLED_CONTRACTS):
        out.setdefault(t.model_name, []).append(t)
    return out


def _golden_inputs(goldens: Path, target: Target) -> list[dict[str, np.ndarray]]:
    return load_calls(target.directory(goldens) / "inputs.npz")


def _error_tail(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and "oneDNN" not in ln
             and not ln.startswith(("I0000", "W0000", "WARNING: All log"))]
    for line in reversed(lines):
        if re.match(r"^[A-Za-z_.]+(Error|Exception)\b", line):
            return line[:400]
    return lines[-1][:400] if lines else "(no message)"


def export_bundled(out: Path, env_name: str, *, goldens: Path = Path("baselines")) -> int:
    """Step 1 (see the module docstring). Returns 0: a model that cannot be built is a result."""
    from harness.backends.base import InferenceError
    from harness.exports.cache import fingerprint
    from harness.golden.run import run_calls
    from harness.savedmodel.layout import resolve_model

    folder = Path(out) / f"{EXPORTED_BY}{env_name}"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    env = environment()
    summary: dict[str, Any] = {"env": env_name, "environment": env, "models": {}}
    for model, model_targets in _by_model().items():
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "models_under_test", "build", model, "--out", str(folder)],
                              capture_output=True, text=True, timeout=BUILD_TIMEOUT,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        entry: dict[str, Any] = {"seconds": round(time.perf_counter() - start, 1)}
        summary["models"][model] = entry
        if proc.returncode != 0:
            entry.update(status="not built", error=_error_tail(proc.stderr))
            causes = [why for text, why in KNOWN_CAUSES if text in proc.stderr]
            if causes and environment()["versions"].get("keras", "3").startswith("2"):
                entry["cause"] = causes[0]
            print(f"NOT BUILT under {env_name}: {model}: {entry['error']}", flush=True)
            continue
        ref = resolve_model(folder / model)[-1]
        entry.update(status="built", fingerprint=fingerprint(ref.path), vs_golden={})
        contract = model_targets[0].contract
        calls = {t.signature: _golden_inputs(goldens, t) for t in model_targets}
        try:
            outputs = run_calls("savedmodel", contract, ref, calls)
        except (InferenceError, Exception) as exc:  # noqa: BLE001 - the result
            entry.update(status="built, does not run", error=f"{type(exc).__name__}: {exc}"[:400])
            print(f"BUILT BUT FAILS under {env_name}: {model}: {entry['error']}", flush=True)
            continue
        for t in model_targets:
            save_calls(folder / model / "reference" / f"{t.signature}.npz", outputs[t.signature])
            golden = load_calls(t.directory(goldens) / "outputs-savedmodel.npz")
            entry["vs_golden"][t.signature] = _max_abs(golden, outputs[t.signature])
        print(f"built under {env_name}: {model} in {entry['seconds']} s; max abs vs golden "
              f"(retrained, informational): {entry['vs_golden']}", flush=True)
    (Path(out) / f"exports-{env_name}.json").write_text(json.dumps(summary, indent=1) + "\n")
    return 0


def _max_abs(expected: list[dict[str, np.ndarray]], received: list[dict[str, np.ndarray]]) -> dict[str, float]:
    worst: dict[str, float] = {}
    for e, r in zip(expected, received, strict=True):
        for name, value in e.items():
            a, b = np.asarray(value), np.asarray(r[name])
            if a.dtype.kind in "OSU" or a.shape != b.shape:
                continue
            diff = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0
            worst[name] = max(worst.get(name, 0.0), diff)
    return worst


def graph_ops(saved_model_dir: Path) -> set[str]:
    """Op types used by the graph and its function library (function calls excluded)."""
    from harness.savedmodel.reader import read_proto

    proto = read_proto(saved_model_dir)
    ops: set[str] = set()
    functions: set[str] = set()
    for mg in proto.meta_graphs:
        ops.update(n.op for n in mg.graph_def.node)
        for fn in mg.graph_def.library.function:
            functions.add(fn.signature.name)
            ops.update(n.op for n in fn.node_def)
    return ops - functions


def unregistered_ops(ops: set[str]) -> list[str]:
    """The op types this TensorFlow does not register."""
    from tensorflow.python.framework import op_def_registry

    return sorted(op for op in ops if op_def_registry.get(op) is None)


def crossload(exports: Path, env_name: str) -> int:
    """Step 2 (see the module docstring). Returns 0: a failed load is a result, not an error."""
    from harness.checks.parity import compare
    from harness.golden.run import run_calls
    from harness.savedmodel.layout import resolve_model

    rows: list[dict[str, Any]] = []
    by_model = _by_model()
    for folder in sorted(Path(exports).glob(f"{EXPORTED_BY}*")):
        exporter = folder.name[len(EXPORTED_BY):]
        for model, model_targets in by_model.items():
            base = folder / model
            row: dict[str, Any] = {"exported_by": exporter, "loaded_by": env_name, "model": model}
            rows.append(row)
            if not (base / "reference").is_dir():
                row.update(status="no export", detail=f"not built (or not runnable) under {exporter}")
                continue
            ref = resolve_model(base)[-1]
            missing = unregistered_ops(graph_ops(ref.path))
            contract = model_targets[0].contract
            calls = {t.signature: load_calls(base / "reference" / f"{t.signature}.npz") for t in model_targets}
            inputs = {t.signature: load_calls(Path("baselines") / model / t.signature / "inputs.npz")
                      for t in model_targets}
            try:
                outputs = run_calls("savedmodel", contract, ref, inputs)
            except Exception as exc:  # noqa: BLE001 - the result
                message = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300]}"
                named = sorted(set(missing) | set(NOT_REGISTERED.findall(str(exc))))
                row.update(status="load failed", ops=named, detail=message)
                continue
            worst_abs = 0.0
            agree = True
            for t in model_targets:
                for expected, received in zip(calls[t.signature], outputs[t.signature], strict=True):
                    for out in contract.signature(t.signature).outputs:
                        tol = contract.tolerance_for("savedmodel", t.signature, out.name)
                        res = compare(expected[out.name], received[out.name], tol, exact=not out.is_float)
                        agree = agree and res.passed
                        if not res.exact:
                            worst_abs = max(worst_abs, res.max_abs)
            row.update(status="ok" if agree else "mismatch", max_abs=worst_abs, ops=missing)
            print(f"{model} exported by {exporter}, loaded by {env_name}: {row['status']} "
                  f"(max abs {worst_abs:.3g})", flush=True)
    result = Path(exports) / f"{LOADED_BY}{env_name}.json"
    result.write_text(json.dumps({"env": env_name, "environment": environment(), "rows": rows}, indent=1) + "\n")
    return 0


def crossload_all(tox_dir: Path) -> int:
    """Run ``crossload`` with the Python of every ``tf2NN`` env under ``tox_dir``."""
    exports = Path(tox_dir) / "crossversion"
    failures = 0
    for env_dir in sorted(Path(tox_dir).glob("tf2*")):
        python = env_dir / "bin" / "python"
        if not python.is_file():
            continue
        start = time.perf_counter()
        proc = subprocess.run([str(python), "-m", "harness.golden", "crossload", "--exports", str(exports),
                               "--env", env_dir.name], capture_output=True, text=True,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        print(f"== loaded by {env_dir.name} ({time.perf_counter() - start:.0f} s)", flush=True)
        print("\n".join(ln for ln in proc.stdout.splitlines() if " loaded by " in ln), flush=True)
        if proc.returncode != 0:
            failures += 1
            print(f"crossload under {env_dir.name} crashed (exit {proc.returncode}):\n"
                  f"{_error_tail(proc.stderr)}", flush=True)
    return 1 if failures else 0


def load_json(path: Path) -> Mapping[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))
