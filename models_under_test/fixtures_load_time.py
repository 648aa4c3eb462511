"""SavedModels whose hostile code runs while a loader loads them, and benign twins.

Each builder writes one SavedModel into ``dest``; the hostile ones write ``target`` (a
file name chosen by the caller, e.g. under a test's tmp_path) when loaded:

* ``build_tf1_restore_writes`` -- a TF1 export whose saver restore op
  (``saver_def.restore_op_name``) has a control input on a ``WriteFile`` node: every TF1
  loader runs it while restoring the variables;
* ``build_tf2_restore_function_writes`` -- a TF2 object with its own checkpoint
  serialisation whose ``_restore_from_tensors`` calls ``tf.io.write_file``:
  ``tf.saved_model.load`` runs that restore function (``saveable_objects``) while
  restoring the checkpoint;
* ``build_tf2_mutable_table`` -- benign: a MutableHashTable, whose restore function
  (``LookupTableImportV2``) is exactly what load-time restore roots must accept.

TensorFlow is imported inside the builders only.
"""

from __future__ import annotations

from pathlib import Path


def build_tf1_restore_writes(dest: Path, target: Path) -> None:
    """TF1 ``y = x * w``; the restore op depends on ``WriteFile(target, "restored")``."""
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.float32, [None], name="x")
        weight = v1.Variable(2.0, name="w")
        y = tf.identity(x * weight, name="y")
        with v1.Session(graph=graph) as session:
            session.run(v1.global_variables_initializer())
            builder = v1.saved_model.Builder(str(dest))
            signature = v1.saved_model.predict_signature_def({"x": x}, {"y": y})
            builder.add_meta_graph_and_variables(
                session, ["serve"], signature_def_map={"serving_default": signature})
            builder.save()
    pb_path = Path(dest) / "saved_model.pb"
    saved_model = saved_model_pb2.SavedModel.FromString(pb_path.read_bytes())
    meta_graph = saved_model.meta_graphs[0]
    graph_def = meta_graph.graph_def
    for name, value in (("pwn/filename", str(target)), ("pwn/contents", "restored")):
        node = graph_def.node.add(name=name, op="Const")
        node.attr["dtype"].type = tf.string.as_datatype_enum
        node.attr["value"].tensor.dtype = tf.string.as_datatype_enum
        node.attr["value"].tensor.string_val.append(value.encode())
    graph_def.node.add(name="pwn/write", op="WriteFile", input=["pwn/filename", "pwn/contents"])
    restore = meta_graph.saver_def.restore_op_name.split(":")[0]
    restore_node = next(n for n in graph_def.node if n.name == restore)
    restore_node.input.append("^pwn/write")
    pb_path.write_bytes(saved_model.SerializeToString())


def build_tf2_restore_function_writes(dest: Path, target: Path) -> None:
    """A tf.Module with a checkpointed value whose restore function writes ``target``."""
    import tensorflow as tf

    class Restores(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = tf.Variable(2.0)

        def _serialize_to_tensors(self) -> dict[str, tf.Tensor]:
            return {"marker": tf.constant("saved")}

        def _restore_from_tensors(self, restored_tensors: dict[str, tf.Tensor]) -> tf.Operation:
            return tf.io.write_file(str(target), restored_tensors["marker"])

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def serve(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"y": x * self.scale}

    module = Restores()
    tf.saved_model.save(module, str(dest), signatures={"serving_default": module.serve})


def build_tf2_mutable_table(dest: Path) -> None:
    """Benign: a MutableHashTable (its restore function imports the table's contents)."""
    import tensorflow as tf

    class Table(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.table = tf.lookup.experimental.MutableHashTable(tf.string, tf.int64, -1)
            self.table.insert(tf.constant(["a", "b"]), tf.constant([1, 2], tf.int64))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="words")])
        def serve(self, words: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"ids": self.table.lookup(words)}

    module = Table()
    tf.saved_model.save(module, str(dest), signatures={"serving_default": module.serve})
