"""Interface diff: what changed between two contracts or SavedModels, and does it break callers.

Each side is reduced to an :class:`Interface` (signatures -> inputs/outputs with dtype and
shape, the asset list, the tag-set), from a contract (:func:`interface_from_contract`) or
from a model's ``saved_model.pb`` (:func:`interface_from_model`); :func:`diff_interfaces`
lists every :class:`Change` with a severity:

* ``breaking``: a signature, input or output removed or renamed, a ``method_name`` or
  dtype changed, a new (required) input, a fixed size or the rank changed, an *input* dim
  narrowed (a named range shrank, a free or unknown size or rank became fixed), an asset
  removed, the tag-set changed; a deprecated signature or tensor removed before its sunset.
* ``compatible``: a signature or output added, a dim widened (fixed -> unknown, a range
  grew, the rank opened), an *output* dim narrowed (it promises more, breaks no caller),
  an asset added, a deprecated signature or tensor removed on or after its sunset date
  ("retired").
* ``unchanged``: a signature present on both sides with nothing changed.

A removed and an added signature (or tensor) with identical interfaces are reported as one
"renamed?" change. Between two contracts, value ranges compare too (``values``): an input
range narrowed or an output range widened is breaking, the other way compatible. Every
kind of change belongs to a group (:data:`KIND_GROUPS`: signature, tensor, shape, values,
assets) that a release gate (:mod:`harness.contract.release`) can gate on.
Nothing here imports TensorFlow; reading a model goes through :mod:`harness.savedmodel`.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from harness.contract.load import load_contract
from harness.contract.model import Contract, frozen
from harness.errors import HarnessError, ModelError
from harness.savedmodel.layout import resolve_model
from harness.savedmodel.reader import MetaGraphInfo, SavedModelInfo, read_saved_model

#: every kind of change -> the group a team can gate on (``diff --gate GROUP,...``)
GROUPS = ("signature", "tensor", "shape", "values", "assets")
KIND_GROUPS = {
    "tag-set changed": "signature", "signature renamed?": "signature",
    "signature removed": "signature", "signature added": "signature",
    "signature retired": "signature", "input retired": "tensor", "output retired": "tensor",
    "signature unchanged": "signature", "method_name changed": "signature",
    "input renamed?": "tensor", "output renamed?": "tensor", "input removed": "tensor",
    "output removed": "tensor", "new required input": "tensor", "output added": "tensor",
    "dtype changed": "tensor",
    "rank fixed": "shape", "rank opened": "shape", "rank changed": "shape",
    "fixed size changed": "shape", "dim widened": "shape", "dim narrowed": "shape",
    "dim changed": "shape",
    "range narrowed": "values", "range widened": "values", "range changed": "values",
    "asset removed": "assets", "asset added": "assets",
}

BREAKING = "breaking"
COMPATIBLE = "compatible"
UNCHANGED = "unchanged"
SEVERITIES = (BREAKING, COMPATIBLE, UNCHANGED)


@dataclass(frozen=True)
class DimRange:
    """The sizes one axis admits: ``lo..hi`` inclusive, ``hi`` = inf for any size."""

    lo: int
    hi: float
    name: str | None = None

    @staticmethod
    def fixed(size: int) -> "DimRange":
        return DimRange(size, size)

    @staticmethod
    def free(name: str | None = None) -> "DimRange":
        return DimRange(0, math.inf, name)

    def contains(self, other: "DimRange") -> bool:
        return self.lo <= other.lo and other.hi <= self.hi

    def describe(self) -> str:
        if self.lo == self.hi:
            return str(self.lo)
        if self.name:
            hi = "inf" if self.hi == math.inf else str(int(self.hi))
            return f"{self.name}({self.lo}..{hi})"
        if self.lo == 0 and self.hi == math.inf:
            return "None"
        hi = "inf" if self.hi == math.inf else str(int(self.hi))
        return f"{self.lo}..{hi}"


@dataclass(frozen=True)
class TensorInterface:
    """An input or output: dtype and shape (None: any rank)."""

    name: str
    dtype: str
    shape: tuple[DimRange, ...] | None
    range: tuple[float, float] | None = None  # a contract's value domain (models declare none)
    sunset: str | None = None  # a contract's deprecation: removable from this date

    def describe(self) -> str:
        if self.shape is None:
            return f"{self.dtype} <any rank>"
        return f"{self.dtype} [" + ", ".join(d.describe() for d in self.shape) + "]"

    def same_as(self, other: "TensorInterface") -> bool:
        return self.dtype == other.dtype and self.shape == other.shape


@dataclass(frozen=True)
class SignatureInterface:
    name: str
    method_name: str | None  # None: not stated (a contract without method_name)
    inputs: Mapping[str, TensorInterface]
    outputs: Mapping[str, TensorInterface]
    sunset: str | None = None

    def same_io(self, other: "SignatureInterface") -> bool:
        return _same_tensors(self.inputs, other.inputs) and _same_tensors(self.outputs, other.outputs)


@dataclass(frozen=True)
class Interface:
    """One side of a diff: where it came from and what it declares."""

    label: str
    signatures: Mapping[str, SignatureInterface]
    assets: tuple[str, ...]
    tags: tuple[str, ...]
    fingerprint: Mapping[str, int] = field(default_factory=lambda: frozen({}))
    version: str | None = None  # a contract's "version"


@dataclass(frozen=True)
class Change:
    """One difference between OLD and NEW."""

    severity: str  # breaking | compatible | unchanged
    kind: str  # e.g. "output removed", "dim narrowed"
    where: str  # e.g. "serving_default/outputs/y" or "serving_default/inputs/x[1]"
    old: str | None
    new: str | None
    message: str

    @property
    def group(self) -> str:
        return KIND_GROUPS[self.kind]

    def as_dict(self) -> dict[str, Any]:
        return {"severity": self.severity, "kind": self.kind, "group": self.group,
                "where": self.where, "old": self.old, "new": self.new, "message": self.message}


@dataclass(frozen=True)
class DiffResult:
    """All changes from one interface to the next; ``shortcut`` says why nothing was compared."""

    old: str
    new: str
    changes: tuple[Change, ...]
    shortcut: str | None = None
    old_version: str | None = None
    new_version: str | None = None

    @property
    def breaking(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.severity == BREAKING)

    def count(self, severity: str) -> int:
        return sum(1 for c in self.changes if c.severity == severity)

    def as_dict(self) -> dict[str, Any]:
        return {"old": self.old, "new": self.new, "shortcut": self.shortcut,
                "old_version": self.old_version, "new_version": self.new_version,
                "breaking": bool(self.breaking),
                "counts": {s: self.count(s) for s in SEVERITIES},
                "changes": [c.as_dict() for c in self.changes]}


# ----------------------------------------------------------------------------- interfaces


def interface_from_contract(contract: Contract) -> Interface:
    """The interface a contract promises (its signatures, required assets and tag-set)."""

    def dims(shape: tuple[Any, ...] | None) -> tuple[DimRange, ...] | None:
        if shape is None:
            return None
        out = []
        for entry in shape:
            if isinstance(entry, int):
                out.append(DimRange.fixed(entry))
            elif isinstance(entry, str):
                bound = contract.dims[entry]
                out.append(DimRange(bound.min, bound.max, entry))
            else:
                out.append(DimRange.free())
        return tuple(out)

    sigs = {}
    for sig in contract.signatures:
        sigs[sig.name] = SignatureInterface(
            sig.name, sig.method_name,
            frozen({t.name: TensorInterface(t.name, t.dtype, dims(t.shape), t.range, t.sunset)
                    for t in sig.inputs}),
            frozen({t.name: TensorInterface(t.name, t.dtype, dims(t.shape), t.range, t.sunset)
                    for t in sig.outputs}),
            sig.sunset,
        )
    return Interface(str(contract.path), frozen(sigs), tuple(sorted(contract.assets)),
                     tuple(sorted(contract.tags)), version=contract.version or None)


def interface_from_model(info: SavedModelInfo, meta_graph: MetaGraphInfo) -> Interface:
    """The interface a SavedModel's MetaGraph declares (its SignatureDefs and asset list)."""

    def dims(shape: tuple[int | None, ...] | None) -> tuple[DimRange, ...] | None:
        if shape is None:
            return None
        return tuple(DimRange.free() if d is None else DimRange.fixed(d) for d in shape)

    sigs = {}
    for key, sig in meta_graph.signatures.items():
        sigs[key] = SignatureInterface(
            key, sig.method_name,
            frozen({k: TensorInterface(k, t.dtype, dims(t.shape)) for k, t in sig.inputs.items()}),
            frozen({k: TensorInterface(k, t.dtype, dims(t.shape)) for k, t in sig.outputs.items()}),
        )
    return Interface(str(info.path), frozen(sigs), tuple(sorted(meta_graph.asset_files)),
                     tuple(sorted(meta_graph.tags)), info.fingerprint)


