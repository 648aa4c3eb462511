"""Hardening figures: ``python -m models_under_test.hardening [--corpus DIR]``.

Builds hostile, benign and corrupt inputs in a temporary folder (nothing is written to
the working tree) and counts:

* hostile models refused by the pre-load scan / tried;
* benign models flagged by the scan / tried (bundled models, fixtures that are healthy
  SavedModels, benign twins of the load-time fixtures, and TF Serving's corpus if given);
* corrupt inputs (models and contracts) refused with a user error naming the file /
  tried: anything else (a traceback, an internal error) counts as not clear.

Prints one JSON object. Fault injection is counted by ``tests/test_faults.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
HEALTHY_FIXTURES = ("tiny", "accepts_any_rank", "batch_dependent", "broken_argmax",
                    "nan_in_range", "nondeterministic", "out_of_range", "missing_asset",
                    "missing_signature")


def _hostile(root: Path) -> dict[str, Path]:
    from models_under_test import fixtures_load_time as load_time
    from models_under_test.fixtures_hostile import HOSTILE_DIR

    models = {p.name: p for p in sorted(HOSTILE_DIR.iterdir()) if p.is_dir()}
    target = root / "written_at_load.txt"
    models["tf1_restore_writes"] = root / "tf1_restore_writes"
    load_time.build_tf1_restore_writes(models["tf1_restore_writes"], target)
    models["tf2_restore_function_writes"] = root / "tf2_restore_function_writes"
    load_time.build_tf2_restore_function_writes(models["tf2_restore_function_writes"], target)
    secret = root / "secret.txt"
    secret.write_text("outside the model\n")
    for name, make in (("asset_symlink", lambda m: os.symlink(secret, m / "assets" / "v.txt")),
                       ("variables_dir_symlink", lambda m: os.symlink(root, m / "variables" / "d")),
                       ("fifo_in_variables", lambda m: os.mkfifo(m / "variables" / "pipe"))):
        model = root / name
        shutil.copytree(FIXTURES / "tiny", model)
        (model / "assets").mkdir(exist_ok=True)
        make(model)
        models[name] = model
    return models


def _benign(root: Path, corpus: Path | None) -> dict[str, Path]:
    from models_under_test import fixtures_load_time as load_time

    models = {f"bundled/{n}": HERE / n / "1" for n in
              ("classifier", "text_classifier", "image_classifier")
              if (HERE / n / "1" / "saved_model.pb").is_file()}
    models.update({f"fixture/{n}": FIXTURES / n for n in HEALTHY_FIXTURES
                   if (FIXTURES / n / "saved_model.pb").is_file()})
    models["tf2_mutable_table"] = root / "tf2_mutable_table"
    load_time.build_tf2_mutable_table(models["tf2_mutable_table"])
    if corpus is not None and corpus.is_dir():
        for pb in sorted(corpus.glob("*/*/saved_model.pb")):
            models[f"corpus/{pb.parent.parent.name}/{pb.parent.name}"] = pb.parent
    return models


def _corrupt_models(root: Path) -> dict[str, Path]:
    models: dict[str, Path] = {}

    def variant(name: str, change: Callable[[Path], Any]) -> None:
        model = root / "corrupt" / name
        shutil.copytree(FIXTURES / "tiny", model)
        change(model)
        models[name] = model

    def truncate(path: Path, keep: int) -> None:
        path.write_bytes(path.read_bytes()[:keep])

    def sparse(path: Path, size: int) -> None:
        with open(path, "wb") as handle:
            handle.truncate(size)

    variant("truncated_pb", lambda m: truncate(m / "saved_model.pb", 200))
    variant("empty_pb", lambda m: truncate(m / "saved_model.pb", 0))
    variant("sparse_2gb_pb", lambda m: sparse(m / "saved_model.pb", 2 * 10**9))
    variant("sparse_3gib_pb", lambda m: sparse(m / "saved_model.pb", 3 * 2**30))
    variant("no_pb", lambda m: (m / "saved_model.pb").unlink())
    variant("variables_removed", lambda m: shutil.rmtree(m / "variables"))
    variant("truncated_variables_index",
            lambda m: truncate(m / "variables" / "variables.index", 40))
    variant("truncated_variables_data",
            lambda m: [truncate(p, 8) for p in (m / "variables").glob("variables.data-*")])
    return models


def _corrupt_contracts(root: Path) -> dict[str, Path]:
    base = {"name": "t", "signatures": {"s": {"inputs": {"x": {"dtype": "float32",
                                                               "shape": ["batch", 4]}},
                                              "outputs": {"y": {"dtype": "float32"}}}},
            "dims": {"batch": {"min": 1, "max": 8}}}
    texts = {
        "nested_100000": '{"a":' * 100_000 + "1" + "}" * 100_000,
        "atol_1e999": json.dumps(base)[:-1] + ', "tolerance": {"atol": 1e999}}',
        "batch_2_to_40": json.dumps(dict(base, dims={"batch": {"min": 1, "max": 2**40}})),
        "fixed_dim_2_to_40": json.dumps(base).replace('"batch", 4', f'"batch", {2**40}'),
        "not_json": '{"name": ',
        "nan_constant": json.dumps(base)[:-1] + ', "tolerance": {"atol": NaN}}',
    }
    contracts = {}
    for name, text in texts.items():
        path = root / "contracts" / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        contracts[name] = path
    return contracts


def _scan_flags(model: Path) -> bool:
    from harness.errors import HarnessError
    from harness.safety import scan_saved_model

    try:
        return bool(scan_saved_model(model).findings)
    except HarnessError:
        return True


def _model_refused_clearly(model: Path, contract: Path, results: Path) -> tuple[bool, str]:
    """Scan, static read and one fuzzed check of ``model``: a user error naming it?"""
    from harness.contract import load_contract
    from harness.engine import Engine
    from harness.errors import HarnessError
    from harness.options import RunOptions

    engine = Engine(RunOptions(examples=2, results_dir=results, models=(model,)))
    messages = []
    try:
        loaded = load_contract(contract)
        [ref] = engine.models_of(loaded)
        for case in engine.plan(loaded, ref):
            if case.family not in ("static", "fuzz", "safety"):
                continue
            try:
                engine.execute(case)
            except HarnessError as error:
                messages.append(str(error))
            except AssertionError as failure:
                messages.append(str(failure))
            except Exception as error:  # noqa: BLE001 - counted as "not clear"
                return False, f"{type(error).__name__}: {error}"
    except HarnessError as error:
        messages.append(str(error))
    except Exception as error:  # noqa: BLE001 - counted as "not clear"
        return False, f"{type(error).__name__}: {error}"
    finally:
        engine.close()
    clear = bool(messages) and all(str(model) in m or m.startswith("[") for m in messages) \
        and not any("Traceback" in m or "bug in the backend" in m for m in messages)
    return clear, messages[0] if messages else "accepted"


def _contract_refused_clearly(path: Path) -> tuple[bool, str]:
    from harness.contract import load_contract
    from harness.errors import ContractError

    try:
        load_contract(path)
    except ContractError as error:
        return str(error).startswith(str(path)), str(error).splitlines()[0]
    except Exception as error:  # noqa: BLE001 - counted as "not clear"
        return False, f"{type(error).__name__}: {error}"
    return False, "accepted"


def measure(root: Path, corpus: Path | None) -> dict[str, Any]:
    hostile = _hostile(root / "hostile")
    refused = {name: _scan_flags(model) for name, model in hostile.items()}
    benign = _benign(root / "benign", corpus)
    flagged = {name: _scan_flags(model) for name, model in benign.items()}
    contract = FIXTURES / "contracts" / "tiny.json"
    corrupt: dict[str, tuple[bool, str]] = {}
    for name, model in _corrupt_models(root).items():
        corrupt[f"model/{name}"] = _model_refused_clearly(model, contract, root / "results")
    for name, path in _corrupt_contracts(root).items():
        corrupt[f"contract/{name}"] = _contract_refused_clearly(path)
    leftovers = sorted(p.name for p in Path(tempfile.gettempdir()).glob("model-contract-*"))
    return {
        "hostile_refused": f"{sum(refused.values())}/{len(refused)}",
        "hostile_not_refused": sorted(n for n, ok in refused.items() if not ok),
        "benign_flagged": f"{sum(flagged.values())}/{len(flagged)}",
        "benign_flagged_names": sorted(n for n, bad in flagged.items() if bad),
        "corrupt_refused_clearly": f"{sum(ok for ok, _ in corrupt.values())}/{len(corrupt)}",
        "corrupt_details": {n: m.splitlines()[0][:160] for n, (_ok, m) in corrupt.items()},
        "corrupt_not_clear": sorted(n for n, (ok, _m) in corrupt.items() if not ok),
        "temp_folders_left": leftovers,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=None,
                        help="TF Serving's test models (tf-serving-testdata) to count as benign")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="hardening-figures-"))
    tempfile.tempdir = str(scratch / "tmp")
    Path(tempfile.tempdir).mkdir()
    os.environ["TMPDIR"] = tempfile.tempdir
    try:
        print(json.dumps(measure(scratch / "work", args.corpus), indent=1))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
