"""Static conformance: a SavedModel's saved_model.pb against its contract, nothing executed.

Each check is a plain function registered in :data:`STATIC_CHECKS` (model-level) or
:data:`SIGNATURE_CHECKS` (one per signature). A check returns notes (things worth
reporting that are not failures, such as extra outputs) and raises
:class:`~harness.errors.CheckFailure` listing every mismatch it found.
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping, Sequence

from harness.checks.case import Case, CheckSpec, declare, declared_cases, planner
from harness.context import RunContext
from harness.contract.model import Contract, SignatureSpec, TensorSpec, describe_shape
from harness.errors import CheckFailure
from harness.interface.compare import (
    DIM_CHANGED,
    DIM_NARROWED,
    DTYPE,
    ENCODING,
    FIXED_SIZE_CHANGED,
    METHOD_NAME,
    RANK_CHANGED,
    TENSOR_EXTRA,
    TENSOR_NAME,
    Mismatch,
    by_tensor,
    compare_signatures,
    compare_tensors,
)
from harness.interface.contract import signature_from_contract, tensor_from_contract
from harness.interface.model import SignatureInterface, TensorInterface
from harness.registry import Registry
from harness.savedmodel.layout import ModelRef
from harness.savedmodel.reader import MetaGraphInfo, SavedModelInfo

ModelCheck = Callable[[Contract, SavedModelInfo], list[str]]
SignatureCheck = Callable[[Contract, SignatureSpec, SavedModelInfo], list[str]]

#: model-level static checks, by name (test ids use the name).
STATIC_CHECKS: Registry[ModelCheck] = Registry("static model check")
#: per-signature static checks, by name.
SIGNATURE_CHECKS: Registry[SignatureCheck] = Registry("static signature check")


def _run_model_check(context: RunContext, case: Case) -> list[str]:
    info = context.model_info(case.model)
    return STATIC_CHECKS[case.check](case.contract, info)


def _run_signature_check(context: RunContext, case: Case) -> list[str]:
    info = context.model_info(case.model)
    assert case.signature is not None
    sig = case.contract.signature(case.signature)
    return SIGNATURE_CHECKS[case.check](case.contract, sig, info)


def model_check(name: str) -> Callable[[ModelCheck], ModelCheck]:
    """Declare a static check run once per model on its saved_model.pb read."""

    def register(fn: ModelCheck) -> ModelCheck:
        STATIC_CHECKS.add(name, fn)
        declare(CheckSpec(name, "static", _run_model_check, scope="model"))
        return fn

    return register


def signature_check(name: str) -> Callable[[SignatureCheck], SignatureCheck]:
    """Declare a static check run once per contract signature on its saved_model.pb read."""

    def register(fn: SignatureCheck) -> SignatureCheck:
        SIGNATURE_CHECKS.add(name, fn)
        declare(CheckSpec(name, "static", _run_signature_check))
        return fn

    return register


def meta_graph_for(contract: Contract, info: SavedModelInfo) -> MetaGraphInfo:
    """The MetaGraph with the contract's tag-set, or a failure naming the tag-sets present."""
    mg = info.meta_graph(contract.tags)
    if mg is None:
        raise CheckFailure(
            "tags", f"{info.path}: no MetaGraph with the tag-set {sorted(contract.tags)}",
            received=f"tag-sets {info.tag_sets}",
            documented=f"tag-set {sorted(contract.tags)} (contract \"tags\")",
        )
    return mg


@model_check("tags")
def tags(contract: Contract, info: SavedModelInfo) -> list[str]:
    mg = meta_graph_for(contract, info)
    notes = []
    others = [t for t in info.tag_sets if frozenset(t) != frozenset(contract.tags)]
    if others:
        notes.append(f"other tag-sets in the model: {others}")
    declared = {s.name for s in contract.signatures}
    extra = sorted(k for k in mg.signatures if k not in declared)
    if extra:
        notes.append(f"signatures not in the contract (allowed): {extra}")
    return notes


