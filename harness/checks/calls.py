"""The fuzz family: properties of calls through the SavedModel, one test item each.

* ``conformance``: every output present, dtype exact, shape with named dims bound.
* ``values``: output ranges, enums, registered value checks and relations.
* ``determinism``: the same input twice gives identical outputs (opt out: ``deterministic``).
* ``batch_consistency``: row i of a batched call equals the call on row i alone, within
  the contract tolerance (opt out: ``batch_consistent``).
* ``rejection``: an input of the wrong dtype is refused with an error, not silently cast;
  an input of the wrong rank too when ``reject`` lists ``"rank"`` (otherwise an answered
  wrong rank is a finding); a crash on either fails.

Each is a property run by :func:`harness.fuzz.run_property`: shrunk, saved, replayable.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

import numpy as np

from harness.backends.base import Backend, InferenceError
from harness.backends.source import open_backend
from harness.checks.case import Case, CheckSpec, Skipped, declare, declared_cases, planner
from harness.checks.conformance import describe_inputs, output_conformance, value_checks
from harness.context import RunContext
from harness.contract.model import Contract, SignatureSpec
from harness.errors import CheckFailure, CrashFailure
from harness.events import ModelFinding
from harness.fuzz import ahead_of, capped_examples, run_property, same
from harness.generation.calls import budget_notes
from harness.registry import Registry
from harness.savedmodel.layout import ModelRef

#: a call check returns notes (or None) and raises CheckFailure when its property fails.
CallCheck = Callable[[RunContext, Case, SignatureSpec, Backend], "list[str] | None"]

#: check name -> function(context, case, signature, backend); registered with :func:`call_check`.
CALL_CHECKS: Registry[CallCheck] = Registry("call check")


def _run(context: RunContext, case: Case) -> list[str]:
    assert case.signature is not None
    sig = case.contract.signature(case.signature)
    _require_signature(context, case)
    backend = open_backend(context, "savedmodel", case.contract, case.model)
    notes = list(CALL_CHECKS[case.check](context, case, sig, backend) or [])
    tf1 = [f"ran on {backend.label}"] if getattr(backend, "loader", "") == "tf1" else []
    return tf1 + notes + budget_notes(case.contract, sig)


def call_check(name: str) -> Callable[[CallCheck], CallCheck]:
    """Declare a property of calls through the SavedModel, one case per signature."""

    def register(fn: CallCheck) -> CallCheck:
        CALL_CHECKS.add(name, fn)
        declare(CheckSpec(name, "fuzz", _run, requires="savedmodel"))
        return fn

    return register


def call(backend: Backend, sig: SignatureSpec, inputs: Mapping[str, np.ndarray],
         check: str) -> dict[str, np.ndarray]:
    """One call that must succeed; a refusal of a valid input is a failure of ``check``."""
    try:
        return backend.infer(sig.name, inputs)
    except InferenceError as exc:
        what = "crashed on a valid input" if _crashed(exc) else "a valid input was refused"
        kind = CrashFailure if _crashed(exc) else CheckFailure
        raise kind(check, f"{backend.label}: {what}",
                           received=exc.message,
                           documented=f"outputs for any input the contract allows ({sig.pointer})",
                           details=[describe_inputs(inputs)]) from None


def _crashed(exc: InferenceError) -> bool:
    from harness.backends.isolation import BackendCrashed

    return isinstance(exc, BackendCrashed)


@call_check("conformance")
def conformance(context: RunContext, case: Case, sig: SignatureSpec, backend: Backend) -> None:
    def prop(c: Any) -> None:
        outputs = call(backend, sig, c.inputs, "conformance")
        output_conformance(case.contract, sig, c.inputs, outputs, source=backend.label,
                           dims=c.dims)

    run_property(context, case, sig, prop, ahead=ahead_of(backend, sig))


@call_check("values")
def values(context: RunContext, case: Case, sig: SignatureSpec, backend: Backend) -> None:
    has_any = sig.relations or any(o.range or o.enum or o.checks for o in sig.outputs)
    if not has_any:
        raise Skipped(f"signature {sig.name!r} declares no output range, enum, checks or relations")

    def prop(c: Any) -> None:
        outputs = call(backend, sig, c.inputs, "values")
        value_checks(case.contract, sig, c.inputs, outputs, source=backend.label)

    run_property(context, case, sig, prop, ahead=ahead_of(backend, sig))


@call_check("determinism")
def determinism(context: RunContext, case: Case, sig: SignatureSpec, backend: Backend) -> None:
    if sig.stateful or not sig.deterministic:
        raise Skipped(f"signature {sig.name!r} is declared "
                      f"{'stateful' if sig.stateful else 'non-deterministic'} ({sig.pointer})")

    def prop(c: Any) -> None:
        first = call(backend, sig, c.inputs, "determinism")
        second = call(backend, sig, c.inputs, "determinism")
        for name in first:
            if not same(np.asarray(first[name]), np.asarray(second.get(name))):
                a, b = np.asarray(first[name]), np.asarray(second[name])
                where = _first_difference(a, b)
                raise CheckFailure(
                    "determinism", f"{backend.label}: signature {sig.name!r} output {name!r} "
                    "differs between two calls on the same input",
                    received=f"second call {where}",
                    documented=f"identical outputs (set \"deterministic\": false at {sig.pointer} "
                               "if the model is random by design)",
                    details=[describe_inputs(c.inputs)])

    run_property(context, case, sig, prop)


def _first_difference(a: np.ndarray, b: np.ndarray) -> str:
    if a.shape != b.shape:
        return f"shape {list(b.shape)} vs {list(a.shape)}"
    with np.errstate(invalid="ignore"):
        diff = ~((a == b) | (np.isnan(a) & np.isnan(b)) if a.dtype.kind in "fc" else (a == b))
    idx = tuple(int(i) for i in np.argwhere(diff)[0]) if diff.any() else ()
    return f"at index {list(idx)}: {b[idx].item()!r}, first call {a[idx].item()!r}"


def batch_axis_dim(sig: SignatureSpec) -> str | None:
    """The named dim every input and output leads with (the batch), or None."""
    leads = {t.shape[0] if t.shape else None for t in sig.inputs + sig.outputs}
    if len(leads) == 1:
        lead = next(iter(leads))
        if isinstance(lead, str):
            return lead
    return None


def same_nan(ref: np.ndarray, got: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NaN at the same place in both is the same answer (the values check judges NaN itself)."""
    if ref.dtype.kind == "f" and got.shape == ref.shape:
        both = np.isnan(ref) & np.isnan(got)
        if both.any():
            ref, got = np.where(both, 0, ref), np.where(both, 0, got)
    return ref, got


