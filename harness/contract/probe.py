"""Settle by calling the model what ``init`` cannot read from saved_model.pb.

A SignatureDef can declare an unknown rank (or, in TF1 exports, a wrong one), and it says
nothing about whether the model refuses a wrong rank, answers deterministically or keeps
rows of a batch independent. :func:`probe` calls the model a few times (after the op-policy
scan, in an isolated process) and adjusts the contract so that it describes what the model
does, with a note for every adjustment: a contract ``init`` writes passes ``check`` on its
model, and the notes say which promises the model does not make.
"""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from harness.backends.base import Backend, InferenceError
from harness.contract.load import canonicalise, validate
from harness.contract.model import Contract
from harness.savedmodel.layout import ModelRef


def probe(data: Mapping[str, Any], ref: ModelRef, *, in_process: bool = False
          ) -> tuple[dict[str, Any], list[str]]:
    """``data`` adjusted to what the model at ``ref`` does, and a note per adjustment."""
    from harness.backends.source import open_backend, release_all
    from harness.context import RunContext
    from harness.options import RunOptions

    result = copy.deepcopy(dict(data))
    result["models"] = [str(ref.path)]
    notes: list[str] = []
    context = RunContext(RunOptions(in_process=in_process))
    with tempfile.TemporaryDirectory(prefix="model-contract-probe-") as tmp:
        try:
            for key in list(result["signatures"]):
                contract = _write(result, Path(tmp) / "probe.json")
                backend = open_backend(context, "savedmodel", contract, ref)
                problem = _settle_shapes(result, key, contract, backend, notes)
                if problem:
                    del result["signatures"][key]
                    notes.append(f"signature {key!r} left out: it cannot be called with what its "
                                 f"SignatureDef declares ({problem})")
                    continue
                for adjust in (_settle_rejection, _settle_determinism, _settle_batch):
                    contract = _write(result, Path(tmp) / "probe.json")
                    adjust(result, key, contract, backend, notes)
            if not result["signatures"]:
                from harness.errors import ModelError

                raise ModelError("no signature of the model can be called as declared",
                                 file=ref.path, hint="; ".join(notes))
        finally:
            release_all(context)
    result["models"] = list(data["models"])
    return result, notes


def _write(data: Mapping[str, Any], path: Path) -> Contract:
    text = json.dumps(data)
    validate(json.loads(text), path)
    path.write_text(text, encoding="utf-8")
    return canonicalise(json.loads(text), path)


_CALLS: dict[tuple[str, str, str], Any] = {}


def _any_call(call: Any) -> bool:
    return True


def _simplest_call(contract: Contract, key: str, ref: ModelRef,
                   predicate: Callable[[Any], bool] = _any_call) -> Any:
    """The simplest call hypothesis finds for ``predicate`` (memoised per signature text)."""
    from hypothesis import HealthCheck, find, settings

    from harness.strategies import call_strategy

    memo = (json.dumps(contract.raw["signatures"][key], sort_keys=True)
            + json.dumps(contract.raw.get("dims", {}), sort_keys=True), key,
            getattr(predicate, "__name__", repr(predicate)))
    if memo not in _CALLS:
        strategy = call_strategy(contract, contract.signature(key), assets_dir=ref.path / "assets")
        _CALLS[memo] = find(strategy, predicate, settings=settings(
            database=None, derandomize=True, max_examples=200, deadline=None,
            suppress_health_check=list(HealthCheck)))
    return _CALLS[memo]


def _answers(backend: Backend, key: str, inputs: Mapping[str, np.ndarray]) -> str | None:
    """None when the model answers, else its error message."""
    try:
        backend.infer(key, inputs, check_inputs=False)
        return None
    except InferenceError as exc:
        return exc.message


def _settle_shapes(data: dict[str, Any], key: str, contract: Contract, backend: Backend,
                   notes: list[str]) -> str | None:
    """An input of unknown (or wrongly declared) rank gets the first rank the model answers.

    Returns the model's error when no simple shape is answered (the signature is unusable).
    """
    call = _simplest_call(contract, key, backend.model)
    error = _answers(backend, key, call.inputs)
    if error is None:
        return None
    sig = data["signatures"][key]
    batched = "batch" in data.get("dims", {})
    candidates: list[list[Any]] = [[], ["batch"], ["batch", 1]] if batched else [[], [None], [None, 1]]
    for name, spec in sig["inputs"].items():
        original = spec.get("shape")
        for shape in candidates:
            if shape == original:
                continue
            trial = copy.deepcopy(data)
            trial["signatures"][key]["inputs"][name]["shape"] = shape
            trial_contract = _write(trial, Path(contract.path))
            trial_call = _simplest_call(trial_contract, key, backend.model)
            if _answers(backend, key, trial_call.inputs) is None:
                spec["shape"] = shape
                notes.append(f"signature {key!r} input {name!r}: declared shape {original} is "
                             f"not what the model takes; it answers shape {shape}, so the "
                             "contract says that")
                if original is not None:
                    notes.append(f"signature {key!r}: its SignatureDef contradicts its own graph "
                                 f"(declares {original} for {name!r}); the static checks will "
                                 "report it, and clients reading the metadata (TF Serving's "
                                 "/metadata) see the wrong shape: re-export the model")
                return None
        _write(data, Path(contract.path))
    return error


