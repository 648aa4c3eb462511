"""Where a file name comes from: a string input traced back through the call chain to an
asset, a constant or a caller's input, and whether an asset stays inside the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Mapping

from harness.safety.graph import const_string

ARG_OFFSETS: Mapping[str, int] = {
    "PartitionedCall": 0, "StatefulPartitionedCall": 0,
    "If": 1, "StatelessIf": 1, "Case": 1, "StatelessCase": 1,
    "While": 0, "StatelessWhile": 0, "For": 3,
}
"""Index of the node input that becomes a called function's first argument."""


PASS_THROUGH = frozenset({"Identity", "StopGradient", "Snapshot", "IdentityN"})
"""Ops whose output is their first input (a file name passes through them unchanged)."""


@dataclass(frozen=True)
class Source:
    """Where a string input (a file name) comes from."""

    kind: str  # "asset" | "const" | "input" | "unknown"
    value: str

    def describe(self) -> str:
        if self.kind == "asset":
            return f"asset {self.value!r}"
        if self.kind == "const":
            return f"constant {self.value!r}"
        return self.value


@dataclass
class Frame:
    """A graph or function body on the walk's call chain."""

    label: str
    nodes: dict[str, Any]
    library: dict[str, Any]
    where: str
    args: tuple[str, ...] = ()
    call_node: Any = None
    call_attr: str = ""
    bound: tuple[Source, ...] | None = None
    assets: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_graph(self) -> bool:
        return self.where == "graph" or self.where.startswith("embedded GraphDef")


def asset_problem(model_dir: Path, source: Source | None) -> str | None:
    if source is None:
        return "vocabulary file name is missing from the node's inputs"
    if source.kind == "asset":
        path = PurePosixPath(source.value.replace("\\", "/"))
        if path.is_absolute() or ".." in path.parts:
            return f"asset read from outside assets/: {source.value}"
        return None
    if source.kind == "const":
        value = source.value
        assets_dir = (model_dir / "assets").resolve()
        if Path(value).is_absolute():
            try:
                Path(value).resolve().relative_to(assets_dir)
            except ValueError:
                return f"asset read from outside assets/: {value}"
            return (f"asset read by absolute path (breaks when the model moves; save it "
                    f"as a tf.saved_model.Asset): {value}")
        return (f"asset read from outside assets/: {value} (a relative path resolved "
                "against the working directory, not an asset of the model)")
    if source.kind == "input":
        return (f"vocabulary file name comes from {source.value}: any file can be read, "
                "not an asset of the model")
    return (f"vocabulary file name cannot be traced to an asset of the model "
            f"({source.value})")

def trace_input(chain: list[Frame], node: Any, position: int) -> Source | None:
    inputs = [i for i in node.input if not i.startswith("^")]
    if position >= len(inputs):
        return None
    return trace_tensor(chain, len(chain) - 1, inputs[position], 0)

