"""The golden input set of a signature: seeded calls drawn through the contract's strategy.

Calls come from :func:`harness.strategies.call_strategy` under a fixed hypothesis seed
(``@hypothesis.seed(GOLDEN_SEED)``, no example database, generation phase only), half of
the candidates with ``edge_probability=1.0`` (every named dim at its min or max, edge values
- range ends, 0, -0.0, smallest normal - seeded into every tensor), half with the contract's
own setting. From the candidates, in order: the first call with every named dim at its
minimum, the first with every named dim at its maximum, then the rest while the set stays
within :data:`MAX_ROWS` rows and :data:`MAX_BYTES` bytes of input (a 96x96x3 image is
110 KB a row, so image signatures get fewer rows).

The inputs are stored with the golden, so other environments never redraw them: a
different hypothesis version elsewhere cannot change what is compared.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from harness.contract.model import Contract, SignatureSpec
from harness.strategies import Call, call_strategy

GOLDEN_SEED = 20240601
CANDIDATES = 24
MAX_CALLS = 8
MAX_ROWS = 48
MAX_BYTES = 1 << 20


def generator_name() -> str:
    from importlib import metadata

    return (f"harness.strategies.call_strategy, hypothesis {metadata.version('hypothesis')} "
            f"@seed({GOLDEN_SEED}), {CANDIDATES} candidates (half edge_probability=1.0), "
            f"min-dims call, max-dims call, then <= {MAX_ROWS} rows / {MAX_BYTES} input bytes")


def _candidates(contract: Contract, signature: SignatureSpec, assets_dir: Path | None,
                edge_probability: float | None, count: int) -> list[Call]:
    from hypothesis import HealthCheck, Phase, given, seed, settings

    drawn: list[Call] = []
    strategy = call_strategy(contract, signature, assets_dir=assets_dir,
                             edge_probability=edge_probability)

    @seed(GOLDEN_SEED)
    @settings(database=None, max_examples=count, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck), derandomize=False, print_blob=False)
    @given(strategy)
    def collect(call: Call) -> None:
        drawn.append(call)

    collect()
    return drawn


def _size(call: Call) -> tuple[int, int]:
    rows = call.batch_size or 1
    size = 0
    for value in call.inputs.values():
        arr = np.asarray(value)
        size += sum(len(x) for x in arr.reshape(-1)) if arr.dtype.kind in "OSU" else arr.nbytes
    return rows, size


def golden_calls(contract: Contract, signature: SignatureSpec, *,
                 assets_dir: Path | None = None) -> list[Call]:
    """The golden calls of ``signature`` (see the module docstring); deterministic."""
    half = CANDIDATES // 2
    pool = (_candidates(contract, signature, assets_dir, 1.0, half)
            + _candidates(contract, signature, assets_dir, None, half))
    bounds = {name: (b.min, b.max) for name, b in contract.dims.items()}

    def at(call: Call, end: int) -> bool:
        return bool(call.dims) and all(size == bounds[name][end] for name, size in call.dims.items()
                                       if name in bounds)

    ordered: list[Call] = []
    for end in (0, 1):
        first = next((c for c in pool if at(c, end)), None)
        if first is not None:
            ordered.append(first)
    ordered += [c for c in pool if not any(c is o for o in ordered)]
    chosen: list[Call] = []
    rows = size = 0
    for call in ordered:
        r, s = _size(call)
        if chosen and (rows + r > MAX_ROWS or size + s > MAX_BYTES):
            continue
        if _duplicate(call, chosen):
            continue
        chosen.append(call)
        rows, size = rows + r, size + s
        if len(chosen) >= MAX_CALLS:
            break
    return chosen


def _duplicate(call: Call, chosen: list[Call]) -> bool:
    for other in chosen:
        if set(other.inputs) == set(call.inputs) and all(
                np.asarray(other.inputs[k]).shape == np.asarray(v).shape
                and np.array_equal(np.asarray(other.inputs[k]), np.asarray(v))
                for k, v in call.inputs.items()):
            return True
    return False


def describe_call(call: Call) -> dict[str, Any]:
    """What the manifest says about one call: dims, and each input's dtype and shape."""
    return {"dims": dict(call.dims),
            "inputs": {k: {"dtype": _dtype(v), "shape": list(np.shape(v))} for k, v in call.inputs.items()}}


def _dtype(value: Any) -> str:
    arr = np.asarray(value)
    return "string" if arr.dtype.kind in "OSU" else arr.dtype.name
