"""The fleet layer, as ratios measured in one run on this machine.

1. Planning 1,000 models (a manifest over the generated fleet's three contracts, every
   version): wall time (best of 3), and that no model was read or loaded (the memo is empty).
2. A fleet of N generated models run serially vs with ``-n 2`` (pytest-xdist, cases scheduled
   by model), at ``--examples`` (default 20) and at ``--heavy-examples`` (default 200) fuzzed
   examples per check: wall times, and the summed seconds of the cases (the checks' own
   time, from fleet-result.json). The difference is start-up: each process that runs cases
   imports TensorFlow once, and with ``-n 2`` two workers do so at once.
3. The same fleet on Ray started locally (``--executor ray``) vs the ``-n 2`` run, at both
   example counts (Ray's own start, a few seconds, weighs on the light run only).
4. The fleet layer's own cost per model: one model checked as ``pytest --contract`` vs the
   same model as a one-model fleet (``pytest --fleet``), best of R runs each.
5. What one process pays before its first case: ``import tensorflow`` in a fresh interpreter.

Backends run in-process (``--in-process``) so the figures measure the fleet layer, not backend
children (whose start-up is another engineer's subject).

    .tox/tests/bin/python benchmarks/bench_fleet.py [--models 12] [--repeat 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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
class Run:
    wall: float
    cases: float  # summed seconds of the cases (fleet-result.json)
    cpu: float  # user + system seconds of the run's processes (pytest, its workers, Ray's)


@dataclass(frozen=True)
class Result:
    plan_models: int
    plan_cases: int
    plan_seconds: float
    plan_models_loaded: int
    fleet_models: int
    examples: int
    serial_seconds: float
    serial_case_seconds: float
    serial_cpu_seconds: float
    two_workers_seconds: float
    two_workers_case_seconds: float
    two_workers_cpu_seconds: float
    speedup: float
    heavy_examples: int
    heavy_serial_seconds: float
    heavy_serial_case_seconds: float
    heavy_serial_cpu_seconds: float
    heavy_two_workers_seconds: float
    heavy_two_workers_case_seconds: float
    heavy_two_workers_cpu_seconds: float
    heavy_speedup: float
    ray_seconds: float
    ray_case_seconds: float
    ray_vs_xdist: float
    heavy_ray_seconds: float
    heavy_ray_vs_xdist: float
    contract_alone_seconds: float
    one_model_fleet_seconds: float
    fleet_overhead: float
    import_tensorflow_seconds: float
    load_average: str
    #: the kernel shares CPU between sessions (autogroups), not processes: on a machine
    #: shared with other sessions, more processes in this one get no more CPU
    sched_autogroup: bool


def pytest(args: list[str], cwd: Path, results: Path | None = None) -> Run:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", *RUN, *args], cwd=cwd, env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise AssertionError(f"pytest {' '.join(args)} exited {done.returncode}:\n"
                             f"{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
    cases = 0.0
    if results is not None:
        data = json.loads((results / "fleet" / "fleet-result.json").read_text())
        cases = sum(c["seconds"] for m in data["models"] for c in m["cases"])
    return Run(seconds, cases, cpu)


def plan_thousand(root: Path) -> tuple[int, int, float, int]:
    kinds = ["scale-000", "total-001", "pick-002"]
    entries = [{"name": f"m{i:04d}", "base_path": str(root / "models" / kinds[i % 3]),
                "contract": str(root / "contracts" / f"{kinds[i % 3]}.json"), "versions": "all"}
               for i in range(1000)]
    manifest = root / "thousand.json"
    manifest.write_text(json.dumps({"models": entries}))
    best, cases, loaded = float("inf"), 0, 0
    for _ in range(3):
        engine = Engine()
        start = time.perf_counter()
        plan = plan_fleet(load_fleet(manifest), engine)
        best = min(best, time.perf_counter() - start)
        cases, loaded = plan.cases, len(engine.context.memo.values())
    return 1000, cases, best, loaded


def import_seconds() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import tensorflow"], check=True, capture_output=True,
                   env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    return time.perf_counter() - start


def measure(models: int, repeat: int, examples: int, heavy: int) -> Result:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        root = work / "fleet"
        build_fleet(root, models=models)
        planned = plan_thousand(root)
        fleet = ["--fleet", str(root / "models.config"), "--contracts", str(root / "contracts")]

        def fleet_run(name: str, n: int, *extra: str) -> Run:
            out = work / name
            return pytest([*fleet, "--examples", str(n), *extra, "--results-dir", str(out)], work, out)

        serial = fleet_run("serial", examples)
        parallel = fleet_run("parallel", examples, "-n", "2")
        on_ray = fleet_run("ray", examples, "--executor", "ray")
        heavy_serial = fleet_run("heavy-serial", heavy)
        heavy_parallel = fleet_run("heavy-parallel", heavy, "-n", "2")
        heavy_ray = fleet_run("heavy-ray", heavy, "--executor", "ray")
        # one model (scale-003: two versions) alone, and as a one-model fleet
        one = root / "one"
        one.mkdir()
        contract = contract_for("scale-003", "scale")
        contract["models"] = [str(root / "models" / "scale-003")]
        (one / "scale-003.json").write_text(json.dumps(contract))
        (one / "fleet.json").write_text(json.dumps({"models": [
            {"name": "scale-003", "base_path": str(root / "models" / "scale-003"),
             "contract": "scale-003.json", "versions": "all"}]}))
        alone, as_fleet = float("inf"), float("inf")
        for _ in range(repeat):  # interleaved, so both see the same load
            alone = min(alone, pytest(["--contract", str(one / "scale-003.json"), "--examples",
                                       str(examples), "--results-dir", str(work / "alone")], work).wall)
            # the same checks: the fleet's extra lint case left out (counted as skipped)
            as_fleet = min(as_fleet, pytest(["--fleet", str(one / "fleet.json"), "--examples",
                                             str(examples), "-m", "not lint", "--results-dir",
                                             str(work / "as-fleet")], work).wall)
        tf_import = min(import_seconds() for _ in range(2))
    return Result(planned[0], planned[1], round(planned[2], 3), planned[3], models + 1,
                  examples, round(serial.wall, 1), round(serial.cases, 1), round(serial.cpu, 1),
                  round(parallel.wall, 1), round(parallel.cases, 1), round(parallel.cpu, 1),
                  round(serial.wall / parallel.wall, 2),
                  heavy, round(heavy_serial.wall, 1), round(heavy_serial.cases, 1),
                  round(heavy_serial.cpu, 1),
                  round(heavy_parallel.wall, 1), round(heavy_parallel.cases, 1),
                  round(heavy_parallel.cpu, 1),
                  round(heavy_serial.wall / heavy_parallel.wall, 2),
                  round(on_ray.wall, 1), round(on_ray.cases, 1),
                  round(on_ray.wall / parallel.wall, 2),
                  round(heavy_ray.wall, 1), round(heavy_ray.wall / heavy_parallel.wall, 2),
                  round(alone, 2), round(as_fleet, 2), round(as_fleet / alone, 3),
                  round(tf_import, 1), " ".join(f"{x:.1f}" for x in os.getloadavg()),
                  _autogroup())


def _autogroup() -> bool:
    try:
        return Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
    except OSError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--examples", type=int, default=20, help="fuzzed examples per check")
    parser.add_argument("--heavy-examples", type=int, default=200,
                        help="fuzzed examples per check of the run where the checks dominate")
    parser.add_argument("--json", nargs="?", const=DEFAULT_JSON, type=Path,
                        help=f"also write the result as JSON (default {DEFAULT_JSON.name})")
    args = parser.parse_args()
    r = measure(args.models, args.repeat, args.examples, args.heavy_examples)
    print(f"planning {r.plan_models} models ({r.plan_cases} cases): {r.plan_seconds:.3f} s, "
          f"{r.plan_models_loaded} models read or loaded")
    print(f"fleet of {r.fleet_models} models, {r.examples} examples: serial {r.serial_seconds} s "
          f"(cases {r.serial_case_seconds} s, CPU {r.serial_cpu_seconds} s), -n 2 "
          f"{r.two_workers_seconds} s (cases {r.two_workers_case_seconds} s, CPU "
          f"{r.two_workers_cpu_seconds} s): {r.speedup}x")
    print(f"same, {r.heavy_examples} examples: serial {r.heavy_serial_seconds} s (cases "
          f"{r.heavy_serial_case_seconds} s, CPU {r.heavy_serial_cpu_seconds} s), -n 2 "
          f"{r.heavy_two_workers_seconds} s (cases {r.heavy_two_workers_case_seconds} s, CPU "
          f"{r.heavy_two_workers_cpu_seconds} s): {r.heavy_speedup}x")
    print(f"Ray local {r.ray_seconds} s (cases {r.ray_case_seconds} s) vs -n 2: {r.ray_vs_xdist}x; "
          f"at {r.heavy_examples} examples {r.heavy_ray_seconds} s: {r.heavy_ray_vs_xdist}x")
    print(f"one model: contract alone {r.contract_alone_seconds} s, as a fleet "
          f"{r.one_model_fleet_seconds} s: {r.fleet_overhead}x")
    print(f"import tensorflow in a fresh process: {r.import_tensorflow_seconds} s; "
          f"load average {r.load_average}; sched_autogroup {r.sched_autogroup}")
    if args.json:
        args.json.write_text(json.dumps(asdict(r), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