def trace_tensor(chain: list[Frame], depth: int, tensor: str, hops: int) -> Source:
    frame = chain[depth]
    name = tensor.lstrip("^").split(":")[0]
    if hops > 64:
        return Source("unknown", f"too many hops tracing '{name}'")
    if not frame.is_graph and name in frame.args and name not in frame.nodes:
        index = frame.args.index(name)
        if frame.bound is not None:
            user_args = len(frame.args) - len(frame.bound)
            if index >= user_args:
                return frame.bound[index - user_args]
            return Source("input", f"argument '{name}' of {frame.where}")
        if depth == 0 or frame.call_node is None:
            return Source("input", f"argument '{name}' of {frame.where}")
        call = frame.call_node
        offset = 0 if call.op in chain[depth - 1].library else ARG_OFFSETS.get(call.op)
        data_inputs = [i for i in call.input if not i.startswith("^")]
        if offset is None or offset + index >= len(data_inputs):
            return Source("unknown", f"argument '{name}' of {frame.where}, passed by "
                                      f"{call.op} node '{call.name}'")
        return trace_tensor(chain, depth - 1, data_inputs[offset + index], hops + 1)
    if frame.is_graph and name in frame.assets:
        return Source("asset", frame.assets[name])
    node = frame.nodes.get(name)
    if node is None:
        return Source("unknown", f"tensor '{tensor}' not found")
    if node.op == "Const":
        value = const_string(node)
        if value is None:
            return Source("unknown", f"non-string constant '{name}'")
        return Source("const", value)
    if node.op in PASS_THROUGH and node.input:
        return trace_tensor(chain, depth, node.input[0], hops + 1)
    if node.op in ("Placeholder", "PlaceholderWithDefault"):
        return Source("input", f"graph input '{name}' (fed by the caller)")
    if node.op == "ReadVariableOp" and node.input:
        handle = node.input[0].lstrip("^").split(":")[0]
        for other in frame.nodes.values():
            if (other.op in ("AssignVariableOp", "Assign") and len(other.input) > 1
                    and other.input[0].split(":")[0] == handle):
                return trace_tensor(chain, depth, other.input[1], hops + 1)
        return Source("unknown", f"value of variable '{handle}'")
    return Source("unknown", f"computed at run time by {node.op} node '{name}'")

def embedded_graph_of(chain: list[Frame], node: Any) -> Any:
    """The GraphDef a DatasetFromGraph node runs, when it is a Const of the model."""
    source = input_bytes(chain, node)
    if source is None:
        return None
    from google.protobuf import message

    from harness.savedmodel.tf_modules import tf_module

    graph_pb2 = tf_module("tensorflow.core.framework.graph_pb2")

    graph_def = graph_pb2.GraphDef()
    try:
        graph_def.ParseFromString(source)
    except (message.DecodeError, RuntimeError, ValueError):
        return None
    return graph_def

def input_bytes(chain: list[Frame], node: Any) -> bytes | None:
    inputs = [i for i in node.input if not i.startswith("^")]
    if not inputs:
        return None
    depth, tensor = len(chain) - 1, inputs[0]
    for _ in range(64):
        frame = chain[depth]
        name = tensor.split(":")[0]
        target = frame.nodes.get(name)
        if target is not None and target.op == "Const":
            values = target.attr["value"].tensor.string_val
            return bytes(values[0]) if len(values) == 1 else None
        if target is not None and target.op in PASS_THROUGH and target.input:
            tensor = target.input[0]
            continue
        if (target is None and not frame.is_graph and name in frame.args
                and frame.call_node is not None and depth > 0):
            call = frame.call_node
            offset = 0 if call.op in chain[depth - 1].library else ARG_OFFSETS.get(call.op)
            data_inputs = [i for i in call.input if not i.startswith("^")]
            index = frame.args.index(name)
            if offset is None or offset + index >= len(data_inputs):
                return None
            depth, tensor = depth - 1, data_inputs[offset + index]
            continue
        return None
    return None


def chain_path(chain: list[Frame], root: str) -> str:
    labels = [frame.label for frame in chain if frame.label]
    return " -> ".join([root, *labels])


def bound_source(object_graph: Any, node_id: int, asset_files: list[str],
                  graph: Frame) -> Source:
    if node_id >= len(object_graph.nodes):
        return Source("unknown", f"object graph node {node_id} missing")
    obj = object_graph.nodes[node_id]
    kind = obj.WhichOneof("kind")
    if kind == "asset":
        index = obj.asset.asset_file_def_index
        if 0 <= index < len(asset_files):
            return Source("asset", asset_files[index])
        return Source("unknown", f"asset #{index} missing from asset_file_def")
    if kind == "constant":
        const = graph.nodes.get(obj.constant.operation)
        if const is not None and const.op == "Const":
            value = const_string(const)
            if value is not None:
                return Source("const", value)
        return Source("unknown", f"captured constant '{obj.constant.operation}'")
    return Source("unknown", f"captured {kind or 'object'} (object graph node {node_id})")