@model_check("variables")
def variables(contract: Contract, info: SavedModelInfo) -> list[str]:
    mg = meta_graph_for(contract, info)
    if mg.has_variables and not info.variables_present:
        raise CheckFailure(
            "variables", f"{info.path}: the graph has variables but their values are missing",
            received="no variables/variables.index",
            documented="variables/variables.index and variables/variables.data-* next to "
                       "saved_model.pb",
            details=["The export was copied without its variables/ folder, or interrupted."],
        )
    return []


@model_check("assets")
def assets(contract: Contract, info: SavedModelInfo) -> list[str]:
    mg = meta_graph_for(contract, info)
    problems = []
    for name in contract.assets:
        on_disk = name in info.assets_on_disk
        in_graph = name in mg.asset_files
        if not on_disk:
            problems.append(
                f"asset {name!r}: Received: not in {info.path / 'assets'} "
                f"(present: {list(info.assets_on_disk) or 'none'}) / Documented: present (contract /assets)")
        if not in_graph:
            problems.append(
                f"asset {name!r}: Received: not referenced by the graph's asset list "
                f"(graph lists: {list(mg.asset_files) or 'none'}) / Documented: referenced")
    if problems:
        raise CheckFailure("assets", f"{info.path}: required assets missing", details=problems)
    extra = [a for a in info.assets_on_disk if a not in contract.assets]
    return [f"assets not named by the contract: {extra}"] if extra else []


def signature_of(contract: Contract, sig: SignatureSpec, info: SavedModelInfo
                 ) -> SignatureInterface:
    mg = meta_graph_for(contract, info)
    found = mg.signatures.get(sig.name)
    if found is None:
        raise CheckFailure(
            "signature", f"signature {sig.name!r} is missing from {info.path}",
            received=f"signatures {sorted(mg.signatures)}",
            documented=f"a signature {sig.name!r} ({sig.pointer})",
        )
    return found


@signature_check("signature")
def signature_exists(contract: Contract, sig: SignatureSpec, info: SavedModelInfo) -> list[str]:
    found = signature_of(contract, sig, info)
    if any(m.kind == METHOD_NAME for m in _mismatches(contract, sig, found)):
        received = repr(found.method_name) if found.method_name else (
            "none: the SignatureDef records no method_name (an old TF1 export); "
            "tf.saved_model.is_valid_signature and TF Serving's Classify/Regress APIs require one")
        raise CheckFailure(
            "signature", f"signature {sig.name!r} has another method_name",
            received=received, documented=f"{sig.method_name!r} ({sig.pointer}/method_name)")
    return []


def _tensor_problems(contract: Contract, sig: SignatureSpec, side: str,
                     found: Mapping[str, TensorInterface],
                     mismatches: Sequence[Mismatch]) -> list[str]:
    """A line per contract tensor the model does not declare as promised, in the contract's
    order: missing, another encoding (nothing more is said of it), dtype, shape (its first
    axis that cannot honour the contract), graph tensor name."""
    problems = []
    noun = side[:-1]
    grouped = by_tensor(list(mismatches))
    for spec in getattr(sig, side):
        where = f"signature {sig.name!r} {noun} {spec.name!r}"
        kinds = {m.kind: m for m in grouped.get((side, spec.name), [])}
        model = found.get(spec.name)
        if model is None:
            problems.append(f"{where}: Received: missing (model {side}: "
                            f"{', '.join(sorted(found)) or 'none'}) / Documented: {spec.dtype} "
                            f"{spec.describe_shape()} ({spec.pointer})")
            continue
        if ENCODING in kinds:
            problems.append(f"{where}: encoding Received: {model.encoding} ({model.tensor_name!r}) "
                            f"/ Documented: a dense tensor ({spec.pointer}); a contract declares "
                            "dense tensors, so callers following it cannot call this one")
            continue
        if DTYPE in kinds:
            problems.append(f"{where}: dtype Received: {model.dtype} / Documented: {spec.dtype} "
                            f"({spec.pointer}/dtype)")
        shape_problem = shape_mismatch(contract, spec, model, grouped.get((side, spec.name), []))
        if shape_problem:
            problems.append(f"{where}: shape Received: {model.describe().split(' ', 1)[1]} / "
                            f"Documented: {spec.describe_shape()} ({spec.pointer}/shape): {shape_problem}")
        if TENSOR_NAME in kinds:
            problems.append(f"{where}: graph tensor Received: {model.tensor_name!r} / "
                            f"Documented: {spec.graph_name!r} ({spec.pointer}/name)")
    return problems


