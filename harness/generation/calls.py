"""Contract signature -> strategy of :class:`Call`.

Shapes: a named dim is drawn once per call within its ``/dims`` bounds and shared by every
input using it; with probability ``edge_probability`` it is drawn at its min or max (50/50)
instead of anywhere in between, so the smallest and largest batch come up often. A ``null``
dim is drawn in [1, max_free_dim] per input; fixed dims are as given; ``shape: null`` (any
rank) draws a rank in 1..3 and each dim in [1, max_free_dim]. Named dims shrink to their min.

The plan (domains, bounds) is built when the strategy is made; if the contract cannot be
satisfied, the strategy raises :class:`ContractError` when *drawn*, so one bad signature
fails its own tests only. :func:`check_satisfiable` raises at once instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn

import numpy as np
from hypothesis import strategies as st

from harness.contract.bounds import ANY_RANK, CappedDim, capped_note, fit_budget, inputs_of
from harness.contract.model import Contract, DimBound, SignatureSpec, TensorSpec
from harness.errors import ContractError
from harness.generation.call import Call
from harness.generation.chance import chance
from harness.generation.domain import Place
from harness.generation.domains import domain_for
from harness.generation.tensors import TensorSource

MAX_ANY_RANK = ANY_RANK


@dataclass(frozen=True, eq=False)
class InputPlan:
    spec: TensorSpec
    source: TensorSource


@dataclass(frozen=True, eq=False)
class DimPlan:
    bound: DimBound
    anywhere: st.SearchStrategy[int]
    at_bound: st.SearchStrategy[int]


@dataclass(frozen=True, eq=False)
class CallPlan:
    """Everything needed to draw calls of one signature, checked against the contract."""

    signature: str
    dims: tuple[DimPlan, ...]
    inputs: tuple[InputPlan, ...]
    max_free_dim: int
    edge_probability: float
    dim_at_bound: st.SearchStrategy[bool]
    free_dim: st.SearchStrategy[int]

    def __repr__(self) -> str:  # strategies show their arguments in hypothesis' messages
        names = ", ".join(item.spec.name for item in self.inputs)
        return f"CallPlan({self.signature!r}, inputs=[{names}])"


def plan_call(contract: Contract, signature: SignatureSpec | str, *,
              assets_dir: Path | None = None, max_free_dim: int | None = None,
              edge_probability: float | None = None) -> CallPlan:
    """Resolve shapes and value domains of ``signature``'s inputs; raises :class:`ContractError`."""
    sig = contract.signature(signature) if isinstance(signature, str) else signature
    root = Place(contract.path, "")
    if max_free_dim is None:
        max_free_dim = contract.fuzz.max_free_dim
        if max_free_dim < 1:
            raise root.at("fuzz", "max_free_dim").error(f"max_free_dim {max_free_dim} is below 1")
    elif max_free_dim < 1:
        raise ValueError(f"max_free_dim must be >= 1, got {max_free_dim}")
    if edge_probability is None:
        edge_probability = contract.fuzz.edge_probability
    if not 0.0 <= edge_probability <= 1.0:
        raise ValueError(f"edge_probability must be within [0, 1], got {edge_probability}")

    maxima, free, _capped = _within_budget(contract, sig, max_free_dim)
    dims: dict[str, DimPlan] = {}
    inputs = []
    for spec in sig.inputs:
        place = Place(contract.path, spec.pointer)
        for i, entry in enumerate(spec.shape or ()):
            if isinstance(entry, str) and entry not in dims:
                dims[entry] = _dim_plan(contract, entry, place.at("shape", i), maxima)
            elif isinstance(entry, int) and entry < 0:
                raise place.at("shape", i).error(f"size {entry} is negative")
        inputs.append(InputPlan(spec, TensorSource(domain_for(spec, place, assets_dir), edge_probability)))
    return CallPlan(sig.name, tuple(dims.values()), tuple(inputs), free, edge_probability,
                    chance(edge_probability), st.integers(1, free))


