"""Which op types a SavedModel may run: the op policy of the pre-load scan.

The policy is data only; :mod:`harness.safety.scan` applies it. A contract carries it as::

    "ops": {"deny": ["Op", ...],        # refused in addition to DEFAULT_DENY
            "allow": ["Op", ...],       # allowlist mode: only these ops may be reachable
            "permit": ["Op", ...],      # explicit exceptions the user grants
            "allow_unregistered": false,
            "allow_lambda_layers": false}

A standalone policy file (``load_policy``) holds the same object, either at the top level
or under an ``"ops"`` key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from harness.errors import ContractError

_READS = "reads a file from the filesystem"
_WRITES = "writes a file to the filesystem"
_LISTS = "lists files matching a pattern on the filesystem"
_CHECKPOINT_READ = "reads a checkpoint file (allowed only inside the saver's own restore function)"
_CHECKPOINT_WRITE = "writes a checkpoint file (allowed only inside the saver's own save function)"
_PYTHON = "runs a Python callback (py_func): arbitrary code, and not portable to TF Serving"
_SUMMARY = "creates or writes a summary/event file"
_DEBUG = "dumps tensors to files or URLs (tfdbg)"
_DATASET_READ = "tf.data source reading files from the filesystem"
_DATASET_WRITE = "tf.data op writing files to the filesystem"
_NETWORK = "opens a network connection or server"

DENY_REASONS: Mapping[str, str] = MappingProxyType({
    # direct file access
    "ReadFile": _READS,
    "WriteFile": _WRITES,
    "MatchingFiles": _LISTS,
    "ImmutableConst": "memory-maps a file named by its memory_region_name attr",
    "FileSystemSetConfiguration": "reconfigures a filesystem (e.g. credentials) at run time",
    "GenerateVocabRemapping": "reads vocabulary files",
    "LoadAndRemapMatrix": "reads a checkpoint file",
    "FixedUnigramCandidateSampler": "reads the vocabulary file named by its vocab_file attr",
    "DecodeProtoV2": "reads a proto descriptor file",
    "EncodeProto": "reads a proto descriptor file",
    "PrintV2": "prints tensors to a file",
    # checkpoints: violations only when a signature or a load-time op reaches them
    "Save": _CHECKPOINT_WRITE,
    "SaveV2": _CHECKPOINT_WRITE,
    "SaveSlices": _CHECKPOINT_WRITE,
    "MergeV2Checkpoints": _CHECKPOINT_WRITE,
    "Restore": _CHECKPOINT_READ,
    "RestoreV2": _CHECKPOINT_READ,
    "RestoreSlice": _CHECKPOINT_READ,
    "DTensorRestoreV2": _CHECKPOINT_READ,
    "CalibrationStatisticsSaver": "writes calibration statistics to a file",
    "DumpTensor": "dumps tensors to a file",
    # Python callbacks
    "PyFunc": _PYTHON,
    "PyFuncStateless": _PYTHON,
    "EagerPyFunc": _PYTHON,
    # TF1 readers
    "WholeFileReader": _READS,
    "WholeFileReaderV2": _READS,
    "TextLineReader": _READS,
    "TextLineReaderV2": _READS,
    "FixedLengthRecordReader": _READS,
    "FixedLengthRecordReaderV2": _READS,
    "TFRecordReader": _READS,
    "TFRecordReaderV2": _READS,
    "LMDBReader": _READS,
    "RecordInput": _READS,
    # summaries
    "CreateSummaryFileWriter": _SUMMARY,
    "CreateSummaryDbWriter": _SUMMARY,
    "SummaryWriter": _SUMMARY,
    "WriteSummary": _SUMMARY,
    "WriteScalarSummary": _SUMMARY,
    "WriteHistogramSummary": _SUMMARY,
    "WriteImageSummary": _SUMMARY,
    "WriteAudioSummary": _SUMMARY,
    "WriteGraphSummary": _SUMMARY,
    "WriteRawProtoSummary": _SUMMARY,
    "ImportEvent": _SUMMARY,
    "FlushSummaryWriter": _SUMMARY,
    "StatsAggregatorSetSummaryWriter": _SUMMARY,
    # tfdbg
    "DebugIdentity": _DEBUG,
    "DebugIdentityV2": _DEBUG,
    "DebugIdentityV3": _DEBUG,
    "DebugNanCount": _DEBUG,
    "DebugNumericSummary": _DEBUG,
    # tf.data sources and sinks touching files
    "TextLineDataset": _DATASET_READ,
    "TFRecordDataset": _DATASET_READ,
    "TFRecordDatasetV2": _DATASET_READ,
    "FixedLengthRecordDataset": _DATASET_READ,
    "FixedLengthRecordDatasetV2": _DATASET_READ,
    "MatchingFilesDataset": _LISTS,
    "ExperimentalMatchingFilesDataset": _LISTS,
    "CSVDataset": _DATASET_READ,
    "CSVDatasetV2": _DATASET_READ,
    "ExperimentalCSVDataset": _DATASET_READ,
    "LMDBDataset": _DATASET_READ,
    "ExperimentalLMDBDataset": _DATASET_READ,
    "SqlDataset": _DATASET_READ,
    "ExperimentalSqlDataset": _DATASET_READ,
    "LoadDataset": _DATASET_READ,
    "SnapshotDatasetReader": _DATASET_READ,
    "SnapshotNestedDatasetReader": _DATASET_READ,
    "SnapshotChunkDataset": _DATASET_READ,
    "ListSnapshotChunksDataset": _DATASET_READ,
    "SnapshotDataset": _DATASET_WRITE,
    "SnapshotDatasetV2": _DATASET_WRITE,
    "SaveDataset": _DATASET_WRITE,
    "SaveDatasetV2": _DATASET_WRITE,
    "DistributedSave": _DATASET_WRITE,
    "DatasetToTFRecord": _DATASET_WRITE,
    "ExperimentalDatasetToTFRecord": _DATASET_WRITE,
    "CacheDataset": "tf.data cache backed by a file (filename is not empty)",
    "CacheDatasetV2": "tf.data cache backed by a file (filename is not empty)",
    "DatasetFromGraph": "runs a dataset graph that is not a constant of the model",
    # network
    "DataServiceDataset": _NETWORK,
    "DataServiceDatasetV2": _NETWORK,
    "DataServiceDatasetV3": _NETWORK,
    "DataServiceDatasetV4": _NETWORK,
    "RegisterDataset": _NETWORK,
    "RegisterDatasetV2": _NETWORK,
    "RpcServer": _NETWORK,
    "RpcServerStart": _NETWORK,
    "RpcServerRegister": _NETWORK,
    "RpcClient": _NETWORK,
    "RpcCall": _NETWORK,
})
"""Every default-denied op type and why (the reason a user sees in a finding)."""

DEFAULT_DENY: frozenset[str] = frozenset(DENY_REASONS)
"""Op types refused by default wherever a signature or a load-time op can reach them.

