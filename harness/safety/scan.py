"""Static scan of ``saved_model.pb`` before any TensorFlow loader touches the model.

The scan reads the SavedModel protobuf (and ``keras_metadata.pb``) with TensorFlow's proto
classes and never imports, loads or runs the graph. From every *root* -- each SignatureDef
(``__saved_model_init_op`` included) and everything a loader executes while loading
(:mod:`harness.safety.load_time`: main_op / legacy_init_op, the saver's restore op, TF2
resource and table initialisers, restore functions of ``saveable_objects``) -- it walks:

* the outer graph backwards from the root's tensors (data and control inputs);
* every function the reachable nodes call: an op type that names a library function,
  any ``func`` / ``list(func)`` attr (``f`` of PartitionedCall, If/While/Case branches,
  tf.data ``f``s), recursively, nested ``NameAttrList`` attrs included;
* GraphDefs embedded as Const inputs of ``DatasetFromGraph``.

Everything a root reaches is an *op site*; findings reached from a load-time root say
"runs at load time". The checkpoint ops of the restore roots (``RestoreV2``, assignments)
are expected there; anywhere else Save/Restore ops are violations. ``saver_ops`` lists the
ops of the saver's own save and restore functions.

Rules (see :class:`harness.safety.policy.OpPolicy`): the deny list (some entries
conditional on attrs), allowlist mode, op types the running TensorFlow does not register
(anywhere in the file), Keras ``Lambda`` layers, and asset hermeticity of text-file
lookup tables (their filename must trace back to an asset of the model).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Iterator, Mapping

from harness.errors import ModelError, PolicyViolation
from harness.safety import load_time
from harness.safety.policy import CONDITIONAL_OPS, DEFAULT_POLICY, TEXT_FILE_TABLE_OPS, OpPolicy
from harness.safety.symlinks import Link, find_links
from harness.savedmodel.pb_file import read_pb

STRUCTURAL_OPS: frozenset[str] = frozenset({
    "Placeholder", "PlaceholderWithDefault", "Const", "Identity", "IdentityN", "NoOp",
    "PartitionedCall", "StatefulPartitionedCall",
})
"""Ops that only wire a graph together; allowlist mode does not require listing them."""

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

_ARG_OFFSETS: Mapping[str, int] = {
    "PartitionedCall": 0, "StatefulPartitionedCall": 0,
    "If": 1, "StatelessIf": 1, "Case": 1, "StatelessCase": 1,
    "While": 0, "StatelessWhile": 0, "For": 3,
}
"""Index of the node input that becomes a called function's first argument."""

MAX_CALL_DEPTH = 200
"""Deeper function nesting is refused (ModelError) instead of risking a RecursionError."""

_SAVER_FUNCTION = re.compile(r"^__inference__traced_(save|restore)_\d+$")
_PASS_THROUGH = frozenset({"Identity", "StopGradient", "Snapshot", "IdentityN"})


@dataclass(frozen=True)
class OpSite:
    """One node a root can run (or, when ``reachable`` is False, a node only in the file)."""

    op: str
    node: str
    where: str
    """Function that holds the node, or ``"graph"`` for the outer GraphDef."""
    path: str
    root: str
    reachable: bool
    registered: bool
    is_call: bool
    touches_files: bool
    """False for conditional ops whose attrs/inputs keep them off the filesystem."""
    detail: str = ""
    asset_issue: str | None = None


@dataclass(frozen=True)
class LambdaLayer:
    """A Keras ``Lambda`` layer recorded in ``keras_metadata.pb`` (or the object graph)."""

    name: str
    node_path: str
    source: str


_FILE_RULES = frozenset({"symlink", "special file"})
"""Rules about files of the model directory rather than nodes of its graph."""


