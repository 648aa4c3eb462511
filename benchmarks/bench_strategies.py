"""Per-example generation cost of a [1, 224, 224, 3] float32 input: ours vs hypothesis arrays().

Both strategies are drawn the way tests draw them: through a ``@given`` function with
``settings(max_examples=N, database=None, phases=[Phase.generate])``, timed as a whole
and divided by the number of examples actually run. ``strategy.example()`` is not used:
it bypasses the engine's normal generation and is not representative.

Wall and CPU time are both reported: on a shared machine the CPU time of this process is
the steadier figure. Also reported: the mean share of distinct values per generated array (how varied the
values are) and whether every element is inside [0, 1].

    .venv/bin/python benchmarks/bench_strategies.py --examples 300 --json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.contract.load import canonicalise, validate  # noqa: E402
from harness.strategies import call_strategy  # noqa: E402

SHAPE = (1, 224, 224, 3)
BUDGET_MS = 5.0
DEFAULT_JSON = Path(__file__).with_suffix(".json")


@dataclass(frozen=True)
class Measurement:
    name: str
    examples: int
    ms_per_example: float
    cpu_ms_per_example: float
    distinct_share: float
    all_in_range: bool


def image_contract() -> Any:
    data = {
        "name": "bench",
        "signatures": {"serve": {
            "inputs": {"image": {"dtype": "float32", "shape": list(SHAPE), "range": [0.0, 1.0]}},
            "outputs": {"y": {"dtype": "float32"}},
        }},
    }
    path = Path("bench.json")
    validate(data, path)
    return canonicalise(data, path)


def measure(name: str, strategy: st.SearchStrategy[Any], to_array: Callable[[Any], np.ndarray],
            examples: int, sample_every: int) -> Measurement:
    """Time ``examples`` draws through @given; check range/variety on every ``sample_every``-th."""
    seen: list[np.ndarray] = []
    count = [0]

    @settings(max_examples=examples, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def run(value: Any) -> None:
        count[0] += 1
        if count[0] % sample_every == 1 or sample_every == 1:
            seen.append(to_array(value))

    start, cpu_start = time.perf_counter(), time.process_time()
    run()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    distinct = float(np.mean([len(np.unique(a)) / a.size for a in seen]))
    in_range = all(bool(((a >= 0) & (a <= 1)).all()) for a in seen)
    runs = max(count[0], 1)
    return Measurement(name, count[0], 1e3 * elapsed / runs, 1e3 * cpu / runs, distinct, in_range)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100, help="examples per strategy (default 100)")
    parser.add_argument("--baseline-examples", type=int, default=None,
                        help="examples for hypothesis arrays() (default: same as --examples)")
    parser.add_argument("--sample-every", type=int, default=10,
                        help="keep every k-th array for the distinct-value and range checks")
    parser.add_argument("--json", type=Path, nargs="?", default=None, const=DEFAULT_JSON,
                        help=f"also write the results as JSON (default path: {DEFAULT_JSON.name} "
                             "next to this script)")
    args = parser.parse_args(argv)

    contract = image_contract()
    ours = call_strategy(contract, contract.signatures[0])
    baseline = hnp.arrays(np.float32, SHAPE, elements=st.floats(0, 1, width=32))
    results = [
        measure("harness call_strategy", ours, lambda call: call.inputs["image"], args.examples,
                args.sample_every),
        measure("hypothesis arrays()", baseline, lambda a: a, args.baseline_examples or args.examples,
                args.sample_every),
    ]
    ratio = results[1].ms_per_example / results[0].ms_per_example
    cpu_ratio = results[1].cpu_ms_per_example / results[0].cpu_ms_per_example
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")

    print(f"float32 {list(SHAPE)}, range [0, 1]; budget {BUDGET_MS} ms/example")
    print(f"{'strategy':<24} {'examples':>8} {'wall ms/ex':>11} {'cpu ms/ex':>10} {'distinct':>9} "
          f"{'in range':>9}")
    for m in results:
        print(f"{m.name:<24} {m.examples:>8} {m.ms_per_example:>11.3f} {m.cpu_ms_per_example:>10.3f} "
              f"{m.distinct_share:>9.3f} {str(m.all_in_range):>9}")
    print(f"speed-up (arrays / ours): wall {ratio:.1f}x, cpu {cpu_ratio:.1f}x; load average {load:.1f}")
    print(f"ours within budget: wall "
          f"{results[0].ms_per_example <= BUDGET_MS}, cpu {results[0].cpu_ms_per_example <= BUDGET_MS}")
    if args.json:
        args.json.write_text(json.dumps({
            "shape": list(SHAPE), "budget_ms": BUDGET_MS, "speedup": ratio, "speedup_cpu": cpu_ratio,
            "load_average": load,
            "results": [asdict(m) for m in results],
        }, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0 if min(results[0].ms_per_example, results[0].cpu_ms_per_example) <= BUDGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