Conditional entries (see :data:`CONDITIONAL_OPS`) are refused only when their attrs or
inputs make them touch files: ``PrintV2`` only with a ``file://`` output stream,
``DecodeProtoV2``/``EncodeProto`` only with a descriptor file, ``CacheDataset(V2)`` only
with a non-empty filename, ``DatasetFromGraph`` only when its graph is not a Const of the
model (a constant graph is scanned like any function instead).
"""

CONDITIONAL_OPS: frozenset[str] = frozenset({
    "PrintV2", "DecodeProtoV2", "EncodeProto", "CacheDataset", "CacheDatasetV2",
    "DatasetFromGraph",
})
"""Denied op types whose danger depends on attrs or inputs (checked by the scanner)."""

SAVER_OPS: frozenset[str] = frozenset({
    "Save", "SaveV2", "SaveSlices", "MergeV2Checkpoints", "Restore", "RestoreV2",
    "RestoreSlice",
})
"""Checkpoint ops every SavedModel carries in its saver functions; denied only when reachable."""

TEXT_FILE_TABLE_OPS: frozenset[str] = frozenset({
    "InitializeTableFromTextFile", "InitializeTableFromTextFileV2",
})
"""Allowed: they read vocabulary files, which must be assets of the model (checked)."""

POLICY_KEYS: tuple[str, ...] = ("deny", "allow", "permit", "allow_unregistered",
                                "allow_lambda_layers")


@dataclass(frozen=True)
class OpPolicy:
    """What the scan refuses.

    ``deny``: op types refused wherever reachable. ``allow``: allowlist mode, when not None
    only these op types (plus function calls) may be reachable. ``allowed_ops``: explicit
    exceptions granted by the user (contract ``permit`` / ``--allow-op``); they beat every
    rule. ``allow_unregistered``: accept op types the running TensorFlow does not know.
    ``allow_lambda_layers``: accept Keras ``Lambda`` layers (Python bytecode).
    """

    deny: frozenset[str] = field(default=DEFAULT_DENY)
    allow: frozenset[str] | None = None
    allow_unregistered: bool = False
    allow_lambda_layers: bool = False
    allowed_ops: frozenset[str] = frozenset()

    def permitting(self, ops: Iterable[str]) -> OpPolicy:
        """This policy with ``ops`` added to the explicit exceptions (``--allow-op``)."""
        return replace(self, allowed_ops=self.allowed_ops | frozenset(ops))

    def reason_denied(self, op: str) -> str:
        """Why ``op`` is on the deny list (the default reason, or the user's own list)."""
        return DENY_REASONS.get(op, "denied by the contract's op policy")

    def deny_source(self, op: str) -> str:
        """Which list denies ``op``: the default one or the contract's."""
        return "default deny list" if op in DEFAULT_DENY else "contract deny list"

    @classmethod
    def from_mapping(cls, data: Any, *, file: str | Path | None = None,
                     pointer: str = "/ops") -> OpPolicy:
        """Build the policy from a contract's ``"ops"`` object (or a policy file's content).

        ``deny`` extends :data:`DEFAULT_DENY`; ``permit`` becomes ``allowed_ops``.
        Raises :class:`ContractError` naming ``file`` and the JSON pointer of the bad value.
        """
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise ContractError(f"the op policy must be an object, got {_kind(data)}",
                                file=file, place=pointer,
                                hint='e.g. "ops": {"permit": ["ReadFile"]}')
        unknown = sorted(set(data) - set(POLICY_KEYS))
        if unknown:
            raise ContractError(
                f"unknown key(s) {', '.join(repr(k) for k in unknown)} in the op policy",
                file=file, place=pointer,
                hint=f"allowed keys: {', '.join(POLICY_KEYS)}")
        deny = _op_list(data, "deny", file, pointer)
        allow = _op_list(data, "allow", file, pointer) if "allow" in data else None
        permit = _op_list(data, "permit", file, pointer)
        overlap = sorted(deny & permit)
        if overlap:
            raise ContractError(
                f"op type(s) {', '.join(overlap)} are both denied and permitted",
                file=file, place=f"{pointer}/permit",
                hint="remove them from one of the two lists")
        return cls(deny=DEFAULT_DENY | deny,
                   allow=allow,
                   allow_unregistered=_flag(data, "allow_unregistered", file, pointer),
                   allow_lambda_layers=_flag(data, "allow_lambda_layers", file, pointer),
                   allowed_ops=permit)


DEFAULT_POLICY = OpPolicy()
"""Default deny list, no allowlist, no exceptions."""


def load_policy(path: str | Path) -> OpPolicy:
    """Read a standalone JSON policy file: the policy object itself or ``{"ops": {...}}``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContractError("op policy file not found", file=path) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ContractError(f"cannot read op policy file: {error}", file=path) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ContractError(f"not valid JSON: {error.msg}",
                            file=path, place=f"line {error.lineno} column {error.colno}") from None
    if isinstance(data, Mapping) and "ops" in data:
        if set(data) - {"ops", "$schema", "description"}:
            extra = sorted(set(data) - {"ops", "$schema", "description"})
            raise ContractError(f"unknown top-level key(s) {', '.join(map(repr, extra))} "
                                "next to \"ops\"", file=path, place="")
        return OpPolicy.from_mapping(data["ops"], file=path, pointer="/ops")
    return OpPolicy.from_mapping(data, file=path, pointer="")


def _op_list(data: Mapping[str, Any], key: str, file: str | Path | None,
             pointer: str) -> frozenset[str]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise ContractError(f"{key!r} must be a list of op type names, got {_kind(value)}",
                            file=file, place=f"{pointer}/{key}")
    names = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise ContractError(f"op type names must be non-empty strings, got {_kind(item)}"
                                f" {json.dumps(item)}",
                                file=file, place=f"{pointer}/{key}/{index}")
        if not item.replace("_", "").isalnum():
            raise ContractError(f"{item!r} is not an op type name (letters, digits, '_')",
                                file=file, place=f"{pointer}/{key}/{index}",
                                hint="op types are spelled like ReadFile, PrintV2")
        names.append(item)
    return frozenset(names)


def _flag(data: Mapping[str, Any], key: str, file: str | Path | None, pointer: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise ContractError(f"{key!r} must be true or false, got {_kind(value)} "
                            f"{json.dumps(value)}", file=file, place=f"{pointer}/{key}")
    return value


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    if value is None:
        return "null"
    return type(value).__name__
