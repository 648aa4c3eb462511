"""A check run's results in the formats CI systems read: JSON, JUnit XML and SARIF 2.1.0.

One renderer per format in :data:`CI_FORMATS`; each takes the run report
(:func:`~harness.report.data.report_from`, plain data) and returns the text:

* ``json``: the report itself (schema ``check-report-v1.schema.json``), each result with the
  ``line`` of its ``pointer`` in the contract file;
* ``junit``: a test case per check, with the contract file and line (``file``/``line``
  attributes), a ``failure`` per failed check, an ``error`` per crashed one, ``skipped``
  with its reason;
* ``sarif``: SARIF 2.1.0, a rule per check and a result per failed or crashed check, at the
  contract file (relative to the working directory when below it) and the line of the
  signature or tensor it is about, the JSON pointer as its logical location.

The line is the one that writes the pointer, or its nearest ancestor the file writes (a
value inherited from a standard points at what the contract itself says).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Mapping
from xml.sax.saxutils import escape, quoteattr

from harness.contract.lines import location_uri, pointer_lines
from harness.registry import Registry

Render = Callable[[Mapping[str, Any]], str]
CI_FORMATS: Registry[Render] = Registry("check report format")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
REPORT_SCHEMA_ID = "https://model-contract.dev/schema/check-report-v1.schema.json"
#: outcomes that are a CI failure, and how SARIF and JUnit name them
FAILING = {"failed": "failure", "error": "error"}


def ci_format(name: str) -> Callable[[Render], Render]:
    def register(fn: Render) -> Render:
        CI_FORMATS.add(name, fn)
        return fn
    return register


def line_of(lines: Mapping[str, int], ptr: str) -> int | None:
    """The line of ``ptr`` in a file's ``lines`` (or of its nearest ancestor it writes)."""
    if not lines:
        return None
    while ptr not in lines and ptr not in ("", "/"):
        ptr = ptr.rsplit("/", 1)[0] or "/"
    return lines.get(ptr, 1)


def located(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The report's results, each with the ``line`` of its pointer in its contract file."""
    files: dict[str, dict[str, int]] = {}
    rows = []
    for row in report["results"]:
        path = row["contract_path"]
        if path not in files:
            try:
                files[path] = pointer_lines(Path(path).read_text(encoding="utf-8"))
            except OSError:
                files[path] = {}
        rows.append(dict(row, line=line_of(files[path], row.get("pointer") or "/")))
    return rows


@ci_format("json")
def as_json(report: Mapping[str, Any]) -> str:
    data = {"$schema": REPORT_SCHEMA_ID, "version": 1,
            "failed": any(r["outcome"] in FAILING for r in report["results"]),
            **{k: v for k, v in report.items() if k not in ("$schema", "version", "failed")}}
    data["results"] = located(report)
    return json.dumps(data, indent=2)


@ci_format("junit")
def junit(report: Mapping[str, Any]) -> str:
    cases = []
    for row in located(report):
        body = ""
        kind = FAILING.get(row["outcome"])
        first = (row["message"] or row["outcome"]).splitlines()[0]
        if kind is not None:
            body = (f"<{kind} type={quoteattr(row['check'])} message={quoteattr(first)}>"
                    f"{escape(_where(row) + ': ' + row['message'])}</{kind}>")
        elif row["outcome"] == "skipped":
            body = f"<skipped message={quoteattr(first)}/>"
        cases.append(f'  <testcase classname={quoteattr(row["contract"] + "." + row["model"])} '
                     f'name={quoteattr(row["id"])} file={quoteattr(location_uri(row["contract_path"]))} '
                     f'line="{row["line"] or 0}" time="{row["seconds"]}">{body}</testcase>')
    counts = report.get("counts", {})
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            f'<testsuite name="model-contract check" tests="{len(cases)}" '
            f'failures="{counts.get("failed", 0)}" errors="{counts.get("error", 0)}" '
            f'skipped="{counts.get("skipped", 0)}">\n' + "\n".join(cases) + "\n</testsuite>")


@ci_format("sarif")
def sarif(report: Mapping[str, Any]) -> str:
    ids: list[str] = []
    rules: list[dict[str, Any]] = []
    results = []
    for row in located(report):
        if row["check"] not in ids:
            ids.append(row["check"])
            rules.append({"id": row["check"], "shortDescription": {
                "text": f"the {row['family']} check {row['check']!r} of a model contract"},
                "defaultConfiguration": {"level": "error"}})
        if row["outcome"] not in FAILING:
            continue
        physical: dict[str, Any] = {"artifactLocation": {"uri": location_uri(row["contract_path"])}}
        if row["line"]:
            physical["region"] = {"startLine": row["line"]}
        text = row["message"] or row["outcome"]
        results.append({
            "ruleId": row["check"], "ruleIndex": ids.index(row["check"]), "level": "error",
            "message": {"text": f"{row['id']}: {text}"},
            "locations": [{"physicalLocation": physical, "logicalLocations": [
                {"fullyQualifiedName": row["pointer"], "kind": "member"}]}],
            "properties": {"outcome": row["outcome"], "model": row["model_path"],
                           "test": row.get("test") or row["id"]}})
    return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "model-contract check", "rules": rules}},
        "results": results}]}, indent=2)


def _where(row: Mapping[str, Any]) -> str:
    where = location_uri(row["contract_path"])
    return f"{where}:{row['line']}: {row['pointer']}" if row["line"] else f"{where}: {row['pointer']}"



def parse_report_option(text: str) -> tuple[str, Path]:
    """``FORMAT:FILE`` of ``--report`` (ValueError with the reason when it is not one)."""
    fmt, sep, file = text.partition(":")
    if not sep or not file:
        raise ValueError(f"--report {text}: expected FORMAT:FILE, e.g. sarif:results.sarif")
    if fmt not in CI_FORMATS:
        raise ValueError(f"--report {text}: unknown format {fmt!r}; expected one of "
                         f"{', '.join(CI_FORMATS)}")
    return fmt, Path(file)
