"""Run a property over fuzzed calls with hypothesis: shrink, save, and say how to replay.

A property is a function ``prop(call) -> None`` that raises
:class:`~harness.errors.CheckFailure` when the model breaks its contract on ``call``.
:func:`run_property` draws calls from the contract's strategy, lets hypothesis shrink a
failure to a minimal call, saves that call as ``.npz`` (with a JSON sidecar naming the
contract, model, signature and check) under the results folder, and re-raises the failure
with one command that replays it.

Effort: ``--examples N`` wins; otherwise an explicitly chosen hypothesis profile
(``--hypothesis-profile``) decides; otherwise the contract's ``fuzz.examples`` (default 20).
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


def run_property(context: RunContext, case: Any, signature: SignatureSpec, prop: Property, *,
                 examples: int | None = None) -> None:
    """Check ``prop`` on calls drawn for ``signature``; raise the shrunk failure, replayable."""
    from hypothesis import HealthCheck, given, settings

    from harness.strategies import call_strategy

    contract = case.contract
    if context.options.replay:
        call = load_call(context.options.replay, signature)
        prop(call)
        return
    strategy = call_strategy(contract, signature, assets_dir=case.model.path / "assets")
    count = examples if examples is not None else examples_for(context, contract)
    overrides: dict[str, Any] = {
        "deadline": None,
        "report_multiple_bugs": False,
        "suppress_health_check": list(HealthCheck),
        "print_blob": False,
    }
    if count is not None:
        overrides["max_examples"] = count
    last: dict[str, Any] = {}
    crashes: list[tuple[Any, CrashFailure]] = []

    def test(call: Any) -> None:
        raise_if_interrupted()
        if len(crashes) >= CRASH_BUDGET:
            # Every call that crashes costs a fresh process; past the budget, the shrinker
            # gets the last crash back without running again, and it is that crash (with
            # the call that caused it) that is reported.
            last["call"] = crashes[-1][0]
            raise crashes[-1][1]
        last["call"] = call
        try:
            prop(call)
        except CrashFailure as crash:
            crashes.append((call, crash))
            raise

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
