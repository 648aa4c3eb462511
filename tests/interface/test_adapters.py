"""Each adapter reads its source into the one declared-interface model.

Sources built by code in tmp_path: a contract, a SavedModel (saved_model.pb through the
reader), its TFLite conversion, an ONNX file, a TF.js ``signature`` block and TF Serving's
metadata answers (a literal REST JSON answer and a gRPC ``SignatureDefMap``). The last test
compares two of them with the one comparison.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.contract.load import load_contract
from harness.interface import DimRange, SignatureInterface, TensorInterface, compare_signatures
from harness.interface.contract import interface_from_contract
from tests.conftest import write_contract

FREE = DimRange.free()


def test_contract(tmp_path: Path) -> None:
    path = write_contract(tmp_path, signatures={"serving_default": {
        "method_name": "tensorflow/serving/predict",
        "inputs": {"x": {"dtype": "float32", "shape": ["batch", 4, None], "range": [0.0, 1.0],
                         "name": "serving_default_x:0"}},
        "outputs": {"y": {"dtype": "int64", "shape": None}}}})
    found = interface_from_contract(load_contract(path))
    assert found.label == str(path) and found.tags == ("serve",)
    sig = found.signatures["serving_default"]
    assert sig.method_name == "tensorflow/serving/predict"
    assert sig.inputs["x"] == TensorInterface(
        "x", "float32", (DimRange(1, 8, "batch"), DimRange.fixed(4), FREE), (0.0, 1.0),
        tensor_name="serving_default_x:0")
    assert sig.outputs["y"] == TensorInterface("y", "int64", None)


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import tensorflow as tf

    class Module(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
        def serve(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"total": tf.reduce_sum(x, axis=1, keepdims=True),
                    "ids": tf.cast(x, tf.int32)}

    path = tmp_path_factory.mktemp("adapters") / "model"
    module = Module()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


EXPECTED = SignatureInterface(
    "serving_default", None,
    {"x": TensorInterface("x", "float32", (FREE, DimRange.fixed(3)))},
    {"total": TensorInterface("total", "float32", (FREE, DimRange.fixed(1))),
     "ids": TensorInterface("ids", "int32", (FREE, DimRange.fixed(3)))})


def test_saved_model_pb(saved_model: Path) -> None:
    from harness.savedmodel.reader import interface_from_model, read_saved_model

    info = read_saved_model(saved_model)
    mg = info.meta_graph({"serve"})
    assert mg is not None
    found = interface_from_model(info, mg)
    assert found.tags == ("serve",) and list(found.signatures) == ["serving_default"]
    sig = found.signatures["serving_default"]
    assert sig.method_name == "tensorflow/serving/predict"
    assert sig.inputs["x"].tensor_name == "serving_default_x:0"
    assert compare_signatures(EXPECTED, sig) == []


def test_tflite_file(saved_model: Path, tmp_path: Path) -> None:
    pytest.importorskip("ai_edge_litert", reason="pip install ai-edge-litert")
    import tensorflow as tf

    from harness.backends.tflite import read_tflite

    file = tmp_path / "model.tflite"
    file.write_bytes(tf.lite.TFLiteConverter.from_saved_model(str(saved_model)).convert())
    found = read_tflite(str(file))
    assert list(found) == ["serving_default"]
    assert compare_signatures(EXPECTED, found["serving_default"]) == []


def test_onnx_file(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime", reason="pip install onnxruntime")
    onnx = pytest.importorskip("onnx", reason="pip install onnx")
    from onnx import TensorProto, helper

    from harness.backends.onnx import read_onnx

    graph = helper.make_graph(
        [helper.make_node("Cast", ["x"], ["ids"], to=TensorProto.INT64)], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    file = tmp_path / "model.onnx"
    onnx.save(model, str(file))
    assert read_onnx(str(file)) == SignatureInterface(
        "serving_default", None,
        {"x": TensorInterface("x", "float32", (FREE, DimRange.fixed(3)))},
        {"ids": TensorInterface("ids", "int64", (FREE, DimRange.fixed(3)))})


def test_tfjs_signature_block() -> None:
    from harness.backends.tfjs import signature_of_model_json

    block = json.loads("""{
      "inputs": {"x:0": {"name": "x:0", "dtype": "DT_FLOAT",
                         "tensorShape": {"dim": [{"size": "-1"}, {"size": "3"}]}}},
      "outputs": {"Identity:0": {"name": "Identity:0", "dtype": "DT_INT32",
                                 "tensorShape": {"unknownRank": true}}}}""")
    assert signature_of_model_json("serving_default", block) == SignatureInterface(
        "serving_default", None,
        {"x:0": TensorInterface("x:0", "float32", (FREE, DimRange.fixed(3)))},
        {"Identity:0": TensorInterface("Identity:0", "int32", None)})


#: GET /v1/models/m/metadata as TF Serving answers it (tensor_shape sizes are strings)
REST_METADATA = {
    "model_spec": {"name": "m", "signature_name": "", "version": "1"},
    "metadata": {"signature_def": {"signature_def": {
        "serving_default": {
            "inputs": {"x": {"dtype": "DT_FLOAT", "name": "serving_default_x:0",
                             "tensor_shape": {"dim": [{"size": "-1", "name": ""},
                                                      {"size": "3", "name": ""}],
                                              "unknown_rank": False}}},
            "outputs": {"total": {"dtype": "DT_FLOAT", "name": "StatefulPartitionedCall:1",
                                  "tensor_shape": {"dim": [{"size": "-1"}, {"size": "1"}]}},
                        "ids": {"dtype": "DT_INT32", "name": "StatefulPartitionedCall:0",
                                "tensor_shape": {"dim": [{"size": "-1"}, {"size": "3"}]}}},
            "method_name": "tensorflow/serving/predict"},
        "__saved_model_init_op": {"inputs": {}, "outputs": {"__saved_model_init_op": {
            "dtype": "DT_INVALID", "name": "NoOp", "tensor_shape": {"dim": [],
                                                                  "unknown_rank": True}}},
            "method_name": ""}}}}}


def test_serving_rest_metadata_answer() -> None:
    pytest.importorskip("tensorflow_serving", reason="pip install tensorflow-serving-api")
    from harness.serving.metadata import signatures_from_rest

    found = signatures_from_rest(REST_METADATA)
    assert list(found) == ["serving_default"]  # TF's internal signature left out
    sig = found["serving_default"]
    assert sig.method_name == "tensorflow/serving/predict"
    assert sig.inputs["x"].tensor_name == "serving_default_x:0"
    assert compare_signatures(EXPECTED, sig) == []


def test_serving_grpc_metadata_answer(saved_model: Path) -> None:
    pytest.importorskip("tensorflow_serving", reason="pip install tensorflow-serving-api")
    from tensorflow_serving.apis import get_model_metadata_pb2

    from harness.savedmodel.reader import read_proto
    from harness.serving.metadata import signatures_from_proto

    answer = get_model_metadata_pb2.SignatureDefMap()
    for key, value in read_proto(saved_model).meta_graphs[0].signature_def.items():
        answer.signature_def[key].CopyFrom(value)
    found = signatures_from_proto(answer)
    assert list(found) == ["serving_default"]
    assert compare_signatures(EXPECTED, found["serving_default"]) == []


def test_a_contract_against_a_model_through_the_one_comparison(tmp_path: Path) -> None:
    from harness.interface.compare import Mismatch

    path = write_contract(tmp_path, signatures={"serving_default": {
        "inputs": {"x": {"dtype": "float64", "shape": ["batch", 3]}},
        "outputs": {"total": {"dtype": "float32", "shape": ["batch", 2]}}}})
    contract = interface_from_contract(load_contract(path)).signatures["serving_default"]
    assert compare_signatures(contract, EXPECTED) == [
        Mismatch("dtype", "serving_default", "inputs", "x", "float64", "float32"),
        Mismatch("dim widened", "serving_default", "inputs", "x", "batch(1..8)", "None", 0),
        Mismatch("tensor extra", "serving_default", "outputs", "ids", found="int32 [None, 3]"),
        Mismatch("dim widened", "serving_default", "outputs", "total", "batch(1..8)", "None", 0),
        Mismatch("fixed size changed", "serving_default", "outputs", "total", "2", "1", 1)]
