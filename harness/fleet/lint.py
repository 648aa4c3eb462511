"""The fleet's ``lint`` column: every model is linted, with or without a contract.

A model with a contract gets one ``lint`` case: its contract, resolved with its standards
(those it ``extends``, plus the manifest's ``standards`` for the model as extra parents, so
tighten-only and locks apply), linted with the resolved ``lint`` settings. A model without a
contract gets one ``lint`` case per version: the SavedModel linted as ``init`` would write its
contract (``saved_model.pb`` read statically; nothing is loaded or run), so it is listed with
findings, never silently skipped. An ``error`` finding fails the case; warnings and infos
are its notes.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Sequence

from harness.checks.case import Case
from harness.context import RunContext
from harness.contract.model import Contract
from harness.errors import CheckFailure, ContractError
from harness.lint.rules import Finding
from harness.lint.run import Subject, lint_subject, load_subject
from harness.savedmodel.layout import ModelRef

CHECK = FAMILY = "lint"


def lint_cases(name: str, contract: Contract | None, refs: Sequence[ModelRef],
               standards: Sequence[Path] = (), source: Path | None = None) -> list[Case]:
    """The lint cases of one fleet model: its contract's, or each version's without one."""
    if contract is not None:
        if not refs:
            return []
        run = partial(_lint_contract, tuple(standards))
        return [Case(contract, refs[0], None, CHECK, FAMILY, run)]
    stand_in = Contract(path=source or Path(name), name=name, signatures=())
    return [Case(stand_in, ref, None, CHECK, FAMILY, _lint_model) for ref in refs]


def _lint_contract(standards: tuple[Path, ...], context: RunContext, case: Case) -> list[str]:
    path = case.contract.path
    subject = load_subject(path)
    if standards:
        subject = _with_standards(subject, standards)
    return _verdict(lint_subject(subject), f"contract {path}")


def _with_standards(subject: Subject, standards: tuple[Path, ...]) -> Subject:
    from harness.contract.document import parse
    from harness.contract.standard import resolve

    data = dict(parse(subject.file))
    own = list(data.get("extends", []))
    known = {(subject.file.parent / e).resolve() for e in own if ":" not in e}
    data["extends"] = own + [str(s.resolve()) for s in standards if s.resolve() not in known]
    try:
        resolved = resolve(subject.file, data)
    except ContractError as exc:
        raise CheckFailure(CHECK, "the contract does not meet the fleet's standards for it",
                           received=str(exc),
                           documented="standards: " + ", ".join(str(s) for s in standards)) from None
    return Subject("contract", subject.file, resolved.data, subject.lines, resolved.origins,
                   frozenset(lock.pointer for lock in resolved.locks))


def _lint_model(context: RunContext, case: Case) -> list[str]:
    subject = load_subject(case.model.path)
    notes = _verdict(lint_subject(subject), f"model {case.model.path} (no contract)")
    return ["no contract: the SavedModel was linted as 'init' would describe it", *notes]


def _verdict(findings: list[Finding], what: str) -> list[str]:
    lines = [f"{f.level} {f.rule} {f.pointer}: {f.message}" for f in findings]
    errors = [line for f, line in zip(findings, lines) if f.level == "error"]
    if errors:
        raise CheckFailure(CHECK, f"lint found {len(errors)} error(s) in the {what}",
                           received="\n".join(errors),
                           documented="no finding at level 'error' (model-contract rules "
                                      "lists the rules)",
                           details=[line for line in lines if line not in errors])
    return lines
