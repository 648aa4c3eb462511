"""Where one fuzzed example of an ONNX-only check goes, part by part, in one process.

The same ONNX file and contract as ``bench_vs_polygraphy.py`` (the classifier's
``classify``, input ``[1, 784]``). Each part is timed per example (medians of ``--rounds``;
hypothesis parts as the slope between ``--small`` and ``--large`` examples):

* hypothesis' own floor: ``@given(st.integers())`` with an empty test (one choice);
* the same with three choices (a composite drawing two words and a sampled kind, the shape
  of the contract's tensor strategy) - what a strategy with the harness's choices costs
  before any array is made;
* the contract's call strategy (``harness.strategies.call_strategy``), empty test;
* one call: onnxruntime's bare ``session.run``; the in-process backend's ``infer``; the
  isolated backend's ``infer`` (a child process, the default);
* the output checks of one call (``output_conformance``);
* with ``--calls-per-example`` (``--batch``, default 16): the call strategy per call when one
  example draws a batch, and the isolated backend's answer per call when the batch goes in
  one request (``infer_ahead``, then each ``infer``).

Also: the share of distinct input values the strategy draws. The figures say how far a
hypothesis-driven, isolated check can come down: the floor of hypothesis plus a round trip to
the child, against Polygraphy's per-iteration cost measured by ``bench_vs_polygraphy.py``.

    python benchmarks/bench_example_cost.py [--rounds 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.append(str(HERE.parent))  # after $PYTHONPATH: another checkout can be measured
DEFAULT_JSON = Path(__file__).with_suffix(".json")


def per_call_ms(fn: Callable[[], Any], calls: int = 2000) -> float:
    from bench_call_overhead import timed  # the same timing, in microseconds

    return float(timed(fn, calls, warmup=50)) / 1e3


def hypothesis_ms(strategy: Any, small: int, large: int, rounds: int) -> float:
    """Per example: the slope of an empty ``@given`` test between ``small`` and ``large``."""
    from hypothesis import HealthCheck, given, settings

    def run(n: int) -> float:
        @settings(max_examples=n, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(strategy)
        def test(_: Any) -> None:
            pass

        start = time.perf_counter()
        test()
        return time.perf_counter() - start

    run(small)
    slopes = [(run(large) - run(small)) / (large - small) * 1e3 for _ in range(rounds)]
    return statistics.median(slopes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--small", type=int, default=10)
    parser.add_argument("--large", type=int, default=1010)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--json", nargs="?", const=DEFAULT_JSON, type=Path)
    args = parser.parse_args()

    import bench_vs_polygraphy
    from hypothesis import strategies as st

    from harness.backends.isolation import IsolatedBackend
    from harness.backends.onnx import OnnxBackend
    from harness.checks.conformance import output_conformance
    from harness.context import RunContext
    from harness.contract import load_contract
    from harness.options import RunOptions
    from harness.savedmodel.layout import resolve_model
    from harness.strategies import call_strategy

    words, kinds = st.integers(0, 2**32 - 1), st.sampled_from(tuple(range(10)))

    @st.composite
    def three_choices(draw: Any) -> tuple[int, int, int]:
        return draw(words), draw(kinds), draw(words)

    figures: dict[str, Any] = {"shape": [1, 784], "examples": [args.small, args.large],
                               "rounds": args.rounds}
    with tempfile.TemporaryDirectory(prefix="bench-example-cost-") as folder:
        tmp = Path(folder)
        model = bench_vs_polygraphy.onnx_file(tmp)
        contract = load_contract(bench_vs_polygraphy.contract_for(tmp))
        sig = contract.signature("classify")
        [ref] = resolve_model(bench_vs_polygraphy.MODEL)
        strategy = call_strategy(contract, sig, assets_dir=ref.path / "assets")
        span = (args.small, args.large, args.rounds)
        figures["hypothesis_one_choice_ms"] = hypothesis_ms(st.integers(), *span)
        figures["hypothesis_three_choices_ms"] = hypothesis_ms(three_choices(), *span)
        figures["call_strategy_ms"] = hypothesis_ms(strategy, *span)
        figures["batch"] = args.batch
        batched = st.tuples(*[strategy] * args.batch)
        figures["call_strategy_batched_ms"] = hypothesis_ms(
            batched, args.small, max(args.small + 1, args.large // args.batch),
            args.rounds) / args.batch

        context = RunContext(RunOptions(onnx=model, export_cache=tmp / "cache",
                                        results_dir=tmp / "results"))
        x = {"x": np.random.default_rng(0).random((1, 784), dtype=np.float32)}
        inproc = OnnxBackend(ref, contract, context)
        inproc.activate()
        session = inproc._sessions["classify"]
        figures["onnxruntime_run_ms"] = per_call_ms(lambda: session.run(None, x))
        figures["in_process_infer_ms"] = per_call_ms(lambda: inproc.infer("classify", x))
        isolated = IsolatedBackend(ref, contract, context, inner="onnx")
        try:
            isolated.activate()
            figures["isolated_infer_ms"] = per_call_ms(lambda: isolated.infer("classify", x))
            rng = np.random.default_rng(1)
            batch = [{"x": rng.random((1, 784), dtype=np.float32)} for _ in range(args.batch)]

            def answered_ahead() -> None:
                isolated.infer_ahead("classify", batch)
                for inputs in batch:
                    isolated.infer("classify", inputs)

            figures["isolated_infer_batched_ms"] = per_call_ms(answered_ahead, 200) / args.batch
            outputs = isolated.infer("classify", x)
        finally:
            isolated.deactivate()
            context.closers.close_all()
        figures["output_checks_ms"] = per_call_ms(lambda: output_conformance(
            contract, sig, x, outputs, source="onnx", check="conformance[onnx]"))

        from hypothesis import HealthCheck, given, settings

        shares: list[float] = []

        @settings(max_examples=200, database=None, deadline=None,
                  suppress_health_check=list(HealthCheck))
        @given(strategy)
        def draw(call: Any) -> None:
            array = np.asarray(call.inputs["x"])
            shares.append(np.unique(array).size / array.size)

        draw()
        figures["distinct_share"] = statistics.mean(shares)
    floor = figures["hypothesis_one_choice_ms"] + figures["isolated_infer_ms"]
    figures["floor_isolated_ms"] = floor
    figures["batched_call_ms"] = (figures["call_strategy_batched_ms"]
                                  + figures["isolated_infer_batched_ms"]
                                  + figures["output_checks_ms"])
    for name, value in figures.items():
        if name.endswith("_ms") or name == "distinct_share":
            print(f"{name:30} {value:8.3f}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
