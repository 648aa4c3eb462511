"""A first contract from a model: what ``saved_model.pb`` declares, conservatively filled in.

:func:`contract_from_model` reads the model statically (nothing is loaded or executed) and
writes down only what it can know, plus the least it must assume so that the fuzz checks
can draw inputs:

* every signature with its ``method_name``, inputs and outputs: keys, dtypes, shapes. A
  leading unknown size shared by *all* tensors of a signature (at least one input) becomes
  the named dim ``batch`` (declared in ``dims`` as 1..32); other unknown sizes become
  ``null``; an unknown rank becomes ``"shape": null``.
* a string input fed to ``ParseExample``/``ParseExampleV2``/``ParseSingleExample`` is a
  batch (vector) of serialized ``tf.train.Example``: its dense features (keys, dtypes,
  fixed shapes) are read from the parse op and declared under ``example``.
* value domains cannot be known: float inputs (and float Example features) are fuzzed in
  [-1, 1], integer ones in [0, 1] (valid as indices too); outputs get no range or checks.
  The description says so, for the user to replace.
* ``stateful`` when a signature can reach an op that assigns a variable (a counter);
  ``deterministic: false`` when it can reach a stateful random op; ``reject`` is left at
  its default (wrong dtypes refused, an answered wrong rank a finding) and is empty for
  signatures without inputs; the probe notes whether the model refuses wrong ranks.
* ``assets``: the files of ``assets/`` the graph references; ``tags``: the tag-set;
  ``models``: the model path relative to the contract's folder (a TF Serving base path
  stays the base path, and the latest version is read).

Signatures a contract cannot declare (composite tensors, dtypes such as ``resource``, no
outputs) are left out with a note.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from harness.contract.load import schema, validate
from harness.contract.model import DTYPES, FLOAT_DTYPES, INT_DTYPES
from harness.errors import ModelError
from harness.interface.model import DENSE, SignatureInterface, TensorInterface
from harness.savedmodel.layout import resolve_model
from harness.savedmodel.reader import read_saved_model

BATCH_DIM = "batch"
BATCH_BOUND = {"min": 1, "max": 32}
FLOAT_RANGE = [-1.0, 1.0]
INT_RANGE = [0, 1]

PARSE_EXAMPLE_OPS = frozenset({"ParseExample", "ParseExampleV2", "ParseSingleExample"})

#: Reaching one of these from a signature means a call changes model state.
ASSIGN_OPS = frozenset({
    "Assign", "AssignAdd", "AssignSub", "AssignVariableOp", "AssignAddVariableOp",
    "AssignSubVariableOp", "ScatterUpdate", "ScatterAdd", "ScatterSub", "ResourceScatterUpdate",
    "ResourceScatterAdd", "ResourceScatterSub", "ScatterNdUpdate", "ResourceScatterNdUpdate",
    "CountUpTo", "ResourceCountUpTo",
})

#: Stateful random ops: two calls with the same input may differ.
RANDOM_OPS = frozenset({
    "RandomUniform", "RandomUniformInt", "RandomStandardNormal", "TruncatedNormal",
    "Multinomial", "RandomShuffle", "RandomGamma", "RandomPoisson", "RandomPoissonV2",
    "StatefulUniform", "StatefulUniformInt", "StatefulStandardNormalV2",
    "StatefulTruncatedNormal", "StatefulUniformFullInt", "RandomGammaGrad",
})

_EXAMPLE_DTYPES = {"DT_FLOAT": "float32", "DT_INT64": "int64", "DT_STRING": "string"}


@dataclass(frozen=True)
class InitResult:
    """The contract as JSON-ready data, what it was made from, and what the user should know."""

    data: Mapping[str, Any]
    model_dir: Path
    notes: tuple[str, ...]

    def render(self) -> str:
        """The contract as JSON text: nested, with each small object kept on one line."""
        return _json(self.data, 0) + "\n"


def contract_from_model(model: str | Path, *, name: str | None = None,
                        tags: Iterable[str] = ("serve",),
                        output: str | Path | None = None,
                        schema: str | None = None) -> InitResult:
    """A contract for the SavedModel (or TF Serving base path, latest version) at ``model``.

    ``output`` is where the contract will be written: ``models`` are made relative to its
    folder (to the current directory when None). ``$schema`` is ``schema`` (a URL as given, a
    path made relative to that folder), by default the published schema's ``$id``, which
    editors fetch (never a path into this package's install location). The result validates
    against the schema; :class:`ModelError` when the model cannot be read or declares no
    usable signature for ``tags``.
    """
    model = Path(model)
    refs = resolve_model(model)
    ref = refs[-1]
    info = read_saved_model(ref.path)
    wanted = frozenset(tags)
    mg = info.meta_graph(wanted)
    if mg is None:
        raise ModelError(f"no MetaGraph with the tag-set {sorted(wanted)}", file=info.path,
                         hint=f"tag-sets in the model: {info.tag_sets}; pick one with --tags")
    notes: list[str] = []
    if ref.version is not None:
        notes.append(f"{model} is a TF Serving base path: read its latest version {ref.version} "
                     f"({len(refs)} version(s); the contract checks every one)")
    reach = _reachable_ops(ref.path, wanted)
    features = _example_features(ref.path, wanted)

    signatures: dict[str, Any] = {}
    uses_batch = False
    for key, sig in mg.signatures.items():
        problem = _undeclarable(sig)
        if problem:
            notes.append(f"signature {key!r} left out: {problem}")
            continue
        ops = reach.get(key, frozenset())
        example = features if (ops & PARSE_EXAMPLE_OPS) else None
        entry, batched = _signature(sig, ops, example, notes)
        uses_batch = uses_batch or batched
        signatures[key] = entry
    if not signatures:
        raise ModelError(f"no signature of the MetaGraph {sorted(wanted)} can be declared in a "
                         "contract", file=info.path, hint="; ".join(notes) or None)

    base = Path(output).resolve().parent if output is not None else Path.cwd()
    missing = [a for a in mg.asset_files if a not in info.assets_on_disk]
    if missing:
        notes.append(f"assets referenced by the graph but not in assets/ (left out): {missing}")
    unreferenced = [a for a in info.assets_on_disk if a not in mg.asset_files]
    if unreferenced:
        notes.append(f"files in assets/ the graph does not reference (not required): {unreferenced}")
    data: dict[str, Any] = {"$schema": _schema_reference(schema, base)}
    data.update({
        "name": name or _default_name(model, ref.version),
        "version": "0.1.0",
        "description": (
            f"Generated by model-contract init from {model} (TensorFlow {mg.tensorflow_version or 'unknown'}). Input ranges are placeholders: "
            "float inputs are fuzzed in [-1, 1], integer inputs in [0, 1]; replace them with the "
            "real value domains and add output ranges and checks."),
        "tags": sorted(mg.tags),
        "models": [_relative(model, base)],
    })
    if uses_batch:
        data["dims"] = {BATCH_DIM: dict(BATCH_BOUND)}
    data["signatures"] = signatures
    data["assets"] = sorted(a for a in mg.asset_files if a in info.assets_on_disk)
    validate(data, Path(output) if output is not None else Path("<init>"))
    return InitResult(data, ref.path, tuple(notes))


# ----------------------------------------------------------------------------- signatures


def _undeclarable(sig: SignatureInterface) -> str | None:
    if not sig.outputs:
        return "it has no outputs"
    for side, tensors in (("input", sig.inputs), ("output", sig.outputs)):
        for key, t in tensors.items():
            if t.encoding != DENSE:
                return f"{side} {key!r} is a {t.encoding} tensor, not declarable (a contract declares dense tensors)"
            if t.dtype not in DTYPES:
                return f"{side} {key!r} has dtype {t.dtype}, which a contract cannot declare"
    return None


def _signature(sig: SignatureInterface, ops: frozenset[str], example: Mapping[str, Any] | None,
               notes: list[str]) -> tuple[dict[str, Any], bool]:
    """The contract entry of one signature, and whether it uses the ``batch`` dim."""
    example_inputs = {k for k, t in sig.inputs.items() if example and t.dtype == "string"}
    # A serialized-Example input of unknown rank is a vector: ParseExample takes a batch.
    effective: dict[tuple[str, str], tuple[int | None, ...] | None] = {}
    for k, t in sig.inputs.items():
        effective[("in", k)] = (None,) if t.shape is None and k in example_inputs else t.shape
    for k, t in sig.outputs.items():
        effective[("out", k)] = t.shape
    batched = bool(sig.inputs) and all(
        s is not None and len(s) >= 1 and s[0] is None for s in effective.values())

    def shape(s: tuple[int | None, ...] | None) -> list[Any] | None:
        if s is None:
            return None
        out: list[Any] = [None if d is None else d for d in s]
        if batched:
            out[0] = BATCH_DIM
        return out

    inputs: dict[str, Any] = {}
    for k, t in sig.inputs.items():
        s = effective[("in", k)]
        inputs[k] = {"dtype": t.dtype, "shape": shape(s), **_domain(t)}
        if k in example_inputs and example:
            inputs[k]["example"] = dict(example)
    outputs = {k: {"dtype": t.dtype, "shape": shape(effective[("out", k)])}
               for k, t in sig.outputs.items()}
    entry: dict[str, Any] = {}
    if sig.method_name:
        entry["method_name"] = sig.method_name
    entry["inputs"] = inputs
    entry["outputs"] = outputs
    assigns = sorted(ops & ASSIGN_OPS)
    randoms = sorted(ops & RANDOM_OPS)
    if assigns:
        entry["stateful"] = True
        notes.append(f"signature {sig.name!r} marked stateful: it can reach {', '.join(assigns)}")
    if randoms and not assigns:
        entry["deterministic"] = False
        notes.append(f"signature {sig.name!r} marked not deterministic: it can reach "
                     f"{', '.join(randoms)}")
    if ops & PARSE_EXAMPLE_OPS and not example and any(
            t.dtype == "string" for t in sig.inputs.values()):
        notes.append(f"signature {sig.name!r}: a string input may feed a tf.Example parser whose "
                     "features could not be read; declare its \"example\" features")
    if not sig.inputs:
        entry["reject"] = []
    return entry, batched


def _domain(t: TensorInterface) -> dict[str, Any]:
    if t.dtype in FLOAT_DTYPES:
        return {"range": list(FLOAT_RANGE)}
    if t.dtype in INT_DTYPES:
        return {"range": list(INT_RANGE)}
    return {}  # string, bool, complex: drawn from the dtype's own domain


# ----------------------------------------------------------------------------- graph reading


def _reachable_ops(model_dir: Path, tags: frozenset[str]) -> Mapping[str, frozenset[str]]:
    """Op types each signature can run, from the safety scan's walk (static)."""
    from harness.safety import scan_saved_model

    report = scan_saved_model(model_dir, tags=set(tags))
    return report.ops_by_signature


def _example_features(model_dir: Path, tags: frozenset[str]) -> dict[str, Any] | None:
    """Dense features of the model's tf.Example parse ops: {key: {dtype, shape, range}}."""
    from harness.savedmodel.reader import read_proto

    proto = read_proto(model_dir)
    features: dict[str, Any] = {}
    for mg in proto.meta_graphs:
        if frozenset(mg.meta_info_def.tags) != tags:
            continue
        scopes = [list(mg.graph_def.node)] + [list(f.node_def) for f in mg.graph_def.library.function]
        for nodes in scopes:
            by_name = {n.name: n for n in nodes}
            for node in nodes:
                if node.op in PARSE_EXAMPLE_OPS:
                    for key, spec in _parse_op_features(node, by_name):
                        features.setdefault(key, spec)
    return features or None


def _parse_op_features(node: Any, by_name: Mapping[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
    from harness.savedmodel.tf_modules import tf_module

    types_pb2 = tf_module("tensorflow.core.framework.types_pb2")

    if node.op == "ParseSingleExample":
        keys = [k.decode("utf-8", "replace") for k in node.attr["dense_keys"].list.s]
    else:
        data_inputs = [i for i in node.input if not i.startswith("^")]
        if node.op == "ParseExample":
            n_sparse = node.attr["Nsparse"].i
            n_dense = node.attr["Ndense"].i
            names = data_inputs[2 + n_sparse: 2 + n_sparse + n_dense]
        else:  # ParseExampleV2: one vector of dense keys at input 3
            names = data_inputs[3:4]
        keys = []
        for tensor in names:
            const = by_name.get(tensor.split(":")[0])
            if const is None or const.op != "Const":
                return
            keys.extend(v.decode("utf-8", "replace") for v in const.attr["value"].tensor.string_val)
    dtypes = [types_pb2.DataType.Name(t) for t in node.attr["Tdense"].list.type]
    shapes = list(node.attr["dense_shapes"].list.shape)
    if not (len(keys) == len(dtypes) == len(shapes)):
        return
    for key, dt, shape in zip(keys, dtypes, shapes, strict=False):
        dtype = _EXAMPLE_DTYPES.get(dt)
        dims = [d.size for d in shape.dim]
        if dtype is None or shape.unknown_rank or any(d < 0 for d in dims):
            continue
        spec: dict[str, Any] = {"dtype": dtype, "shape": dims or [1]}
        if dtype == "float32":
            spec["range"] = list(FLOAT_RANGE)
        elif dtype == "int64":
            spec["range"] = list(INT_RANGE)
        yield key, spec


# ----------------------------------------------------------------------------- paths and text


def _json(value: Any, indent: int, width: int = 100) -> str:
    flat = json.dumps(value)
    if not isinstance(value, dict) or not value or len(flat) + indent <= width and \
            not any(isinstance(v, dict) and len(json.dumps(v)) > 60 for v in value.values()):
        return flat
    pad = " " * (indent + 2)
    items = [f"{pad}{json.dumps(k)}: {_json(v, indent + 2, width)}" for k, v in value.items()]
    return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"


def _schema_reference(schema: str | None, base: Path) -> str:
    """What ``$schema`` says: the schema's ``$id`` by default, a URL as given, or a path
    relative to the contract's folder."""
    if schema is None:
        return schema_id()
    if "://" in schema:
        return schema
    return _relative(Path(schema), base)


def schema_id() -> str:
    """The ``$id`` of the published contract schema (its URL)."""
    return str(schema()["$id"])


def _relative(target: Path, base: Path) -> str:
    return Path(os.path.relpath(Path(target).resolve(), base)).as_posix()


def _default_name(model: Path, version: int | None) -> str:
    path = model.resolve()
    if version is None and path.name.isdigit() and path.parent.name:
        return path.parent.name  # a version folder given directly: name it after its base
    return path.name or "model"


__all__ = ["InitResult", "contract_from_model"]
