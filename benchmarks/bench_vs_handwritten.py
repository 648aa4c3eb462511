"""The harness against the parity check a user writes by hand, and its cost per example.

Part 1, in one run, interleaved (script, cold, warm; ``--rounds`` times), each a whole
process timed from outside:

* the hand-written script (``benchmarks/handwritten_parity.py``): import TensorFlow, load
  the classifier, convert ``classify`` to TFLite and ONNX, 100 examples x 3 runtimes, compare;
* ``pytest --contract C -k parity --examples 100`` on the same model with an empty export
  cache (cold) and again on the cache that run filled (warm), isolation on (the default).
  ``C`` declares the same signature and the formats ``tflite`` and ``onnx``.

The same two runs again as a CI runner makes them (``cold_ci``, ``warm_ci``): with ``CI=true``
hypothesis loads its ``ci`` profile (derandomized), so every run draws the same examples. The
plain rows run with every CI variable hypothesis looks at removed, so they draw fresh examples
each run, as on a developer's machine.

And with ``--keep-warm`` (fresh examples, export cache warm): ``kept_start``, a run that finds
no kept fork server and starts one (each round first stops the one of the round before),
and ``kept``, the next run, which finds it running: TensorFlow imported already, the way a
developer's second run finds it; ``kept_batched``, the same with ``--calls-per-example 16``
(hypothesis' cost per example and each round trip shared by 16 calls). The kept servers live
in a folder under the temporary one (``$MODEL_CONTRACT_WARM_DIR``) and are stopped at the
end.

Beside them, each round: ``python -c "import tensorflow"`` alone (``import_tf``), the floor of
any run that calls the SavedModel on inputs it has not seen (it must import TensorFlow once).

Reported: medians, the ratios to the script, and each round's seconds. (The contract is
named ``classifier.json``: ``-k`` matches file names too, and under the name ``parity.json``
it selected every check.)

Part 1b, the slope in models: ``-k parity --examples 20`` over one contract listing 1 and
then 4 classifiers (same signatures, each its own seeded weights, so no two share an export),
cold and warm; the slope is the cost of one more model, also as a share of a 1-model run.

Part 2, the per-example slope: ``conformance`` of a ``[1,224,224,3]`` float32 model whose
signature is one ``reduce_mean`` (and again of one that returns the image halved, so that a
``[1,224,224,3]`` output comes back too), run through the engine with 5 and with 505 examples
(isolated, the default, and in-process), each timed on a backend already loaded (the case
runs once untimed first), so that neither TensorFlow's start nor the load is in it; the
slope is the difference over 500 examples. Beside it: the model's own call (drawing the
input with numpy included) timed in this process, and the share of distinct values in
inputs drawn by the contract's strategy. (Timing whole ``pytest`` processes at 5 and 505
examples was tried first: on a shared machine the start-up's noise, seconds, swamps the
difference.)

    python benchmarks/bench_vs_handwritten.py [--rounds 1] [--skip-script] [--skip-models]
        [--skip-slope] [--json]

Everything is written under a temporary folder; the JSON goes next to this file. First, the
harness' own modules are compiled to bytecode (``__pycache__``, ignored by git), as
installing the package does: from a checkout under ``PYTHONDONTWRITEBYTECODE`` every process
of every run would compile them again (0.15 s in the run's process alone), which no
installed copy pays and the script, one file over compiled libraries, does not either.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT))  # after $PYTHONPATH: another checkout of the harness can be measured
MODEL = ROOT / "models_under_test" / "classifier"
SCRIPT = Path(__file__).with_name("handwritten_parity.py")
DEFAULT_JSON = Path(__file__).with_suffix(".json")
SHAPE = [1, 224, 224, 3]


def classifier_contract(folder: Path, models: list[Path] | None = None) -> Path:
    """The parity contract of the classifier (or of ``models``, classifiers all).

    Named ``classifier.json``: pytest's ``-k`` also matches the file name, and a contract
    called ``parity.json`` would select every case of the run, not the parity checks.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "classifier.json"
    path.write_text(json.dumps({
        "$schema": str(ROOT / "contracts" / "schema" / "contract-v1.schema.json"),
        "name": "classifier", "version": "1.0.0",
        "models": [str(m) for m in (models or [MODEL])], "tags": ["serve"],
        "dims": {"batch": {"min": 1, "max": 32}},
        "signatures": {"classify": {
            "inputs": {"x": {"dtype": "float32", "shape": ["batch", 784], "range": [0.0, 1.0]}},
            "outputs": {"class_id": {"dtype": "int64", "shape": ["batch"]},
                        "prob": {"dtype": "float32", "shape": ["batch", 10],
                                 "range": [0.0, 1.0]}}}},
        "tolerance": {"atol": 1e-4, "rtol": 1e-3},
        "formats": {"tflite": {}, "onnx": {}},
    }, indent=2))
    return path


