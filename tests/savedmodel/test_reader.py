"""Absent is not empty: every field a SavedModel can leave out is read as TensorFlow reads it.

Each model here is a ``saved_model.pb`` written directly as a protobuf (nothing of the
corpus is needed): a TensorInfo without ``tensor_shape``, with an empty one, with
``unknown_rank``, COO sparse and composite (ragged) encodings, a SignatureDef without
``method_name``, and a TF1 placeholder whose ``shape`` attr is empty (old producers).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("tensorflow")

from harness.checks.static import SIGNATURE_CHECKS  # noqa: E402
from harness.contract import load_contract  # noqa: E402
from harness.errors import CheckFailure  # noqa: E402
from harness.safety import scan_saved_model  # noqa: E402
from harness.savedmodel.reader import read_saved_model  # noqa: E402


def _write(folder: Path, signatures: dict[str, Any], nodes: list[Any] | None = None,
           producer: int = 1800) -> Path:
    """A one-MetaGraph ``saved_model.pb`` with these SignatureDefs (and graph nodes)."""
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel(saved_model_schema_version=1)
    mg = proto.meta_graphs.add()
    mg.meta_info_def.tags.append("serve")
    mg.graph_def.versions.producer = producer
    for node in nodes or []:
        mg.graph_def.node.add().CopyFrom(node)
    for key, sig in signatures.items():
        mg.signature_def[key].CopyFrom(sig)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "saved_model.pb").write_bytes(proto.SerializeToString())
    return folder


def _sig(inputs: dict[str, Any], outputs: dict[str, Any],
         method: str | None = "tensorflow/serving/predict") -> Any:
    from tensorflow.core.protobuf import meta_graph_pb2

    sig = meta_graph_pb2.SignatureDef()
    for key, info in inputs.items():
        sig.inputs[key].CopyFrom(info)
    for key, info in outputs.items():
        sig.outputs[key].CopyFrom(info)
    if method is not None:
        sig.method_name = method
    return sig


def _dense(name: str, shape: list[int] | None | str = "absent") -> Any:
    """A float32 TensorInfo; ``shape``: "absent" (no tensor_shape), None (unknown_rank), dims."""
    from tensorflow.core.framework import types_pb2
    from tensorflow.core.protobuf import meta_graph_pb2

    info = meta_graph_pb2.TensorInfo(name=name, dtype=types_pb2.DT_FLOAT)
    if shape is None:
        info.tensor_shape.unknown_rank = True
    elif shape != "absent":
        info.tensor_shape.SetInParent()  # present, even with no dims (a scalar)
        for size in shape:  # type: ignore[union-attr]
            info.tensor_shape.dim.add(size=size)
    return info


def _tensors(model: Path, side: str = "inputs", key: str = "serving_default") -> Any:
    [mg] = read_saved_model(model).meta_graphs
    return getattr(mg.signatures[key], side)


def test_a_tensor_info_without_tensor_shape_has_unknown_shape_not_rank_0(tmp_path: Path) -> None:
    model = _write(tmp_path / "m", {"serving_default": _sig({"x": _dense("x:0")}, {"y": _dense("y:0")})})
    x = _tensors(model)["x"]
    assert x.shape is None and x.describe() == "float32 <unknown rank>"
    assert _tensors(model, "outputs")["y"].shape is None


def test_an_empty_tensor_shape_is_a_scalar(tmp_path: Path) -> None:
    model = _write(tmp_path / "m", {"serving_default": _sig({"x": _dense("x:0", [])},
                                                            {"y": _dense("y:0", [-1, 1])})})
    assert _tensors(model)["x"].shape == ()
    assert _tensors(model, "outputs")["y"].shape == (None, 1)


def test_unknown_rank_is_unknown_rank(tmp_path: Path) -> None:
    model = _write(tmp_path / "m", {"serving_default": _sig({"x": _dense("x:0", None)}, {"y": _dense("y:0")})})
    assert _tensors(model)["x"].shape is None


def _contract(tmp_path: Path, model: Path, **signature: Any) -> Any:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({
        "name": "absent", "models": [str(model)], "dims": {"batch": {"min": 1, "max": 4}},
        "signatures": {"serving_default": {
            "inputs": {"x": {"dtype": "float32", "shape": ["batch", 1]}},
            "outputs": {"y": {"dtype": "float32", "shape": ["batch", 1]}}, **signature}}}))
    return load_contract(path)


def _static(check: str, contract: Any, model: Path) -> list[str]:
    return SIGNATURE_CHECKS[check](contract, contract.signature("serving_default"),
                                   read_saved_model(model))


def test_static_checks_pass_a_shapeless_signature_and_fail_a_scalar_one(tmp_path: Path) -> None:
    """half_plus_three's case: no tensor_shape is compatible with [batch, 1]; a real scalar is not."""
    shapeless = _write(tmp_path / "shapeless",
                       {"serving_default": _sig({"x": _dense("x:0")}, {"y": _dense("y:0")})})
    contract = _contract(tmp_path, shapeless)
    assert _static("inputs", contract, shapeless) == []
    assert _static("outputs", contract, shapeless) == []
    scalar = _write(tmp_path / "scalar",
                    {"serving_default": _sig({"x": _dense("x:0", [])}, {"y": _dense("y:0")})})
    with pytest.raises(CheckFailure) as info:
        _static("inputs", contract, scalar)
    assert ("signature 'serving_default' input 'x': shape Received: [] / Documented: [batch, 1] "
            "(/signatures/serving_default/inputs/x/shape): rank 0 in the model, 2 in the contract"
            in str(info.value))


