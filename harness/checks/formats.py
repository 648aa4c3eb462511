"""The parity family: each export format against the SavedModel, on the same fuzzed inputs.

For every format the contract lists (or ``--backend`` selects) and every signature:

* ``conformance[FMT]`` - the contract's names resolve in the format (no positional
  matching), the format declares the contract's dtypes and ranks (e.g. TFLite turning an
  int64 output into int32 is reported), and its outputs on fuzzed inputs conform to the
  contract (dtype, shape with named dims bound).
* ``parity[FMT]`` - every output on every fuzzed call agrees with the SavedModel's within
  the tolerance for that format and output (:meth:`Contract.tolerance_for`); integer,
  bool and string outputs exactly.
* ``parity[tflite-QUANTIZATION]``, ``parity[tfjs-QUANTIZATION]`` - one per quantized TFLite
  or TF.js variant. Outputs named in
  the variant's ``top1_agreement`` are judged by the share of rows whose argmax agrees
  with the SavedModel's over one seeded batch of >= 64 rows; float outputs are judged
  elementwise when the variant declares a ``tolerance``. Other outputs are recorded in
  the parity matrix but not judged (quantized integer outputs such as a class id follow
  from the judged probabilities).

The SavedModel is parity's reference only: its answers come through
:class:`~harness.backends.reference.Reference`, recorded earlier (by an earlier run, or an
earlier case of this one) when the examples
repeat (and for a variant's seeded batch), else called; a comparison that fails against a
recorded answer is judged again on a fresh one, so only a fresh answer can fail a check.

A converter failure (unsupported op, Flex ops, crash, timeout) fails these checks with
the converter's message. A format registered in :data:`FIDELITY` / :data:`OP_FINDINGS`
(TF.js) also emits its fidelity findings: from the contract when conformance runs, and the
ops a converter or runtime message names as unsupported. Every comparison is a :class:`~harness.events.ParityMeasured` event
(the report keeps one row per model, signature, format and output: the worst figures).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from harness.backends import tfjs_findings
from harness.backends.base import Backend, InferenceError
from harness.backends.names import Resolution
from harness.backends.reference import Reference
from harness.backends.source import open_backend
from harness.checks.case import Case, CheckSpec, Skipped, declare, planner
from harness.checks.conformance import describe_inputs, output_conformance
from harness.checks.parity import ParityResult, compare, parity_failure, top1_agreement
from harness.context import RunContext
from harness.contract.model import Contract, SignatureSpec, Tolerance
from harness.errors import CheckFailure, ExportError
from harness.events import ParityMeasured
from harness.fuzz import ahead_of, reuse_references, run_property
from harness.interface.compare import DTYPE, RANK_CHANGED, compare_signatures
from harness.interface.contract import signature_from_contract
from harness.interface.model import SignatureInterface
from harness.registry import Registry
from harness.savedmodel.layout import ModelRef

CONVERTED_FORMATS = ("tflite", "onnx", "tfjs")
#: format -> its fidelity findings for a signature, from the contract alone
FIDELITY: Registry[Callable[[Contract, SignatureSpec], Sequence[Any]]] = \
    Registry("fidelity findings")
FIDELITY.add("tfjs", tfjs_findings.signature_findings)
#: format -> its findings from a converter's or runtime's message (unsupported ops)
OP_FINDINGS: Registry[Callable[[Contract, SignatureSpec, str, str], Sequence[Any]]] = \
    Registry("op findings")
OP_FINDINGS.add("tfjs", tfjs_findings.op_findings)
#: formats whose contract block may list quantized ``variants``
VARIANT_FORMATS = ("tflite", "tfjs")
TOP1_ROWS = 64
MAX_SAMPLES = 500
TOP1_SEED = 4242
FLEX_MESSAGE = "Regular TensorFlow ops are not supported by this interpreter"
HASHTABLE_MESSAGE = "hashtable need to be initialized"

#: (text in a runtime error, what it means and which export step to change)
RUNTIME_HINTS = (
    (FLEX_MESSAGE,
     "hint: the TFLite file needs TensorFlow (Flex) ops the plain LiteRT interpreter lacks; "
     "export without SELECT_TF_OPS (replace the op) or ship the Flex delegate"),
    (HASHTABLE_MESSAGE,
     "known converter defect: the TFLite file looks values up in a HASHTABLE that nothing in "
     "it initialises - TFLiteConverter.from_saved_model drops a lookup table's initializer "
     "that reads a vocabulary file (tf.lookup.TextFileInitializer on an asset), so every "
     "call fails. Change the export: build the table from in-graph constants "
     "(tf.lookup.KeyValueTensorInitializer(tf.constant(keys), tf.constant(ids))), whose "
     "initializer the converter keeps; or list the format with \"enabled\": false if TFLite "
     "is not shipped"),
)


def condense(message: str) -> str:
    """A runtime message once: LiteRT repeats the same node failure for every retry."""
    complete = message.split("failed to invoke.")[:-1]  # the rest may be cut off
    if len(complete) <= 1:
        return message
    unique = list(dict.fromkeys(p.strip() for p in complete if p.strip()))
    return " ".join(f"{p} failed to invoke." for p in unique)


# --------------------------------------------------------------------------- planning


def variants(contract: Contract, fmt: str = "tflite") -> list[tuple[str, Mapping[str, Any]]]:
    """``(check suffix, variant)`` for each quantized variant of ``fmt``, e.g. ``tflite-int8``."""
    spec = contract.formats.get(fmt)
    out: list[tuple[str, Mapping[str, Any]]] = []
    seen: dict[str, int] = {}
    for variant in (spec.options.get("variants") or ()) if spec is not None else ():
        name = f"{fmt}-{variant['quantization']}"
        seen[name] = seen.get(name, 0) + 1
        out.append((name if seen[name] == 1 else f"{name}-{seen[name]}", variant))
    return out


def _exports(context: RunContext, contract: Contract, fmt: str) -> bool:
    """Whether the harness exports ``fmt`` itself (variants exist only for its own exports)."""
    spec = contract.formats.get(fmt)
    given = context.options.artifact(fmt) or (spec is not None and spec.options.get("path"))
    return not given


@planner
def format_cases(context: RunContext, contract: Contract, model: ModelRef) -> Iterable[Case]:
    """Per selected format: each signature's conformance and parity; then per quantized
    variant of a format the harness exports, each signature's parity (format and variant
    are the cases' data; their printed names follow from them)."""
    for fmt in CONVERTED_FORMATS:
        if not context.backend_selected(contract, fmt):
            continue
        for sig in contract.signatures:
            yield CONFORMANCE.case(contract, model, sig.name, format=fmt)
            yield PARITY.case(contract, model, sig.name, format=fmt)
        if fmt in VARIANT_FORMATS and _exports(context, contract, fmt):
            for name, _ in variants(contract, fmt):
                for sig in contract.signatures:
                    yield PARITY.case(contract, model, sig.name, format=fmt, variant=name)