@call_check("batch_consistency")
def batch_consistency(context: RunContext, case: Case, sig: SignatureSpec, backend: Backend) -> None:
    if sig.stateful or not sig.batch_consistent:
        raise Skipped(f"signature {sig.name!r} opts out of batch consistency ({sig.pointer})")
    dim = batch_axis_dim(sig)
    if dim is None:
        raise Skipped(f"signature {sig.name!r} has no batch dim: not every input and output "
                      "leads with the same named dim")
    bound = case.contract.dims[dim]
    if bound.max < 2:
        raise Skipped(f"dim {dim!r} allows at most {bound.max} row(s)")
    from harness.checks.parity import compare

    def prop(c: Any) -> None:
        from hypothesis import assume
        from hypothesis.control import currently_in_test_context

        size = int(c.dims.get(dim, np.shape(next(iter(c.inputs.values())))[0]))
        if size < 2:
            if currently_in_test_context():
                assume(False)
            return
        batched = call(backend, sig, c.inputs, "batch_consistency")
        for i in range(size):
            row_inputs = {k: np.asarray(v)[i:i + 1] for k, v in c.inputs.items()}
            single = call(backend, sig, row_inputs, "batch_consistency")
            for spec in sig.outputs:
                ref, got = same_nan(np.asarray(single[spec.name]),
                                     np.asarray(batched[spec.name])[i:i + 1])
                tol = case.contract.tolerance
                result = compare(ref, got, tol, exact=spec.dtype not in ("float16", "bfloat16",
                                                                         "float32", "float64"))
                if not result.passed:
                    raise CheckFailure(
                        "batch_consistency",
                        f"{backend.label}: signature {sig.name!r} output {spec.name!r}: row {i} "
                        f"of a batch of {size} differs from the same row called alone",
                        received=f"in the batch: {result.describe_received()}",
                        documented=f"equal to the single-row call within {tol.describe()} "
                                   "(TF Serving's request batching relies on it)",
                        details=[result.describe(), describe_inputs(c.inputs)])

    run_property(context, case, sig, prop)


#: kind of the finding recorded when a wrong rank is answered and the contract allows it.
RANK_NOT_ENFORCED = "rank-not-enforced"


