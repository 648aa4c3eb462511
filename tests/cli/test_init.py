"""``model-contract init``: the contract it writes validates and passes the static checks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.cli import main
from harness.contract.load import load_contract
from harness.engine import Engine
from tests.conftest import FIXTURES, MODELS, corpus_dir

BUNDLED = ["classifier", "text_classifier", "image_classifier"]
CORPUS = ["matrix_half_plus_two", "saved_model_counter", "saved_model_half_plus_three",
          "saved_model_half_plus_two_2_versions", "saved_model_half_plus_two_cpu",
          "saved_model_half_plus_two_mlmd", "saved_model_half_plus_two_tf2_cpu"]


def init(model: Path, out: Path, *extra: str) -> dict:
    """init reading saved_model.pb only (the probe that calls the model: tests/cli/test_probe.py)."""
    assert main(["init", str(model), "-o", str(out), "--no-probe", *extra]) == 0
    return json.loads(out.read_text())


def static_results(contract_path: Path) -> list[tuple[str, str]]:
    """(case id, outcome) of every static case of the contract on its models."""
    engine = Engine()
    contract = engine.load(contract_path)
    outcomes = []
    for ref in engine.models_of(contract):
        for case in engine.plan(contract, ref):
            if case.family != "static":
                continue
            try:
                engine.execute(case)
                outcomes.append((case.id, "passed"))
            except AssertionError as exc:
                outcomes.append((case.id, f"failed: {exc}"))
    return outcomes


def assert_static_pass(contract_path: Path) -> None:
    results = static_results(contract_path)
    assert results, "no static case planned"
    failed = [r for r in results if r[1] != "passed"]
    assert not failed, failed


@pytest.mark.parametrize("name", BUNDLED + ["tiny"])
def test_bundled_models(name: str, tmp_path: Path) -> None:
    model = FIXTURES / "tiny" if name == "tiny" else MODELS / name
    if not model.is_dir():
        pytest.skip(f"{model} is not built yet")
    out = tmp_path / "contracts" / f"{name}.json"
    data = init(model, out)
    load_contract(out)
    assert data["name"] == name
    assert (out.parent / data["models"][0]).resolve() == model.resolve()
    assert_static_pass(out)


@pytest.mark.parametrize("name", CORPUS)
def test_corpus_models(name: str, tmp_path: Path) -> None:
    model = corpus_dir() / name
    if not model.is_dir():
        pytest.skip(f"TF Serving corpus model not found at {model} (set MODEL_CONTRACT_CORPUS)")
    out = tmp_path / f"{name}.json"
    init(model, out)
    load_contract(out)
    assert_static_pass(out)


def test_tiny_contract_contents(tmp_path: Path) -> None:
    data = init(FIXTURES / "tiny", tmp_path / "tiny.json")
    assert data["dims"] == {"batch": {"min": 1, "max": 32}}
    assert data["tags"] == ["serve"] and data["assets"] == []
    sig = data["signatures"]["serving_default"]
    assert sig["method_name"] == "tensorflow/serving/predict"
    assert sig["inputs"] == {"x": {"dtype": "float32", "shape": ["batch", 4], "range": [-1.0, 1.0]}}
    assert sig["outputs"] == {"label": {"dtype": "int64", "shape": ["batch"]},
                              "y": {"dtype": "float32", "shape": ["batch", 2]}}
    assert "reject" not in sig and "stateful" not in sig


def test_stdout_without_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(FIXTURES / "tiny"), "--name", "mine", "--no-probe"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["name"] == "mine"
    assert (Path.cwd() / data["models"][0]).resolve() == (FIXTURES / "tiny").resolve()
    assert data["$schema"] == "https://model-contract.dev/schema/contract-v1.schema.json"


def test_schema_is_the_published_id_or_the_users_own(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Not a relative path into the tool's install location, which moves with every venv."""
    out = tmp_path / "contracts" / "tiny.json"
    assert main(["init", str(FIXTURES / "tiny"), "-o", str(out), "--no-probe"]) == 0
    data = json.loads(out.read_text())
    assert data["$schema"] == "https://model-contract.dev/schema/contract-v1.schema.json"
    mine = tmp_path / "schemas" / "contract.json"
    assert main(["init", str(FIXTURES / "tiny"), "-o", str(out), "--force", "--no-probe",
                 "--schema", str(mine)]) == 0
    assert json.loads(out.read_text())["$schema"] == "../schemas/contract.json"
    assert main(["validate", str(out)]) == 0