@dataclass(frozen=True)
class Finding:
    """One thing the policy forbids, as a user reads it."""

    op: str
    node: str
    path: str
    reason: str
    rule: str
    also_from: tuple[str, ...] = ()
    load_time: bool = False
    """Reached from a root a loader executes while loading (before any signature call)."""

    def render(self) -> str:
        subject = (f"{self.op} {self.node}" if self.rule in _FILE_RULES
                   else f"{self.op} (node '{self.node}')")
        lines = [f"{subject}: {self.reason}",
                 f"    path: {self.path}",
                 f"    rule: {self.rule}"]
        if self.load_time:
            lines.insert(1, "    runs at load time: the loader executes it while loading the "
                            "model, before any signature is called")
        if self.also_from:
            lines.insert(2, f"    also reachable from: {', '.join(self.also_from)}")
        return "\n".join(lines)


@dataclass(frozen=True)
class ScanReport:
    """What the scan saw in one SavedModel and what the scan policy forbids."""

    model_dir: Path
    policy: OpPolicy
    findings: tuple[Finding, ...]
    ops_by_signature: dict[str, frozenset[str]]
    ops_at_load: dict[str, frozenset[str]]
    saver_ops: frozenset[str]
    lambda_layers: tuple[LambdaLayer, ...] = ()
    sites: tuple[OpSite, ...] = field(default=(), repr=False)
    seconds: float = 0.0
    links: tuple[Link, ...] = ()
    """Symbolic links and special files in the model directory (always violations)."""

    @property
    def ok(self) -> bool:
        return not self.findings

    def violations(self, policy: OpPolicy | None = None) -> tuple[Finding, ...]:
        """Findings under ``policy`` (default: the policy the scan ran with)."""
        return evaluate(self.sites, self.lambda_layers, self.policy if policy is None else policy,
                        self.links)

    def raise_for_violations(self, policy: OpPolicy | None = None) -> None:
        """Raise :class:`PolicyViolation` listing every finding; return if there is none."""
        findings = self.findings if policy is None else self.violations(policy)
        if findings:
            raise violation_error(self.model_dir, findings)


def scan_saved_model(model_dir: Path, policy: OpPolicy = DEFAULT_POLICY, *,
                     tags: set[str] | None = None) -> ScanReport:
    """Scan ``model_dir/saved_model.pb`` statically; nothing is loaded or executed.

    ``tags`` restricts the scan to the MetaGraphDef with exactly these tags (default: all).
    Raises :class:`ModelError` when the directory is not a readable SavedModel.
    """
    from harness.backends.tf_import import import_tensorflow

    import_tensorflow()  # its protobuf classes; importing them is not part of the scan's time
    started = time.perf_counter()
    model_dir = Path(model_dir)
    links = find_links(model_dir) if model_dir.is_dir() else ()
    if {link.relative for link in links} & {"saved_model.pb", "saved_model.pbtxt"}:
        return ScanReport(model_dir=model_dir, policy=policy,
                          findings=evaluate((), (), policy, links), ops_by_signature={},
                          ops_at_load={}, saver_ops=frozenset(), links=links,
                          seconds=time.perf_counter() - started)
    saved_model = read_saved_model(model_dir)
    meta_graphs = list(saved_model.meta_graphs)
    if tags is not None:
        meta_graphs = [mg for mg in meta_graphs if set(mg.meta_info_def.tags) == set(tags)]
        if not meta_graphs:
            available = "; ".join(sorted(",".join(sorted(mg.meta_info_def.tags)) or "(none)"
                                         for mg in saved_model.meta_graphs))
            raise ModelError(f"no MetaGraphDef with tags {{{','.join(sorted(tags))}}}",
                             file=model_dir / "saved_model.pb",
                             hint=f"tag sets in the file: {available}")
    walker = _Walker(model_dir)
    prefix_tags = len(meta_graphs) > 1
    for meta_graph in meta_graphs:
        walker.scan_meta_graph(meta_graph, prefix_tags)
    lambdas = tuple(read_lambda_layers(model_dir, meta_graphs))
    sites = tuple(walker.sites) + tuple(walker.unreachable_unregistered())
    return ScanReport(
        model_dir=model_dir,
        policy=policy,
        findings=evaluate(sites, lambdas, policy, links),
        ops_by_signature={k: frozenset(v) for k, v in walker.ops_by_signature.items()},
        ops_at_load={k: frozenset(v) for k, v in walker.ops_at_load.items()},
        saver_ops=frozenset(walker.saver_ops),
        lambda_layers=lambdas,
        sites=sites,
        seconds=time.perf_counter() - started,
        links=links,
    )