#: the per-example models: output name -> (its TensorFlow expression, its contract block)
SLOPE_MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    # one number out: the cost is the input's way in
    "mean": ("tf.reduce_mean(image, axis=[1, 2, 3])", {"dtype": "float32", "shape": [1]}),
    # an image out (as a segmentation or an autoencoder): the output's way back too
    "halved": ("image * 0.5", {"dtype": "float32", "shape": SHAPE, "range": [0.0, 0.5]}),
}


def mean_model(folder: Path, output: str = "mean") -> tuple[Path, Path]:
    """A SavedModel whose ``serving_default`` is one op on a ``SHAPE`` image
    (:data:`SLOPE_MODELS`), and its contract."""
    expression, declared = SLOPE_MODELS[output]
    code = (
        "import sys, tensorflow as tf\n"
        "class M(tf.Module):\n"
        f"    @tf.function(input_signature=[tf.TensorSpec({SHAPE}, tf.float32, name='image')])\n"
        "    def serve(self, image):\n"
        f"        return {{'{output}': {expression}}}\n"
        "m = M()\n"
        "tf.saved_model.save(m, sys.argv[1], signatures={'serving_default': m.serve})\n")
    model = folder / output
    subprocess.run([sys.executable, "-c", code, str(model / "1")], check=True,
                   capture_output=True, env=_env())
    contract = folder / f"{output}.json"
    contract.write_text(json.dumps({
        "$schema": str(ROOT / "contracts" / "schema" / "contract-v1.schema.json"),
        "name": output, "version": "1.0.0", "models": [str(model)], "tags": ["serve"],
        "signatures": {"serving_default": {
            "inputs": {"image": {"dtype": "float32", "shape": SHAPE, "range": [0.0, 1.0]}},
            "outputs": {output: declared}}},
    }, indent=2))
    return model, contract


#: the variables by which hypothesis decides it runs on CI (and loads its ``ci`` profile)
CI_VARIABLES = ("CI", "__TOX_ENVIRONMENT_VARIABLE_ORIGINAL_CI", "TF_BUILD", "bamboo.buildKey",
                "BUILDKITE", "CIRCLECI", "CIRRUS_CI", "CODEBUILD_BUILD_ID", "GITHUB_ACTIONS",
                "GITLAB_CI", "HEROKU_TEST_RUN_ID", "TEAMCITY_VERSION")


def _env(ci: bool = False) -> dict[str, str]:
    """This process' environment for a measured command; ``ci``: as on a CI runner
    (``CI=true``), else with no CI variable at all (fresh examples every run)."""
    env = {k: v for k, v in os.environ.items() if k not in CI_VARIABLES}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("PYTHONHASHSEED", "0")
    if ci:
        env["CI"] = "true"
    return env


