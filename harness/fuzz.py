"""Run a property over fuzzed calls with hypothesis: shrink, save, and say how to replay.

A property is a function ``prop(call) -> None`` that raises
:class:`~harness.errors.CheckFailure` when the model breaks its contract on ``call``.
:func:`run_property` draws calls from the contract's strategy, lets hypothesis shrink a
failure to a minimal call, saves that call as ``.npz`` (with a JSON sidecar naming the
contract, model, signature and check) under the results folder, and re-raises the failure
with one command that replays it.

Effort: ``--examples N`` wins; otherwise an explicitly chosen hypothesis profile
(``--hypothesis-profile``) decides; otherwise the contract's ``fuzz.examples`` (default 20).
The effort counts calls. With ``--calls-per-example K`` above 1, one hypothesis example is a
batch of up to K calls (:func:`batching`): hypothesis' own cost per example is shared, the
property's ``ahead`` hook may answer the batch at once (one round trip to an isolated
backend), and the calls run in order until one fails; shrinking then works on the batch, and
the call that failed is what is reported and saved.
Hypothesis' example database (``.hypothesis/``) is keyed per case, so a rerun replays the
last failure first and is deterministic.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any, Callable

import numpy as np

from harness.context import RunContext
from harness.contract.model import SignatureSpec
from harness.errors import CheckFailure, ContractError, CrashFailure
from harness.interrupt import raise_if_interrupted

Property = Callable[[Any], None]

#: Crashing calls run per property before later examples reuse the last crash.
CRASH_BUDGET = 3


def examples_for(context: RunContext, contract: Any) -> int | None:
    """The number of examples for this run, or None to keep the loaded profile's."""
    if context.options.examples:
        return int(context.options.examples)
    if context.options.profile_chosen:
        return None
    return int(contract.fuzz.examples)


def capped_examples(context: RunContext, contract: Any, cap: int) -> int:
    """The run's number of examples, at most ``cap`` (for checks whose calls are costly)."""
    from hypothesis import settings

    chosen = examples_for(context, contract)
    return min(cap, chosen if chosen is not None else settings().max_examples)


def examples_repeat() -> bool:
    """Whether this run draws the same examples as the last one with the same settings:
    hypothesis' profile derandomizes (its ``ci`` profile, loaded on a CI runner by itself)
    or the seed is forced (``--hypothesis-seed``). Only then are a comparison's reference
    answers worth recording (:mod:`harness.backends.answers`)."""
    from hypothesis import core, settings

    return bool(settings().derandomize) or core.global_force_seed is not None


def reuse_references(context: RunContext, *, seeded: bool = False) -> bool:
    """Whether a comparison looks up and records the SavedModel's reference answers: not
    with ``--fresh-references``; for a ``seeded`` batch (the same every run, e.g. a quantized
    variant's) always; for fuzzed calls when the examples repeat and the run is no
    ``--replay``."""
    options = context.options
    if options.fresh_references:
        return False
    return seeded or (options.replay is None and examples_repeat())