def check_saved_model(model_dir: Path, policy: OpPolicy = DEFAULT_POLICY, *,
                      tags: set[str] | None = None) -> ScanReport:
    """Scan and raise :class:`PolicyViolation` on any finding; return the clean report."""
    report = scan_saved_model(model_dir, policy, tags=tags)
    report.raise_for_violations()
    return report


# ---------------------------------------------------------------------------- evaluation


def evaluate(sites: Iterable[OpSite], lambdas: Iterable[LambdaLayer],
             policy: OpPolicy, links: Iterable[Link] = ()) -> tuple[Finding, ...]:
    """Apply ``policy`` to recorded op sites and Lambda layers; every link is a finding."""
    grouped: dict[tuple[str, str, str, str], list[Finding]] = {}
    for site in sites:
        for finding in _site_findings(site, policy):
            key = (finding.rule, site.op, site.where, site.node)
            grouped.setdefault(key, []).append(finding)
    findings = []
    for group in grouped.values():
        first = group[0]
        others = tuple(dict.fromkeys(f.path.split(" -> ")[0] for f in group[1:]))
        others = tuple(o for o in others if o != first.path.split(" -> ")[0])
        load = any(load_time.is_load_time(f.path) for f in group)
        findings.append(Finding(first.op, first.node, first.path, first.reason, first.rule,
                                others, load))
    if not policy.allow_lambda_layers and "Lambda" not in policy.allowed_ops:
        for layer in lambdas:
            findings.append(Finding(
                "Lambda", layer.name, f"{layer.source}: {layer.node_path}",
                "Keras Lambda layer: deserialising it runs Python bytecode stored in the model",
                "Keras Lambda layer"))
    for link in links:
        kind = "symlink" if link.is_link else "special file"
        findings.append(Finding(kind, link.relative, f"model directory: {link.relative}",
                                link.reason(), kind))
    return tuple(findings)


def _site_findings(site: OpSite, policy: OpPolicy) -> Iterator[Finding]:
    if site.op in policy.allowed_ops or load_time.expected_at(site.root, site.op):
        return
    detail = f" ({site.detail})" if site.detail else ""
    if not site.registered and not policy.allow_unregistered:
        yield Finding(site.op, site.node, site.path,
                      "op type is not registered in the running TensorFlow (custom op: "
                      "needs a native library, and the model cannot load without it)",
                      "unregistered op")
    if not site.reachable:
        return
    if site.op in policy.deny and site.touches_files:
        yield Finding(site.op, site.node, site.path, policy.reason_denied(site.op) + detail,
                      policy.deny_source(site.op))
    elif (policy.allow is not None and site.registered and not site.is_call
          and site.op not in policy.allow and site.op not in STRUCTURAL_OPS):
        yield Finding(site.op, site.node, site.path, "op type is not in the allowlist" + detail,
                      "allowlist")
    if site.asset_issue:
        yield Finding(site.op, site.node, site.path, site.asset_issue, "asset hermeticity")


_NOT_PERMITTABLE = _FILE_RULES | {"Keras Lambda layer"}