def interface_of(path: str | Path, tags: Iterable[str] = ("serve",)) -> Interface:
    """The interface at ``path``: a contract file, a SavedModel, or a base path's latest version.

    ``tags`` picks the MetaGraph of a model (a contract carries its own tag-set).
    Raises :class:`ContractError` / :class:`ModelError` for what cannot be read.
    """
    from harness.contract.revision import contract_at, is_revision

    if isinstance(path, str) and is_revision(path):
        contract = contract_at(path)
        found = interface_from_contract(contract)
        return Interface(path, found.signatures, found.assets, found.tags, version=found.version)
    path = Path(path)
    if path.is_file():
        return interface_from_contract(load_contract(path))
    refs = resolve_model(path)
    info = read_saved_model(refs[-1].path)
    wanted = frozenset(tags)
    meta_graph = info.meta_graph(wanted)
    if meta_graph is None:
        raise ModelError(f"no MetaGraph with the tag-set {sorted(wanted)}", file=info.path,
                         hint=f"tag-sets in the model: {info.tag_sets}; pick one with --tags")
    return interface_from_model(info, meta_graph)


def version_pairs(base: str | Path) -> list[tuple[Path, Path]]:
    """Consecutive versions (1 -> 2, 2 -> 3, ...) of a TF Serving base path."""
    refs = resolve_model(base)
    if len(refs) < 2 or refs[0].version is None:
        found = "a single SavedModel" if refs[0].version is None else f"only version {refs[0].version}"
        raise HarnessError(f"nothing to compare: {found}", file=base,
                           hint="give OLD and NEW, or a TF Serving base path with two or more "
                                "numeric version folders")
    return [(a.path, b.path) for a, b in zip(refs, refs[1:], strict=False)]


