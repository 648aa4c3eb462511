"""Hostile SavedModels: each one carries something the static op scanner must catch.

``HOSTILE_BUILDERS`` maps a fixture name to ``builder(dest)``, which writes one SavedModel
directly into ``dest`` (committed copies live in ``models_under_test/hostile/<name>/``):

* ``reads_file_nested``  -- ``serving_default`` calls a nested tf.function inside a
  ``tf.cond`` branch, which calls ``tf.io.read_file`` (``ReadFile`` three functions deep);
* ``py_func``            -- ``tf.py_function`` (``EagerPyFunc``) in ``serving_default`` and
  ``tf.numpy_function`` (``PyFunc``) in signature ``numpy``;
* ``custom_op``          -- a normal tiny model whose ``saved_model.pb`` was edited so one
  node of a signature function has op type ``ZzCustomOp`` (registered nowhere);
* ``asset_outside``      -- TF1-style export of a lookup table whose vocabulary file is
  the absolute path ``/etc/passwd`` (a Const, not an asset of the model);
* ``writes_file``        -- ``tf.io.write_file`` and ``tf.print(output_stream="file://...")``;
* ``dataset_reads_file`` -- a tf.data pipeline inside the signature: ``TextLineDataset``
  and a ``map(tf.io.read_file)`` (``ReadFile`` inside the ``MapDataset`` function);
* ``lambda_layer``       -- a Keras model with a ``Lambda`` layer. Keras 3 no longer writes
  ``keras_metadata.pb``, so the model is exported with ``tf.saved_model.save`` and the
  ``keras_metadata.pb`` is written by hand in the format tf_keras writes (a
  ``SavedMetadata`` proto with one JSON ``metadata`` string per layer).

None of these models is ever loaded by the harness: they exist to be rejected before any
TensorFlow loader touches them. TensorFlow is imported inside the builders only.
"""

from __future__ import annotations

import base64
import json
import marshal
from pathlib import Path
from typing import Callable

CUSTOM_OP_TYPE = "ZzCustomOp"
"""Op type planted into ``custom_op``; no TensorFlow build registers it."""

OUTSIDE_VOCAB_PATH = "/etc/passwd"
"""Vocabulary file of ``asset_outside``: an absolute path outside the model directory."""

WRITE_FILE_TARGET = "/tmp/model_contract_hostile_write.txt"
PRINT_FILE_TARGET = "file:///tmp/model_contract_hostile_print.log"


def _string_spec(name: str):  # noqa: ANN202 - tf.TensorSpec, tf imported lazily
    import tensorflow as tf

    return tf.TensorSpec([], tf.string, name=name)


def build_reads_file_nested(dest: Path) -> None:
    """serving_default -> tf.function -> tf.cond then-branch -> tf.function -> ReadFile."""
    import tensorflow as tf

    class ReadsFile(tf.Module):
        @tf.function
        def read(self, path: tf.Tensor) -> tf.Tensor:
            return tf.io.read_file(path)

        @tf.function
        def maybe_read(self, path: tf.Tensor) -> tf.Tensor:
            return tf.cond(tf.strings.length(path) > 0,
                           lambda: self.read(path),
                           lambda: tf.constant(""))

        @tf.function(input_signature=[_string_spec("path")])
        def serve(self, path: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"content": self.maybe_read(path)}

    module = ReadsFile()
    tf.saved_model.save(module, str(dest), signatures={"serving_default": module.serve})


