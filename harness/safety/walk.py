"""The walk of a SavedModel's graphs: from every root (signatures, load-time ops, resource
functions) through every function a reachable node calls, recording each op site.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from harness.errors import ModelError
from harness.safety import load_time
from harness.safety.findings import OpSite
from harness.safety.graph import (
    asset_tensors,
    attr_string,
    backward_closure,
    called_functions,
    object_paths,
    tensors_of,
)
from harness.safety.policy import CONDITIONAL_OPS, TEXT_FILE_TABLE_OPS
from harness.safety.sources import (
    Frame,
    asset_problem,
    bound_source,
    chain_path,
    embedded_graph_of,
    trace_input,
)

FILENAME_INPUTS: Mapping[str, tuple[int, ...]] = {
    "ReadFile": (0,), "WriteFile": (0,), "MatchingFiles": (0,),
    "InitializeTableFromTextFile": (1,), "InitializeTableFromTextFileV2": (1,),
    "TextLineDataset": (0,), "TFRecordDataset": (0,), "TFRecordDatasetV2": (0,),
    "FixedLengthRecordDataset": (0,), "FixedLengthRecordDatasetV2": (0,),
    "MatchingFilesDataset": (0,), "CSVDataset": (0,), "CSVDatasetV2": (0,),
    "GenerateVocabRemapping": (0, 1), "LoadAndRemapMatrix": (0,),
    "CacheDataset": (1,), "CacheDatasetV2": (1,),
}
"""Data-input positions that carry a file name, for the ops that take one."""

MAX_CALL_DEPTH = 200
"""Deeper function nesting is refused (ModelError) instead of risking a RecursionError."""

SAVER_FUNCTION = re.compile(r"^__inference__traced_(save|restore)_\d+$")


@dataclass
class Walker:
    model_dir: Path
    sites: list[OpSite] = field(default_factory=list)
    ops_by_signature: dict[str, set[str]] = field(default_factory=dict)
    ops_at_load: dict[str, set[str]] = field(default_factory=dict)
    saver_ops: set[str] = field(default_factory=set)
    #: answers "does TensorFlow register this op type?" (default: ask TensorFlow's registry)
    is_registered: Callable[[str], bool] | None = None
    _registered: dict[str, bool] = field(default_factory=dict)
    _reached: set[tuple[str, str]] = field(default_factory=set)
    _all_nodes: list[tuple[str, Any, dict[str, Any]]] = field(default_factory=list)

    # -- roots

    def scan_meta_graph(self, meta_graph: Any, prefix_tags: bool) -> None:
        graph_def = meta_graph.graph_def
        library = {f.signature.name: f for f in graph_def.library.function}
        nodes = {n.name: n for n in graph_def.node}
        assets = asset_tensors(meta_graph)
        tag = f"[{','.join(sorted(meta_graph.meta_info_def.tags))}] " if prefix_tags else ""
        graph = Frame("", nodes, library, "graph", assets=assets)
        self._all_nodes.extend(("graph", n, library) for n in graph_def.node)
        for function in library.values():
            self._all_nodes.extend((function.signature.name, n, library)
                                   for n in function.node_def)

        for key in sorted(meta_graph.signature_def):
            signature = meta_graph.signature_def[key]
            starts = []
            for output_key, info in sorted(signature.outputs.items()):
                for tensor in tensors_of(info):
                    name = tensor.lstrip("^").split(":")[0]
                    if name not in nodes:
                        raise ModelError(f"signature {key!r} output {output_key!r} names tensor "
                                         f"{tensor!r}, which is not in the graph (corrupt model)",
                                         file=self.model_dir / "saved_model.pb")
                    starts.append(name)
            ops = self.ops_by_signature.setdefault(tag + key, set())
            self._walk_graph(graph, starts, f"{tag}signature '{key}'", ops, record=True)

        for root in load_time.graph_roots(meta_graph, tag):
            ops = self.ops_at_load.setdefault(root.label, set())
            self._walk_graph(graph, [s for s in root.starts if s in nodes], root.label, ops,
                             record=True)
        self._walk_load_time_functions(meta_graph, graph, library, tag)

        saver = meta_graph.saver_def
        saver_starts = [s.lstrip("^").split(":")[0]
                        for s in (saver.save_tensor_name, saver.restore_op_name,
                                  saver.filename_tensor_name) if s]
        self._walk_graph(graph, [s for s in saver_starts if s in nodes], "saver",
                         self.saver_ops, record=False)
        for name, function in library.items():
            if SAVER_FUNCTION.match(name):
                frame = Frame(name, {n.name: n for n in function.node_def}, library, name,
                               args=tuple(a.name for a in function.signature.input_arg))
                self._walk_frames([frame], "saver", self.saver_ops, set(), record=False)

    def _walk_load_time_functions(self, meta_graph: Any, graph: Frame,
                                  library: dict[str, Any], tag: str) -> None:
        object_graph = meta_graph.object_graph_def
        if not len(object_graph.nodes):
            return
        asset_files = [a.filename for a in meta_graph.asset_file_def]
        for root in load_time.function_roots(meta_graph, tag, object_paths(object_graph)):
            function = library.get(root.function)
            if function is None:
                continue
            bound = tuple(bound_source(object_graph, node_id, asset_files, graph)
                          for node_id in root.bound)
            ops = self.ops_at_load.setdefault(root.label, set())
            frame = Frame(root.function, {n.name: n for n in function.node_def}, library,
                          root.function,
                          args=tuple(a.name for a in function.signature.input_arg),
                          bound=bound)
            self._walk_frames([frame], root.label, ops, {root.function}, record=True)

    # -- walking

    def _walk_graph(self, graph: Frame, starts: list[str], root: str, ops: set[str], *,
                    record: bool) -> None:
        reachable = backward_closure(graph.nodes, starts)
        visited: set[str] = set()
        for name, node in graph.nodes.items():
            if name in reachable:
                self._visit([graph], node, root, ops, visited, record)

    def _walk_frames(self, chain: list[Frame], root: str, ops: set[str], visited: set[str],
                     *, record: bool) -> None:
        if len(chain) > MAX_CALL_DEPTH:
            raise ModelError(f"functions are nested more than {MAX_CALL_DEPTH} levels deep "
                             f"({chain_path(chain[:3], root)} -> ...); refusing to scan it",
                             file=self.model_dir / "saved_model.pb")
        for node in chain[-1].nodes.values():
            self._visit(chain, node, root, ops, visited, record)

    def _visit(self, chain: list[Frame], node: Any, root: str, ops: set[str],
               visited: set[str], record: bool) -> None:
        frame = chain[-1]
        library = frame.library
        is_call = node.op in library
        ops.add(node.op)
        if record:
            self._reached.add((frame.where, node.name))
            self.sites.append(self._site(chain, node, root, is_call))
        for attr, name in called_functions(node):
            function = library.get(name)
            if function is None:
                if attr and record and not self._is_registered(name):
                    self.sites.append(OpSite(
                        op=name, node=node.name, where=frame.where,
                        path=f"{chain_path(chain, root)} -> node '{node.name}' attr '{attr}'",
                        root=root, reachable=True, registered=False, is_call=False,
                        touches_files=True, detail="function not in the library"))
                continue
            key = f"{id(library)}:{name}"
            if key in visited:
                continue
            visited.add(key)
            label = name if attr in ("", "f") else f"{node.name}/{attr} {name}"
            callee = Frame(label, {n.name: n for n in function.node_def}, library, name,
                            args=tuple(a.name for a in function.signature.input_arg),
                            call_node=node, call_attr=attr)
            self._walk_frames(chain + [callee], root, ops, visited, record=record)
        if node.op == "DatasetFromGraph":
            embedded = embedded_graph_of(chain, node)
            if embedded is not None:
                key = f"embedded:{frame.where}:{node.name}"
                if key not in visited:
                    visited.add(key)
                    inner_library = dict(library)
                    inner_library.update({f.signature.name: f for f in embedded.library.function})
                    where = f"embedded GraphDef of {frame.where}/{node.name}"
                    inner = Frame(f"{node.name}/graph_def (embedded GraphDef)",
                                   {n.name: n for n in embedded.node}, inner_library, where)
                    self._all_nodes.extend((where, n, inner_library) for n in embedded.node)
                    for function in embedded.library.function:
                        self._all_nodes.extend((function.signature.name, n, inner_library)
                                               for n in function.node_def)
                    self._walk_frames(chain + [inner], root, ops, visited, record=record)

    def _site(self, chain: list[Frame], node: Any, root: str, is_call: bool) -> OpSite:
        op = node.op
        touches_files = True
        details = []
        asset_issue = None
        if op in FILENAME_INPUTS:
            for position in FILENAME_INPUTS[op]:
                source = trace_input(chain, node, position)
                if source is not None:
                    details.append(f"file name: {source.describe()}")
                if op in TEXT_FILE_TABLE_OPS:
                    asset_issue = asset_problem(self.model_dir, source)
                if op in ("CacheDataset", "CacheDatasetV2"):
                    touches_files = not (source is not None and source.kind == "const"
                                         and source.value == "")
        if op == "PrintV2":
            stream = attr_string(node, "output_stream")
            touches_files = stream.startswith("file://")
            details.append(f"output_stream {stream}")
        elif op in ("DecodeProtoV2", "EncodeProto"):
            descriptor = attr_string(node, "descriptor_source")
            touches_files = not (descriptor in ("", "local://")
                                 or descriptor.startswith("bytes://"))
            details.append(f"descriptor_source {descriptor!r}")
        elif op == "DatasetFromGraph":
            touches_files = embedded_graph_of(chain, node) is None
            if touches_files:
                source = trace_input(chain, node, 0)
                details.append(f"graph from {source.describe() if source else 'unknown'}")
        elif op in ("ImmutableConst",):
            details.append(f"memory_region_name {attr_string(node, 'memory_region_name')!r}")
        elif op in ("DebugIdentity", "DebugIdentityV2", "DebugIdentityV3", "DebugNanCount",
                    "DebugNumericSummary") and "debug_urls" in node.attr:
            urls = [u.decode("utf-8", "replace") for u in node.attr["debug_urls"].list.s]
            details.append(f"debug_urls {urls}")
        if op not in CONDITIONAL_OPS and op not in ("CacheDataset", "CacheDatasetV2"):
            touches_files = True
        return OpSite(op=op, node=node.name, where=chain[-1].where,
                      path=f"{chain_path(chain, root)} -> node '{node.name}'", root=root,
                      reachable=True, registered=is_call or self._is_registered(op),
                      is_call=is_call, touches_files=touches_files, detail="; ".join(details),
                      asset_issue=asset_issue)

    def unreachable_unregistered(self) -> Iterator[OpSite]:
        """Unregistered op types anywhere in the file that no root reaches."""
        seen: set[tuple[str, str]] = set()
        for where, node, library in self._all_nodes:
            if node.op in library or self._is_registered(node.op):
                continue
            key = (where, node.name)
            if key in self._reached or key in seen:
                continue
            seen.add(key)
            place = "outer graph" if where == "graph" else f"function library: {where}"
            yield OpSite(op=node.op, node=node.name, where=where,
                         path=f"{place} -> node '{node.name}' (not reachable from a signature)",
                         root="library", reachable=False, registered=False, is_call=False,
                         touches_files=True)

    def _is_registered(self, op: str) -> bool:
        known = self._registered.get(op)
        if known is None:
            from harness.savedmodel.tf_modules import op_registered

            known = (self.is_registered or op_registered)(op)
            self._registered[op] = known
        return known