# --------------------------------------------------------------------------- backends


def format_backend(context: RunContext, case: Case, variant: str | None = None) -> Backend:
    """The format's backend for this case; a converter failure becomes a failing check."""
    try:
        if variant is None:
            return open_backend(context, case.backend, case.contract, case.model)
        return _variant_backend(context, case, variant)
    except ExportError as exc:
        raise export_failure(case, exc, context) from None


def fidelity_events(context: RunContext | None, case: Case, message: str | None,
                    stage: str) -> list[str]:
    """Emit the format's fidelity findings for the case's signature; their lines.

    With ``message`` (a converter's or runtime's error): the ops it names as unsupported;
    without: what the format loses by the contract's dtypes alone.
    """
    sig = case.contract.signature(case.signature or "")
    if message is None:
        found = FIDELITY[case.backend](case.contract, sig) if case.backend in FIDELITY else []
    else:
        made = OP_FINDINGS.get(case.backend)
        found = made(case.contract, sig, message, stage) if made is not None else []
    if context is not None:
        for finding in found:
            context.events.emit(finding)
    return [finding.describe() for finding in found]


def export_failure(case: Case, exc: ExportError, context: RunContext | None = None
                   ) -> CheckFailure:
    fmt = case.backend
    details = [f"hint: {exc.hint}"] if exc.hint else []
    details += fidelity_events(context, case, exc.message, "converter")
    return CheckFailure(
        case.check, f"{fmt}: the converter failed on {case.model.label} (signature "
        f"{case.signature!r} cannot be checked in {fmt})",
        received=exc.message, documented=f"a {fmt} export of every contract signature "
        f"(formats.{fmt} in {case.contract.path.name})", details=details)