def build_py_func(dest: Path) -> None:
    """tf.py_function in serving_default, tf.numpy_function in signature 'numpy'."""
    import numpy as np
    import tensorflow as tf

    class PyFunc(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def serve(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
            y = tf.py_function(lambda t: t * 2.0, [x], tf.float32)
            return {"y": y}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def numpy(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
            y = tf.numpy_function(lambda a: (a * 2.0).astype(np.float32), [x], tf.float32)
            return {"y": y}

    module = PyFunc()
    tf.saved_model.save(module, str(dest),
                        signatures={"serving_default": module.serve, "numpy": module.numpy})


def build_custom_op(dest: Path) -> None:
    """A tiny y = 2x + 1 model whose AddV2 node was renamed to the unregistered ZzCustomOp."""
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    class Affine(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def serve(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"y": x * 2.0 + 1.0}

    module = Affine()
    tf.saved_model.save(module, str(dest), signatures={"serving_default": module.serve})
    pb_path = Path(dest) / "saved_model.pb"
    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString(pb_path.read_bytes())
    edited = 0
    for function in saved_model.meta_graphs[0].graph_def.library.function:
        if not function.signature.name.startswith("__inference_serve_"):
            continue
        for node in function.node_def:
            if node.op == "AddV2":
                node.op = CUSTOM_OP_TYPE
                edited += 1
    if edited != 1:
        raise RuntimeError(f"expected exactly one AddV2 node in serve(), edited {edited}")
    pb_path.write_bytes(saved_model.SerializeToString())


def build_asset_outside(dest: Path) -> None:
    """TF1 export: a vocabulary table initialised from the absolute path /etc/passwd."""
    import tensorflow as tf

    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        words = v1.placeholder(tf.string, [None], name="words")
        initializer = v1.lookup.TextFileInitializer(
            OUTSIDE_VOCAB_PATH, tf.string, v1.lookup.TextFileIndex.WHOLE_LINE,
            tf.int64, v1.lookup.TextFileIndex.LINE_NUMBER)
        table = v1.lookup.StaticHashTable(initializer, default_value=-1)
        ids = tf.identity(table.lookup(words), name="ids")
        with v1.Session(graph=graph) as session:
            builder = v1.saved_model.Builder(str(dest))
            signature = v1.saved_model.predict_signature_def({"words": words}, {"ids": ids})
            # No assets_list: the path stays a plain Const outside the model directory.
            builder.add_meta_graph_and_variables(
                session, ["serve"], signature_def_map={"serving_default": signature},
                main_op=v1.tables_initializer())
            builder.save()


def build_writes_file(dest: Path) -> None:
    """tf.io.write_file and tf.print to a file:// stream inside serving_default."""
    import tensorflow as tf

    class WritesFile(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def serve(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
            tf.io.write_file(WRITE_FILE_TARGET, tf.strings.as_string(tf.reduce_sum(x)))
            tf.print(x, output_stream=PRINT_FILE_TARGET)
            return {"y": x + 1.0}

    module = WritesFile()
    tf.saved_model.save(module, str(dest), signatures={"serving_default": module.serve})


def build_dataset_reads_file(dest: Path) -> None:
    """A tf.data pipeline in serving_default: TextLineDataset and map(tf.io.read_file)."""
    import tensorflow as tf

    class DatasetReads(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="paths")])
        def serve(self, paths: tf.Tensor) -> dict[str, tf.Tensor]:
            lines = tf.data.TextLineDataset(paths).reduce(
                tf.constant(0, tf.int64), lambda count, _: count + 1)
            sizes = tf.data.Dataset.from_tensor_slices(paths).map(tf.io.read_file).map(
                lambda content: tf.cast(tf.strings.length(content), tf.int64))
            total = sizes.reduce(tf.constant(0, tf.int64), lambda acc, n: acc + n)
            return {"lines": lines, "bytes": total}

    module = DatasetReads()
    tf.saved_model.save(module, str(dest), signatures={"serving_default": module.serve})


def _lambda_layer_metadata(layer_name: str, code: bytes) -> dict[str, object]:
    """The per-layer JSON that tf_keras writes for a Lambda layer (``_tf_keras_layer``)."""
    config = {
        "name": layer_name,
        "trainable": True,
        "dtype": "float32",
        "function": {"class_name": "__lambda__",
                     "config": {"code": base64.b64encode(code).decode("ascii"),
                                "defaults": None, "closure": None}},
        "function_type": "lambda",
        "module": "__main__",
        "output_shape": None,
        "output_shape_type": "raw",
        "output_shape_module": None,
        "arguments": {},
    }
    return {"name": layer_name, "trainable": True, "expects_training_arg": False,
            "dtype": "float32", "batch_input_shape": None, "stateful": False,
            "must_restore_from_config": False, "preserve_input_structure_in_config": False,
            "autocast": True, "class_name": "Lambda", "config": config}


def build_lambda_layer(dest: Path) -> None:
    """Keras Input -> Dense -> Lambda(x * 2); keras_metadata.pb written in tf_keras's format."""
    import keras
    import numpy as np
    from tensorflow.python.keras.protobuf import saved_metadata_pb2

    inputs = keras.Input(shape=(3,), name="x")
    dense = keras.layers.Dense(2, name="dense", kernel_initializer="ones")
    doubled = keras.layers.Lambda(lambda t: t * 2.0, name="lambda")
    model = keras.Model(inputs, doubled(dense(inputs)), name="with_lambda")
    model(np.zeros((1, 3), np.float32))
    model.export(str(dest), format="tf_saved_model", verbose=False)

    metadata = saved_metadata_pb2.SavedMetadata()
    version = {"producer": 2, "min_consumer": 1}
    network = {"name": model.name, "class_name": "Functional", "trainable": True,
               "expects_training_arg": True, "dtype": "float32",
               "must_restore_from_config": False, "is_graph_network": True}
    input_layer = {"class_name": "InputLayer", "name": "x", "dtype": "float32",
                   "batch_input_shape": [None, 3], "trainable": True,
                   "expects_training_arg": False}
    dense_layer = {"class_name": "Dense", "name": "dense", "dtype": "float32",
                   "trainable": True, "expects_training_arg": False,
                   "config": {"name": "dense", "units": 2, "activation": "linear"}}
    code = marshal.dumps((lambda t: t * 2.0).__code__)
    layers = [("root", "_tf_keras_network", network),
              ("root.layer-0", "_tf_keras_input_layer", input_layer),
              ("root.layer_with_weights-0", "_tf_keras_layer", dense_layer),
              ("root.layer-2", "_tf_keras_layer", _lambda_layer_metadata("lambda", code))]
    for node_id, (path, identifier, payload) in enumerate(layers):
        node = metadata.nodes.add()
        node.node_id = node_id
        node.node_path = path
        node.identifier = identifier
        node.metadata = json.dumps(payload)
        node.version.producer = version["producer"]
        node.version.min_consumer = version["min_consumer"]
    (Path(dest) / "keras_metadata.pb").write_bytes(metadata.SerializeToString())


HOSTILE_BUILDERS: dict[str, Callable[[Path], None]] = {
    "reads_file_nested": build_reads_file_nested,
    "py_func": build_py_func,
    "custom_op": build_custom_op,
    "asset_outside": build_asset_outside,
    "writes_file": build_writes_file,
    "dataset_reads_file": build_dataset_reads_file,
    "lambda_layer": build_lambda_layer,
}
"""Fixture name -> ``builder(dest)`` writing that SavedModel directly into ``dest``."""

HOSTILE_DIR = Path(__file__).parent / "hostile"
"""Where the committed hostile fixtures live: ``HOSTILE_DIR / <name>``."""


def build_all_hostile(root: Path = HOSTILE_DIR) -> list[Path]:
    """Build every hostile fixture into ``root/<name>`` (each must be missing or empty)."""
    written = []
    for name, builder in HOSTILE_BUILDERS.items():
        target = Path(root) / name
        if target.exists() and any(target.iterdir()):
            raise FileExistsError(f"cannot build hostile fixture {name!r} into {target}: "
                                  "it exists and is not empty")
        target.mkdir(parents=True, exist_ok=True)
        builder(target)
        written.append(target)
    return written


if __name__ == "__main__":
    for path in build_all_hostile():
        print(path)