def violation_error(model_dir: Path, findings: tuple[Finding, ...]) -> PolicyViolation:
    """The user-facing error for ``findings`` in ``model_dir`` (nothing was loaded)."""
    count = len(findings)
    lines = [f"the op policy forbids {count} finding{'s' if count != 1 else ''} in this "
             "SavedModel; it was not loaded:"]
    for index, finding in enumerate(findings, 1):
        body = finding.render().replace("\n", "\n   ")
        lines.append(f"  {index}. {body}")
    permits = sorted({f.op for f in findings if f.rule not in _NOT_PERMITTABLE})
    hints = []
    if permits:
        quoted = ", ".join(f'"{op}"' for op in permits)
        flags = " ".join(f"--allow-op {op}" for op in permits)
        hints.append(f'to allow, add to the contract "ops": {{"permit": [{quoted}]}} '
                     f"or pass {flags}")
    if any(f.rule == "unregistered op" for f in findings):
        hints.append('custom ops can also be accepted with "ops": {"allow_unregistered": true}')
    if any(f.rule in _FILE_RULES for f in findings):
        hints.append("replace each link or special file by a regular file inside the model "
                     "directory (links are never followed)")
    if any(f.rule == "Keras Lambda layer" for f in findings):
        hints.append('to accept Lambda layers, set "ops": {"allow_lambda_layers": true} '
                     "in the contract")
    return PolicyViolation("\n".join(lines), file=model_dir, hint="; ".join(hints) or None)


# ---------------------------------------------------------------------------- reading


def read_saved_model(model_dir: Path) -> Any:
    """Parse ``saved_model.pb`` (or ``.pbtxt``) into a SavedModel proto; ModelError if not."""
    from google.protobuf import message, text_format
    from tensorflow.core.protobuf import saved_model_pb2

    model_dir = Path(model_dir)
    if not model_dir.exists():
        raise ModelError("model directory does not exist", file=model_dir)
    if not model_dir.is_dir():
        raise ModelError("not a directory (a SavedModel is a directory with saved_model.pb)",
                         file=model_dir)
    binary = model_dir / "saved_model.pb"
    text = model_dir / "saved_model.pbtxt"
    saved_model = saved_model_pb2.SavedModel()
    if binary.is_file():
        try:
            saved_model.ParseFromString(read_pb(binary))
        except (message.DecodeError, RuntimeError, ValueError) as error:
            raise ModelError(f"saved_model.pb is truncated or corrupt: it does not parse as a "
                             f"SavedModel protobuf ({error})", file=binary) from None
        source = binary
    elif text.is_file():
        try:
            text_format.Parse(read_pb(text).decode("utf-8"), saved_model)
        except (text_format.ParseError, UnicodeDecodeError) as error:
            raise ModelError(f"saved_model.pbtxt does not parse as a SavedModel: {error}",
                             file=text) from None
        source = text
    else:
        versions = sorted(p.name for p in model_dir.iterdir()
                          if p.is_dir() and p.name.isdigit() and (p / "saved_model.pb").is_file())
        hint = (f"this looks like a TF Serving base path; pass a version folder: "
                f"{', '.join(str(model_dir / v) for v in versions)}" if versions else None)
        raise ModelError("no saved_model.pb in the model directory", file=model_dir, hint=hint)
    if not saved_model.meta_graphs:
        raise ModelError("the SavedModel has no MetaGraphDef (file empty or truncated)",
                         file=source)
    return saved_model


def read_lambda_layers(model_dir: Path, meta_graphs: Iterable[Any]) -> Iterator[LambdaLayer]:
    """Keras Lambda layers in ``keras_metadata.pb`` and in legacy object-graph metadata."""
    seen: set[str] = set()
    metadata_file = Path(model_dir) / "keras_metadata.pb"
    if metadata_file.is_file():
        from google.protobuf import message
        from tensorflow.python.keras.protobuf import saved_metadata_pb2

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
        for index, path in _object_paths(object_graph).items():
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


def _object_paths(object_graph: Any) -> dict[int, str]:
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


# ---------------------------------------------------------------------------- walking


@dataclass(frozen=True)
class _Source:
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
class _Frame:
    """A graph or function body on the walk's call chain."""

    label: str
    nodes: dict[str, Any]
    library: dict[str, Any]
    where: str
    args: tuple[str, ...] = ()
    call_node: Any = None
    call_attr: str = ""
    bound: tuple[_Source, ...] | None = None
    assets: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_graph(self) -> bool:
        return self.where == "graph" or self.where.startswith("embedded GraphDef")


