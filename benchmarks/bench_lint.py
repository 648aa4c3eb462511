"""Lint cost as a ratio to plain ``validate``: 1,000 generated contracts and 100 models.

Contracts: 1,000 generated in a temporary folder, half of them extending a generated
two-level standard (org -> domain), half written flat; each is validated (``load_contract``,
what ``model-contract validate`` does) and linted (``lint_paths``, tier strict) in the same
run. Models: 100 copies of the bundled fixture SavedModels (each a fresh folder, so nothing
is remembered between them) linted from ``saved_model.pb``. Reported: seconds per contract
and per model, and each as a ratio to validating one contract (figures vary by machine; the
ratios are what to compare).

    .tox/tests/bin/python benchmarks/bench_lint.py [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
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
    ns = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = write_project(folder, ns.contracts)
        start = time.perf_counter()
        for path in paths:
            load_contract(path)
        validate_s = (time.perf_counter() - start) / len(paths)
        start = time.perf_counter()
        contract_result = lint_paths(paths, tier="strict")
        lint_s = (time.perf_counter() - start) / len(paths)
        models = []
        for i in range(ns.models):
            target = folder / "models" / f"m{i:03d}"
            shutil.copytree(FIXTURES / MODELS[i % len(MODELS)], target)
            models.append(target)
        lint_paths(models[:1])  # the first read imports TensorFlow's protobuf classes
        start = time.perf_counter()
        model_result = lint_paths(models[1:], tier="strict")
        model_s = (time.perf_counter() - start) / (len(models) - 1)
    figures = {
        "contracts": len(paths), "models": len(models),
        "validate_ms_per_contract": round(validate_s * 1000, 3),
        "lint_ms_per_contract": round(lint_s * 1000, 3),
        "lint_ms_per_model": round(model_s * 1000, 3),
        "lint_contract_over_validate": round(lint_s / validate_s, 2),
        "lint_model_over_validate": round(model_s / validate_s, 2),
        "contract_findings": len(contract_result.findings),
        "model_findings": len(model_result.findings),
    }
    print(json.dumps(figures, indent=2))
    if ns.json:
        DEFAULT_JSON.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