def diff_paths(old: str | Path, new: str | Path | None = None, *,
               tags: Iterable[str] = ("serve",), use_fingerprint: bool = True,
               today: datetime.date | None = None) -> list[DiffResult]:
    """Diff OLD against NEW, or (``new`` None) each pair of consecutive versions of OLD."""
    pairs: list[tuple[str | Path, str | Path]]
    pairs = [(old, new)] if new is not None else list(version_pairs(old))
    tags = tuple(tags)
    return [diff_interfaces(interface_of(a, tags), interface_of(b, tags),
                            use_fingerprint=use_fingerprint, today=today) for a, b in pairs]


# ----------------------------------------------------------------------------- comparison


def fingerprint_shortcut(old: Interface, new: Interface) -> str | None:
    """Why the two models need no comparison (equal non-zero signature_def_hash), or None."""
    a = old.fingerprint.get("signature_def_hash", 0)
    b = new.fingerprint.get("signature_def_hash", 0)
    if a and a == b:
        return "unchanged (fingerprint.pb signature_def_hash equal)"
    return None


def diff_interfaces(old: Interface, new: Interface, *, use_fingerprint: bool = True,
                    today: datetime.date | None = None) -> DiffResult:
    """Every change from ``old`` to ``new``, breaking first.

    A signature or tensor that ``old`` marks deprecated is *retired* (compatible) when it is
    removed on or after its sunset date (``today``, default the current date), and removed
    (breaking) before it.
    """
    day = (today or datetime.date.today()).isoformat()
    if use_fingerprint:
        shortcut = fingerprint_shortcut(old, new)
        if shortcut:
            return DiffResult(old.label, new.label, (), shortcut, old.version, new.version)
    changes: list[Change] = []
    if old.tags != new.tags:
        changes.append(Change(BREAKING, "tag-set changed", "tags", str(list(old.tags)),
                              str(list(new.tags)),
                              f"the MetaGraph tag-set changed from {list(old.tags)} to "
                              f"{list(new.tags)}; loaders asking for the old tags fail"))
    changes.extend(_signature_changes(old.signatures, new.signatures, day))
    changes.extend(_asset_changes(old.assets, new.assets))
    order = {s: i for i, s in enumerate(SEVERITIES)}
    changes.sort(key=lambda c: order[c.severity])
    return DiffResult(old.label, new.label, tuple(changes), None, old.version, new.version)


