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

import time
from pathlib import Path
from typing import Callable

from harness.errors import ModelError
from harness.safety.findings import Finding, LambdaLayer, OpSite, ScanReport, evaluate, violation_error
from harness.safety.keras import read_lambda_layers
from harness.safety.policy import DEFAULT_POLICY, OpPolicy
from harness.safety.symlinks import find_links
from harness.safety.walk import Walker
from harness.savedmodel.reader import read_proto

__all__ = ["Finding", "LambdaLayer", "OpSite", "ScanReport", "check_saved_model", "evaluate", "scan_saved_model", "violation_error"]


def scan_saved_model(model_dir: Path, policy: OpPolicy = DEFAULT_POLICY, *,
                     tags: set[str] | None = None,
                     registered: Callable[[str], bool] | None = None) -> ScanReport:
    """Scan ``model_dir/saved_model.pb`` statically; nothing is loaded or executed.

    ``tags`` restricts the scan to the MetaGraphDef with exactly these tags (default: all).
    ``registered`` answers whether TensorFlow registers an op type (default: TensorFlow's
    registry; :class:`~harness.savedmodel.registered_ops.RegisteredOps` remembers it).
    Raises :class:`ModelError` when the directory is not a readable SavedModel.
    """
    from harness.savedmodel.tf_modules import tf_module

    # its protobuf classes (TensorFlow is not started); importing them is not part of the
    # scan's time
    tf_module("tensorflow.core.protobuf.saved_model_pb2")
    started = time.perf_counter()
    model_dir = Path(model_dir)
    links = find_links(model_dir) if model_dir.is_dir() else ()
    if {link.relative for link in links} & {"saved_model.pb", "saved_model.pbtxt"}:
        return ScanReport(model_dir=model_dir, policy=policy,
                          findings=evaluate((), (), policy, links), ops_by_signature={},
                          ops_at_load={}, saver_ops=frozenset(), links=links,
                          seconds=time.perf_counter() - started)
    saved_model = read_proto(model_dir)
    meta_graphs = list(saved_model.meta_graphs)
    if tags is not None:
        meta_graphs = [mg for mg in meta_graphs if set(mg.meta_info_def.tags) == set(tags)]
        if not meta_graphs:
            available = "; ".join(sorted(",".join(sorted(mg.meta_info_def.tags)) or "(none)"
                                         for mg in saved_model.meta_graphs))
            raise ModelError(f"no MetaGraphDef with tags {{{','.join(sorted(tags))}}}",
                             file=model_dir / "saved_model.pb",
                             hint=f"tag sets in the file: {available}")
    walker = Walker(model_dir, is_registered=registered)
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
