"""The SavedModel backend on TF Serving's own test models: their documented answers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.backends.base import InferenceError
from harness.backends.savedmodel import SavedModelBackend
from harness.contract import load_contract
from harness.savedmodel.layout import resolve_model
from harness.tf_example import encode_example
from tests.conftest import FIXTURES, ROOT, corpus_contract

CORPUS_CONTRACTS = ROOT / "contracts" / "corpus"


def backend(contract: str, model: str, corpus: Path) -> SavedModelBackend:
    loaded = load_contract(CORPUS_CONTRACTS / f"{contract}.json")
    [ref] = resolve_model(corpus / model)[:1]
    b = SavedModelBackend(ref, loaded)
    b.activate()
    return b


def examples(*xs: float) -> np.ndarray:
    return np.array([encode_example({"x": [x]}, {"x": "float32"}) for x in xs], dtype=object)


def test_half_plus_two_known_answers(corpus: Path) -> None:
    b = backend("half_plus_two", "saved_model_half_plus_two_cpu", corpus)
    assert b.label == "savedmodel (tf.saved_model.load)"
    y = b.infer("serving_default", {"x": np.array([[3.0], [1.0]], np.float32)})["y"]
    assert y.tolist() == [[3.5], [2.5]]
    assert b.infer("regress_x_to_y", {"inputs": examples(80.0)})["outputs"].tolist() == [[42.0]]
    assert b.infer("classify_x_to_y", {"inputs": examples(20.0)})["scores"].tolist() == [[12.0]]


def test_half_plus_three_falls_back_to_the_tf1_loader_and_says_so(corpus: Path) -> None:
    b = backend("half_plus_three", "saved_model_half_plus_three", corpus)
    assert b.loader == "tf1"
    assert b.label.startswith("savedmodel (TF1 session loader; tf.saved_model.load failed: ")
    y = b.infer("serving_default", {"x": np.array([[1.0], [2.0], [5.0]], np.float32)})["y"]
    assert y.tolist() == [[3.5], [4.0], [5.5]]


def test_counter_from_a_fresh_load(corpus: Path) -> None:
    b = backend("counter", "saved_model_counter", corpus)
    assert b.loader == "tf1"  # reference variables: tf.saved_model.load cannot
    assert float(b.infer("incr_counter_by", {"delta": np.array(5.0, np.float32)})["output"]) == 5.0
    assert float(b.infer("incr_counter", {})["output"]) == 6.0


def test_tf1_loader_refuses_a_wrong_dtype_instead_of_casting(corpus: Path) -> None:
    b = backend("half_plus_three", "saved_model_half_plus_three", corpus)
    with pytest.raises(InferenceError, match="expects float32 but int32 is provided"):
        b.infer("serving_default", {"x": np.array([[1]], np.int32)}, check_inputs=False)


def test_tf2_loader_refuses_a_wrong_dtype(corpus: Path) -> None:
    b = backend("half_plus_two", "saved_model_half_plus_two_cpu", corpus)
    with pytest.raises(InferenceError, match="expected to be a float tensor but is a int32 tensor"):
        b.infer("serving_default", {"x": np.array([[1]], np.int32)}, check_inputs=False)


def test_inputs_are_checked_against_the_contract_before_a_call(corpus: Path) -> None:
    from harness.errors import HarnessError

    b = backend("half_plus_two", "saved_model_half_plus_two_cpu", corpus)
    with pytest.raises(HarnessError, match="input 'x' of signature 'serving_default' is float64, "
                                           "contract says float32"):
        b.infer("serving_default", {"x": np.array([[1.0]])})


def test_corpus_contracts_run_through_the_fuzzer(corpus: Path, tmp_path: Path) -> None:
    """serving_default, regress_x_to_y and classify_x_to_y fuzzed (the last two with tf.Examples)."""
    from harness.engine import Engine
    from harness.options import RunOptions

    engine = Engine(RunOptions(in_process=True, examples=10, results_dir=tmp_path))
    try:
        contract = load_contract(corpus_contract("half_plus_two", corpus, tmp_path))
        ran = []
        for ref in engine.models_of(contract)[:1]:
            for case in engine.plan(contract, ref):
                if case.family == "fuzz":
                    engine.execute(case)
                    ran.append((case.signature, case.check))
        assert {s for s, _ in ran} == {"serving_default", "regress_x_to_y", "classify_x_to_y"}
        assert json.dumps(sorted({c for _, c in ran})) == json.dumps(
            ["batch_consistency", "conformance", "determinism", "rejection", "values"])
    finally:
        engine.close()


def _tree(path: Path) -> dict[str, tuple[int, float]]:
    return {str(p.relative_to(path)): (p.stat().st_size, p.stat().st_mtime)
            for p in sorted(path.rglob("*"))}


def test_the_model_is_loaded_from_a_read_only_copy(tmp_path: Path) -> None:
    import os
    import shutil

    from tests.conftest import FIXTURES, write_contract

    model = tmp_path / "tiny"
    shutil.copytree(FIXTURES / "tiny", model)
    before = _tree(model)
    contract = load_contract(write_contract(tmp_path, models=[str(model)]))
    [ref] = resolve_model(model)
    b = SavedModelBackend(ref, contract)
    b.activate()
    copy = b._path
    assert copy != model and copy.is_dir()
    assert not os.access(copy / "saved_model.pb", os.W_OK) or os.geteuid() == 0
    assert oct((copy / "saved_model.pb").stat().st_mode & 0o777) == "0o444"
    b.infer("serving_default", {"x": np.zeros((2, 4), np.float32)})
    b.deactivate()
    assert _tree(model) == before  # the user's folder is untouched
    from harness.backends import savedmodel

    savedmodel._remove_retired()  # what happens at exit
    assert not copy.exists()


# --------------------------------------------------------------------------- TF1 paths, bundled
# The same paths on models_under_test/fixtures/tf1_half_plus_two (built by code), so they are
# covered from a clone alone; the corpus tests above are an extra layer where it is present.

TF1_CONTRACT = FIXTURES / "contracts" / "tf1_half_plus_two.json"


def tf1_backend(version: int) -> SavedModelBackend:
    contract = load_contract(TF1_CONTRACT)
    [ref] = [r for r in resolve_model(FIXTURES / "tf1_half_plus_two") if r.version == version]
    b = SavedModelBackend(ref, contract)
    b.activate()
    return b


def test_tf1_export_known_answers_through_tf_saved_model_load() -> None:
    b = tf1_backend(1)  # y = 0.5 x + 2
    assert b.label == "savedmodel (tf.saved_model.load)"
    y = b.infer("serving_default", {"x": np.array([[3.0], [1.0]], np.float32)})["y"]
    assert y.tolist() == [[3.5], [2.5]]
    assert b.infer("regress_x_to_y", {"inputs": examples(80.0)})["outputs"].tolist() == [[42.0]]
    assert b.infer("classify_x_to_y", {"inputs": examples(20.0, 2.0)})["scores"].tolist() == [[12.0], [3.0]]
    assert b.infer("predict_x2_to_y2", {"x2": np.array([[2.0]], np.float32)})["y2"].tolist() == [[4.0]]


def test_an_old_producer_export_falls_back_to_the_tf1_loader_and_says_so() -> None:
    """Version 2's tf_example placeholder has TF 1.0's empty shape attr (unknown shape)."""
    b = tf1_backend(2)  # y = 0.5 x + 3
    assert b.loader == "tf1"
    assert b.label.startswith("savedmodel (TF1 session loader; tf.saved_model.load failed: "
                              "ValueError: Shape must be rank 1 but is rank 0")
    y = b.infer("serving_default", {"x": np.array([[1.0], [2.0], [5.0]], np.float32)})["y"]
    assert y.tolist() == [[3.5], [4.0], [5.5]]
    assert b.infer("regress_x_to_y", {"inputs": examples(80.0, 0.0)})["outputs"].tolist() == [[43.0], [3.0]]
    assert b.infer("classify_x_to_y", {"inputs": examples(2.0)})["scores"].tolist() == [[4.0]]


def test_the_tf1_loader_refuses_a_wrong_dtype_instead_of_casting() -> None:
    b = tf1_backend(2)
    with pytest.raises(InferenceError, match="expects float32 but int32 is provided"):
        b.infer("serving_default", {"x": np.array([[1]], np.int32)}, check_inputs=False)


def test_a_tf1_export_through_every_fuzz_check(tmp_path: Path) -> None:
    """Both versions, every signature (predict, regress and classify with tf.Examples)."""
    from harness.engine import Engine
    from harness.options import RunOptions

    engine = Engine(RunOptions(in_process=True, examples=5, results_dir=tmp_path))
    try:
        contract = load_contract(TF1_CONTRACT)
        ran = []
        for ref in engine.models_of(contract):
            for case in engine.plan(contract, ref):
                if case.family == "fuzz":
                    engine.execute(case)
                    ran.append((ref.version, case.signature, case.check))
        assert {v for v, _, _ in ran} == {1, 2}
        assert {s for _, s, _ in ran} == {"serving_default", "regress_x_to_y", "classify_x_to_y",
                                          "predict_x2_to_y2"}
        assert {c for _, _, c in ran} == {"batch_consistency", "conformance", "determinism",
                                          "rejection", "values"}
    finally:
        engine.close()
