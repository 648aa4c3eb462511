"""A TF1-style export built by code: what TF Serving's own test models look like.

``build_tf1_half_plus_two(dest)`` writes a TF Serving base path with two numbered version
folders (``dest/1``, ``dest/2``), each a ``tf.compat.v1.saved_model.Builder`` export with
reference variables, a checkpoint ``saver_def`` and the TF1 asset collection:

* ``tf_example``: a string placeholder of *unknown* shape holding serialized
  ``tf.train.Example``s, parsed by the TF1 ``ParseExample`` op into ``x`` (float32 [-1, 1]);
* ``y = a * x + b`` with variables ``a = 0.5`` and ``b = 2`` (version 1) or ``3`` (version 2);
* ``x2``: a float32 placeholder of *partially known* shape [-1, 1], ``y2 = a * x2 + 3``;
* signatures (TF Serving's names and method names):
  ``serving_default`` (predict, ``x`` -> ``y``; in version 2 its TensorInfos carry **no**
  ``tensor_shape``, as in TF Serving's ``saved_model_half_plus_three``: the shape is
  unknown, not a scalar),
  ``regress_x_to_y`` (regress, ``inputs`` -> ``outputs``), ``classify_x_to_y`` (classify,
  ``inputs`` -> ``scores``) and ``predict_x2_to_y2`` (predict, ``x2`` -> ``y2``, shapes
  [-1, 1] recorded);
* ``assets/foo.txt``, whose path an init op assigns to the variable ``filename_tensor``:
  version 1 runs it as a **legacy init op**, version 2 as a **main op**;
* version 1 loads with ``tf.saved_model.load``; version 2 is rewritten as TF 1.0 wrote it (GraphDef producer 21, the ``tf_example``
  placeholder's ``shape`` attr *empty*, which TensorFlow reads as unknown for such
  producers): ``tf.saved_model.load`` cannot load it, TF Serving's TF1 session loader can.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Any

VERSIONS = {"1": 2.0, "2": 3.0}  # version folder -> b
ASSET = "foo.txt"
ASSET_TEXT = "asset-file-contents"


#: the last GraphDef producer version whose Placeholder wrote "unknown shape" as an empty
#: ``shape`` attr (TensorFlow reads an empty one as unknown for producers <= 21).
OLD_PRODUCER = 21


def build_tf1_half_plus_two(dest: Path) -> None:
    _save(Path(dest) / "1", VERSIONS["1"], legacy=True, legacy_producer=False)
    _save(Path(dest) / "2", VERSIONS["2"], legacy=False, legacy_producer=True)
    _as_old_producer(Path(dest) / "2")


def _as_old_producer(model: Path) -> None:
    """Rewrite ``saved_model.pb`` as TF 1.0 wrote it: producer 21 and the ``tf_example``
    placeholder's shape attr empty. TensorFlow's TF1 loader (TF Serving's) reads that as
    unknown; ``tf.saved_model.load`` reads it as a scalar and cannot load the model, so this
    version exercises the harness's TF1 session loader, like TF Serving's half_plus_three."""
    from tensorflow.core.protobuf import saved_model_pb2

    pb = model / "saved_model.pb"
    proto = saved_model_pb2.SavedModel.FromString(pb.read_bytes())
    for meta_graph in proto.meta_graphs:
        meta_graph.graph_def.versions.producer = OLD_PRODUCER
        for node in meta_graph.graph_def.node:
            if node.op == "Placeholder" and node.name == "tf_example":
                node.attr["shape"].shape.Clear()
    pb.write_bytes(proto.SerializeToString(deterministic=True))


def _save(dest: Path, offset: float, *, legacy: bool, legacy_producer: bool) -> None:
    from models_under_test.seeding import seed_everything

    seed_everything()
    import tensorflow as tf

    v1 = tf.compat.v1
    graph = tf.Graph()
    dest = Path(dest).absolute()
    with graph.as_default(), tempfile.TemporaryDirectory() as scratch, contextlib.chdir(scratch):
        a = v1.Variable(0.5, name="a", use_resource=False)
        b = v1.Variable(offset, name="b", use_resource=False)
        c = v1.Variable(3.0, name="c", use_resource=False)
        tf_example = v1.placeholder(tf.string, shape=None, name="tf_example")
        # The TF1 ParseExample op (tf.io.parse_example now writes ParseExampleV2): it needs
        # a vector of serialized Examples, so a scalar reading of tf_example cannot load.
        _, _, _, (dense_x,) = tf.raw_ops.ParseExample(
            serialized=tf_example, names=tf.constant([], tf.string), sparse_keys=[],
            dense_keys=[tf.constant("x")], dense_defaults=[tf.constant([], tf.float32)],
            sparse_types=[], dense_shapes=[[1]], name="ParseExample")
        x = tf.identity(dense_x, name="x")
        y = tf.add(tf.multiply(a, x), b, name="y")
        x2 = v1.placeholder(tf.float32, shape=[None, 1], name="x2")
        y2 = tf.add(tf.multiply(a, x2), c, name="y2")

        Path(ASSET).write_text(ASSET_TEXT)  # a relative path: nothing of this machine is baked in
        asset_path = tf.constant(ASSET, name="asset_path")
        v1.add_to_collection(v1.GraphKeys.ASSET_FILEPATHS, asset_path)
        filename = v1.Variable("", name="filename_tensor", use_resource=False)
        assign = v1.assign(filename, asset_path)

        info = v1.saved_model.utils.build_tensor_info
        predict = v1.saved_model.signature_def_utils.build_signature_def(
            {"x": info(x)}, {"y": info(y)}, "tensorflow/serving/predict")
        if legacy_producer:
            for tensor in (*predict.inputs.values(), *predict.outputs.values()):
                tensor.ClearField("tensor_shape")  # as old exporters wrote it: shape not recorded
        signatures = {
            "serving_default": predict,
            "regress_x_to_y": v1.saved_model.signature_def_utils.build_signature_def(
                {"inputs": info(tf_example)}, {"outputs": info(y)}, "tensorflow/serving/regress"),
            "classify_x_to_y": v1.saved_model.signature_def_utils.build_signature_def(
                {"inputs": info(tf_example)}, {"scores": info(y)}, "tensorflow/serving/classify"),
            "predict_x2_to_y2": v1.saved_model.signature_def_utils.build_signature_def(
                {"x2": info(x2)}, {"y2": info(y2)}, "tensorflow/serving/predict"),
        }
        with v1.Session(graph=graph) as session:
            session.run(v1.global_variables_initializer())
            builder = v1.saved_model.Builder(str(dest))
            init: dict[str, Any] = (
                {"legacy_init_op": tf.group(assign, name="legacy_init_op")} if legacy else
                {"main_op": tf.group(v1.saved_model.main_op.main_op(), assign, name="main_op")})
            builder.add_meta_graph_and_variables(
                session, ["serve"], signature_def_map=signatures,
                assets_collection=v1.get_collection(v1.GraphKeys.ASSET_FILEPATHS),
                strip_default_attrs=True, **init)
            builder.save()
