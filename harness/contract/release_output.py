"""The release gate's results for CI: JSON (schema diff-report-v1), JUnit XML and SARIF 2.1.0
(text is the CLI's).

Each diff is a JUnit test case failing with one failure per reason; in SARIF every breaking
change of a gated group is a result (an error when the gate fails, a note when a major
bump lets it through), a version problem a VERSION result, located at the NEW
contract's file and the line of the changed element (or of its nearest surviving parent).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable, Sequence
from xml.sax.saxutils import escape, quoteattr

from harness.contract.diff import BREAKING, GROUPS, Change, DiffResult
from harness.contract.lines import pointer_lines
from harness.contract.release import Verdict

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
REPORT_SCHEMA_ID = "https://model-contract.dev/schema/diff-report-v1.schema.json"


def pointer_of(change: Change) -> str:
    """The JSON pointer (contract coordinates) of the element ``change`` is about, on the
    NEW side (a rename points at the new name)."""
    where, _, twin = change.where.partition(" -> ")
    if twin:
        where = "/".join(where.split("/")[:-1] + [twin])
    if where == "tags":
        return "/tags"
    if where.startswith("assets/"):
        return "/assets"
    parts = re.sub(r"\[\d+\]$", "", where).split("/")
    tail = ["shape"] if where.endswith("]") else []
    return "/" + "/".join(["signatures", *parts, *tail])


def as_json(results: Sequence[DiffResult], verdicts: Sequence[Verdict],
            groups: Sequence[str]) -> str:
    """Every diff with its changes (each with the JSON pointer it is about) and the gate's
    verdict."""
    diffs = []
    for result, verdict in zip(results, verdicts):
        data = result.as_dict()
        data["changes"] = [dict(c.as_dict(), pointer=pointer_of(c)) for c in result.changes]
        data["verdict"] = {"failed": verdict.failed, "reasons": list(verdict.reasons),
                           "warnings": list(verdict.warnings)}
        diffs.append(data)
    return json.dumps({"$schema": REPORT_SCHEMA_ID, "version": 1,
                       "breaking": any(r.breaking for r in results),
                       "failed": any(v.failed for v in verdicts), "gate": list(groups),
                       "diffs": diffs}, indent=2)


def junit(results: Sequence[DiffResult], verdicts: Sequence[Verdict],
          groups: Sequence[str] = GROUPS) -> str:
    cases = []
    for result, verdict in zip(results, verdicts):
        body = "".join(f"<failure type=\"release gate\" message={quoteattr(r)}>"
                       f"{escape(_listing(result))}</failure>" for r in verdict.reasons)
        if verdict.warnings:
            body += "<system-out>" + escape("\n".join(verdict.warnings)) + "</system-out>"
        cases.append(f'  <testcase classname="model-contract.diff" '
                     f'name={quoteattr(f"{result.old} -> {result.new}")}>{body}</testcase>')
    failures = sum(len(v.reasons) for v in verdicts)
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            f'<testsuite name="model-contract diff" tests="{len(results)}" failures="{failures}" '
            'errors="0">\n' + "\n".join(cases) + "\n</testsuite>")


def _listing(result: DiffResult) -> str:
    return "\n".join(f"{c.severity} {c.group} {c.kind}: {c.message}" for c in result.changes
                     if c.severity == BREAKING)


def sarif(results: Sequence[DiffResult], verdicts: Sequence[Verdict],
          groups: Sequence[str]) -> str:
    rules = [{"id": f"BREAKING_{g.upper()}", "shortDescription": {
        "text": f"a breaking change of the {g} group"}, "defaultConfiguration": {"level": "error"}}
             for g in GROUPS] + [{"id": "VERSION", "shortDescription": {
                 "text": "the version does not match the changes"},
                 "defaultConfiguration": {"level": "warning"}}]
    ids = [str(r["id"]) for r in rules]
    out = []
    for result, verdict in zip(results, verdicts):
        path = Path(result.new)
        lines = pointer_lines(path.read_text(encoding="utf-8")) if path.is_file() else {}
        for change in result.changes:
            if change.severity != BREAKING or change.group not in groups:
                continue
            ptr = pointer_of(change)
            level = "error" if verdict.failed else "note"  # a major bump lets it through
            out.append(_result(ids, f"BREAKING_{change.group.upper()}", level,
                               f"{ptr}: {change.message}", result.new, _line(lines, ptr), ptr))
        for text, level in [(r, "error") for r in verdict.reasons if "version" in r] + \
                [(w, "warning") for w in verdict.warnings]:
            out.append(_result(ids, "VERSION", level, text, result.new, _line(lines, "/version"),
                               "/version"))
    return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "model-contract diff", "rules": rules}},
        "results": out}]}, indent=2)


def _line(lines: dict[str, int], ptr: str) -> int | None:
    if not lines:
        return None
    while ptr not in lines and ptr not in ("", "/"):
        ptr = ptr.rsplit("/", 1)[0] or "/"
    return lines.get(ptr, 1)


def _result(ids: list[str], rule: str, level: str, text: str, file: str, line: int | None,
            ptr: str) -> dict[str, object]:
    physical: dict[str, object] = {"artifactLocation": {"uri": Path(file).as_posix()}}
    if line:
        physical["region"] = {"startLine": line}
    return {"ruleId": rule, "ruleIndex": ids.index(rule), "level": level,
            "message": {"text": text},
            "locations": [{"physicalLocation": physical,
                           "logicalLocations": [{"fullyQualifiedName": ptr, "kind": "member"}]}]}


Render = Callable[[Sequence[DiffResult], Sequence[Verdict], Sequence[str]], str]
#: ``diff --format``: format -> renderer of (results, verdicts, gated groups)
OUTPUTS: dict[str, Render] = {"json": as_json, "junit": junit, "sarif": sarif}