def test_coo_sparse_is_named_by_its_values_and_keeps_its_dense_shape(tmp_path: Path) -> None:
    from tensorflow.core.framework import types_pb2
    from tensorflow.core.protobuf import meta_graph_pb2

    sparse = meta_graph_pb2.TensorInfo(dtype=types_pb2.DT_INT64)
    sparse.coo_sparse.values_tensor_name = "values:0"
    sparse.coo_sparse.indices_tensor_name = "indices:0"
    sparse.coo_sparse.dense_shape_tensor_name = "shape:0"
    sparse.tensor_shape.dim.add(size=-1)
    sparse.tensor_shape.dim.add(size=5)
    model = _write(tmp_path / "m", {"serving_default": _sig({"x": sparse}, {"y": _dense("y:0")})})
    x = _tensors(model)["x"]
    assert (x.tensor_name, x.dtype, x.shape, x.encoding) == ("values:0", "int64", (None, 5), "sparse")
    assert x.describe() == "int64 [-1, 5] (sparse)"


def _ragged_info() -> Any:
    import tensorflow as tf
    from tensorflow.python.saved_model import utils_impl

    with tf.Graph().as_default():
        ragged = tf.compat.v1.ragged.placeholder(tf.float32, 1, [])
        return utils_impl.build_tensor_info_internal(ragged)


def test_a_ragged_tensor_reads_dtype_and_shape_from_its_type_spec(tmp_path: Path) -> None:
    info = _ragged_info()
    assert info.dtype == 0 and not info.HasField("tensor_shape")  # nothing at the top level
    model = _write(tmp_path / "m", {"serving_default": _sig({"x": info}, {"y": _dense("y:0")})})
    x = _tensors(model)["x"]
    assert (x.dtype, x.shape, x.encoding) == ("float32", (None, None), "RaggedTensor")
    assert x.tensor_name == "RaggedPlaceholder/flat_values:0"
    contract = _contract(tmp_path, model)
    with pytest.raises(CheckFailure) as failure:
        _static("inputs", contract, model)
    assert ("signature 'serving_default' input 'x': encoding Received: RaggedTensor "
            "('RaggedPlaceholder/flat_values:0') / Documented: a dense tensor "
            "(/signatures/serving_default/inputs/x); a contract declares dense tensors"
            in str(failure.value))


def test_init_leaves_out_a_signature_with_a_ragged_input(tmp_path: Path) -> None:
    from tensorflow.core.framework import node_def_pb2

    from harness.contract.init import contract_from_model

    nodes = [node_def_pb2.NodeDef(name="x", op="Placeholder"),
             node_def_pb2.NodeDef(name="y", op="Identity", input=["x"])]
    model = _write(tmp_path / "m", {
        "serving_default": _sig({"x": _dense("x:0", [-1, 1])}, {"y": _dense("y:0", [-1, 1])}),
        "ragged": _sig({"x": _ragged_info()}, {"y": _dense("y:0", [-1, 1])})}, nodes)
    result = contract_from_model(model)
    assert list(result.data["signatures"]) == ["serving_default"]
    assert any("signature 'ragged' left out: input 'x' is a RaggedTensor tensor, not declarable"
               in note for note in result.notes), result.notes


def test_a_signature_without_method_name(tmp_path: Path) -> None:
    model = _write(tmp_path / "m", {"serving_default": _sig({"x": _dense("x:0")}, {"y": _dense("y:0")},
                                                            method=None)})
    [mg] = read_saved_model(model).meta_graphs
    assert mg.signatures["serving_default"].method_name == ""
    assert _static("signature", _contract(tmp_path, model), model) == []  # not declared: not checked
    declared = _contract(tmp_path, model, method_name="tensorflow/serving/predict")
    with pytest.raises(CheckFailure) as info:
        _static("signature", declared, model)
    assert str(info.value).splitlines()[:3] == [
        "[signature] signature 'serving_default' has another method_name",
        "Received: none: the SignatureDef records no method_name (an old TF1 export); "
        "tf.saved_model.is_valid_signature and TF Serving's Classify/Regress APIs require one",
        "Documented: 'tensorflow/serving/predict' (/signatures/serving_default/method_name)"]


def test_the_scan_walks_every_part_of_a_sparse_output(tmp_path: Path) -> None:
    """A denied op feeding only the indices of a sparse output is still reached."""
    from tensorflow.core.framework import node_def_pb2, types_pb2
    from tensorflow.core.protobuf import meta_graph_pb2

    def node(name: str, op: str, *inputs: str) -> Any:
        return node_def_pb2.NodeDef(name=name, op=op, input=list(inputs))

    nodes = [node("x", "Placeholder"), node("values", "Identity", "x"),
             node("path", "Const"), node("indices", "ReadFile", "path"), node("shape", "Const")]
    sparse = meta_graph_pb2.TensorInfo(dtype=types_pb2.DT_FLOAT)
    sparse.coo_sparse.values_tensor_name = "values:0"
    sparse.coo_sparse.indices_tensor_name = "indices:0"
    sparse.coo_sparse.dense_shape_tensor_name = "shape:0"
    model = _write(tmp_path / "m", {"serving_default": _sig({"x": _dense("x:0")}, {"y": sparse})}, nodes)
    report = scan_saved_model(model)
    assert "ReadFile" in report.ops_by_signature["serving_default"]
    assert [f.op for f in report.findings] == ["ReadFile"]
