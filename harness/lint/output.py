"""Lint results as text (people), JSON (published schema), JUnit XML and SARIF 2.1.0 (CI).

One renderer per format in :data:`OUTPUTS`; each takes the :class:`LintResult` and returns
the text. SARIF results point at the file (relative to the working directory when below it)
and line, and name the JSON pointer as a logical location, so code-scanning UIs annotate the
right place.
"""

from __future__ import annotations

import json
from typing import Callable
from xml.sax.saxutils import escape, quoteattr

from harness.contract.lines import location_uri
from harness.lint.rules import META_RULES, RULES
from harness.lint.run import LintResult
from harness.registry import Registry

Render = Callable[[LintResult], str]
OUTPUTS: Registry[Render] = Registry("lint output format")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVELS = {"error": "error", "warning": "warning", "info": "note"}
REPORT_SCHEMA_ID = "https://model-contract.dev/schema/lint-report-v1.schema.json"


def output(name: str) -> Callable[[Render], Render]:
    def register(fn: Render) -> Render:
        OUTPUTS.add(name, fn)
        return fn
    return register


@output("text")
def text(result: LintResult) -> str:
    lines = []
    for f in result.findings:
        where = f"{f.file}:{f.line}" if f.line else f.file
        lines.append(f"{where}: {f.pointer}: {f.level} {f.rule}: {f.message}")
    counts = result.counts()
    summary = (f"{counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} "
               f"info in {len(result.subjects)} file(s)")
    if result.baselined:
        summary += f"; {result.baselined} known finding(s) in the baseline"
    return "\n".join(lines + [summary])


@output("json")
def as_json(result: LintResult) -> str:
    return json.dumps({"$schema": REPORT_SCHEMA_ID, "version": 1, "failed": result.failed,
                       "counts": result.counts(), "baselined": result.baselined,
                       "files": list(result.subjects),
                       "findings": [f.as_dict() for f in result.findings]}, indent=2)


@output("junit")
def junit(result: LintResult) -> str:
    """One test case per file; a failure per error, warnings and info in system-out."""
    cases = []
    for subject in result.subjects:
        mine = [f for f in result.findings if f.file == subject]
        errors = [f for f in mine if f.level == "error"]
        body = "".join(
            f'<failure type={quoteattr(f.rule)} message={quoteattr(f.message)}>'
            f'{escape(f"{f.file}:{f.line or 0}: {f.pointer}: {f.rule}: {f.message}")}</failure>'
            for f in errors)
        rest = [f for f in mine if f.level != "error"]
        if rest:
            body += "<system-out>" + escape("\n".join(
                f"{f.level} {f.rule} {f.pointer}: {f.message}" for f in rest)) + "</system-out>"
        cases.append(f'  <testcase classname="model-contract.lint" name={quoteattr(subject)}>'
                     f"{body}</testcase>")
    failures = sum(f.level == "error" for f in result.findings)
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            f'<testsuite name="model-contract lint" tests="{len(result.subjects)}" '
            f'failures="{failures}" errors="0">\n' + "\n".join(cases) + "\n</testsuite>")


@output("sarif")
def sarif(result: LintResult) -> str:
    ids = list(RULES) + list(META_RULES)
    rules = []
    for rule_id in ids:
        if rule_id in RULES:
            r = RULES[rule_id]
            doc, level = r.doc, r.level
        else:
            level, doc = META_RULES[rule_id]
        rules.append({"id": rule_id, "shortDescription": {"text": doc},
                      "defaultConfiguration": {"level": SARIF_LEVELS[level]}})
    results = []
    for f in result.findings:
        physical: dict[str, object] = {"artifactLocation": {"uri": location_uri(f.file)}}
        if f.line:
            physical["region"] = {"startLine": f.line}
        results.append({
            "ruleId": f.rule, "ruleIndex": ids.index(f.rule), "level": SARIF_LEVELS[f.level],
            "message": {"text": f"{f.pointer}: {f.message}"},
            "locations": [{"physicalLocation": physical,
                           "logicalLocations": [{"fullyQualifiedName": f.pointer,
                                                 "kind": "member"}]}]})
    return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "model-contract", "rules": rules}},
        "results": results}]}, indent=2)

