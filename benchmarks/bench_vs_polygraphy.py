"""An ONNX-only check against Polygraphy on the same file and shape, in the same run.

Polygraphy (``polygraphy run model.onnx --onnxrt --iterations N --input-shapes x:[1,784]``:
random inputs, onnxruntime, no comparison) is what users pick for ONNX checks. Beside it,
``pytest --contract C --backend onnx --onnx model.onnx -k "conformance and onnx"
--examples N`` (isolated, the default): fuzzed inputs, onnxruntime in a child process, the
outputs checked against the contract. ``C`` declares the input ``[1, 784]``. And the same
with ``--calls-per-example K`` (``--batch``, default 16): K calls per hypothesis example,
answered by the child in one round trip.

Both are timed as whole processes at ``--small`` and ``--large`` iterations/examples
(interleaved, ``--rounds`` times); the per-iteration cost is the slope between them, the
start-up cost the small run. The ONNX file is the classifier's ``classify`` signature,
exported by the harness into a temporary cache first (the only step that needs TensorFlow).

Polygraphy is installed in the ``bench`` tox environment only (``tox -e bench``), never in
the test environment; ``--polygraphy`` names its command if it is elsewhere.

    python benchmarks/bench_vs_polygraphy.py [--rounds 5] [--batch 16] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MODEL = ROOT / "models_under_test" / "classifier"
DEFAULT_JSON = Path(__file__).with_suffix(".json")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=_env(), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n"
                         f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return seconds


def onnx_file(tmp: Path) -> Path:
    """The classifier's ``classify`` as ONNX, exported by the harness (opset 17)."""
    from harness.exports.cache import ExportCache
    from harness.exports.onnx import export_onnx

    version = next(p for p in sorted(MODEL.iterdir()) if p.name.isdigit())
    result = export_onnx(version, ["classify"], cache=ExportCache(tmp / "cache"))["classify"]
    if isinstance(result, Exception):
        raise result
    target = tmp / "classify.onnx"
    shutil.copyfile(result.path, target)
    return target


def contract_for(tmp: Path) -> Path:
    path = tmp / "onnx-only.json"
    path.write_text(json.dumps({
        "$schema": str(ROOT / "contracts" / "schema" / "contract-v1.schema.json"),
        "name": "classifier", "version": "1.0.0", "models": [str(MODEL)], "tags": ["serve"],
        "signatures": {"classify": {
            "inputs": {"x": {"dtype": "float32", "shape": [1, 784], "range": [0.0, 1.0]}},
            "outputs": {"class_id": {"dtype": "int64", "shape": [1]},
                        "prob": {"dtype": "float32", "shape": [1, 10], "range": [0.0, 1.0]}}}},
        "formats": {"onnx": {}},
    }, indent=2))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--small", type=int, default=10)
    parser.add_argument("--large", type=int, default=2010)
    parser.add_argument("--batch", type=int, default=16,
                        help="--calls-per-example of the batched harness row")
    beside = Path(sys.executable).with_name("polygraphy")  # this environment's own
    parser.add_argument("--polygraphy", default=str(beside) if beside.is_file()
                        else shutil.which("polygraphy") or "polygraphy")
    parser.add_argument("--json", nargs="?", const=DEFAULT_JSON, type=Path)
    args = parser.parse_args()
    if shutil.which(args.polygraphy) is None:
        print(f"{args.polygraphy}: not found; run this in the bench env (tox -e bench)",
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-vs-polygraphy-") as folder:
        tmp = Path(folder)
        model = onnx_file(tmp)
        contract = contract_for(tmp)

        def polygraphy(n: int) -> list[str]:
            return [args.polygraphy, "run", str(model), "--onnxrt", "--iterations", str(n),
                    "--input-shapes", "x:[1,784]"]

        def harness(n: int, *extra: str) -> list[str]:
            return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                    "--contract", str(contract), "--backend", "onnx", "--onnx", str(model),
                    "-k", "conformance and onnx", "--examples", str(n), *extra,
                    "--export-cache", str(tmp / "cache"), "--results-dir", str(tmp / "results")]

        commands = {"polygraphy": polygraphy, "harness": harness,
                    "harness_batched": lambda n: harness(
                        n, "--calls-per-example", str(args.batch))}
        runs: dict[str, dict[int, list[float]]] = {
            name: {args.small: [], args.large: []} for name in commands}
        for _ in range(args.rounds):
            for n in (args.small, args.large):
                for name, command in commands.items():
                    runs[name][n].append(timed(command(n), tmp))
    result: dict[str, Any] = {"shape": [1, 784], "small": args.small, "large": args.large,
                              "rounds": args.rounds, "seconds": {
                                  k: {str(n): v for n, v in per.items()} for k, per in runs.items()}}
    for name, per in runs.items():
        small, large = statistics.median(per[args.small]), statistics.median(per[args.large])
        result[f"{name}_small_run_s"] = small
        result[f"{name}_ms_per_iteration"] = (large - small) / (args.large - args.small) * 1e3
    result["batch"] = args.batch
    base = result["polygraphy_ms_per_iteration"]
    for name in ("harness", "harness_batched"):
        suffix = name.removeprefix("harness")
        result[f"per_iteration_ratio{suffix}"] = result[f"{name}_ms_per_iteration"] / base
        result[f"small_run_ratio{suffix}"] = (result[f"{name}_small_run_s"]
                                              / result["polygraphy_small_run_s"])
    print(f"per iteration ({args.small} vs {args.large}): Polygraphy {base:.2f} ms, harness "
          f"{result['harness_ms_per_iteration']:.2f} ms ({result['per_iteration_ratio']:.2f}x), "
          f"with --calls-per-example {args.batch} "
          f"{result['harness_batched_ms_per_iteration']:.2f} ms "
          f"({result['per_iteration_ratio_batched']:.2f}x); a {args.small}-iteration run: "
          f"Polygraphy {result['polygraphy_small_run_s']:.2f} s, harness "
          f"{result['harness_small_run_s']:.2f} s ({result['small_run_ratio']:.2f}x)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
