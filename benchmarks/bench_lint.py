"""Lint cost as a ratio to plain ``validate``: 1,000 generated contracts and 100 models.

Contracts: 1,000 generated in a temporary folder, half of them extending a generated
two-level standard (org -> domain), half written flat; each is validated (``load_contract``,
what ``model-contract validate`` does) and linted (``lint_paths``, tier strict) in the same
run. Models: 100 copies of the bundled fixture SavedModels (each a fresh folder, so nothing
is remembered between them) linted from ``saved_model.pb``. The three are measured in
interleaved rounds (each round validates and lints its share of the contracts, then lints its
share of the models), so a shared machine's changing load weighs on all alike. Reported: the
median per round of the seconds per contract and per model, and of each as a ratio to
validating one contract (figures vary by machine; the ratios are what to compare).

    .tox/tests/bin/python benchmarks/bench_lint.py [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.contract.load import load_contract  # noqa: E402
from harness.lint.run import lint_paths  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "models_under_test" / "fixtures"
MODELS = ["tiny", "keras3_saved", "wrong_dtype", "wrong_rank", "nondeterministic",
          "out_of_range", "broken_argmax", "missing_signature"]
DEFAULT_JSON = Path(__file__).with_suffix(".json")


def contract(i: int, extends: bool) -> dict[str, object]:
    classes = 2 + i % 50
    sig = {"inputs": {"image": {"dtype": "float32", "shape": ["batch", 8 + i % 9, 8, 3],
                                "range": [0.0, 1.0]}},
           "outputs": {"scores": {"dtype": "float32", "shape": ["batch", classes],
                                  "range": [0.0, 1.0], "checks": [{"sum": 1.0, "axis": -1}]},
                       "class_id": {"dtype": "int64", "shape": ["batch"]}},
           "relations": [{"argmax": "scores", "equals": "class_id"}]}
    data: dict[str, object] = {"name": f"model_{i}", "version": f"1.{i}.0",
                               "dims": {"batch": {"min": 1, "max": 8}},
                               "signatures": {"classify": sig}}
    if extends:
        data = {"extends": ["domain.json"], "name": f"model_{i}", "version": f"1.{i}.0",
                "dims": {"batch": {"min": 1, "max": 8}},
                "signatures": {"classify": {"inputs": sig["inputs"],
                                            "outputs": {"scores": {"shape": ["batch", classes]}}}}}
    return data


def write_project(folder: Path, n: int) -> list[Path]:
    org = {"standard": "org", "schema_version": 1, "dims": {"batch": {"min": 1, "max": 64}},
           "tolerance": {"atol": 1e-4, "rtol": 1e-3}, "locked": ["/dims/batch", "/tolerance"]}
    domain = {"standard": "domain", "schema_version": 1, "extends": ["org.json"],
              "signatures": {"classify": {
                  "inputs": {"image": {"dtype": "float32", "shape": ["batch", None, None, 3],
                                       "range": [0.0, 1.0]}},
                  "outputs": {"scores": {"dtype": "float32", "shape": ["batch", None],
                                         "range": [0.0, 1.0], "checks": [{"sum": 1.0, "axis": -1}]},
                              "class_id": {"dtype": "int64", "shape": ["batch"]}},
                  "relations": [{"argmax": "scores", "equals": "class_id"}]}},
              "locked": ["/signatures/classify"]}
    (folder / "org.json").write_text(json.dumps(org))
    (folder / "domain.json").write_text(json.dumps(domain))
    paths = []
    for i in range(n):
        path = folder / f"c{i:04d}.json"
        path.write_text(json.dumps(contract(i, extends=i % 2 == 0), indent=1))
        paths.append(path)
    return paths


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", action="store_true", help=f"also write {DEFAULT_JSON.name}")
    parser.add_argument("--contracts", type=int, default=1000)
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5,
                        help="interleaved rounds (validate, lint contracts, lint models), so a "
                             "shared machine's changing load weighs on all three alike; the "
                             "ratios reported are the medians of the rounds' ratios")
    ns = parser.parse_args()
    rounds = max(1, ns.rounds)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = write_project(folder, ns.contracts)
        models = []
        for i in range(ns.models):
            target = folder / "models" / f"m{i:03d}"
            shutil.copytree(FIXTURES / MODELS[i % len(MODELS)], target)
            models.append(target)
        lint_paths(models[:1])  # the first read imports TensorFlow's protobuf classes
        models = models[1:]
        rows = []
        contract_findings = model_findings = 0
        for r in range(rounds):
            mine = paths[r::rounds]
            my_models = models[r::rounds]
            start = time.perf_counter()
            for path in mine:
                load_contract(path)
            validate_s = (time.perf_counter() - start) / len(mine)
            start = time.perf_counter()
            contract_findings += len(lint_paths(mine, tier="strict").findings)
            lint_s = (time.perf_counter() - start) / len(mine)
            start = time.perf_counter()
            model_findings += len(lint_paths(my_models, tier="strict").findings)
            model_s = (time.perf_counter() - start) / len(my_models)
            rows.append((validate_s, lint_s, model_s))
    validate_ms = statistics.median(v for v, _, _ in rows) * 1000
    figures = {
        "contracts": len(paths), "models": len(models) + 1, "rounds": rounds,
        "validate_ms_per_contract": round(validate_ms, 3),
        "lint_ms_per_contract": round(statistics.median(c for _, c, _ in rows) * 1000, 3),
        "lint_ms_per_model": round(statistics.median(m for _, _, m in rows) * 1000, 3),
        "lint_contract_over_validate": round(statistics.median(c / v for v, c, _ in rows), 2),
        "lint_model_over_validate": round(statistics.median(m / v for v, _, m in rows), 2),
        "contract_over_validate_per_round": [round(c / v, 2) for v, c, _ in rows],
        "model_over_validate_per_round": [round(m / v, 2) for v, _, m in rows],
        "contract_findings": contract_findings,
        "model_findings": model_findings,
    }
    print(json.dumps(figures, indent=2))
    if ns.json:
        DEFAULT_JSON.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