def _within_budget(contract: Contract, sig: SignatureSpec, max_free_dim: int
                   ) -> tuple[dict[str, int], int, tuple[CappedDim, ...]]:
    """Dim maxima (and the null-dim max) that keep one drawn call within the budget."""
    raw = contract.raw.get("signatures", {}).get(sig.name)
    if raw is None:  # a contract built in code, not loaded from a file: no raw view
        return {n: b.max for n, b in contract.dims.items()}, max_free_dim, ()
    bounds = {n: (b.min, b.max) for n, b in contract.dims.items() if b.min <= b.max}
    return fit_budget(inputs_of(raw, sig.pointer), bounds, max_free_dim,
                      contract.fuzz.call_budget_bytes)


def budget_notes(contract: Contract, signature: SignatureSpec | str) -> list[str]:
    """What the checks of ``signature`` say when generation drew below the contract's dims."""
    sig = contract.signature(signature) if isinstance(signature, str) else signature
    free = contract.fuzz.max_free_dim
    _maxima, drawn_free, capped = _within_budget(contract, sig, free)
    return capped_note(capped, drawn_free, free, contract.fuzz.call_budget_bytes)


def _dim_plan(contract: Contract, name: str, used_at: Place, maxima: dict[str, int]) -> DimPlan:
    bound = contract.dims.get(name)
    if bound is None:
        declared = ", ".join(contract.dims) or "none"
        raise used_at.error(f"dim {name!r} is not declared in /dims (declared: {declared})")
    if bound.min < 0 or bound.min > bound.max:
        raise Place(contract.path, "").at("dims", name).error(
            f"dim {name!r} has bounds min {bound.min}, max {bound.max}; no size satisfies them")
    top = maxima.get(name, bound.max)
    return DimPlan(bound, st.integers(bound.min, top), st.sampled_from((bound.min, top)))


def draw_call(draw: st.DrawFn, plan: CallPlan) -> Call:
    """One call: named dims first, then each input's shape and values."""
    sizes: dict[str, int] = {}
    for dim in plan.dims:
        at_bound = draw(plan.dim_at_bound)
        sizes[dim.bound.name] = draw(dim.at_bound if at_bound else dim.anywhere)
    inputs: dict[str, np.ndarray] = {}
    for item in plan.inputs:
        shape = _concrete_shape(draw, plan, item.spec, sizes)
        inputs[item.spec.name] = item.source.draw(draw, shape)
    return Call(plan.signature, MappingProxyType(inputs), MappingProxyType(sizes))


def _concrete_shape(draw: st.DrawFn, plan: CallPlan, spec: TensorSpec,
                    sizes: dict[str, int]) -> tuple[int, ...]:
    if spec.shape is None:
        rank = draw(st.integers(1, MAX_ANY_RANK))
        return tuple(draw(plan.free_dim) for _ in range(rank))
    out = []
    for entry in spec.shape:
        if entry is None:
            out.append(draw(plan.free_dim))
        elif isinstance(entry, str):
            out.append(sizes[entry])
        else:
            out.append(int(entry))
    return tuple(out)


def call_strategy(contract: Contract, signature: SignatureSpec | str, *,
                  assets_dir: Path | None = None, max_free_dim: int | None = None,
                  edge_probability: float | None = None) -> st.SearchStrategy[Call]:
    """Calls of ``signature`` whose inputs satisfy the contract (see the package docstring).

    ``assets_dir`` is the SavedModel's ``assets/`` folder (for vocabulary assets);
    ``max_free_dim`` and ``edge_probability`` override the contract's ``fuzz`` settings.
    An unsatisfiable input domain raises :class:`ContractError` when the strategy is drawn.
    """
    try:
        plan = plan_call(contract, signature, assets_dir=assets_dir, max_free_dim=max_free_dim,
                         edge_probability=edge_probability)
    except ContractError as error:
        return _raising(error)
    return _calls(plan)


@st.composite
def _calls(draw: st.DrawFn, plan: CallPlan) -> Call:
    return draw_call(draw, plan)


def _raising(error: ContractError) -> st.SearchStrategy[Call]:
    def unsatisfiable_contract(_: Any) -> NoReturn:
        raise ContractError(error.message, file=error.file, place=error.place, hint=error.hint,
                            problems=error.problems)
    return st.just(None).map(unsatisfiable_contract)


def check_satisfiable(contract: Contract, signature: SignatureSpec | str,
                      assets_dir: Path | None = None) -> None:
    """Raise :class:`ContractError` now if ``signature``'s inputs cannot be generated."""
    plan_call(contract, signature, assets_dir=assets_dir)