def _signature_changes(old: Mapping[str, SignatureInterface],
                       new: Mapping[str, SignatureInterface], day: str) -> Iterable[Change]:
    removed = [k for k in old if k not in new]
    added = [k for k in new if k not in old]
    for name in list(removed):
        twin = next((a for a in added if old[name].same_io(new[a])
                     and old[name].method_name == new[a].method_name), None)
        if twin is not None:
            removed.remove(name)
            added.remove(twin)
            yield Change(BREAKING, "signature renamed?", f"{name} -> {twin}", name, twin,
                         f"signature {name!r} is gone and {twin!r} appeared with identical "
                         f"inputs and outputs: renamed? callers of {name!r} fail")
    for name in removed:
        sunset = old[name].sunset
        if sunset and day >= sunset:
            yield Change(COMPATIBLE, "signature retired", name, name, None,
                         f"signature {name!r} was removed after its sunset ({sunset})")
            continue
        tail = f" (deprecated, but its sunset is {sunset})" if sunset else ""
        yield Change(BREAKING, "signature removed", name, name, None,
                     f"signature {name!r} was removed; its callers fail{tail}")
    for name in added:
        yield Change(COMPATIBLE, "signature added", name, None, name,
                     f"signature {name!r} was added")
    for name in old:
        if name not in new:
            continue
        inner = list(_one_signature(old[name], new[name], day))
        if inner:
            yield from inner
        else:
            yield Change(UNCHANGED, "signature unchanged", name, None, None,
                         f"signature {name!r}: same method, inputs and outputs")


def _one_signature(old: SignatureInterface, new: SignatureInterface,
                   day: str) -> Iterable[Change]:
    if old.method_name and new.method_name and old.method_name != new.method_name:
        yield Change(BREAKING, "method_name changed", f"{old.name}", old.method_name,
                     new.method_name,
                     f"signature {old.name!r}: method_name {old.method_name!r} -> "
                     f"{new.method_name!r} (TF Serving's Classify/Regress/Predict APIs depend on it)")
    yield from _tensor_changes(old.name, "inputs", old.inputs, new.inputs, day)
    yield from _tensor_changes(old.name, "outputs", old.outputs, new.outputs, day)