def _variant_backend(context: RunContext, case: Case, name: str) -> Backend:
    variant = dict(variants(case.contract, case.backend))[name]
    return open_backend(context, case.backend, case.contract, case.model, variant=name,
                        options=variant)


def _resolve(case: Case, backend: Backend, sig: SignatureSpec,
             context: RunContext | None = None) -> None:
    """Resolve names before fuzzing, so a naming or export problem fails at once."""
    try:
        backend.resolution(sig)
    except ExportError as exc:
        raise export_failure(case, exc, context) from None
    except CheckFailure as exc:
        raise CheckFailure(case.check, exc.title, received=exc.received,
                           documented=exc.documented, details=exc.details) from None


def _call(backend: Backend, sig: SignatureSpec, inputs: Mapping[str, np.ndarray],
          check: str, found: tuple[RunContext, Case] | None = None) -> dict[str, np.ndarray]:
    """One call; a refusal fails ``check`` (with ``found``: and reports the ops the
    runtime names as unsupported as the format's findings)."""
    try:
        return backend.infer(sig.name, inputs)
    except InferenceError as exc:
        raise refused(backend.label, exc, sig, inputs, check, found) from None


def refused(label: str, exc: InferenceError, sig: SignatureSpec,
            inputs: Mapping[str, np.ndarray], check: str,
            found: tuple[RunContext, Case] | None = None) -> CheckFailure:
    """The failure of ``check`` when ``label`` refused a valid input."""
    hints = [hint for text, hint in RUNTIME_HINTS if text in exc.message]
    if found is not None:
        hints += fidelity_events(found[0], found[1], exc.message, "runtime")
    return CheckFailure(check, f"{label}: a valid input was refused",
                        received=condense(exc.message),
                        documented=f"outputs for any input the contract allows ({sig.pointer})",
                        details=hints + [describe_inputs(inputs)])


def _answer(reference: Reference, sig: SignatureSpec, inputs: Mapping[str, np.ndarray],
            check: str, *, fresh: bool = False) -> tuple[Mapping[str, np.ndarray], bool]:
    """The reference's answer (recorded or called) and whether it was recorded; ``fresh``:
    called now, replacing a recorded one. A refusal fails ``check``."""
    try:
        if fresh:
            return reference.fresh(sig.name, inputs), False
        return reference.answer(sig.name, inputs)
    except InferenceError as exc:
        raise refused(reference.label, exc, sig, inputs, check) from None


# --------------------------------------------------------------------------- conformance


def _run_conformance(context: RunContext, case: Case) -> list[str]:
    sig = case.contract.signature(case.signature or "")
    backend = format_backend(context, case)
    _resolve(case, backend, sig, context)
    res = backend.resolution(sig)
    findings = fidelity_events(context, case, None, "")
    io = backend.signatures_impl()[res.key] if res.key in backend.signatures_impl() \
        else next(iter(backend.signatures_impl().values()))
    problems = declared_problems(case, sig, res, io)
    if problems:
        raise CheckFailure(case.check, f"{backend.label}: signature {sig.name!r} as the "
                           f"{case.backend} file declares it does not match the contract",
                           details=problems)

    def prop(c: Any) -> None:
        outputs = _call(backend, sig, c.inputs, case.check, (context, case))
        output_conformance(case.contract, sig, c.inputs, outputs, source=backend.label,
                           dims=c.dims, check=case.check)

    run_property(context, case, sig, prop, ahead=ahead_of(backend, sig))
    return list(res.notes) + [f"ran on {backend.label}"] + findings