def _settle_rejection(data: dict[str, Any], key: str, contract: Contract, backend: Backend,
                      notes: list[str]) -> None:
    """Note whether the model refuses wrong ranks; ``reject`` stays at its default (an
    answered wrong rank is a finding), since only one version is probed."""
    from harness.backends.isolation import BackendCrashed
    from harness.strategies import wrong_rank_inputs

    sig = data["signatures"][key]
    if "reject" in sig or not sig["inputs"]:
        return
    call = _simplest_call(contract, key, backend.model)
    accepted, crashed, refused = [], [], []
    for label, bad in wrong_rank_inputs(call, contract.signature(key)):
        try:
            backend.infer(key, bad.inputs, check_inputs=False)
            accepted.append(label)
        except BackendCrashed:
            crashed.append(label)
        except InferenceError:
            refused.append(label)
    if crashed:
        notes.append(f"signature {key!r} CRASHES the process on {', '.join(crashed)}: one bad "
                     "request would take down a server; the rejection check will fail until the "
                     "model refuses wrong shapes (e.g. tf.ensure_shape in the serving function)")
    elif accepted:
        notes.append(f"signature {key!r} answers inputs of the wrong rank ({', '.join(accepted)}): "
                     "its declared ranks are not enforced; the rejection check reports this as a "
                     "finding (\"reject\" left at its default, [\"dtype\"])")
    elif refused:
        notes.append(f"signature {key!r} refuses inputs of the wrong rank; to require that of "
                     "every version, add \"rank\" to its \"reject\" (left at the default here: "
                     "only this version was probed)")


def _non_empty(call: Any) -> bool:
    return call.batch_size != 0


def _settle_determinism(data: dict[str, Any], key: str, contract: Contract, backend: Backend,
                        notes: list[str]) -> None:
    sig = data["signatures"][key]
    if not sig.get("deterministic", True) or sig.get("stateful"):
        return
    call = _simplest_call(contract, key, backend.model, _non_empty)
    from harness.fuzz import same

    first = backend.infer(key, call.inputs, check_inputs=False)
    second = backend.infer(key, call.inputs, check_inputs=False)
    if any(not same(first[k], second[k]) for k in first):
        sig["deterministic"] = False
        notes.append(f"signature {key!r} gives different outputs for the same input: marked "
                     "\"deterministic\": false")


def _settle_batch(data: dict[str, Any], key: str, contract: Contract, backend: Backend,
                  notes: list[str]) -> None:
    sig = data["signatures"][key]
    if not sig.get("batch_consistent", True) or sig.get("stateful") or not sig["inputs"]:
        return
    from harness.checks.calls import batch_axis_dim, same_nan
    from harness.checks.parity import compare

    dim = batch_axis_dim(contract.signature(key))
    if dim is None or contract.dims[dim].max < 2:
        return
    def two_varied_rows(c: Any) -> bool:
        return c.dims.get(dim, 0) >= 2 and any(
            np.asarray(v).dtype.kind != "f" or np.ptp(np.asarray(v)) > 0 for v in c.inputs.values())

    call = _simplest_call(contract, key, backend.model, two_varied_rows)
    batched = backend.infer(key, call.inputs, check_inputs=False)
    for i in range(call.dims[dim]):
        single = backend.infer(key, {k: np.asarray(v)[i:i + 1] for k, v in call.inputs.items()},
                               check_inputs=False)
        for name, value in single.items():
            # the same comparison the batch_consistency check makes
            a, b = same_nan(np.asarray(value), np.asarray(batched[name])[i:i + 1])
            if not compare(a, b, contract.tolerance, exact=a.dtype.kind != "f").passed:
                sig["batch_consistent"] = False
                notes.append(f"signature {key!r}: row {i} of a batch differs from the same row "
                             "called alone (output {name!r}): marked \"batch_consistent\": false")
                return