@dataclass
class _Walker:
    model_dir: Path
    sites: list[OpSite] = field(default_factory=list)
    ops_by_signature: dict[str, set[str]] = field(default_factory=dict)
    ops_at_load: dict[str, set[str]] = field(default_factory=dict)
    saver_ops: set[str] = field(default_factory=set)
    _registered: dict[str, bool] = field(default_factory=dict)
    _reached: set[tuple[str, str]] = field(default_factory=set)
    _all_nodes: list[tuple[str, Any, dict[str, Any]]] = field(default_factory=list)

    # -- roots

    def scan_meta_graph(self, meta_graph: Any, prefix_tags: bool) -> None:
        graph_def = meta_graph.graph_def
        library = {f.signature.name: f for f in graph_def.library.function}
        nodes = {n.name: n for n in graph_def.node}
        assets = _asset_tensors(meta_graph)
        tag = f"[{','.join(sorted(meta_graph.meta_info_def.tags))}] " if prefix_tags else ""
        graph = _Frame("", nodes, library, "graph", assets=assets)
        self._all_nodes.extend(("graph", n, library) for n in graph_def.node)
        for function in library.values():
            self._all_nodes.extend((function.signature.name, n, library)
                                   for n in function.node_def)

        for key in sorted(meta_graph.signature_def):
            signature = meta_graph.signature_def[key]
            starts = []
            for output_key, info in sorted(signature.outputs.items()):
                for tensor in _tensors_of(info):
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
            if _SAVER_FUNCTION.match(name):
                frame = _Frame(name, {n.name: n for n in function.node_def}, library, name,
                               args=tuple(a.name for a in function.signature.input_arg))
                self._walk_frames([frame], "saver", self.saver_ops, set(), record=False)

    def _walk_load_time_functions(self, meta_graph: Any, graph: _Frame,
                                  library: dict[str, Any], tag: str) -> None:
        object_graph = meta_graph.object_graph_def
        if not len(object_graph.nodes):
            return
        asset_files = [a.filename for a in meta_graph.asset_file_def]
        for root in load_time.function_roots(meta_graph, tag, _object_paths(object_graph)):
            function = library.get(root.function)
            if function is None:
                continue
            bound = tuple(_bound_source(object_graph, node_id, asset_files, graph)
                          for node_id in root.bound)
            ops = self.ops_at_load.setdefault(root.label, set())
            frame = _Frame(root.function, {n.name: n for n in function.node_def}, library,
                           root.function,
                           args=tuple(a.name for a in function.signature.input_arg),
                           bound=bound)
            self._walk_frames([frame], root.label, ops, {root.function}, record=True)

    # -- walking

    def _walk_graph(self, graph: _Frame, starts: list[str], root: str, ops: set[str], *,
                    record: bool) -> None:
        reachable = _backward_closure(graph.nodes, starts)
        visited: set[str] = set()
        for name, node in graph.nodes.items():
            if name in reachable:
                self._visit([graph], node, root, ops, visited, record)

    def _walk_frames(self, chain: list[_Frame], root: str, ops: set[str], visited: set[str],
                     *, record: bool) -> None:
        if len(chain) > MAX_CALL_DEPTH:
            raise ModelError(f"functions are nested more than {MAX_CALL_DEPTH} levels deep "
                             f"({_path(chain[:3], root)} -> ...); refusing to scan it",
                             file=self.model_dir / "saved_model.pb")
        for node in chain[-1].nodes.values():
            self._visit(chain, node, root, ops, visited, record)

    def _visit(self, chain: list[_Frame], node: Any, root: str, ops: set[str],
               visited: set[str], record: bool) -> None:
        frame = chain[-1]
        library = frame.library
        is_call = node.op in library
        ops.add(node.op)
        if record:
            self._reached.add((frame.where, node.name))
            self.sites.append(self._site(chain, node, root, is_call))
        for attr, name in _called_functions(node):
            function = library.get(name)
            if function is None:
                if attr and record and not self._is_registered(name):
                    self.sites.append(OpSite(
                        op=name, node=node.name, where=frame.where,
                        path=f"{_path(chain, root)} -> node '{node.name}' attr '{attr}'",
                        root=root, reachable=True, registered=False, is_call=False,
                        touches_files=True, detail="function not in the library"))
                continue
            key = f"{id(library)}:{name}"
            if key in visited:
                continue
            visited.add(key)
            label = name if attr in ("", "f") else f"{node.name}/{attr} {name}"
            callee = _Frame(label, {n.name: n for n in function.node_def}, library, name,
                            args=tuple(a.name for a in function.signature.input_arg),
                            call_node=node, call_attr=attr)
            self._walk_frames(chain + [callee], root, ops, visited, record=record)
        if node.op == "DatasetFromGraph":
            embedded = self._embedded_graph(chain, node)
            if embedded is not None:
                key = f"embedded:{frame.where}:{node.name}"
                if key not in visited:
                    visited.add(key)
                    inner_library = dict(library)
                    inner_library.update({f.signature.name: f for f in embedded.library.function})
                    where = f"embedded GraphDef of {frame.where}/{node.name}"
                    inner = _Frame(f"{node.name}/graph_def (embedded GraphDef)",
                                   {n.name: n for n in embedded.node}, inner_library, where)
                    self._all_nodes.extend((where, n, inner_library) for n in embedded.node)
                    for function in embedded.library.function:
                        self._all_nodes.extend((function.signature.name, n, inner_library)
                                               for n in function.node_def)
                    self._walk_frames(chain + [inner], root, ops, visited, record=record)

    def _site(self, chain: list[_Frame], node: Any, root: str, is_call: bool) -> OpSite:
        op = node.op
        touches_files = True
        details = []
        asset_issue = None
        if op in FILENAME_INPUTS:
            for position in FILENAME_INPUTS[op]:
                source = self._resolve_input(chain, node, position)
                if source is not None:
                    details.append(f"file name: {source.describe()}")
                if op in TEXT_FILE_TABLE_OPS:
                    asset_issue = self._asset_issue(source)
                if op in ("CacheDataset", "CacheDatasetV2"):
                    touches_files = not (source is not None and source.kind == "const"
                                         and source.value == "")
        if op == "PrintV2":
            stream = _attr_string(node, "output_stream")
            touches_files = stream.startswith("file://")
            details.append(f"output_stream {stream}")
        elif op in ("DecodeProtoV2", "EncodeProto"):
            descriptor = _attr_string(node, "descriptor_source")
            touches_files = not (descriptor in ("", "local://")
                                 or descriptor.startswith("bytes://"))
            details.append(f"descriptor_source {descriptor!r}")
        elif op == "DatasetFromGraph":
            touches_files = self._embedded_graph(chain, node) is None
            if touches_files:
                source = self._resolve_input(chain, node, 0)
                details.append(f"graph from {source.describe() if source else 'unknown'}")
        elif op in ("ImmutableConst",):
            details.append(f"memory_region_name {_attr_string(node, 'memory_region_name')!r}")
        elif op in ("DebugIdentity", "DebugIdentityV2", "DebugIdentityV3", "DebugNanCount",
                    "DebugNumericSummary") and "debug_urls" in node.attr:
            urls = [u.decode("utf-8", "replace") for u in node.attr["debug_urls"].list.s]
            details.append(f"debug_urls {urls}")
        if op not in CONDITIONAL_OPS and op not in ("CacheDataset", "CacheDatasetV2"):
            touches_files = True
        return OpSite(op=op, node=node.name, where=chain[-1].where,
                      path=f"{_path(chain, root)} -> node '{node.name}'", root=root,
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
            from tensorflow.python.framework import op_def_registry

            known = op_def_registry.get(op) is not None
            self._registered[op] = known
        return known

    # -- file names and assets

    def _asset_issue(self, source: _Source | None) -> str | None:
        if source is None:
            return "vocabulary file name is missing from the node's inputs"
        if source.kind == "asset":
            path = PurePosixPath(source.value.replace("\\", "/"))
            if path.is_absolute() or ".." in path.parts:
                return f"asset read from outside assets/: {source.value}"
            return None
        if source.kind == "const":
            value = source.value
            assets_dir = (self.model_dir / "assets").resolve()
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

    def _resolve_input(self, chain: list[_Frame], node: Any, position: int) -> _Source | None:
        inputs = [i for i in node.input if not i.startswith("^")]
        if position >= len(inputs):
            return None
        return self._resolve(chain, len(chain) - 1, inputs[position], 0)

    def _resolve(self, chain: list[_Frame], depth: int, tensor: str, hops: int) -> _Source:
        frame = chain[depth]
        name = tensor.lstrip("^").split(":")[0]
        if hops > 64:
            return _Source("unknown", f"too many hops tracing '{name}'")
        if not frame.is_graph and name in frame.args and name not in frame.nodes:
            index = frame.args.index(name)
            if frame.bound is not None:
                user_args = len(frame.args) - len(frame.bound)
                if index >= user_args:
                    return frame.bound[index - user_args]
                return _Source("input", f"argument '{name}' of {frame.where}")
            if depth == 0 or frame.call_node is None:
                return _Source("input", f"argument '{name}' of {frame.where}")
            call = frame.call_node
            offset = 0 if call.op in chain[depth - 1].library else _ARG_OFFSETS.get(call.op)
            data_inputs = [i for i in call.input if not i.startswith("^")]
            if offset is None or offset + index >= len(data_inputs):
                return _Source("unknown", f"argument '{name}' of {frame.where}, passed by "
                                          f"{call.op} node '{call.name}'")
            return self._resolve(chain, depth - 1, data_inputs[offset + index], hops + 1)
        if frame.is_graph and name in frame.assets:
            return _Source("asset", frame.assets[name])
        node = frame.nodes.get(name)
        if node is None:
            return _Source("unknown", f"tensor '{tensor}' not found")
        if node.op == "Const":
            value = _const_string(node)
            if value is None:
                return _Source("unknown", f"non-string constant '{name}'")
            return _Source("const", value)
        if node.op in _PASS_THROUGH and node.input:
            return self._resolve(chain, depth, node.input[0], hops + 1)
        if node.op in ("Placeholder", "PlaceholderWithDefault"):
            return _Source("input", f"graph input '{name}' (fed by the caller)")
        if node.op == "ReadVariableOp" and node.input:
            handle = node.input[0].lstrip("^").split(":")[0]
            for other in frame.nodes.values():
                if (other.op in ("AssignVariableOp", "Assign") and len(other.input) > 1
                        and other.input[0].split(":")[0] == handle):
                    return self._resolve(chain, depth, other.input[1], hops + 1)
            return _Source("unknown", f"value of variable '{handle}'")
        return _Source("unknown", f"computed at run time by {node.op} node '{name}'")

    def _embedded_graph(self, chain: list[_Frame], node: Any) -> Any:
        """The GraphDef a DatasetFromGraph node runs, when it is a Const of the model."""
        source = self._resolve_input_bytes(chain, node)
        if source is None:
            return None
        from google.protobuf import message
        from tensorflow.core.framework import graph_pb2

        graph_def = graph_pb2.GraphDef()
        try:
            graph_def.ParseFromString(source)
        except (message.DecodeError, RuntimeError, ValueError):
            return None
        return graph_def

    def _resolve_input_bytes(self, chain: list[_Frame], node: Any) -> bytes | None:
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
            if target is not None and target.op in _PASS_THROUGH and target.input:
                tensor = target.input[0]
                continue
            if (target is None and not frame.is_graph and name in frame.args
                    and frame.call_node is not None and depth > 0):
                call = frame.call_node
                offset = 0 if call.op in chain[depth - 1].library else _ARG_OFFSETS.get(call.op)
                data_inputs = [i for i in call.input if not i.startswith("^")]
                index = frame.args.index(name)
                if offset is None or offset + index >= len(data_inputs):
                    return None
                depth, tensor = depth - 1, data_inputs[offset + index]
                continue
            return None
        return None


def _path(chain: list[_Frame], root: str) -> str:
    labels = [frame.label for frame in chain if frame.label]
    return " -> ".join([root, *labels])


def _backward_closure(nodes: Mapping[str, Any], starts: Iterable[str]) -> set[str]:
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


def _called_functions(node: Any) -> Iterator[tuple[str, str]]:
    """(attr name, function name) for the node's op type and every func attr, nested too."""
    yield "", node.op
    yield from _funcs_in_attrs(node.attr)


def _funcs_in_attrs(attrs: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for key in sorted(attrs):
        value = attrs[key]
        kind = value.WhichOneof("value")
        if kind == "func":
            yield key, value.func.name
            for inner, name in _funcs_in_attrs(value.func.attr):
                yield f"{key}.{inner}", name
        elif kind == "list":
            for func in value.list.func:
                yield key, func.name
                for inner, name in _funcs_in_attrs(func.attr):
                    yield f"{key}.{inner}", name


def _attr_string(node: Any, key: str) -> str:
    if key not in node.attr:
        return ""
    return node.attr[key].s.decode("utf-8", "replace")


def _const_string(node: Any) -> str | None:
    tensor = node.attr["value"].tensor
    if len(tensor.string_val) >= 1:
        return bytes(tensor.string_val[0]).decode("utf-8", "replace")
    return None


def _tensors_of(info: Any) -> list[str]:
    """Every graph tensor a TensorInfo names: a dense one, the three parts of a COO sparse
    tensor, every component of a composite (each can be computed by different ops)."""
    encoding = info.WhichOneof("encoding")
    if encoding == "coo_sparse":
        sparse = info.coo_sparse
        return [t for t in (sparse.values_tensor_name, sparse.indices_tensor_name,
                            sparse.dense_shape_tensor_name) if t]
    if encoding == "composite_tensor":
        return [t for component in info.composite_tensor.components
                for t in _tensors_of(component)]
    return [info.name]


def _asset_tensors(meta_graph: Any) -> dict[str, str]:
    """Graph node name -> asset file name, from asset_file_def and the TF1 assets collection."""
    from tensorflow.core.protobuf import meta_graph_pb2

    assets = {a.tensor_info.name.split(":")[0]: a.filename for a in meta_graph.asset_file_def}
    collection = meta_graph.collection_def.get("saved_model_assets")
    if collection is not None:
        for item in collection.any_list.value:
            asset = meta_graph_pb2.AssetFileDef()
            if item.Unpack(asset):
                assets[asset.tensor_info.name.split(":")[0]] = asset.filename
    return assets


def _bound_source(object_graph: Any, node_id: int, asset_files: list[str],
                  graph: _Frame) -> _Source:
    if node_id >= len(object_graph.nodes):
        return _Source("unknown", f"object graph node {node_id} missing")
    obj = object_graph.nodes[node_id]
    kind = obj.WhichOneof("kind")
    if kind == "asset":
        index = obj.asset.asset_file_def_index
        if 0 <= index < len(asset_files):
            return _Source("asset", asset_files[index])
        return _Source("unknown", f"asset #{index} missing from asset_file_def")
    if kind == "constant":
        const = graph.nodes.get(obj.constant.operation)
        if const is not None and const.op == "Const":
            value = _const_string(const)
            if value is not None:
                return _Source("const", value)
        return _Source("unknown", f"captured constant '{obj.constant.operation}'")
    return _Source("unknown", f"captured {kind or 'object'} (object graph node {node_id})")