def declared_problems(case: Case, sig: SignatureSpec, res: Resolution,
                      io: SignatureInterface) -> list[str]:
    """Where the format's declared signature (its tensors under the contract's names, as
    resolved) differs from the contract's: a dtype, or a rank (the one comparison)."""
    names = {"inputs": res.inputs, "outputs": res.outputs}
    renamed = {side: {spec.name: io.side(side)[names[side][spec.name]].renamed(spec.name)
                      for spec in getattr(sig, side)} for side in names}
    declared = SignatureInterface(sig.name, None, renamed["inputs"], renamed["outputs"])
    problems = []
    for m in compare_signatures(signature_from_contract(case.contract, sig), declared):
        if m.kind not in (DTYPE, RANK_CHANGED) or m.side is None or m.tensor is None:
            continue
        spec = next(t for t in getattr(sig, m.side) if t.name == m.tensor)
        t = declared.side(m.side)[m.tensor]
        where = f"{m.side[:-1]} {spec.name!r} ({names[m.side][spec.name]} in {case.backend})"
        if m.kind == DTYPE:
            problems.append(f"{where}: dtype Received: {t.dtype} / Documented: {spec.dtype} "
                            f"({spec.pointer}/dtype) - {case.backend} turned {spec.dtype} "
                            f"into {t.dtype}")
        else:
            assert t.shape is not None and spec.shape is not None
            problems.append(f"{where}: rank Received: {len(t.shape)} {list(t.shape)} / "
                            f"Documented: {len(spec.shape)} {spec.describe_shape()}")
    return problems


# --------------------------------------------------------------------------- parity


def record(context: RunContext, case: Case, fmt: str, output: str, result: ParityResult,
           tolerance: Tolerance | None, *, label: str, judged: bool = True,
           top1: float | None = None, top1_required: float | None = None,
           calls: int = 1) -> None:
    """Tell the run about one comparison (the report keeps the worst figures per output).

    ``calls`` is the one definition of the matrix's and the notes' "calls": how many calls
    of the format were compared with the SavedModel's for this row - each fuzzed call (a
    failure's shrinking calls included), or every seeded batch a quantized variant is
    judged on at once."""
    context.events.emit(ParityMeasured(
        contract=case.contract.name, contract_path=str(case.contract.path),
        model=case.model.base.name, model_label=case.model.label, version=case.model.version,
        signature=case.signature, format=fmt, output=output, label=label, exact=result.exact,
        passed=result.passed, max_abs=result.max_abs, max_rel=result.max_rel,
        atol_to_pass=result.atol_to_pass, rtol_to_pass=result.rtol_to_pass,
        nan_mismatch=result.nan_mismatch,
        tolerance=None if tolerance is None else (
            ("atol", tolerance.atol), ("rtol", tolerance.rtol),
            ("statistic", tolerance.statistic)),
        judged=judged, top1=top1, top1_required=top1_required, calls=calls))


def _finite_or_inf(value: float | None) -> float:
    return math.inf if value is None or math.isnan(value) else float(value)


def _defect_hints(backend: Backend, result: ParityResult) -> list[str]:
    """Why a converted model may return wrong numbers, when the artifact shows a known cause."""
    return [] if result.passed else backend.known_defects()


def _judged(case: Case, fmt: str, sig: SignatureSpec, reference: Mapping[str, np.ndarray],
            received: Mapping[str, np.ndarray]) -> list[tuple[str, Tolerance, ParityResult]]:
    """Each output against the reference within its tolerance: ``(output, tolerance,
    result)`` (nothing emitted, nothing raised)."""
    judged = []
    for spec in sig.outputs:
        tol = case.contract.tolerance_for(fmt, sig.name, spec.name, None)
        judged.append((spec.name, tol, compare(reference[spec.name], received[spec.name], tol,
                                               exact=not spec.is_float)))
    return judged


