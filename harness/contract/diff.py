"""Interface diff: what changed between two contracts or SavedModels, and does it break callers.

Each side is read into the declared-interface model (:class:`~harness.interface.Interface`:
signatures -> inputs/outputs with dtype and dims, the asset list, the tag-set), from a
contract (:func:`~harness.interface.contract.interface_from_contract`) or from a model's
``saved_model.pb`` (:func:`~harness.savedmodel.reader.interface_from_model`); the one
comparison (:mod:`harness.interface.compare`) lists the mismatches, and
:func:`diff_interfaces` turns each into a :class:`Change` with a severity:

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from harness.contract.load import load_contract
from harness.errors import HarnessError, ModelError
from harness.interface.compare import (
    DIM_CHANGED,
    DIM_NARROWED,
    DIM_WIDENED,
    DTYPE,
    FIXED_SIZE_CHANGED,
    METHOD_NAME,
    RANGE_CHANGED,
    RANGE_NARROWED,
    RANGE_WIDENED,
    RANK_CHANGED,
    RANK_FIXED,
    RANK_OPENED,
    SIGNATURE_EXTRA,
    SIGNATURE_MISSING,
    TENSOR_EXTRA,
    TENSOR_MISSING,
    Mismatch,
    compare_interfaces,
)
from harness.interface.contract import interface_from_contract
from harness.interface.model import DimRange, Interface, SignatureInterface, TensorInterface
from harness.savedmodel.layout import resolve_model
from harness.savedmodel.reader import interface_from_model, read_saved_model

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
    found = compare_interfaces(old, new)
    removed = [m.signature for m in found if m.kind == SIGNATURE_MISSING]
    added = [m.signature for m in found if m.kind == SIGNATURE_EXTRA]
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
        inner = list(_one_signature(old[name], new[name],
                                    [m for m in found if m.signature == name
                                     and m.kind not in (SIGNATURE_MISSING, SIGNATURE_EXTRA)], day))
        if inner:
            yield from inner
        else:
            yield Change(UNCHANGED, "signature unchanged", name, None, None,
                         f"signature {name!r}: same method, inputs and outputs")


def _one_signature(old: SignatureInterface, new: SignatureInterface, found: list[Mismatch],
                   day: str) -> Iterable[Change]:
    for m in found:
        if m.kind == METHOD_NAME and m.found:  # a side that states none changed nothing
            yield Change(BREAKING, "method_name changed", f"{old.name}", m.expected, m.found,
                         f"signature {old.name!r}: method_name {m.expected!r} -> "
                         f"{m.found!r} (TF Serving's Classify/Regress/Predict APIs depend on it)")
    for side in ("inputs", "outputs"):
        yield from _tensor_changes(old.name, side, old.side(side), new.side(side),
                                   [m for m in found if m.side == side], day)


def _tensor_changes(sig: str, side: str, old: Mapping[str, TensorInterface],
                    new: Mapping[str, TensorInterface], found: list[Mismatch],
                    day: str) -> Iterable[Change]:
    noun = side[:-1]
    removed = [m.tensor for m in found if m.kind == TENSOR_MISSING and m.tensor]
    added = [m.tensor for m in found if m.kind == TENSOR_EXTRA and m.tensor]
    for name in list(removed):
        twin = next((a for a in added if old[name].same_as(new[a])), None)
        if twin is not None:
            removed.remove(name)
            added.remove(twin)
            yield Change(BREAKING, f"{noun} renamed?", f"{sig}/{side}/{name} -> {twin}",
                         f"{name}: {old[name].describe_contract()}", f"{twin}: {new[twin].describe_contract()}",
                         f"signature {sig!r}: {noun} {name!r} is gone and {twin!r} appeared "
                         f"with the same dtype and shape: renamed? callers using {name!r} fail")
    for name in removed:
        sunset = old[name].sunset
        if sunset and day >= sunset:
            yield Change(COMPATIBLE, f"{noun} retired", f"{sig}/{side}/{name}",
                         old[name].describe_contract(), None,
                         f"signature {sig!r}: {noun} {name!r} was removed after its sunset "
                         f"({sunset})")
            continue
        tail = f" (deprecated, but its sunset is {sunset})" if sunset else ""
        yield Change(BREAKING, f"{noun} removed", f"{sig}/{side}/{name}", old[name].describe_contract(),
                     None, f"signature {sig!r}: {noun} {name!r} ({old[name].describe_contract()}) was "
                           f"removed{tail}")
    for name in added:
        if side == "inputs":
            yield Change(BREAKING, "new required input", f"{sig}/{side}/{name}", None,
                         new[name].describe_contract(),
                         f"signature {sig!r}: new input {name!r} ({new[name].describe_contract()}); "
                         "every SignatureDef input is required, so existing callers fail")
        else:
            yield Change(COMPATIBLE, "output added", f"{sig}/{side}/{name}", None,
                         new[name].describe_contract(),
                         f"signature {sig!r}: output {name!r} ({new[name].describe_contract()}) was added")
    for m in found:
        if m.tensor is not None and m.tensor in old and m.tensor in new:
            yield from _tensor_change(sig, side, old[m.tensor], new[m.tensor], m)


def _tensor_change(sig: str, side: str, old: TensorInterface, new: TensorInterface,
                   m: Mismatch) -> Iterable[Change]:
    """The change one mismatch of a tensor present on both sides is (encodings and graph
    tensor names are not part of a diff)."""
    where = f"{sig}/{side}/{old.name}"
    noun = side[:-1]
    label = f"signature {sig!r}: {noun} {old.name!r}"
    # An input must keep accepting what it accepted: narrowing it breaks callers. An output's
    # declared shape is what callers are told to expect; only a changed rank or fixed size
    # breaks them (widening it just declares less, narrowing it promises more).
    widen, narrow = COMPATIBLE, (BREAKING if side == "inputs" else COMPATIBLE)
    if m.kind == DTYPE:
        yield Change(BREAKING, "dtype changed", where, m.expected, m.found,
                     f"{label} dtype {m.expected} -> {m.found}")
    elif m.kind == RANK_FIXED:
        yield Change(narrow, "rank fixed", where, m.expected, m.found,
                     f"{label}: any rank -> rank {len(new.dims or ())} ({m.found})")
    elif m.kind == RANK_OPENED:
        yield Change(widen, "rank opened", where, m.expected, m.found,
                     f"{label}: rank {len(old.dims or ())} -> any rank")
    elif m.kind == RANK_CHANGED:
        yield Change(BREAKING, "rank changed", where, m.expected, m.found,
                     f"{label}: rank {len(old.dims or ())} -> {len(new.dims or ())} "
                     f"({m.expected} -> {m.found})")
    elif m.axis is not None:
        severity = {FIXED_SIZE_CHANGED: BREAKING, DIM_WIDENED: widen, DIM_NARROWED: narrow,
                    DIM_CHANGED: BREAKING}[m.kind]
        text = f"{label} axis {m.axis}: {m.expected} -> {m.found}"
        tail = " (the ranges only partly overlap)" if m.kind == DIM_CHANGED else ""
        yield Change(severity, m.kind, f"{where}[{m.axis}]", m.expected, m.found, text + tail)
    elif m.kind in RANGE_SEVERITY:
        yield _range_change(sig, side, old, new, m)


#: value domains (contracts only): an input may only widen, an output only narrow
RANGE_SEVERITY = {
    RANGE_WIDENED: {"inputs": COMPATIBLE, "outputs": BREAKING},
    RANGE_NARROWED: {"inputs": BREAKING, "outputs": COMPATIBLE},
    RANGE_CHANGED: {"inputs": BREAKING, "outputs": BREAKING},
}
RANGE_TAILS = {
    (RANGE_WIDENED, "outputs"): "; callers relying on the old range break",
    (RANGE_NARROWED, "inputs"): "; callers sending values outside it break",
    (RANGE_CHANGED, "inputs"): " (the ranges only partly overlap)",
    (RANGE_CHANGED, "outputs"): " (the ranges only partly overlap)",
}


def _range_change(sig: str, side: str, old: TensorInterface, new: TensorInterface,
                  m: Mismatch) -> Change:
    assert old.range is not None and new.range is not None
    text = f"signature {sig!r}: {side[:-1]} {old.name!r} range {m.expected} -> {m.found}"
    return Change(RANGE_SEVERITY[m.kind][side], m.kind, f"{sig}/{side}/{old.name}", m.expected,
                  m.found, text + RANGE_TAILS.get((m.kind, side), ""))


def _asset_changes(old: tuple[str, ...], new: tuple[str, ...]) -> Iterable[Change]:
    for name in old:
        if name not in new:
            yield Change(BREAKING, "asset removed", f"assets/{name}", name, None,
                         f"asset {name!r} is no longer in the model's asset list")
    for name in new:
        if name not in old:
            yield Change(COMPATIBLE, "asset added", f"assets/{name}", None, name,
                         f"asset {name!r} was added")


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