@call_check("rejection")
def rejection(context: RunContext, case: Case, sig: SignatureSpec, backend: Backend) -> list[str]:
    """Wrong dtypes must be refused (and never crash the process); wrong ranks too when the
    contract lists ``"rank"`` under ``reject``. Otherwise an answered wrong rank is a finding:
    TensorFlow's loaded signatures, TF Serving included, do not enforce declared ranks, and
    elementwise or lookup ops accept any rank, so healthy models answer them."""
    if not sig.reject:
        raise Skipped(f"signature {sig.name!r} declares no rejected inputs (\"reject\": [])")
    from harness.strategies import wrong_dtype_inputs, wrong_rank_inputs

    answered_ranks: dict[str, str] = {}

    def prop(c: Any) -> None:
        # (label, call, whether answering it fails the check)
        variants = [(label, bad, True) for label, bad in wrong_dtype_inputs(c, sig)
                    if "dtype" in sig.reject]
        variants += [(label, bad, "rank" in sig.reject) for label, bad in wrong_rank_inputs(c, sig)]
        crashed, accepted = [], []
        for label, bad, must_refuse in variants:
            try:
                outputs = backend.infer(sig.name, bad.inputs, check_inputs=False)
            except InferenceError as exc:
                if _crashed(exc):
                    crashed.append(f"{label}: crashed: {exc.message} ({describe_inputs(bad.inputs)})")
                continue
            shapes = {k: list(np.shape(v)) for k, v in outputs.items()}
            line = (f"{label}: silently accepted, answered output shapes {shapes} "
                    f"({describe_inputs(bad.inputs)})")
            if must_refuse:
                accepted.append(line)
            else:
                answered_ranks.setdefault(label, line)
        if crashed:
            raise CrashFailure(
                "rejection", f"{backend.label}: signature {sig.name!r} crashed on "
                f"{crashed[0].split(':', 1)[0]}",
                received=crashed[0].split(": crashed: ", 1)[1],
                documented="an error answer; a crash means one bad request takes down the "
                           "process serving the model (TF Serving included)",
                details=crashed[1:] + accepted)
        if accepted:
            raise CheckFailure(
                "rejection", f"{backend.label}: signature {sig.name!r} silently accepted "
                f"{accepted[0].split(':', 1)[0]}",
                received="a normal answer instead of an error",
                documented=f"an error: the contract declares {list(sig.reject)} of wrong inputs "
                           f"refused ({sig.pointer}/reject)",
                details=accepted)

    run_property(context, case, sig, prop, examples=capped_examples(context, case.contract, 5))
    if not answered_ranks:
        return []
    labels = sorted(answered_ranks)
    message = (f"signature {sig.name!r} answers inputs of the wrong rank ({'; '.join(labels)}): "
               "its declared ranks are not enforced (a finding, not a failure: add \"rank\" to "
               f"{sig.pointer}/reject to require refusal)")
    context.events.emit(ModelFinding(case.contract.name, case.model.label, sig.name,
                                     ", ".join(t.name for t in sig.inputs), RANK_NOT_ENFORCED,
                                     message))
    return [f"{backend.label}: {message}"]


def _require_signature(context: RunContext, case: Case) -> None:
    """Fail early, pointing at the static checks, when calls cannot even be made.

    The signature must exist and take the contract's inputs with the contract's dtypes.
    Shapes are left to the calls: a SignatureDef's declared shapes are not enforced at run
    time, and what the model really does is what the fuzz checks are for.
    """
    from harness.checks.static import signature_of

    info = context.model_info(case.model)
    sig = case.contract.signature(case.signature or "")
    try:
        found = signature_of(case.contract, sig, info)
    except CheckFailure as exc:
        raise CheckFailure(case.check, f"not run: {exc.title}") from None
    problems = [f"input {t.name!r}: {'missing' if t.name not in found.inputs else found.inputs[t.name].dtype}"
                f" (contract: {t.dtype})" for t in sig.inputs
                if t.name not in found.inputs or found.inputs[t.name].dtype != t.dtype]
    if problems:
        raise CheckFailure(case.check, f"not run: signature {sig.name!r} cannot be called with the "
                           f"contract's inputs (see {case.model.label}::{sig.name}::inputs)",
                           details=problems)


@planner
def call_cases(context: RunContext, contract: Contract, model: ModelRef) -> Iterable[Case]:
    return declared_cases(context, contract, model, "fuzz")
