"""Keras ``Lambda`` layers recorded in ``keras_metadata.pb`` or the object graph: loading
one runs Python bytecode stored in the model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Iterator

from harness.errors import ModelError
from harness.safety.findings import LambdaLayer
from harness.safety.graph import object_paths


def read_lambda_layers(model_dir: Path, meta_graphs: Iterable[Any]) -> Iterator[LambdaLayer]:
    """Keras Lambda layers in ``keras_metadata.pb`` and in legacy object-graph metadata."""
    seen: set[str] = set()
    metadata_file = Path(model_dir) / "keras_metadata.pb"
    if metadata_file.is_file():
        from google.protobuf import message

        from harness.savedmodel.tf_modules import tf_module

        saved_metadata_pb2 = tf_module("tensorflow.python.keras.protobuf.saved_metadata_pb2")

        metadata = saved_metadata_pb2.SavedMetadata()
        try:
            metadata.ParseFromString(metadata_file.read_bytes())
        except (message.DecodeError, RuntimeError, ValueError) as error:
            raise ModelError(f"keras_metadata.pb is truncated or corrupt ({error})",
                             file=metadata_file) from None
        for node in metadata.nodes:
            for name in _lambda_names(node.metadata, metadata_file, node.node_path):
                if name not in seen:
                    seen.add(name)
                    yield LambdaLayer(name, node.node_path, "keras_metadata.pb")
    for meta_graph in meta_graphs:
        object_graph = meta_graph.object_graph_def
        for index, path in object_paths(object_graph).items():
            obj = object_graph.nodes[index]
            if obj.WhichOneof("kind") != "user_object":
                continue
            user = obj.user_object
            if not user.identifier.startswith("_tf_keras") or not user.metadata:
                continue
            for name in _lambda_names(user.metadata, Path(model_dir) / "saved_model.pb", path):
                if name not in seen:
                    seen.add(name)
                    yield LambdaLayer(name, path, "saved_model.pb object graph")


def _lambda_names(text: str, file: Path, place: str) -> Iterator[str]:
    if not text:
        return
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ModelError(f"Keras layer metadata is not valid JSON: {error.msg}",
                         file=file, place=place) from None
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("class_name") == "Lambda":
                config = item.get("config")
                inner = config.get("name") if isinstance(config, dict) else None
                yield str(item.get("name") or inner or place)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
