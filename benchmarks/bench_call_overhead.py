"""Harness overhead per SavedModel call, as a ratio to a bare signature call in the same run.

Three ways to make the same call on the bundled classifier (``classify``, batch 8):

* bare: ``loaded.signatures["classify"](x=tf.constant(x))`` and ``.numpy()`` on the outputs;
* in-process backend: ``SavedModelBackend.infer`` (contract input checks, timing, numpy);
* isolated backend (the default): the same backend in a child process, arrays over a pipe.

Usage: ``python benchmarks/bench_call_overhead.py [--calls N] [--json]``. Prints median
microseconds per call and the ratios to bare; ``--json`` writes them next to this file.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def timed(fn, calls: int, warmup: int = 10) -> float:  # type: ignore[no-untyped-def]
    """Median microseconds of ``calls`` calls of ``fn``, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import tensorflow as tf

    from harness.backends.isolation import IsolatedBackend
    from harness.backends.savedmodel import SavedModelBackend
    from harness.contract import load_contract
    from harness.savedmodel.layout import resolve_model

    contract = load_contract(ROOT / "contracts" / "classifier.json")
    [ref] = resolve_model(ROOT / "models_under_test" / "classifier")
    x = np.random.default_rng(0).random((8, 784), dtype=np.float32)

    fn = tf.saved_model.load(str(ref.path)).signatures["classify"]
    bare = timed(lambda: {k: v.numpy() for k, v in fn(x=tf.constant(x)).items()}, args.calls)

    inproc = SavedModelBackend(ref, contract)
    inproc.activate()
    in_process = timed(lambda: inproc.infer("classify", {"x": x}), args.calls)

    isolated_backend = IsolatedBackend(ref, contract, inner="savedmodel")
    isolated_backend.activate()
    isolated = timed(lambda: isolated_backend.infer("classify", {"x": x}), args.calls)
    isolated_backend.deactivate()

    rows = {
        "bare signature call": bare,
        "harness, in-process backend": in_process,
        "harness, isolated backend (default)": isolated,
    }
    print(f"{'call':40} {'median us':>10} {'ratio to bare':>14}")
    for name, us in rows.items():
        print(f"{name:40} {us:10.0f} {us / bare:14.2f}")
    if args.json:
        out = Path(__file__).with_suffix(".json")
        out.write_text(json.dumps({"calls": args.calls, "median_us": rows,
                                   "ratio_to_bare": {k: v / bare for k, v in rows.items()}},
                                  indent=2) + "\n")


if __name__ == "__main__":
    main()
