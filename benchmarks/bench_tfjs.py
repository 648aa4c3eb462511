"""TF.js: first vs cached export of the classifier, and the Node runtime's per-call cost vs
onnxruntime's on the same model.

Export: run 1 converts every classifier signature with tensorflowjs_converter (in its own
environment, which must exist already: ``python -m harness.exports.tfjs_env``) into an
empty cache; run 2, a new session on the same cache, must convert nothing.

Per call: the classifier's ``classify`` signature, exported to TF.js and ONNX, called
through the harness's backends (in process, so the figures are the runtimes and their
transport, not the isolation child) on the same seeded inputs at batch 1 and 32; the
ratio is Node (wasm backend) / onnxruntime per call, measured in the same run (medians of 7
interleaved rounds of 50 calls). The Node call
is then split: ``echo`` sends the same inputs to the Node child, which makes them into TF.js
tensors and answers their shapes without running the model (the transport of the inputs:
JSON lines, base64, the process hop; the outputs, 10 values a row, are small), and
``transport_share`` is its part of the Node call.

    .venv/bin/python benchmarks/bench_tfjs.py [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import harness.backends  # noqa: E402,F401 - registers the backends
from harness.backends.source import open_backend, release_all  # noqa: E402
from harness.context import RunContext  # noqa: E402
from harness.contract.load import load_contract  # noqa: E402
from harness.exports import cache as cache_module  # noqa: E402
from harness.exports.cache import ExportCache  # noqa: E402
from harness.exports.tfjs import export_tfjs  # noqa: E402
from harness.options import RunOptions  # noqa: E402
from harness.savedmodel.layout import ModelRef  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = ROOT / "contracts" / "classifier.json"
DEFAULT_JSON = Path(__file__).with_suffix(".json")
CALLS = 50
ROUNDS = 7


@dataclass(frozen=True)
class Export:
    first_seconds: float
    second_seconds: float
    conversions_first: int
    conversions_second: int
    ratio: float


@dataclass(frozen=True)
class PerCall:
    batch: int
    tfjs_ms: float
    onnx_ms: float
    ratio: float
    tfjs_backend: str
    echo_ms: float
    transport_share: float


@dataclass(frozen=True)
class Result:
    model: str
    export: Export
    per_call: list[PerCall]


def _export(model: Path, signatures: list[str], root: Path) -> tuple[float, int]:
    cache_module._FINGERPRINTS.clear()
    cache = ExportCache(root)
    start = time.perf_counter()
    failed = [e for e in export_tfjs(model, signatures, cache=cache).values()
              if isinstance(e, Exception)]
    if failed:
        raise failed[0]
    return time.perf_counter() - start, cache.conversions


def _inputs(batch: int) -> np.ndarray:
    return np.random.default_rng(batch).random((batch, 784), dtype=np.float32)


def _per_call(backend: object, batch: int) -> float:
    x = _inputs(batch)
    start = time.perf_counter()
    for _ in range(CALLS):
        backend.infer("classify", {"x": x})  # type: ignore[attr-defined]
    return 1000 * (time.perf_counter() - start) / CALLS


def _echo(backend: object, batch: int) -> float:
    from harness.backends.node import encode

    x = _inputs(batch)
    model = backend._models["classify"]  # type: ignore[attr-defined]
    start = time.perf_counter()
    for _ in range(CALLS):
        model.echo({"x": encode(x, "float32")}, values=False)
    return 1000 * (time.perf_counter() - start) / CALLS


def _interleaved(tfjs: object, onnx: object, batch: int) -> tuple[float, float, float]:
    """Medians over ROUNDS rounds, each timing the three one after the other (a loaded
    machine slows all three alike within a round)."""
    for backend in (tfjs, onnx):
        backend.infer("classify", {"x": _inputs(batch)})  # type: ignore[attr-defined] # warm-up
    rounds = [(_per_call(tfjs, batch), _per_call(onnx, batch), _echo(tfjs, batch))
              for _ in range(ROUNDS)]
    t, o, e = (statistics.median(column) for column in zip(*rounds))
    return t, o, e


def measure() -> Result:
    contract = load_contract(CONTRACT)
    model = next(p for p in sorted(contract.models[0].iterdir()) if p.name.isdigit())
    signatures = [s.name for s in contract.signatures]
    with tempfile.TemporaryDirectory() as tmp:
        first, n_first = _export(model, signatures, Path(tmp))
        second, n_second = _export(model, signatures, Path(tmp))
        if n_second:
            raise AssertionError(f"the second run converted {n_second} times")
        context = RunContext(RunOptions(in_process=True, export_cache=Path(tmp)))
        ref = ModelRef(model, contract.models[0], int(model.name))
        tfjs = open_backend(context, "tfjs", contract, ref)
        onnx = open_backend(context, "onnx", contract, ref)
        rows = []
        for batch in (1, 32):
            t, o, e = _interleaved(tfjs, onnx, batch)
            rows.append(PerCall(batch, t, o, t / o, tfjs.label, e, e / t))
        release_all(context)
    return Result(str(model.resolve().relative_to(ROOT)),
                  Export(first, second, n_first, n_second, first / max(second, 1e-9)), rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", nargs="?", const=DEFAULT_JSON, type=Path,
                        help=f"also write the result as JSON (default {DEFAULT_JSON.name})")
    args = parser.parse_args()
    result = measure()
    e = result.export
    print(f"{result.model}: TF.js export {e.first_seconds:.1f} s ({e.conversions_first} "
          f"conversions) vs cached {e.second_seconds:.3f} s ({e.conversions_second}): "
          f"{e.ratio:.0f}x")
    for row in result.per_call:
        print(f"classify batch {row.batch}: TF.js in Node {row.tfjs_ms:.2f} ms vs onnxruntime "
              f"{row.onnx_ms:.2f} ms per call: {row.ratio:.1f}x ({row.tfjs_backend}); "
              f"transport alone (echo) {row.echo_ms:.2f} ms = {row.transport_share:.0%} of "
              "the Node call")
    if args.json:
        args.json.write_text(json.dumps(asdict(result), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
