"""Reading the protobufs of a SavedModel: which nodes feed which, which functions a node
calls, strings in attrs and constants, assets and the object graph. Pure navigation.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping


def object_paths(object_graph: Any) -> dict[int, str]:
    """Object-graph node id -> a readable path such as ``root.table._initialize``."""
    paths: dict[int, str] = {}
    if not len(object_graph.nodes):
        return paths
    paths[0] = "root"
    queue = [0]
    while queue:
        index = queue.pop(0)
        for child in object_graph.nodes[index].children:
            if child.node_id not in paths and child.node_id < len(object_graph.nodes):
                paths[child.node_id] = f"{paths[index]}.{child.local_name}"
                queue.append(child.node_id)
    return paths


def backward_closure(nodes: Mapping[str, Any], starts: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    stack = [s for s in starts if s in nodes]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        for tensor in nodes[name].input:
            source = tensor.lstrip("^").split(":")[0]
            if source in nodes and source not in seen:
                stack.append(source)
    return seen


def called_functions(node: Any) -> Iterator[tuple[str, str]]:
    """(attr name, function name) for the node's op type and every func attr, nested too."""
    yield "", node.op
    yield from funcs_in_attrs(node.attr)


def funcs_in_attrs(attrs: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for key in sorted(attrs):
        value = attrs[key]
        kind = value.WhichOneof("value")
        if kind == "func":
            yield key, value.func.name
            for inner, name in funcs_in_attrs(value.func.attr):
                yield f"{key}.{inner}", name
        elif kind == "list":
            for func in value.list.func:
                yield key, func.name
                for inner, name in funcs_in_attrs(func.attr):
                    yield f"{key}.{inner}", name


def attr_string(node: Any, key: str) -> str:
    if key not in node.attr:
        return ""
    return node.attr[key].s.decode("utf-8", "replace")


def const_string(node: Any) -> str | None:
    tensor = node.attr["value"].tensor
    if len(tensor.string_val) >= 1:
        return bytes(tensor.string_val[0]).decode("utf-8", "replace")
    return None


def tensors_of(info: Any) -> list[str]:
    """Every graph tensor a TensorInfo names: a dense one, the three parts of a COO sparse
    tensor, every component of a composite (each can be computed by different ops)."""
    encoding = info.WhichOneof("encoding")
    if encoding == "coo_sparse":
        sparse = info.coo_sparse
        return [t for t in (sparse.values_tensor_name, sparse.indices_tensor_name,
                            sparse.dense_shape_tensor_name) if t]
    if encoding == "composite_tensor":
        return [t for component in info.composite_tensor.components
                for t in tensors_of(component)]
    return [info.name]

def asset_tensors(meta_graph: Any) -> dict[str, str]:
    """Graph node name -> asset file name, from asset_file_def and the TF1 assets collection."""
    from harness.savedmodel.tf_modules import tf_module

    meta_graph_pb2 = tf_module("tensorflow.core.protobuf.meta_graph_pb2")

    assets = {a.tensor_info.name.split(":")[0]: a.filename for a in meta_graph.asset_file_def}
    collection = meta_graph.collection_def.get("saved_model_assets")
    if collection is not None:
        for item in collection.any_list.value:
            asset = meta_graph_pb2.AssetFileDef()
            if item.Unpack(asset):
                assets[asset.tensor_info.name.split(":")[0]] = asset.filename
    return assets