def _tensor_changes(sig: str, side: str, old: Mapping[str, TensorInterface],
                    new: Mapping[str, TensorInterface], day: str) -> Iterable[Change]:
    noun = side[:-1]
    removed = [k for k in old if k not in new]
    added = [k for k in new if k not in old]
    for name in list(removed):
        twin = next((a for a in added if old[name].same_as(new[a])), None)
        if twin is not None:
            removed.remove(name)
            added.remove(twin)
            yield Change(BREAKING, f"{noun} renamed?", f"{sig}/{side}/{name} -> {twin}",
                         f"{name}: {old[name].describe()}", f"{twin}: {new[twin].describe()}",
                         f"signature {sig!r}: {noun} {name!r} is gone and {twin!r} appeared "
                         f"with the same dtype and shape: renamed? callers using {name!r} fail")
    for name in removed:
        sunset = old[name].sunset
        if sunset and day >= sunset:
            yield Change(COMPATIBLE, f"{noun} retired", f"{sig}/{side}/{name}",
                         old[name].describe(), None,
                         f"signature {sig!r}: {noun} {name!r} was removed after its sunset "
                         f"({sunset})")
            continue
        tail = f" (deprecated, but its sunset is {sunset})" if sunset else ""
        yield Change(BREAKING, f"{noun} removed", f"{sig}/{side}/{name}", old[name].describe(),
                     None, f"signature {sig!r}: {noun} {name!r} ({old[name].describe()}) was "
                           f"removed{tail}")
    for name in added:
        if side == "inputs":
            yield Change(BREAKING, "new required input", f"{sig}/{side}/{name}", None,
                         new[name].describe(),
                         f"signature {sig!r}: new input {name!r} ({new[name].describe()}); "
                         "every SignatureDef input is required, so existing callers fail")
        else:
            yield Change(COMPATIBLE, "output added", f"{sig}/{side}/{name}", None,
                         new[name].describe(),
                         f"signature {sig!r}: output {name!r} ({new[name].describe()}) was added")
    for name in old:
        if name in new:
            yield from _tensor_change(sig, side, old[name], new[name])


def _tensor_change(sig: str, side: str, old: TensorInterface,
                   new: TensorInterface) -> Iterable[Change]:
    where = f"{sig}/{side}/{old.name}"
    noun = side[:-1]
    if old.dtype != new.dtype:
        yield Change(BREAKING, "dtype changed", where, old.dtype, new.dtype,
                     f"signature {sig!r}: {noun} {old.name!r} dtype {old.dtype} -> {new.dtype}")
    yield from _shape_changes(sig, side, old, new)
    yield from _range_change(sig, side, old, new)


def _range_change(sig: str, side: str, old: TensorInterface,
                  new: TensorInterface) -> Iterable[Change]:
    """Value domains (contracts only): an input may only widen, an output only narrow."""
    if old.range is None or new.range is None or old.range == new.range:
        return
    where = f"{sig}/{side}/{old.name}"
    text = f"signature {sig!r}: {side[:-1]} {old.name!r} range {list(old.range)} -> {list(new.range)}"
    wider = new.range[0] <= old.range[0] and old.range[1] <= new.range[1]
    narrower = old.range[0] <= new.range[0] and new.range[1] <= old.range[1]
    if wider:
        severity = COMPATIBLE if side == "inputs" else BREAKING
        yield Change(severity, "range widened", where, str(list(old.range)), str(list(new.range)),
                     text + ("" if side == "inputs" else "; callers relying on the old range break"))
    elif narrower:
        severity = BREAKING if side == "inputs" else COMPATIBLE
        yield Change(severity, "range narrowed", where, str(list(old.range)),
                     str(list(new.range)),
                     text + ("; callers sending values outside it break" if side == "inputs" else ""))
    else:
        yield Change(BREAKING, "range changed", where, str(list(old.range)), str(list(new.range)),
                     text + " (the ranges only partly overlap)")


