"""First run (conversion) vs second run (cache hit) of the classifier's TFLite and ONNX exports.

Run 1 exports into an empty cache: one TFLite file with every contract signature and one
ONNX file per signature, each converter in its subprocess. Run 2 is a new session on the
same cache folder (the in-process fingerprint memo is cleared, so the model is hashed
again, as a fresh pytest run would): it must convert nothing. Reported: both wall times,
their ratio, and the conversion counts.

    .venv/bin/python benchmarks/bench_export_cache.py [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.contract.load import load_contract  # noqa: E402
from harness.exports import cache as cache_module  # noqa: E402
from harness.exports.cache import ExportCache  # noqa: E402
from harness.exports.onnx import export_onnx  # noqa: E402
from harness.exports.tflite import export_tflite  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = ROOT / "contracts" / "classifier.json"
DEFAULT_JSON = Path(__file__).with_suffix(".json")


@dataclass(frozen=True)
class Run:
    seconds: float
    conversions: int
    hits: int


@dataclass(frozen=True)
class Result:
    model: str
    signatures: list[str]
    first: Run
    second: Run
    ratio: float


def one_run(model: Path, signatures: list[str], root: Path) -> Run:
    cache_module._FINGERPRINTS.clear()  # a new session hashes the model again
    cache = ExportCache(root)
    start = time.perf_counter()
    export_tflite(model, signatures, cache=cache)
    failed = [e for e in export_onnx(model, signatures, cache=cache).values()
              if isinstance(e, Exception)]
    if failed:
        raise failed[0]
    return Run(time.perf_counter() - start, cache.conversions, cache.hits)


def measure() -> Result:
    contract = load_contract(CONTRACT)
    model = next(p for p in sorted(contract.models[0].iterdir()) if p.name.isdigit())
    signatures = [s.name for s in contract.signatures]
    with tempfile.TemporaryDirectory() as tmp:
        first = one_run(model, signatures, Path(tmp))
        second = one_run(model, signatures, Path(tmp))
    if second.conversions:
        raise AssertionError(f"the second run converted {second.conversions} times")
    return Result(str(model.resolve().relative_to(ROOT)), signatures, first, second,
                  first.seconds / max(second.seconds, 1e-9))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", nargs="?", const=DEFAULT_JSON, type=Path,
                        help=f"also write the result as JSON (default {DEFAULT_JSON.name})")
    args = parser.parse_args()
    result = measure()
    print(f"{result.model} ({', '.join(result.signatures)}): first run "
          f"{result.first.seconds:.2f} s ({result.first.conversions} conversions), second run "
          f"{result.second.seconds * 1000:.1f} ms ({result.second.conversions} conversions, "
          f"{result.second.hits} cache hits): {result.ratio:,.0f}x faster")
    if args.json:
        args.json.write_text(json.dumps(asdict(result), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
