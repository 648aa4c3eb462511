"""Run the lint rules on contracts and SavedModels; apply levels, ignores and a baseline.

A contract is linted as it resolves (merged with its standards); its ``lint`` block (which a
standard can set and lock like any other value) picks the tier, each rule's level and the
accountable ignores. A SavedModel is linted as ``init`` would write its contract, read from
``saved_model.pb`` statically (nothing is loaded or run). Findings point at the contract's
file and line (or at ``saved_model.pb``).
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import harness.lint.house  # noqa: F401 - registers the built-in rules
from harness.contract.lines import pointer_lines
from harness.errors import ContractError, HarnessError
from harness.lint.rules import META_RULES, RULES, TIERS, Finding, in_tier

DEFAULT_TIER = "basic"


@dataclass(frozen=True)
class Subject:
    """One thing to lint: a document in contract coordinates and where it came from."""

    kind: str  # contract | model
    file: Path  # the contract file, or saved_model.pb
    data: Mapping[str, Any]
    lines: Mapping[str, int]
    origins: Mapping[str, Path]
    locked: frozenset[str]  # locked pointers


@dataclass(frozen=True)
class LintResult:
    findings: tuple[Finding, ...]
    baselined: int
    subjects: tuple[str, ...]

    @property
    def failed(self) -> bool:
        return any(f.level == "error" for f in self.findings)

    def counts(self) -> dict[str, int]:
        return {level: sum(f.level == level for f in self.findings)
                for level in ("error", "warning", "info")}


def lint_paths(paths: Iterable[str | Path], *, tier: str | None = None,
               baseline: Path | None = None, tags: tuple[str, ...] = ("serve",),
               today: datetime.date | None = None, standard: str | None = None) -> LintResult:
    """Lint every contract file or SavedModel in ``paths`` (SavedModels with the lint
    settings of ``standard``, a path or PACKAGE:NAME, when given)."""
    today = today or datetime.date.today()
    known = _read_baseline(baseline) if baseline else []
    house = _standard_lint(standard) if standard else None
    findings: list[Finding] = []
    names = []
    for path in paths:
        subject = load_subject(Path(path), tags, house)
        names.append(str(subject.file))
        findings += lint_subject(subject, tier=tier, today=today)
    kept = [f for f in findings if (f.rule, f.file, f.pointer) not in set(known)]
    stale = [] if baseline is None else _stale_entries(
        baseline, known, {(f.rule, f.file, f.pointer) for f in findings}, set(names))
    return LintResult(tuple(kept + stale), len(findings) - len(kept), tuple(names))


def _standard_lint(ref: str) -> tuple[Mapping[str, Any], Mapping[str, Path]]:
    """The ``lint`` block of the standard ``ref`` (a path, or PACKAGE:NAME) as resolved, with
    the file each of its values came from."""
    from harness.contract.standard import load_standard, locate

    if ref.endswith(".json") and not Path(ref).is_file():
        raise HarnessError(f"--standard {ref}: no such standard file")
    resolved = load_standard(locate(ref, Path.cwd() / "--standard", "/"))
    return (resolved.data.get("lint") or {},
            {ptr: file for ptr, file in resolved.origins.items() if ptr.startswith("/lint/")})


def load_subject(path: Path, tags: tuple[str, ...] = ("serve",),
                 house: tuple[Mapping[str, Any], Mapping[str, Path]] | None = None) -> Subject:
    """A contract as it resolves, or a SavedModel as ``init`` reads it (with the lint
    settings ``house`` of a standard, when given)."""
    if path.is_dir():
        from harness.contract.init import contract_from_model

        result = contract_from_model(path, tags=tags)
        pb = result.model_dir / "saved_model.pb"
        if house is None:
            return Subject("model", pb, result.data, {}, {}, frozenset())
        return Subject("model", pb, dict(result.data, lint=house[0]), {}, house[1], frozenset())
    from harness.contract.load import load_contract
    from harness.contract.standard import resolve

    load_contract(path)  # an invalid contract is a user error (exit 2), not a finding
    resolved = resolve(path)
    text = path.read_text(encoding="utf-8")
    return Subject("contract", path, resolved.data, pointer_lines(text), resolved.origins,
                   frozenset(lock.pointer for lock in resolved.locks))


def lint_subject(subject: Subject, *, tier: str | None = None,
                 today: datetime.date | None = None) -> list[Finding]:
    today = today or datetime.date.today()
    config = subject.data.get("lint") or {}
    tier = tier or config.get("tier", DEFAULT_TIER)
    if tier not in TIERS:
        raise HarnessError(f"unknown tier {tier!r}; expected one of {', '.join(TIERS)}")
    settings: Mapping[str, Any] = config.get("rules", {})
    levels: dict[str, str] = {}
    options: dict[str, Mapping[str, Any]] = {}
    for rule_id, setting in settings.items():
        if rule_id not in RULES and rule_id not in META_RULES:
            raise ContractError(f"no lint rule named {rule_id!r} (model-contract rules lists "
                                "them)", file=subject.file, place=f"/lint/rules/{rule_id}")
        if isinstance(setting, str):
            levels[rule_id] = setting
            continue
        if "level" in setting:
            levels[rule_id] = setting["level"]
        options[rule_id] = _checked_options(subject, rule_id, setting.get("options") or {})
    findings: list[Finding] = []
    for r in RULES.values():
        level = levels.get(r.id, r.level)
        if level == "off" or subject.kind not in r.subjects:
            continue
        if not in_tier(r, tier) and r.id not in settings:
            continue
        for ptr, message in r.run(subject.data, options.get(r.id)):
            findings.append(_finding(subject, r.id, level, ptr, message))
    return _apply_ignores(subject, config, levels, findings, today)


def _checked_options(subject: Subject, rule_id: str, given: Mapping[str, Any]) -> Mapping[str, Any]:
    """``given`` (a rule's options in the lint block), checked against the rule's declared
    options and their schemas: the published schemas check the built-in rules' options, this
    also checks those of plugin rules (and of a model, which is never schema-validated)."""
    from harness.contract.document import schema_problems
    from harness.contract.load import schema as contract_schema

    declared = {o.name: o for o in RULES[rule_id].options} if rule_id in RULES else {}
    place = f"/lint/rules/{rule_id}/options"
    for name, value in given.items():
        if name not in declared:
            known = ", ".join(declared) or "none"
            raise ContractError(f"{rule_id} has no option {name!r} (its options: {known})",
                                file=subject.file, place=f"{place}/{name}")
        option_schema = {"$defs": contract_schema()["$defs"], **declared[name].schema}
        problems = schema_problems(value, option_schema)
        if problems:
            where, message = problems[0]
            raise ContractError(message, file=subject.file,
                                place=f"{place}/{name}{'' if where == '/' else where}")
        if declared[name].schema.get("format") == "regex":
            import re

            try:
                re.compile(value)
            except re.error as exc:
                raise ContractError(f"{value!r} is not a regular expression ({exc})",
                                    file=subject.file, place=f"{place}/{name}") from None
    return given


def _finding(subject: Subject, rule_id: str, level: str, ptr: str, message: str) -> Finding:
    origin = _origin(subject, ptr)
    if origin is not None and origin.resolve() != subject.file.resolve():
        message += f" (inherited from {origin})"
    return Finding(rule_id, level, str(subject.file), ptr, message, _line(subject, ptr))


def _origin(subject: Subject, ptr: str) -> Path | None:
    """The one file every value at or below ``ptr`` came from (None if several or none)."""
    files = {file.resolve() for key, file in subject.origins.items()
             if key == ptr or key.startswith(ptr.rstrip("/") + "/") or ptr.startswith(key + "/")}
    if len(files) != 1:
        return None
    return next(file for key, file in subject.origins.items() if file.resolve() in files)


def _line(subject: Subject, ptr: str) -> int | None:
    """The line of ``ptr`` in the file, or of its nearest ancestor that the file writes."""
    if not subject.lines:
        return None
    while True:
        if ptr in subject.lines:
            return subject.lines[ptr]
        if ptr in ("", "/"):
            return 1
        ptr = ptr.rsplit("/", 1)[0] or "/"


def _apply_ignores(subject: Subject, config: Mapping[str, Any], levels: Mapping[str, str],
                   findings: list[Finding], today: datetime.date) -> list[Finding]:
    forbid = bool(config.get("forbid_ignoring_locked", False))
    meta: list[Finding] = []
    for i, ignore in enumerate(config.get("ignore", [])):
        place = f"/lint/ignore/{i}"
        rule_id, where = ignore["rule"], ignore["pointer"]
        if rule_id not in RULES:
            raise ContractError(f"ignores {rule_id!r}, which is not a lint rule (model-contract "
                                "rules lists them)", file=subject.file, place=place + "/rule")
        if forbid and _level_locked(subject, rule_id):
            meta.append(_meta(subject, "IGNORE_FORBIDDEN", levels, place,
                              f"ignores {rule_id}, whose level a standard locks; ignores of "
                              "locked rules are forbidden here, so it does not apply"))
            continue
        expires = ignore.get("expires")
        if expires and datetime.date.fromisoformat(expires) < today:
            meta.append(_meta(subject, "IGNORE_EXPIRED", levels, place,
                              f"the ignore of {rule_id} at {where} expired on {expires}; it no "
                              "longer applies"))
            continue
        matched = [f for f in findings if f.rule == rule_id
                   and (f.pointer == where or f.pointer.startswith(where.rstrip("/") + "/"))]
        if not matched:
            meta.append(_meta(subject, "IGNORE_STALE", levels, place,
                              f"the ignore of {rule_id} at {where} matches no finding; remove it"))
        findings = [f for f in findings if f not in matched]
    return findings + [m for m in meta if m.level != "off"]


def _meta(subject: Subject, rule_id: str, levels: Mapping[str, str], place: str,
          message: str) -> Finding:
    return _finding(subject, rule_id, levels.get(rule_id, META_RULES[rule_id][0]), place, message)


def _level_locked(subject: Subject, rule_id: str) -> bool:
    setting = f"/lint/rules/{rule_id}"
    return any(p in (setting, setting + "/level") or setting.startswith(p + "/")
               for p in subject.locked)


# ----------------------------------------------------------------------------- baseline


def write_baseline(result: LintResult, path: Path) -> None:
    """Record today's findings so that only new ones fail (``--baseline``)."""
    entries = sorted({(f.rule, f.file, f.pointer) for f in result.findings})
    data = {"version": 1, "findings": [{"rule": r, "file": f, "pointer": p} for r, f, p in entries]}
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def _stale_entries(baseline: Path, known: list[tuple[str, str, str]],
                   found: set[tuple[str, str, str]], linted: set[str]) -> list[Finding]:
    """A finding per baseline entry of a linted file that matches no finding of this run
    (an entry for a file not linted this time is not judged)."""
    lines = pointer_lines(baseline.read_text(encoding="utf-8"))
    stale = []
    for i, (rule_id, file, ptr) in enumerate(known):
        if file in linted and (rule_id, file, ptr) not in found:
            place = f"/findings/{i}"
            stale.append(Finding("BASELINE_STALE", META_RULES["BASELINE_STALE"][0],
                                 str(baseline), place,
                                 f"the baseline entry {rule_id} at {file} {ptr} matches no "
                                 "finding; remove it (or rewrite the baseline with "
                                 "--write-baseline)", lines.get(place)))
    return stale


def _read_baseline(path: Path) -> list[tuple[str, str, str]]:
    from harness.contract.document import parse

    data = parse(path)
    entries = data.get("findings") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not all(
            isinstance(e, dict) and {"rule", "file", "pointer"} <= set(e) for e in entries):
        raise HarnessError("not a lint baseline: expected {\"version\": 1, \"findings\": "
                           "[{\"rule\", \"file\", \"pointer\"}, ...]}", file=path)
    return [(e["rule"], e["file"], e["pointer"]) for e in entries]