def batching(calls: int, per_example: int) -> tuple[int, int]:
    """``(examples, size)``: hypothesis examples and calls in each for a run of at least
    ``calls`` different calls, at most ``per_example`` in one example, spread evenly.

    Hypothesis' first example is its simplest: the same all-zero call in every place of the
    batch, which runs once (:func:`same_inputs`). One more example makes up for it:
    ``batching(20, 8)`` is four examples of seven (1 + 3 x 7 = 22 different calls);
    ``batching(n, 1)`` is ``(n, 1)``, one call per example as hypothesis draws it."""
    per_example = max(1, per_example)
    examples = max(1, -(-calls // per_example))
    size = max(1, -(-calls // examples))
    return (examples + 1 if size > 1 else examples), size


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """Identical values, NaN equal to NaN at the same place (determinism is bitwise)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind in "fc":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))


def same_inputs(a: Any, b: Any) -> bool:
    """Whether two calls' inputs are equal (hypothesis' first, simplest example draws the
    same all-zero call into every place of a batch: it runs once)."""
    return a.inputs.keys() == b.inputs.keys() and all(
        same(x, b.inputs[name]) for name, x in a.inputs.items())


def ahead_of(backend: Any, signature: SignatureSpec) -> Callable[[list[Any]], None]:
    """A property's ``ahead`` hook for calls that go to ``backend``: it answers each batch
    at once (:meth:`~harness.backends.base.Backend.infer_ahead`)."""
    return lambda batch: backend.infer_ahead(signature.name, [c.inputs for c in batch])


def call_digest(call: Any) -> str | None:
    """The answer store's key of a call's inputs (:func:`harness.backends.answers.
    inputs_digest`, no scope), or None for inputs it cannot key."""
    from harness.backends.answers import NotStorable, inputs_digest

    try:
        return inputs_digest("", call.inputs)
    except NotStorable:
        return None


def run_property(context: RunContext, case: Any, signature: SignatureSpec, prop: Property, *,
                 examples: int | None = None,
                 ahead: Callable[[list[Any]], None] | None = None) -> None:
    """Check ``prop`` on calls drawn for ``signature``; raise the shrunk failure, replayable.

    ``ahead`` (optional) is given each batch of calls before they run, to answer them at
    once (see :meth:`~harness.backends.base.Backend.infer_ahead`); only with
    ``--calls-per-example`` above 1.
    """
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    from harness.strategies import call_strategy

    contract = case.contract
    if context.options.replay:
        call = load_call(context.options.replay, signature)
        prop(call)
        return
    one = call_strategy(contract, signature, assets_dir=case.model.path / "assets")
    count = examples if examples is not None else examples_for(context, contract)
    per_example = context.options.calls_per_example or contract.fuzz.calls_per_example
    size = 1
    if per_example > 1:
        count, size = batching(count if count is not None else settings().max_examples,
                               per_example)
    # one call: the strategy draws exactly what it drew before batches existed (so saved
    # failures replay); several: their choices one after the other. Not wrapped in a
    # .map(): every mapped strategy shares one span label, so a map around the call would
    # pair its span with the map inside each input's edge chance, and hypothesis' mutator
    # would spend most of a run's examples copying one over the other (each such try
    # overruns: 367 of 871 executions for 505 calls of a one-image signature).
    strategy = one if size == 1 else st.tuples(*[one] * size)
    overrides: dict[str, Any] = {
        "deadline": None,
        "report_multiple_bugs": False,
        "suppress_health_check": list(HealthCheck),
        "print_blob": False,
    }
    if count is not None:
        overrides["max_examples"] = count
    if size > 1:
        # hypothesis' explain phase varies every part of a failing example at random to say
        # which parts did not matter; over a batch that is every other call, element by
        # element, and it cost a minute for a failure that one call shrinks in 0.2 s. The
        # report names the failing call itself.
        overrides["phases"] = [p for p in settings().phases if p is not Phase.explain]
    last: dict[str, Any] = {}
    crashes: list[tuple[Any, CrashFailure]] = []

    # Once a batch has failed, hypothesis shrinks it: each try runs the batch's calls in order
    # up to the one that fails, and most of them are calls that passed before. Those are not
    # run again (the digests of calls that passed while shrinking), so a try costs about one
    # call, as it does with one call per example.
    passed: set[str] = set()
    shrinking = [False]

    def test(drawn: Any) -> None:
        batch = [drawn] if size == 1 else list(drawn)
        runs = [c for i, c in enumerate(batch) if not (i and same_inputs(c, batch[i - 1]))]
        digests = [call_digest(c) for c in runs] if shrinking[0] and size > 1 else []
        if digests:
            kept = [(c, d) for c, d in zip(runs, digests) if d is None or d not in passed]
            runs, digests = [c for c, _ in kept], [d for _, d in kept]
        if ahead is not None and len(runs) > 1 and len(crashes) < CRASH_BUDGET:
            ahead(runs)
        for n, call in enumerate(runs):
            raise_if_interrupted()
            if len(crashes) >= CRASH_BUDGET:
                # Every call that crashes costs a fresh process; past the budget, the
                # shrinker gets the last crash back without running again, and it is that
                # crash (with the call that caused it) that is reported.
                last["call"] = crashes[-1][0]
                raise crashes[-1][1]
            last["call"] = call
            try:
                prop(call)
            except Exception as failure:
                if isinstance(failure, CrashFailure):
                    crashes.append((call, failure))
                shrinking[0] = True
                raise
            digest = digests[n] if digests else None
            if digest is not None:
                passed.add(digest)

    wrapped = given(strategy)(settings(settings.default, **overrides)(test))
    wrapped._hypothesis_internal_database_key = ("model-contract:" + case.id).encode()  # type: ignore[attr-defined]
    try:
        wrapped()
    except Exception as error:  # noqa: BLE001 - a CheckFailure, maybe inside hypothesis' group
        failure = error if isinstance(error, CheckFailure) else did_not_reproduce(error)
        if failure is None:
            raise
        call = last.get("call")
        if call is None:
            raise failure from None
        saved = save_call(context, case, call)
        raise failure.with_reproduce(replay_command(context, case, saved)) from None


def did_not_reproduce(error: Exception) -> CheckFailure | None:
    """The check failure inside hypothesis' "flaky" group (a failure that did not happen
    again on the same input, e.g. a worker killed from outside), saying so; else None."""
    inner = getattr(error, "exceptions", None)  # an ExceptionGroup (hypothesis' FlakyFailure)
    if not isinstance(inner, (tuple, list)):
        return None
    failure = next((e for e in inner if isinstance(e, CheckFailure)), None)
    if failure is None:
        return None
    return type(failure)(failure.check, failure.title, received=failure.received,
                         documented=failure.documented,
                         details=[*failure.details, "It did not happen again when the same "
                                  "input was tried once more (a one-off: the process was "
                                  "disturbed, or the model is not deterministic)."])


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.@-]+", "_", text).strip("_")


def save_call(context: RunContext, case: Any, call: Any) -> Path:
    """Write the call's inputs as .npz plus a .json sidecar; returns the .npz path."""
    folder = Path(context.options.results_dir) / "failures"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{_slug(case.id)}.npz"
    arrays = {f"input:{k}": np.asarray(v) for k, v in call.inputs.items()}
    # String inputs are object arrays of bytes: stored pickled, as numpy does for object
    # arrays (fixed-width bytes would drop trailing NUL bytes of serialized protos).
    np.savez(path, **arrays)  # type: ignore[arg-type]
    sidecar = {
        "contract": str(case.contract.path),
        "model": str(case.model.path),
        "signature": case.signature,
        "check": case.check,
        "dims": dict(call.dims),
        "inputs": {k: {"dtype": str(np.asarray(v).dtype), "shape": list(np.shape(v))}
                   for k, v in call.inputs.items()},
    }
    path.with_suffix(".json").write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8")
    return path


def load_call(path: Path, signature: SignatureSpec) -> Any:
    """A call saved by :func:`save_call`, for ``--replay``."""
    from harness.strategies import Call

    with np.load(path, allow_pickle=True) as data:
        inputs = {k.split(":", 1)[1]: data[k] for k in data.files if k.startswith("input:")}
    dims: dict[str, int] = {}
    sidecar = Path(path).with_suffix(".json")
    if sidecar.is_file():
        dims = json.loads(sidecar.read_text(encoding="utf-8")).get("dims", {})
    missing = [t.name for t in signature.inputs if t.name not in inputs]
    if missing:
        raise ContractError(f"replay file lacks inputs {missing} of signature {signature.name!r}",
                            file=path)
    return Call(signature.name, inputs, dims)


def replay_command(context: RunContext, case: Any, saved: Path) -> str:
    contract = _relative(case.contract.path)
    node = "::".join([contract, case.model.label] + ([case.signature] if case.signature else [])
                     + [case.check])
    parts = ["pytest", "--contract", contract]
    # in a fleet the contract's own "models" are not used: name the model's base path
    models = context.options.models or ((case.model.base,) if context.options.fleet else ())
    for model in models:
        parts += ["--model", _relative(model)]
    parts += [node, "--replay", _relative(saved)]
    return " ".join(shlex.quote(p) for p in parts)


def _relative(path: Path | str) -> str:
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
