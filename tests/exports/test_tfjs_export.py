"""TF.js exports made by tensorflowjs_converter in its own environment, and the checks on them.

Marked ``tfjs_converter``: they need the converter's environment, which the first of them
creates (once per machine, into ``$MODEL_CONTRACT_TOOLS`` or ``~/.cache/model-contract/tools``:
about 2.9 GB and two to three minutes), as any run of a contract listing ``tfjs`` would.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.exports import Export
from harness.exports.cache import ExportCache
from tests.conftest import write_contract
from tests.exports.conftest import tree_state
from tests.exports.test_format_checks import results_under_tmp_path, run  # noqa: F401 - autouse: results under tmp_path

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.tfjs_converter,
    pytest.mark.skipif(shutil.which("node") is None or shutil.which("npm") is None,
                       reason="Node.js and npm are needed for the TF.js runtime"),
]


def test_export_is_converted_once_then_cached_and_never_writes_the_model(
        tiny_model: Path, tmp_path: Path) -> None:
    from harness.exports.tfjs import export_tfjs

    before = tree_state(tiny_model)
    cache = ExportCache(tmp_path / "cache")
    first = export_tfjs(tiny_model, ["serving_default"], cache=cache)["serving_default"]
    assert isinstance(first, Export) and not first.cached and cache.conversions == 1
    assert first.how == "tensorflowjs_converter --signature_name serving_default"
    model = json.loads(first.path.read_text())
    assert model["convertedBy"] == "TensorFlow.js Converter v4.22.0"
    assert set(model["signature"]["outputs"]) == {"y", "label"}
    again = export_tfjs(tiny_model, ["serving_default"], cache=cache)["serving_default"]
    assert isinstance(again, Export) and again.cached and again.path == first.path
    assert cache.conversions == 1
    assert tree_state(tiny_model) == before  # the converter read a read-only copy

    shard = next(p for p in first.path.parent.iterdir() if p.suffix == ".bin")
    shard.write_bytes(shard.read_bytes()[:-4])
    redone = export_tfjs(tiny_model, ["serving_default"], cache=cache)["serving_default"]
    assert isinstance(redone, Export) and not redone.cached
    assert redone.replaced.startswith(f"the cached weight shard {shard.name} was discarded: "
                                      "its sha256 ")


def test_a_relative_export_cache_is_the_users_folder_for_the_converter_too(
        tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--export-cache cache`` (relative): the converter runs in another working directory
    and once failed with "SavedModel file does not exist at: cache/.tfjs-.../savedmodel"."""
    from harness.exports.tfjs import export_tfjs

    monkeypatch.chdir(tmp_path)
    cache = ExportCache(Path("cache"))
    made = export_tfjs(tiny_model, ["serving_default"], cache=cache)["serving_default"]
    assert isinstance(made, Export), made
    assert made.path.is_relative_to(tmp_path / "cache") and made.path.is_file()


def test_exported_tiny_and_its_quantized_variants_pass(tiny_model: Path, tmp_path: Path
                                                        ) -> None:
    variants = [{"quantization": "float16", "tolerance": {"atol": 1e-2, "rtol": 1e-2}},
                {"quantization": "uint8", "top1_agreement": {"serving_default/y": 0.9}}]
    contract = write_contract(tmp_path, models=[str(tiny_model)],
                              formats={"tfjs": {"variants": variants}})
    out = run(contract, export_cache=tmp_path / "cache")
    assert {k: v[0] for k, v in out.items()} == {
        "serving_default::conformance[tfjs]": "passed",
        "serving_default::parity[tfjs]": "passed",
        "serving_default::parity[tfjs-float16]": "passed",
        "serving_default::parity[tfjs-uint8]": "passed"}, out
    rows = {(r["format"], r["output"]): r for r in run.record.parity}  # type: ignore[attr-defined]
    assert rows[("tfjs", "y")]["max_abs"] < 1e-5
    assert rows[("tfjs-uint8", "y")]["top1_agreement"] >= 0.9
    assert rows[("tfjs-float16", "y")]["max_abs"] > 0  # the quantization error is recorded
    labels = {r["label"] for r in run.record.parity}  # type: ignore[attr-defined]
    assert any("tensorflowjs_converter --quantize_uint8" in label for label in labels)


