"""Read a SavedModel's interface from ``saved_model.pb`` without executing anything.

Its SignatureDefs are read into the declared-interface model (:mod:`harness.interface`):
:func:`signature_info` (also used for a server's metadata), :func:`interface_from_model`.
:class:`MetaGraphInfo` and :class:`SavedModelInfo` keep the reader's other facts (tag-sets,
assets, variables, fingerprint).

The protobuf classes come from TensorFlow's package, imported lazily and without starting
TensorFlow (:mod:`harness.savedmodel.tf_modules`). Nothing here loads variables or runs a
graph.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from harness.contract.model import frozen
from harness.errors import ModelError
from harness.interface.model import Interface, SignatureInterface, TensorInterface
from harness.savedmodel.pb_file import read_pb
from harness.savedmodel.tf_modules import tf_module

#: TF DataType enum names -> the contract's dtype spelling.
DTYPE_NAMES = {
    "DT_HALF": "float16", "DT_FLOAT": "float32", "DT_DOUBLE": "float64", "DT_BFLOAT16": "bfloat16",
    "DT_INT8": "int8", "DT_INT16": "int16", "DT_INT32": "int32", "DT_INT64": "int64",
    "DT_UINT8": "uint8", "DT_UINT16": "uint16", "DT_UINT32": "uint32", "DT_UINT64": "uint64",
    "DT_BOOL": "bool", "DT_STRING": "string", "DT_COMPLEX64": "complex64",
    "DT_COMPLEX128": "complex128",
}



#: Signature keys TensorFlow adds for its own use, never part of a model's interface.
INTERNAL_SIGNATURES = frozenset({"__saved_model_init_op", "__saved_model_train_op"})


@dataclass(frozen=True)
class MetaGraphInfo:
    tags: frozenset[str]
    signatures: Mapping[str, SignatureInterface]
    asset_files: tuple[str, ...]  # file names the graph references (asset_file_def)
    tensorflow_version: str
    has_variables: bool


@dataclass(frozen=True)
class SavedModelInfo:
    """What a SavedModel directory declares: tag-sets, signatures, assets, variables."""

    path: Path
    meta_graphs: tuple[MetaGraphInfo, ...]
    assets_on_disk: tuple[str, ...]
    variables_present: bool
    fingerprint: Mapping[str, int]

    def meta_graph(self, tags: "set[str] | frozenset[str] | tuple[str, ...]") -> MetaGraphInfo | None:
        wanted = frozenset(tags)
        for mg in self.meta_graphs:
            if mg.tags == wanted:
                return mg
        return None

    @property
    def tag_sets(self) -> list[list[str]]:
        return [sorted(mg.tags) for mg in self.meta_graphs]


#: Converted formats model-contract runs only next to the SavedModel they were made from.
CONVERTED_FORMATS = {".onnx": ("ONNX", "--onnx"), ".tflite": ("TFLite", "--tflite")}


def _converted_hint(files: list[Path]) -> str | None:
    """What to do with an ONNX or TFLite file given where a SavedModel was expected."""
    found = [(f, CONVERTED_FORMATS[f.suffix.lower()]) for f in files
             if f.suffix.lower() in CONVERTED_FORMATS]
    if not found:
        return None
    file, (fmt, option) = found[0]
    return (f"{file.name} is a model converted to {fmt}: model-contract checks it against the "
            f"SavedModel it was converted from (check CONTRACT --model SAVEDMODEL {option} "
            f"{file.name}); a model shipped only as {fmt} cannot be checked or given a contract")


def read_saved_model(path: str | Path) -> SavedModelInfo:
    """Parse ``path/saved_model.pb`` (or ``.pbtxt``); :class:`ModelError` if it is not a SavedModel."""
    path = Path(path)
    proto = read_proto(path)
    assets_dir = path / "assets"
    assets = tuple(sorted(
        str(p.relative_to(assets_dir)) for p in assets_dir.rglob("*") if p.is_file()
    )) if assets_dir.is_dir() else ()
    variables_present = (path / "variables" / "variables.index").is_file()
    metas = tuple(_meta_graph(mg) for mg in proto.meta_graphs)
    return SavedModelInfo(path, metas, assets, variables_present, _fingerprint(path))


def read_proto(path: str | Path) -> Any:
    """The SavedModel protobuf of the directory ``path``: the one parse of saved_model.pb that
    the static checks, the op-policy scan, init, diff and goldens share. Nothing is loaded or
    executed; a directory that is not a readable SavedModel raises :class:`ModelError`
    naming the file and what is wrong with it."""
    path = Path(path)
    if not path.exists():
        raise ModelError("model directory does not exist", file=path)
    if not path.is_dir():
        raise ModelError("is a file; a SavedModel is a directory holding saved_model.pb", file=path,
                         hint=_converted_hint([path]))
    pb, pbtxt = path / "saved_model.pb", path / "saved_model.pbtxt"
    if not pb.is_file() and not pbtxt.is_file():
        present = sorted(path.iterdir())
        names = [p.name for p in present[:8]]
        versions = sorted(p.name for p in present
                          if p.is_dir() and p.name.isdigit() and (p / "saved_model.pb").is_file())
        hint = _converted_hint(present) or (
            f"this looks like a TF Serving base path; pass a version folder: "
            f"{', '.join(str(path / v) for v in versions)}" if versions else
            "point at the SavedModel directory, or at a TF Serving base path whose numeric "
            "version folders hold SavedModels")
        raise ModelError(
            "not a SavedModel: no saved_model.pb or saved_model.pbtxt"
            + (f" (found: {', '.join(names)})" if names else " (the directory is empty)"),
            file=path, hint=hint)
    source = pb if pb.is_file() else pbtxt
    proto = _parse(source)
    if not proto.meta_graphs:
        raise ModelError("the SavedModel has no MetaGraphDef (saved_model.pb holds no MetaGraph; "
                         "the file is empty or truncated)", file=source)
    return proto


def _parse(file: Path) -> Any:
    from google.protobuf import message, text_format
    saved_model_pb2 = tf_module("tensorflow.core.protobuf.saved_model_pb2")

    proto = saved_model_pb2.SavedModel()
    data = read_pb(file)
    if not data:
        raise ModelError("is empty (0 bytes); the export was interrupted or the file truncated",
                         file=file)
    try:
        if file.suffix == ".pbtxt":
            text_format.Parse(data.decode("utf-8"), proto)
        else:
            proto.ParseFromString(data)
    except (message.DecodeError, text_format.ParseError, UnicodeDecodeError, RuntimeError) as exc:
        raise ModelError(
            f"is truncated or corrupt: cannot parse {len(data)} bytes as a SavedModel proto ({exc})",
            file=file,
        ) from None
    return proto


def _shape(shape_proto: Any) -> tuple[int | None, ...] | None:
    if shape_proto.unknown_rank:
        return None
    return tuple(None if d.size < 0 else int(d.size) for d in shape_proto.dim)


def _dtype(enum: int) -> str:
    types_pb2 = tf_module("tensorflow.core.framework.types_pb2")

    dt_name = types_pb2.DataType.Name(enum) if enum in types_pb2.DataType.values() else "DT_INVALID"
    if dt_name.endswith("_REF"):  # reference variables (TF1) carry the same values
        dt_name = dt_name[: -len("_REF")]
    return DTYPE_NAMES.get(dt_name, dt_name)


def tensor_info(key: str, info: Any) -> TensorInterface:
    """A ``TensorInfo`` proto read as TensorFlow reads it.

    An absent ``tensor_shape`` (old TF1 exports, ``build_tensor_info_from_op``) means the
    shape is unknown, not a scalar: a scalar is a *present* shape with no dims. A COO
    sparse tensor is named by its values tensor and keeps its dense shape; a composite
    tensor (ragged, ...) carries no dtype or shape of its own, only in its TypeSpec.
    """
    kind = info.WhichOneof("encoding")
    if kind == "composite_tensor":
        return _composite(key, info.composite_tensor)
    shape = _shape(info.tensor_shape) if info.HasField("tensor_shape") else None
    if kind == "coo_sparse":
        return TensorInterface.of_sizes(key, _dtype(info.dtype), shape,
                                        tensor_name=info.coo_sparse.values_tensor_name,
                                        encoding="sparse")
    return TensorInterface.of_sizes(key, _dtype(info.dtype), shape, tensor_name=info.name)


def _composite(key: str, composite: Any) -> TensorInterface:
    """Dtype and shape from a composite's TypeSpec state: its first shape and first dtype.

    Every TypeSpec TensorFlow ships that has a dtype (RaggedTensorSpec, SparseTensorSpec,
    ...) serializes ``(shape, dtype, ...)``; one without either reads as unknown.
    """
    spec = composite.type_spec
    dtype, shape = "DT_INVALID", None
    state = spec.type_state
    values = state.tuple_value.values if state.HasField("tuple_value") else []
    for value in values:
        field = value.WhichOneof("kind")
        if field == "tensor_shape_value" and shape is None:
            shape = _shape(value.tensor_shape_value)
        elif field == "tensor_dtype_value" and dtype == "DT_INVALID":
            dtype = _dtype(value.tensor_dtype_value)
    name = spec.type_spec_class_name or "CompositeTensor"
    first = composite.components[0].name if composite.components else ""
    return TensorInterface.of_sizes(key, dtype, shape, tensor_name=first,
                                    encoding=name.removesuffix("Spec"))


def signature_info(key: str, sig: Any) -> SignatureInterface:
    """A ``SignatureDef`` proto as a declared signature (tensors sorted by key)."""
    return SignatureInterface(
        key, sig.method_name,
        {k: tensor_info(k, v) for k, v in sorted(sig.inputs.items())},
        {k: tensor_info(k, v) for k, v in sorted(sig.outputs.items())})


def _meta_graph(mg: Any) -> MetaGraphInfo:
    sigs = {key: signature_info(key, sig) for key, sig in mg.signature_def.items()
            if key not in INTERNAL_SIGNATURES}
    has_variables = bool(mg.saver_def.filename_tensor_name) or any(
        node.op in ("VariableV2", "VarHandleOp", "Variable") for node in mg.graph_def.node
    ) or any(
        n.WhichOneof("kind") == "variable" for n in mg.object_graph_def.nodes
    )
    return MetaGraphInfo(
        tags=frozenset(mg.meta_info_def.tags),
        signatures=frozen(dict(sorted(sigs.items()))),
        asset_files=_asset_files(mg),
        tensorflow_version=mg.meta_info_def.tensorflow_version,
        has_variables=has_variables,
    )


def _asset_files(mg: Any) -> tuple[str, ...]:
    """Asset file names the graph references: TF2 ``asset_file_def`` and the TF1 collection."""
    names = [a.filename for a in mg.asset_file_def]
    collection = mg.collection_def.get("saved_model_assets")
    if collection is not None and collection.HasField("any_list"):
        meta_graph_pb2 = tf_module("tensorflow.core.protobuf.meta_graph_pb2")

        for item in collection.any_list.value:
            asset = meta_graph_pb2.AssetFileDef()
            if item.Unpack(asset):
                names.append(asset.filename)
    return tuple(dict.fromkeys(names))


def _fingerprint(path: Path) -> Mapping[str, int]:
    """The fields of ``fingerprint.pb`` (TF >= 2.12 writes it), or empty."""
    file = path / "fingerprint.pb"
    if not file.is_file():
        return frozen({})
    try:
        fingerprint_pb2 = tf_module("tensorflow.core.protobuf.fingerprint_pb2")

        fp = fingerprint_pb2.FingerprintDef.FromString(file.read_bytes())
    except Exception:  # noqa: BLE001 - an unreadable fingerprint is only a missed shortcut
        return frozen({})
    return frozen({
        "saved_model_checksum": fp.saved_model_checksum,
        "graph_def_program_hash": fp.graph_def_program_hash,
        "signature_def_hash": fp.signature_def_hash,
        "saved_object_graph_hash": fp.saved_object_graph_hash,
        "checkpoint_hash": fp.checkpoint_hash,
    })


def interface_from_model(info: SavedModelInfo, meta_graph: MetaGraphInfo) -> Interface:
    """The interface a SavedModel's MetaGraph declares (its SignatureDefs and asset list)."""
    return Interface(str(info.path), meta_graph.signatures, tuple(sorted(meta_graph.asset_files)),
                     tuple(sorted(meta_graph.tags)), info.fingerprint)


def model_files(path: Path) -> list[Path]:
    """Every regular file of a model directory, sorted (for fingerprints and copies)."""
    out = []
    for root, _dirs, files in os.walk(path):
        for f in files:
            out.append(Path(root) / f)
    return sorted(out)
