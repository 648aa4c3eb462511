"""The fleet layer, as ratios measured in one run on this machine.

1. Planning 1,000 models (a manifest over the generated fleet's three contracts, every
   version): wall time, and that no model was read or loaded (the run context's memo is empty).
2. A fleet of N generated models run serially vs with ``-n 2`` (pytest-xdist, cases scheduled
   by model): wall times of the two ``pytest --fleet`` processes and their ratio.
3. The fleet layer's own cost per model: one model checked as ``pytest --contract`` vs the
   same model as a one-model fleet (``pytest --fleet``), best of R runs each.

Backends run in-process (``--in-process``), with ``--examples`` fuzzed examples per check
(default 20); each pytest process (and each xdist worker) imports TensorFlow once, a fixed
cost that a small fleet does not amortise.

    .tox/tests/bin/python benchmarks/bench_fleet.py [--models 12] [--examples 20] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.engine import Engine  # noqa: E402
from harness.fleet.describe import load_fleet  # noqa: E402
from harness.fleet.plan import plan_fleet  # noqa: E402
from models_under_test.fleet import build_fleet, contract_for  # noqa: E402

DEFAULT_JSON = Path(__file__).with_suffix(".json")
RUN = ["-p", "no:cacheprovider", "-q", "--in-process"]


@dataclass(frozen=True)
class Result:
    plan_models: int
    plan_cases: int
    plan_seconds: float
    plan_models_loaded: int
    fleet_models: int
    serial_seconds: float
    two_workers_seconds: float
    speedup: float
    contract_alone_seconds: float
    one_model_fleet_seconds: float
    fleet_overhead: float


EXAMPLES = ["--examples", "20"]


def pytest(args: list[str], cwd: Path) -> float:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", *RUN, *EXAMPLES, *args], cwd=cwd, env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise AssertionError(f"pytest {' '.join(args)} exited {done.returncode}:\n"
                             f"{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
    return seconds


def plan_thousand(root: Path) -> tuple[int, int, float, int]:
    kinds = ["scale-000", "total-001", "pick-002"]
    entries = [{"name": f"m{i:04d}", "base_path": str(root / "models" / kinds[i % 3]),
                "contract": str(root / "contracts" / f"{kinds[i % 3]}.json"), "versions": "all"}
               for i in range(1000)]
    manifest = root / "thousand.json"
    manifest.write_text(json.dumps({"models": entries}))
    engine = Engine()
    start = time.perf_counter()
    plan = plan_fleet(load_fleet(manifest), engine)
    seconds = time.perf_counter() - start
    return len(plan.models), plan.cases, seconds, len(engine.context.memo.values())


def measure(models: int, repeat: int) -> Result:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "fleet"
        build_fleet(root, models=models)
        planned = plan_thousand(root)
        fleet = ["--fleet", str(root / "models.config"), "--contracts", str(root / "contracts")]
        work = Path(tmp)
        serial = pytest([*fleet, "--results-dir", str(work / "serial")], work)
        parallel = pytest([*fleet, "-n", "2", "--results-dir", str(work / "parallel")], work)
        # one model (scale-003: two versions) alone, and as a one-model fleet
        one = root / "one"
        one.mkdir()
        contract = contract_for("scale-003", "scale")
        contract["models"] = [str(root / "models" / "scale-003")]
        (one / "scale-003.json").write_text(json.dumps(contract))
        (one / "fleet.json").write_text(json.dumps({"models": [
            {"name": "scale-003", "base_path": str(root / "models" / "scale-003"),
             "contract": "scale-003.json", "versions": "all"}]}))
        alone = min(pytest(["--contract", str(one / "scale-003.json"), "--results-dir",
                            str(work / "alone")], work) for _ in range(repeat))
        as_fleet = min(pytest(["--fleet", str(one / "fleet.json"), "--results-dir",
                               str(work / "as-fleet")], work) for _ in range(repeat))
    return Result(planned[0], planned[1], round(planned[2], 3), planned[3], models + 1,
                  round(serial, 1), round(parallel, 1), round(serial / parallel, 2),
                  round(alone, 2), round(as_fleet, 2), round(as_fleet / alone, 3))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", nargs="?", const=DEFAULT_JSON, type=Path,
                        help=f"also write the result as JSON (default {DEFAULT_JSON.name})")
    parser.add_argument("--examples", type=int, default=20, help="fuzzed examples per check")
    args = parser.parse_args()
    EXAMPLES[1] = str(args.examples)
    result = measure(args.models, args.repeat)
    print(f"planning {result.plan_models} models ({result.plan_cases} cases): "
          f"{result.plan_seconds:.3f} s, {result.plan_models_loaded} models read or loaded")
    print(f"fleet of {result.fleet_models} models: serial {result.serial_seconds} s, "
          f"-n 2 {result.two_workers_seconds} s: {result.speedup}x")
    print(f"one model: contract alone {result.contract_alone_seconds} s, as a fleet "
          f"{result.one_model_fleet_seconds} s: {result.fleet_overhead}x")
    if args.json:
        args.json.write_text(json.dumps(asdict(result), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