def _shape_changes(sig: str, side: str, old: TensorInterface,
                   new: TensorInterface) -> Iterable[Change]:
    where = f"{sig}/{side}/{old.name}"
    noun = side[:-1]
    label = f"signature {sig!r}: {noun} {old.name!r}"
    # An input must keep accepting what it accepted: narrowing it breaks callers. An output's
    # declared shape is what callers are told to expect; only a changed rank or fixed size
    # breaks them (widening it just declares less, narrowing it promises more).
    widen, narrow = COMPATIBLE, (BREAKING if side == "inputs" else COMPATIBLE)
    old_s, new_s = _shape_text(old), _shape_text(new)
    if old.shape is None and new.shape is None:
        return
    if old.shape is None or new.shape is None:
        if old.shape is None:
            yield Change(narrow, "rank fixed", where, old_s, new_s,
                         f"{label}: any rank -> rank {len(new.shape or ())} ({new_s})")
        else:
            yield Change(widen, "rank opened", where, old_s, new_s,
                         f"{label}: rank {len(old.shape)} -> any rank")
        return
    if len(old.shape) != len(new.shape):
        yield Change(BREAKING, "rank changed", where, old_s, new_s,
                     f"{label}: rank {len(old.shape)} -> {len(new.shape)} ({old_s} -> {new_s})")
        return
    for axis, (a, b) in enumerate(zip(old.shape, new.shape, strict=False)):
        if (a.lo, a.hi) == (b.lo, b.hi):
            continue
        at = f"{where}[{axis}]"
        text = f"{label} axis {axis}: {a.describe()} -> {b.describe()}"
        if a.lo == a.hi and b.lo == b.hi:
            yield Change(BREAKING, "fixed size changed", at, a.describe(), b.describe(), text)
        elif b.contains(a):
            yield Change(widen, "dim widened", at, a.describe(), b.describe(), text)
        elif a.contains(b):
            yield Change(narrow, "dim narrowed", at, a.describe(), b.describe(), text)
        else:
            yield Change(BREAKING, "dim changed", at, a.describe(), b.describe(),
                         text + " (the ranges only partly overlap)")


def _shape_text(t: TensorInterface) -> str:
    return t.describe().split(" ", 1)[1]


def _asset_changes(old: tuple[str, ...], new: tuple[str, ...]) -> Iterable[Change]:
    for name in old:
        if name not in new:
            yield Change(BREAKING, "asset removed", f"assets/{name}", name, None,
                         f"asset {name!r} is no longer in the model's asset list")
    for name in new:
        if name not in old:
            yield Change(COMPATIBLE, "asset added", f"assets/{name}", None, name,
                         f"asset {name!r} was added")


def _same_tensors(a: Mapping[str, TensorInterface], b: Mapping[str, TensorInterface]) -> bool:
    return set(a) == set(b) and all(a[k].same_as(b[k]) for k in a)


# ----------------------------------------------------------------------------- rendering


def render_table(result: DiffResult) -> str:
    """A readable table: one row per change (severity, kind, where, old -> new)."""
    head = f"{result.old} -> {result.new}"
    if result.shortcut:
        return f"{head}\n  {result.shortcut}"
    rows = [(c.severity, c.kind, c.where, _arrow(c)) for c in result.changes]
    lines = [head]
    if rows:
        titles = ("severity", "change", "where", "old -> new")
        widths = [max(len(r[i]) for r in rows + [titles]) for i in range(3)]
        fmt = "  {:<%d}  {:<%d}  {:<%d}  {}" % tuple(widths)
        lines.append(fmt.format(*titles).rstrip())
        lines.extend(fmt.format(*row).rstrip() for row in rows)
    summary = ", ".join(f"{result.count(s)} {s}" for s in SEVERITIES)
    verdict = "BREAKING" if result.breaking else ("compatible" if result.count(COMPATIBLE)
                                                 else "unchanged")
    lines.append(f"  {verdict}: {summary}")
    return "\n".join(lines)


def _arrow(change: Change) -> str:
    if change.old is None and change.new is None:
        return ""
    return f"{change.old or '-'} -> {change.new or '-'}"


__all__ = [
    "BREAKING", "COMPATIBLE", "GROUPS", "KIND_GROUPS", "UNCHANGED", "Change", "DiffResult", "DimRange", "Interface",
    "SignatureInterface", "TensorInterface", "diff_interfaces", "diff_paths",
    "fingerprint_shortcut", "interface_from_contract", "interface_from_model", "interface_of",
    "render_table", "version_pairs",
]