def _report_outputs(context: RunContext, case: Case, fmt: str, backend: Backend,
                    sig: SignatureSpec, judged: Sequence[tuple[str, Tolerance, ParityResult]],
                    inputs: Mapping[str, np.ndarray]) -> None:
    """Emit each output's comparison; raise the first that failed."""
    failures = []
    for output, tol, result in judged:
        record(context, case, fmt, output, result, None if result.exact else tol,
               label=backend.label)
        if not result.passed:
            failure = parity_failure(result, check=case.check, format=fmt, signature=sig.name,
                                     output=output, tolerance=tol, source=backend.label)
            failures.append(CheckFailure(
                failure.check, failure.title, received=failure.received,
                documented=failure.documented,
                details=list(failure.details) + _defect_hints(backend, result)
                + [describe_inputs(inputs)]))
    if failures:
        raise failures[0]


def _run_parity(context: RunContext, case: Case) -> list[str]:
    if case.variant is not None:
        return _run_variant(context, case)
    sig = case.contract.signature(case.signature or "")
    reference = Reference(context, case.contract, case.model, reuse=reuse_references(context))
    backend = format_backend(context, case)
    _resolve(case, backend, sig, context)
    fmt = case.backend
    compared = [0]  # calls compared, as the parity rows count them

    def prop(c: Any) -> None:
        ref, recorded = _answer(reference, sig, c.inputs, case.check)
        got = _call(backend, sig, c.inputs, case.check, (context, case))
        compared[0] += 1
        judged = _judged(case, fmt, sig, ref, got)
        if recorded and not all(result.passed for _, _, result in judged):
            # never a failure from a recorded answer: judge on a fresh one
            ref, _ = _answer(reference, sig, c.inputs, case.check, fresh=True)
            judged = _judged(case, fmt, sig, ref, got)
        _report_outputs(context, case, fmt, backend, sig, judged, c.inputs)

    format_ahead = ahead_of(backend, sig)

    def ahead(batch: list[Any]) -> None:  # both sides of each comparison, a batch at once
        reference.ahead(sig.name, [c.inputs for c in batch])
        format_ahead(batch)

    try:
        run_property(context, case, sig, prop, ahead=ahead)
    finally:
        told = reference.finish()
    note = f"ran on {backend.label} against {reference.label}: {compared[0]} calls compared"
    return ["; ".join([note, *told[:1]]), *told[1:]]


# --------------------------------------------------------------------------- quantized


def _run_variant(context: RunContext, case: Case) -> list[str]:
    from harness.exports.tflite import seeded_inputs

    sig = case.contract.signature(case.signature or "")
    assert case.variant is not None
    name = case.variant
    base = case.backend
    variant = dict(variants(case.contract, base))[name]
    fmt = name
    top1 = {k.partition("/")[2]: float(v) for k, v in (variant.get("top1_agreement") or {}).items()
            if k.partition("/")[0] == sig.name}
    has_tol = bool(variant.get("tolerance"))
    judged = [o for o in sig.outputs if o.name in top1 or (has_tol and o.is_float)]
    if not judged:
        raise Skipped(f"variant {name!r} declares neither top1_agreement for an output of "
                      f"signature {sig.name!r} nor a tolerance (formats.{base}.variants)")
    reference = Reference(context, case.contract, case.model,
                          reuse=reuse_references(context, seeded=True))
    backend = format_backend(context, case, name)
    _resolve(case, backend, sig, context)
    calls = seeded_inputs(case.contract, sig, assets_dir=case.model.path / "assets",
                          rows=TOP1_ROWS, seed=TOP1_SEED)
    refs: list[Mapping[str, np.ndarray]] = []
    gots: list[Mapping[str, np.ndarray]] = []
    recorded: list[bool] = []
    try:
        for inputs in calls:
            ref, was_recorded = _answer(reference, sig, inputs, case.check)
            refs.append(ref)
            recorded.append(was_recorded)
            gots.append(_call(backend, sig, inputs, case.check, (context, case)))
        verdict = _judge_variant(case, sig, backend, variant, name, top1, has_tol, refs, gots)
        if verdict.failures and any(recorded):
            # never a failure from recorded answers: the batch again, on fresh ones
            refs = [_answer(reference, sig, inputs, case.check, fresh=True)[0]
                    if was_recorded else ref
                    for inputs, ref, was_recorded in zip(calls, refs, recorded)]
            verdict = _judge_variant(case, sig, backend, variant, name, top1, has_tol, refs,
                                     gots)
    finally:
        told = reference.finish()
    for row in verdict.rows:
        record(context, case, fmt, row.output, row.result, row.tolerance, label=backend.label,
               judged=row.judged, top1=row.top1, top1_required=row.top1_required,
               calls=len(calls))
    if verdict.failures:
        raise verdict.failures[0]
    head = f"ran on {backend.label}: {len(calls)} calls, " \
           f"{sum(len(np.asarray(r[sig.outputs[0].name])) for r in refs)} rows"
    return ["; ".join([head, *told[:1]]), *verdict.notes, *told[1:]]