def test_an_op_the_converter_refuses_is_named_with_its_signature(tmp_path: Path) -> None:
    import tensorflow as tf

    class Lgamma(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def serve(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"y": tf.math.lgamma(x + 1.0), "label": tf.argmax(x, axis=-1)}

    module = Lgamma()
    tf.saved_model.save(module, str(tmp_path / "lgamma"),
                        signatures={"serving_default": module.serve})
    contract = write_contract(tmp_path, models=[str(tmp_path / "lgamma")],
                              formats={"tfjs": {}})
    out = run(contract, export_cache=tmp_path / "cache")
    outcome, message = out["serving_default::conformance[tfjs]"]
    assert outcome == "failed"
    assert message.startswith("[conformance[tfjs]] tfjs: the converter failed on lgamma")
    assert "Unsupported Ops in the model before optimization" in message
    assert ("TF.js fidelity (unsupported-op): signature 'serving_default' uses op Lgamma, "
            "which the TF.js converter does not support") in message
    assert "hint: the TF.js converter has no kernel for an op of the signature" in message


def test_the_text_classifiers_vocabulary_lookup_is_a_precise_finding(tmp_path: Path) -> None:
    data = json.loads((ROOT / "contracts" / "text_classifier.json").read_text())
    data["models"] = [str(ROOT / "models_under_test" / "text_classifier")]
    data["formats"] = {"tfjs": {}}
    data["extends"] = [str((ROOT / "contracts" / ref).resolve()) for ref in data.get("extends", [])]
    data.pop("$schema")
    contract = tmp_path / "text.json"
    contract.write_text(json.dumps(data))
    out = run(contract, export_cache=tmp_path / "cache", backends=("tfjs",))
    outcome, message = out["classify::conformance[tfjs]"]
    assert outcome == "failed"
    assert "Received: ValueError: Unknown op 'InitializeTableFromTextFileV2'" in message
    assert ("TF.js fidelity (unsupported-op): signature 'classify' uses op "
            "InitializeTableFromTextFileV2, which the TF.js runtime does not support; the "
            "lookup table is filled from a vocabulary file") in message
    kinds = {(f["signature"], f["kind"]) for f in run.record.findings}  # type: ignore[attr-defined]
    assert ("classify", "strings") in kinds and ("classify", "int64-to-int32") in kinds


def test_the_bundled_classifier_passes_on_tfjs(tmp_path: Path) -> None:
    out = run(ROOT / "contracts" / "classifier.json", export_cache=tmp_path / "cache",
              backends=("tfjs",))
    tfjs = {k: v for k, v in out.items() if "tfjs" in k}
    assert set(tfjs) == {f"{s}::{c}[tfjs]" for s in ("classify", "embed")
                         for c in ("conformance", "parity")}
    assert {v[0] for v in tfjs.values()} == {"passed"}, tfjs


def test_the_bundled_image_classifier_passes_on_tfjs(tmp_path: Path) -> None:
    out = run(ROOT / "contracts" / "image_classifier.json", export_cache=tmp_path / "cache",
              backends=("tfjs",), examples=2)
    tfjs = {k: v for k, v in out.items() if "tfjs" in k}
    assert set(tfjs) == {f"{s}::{c}[tfjs]" for s in ("serving_default", "classify")
                         for c in ("conformance", "parity")}
    assert {v[0] for v in tfjs.values()} == {"passed"}, tfjs
    rows = [r for r in run.record.parity if r["format"] == "tfjs"]  # type: ignore[attr-defined]
    assert rows and all(r["passed"] for r in rows)


def test_ensure_shape_is_a_named_runtime_defect(tmp_path: Path) -> None:
    """Stock TF.js 4.22 cannot run tf.ensure_shape: the converter keeps the op as TensorFlow
    wrote it (one input, the shape as an attribute), the runtime's op mapper reads the shape
    from a second input that does not exist."""
    import tensorflow as tf

    class Guarded(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def serve(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
            x = tf.ensure_shape(x, [None, 4])
            return {"y": tf.nn.softmax(x), "label": tf.argmax(x, axis=-1)}

    module = Guarded()
    tf.saved_model.save(module, str(tmp_path / "guarded"),
                        signatures={"serving_default": module.serve})
    contract = write_contract(tmp_path, models=[str(tmp_path / "guarded")],
                              formats={"tfjs": {}})
    out = run(contract, export_cache=tmp_path / "cache", examples=1)
    outcome, message = out["serving_default::conformance[tfjs]"]
    assert outcome == "failed"
    assert ("Received: ValueError: Cannot read properties of undefined (reading 'split'); "
            "the TF.js runtime cannot run op EnsureShape: TF.js 4.22 reads EnsureShape's "
            "shape from a second input, but TensorFlow's op has one input and a shape "
            "attribute (tf.ensure_shape in the model code)") in message
    assert ("TF.js fidelity (unsupported-op): signature 'serving_default' uses op "
            "EnsureShape, which the TF.js runtime does not support; replace tf.ensure_shape "
            "by a shape check TF.js runs, or check the shape in the client before the "
            "call") in message


def test_int64_values_beyond_2_31_wrap_in_tfjs_and_fail_parity(tmp_path: Path) -> None:
    """The int64-to-int32 finding, shown: TF.js runs an int64 signature in int32, so a value
    the contract allows beyond 2^31 comes back wrapped."""
    import tensorflow as tf

    class Offset(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.int64, name="ids")])
        def serve(self, ids: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"next": ids + 1}

    module = Offset()
    tf.saved_model.save(module, str(tmp_path / "offset"),
                        signatures={"serving_default": module.serve})
    contract = tmp_path / "offset.json"
    contract.write_text(json.dumps({
        "name": "offset", "models": [str(tmp_path / "offset")],
        "signatures": {"serving_default": {
            "inputs": {"ids": {"dtype": "int64", "shape": ["batch"], "range": [2**31, 2**40]}},
            "outputs": {"next": {"dtype": "int64", "shape": ["batch"]}}}},
        "dims": {"batch": {"min": 1, "max": 4}},
        "formats": {"tfjs": {}}}))
    out = run(contract, export_cache=tmp_path / "cache", examples=3)
    assert out["serving_default::conformance[tfjs]"][0] == "passed"
    outcome, message = out["serving_default::parity[tfjs]"]
    assert outcome == "failed"
    lines = message.splitlines()
    assert lines[0].endswith("output 'next' of signature 'serving_default' differs from the "
                             "SavedModel (tolerance: exact match)")
    # the smallest value the contract allows, 2^31, plus one: wrapped to -2^31 + 1
    assert lines[1:3] == ["Received: -2147483647 (tfjs, at [0])",
                          "Documented: 2147483649 (savedmodel, the reference, at [0])"]
    found = {(f["tensor"], f["kind"]): f["message"]
             for f in run.record.findings}  # type: ignore[attr-defined]
    assert found[("ids", "int64-to-int32")] == (
        "signature 'serving_default' input 'ids' (int64): TF.js has no int64 tensors and runs "
        "it as int32; range [2147483648, 1099511627776], so values beyond 2^31 wrap (declare a "
        "range within int32 if the values stay there)")


def test_a_lookup_table_built_from_constants_runs_in_tfjs(tmp_path: Path) -> None:
    """The advice of the vocabulary-file finding, applied: the same lookup with its table
    built from in-graph constants passes on TF.js."""
    from models_under_test.fixtures_lookup import WORDS, build_string_lookup_from_constants

    build_string_lookup_from_constants(tmp_path / "lookup")
    contract = tmp_path / "lookup.json"
    contract.write_text(json.dumps({
        "name": "lookup", "models": [str(tmp_path / "lookup")],
        "dims": {"batch": {"min": 1, "max": 4}},
        "signatures": {"serving_default": {
            "inputs": {"words": {"dtype": "string", "shape": ["batch"],
                                 "vocabulary": list(WORDS)}},
            "outputs": {"ids": {"dtype": "int64", "shape": ["batch"], "range": [-1, 99]}}}},
        "formats": {"tfjs": {}}}))
    out = run(contract, export_cache=tmp_path / "cache", examples=5)
    assert out == {"serving_default::conformance[tfjs]": ("passed", ""),
                   "serving_default::parity[tfjs]": ("passed", "")}, out
    [row] = run.record.parity  # type: ignore[attr-defined]
    assert row["output"] == "ids" and row["exact"] and row["passed"]


def test_a_quantized_tfjs_variant_beyond_its_tolerance_fails_like_a_tflite_one(
        tiny_model: Path, tmp_path: Path) -> None:
    """float16 weights cannot stay within 1e-9 of the float32 SavedModel: the variant's own
    tolerance fails it, with the variant's name in the message."""
    variants = [{"quantization": "float16", "tolerance": {"atol": 1e-9, "rtol": 0.0}}]
    contract = write_contract(tmp_path, models=[str(tiny_model)],
                              formats={"tfjs": {"variants": variants}})
    out = run(contract, export_cache=tmp_path / "cache", backends=("tfjs",))
    outcome, message = out["serving_default::parity[tfjs-float16]"]
    assert outcome == "failed", out
    lines = message.splitlines()
    assert lines[0] == ("[parity[tfjs-float16]] tfjs (exported: tensorflowjs_converter "
                        "--quantize_float16; converted; Node, wasm backend): output 'y' of "
                        "signature 'serving_default' differs from the SavedModel beyond "
                        "tolerance atol=1e-09, rtol=0")
    assert lines[1].startswith("Received: ") and lines[1].endswith("(tfjs, at [20, 0])")
    assert any(line.startswith("would pass with atol=") for line in lines), message
