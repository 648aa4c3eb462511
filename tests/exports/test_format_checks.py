"""The parity family through the engine: negative fixtures, exports, variants, converter failures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import harness.backends  # noqa: F401 - registers the backends
import harness.checks.formats  # noqa: F401 - registers the planner
from harness.backends.source import open_backend
from harness.context import RunContext
from harness.engine import Case, Engine, Skipped
from harness.errors import CheckFailure, ExportError
from harness.exports import session_cache
from harness.exports.cache import ExportCache
from harness.options import RunOptions
from harness.report.record import RunRecord
from tests.conftest import write_contract
from tests.exports.conftest import FIXTURES

CONTRACTS = FIXTURES / "contracts"
#: where run() writes failing examples and reports: the running test's tmp_path.
RESULTS: list[Path] = []


@pytest.fixture(autouse=True)
def results_under_tmp_path(tmp_path: Path) -> Any:
    RESULTS.append(tmp_path / "results")
    yield
    RESULTS.pop()


def run(contract: Path, **options: Any) -> dict[str, tuple[str, str]]:
    """check id -> (outcome, message) for the parity family of one contract."""
    options.setdefault("in_process", True)  # the SavedModel in this process: no child start-up
    options.setdefault("results_dir", RESULTS[-1])
    engine = Engine(RunOptions(examples=options.pop("examples", 5), **options))
    record = RunRecord.attach(engine.context.events)
    cache = session_cache(engine.context)  # the run's export cache (in-process backends use it)
    loaded = engine.load(contract)
    outcomes: dict[str, tuple[str, str]] = {}
    try:
        for model in engine.models_of(loaded):
            for case in engine.plan(loaded, model):
                if case.family != "parity":
                    continue
                outcomes[f"{case.signature}::{case.check}"] = _outcome(engine, case)
    finally:
        engine.close()
    run.record = record  # type: ignore[attr-defined]
    run.cache = cache  # type: ignore[attr-defined]
    return outcomes


def _outcome(engine: Engine, case: Case) -> tuple[str, str]:
    try:
        engine.execute(case)
    except CheckFailure as exc:
        return "failed", str(exc)
    except Skipped as exc:
        return "skipped", str(exc)
    return "passed", ""


def test_perturbed_tflite_fails_parity_naming_format_signature_output_tolerance() -> None:
    out = run(CONTRACTS / "tiny_perturbed_tflite.json")
    assert out["serving_default::conformance[tflite]"][0] == "passed"
    outcome, message = out["serving_default::parity[tflite]"]
    assert outcome == "failed"
    first = message.splitlines()[0]
    assert first.startswith("[parity[tflite]] tflite (given: ")
    assert "tiny_perturbed.tflite" in first
    assert "output 'y' of signature 'serving_default'" in first
    assert "beyond tolerance atol=1e-05, rtol=0.0001" in first
    assert "would pass with atol=" in message and "Reproduce with: pytest" in message


def test_perturbed_onnx_fails_parity() -> None:
    out = run(CONTRACTS / "tiny_perturbed_onnx.json")
    outcome, message = out["serving_default::parity[onnx]"]
    assert outcome == "failed"
    assert "[parity[onnx]] onnx (given: " in message and "tiny_perturbed.onnx" in message
    assert "output 'y' of signature 'serving_default'" in message
    assert "atol=1e-05, rtol=0.0001" in message


def test_perturbed_onnx_fails_parity_with_its_message_when_isolated() -> None:
    """The default (isolated) run: the defect hints must not ask the ONNX worker for
    TFLite-only facts (it did, and a parity failure became "bug in the backend worker")."""
    out = run(CONTRACTS / "tiny_perturbed_onnx.json", in_process=False)
    outcome, message = out["serving_default::parity[onnx]"]
    assert outcome == "failed"
    assert message.startswith("[parity[onnx]] onnx (given: ")
    assert "output 'y' of signature 'serving_default'" in message
    assert "would pass with atol=" in message
    assert "bug in the backend worker" not in message and "known converter defect" not in message


def test_renamed_output_fails_name_mapping_listing_both_sides() -> None:
    out = run(CONTRACTS / "tiny_renamed_output.json")
    for fmt in ("tflite", "onnx"):
        outcome, message = out[f"serving_default::conformance[{fmt}]"]
        assert outcome == "failed"
        assert f"names of signature 'serving_default' do not resolve in {fmt}" in message
        assert "probabilities float32 [?, 2]" in message  # the format's side
        assert "y float32 [batch, 2]" in message  # the contract's side
        assert f"output 'y': not found among the {fmt} outputs [label, probabilities]" in message
        assert f"formats.{fmt}.name_map.serving_default" in message
        assert out[f"serving_default::parity[{fmt}]"][0] == "failed"


def test_a_name_map_resolves_the_renamed_output() -> None:
    out = run(CONTRACTS / "tiny_renamed_mapped.json")
    assert {k: v[0] for k, v in out.items()} == {
        "serving_default::conformance[tflite]": "passed",
        "serving_default::parity[tflite]": "passed",
        "serving_default::conformance[onnx]": "passed",
        "serving_default::parity[onnx]": "passed",
    }


def test_option_artifact_wins_over_the_contract(tmp_path: Path) -> None:
    """--tflite PATH checks that file as is: here the perturbed one for the good contract."""
    contract = write_contract(tmp_path, models=[str(FIXTURES / "tiny")],
                              formats={"tflite": {}})
    out = run(contract, tflite=FIXTURES / "exports" / "tiny_perturbed.tflite")
    assert out["serving_default::parity[tflite]"][0] == "failed"


def test_format_dtype_differing_from_the_contract_is_reported(tmp_path: Path) -> None:
    contract = write_contract(tmp_path, models=[str(FIXTURES / "tiny")],
                              formats={"tflite": {"path": str(FIXTURES / "exports" /
                                                               "tiny_renamed.tflite"),
                                                  "name_map": {"serving_default": {
                                                      "outputs": {"y": "probabilities"}}}}})
    import json

    data = json.loads(contract.read_text())
    data["signatures"]["serving_default"]["outputs"]["label"]["dtype"] = "int32"
    contract.write_text(json.dumps(data))
    outcome, message = run(contract)["serving_default::conformance[tflite]"]
    assert outcome == "failed"
    assert "dtype Received: int64 / Documented: int32" in message
    assert "tflite turned int32 into int64" in message


def test_exported_formats_pass_and_record_parity_rows(first_exports: dict[str, Any],
                                                      tiny_model: Path, cache_root: Path,
                                                      tmp_path: Path) -> None:
    contract = write_contract(tmp_path, models=[str(tiny_model)],
                              formats={"tflite": {"tolerance": {"atol": 1e-4}}, "onnx": {}})
    out = run(contract, export_cache=cache_root)
    assert {v[0] for v in out.values()} == {"passed"}, out
    assert run.cache.conversions == 0  # type: ignore[attr-defined] # the session fixture made them
    rows = {(r["format"], r["output"]): r for r in run.record.parity}  # type: ignore[attr-defined]
    assert set(rows) == {("tflite", "y"), ("tflite", "label"), ("onnx", "y"), ("onnx", "label")}
    assert rows[("tflite", "y")]["tolerance"] == {"atol": 1e-4, "rtol": 1e-4, "statistic": "max"}
    assert rows[("tflite", "label")]["tolerance"] is None and rows[("tflite", "label")]["exact"]
    assert all(r["passed"] and r["calls"] >= 1 and r["max_abs"] < 1e-5 for r in rows.values())
    assert rows[("onnx", "y")]["model"] == "tiny" and rows[("onnx", "y")]["version"] is None


def test_int8_variant_is_judged_by_top1_agreement(first_exports: dict[str, Any],
                                                  tiny_model: Path, cache_root: Path,
                                                  tmp_path: Path) -> None:
    variants = [{"quantization": "int8", "top1_agreement": {"serving_default/y": 0.9}}]
    contract = write_contract(tmp_path, models=[str(tiny_model)],
                              formats={"tflite": {"variants": variants}})
    out = run(contract, export_cache=cache_root, backends=("tflite",))
    outcome, message = out["serving_default::parity[tflite-int8]"]
    assert outcome == "passed", message
    row = next(r for r in run.record.parity  # type: ignore[attr-defined]
               if r["format"] == "tflite-int8" and r["output"] == "y")
    assert row["top1_agreement"] >= 0.9 and row["top1_required"] == 0.9
    assert row["max_abs"] > 0  # quantization error is real, and recorded

    # the same variant cannot reach an impossible agreement: the failure says so
    variants[0]["top1_agreement"] = {"serving_default/y": 1.0}
    variants[0]["tolerance"] = {"atol": 1e-7, "rtol": 0}
    contract = write_contract(tmp_path, name="strict.json", models=[str(tiny_model)],
                              formats={"tflite": {"variants": variants}})
    out = run(contract, export_cache=cache_root, backends=("tflite",))
    assert run.cache.conversions == 0  # type: ignore[attr-defined]
    outcome, message = out["serving_default::parity[tflite-int8]"]
    if row["top1_agreement"] < 1.0:
        assert outcome == "failed" and "top-1 agreement" in message
    else:
        assert outcome == "passed"  # y agrees on every row; label is not judged


def test_a_converter_failure_fails_the_check_with_the_converter_message(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    contract = write_contract(tmp_path, models=[str(FIXTURES / "tiny")], formats={"onnx": {}})

    def failing_export(*args: Any, **kwargs: Any) -> dict[str, ExportError]:
        return {"serving_default": ExportError(
            "ONNX export (tf2onnx --signature_def serving_default --opset 17) failed: "
            "ValueError: tf2onnx cannot convert op 'Frobnicate'", file=FIXTURES / "tiny",
            hint="try a newer formats.onnx.opset")}

    monkeypatch.setattr("harness.exports.onnx.export_onnx", failing_export)
    out = run(contract, export_cache=tmp_path / "cache")
    for check in ("conformance[onnx]", "parity[onnx]"):
        outcome, message = out[f"serving_default::{check}"]
        assert outcome == "failed"
        assert message.startswith(f"[{check}] onnx: the converter failed on tiny")
        assert "cannot convert op 'Frobnicate'" in message
        assert "hint: try a newer formats.onnx.opset" in message


def test_planner_follows_the_contract_formats_and_backend_option(tmp_path: Path) -> None:
    contract = write_contract(tmp_path, models=[str(FIXTURES / "tiny")], formats={
        "tflite": {"variants": [{"quantization": "float16", "tolerance": {"atol": 1e-2}},
                                {"quantization": "int8"}]},
        "onnx": {"enabled": False}})
    engine = Engine(RunOptions())
    loaded = engine.load(contract)
    checks = [c.check for c in engine.plan(loaded, engine.models_of(loaded)[0])
              if c.family == "parity"]
    assert checks == ["conformance[tflite]", "parity[tflite]", "parity[tflite-float16]",
                      "parity[tflite-int8]"]
    engine = Engine(RunOptions(backends=("onnx",)))
    checks = [c.check for c in engine.plan(loaded, engine.models_of(loaded)[0])
              if c.family == "parity"]
    assert checks == ["conformance[onnx]", "parity[onnx]"]


def test_variant_without_a_judgement_is_skipped_not_passed(tmp_path: Path) -> None:
    contract = write_contract(tmp_path, models=[str(FIXTURES / "tiny")],
                              formats={"tflite": {"variants": [{"quantization": "float16"}]}})
    engine = Engine(RunOptions())
    loaded = engine.load(contract)
    case = next(c for c in engine.plan(loaded, engine.models_of(loaded)[0])
                if c.check == "parity[tflite-float16]")
    with pytest.raises(Skipped, match="declares neither top1_agreement"):
        engine.execute(case)


def test_cache_is_outside_the_model_by_default(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    monkeypatch.setenv("MODEL_CONTRACT_CACHE", str(tmp_path / "c"))
    cache = session_cache(RunContext(RunOptions()))
    assert isinstance(cache, ExportCache) and cache.root == tmp_path / "c"
    assert session_cache(RunContext(RunOptions(export_cache=tmp_path / "o"))).root == tmp_path / "o"


def test_a_refused_call_names_the_known_hashtable_defect() -> None:
    from harness.backends.base import InferenceError
    from harness.checks.formats import _call
    from harness.contract.load import load_contract

    sig = load_contract(CONTRACTS / "tiny.json").signature("serving_default")
    node = ("RuntimeError: hashtable need to be initialized before usingNode number 3 "
            "(HASHTABLE_FIND) failed to invoke.")

    class Refusing:
        label = "tflite (exported)"

        def infer(self, signature: str, inputs: Any) -> Any:
            raise InferenceError(self.label, signature, (node * 5)[:300])

    with pytest.raises(CheckFailure) as info:
        _call(Refusing(), sig, {"x": __import__("numpy").zeros((1, 4), "float32")},  # type: ignore[arg-type]
              "parity[tflite]")
    text = str(info.value)
    assert f"Received: {node}\n" in text  # said once, not five times
    assert "known converter defect" in text and "KeyValueTensorInitializer" in text


def test_standard_export_returning_nan_names_the_known_converter_defect(tmp_path: Path) -> None:
    """Keras 3 + tf.saved_model.save: the .tflite reads variables it never initialises."""
    out = run(CONTRACTS / "keras3_uninitialised_tflite.json", export_cache=tmp_path / "cache")
    assert out["serving_default::conformance[tflite]"][0] == "passed"  # names, dtypes, shapes
    outcome, message = out["serving_default::parity[tflite]"]
    assert outcome == "failed"
    assert "output 'output_0' of signature 'serving_default'" in message
    # uninitialised memory: NaN on some runs, other garbage (e.g. a uniform softmax) on others
    assert "(tflite, at [" in message and "savedmodel, the reference" in message
    assert "known converter defect" in message and "READ_VARIABLE" in message


def test_the_seed_articles_module_fails_tflite_parity_and_names_the_fixes(tmp_path: Path) -> None:
    """A tf.Module holding a Keras 3 model (classify, embed), saved with tf.saved_model.save."""
    from harness.backends.tflite import TFLITE_VARIABLE_FIXES

    out = run(CONTRACTS / "keras3_module_uninitialised_tflite.json", export_cache=tmp_path / "cache")
    outcome, message = out["classify::parity[tflite]"]
    assert outcome == "failed"
    assert "known converter defect" in message and "READ_VARIABLE" in message
    assert all(fix in message for fix in TFLITE_VARIABLE_FIXES)
    assert "close over the model, then re-export" not in message  # the old, unproven advice


def _fix_builders() -> dict[str, Any]:
    from harness.backends.tflite import TFLITE_VARIABLE_FIXES
    from models_under_test.fixtures_exports import (
        build_keras3_closed_module,
        build_keras3_export_archive,
    )

    builders = dict(zip(TFLITE_VARIABLE_FIXES, (build_keras3_export_archive, build_keras3_closed_module),
                        strict=True))
    return builders


@pytest.mark.parametrize("fix", range(2), ids=["ExportArchive", "module-tracking-tf-variables"])
def test_every_fix_the_diagnosis_suggests_makes_tflite_parity_pass(fix: int, tmp_path: Path) -> None:
    """The advice is applied to the same model and signatures; its TFLite export then agrees."""
    import json

    from harness.backends.tflite import TFLITE_VARIABLE_FIXES

    assert len(TFLITE_VARIABLE_FIXES) == 2, "every suggested fix needs a builder here"
    build = _fix_builders()[TFLITE_VARIABLE_FIXES[fix]]
    model = tmp_path / "fixed"
    build(model)
    data = json.loads((CONTRACTS / "keras3_module_uninitialised_tflite.json").read_text())
    data["models"] = [str(model)]
    data.pop("$schema")
    contract = tmp_path / "fixed.json"
    contract.write_text(json.dumps(data))
    out = run(contract, export_cache=tmp_path / "cache")
    assert {k: v[0] for k, v in out.items()} == {
        "classify::conformance[tflite]": "passed", "classify::parity[tflite]": "passed",
        "embed::conformance[tflite]": "passed", "embed::parity[tflite]": "passed"}, out


def test_the_hashtable_fix_makes_the_tflite_lookup_answer_like_the_savedmodel(tmp_path: Path) -> None:
    """The vocabulary-file table fails every TFLite call; built from constants (the export
    step the diagnosis suggests) the same lookup answers, and as the SavedModel does."""
    import numpy as np

    from harness.backends.base import InferenceError
    from harness.backends.savedmodel import SavedModelBackend
    from harness.backends.tflite import TFLiteBackend
    from harness.contract import load_contract
    from harness.savedmodel.layout import resolve_model
    from models_under_test.fixtures_lookup import WORDS, build_string_lookup_from_constants

    words = {"words": np.array([b"gamma"], dtype=object)}
    unknown = {"words": np.array([b"zeta"], dtype=object)}

    def backends(model: Path) -> tuple[Any, Any]:
        contract = tmp_path / f"{model.name}.json"
        contract.write_text(__import__("json").dumps({
            "name": model.name, "models": [str(model)], "dims": {"batch": {"min": 1, "max": 1}},
            "signatures": {"serving_default": {
                "inputs": {"words": {"dtype": "string", "shape": ["batch"], "vocabulary": list(WORDS)}},
                "outputs": {"ids": {"dtype": "int64", "shape": ["batch"]}}}},
            "formats": {"tflite": {}}}))
        loaded = load_contract(contract)
        [ref] = resolve_model(model)
        options = RunOptions(in_process=True, export_cache=tmp_path / "cache", results_dir=tmp_path)
        engine = Engine(options)
        return (SavedModelBackend(ref, loaded),
                open_backend(engine.context, "tflite", loaded, ref))

    _, broken = backends(FIXTURES / "string_lookup")
    with pytest.raises(InferenceError, match="hashtable need to be initialized"):
        broken.infer("serving_default", words)
    fixed_model = tmp_path / "string_lookup_constants"
    build_string_lookup_from_constants(fixed_model)
    reference, fixed = backends(fixed_model)
    assert isinstance(fixed, TFLiteBackend)
    for inputs in (words, unknown):
        want = reference.infer("serving_default", inputs)["ids"]
        assert fixed.infer("serving_default", inputs)["ids"].tolist() == want.tolist()
    assert reference.infer("serving_default", words)["ids"].tolist() == [2]