def test_base_path_reads_latest_version(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = MODELS / "versions" / "added_output"
    data = init(base, tmp_path / "c.json")
    assert (tmp_path / data["models"][0]).resolve() == base.resolve()
    assert set(data["signatures"]["serving_default"]["outputs"]) == {"y", "label", "logits"}
    assert "latest version 2 (2 version(s)" in capsys.readouterr().err


def test_version_folder_is_named_after_its_base(tmp_path: Path) -> None:
    data = init(MODELS / "versions" / "renamed_output" / "1", tmp_path / "c.json")
    assert data["name"] == "renamed_output"


def test_tf_example_features_and_assets_of_the_bundled_tf1_export(tmp_path: Path) -> None:
    """From the repository alone: the latest version (2) is the TF 1.0-style export, read
    through the TF1 ParseExample op; its shapeless TensorInfos become the graph's shapes."""
    data = init(FIXTURES / "tf1_half_plus_two", tmp_path / "c.json")
    classify = data["signatures"]["classify_x_to_y"]
    assert classify["method_name"] == "tensorflow/serving/classify"
    assert classify["inputs"]["inputs"] == {
        "dtype": "string", "shape": ["batch"],
        "example": {"x": {"dtype": "float32", "shape": [1], "range": [-1.0, 1.0]}}}
    assert classify["outputs"]["scores"] == {"dtype": "float32", "shape": ["batch", 1]}
    assert data["signatures"]["predict_x2_to_y2"]["inputs"]["x2"]["shape"] == ["batch", 1]
    assert data["assets"] == ["foo.txt"]
    assert_static_pass(tmp_path / "c.json")


def test_tf_example_features_and_assets(tmp_path: Path) -> None:
    model = corpus_dir() / "saved_model_half_plus_two_cpu"
    if not model.is_dir():
        pytest.skip(f"TF Serving corpus not found at {model}")
    data = init(model, tmp_path / "c.json")
    classify = data["signatures"]["classify_x_to_y"]
    assert classify["method_name"] == "tensorflow/serving/classify"
    assert classify["inputs"]["inputs"] == {
        "dtype": "string", "shape": ["batch"],
        "example": {"x": {"dtype": "float32", "shape": [1], "range": [-1.0, 1.0]},
                    "x2": {"dtype": "float32", "shape": [1], "range": [-1.0, 1.0]}}}
    assert classify["outputs"]["scores"] == {"dtype": "float32", "shape": ["batch", 1]}
    assert data["assets"] == ["foo.txt"]


def test_stateful_and_unknown_rank(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = corpus_dir() / "saved_model_counter"
    if not model.is_dir():
        pytest.skip(f"TF Serving corpus not found at {model}")
    sigs = init(model, tmp_path / "c.json")["signatures"]
    assert sigs["incr_counter"]["stateful"] is True and sigs["incr_counter"]["reject"] == []
    assert "stateful" not in sigs["get_counter"]
    assert sigs["incr_counter_by"]["inputs"]["delta"]["shape"] is None
    assert "reject" not in sigs["incr_counter_by"]  # the default: a wrong dtype refused
    assert "marked stateful: it can reach AssignAdd" in capsys.readouterr().err


def test_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "c.json"
    out.write_text("{}")
    assert main(["init", str(FIXTURES / "tiny"), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{out}: exists; not overwritten" in err and "--force" in err
    assert out.read_text() == "{}"
    assert main(["init", str(FIXTURES / "tiny"), "-o", str(out), "--force"]) == 0
    load_contract(out)


def test_not_a_savedmodel(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(FIXTURES / "not_a_savedmodel")]) == 2
    err = capsys.readouterr().err
    assert "not a SavedModel: no saved_model.pb" in err and "Traceback" not in err


@pytest.mark.parametrize("artifact, fmt, option", [("tiny_perturbed.onnx", "ONNX", "--onnx"),
                                                    ("tiny_perturbed.tflite", "TFLite", "--tflite")])
def test_a_model_shipped_only_converted_is_named_as_such(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], artifact: str, fmt: str,
        option: str) -> None:
    """The layout of packages that ship only a converted model (magika, silero-vad): a folder
    with the file and its metadata, no SavedModel. Both the folder and the file are refused
    with what the file is and what model-contract can do with it."""
    package = tmp_path / "models" / "standard"
    package.mkdir(parents=True)
    (package / "config.json").write_text("{}")
    (package / artifact).write_bytes((FIXTURES / "exports" / artifact).read_bytes())
    hint = (f"hint: {artifact} is a model converted to {fmt}: model-contract checks it against the "
            f"SavedModel it was converted from (check CONTRACT --model SAVEDMODEL {option} "
            f"{artifact}); a model shipped only as {fmt} cannot be checked or given a contract")
    assert main(["init", str(package)]) == 2
    err = capsys.readouterr().err
    assert (f"{package}: not a SavedModel: no saved_model.pb or saved_model.pbtxt "
            f"(found: config.json, {artifact})") in err
    assert hint in err and "Traceback" not in err
    assert main(["init", str(package / artifact)]) == 2
    err = capsys.readouterr().err
    assert f"{package / artifact}: is a file; a SavedModel is a directory holding saved_model.pb" in err
    assert hint in err


def test_unknown_tags(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(FIXTURES / "tiny"), "--tags", "serve,gpu"]) == 2
    assert "no MetaGraph with the tag-set ['gpu', 'serve']" in capsys.readouterr().err


def test_calibrate_proposes_tolerances_from_observed_errors(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tiny.json"
    assert main(["init", str(FIXTURES / "tiny"), "-o", str(out), "--calibrate", "--margin", "100"]) == 0
    data = json.loads(out.read_text())
    tfjs_here = shutil.which("node") is not None and shutil.which("npm") is not None
    assert set(data["formats"]) == ({"tflite", "onnx", "tfjs"} if tfjs_here else {"tflite", "onnx"})
    y = data["signatures"]["serving_default"]["outputs"]["y"]["tolerance"]
    assert set(y) == set(data["formats"]) and all(t["rtol"] == 0.0 for t in y.values())
    assert "tolerance" not in data["signatures"]["serving_default"]["outputs"]["label"]  # exact
    err = capsys.readouterr().err
    assert "calibration: margin 100x the largest error seen" in err
    assert "calibration: tflite serving_default/y: max abs error" in err
    if tfjs_here:
        assert "calibration: tfjs serving_default/y: max abs error" in err
    else:  # left out with the reason (no Node.js here)
        assert "calibration: tfjs left out: " in err
    load_contract(out)
    # said as it goes: each long step with its start and its time, the calibration's notes
    # as soon as it has them
    order = [err.index("model-contract init: probing the model (isolated, after the op-policy "
                       "scan) ..."),
             err.index("model-contract init: probing the model (isolated, after the op-policy "
                       "scan): done in "),
             err.index("model-contract init: calibrating tolerances"),
             err.index("model-contract init: tflite: converting (unless the export cache has "
                       "it) and loading tiny ..."),
             err.index("model-contract init: parity[tflite] of signature 'serving_default': "
                       "20 fuzzed calls: done in "),
             err.index("note: calibration: margin 100x")]
    assert order == sorted(order), err


def test_round_up_to_one_digit() -> None:
    from harness.contract.calibrate import round_up

    assert round_up(3.1e-6) == 4e-6
    assert round_up(2e-5) == 2e-5
    assert round_up(0.0) == 1e-7