@dataclass(frozen=True)
class _Row:
    """One output's comparison of a variant, emitted once the verdict is final."""

    output: str
    result: ParityResult
    tolerance: Tolerance | None
    judged: bool = True
    top1: float | None = None
    top1_required: float | None = None


@dataclass(frozen=True)
class _Verdict:
    rows: list[_Row]
    notes: list[str]
    failures: list[CheckFailure]


def _judge_variant(case: Case, sig: SignatureSpec, backend: Backend, variant: Mapping[str, Any],
                   name: str, top1: Mapping[str, float], has_tol: bool,
                   refs: Sequence[Mapping[str, np.ndarray]],
                   gots: Sequence[Mapping[str, np.ndarray]]) -> _Verdict:
    """A variant's batch judged: its rows, notes and failures (nothing emitted)."""
    base = case.backend
    rows: list[_Row] = []
    notes: list[str] = []
    failures: list[CheckFailure] = []
    for o in sig.outputs:
        ref_all = np.concatenate([np.asarray(r[o.name]) for r in refs], axis=0)
        got_all = np.concatenate([np.asarray(g[o.name]) for g in gots], axis=0)
        tol = case.contract.tolerance_for(base, sig.name, o.name, variant)
        result = compare(ref_all, got_all, tol, exact=not o.is_float)
        if o.name in top1:
            rate = top1_agreement(ref_all, got_all, axis=-1)
            rows.append(_Row(o.name, result, None, top1=rate, top1_required=top1[o.name]))
            notes.append(f"{o.name}: top-1 agreement {rate:.3f} (required {top1[o.name]:g}), "
                         f"max abs error {result.max_abs:.2g}")
            if rate < top1[o.name]:
                count = ref_all.shape[0]
                index = [n for n, _ in variants(case.contract, base)].index(name)
                failures.append(CheckFailure(
                    case.check, f"{backend.label}: output {o.name!r} of signature "
                    f"{sig.name!r}: top-1 agreement with the SavedModel is below the contract's",
                    received=f"{rate:.4f} ({round(rate * count)} of {count} rows agree)",
                    documented=f"top1_agreement >= {top1[o.name]:g} "
                               f"(/formats/{base}/variants/{index}/top1_agreement/"
                               f"{sig.name}~1{o.name})",
                    details=[f"max abs error {result.max_abs:.2g}, max rel error "
                             f"{result.max_rel:.2g} over {result.size} elements (not judged: "
                             "the variant is judged by agreement)"]
                    + _defect_hints(backend, result)))
        elif has_tol and o.is_float:
            rows.append(_Row(o.name, result, tol))
            if not result.passed:
                failures.append(parity_failure(result, check=case.check, format=base,
                                               signature=sig.name, output=o.name, tolerance=tol,
                                               source=backend.label))
        else:
            rows.append(_Row(o.name, result, None, judged=False))
            notes.append(f"{o.name}: not judged for {name} (recorded: {result.mismatched} of "
                         f"{result.size} elements differ)")
    return _Verdict(rows, notes, failures)


#: the parity family's checks, each run per format (and parity per quantized variant)
CONFORMANCE = declare(CheckSpec("conformance", "parity", _run_conformance))
PARITY = declare(CheckSpec("parity", "parity", _run_parity))
