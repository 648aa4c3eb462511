"""What a SavedModel loader executes while loading: the load-time roots of the scan.

A model is dangerous before any of its signatures is called if a loader runs its code
while loading it. Each entry below is a scan root (see :mod:`harness.safety.scan`); a
finding reached from one of them is reported as "runs at load time":

* ``saved_model_main_op`` / ``legacy_init_op`` collections (TF1): the TF1 loader
  (``tf.compat.v1.saved_model.load``, TF Serving, ``load_v1_in_v2``) runs the op after
  restoring variables.
* ``saver_def.restore_op_name``: every TF1-style loader (and TF Serving, for TF2 models
  too) runs the saver's restore op with ``variables/variables`` fed as the file name. Its
  checkpoint ops (``RestoreV2`` ...) are what it exists for and are expected there; any
  other op it reaches runs on every load.
* TF2 ``resource`` objects' ``_create_resource`` and ``_initialize`` (tables and their
  asset initialisers) and ``_destroy_resource``: ``tf.saved_model.load`` runs the first
  two while restoring, the last when the object is released.
* TF2 ``saveable_objects[*].restore_function`` of any object: ``tf.saved_model.load``
  runs it while restoring the checkpoint (e.g. a MutableHashTable's import).

The ``__saved_model_init_op`` signature, which loaders also run, is a SignatureDef and
therefore already a root of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LOAD_TIME_COLLECTIONS: tuple[str, ...] = ("saved_model_main_op", "legacy_init_op")
"""TF1 collections whose ops the SavedModel loader runs while loading."""

RESOURCE_FUNCTIONS: tuple[str, ...] = ("_create_resource", "_initialize", "_destroy_resource")
"""Children of a TF2 ``resource`` object whose functions tf.saved_model.load runs."""

LABEL_PREFIX = "load-time"
"""Every load-time root's label starts with this (after an optional ``[tags] ``)."""

RESTORE_LABEL = f"{LABEL_PREFIX} restore"
"""Prefix of the roots whose job is to read the checkpoint."""

CHECKPOINT_RESTORE_OPS: frozenset[str] = frozenset({
    "RestoreV2", "Restore", "RestoreSlice", "DTensorRestoreV2",
    "AssignVariableOp", "Assign", "LookupTableImportV2", "LookupTableImport",
    "VarHandleOp", "VariableV2", "Variable",
})
"""Ops expected inside a restore root: reading ``variables/`` and assigning what was read.
Neither the deny list nor allowlist mode flags them there (anywhere else they are judged
as usual)."""


@dataclass(frozen=True)
class GraphRoot:
    """Nodes of the outer graph a loader runs (their backward closure is walked)."""

    label: str
    starts: tuple[str, ...]


@dataclass(frozen=True)
class FunctionRoot:
    """A library function a loader calls; ``bound`` are object-graph ids of its captures."""

    label: str
    function: str
    bound: tuple[int, ...]


def is_load_time(root: str) -> bool:
    """True when ``root`` (a root label, maybe prefixed by ``[tags] ``) runs at load time."""
    return _untagged(root).startswith(LABEL_PREFIX)


def expected_at(root: str, op: str) -> bool:
    """True for the checkpoint ops a restore root exists to run."""
    return _untagged(root).startswith(RESTORE_LABEL) and op in CHECKPOINT_RESTORE_OPS


def graph_roots(meta_graph: Any, tag: str) -> list[GraphRoot]:
    """The TF1 load-time ops: main_op / legacy_init_op collections and the saver's restore."""
    roots = []
    for collection in LOAD_TIME_COLLECTIONS:
        if collection in meta_graph.collection_def:
            starts = tuple(_node(s) for s in meta_graph.collection_def[collection].node_list.value)
            roots.append(GraphRoot(f"{tag}{LABEL_PREFIX} op '{collection}'", starts))
    restore = meta_graph.saver_def.restore_op_name
    if restore:
        roots.append(GraphRoot(f"{tag}{RESTORE_LABEL} op '{_node(restore)}' (saver_def)",
                               (_node(restore),)))
    return roots


def function_roots(meta_graph: Any, tag: str, paths: dict[int, str]) -> list[FunctionRoot]:
    """TF2 functions tf.saved_model.load runs: resource functions and restore functions."""
    object_graph = meta_graph.object_graph_def
    roots = []
    for index, obj in enumerate(object_graph.nodes):
        where = paths.get(index, f"node {index}")
        if obj.WhichOneof("kind") == "resource":
            for child in obj.children:
                if child.local_name in RESOURCE_FUNCTIONS:
                    label = f"{tag}{LABEL_PREFIX} resource function {where}.{child.local_name}"
                    roots.extend(_functions_of(object_graph, child.node_id, label))
        for name in sorted(obj.saveable_objects):
            restore_id = obj.saveable_objects[name].restore_function
            label = f"{tag}{RESTORE_LABEL} function of {where} (saveable '{name}')"
            roots.extend(_functions_of(object_graph, restore_id, label))
    return roots


def _functions_of(object_graph: Any, node_id: int, label: str) -> list[FunctionRoot]:
    if not 0 <= node_id < len(object_graph.nodes):
        return []
    obj = object_graph.nodes[node_id]
    kind = obj.WhichOneof("kind")
    if kind == "function":
        names = list(obj.function.concrete_functions)
    elif kind == "bare_concrete_function":
        names = [obj.bare_concrete_function.concrete_function_name]
    else:
        return []
    roots = []
    for name in names:
        concrete = object_graph.concrete_functions.get(name)
        bound = tuple(concrete.bound_inputs) if concrete is not None else ()
        roots.append(FunctionRoot(label, name, bound))
    return roots


def _node(tensor: str) -> str:
    return tensor.lstrip("^").split(":")[0]


def _untagged(root: str) -> str:
    if root.startswith("[") and "] " in root:
        return root.split("] ", 1)[1]
    return root