def timed(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env or _env(), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n"
                         f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return seconds


def pytest_command(contract: Path, cache: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--contract",
            str(contract), "--export-cache", str(cache), "--results-dir", str(cache.parent /
            "results"), *extra]


def versus_script(tmp: Path, rounds: int, examples: int) -> dict[str, Any]:
    contract = classifier_contract(tmp)
    version = next(p for p in sorted(MODEL.iterdir()) if p.name.isdigit())
    rows: dict[str, list[float]] = {"script": [], "import_tf": [], "cold": [], "warm": [],
                                    "cold_ci": [], "warm_ci": [], "kept_start": [], "kept": [],
                                    "kept_batched": []}
    kept_env = _env()
    kept_env["MODEL_CONTRACT_WARM_DIR"] = str(tmp / "warm")
    stop_kept = [sys.executable, "-m", "harness.cli", "warm", "stop"]
    for index in range(rounds):
        rows["script"].append(timed([sys.executable, str(SCRIPT), str(version), "--examples",
                                     str(examples)], tmp))
        rows["import_tf"].append(timed([sys.executable, "-c", "import tensorflow"], tmp))
        for suffix, ci in (("", False), ("_ci", True)):
            cache = tmp / f"cache{index}{suffix}"
            command = pytest_command(contract, cache, "-k", "parity", "--examples",
                                     str(examples))
            rows[f"cold{suffix}"].append(timed(command, tmp, _env(ci)))
            rows[f"warm{suffix}"].append(timed(command, tmp, _env(ci)))
        timed(stop_kept, ROOT, kept_env)
        command = pytest_command(contract, tmp / f"cache{index}", "-k", "parity", "--examples",
                                 str(examples), "--keep-warm")
        rows["kept_start"].append(timed(command, tmp, kept_env))
        rows["kept"].append(timed(command, tmp, kept_env))
        rows["kept_batched"].append(timed([*command, "--calls-per-example", "16"], tmp,
                                          kept_env))
    timed(stop_kept, ROOT, kept_env)
    medians = {k: statistics.median(v) for k, v in rows.items()}
    return {"examples": examples, "rounds": rounds, "seconds": rows, "median_s": medians,
            "ratio_to_script": {k: v / medians["script"] for k, v in medians.items()}}


def classifiers(folder: Path, count: int) -> list[Path]:
    """``count`` classifiers like the bundled one (same signatures), each with its own
    seeded weights, so that no two share an export cache entry (the cache is keyed by
    content)."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "import keras, tensorflow as tf\n"
        "from models_under_test.classifier import ClassifierModule, make_model\n"
        "for i, dest in enumerate(sys.argv[1:]):\n"
        "    keras.utils.set_random_seed(100 + i)\n"
        "    m = ClassifierModule(make_model())\n"
        "    tf.saved_model.save(m, str(Path(dest) / '1'), signatures={\n"
        "        'classify': m.classify, 'embed': m.embed, 'serving_default': m.predict})\n")
    models = [folder / f"classifier{i}" for i in range(count)]
    env = _env()
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    subprocess.run([sys.executable, "-c", code, *map(str, models)], check=True,
                   capture_output=True, env=env)
    return models


def models_slope(tmp: Path, counts: tuple[int, int], examples: int) -> dict[str, Any]:
    """Seconds of ``-k parity`` runs over 1 and over N classifiers in one contract, cold and
    warm; the slope is the cost of one more model."""
    few, many = counts
    models = classifiers(tmp / "models", many)
    seconds: dict[str, dict[str, float]] = {"cold": {}, "warm": {}}
    for count in counts:
        contract = classifier_contract(tmp / f"models-{count}", models[:count])
        command = pytest_command(contract, tmp / f"models-{count}" / "cache", "-k", "parity",
                                 "--examples", str(examples))
        seconds["cold"][str(count)] = timed(command, tmp)
        seconds["warm"][str(count)] = timed(command, tmp)
    slope_s = {k: (v[str(many)] - v[str(few)]) / (many - few) for k, v in seconds.items()}
    return {"models": list(counts), "examples": examples, "seconds": seconds,
            "seconds_per_model": slope_s,
            "per_model_share_of_one": {k: slope_s[k] / seconds[k][str(few)] for k in slope_s}}


def own_call_ms(model: Path, output: str = "mean", calls: int = 200) -> float:
    """The model's own call, drawing its input with numpy, in this process."""
    import tensorflow as tf

    fn = tf.saved_model.load(str(model / "1")).signatures["serving_default"]
    rng = np.random.default_rng(0)

    def once() -> None:
        fn(image=tf.constant(rng.random(SHAPE, dtype=np.float32)))[output].numpy()

    for _ in range(10):
        once()
    start = time.perf_counter()
    for _ in range(calls):
        once()
    return (time.perf_counter() - start) / calls * 1e3


def distinct_share(contract: Path, draws: int = 20) -> float:
    """Mean share of distinct values per input the contract's strategy draws."""
    from hypothesis import HealthCheck, Phase, given, settings

    from harness.contract.load import load_contract
    from harness.strategies import call_strategy

    loaded = load_contract(contract)
    shares: list[float] = []

    @settings(max_examples=draws, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(call_strategy(loaded, loaded.signature("serving_default")))
    def draw(call: Any) -> None:
        array = np.asarray(call.inputs["image"])
        shares.append(np.unique(array).size / array.size)

    draw()
    return statistics.mean(shares)


def check_seconds(contract: Path, tmp: Path, examples: int, in_process: bool) -> float:
    """Seconds of one ``conformance`` case of ``examples`` calls, its backend loaded."""
    from harness.engine import Engine
    from harness.options import RunOptions

    engine = Engine(RunOptions(examples=examples, in_process=in_process,
                               results_dir=tmp / "results", export_cache=tmp / "cache"))
    try:
        loaded = engine.load(contract)
        [ref] = engine.models_of(loaded)
        [case] = [c for c in engine.plan(loaded, ref) if c.check == "conformance"]
        engine.execute(case)  # loads the backend
        start = time.perf_counter()
        engine.execute(case)
        return time.perf_counter() - start
    finally:
        engine.close()


def slope(tmp: Path, small: int, large: int, output: str = "mean") -> dict[str, Any]:
    model, contract = mean_model(tmp, output)
    figures: dict[str, Any] = {"shape": SHAPE, "output": output, "examples": [small, large]}
    for mode, in_process in (("isolated", False), ("in_process", True)):
        times = {n: check_seconds(contract, tmp, n, in_process) for n in (small, large)}
        figures[f"{mode}_s"] = times
        figures[f"{mode}_ms_per_example"] = (times[large] - times[small]) / (large - small) * 1e3
    figures["own_call_ms"] = own_call_ms(model, output)
    for mode in ("isolated", "in_process"):
        figures[f"{mode}_harness_ms_per_example"] = (figures[f"{mode}_ms_per_example"]
                                                     - figures["own_call_ms"])
    figures["distinct_share"] = distinct_share(contract)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--skip-slope", action="store_true")
    parser.add_argument("--skip-script", action="store_true")
    parser.add_argument("--skip-models", action="store_true")
    parser.add_argument("--json", nargs="?", const=DEFAULT_JSON, type=Path)
    args = parser.parse_args()
    import compileall

    compileall.compile_dir(str(ROOT / "harness"), quiet=1)
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-vs-handwritten-") as folder:
        tmp = Path(folder)
        if not args.skip_script:
            part = result["vs_script"] = versus_script(tmp, args.rounds, args.examples)
            print(f"{'':34} {'median s':>9} {'ratio':>6}  rounds (s)")
            for name, label in (("script", "hand-written script"),
                                ("import_tf", "python -c 'import tensorflow'"),
                                ("cold", "harness, empty export cache"),
                                ("warm", "harness, export cache warm"),
                                ("cold_ci", "as on CI (CI=true), cold"),
                                ("warm_ci", "as on CI (CI=true), warm"),
                                ("kept_start", "--keep-warm, starting its server"),
                                ("kept", "--keep-warm, its server running"),
                                ("kept_batched", "the same, --calls-per-example 16")):
                spread = ", ".join(f"{t:.2f}" for t in part["seconds"][name])
                print(f"{label:34} {part['median_s'][name]:9.2f} "
                      f"{part['ratio_to_script'][name]:6.2f}  {spread}")
        if not args.skip_models:
            part = result["models"] = models_slope(tmp, (1, 4), 20)
            print(f"per model (-k parity, 20 examples, 1 vs 4 classifiers in one contract): "
                  f"cold {part['seconds_per_model']['cold']:.2f} s "
                  f"({part['per_model_share_of_one']['cold']:.2f} of a 1-model run), warm "
                  f"{part['seconds_per_model']['warm']:.2f} s "
                  f"({part['per_model_share_of_one']['warm']:.2f})")
        for output, key in (("mean", "slope"), ("halved", "slope_image_out")):
            if args.skip_slope:
                break
            part = result[key] = slope(tmp, 5, 505, output)
            print(f"per example, {SHAPE} float32 in, {SLOPE_MODELS[output][0]} out, "
                  f"conformance 5 vs 505 examples: isolated "
                  f"{part['isolated_ms_per_example']:.2f} ms, in-process "
                  f"{part['in_process_ms_per_example']:.2f} ms; the model's own call "
                  f"{part['own_call_ms']:.2f} ms; harness cost isolated "
                  f"{part['isolated_harness_ms_per_example']:.2f} ms; distinct values "
                  f"{part['distinct_share']:.0%}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