#: what a model's dim may be where the contract has one: the same sizes, or more (an
#: unknown size); a fixed size the contract's dim does not pin is a problem
AXIS_PROBLEMS = (FIXED_SIZE_CHANGED, DIM_NARROWED, DIM_CHANGED)


def shape_mismatch(contract: Contract, spec: TensorSpec, model: TensorInterface,
                   mismatches: Sequence[Mismatch] | None = None) -> str | None:
    """Why the model's shape cannot honour the contract's, or None when compatible.

    Rank and fixed dims must match; a named or free dim in the contract needs an unknown
    dim in the model (or a fixed one equal to the only size the named dim allows). A model
    of unknown rank, or a contract shape of ``null``, is compatible with anything.
    ``mismatches``: the comparison's for this tensor (computed when not given).
    """
    if mismatches is None:
        mismatches = compare_tensors("", "", tensor_from_contract(contract, spec), model)
    for m in mismatches:
        if m.kind == RANK_CHANGED:
            assert spec.shape is not None and model.shape is not None
            return f"rank {len(model.shape)} in the model, {len(spec.shape)} in the contract"
        if m.kind not in AXIS_PROBLEMS or m.axis is None:
            continue
        assert spec.shape is not None and model.shape is not None
        want, have = spec.shape[m.axis], model.shape[m.axis]
        if isinstance(want, int):
            return f"axis {m.axis} is {have} in the model, {want} in the contract"
        if isinstance(want, str):
            bound = contract.dims[want]
            return (f"axis {m.axis} is fixed to {have} in the model, but the contract's dim "
                    f"{want!r} ranges over {bound.min}..{bound.max}")
        return f"axis {m.axis} is fixed to {have} in the model, but any size in the contract"
    return None


def _mismatches(contract: Contract, sig: SignatureSpec, found: SignatureInterface
                ) -> list[Mismatch]:
    """The one comparison: the contract's signature (expected) against the model's."""
    return compare_signatures(signature_from_contract(contract, sig), found)


@signature_check("inputs")
def inputs(contract: Contract, sig: SignatureSpec, info: SavedModelInfo) -> list[str]:
    model = signature_of(contract, sig, info)
    found, mismatches = model.inputs, _mismatches(contract, sig, model)
    problems = _tensor_problems(contract, sig, "inputs", found, mismatches)
    extra = [m.tensor for m in mismatches if m.kind == TENSOR_EXTRA and m.side == "inputs"]
    for name in sorted(n for n in extra if n is not None):
        problems.append(
            f"signature {sig.name!r} input {name!r}: Received: required by the model "
            f"({found[name].describe()}) / Documented: not declared ({sig.pointer}/inputs); "
            "callers following the contract cannot call the signature")
    if problems:
        raise CheckFailure("inputs", f"signature {sig.name!r}: inputs do not match the contract",
                           details=problems)
    return []


@signature_check("outputs")
def outputs(contract: Contract, sig: SignatureSpec, info: SavedModelInfo) -> list[str]:
    model = signature_of(contract, sig, info)
    found, mismatches = model.outputs, _mismatches(contract, sig, model)
    problems = _tensor_problems(contract, sig, "outputs", found, mismatches)
    if problems:
        raise CheckFailure("outputs", f"signature {sig.name!r}: outputs do not match the contract",
                           details=problems)
    extra = sorted(m.tensor or "" for m in mismatches
                   if m.kind == TENSOR_EXTRA and m.side == "outputs")
    return [f"signature {sig.name!r}: outputs not in the contract (allowed): {extra}"] if extra else []


__all__ = ["STATIC_CHECKS", "SIGNATURE_CHECKS", "describe_shape", "shape_mismatch"]


@planner
def static_cases(context: RunContext, contract: Contract, model: ModelRef) -> Iterable[Case]:
    return declared_cases(context, contract, model, "static")
