"""The fleet result shown: a terminal table, one HTML page (a row per model) and a page per model."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any, Mapping

from harness.fleet.result import COLUMNS, OUTCOMES, accounting


def _cell(cell: Mapping[str, Any] | None) -> str:
    if not cell:
        return "-"
    text = "/".join(str(cell[o]) for o in OUTCOMES)
    if cell.get("worst_parity") is not None:
        text += f" {cell['worst_parity']:.1e}"
    return text


def _columns(result: Mapping[str, Any]) -> list[str]:
    used = {c for m in result["models"] for c in m.get("table", {})}
    return [c for c in COLUMNS if c in used] + sorted(used - set(COLUMNS))


def table_lines(result: Mapping[str, Any]) -> list[str]:
    """Model x family: passed/failed/skipped/crashed (and the worst parity error), seconds."""
    columns = _columns(result)
    header = ["model", *columns, "seconds", "note"]
    rows = []
    for model in result["models"]:
        table = model.get("table", {})
        seconds = sum(c["seconds"] for c in table.values())
        rows.append([model["name"], *(_cell(table.get(c)) for c in columns), f"{seconds:.1f}",
                     "; ".join(filter(None, [model.get("problem"), _labels(model)]))])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)) + "  note",
             "cells: passed/failed/skipped/crashed [worst parity abs error]"]
    for row in rows:
        lines.append(("  ".join(v.ljust(w) for v, w in zip(row, widths)) + "  " + row[-1]).rstrip())
    lines += label_lines(result)
    lines.append(accounting(result))
    return lines


def _labels(model: Mapping[str, Any]) -> str:
    labels = model.get("labels") or {}
    return "labels " + ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) if labels else ""


def label_lines(result: Mapping[str, Any]) -> list[str]:
    """One line per version label: the outcomes of the cases of the versions it names."""
    return [f"label {label}: " + "/".join(str(counts[o]) for o in OUTCOMES)
            for label, counts in (result.get("labels") or {}).items()]


def model_page_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) + ".html"


_STYLE = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
          "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}"
          ".failed,.crashed{background:#fdd}.passed{background:#dfd}.skipped{background:#eee}"
          "pre{white-space:pre-wrap;margin:0}")


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
            f"{body}</body></html>\n")


def write_pages(result: Mapping[str, Any], folder: Path) -> dict[str, Path]:
    """``fleet-result.json``, ``index.html`` (a row per model) and ``models/<name>.html``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "models").mkdir(exist_ok=True)
    columns = _columns(result)
    rows = []
    for model in result["models"]:
        page = f"models/{model_page_name(model['name'])}"
        (folder / page).write_text(_model_page(model), encoding="utf-8")
        table = model.get("table", {})
        state = ("crashed" if any(c["crashed"] for c in table.values()) else
                 "failed" if any(c["failed"] for c in table.values()) or model.get("problem")
                 else "passed")
        cells = "".join(f"<td>{html.escape(_cell(table.get(c)))}</td>" for c in columns)
        rows.append(f"<tr class='{state}'><td><a href='{html.escape(page)}'>"
                    f"{html.escape(model['name'])}</a></td>{cells}"
                    f"<td>{html.escape('; '.join(filter(None, [model.get('problem'), _labels(model)])))}"
                    "</td></tr>")
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["model", *columns, "note"])
    plan = result["plan"]
    body = (f"<p>plan {html.escape(str(plan['id']))}: {plan['models']} models, {plan['cases']} "
            f"cases, {plan.get('conversions', 0)} conversions. {html.escape(accounting(result))}"
            f"</p><p>cells: passed/failed/skipped/crashed [worst parity abs error]</p>"
            + "".join(f"<p>{html.escape(line)}</p>" for line in label_lines(result)) +
            f"<table><tr>{head}</tr>{''.join(rows)}</table>")
    index = folder / "index.html"
    index.write_text(_page(f"fleet {plan['fleet']}", body), encoding="utf-8")
    data = folder / "fleet-result.json"
    tmp = data.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    tmp.replace(data)
    return {"html": index, "json": data}


def _model_page(model: Mapping[str, Any]) -> str:
    rows = "".join(
        f"<tr class='{row['outcome']}'><td>{html.escape(row['id'])}</td>"
        f"<td>{html.escape(str(row.get('column')))}</td><td>{row['outcome']}</td>"
        f"<td>{row['seconds']:.3f}</td><td><pre>{html.escape(row['message'])}</pre></td></tr>"
        for row in model["cases"])
    intro = (f"<p>contract: {html.escape(str(model.get('contract')))}; versions: "
             f"{html.escape(str(model.get('versions')))}"
             f"{'; ' + html.escape(_labels(model)) if model.get('labels') else ''}"
             f"{'; ran on TensorFlow ' + html.escape(str(model['runtime'].get('tensorflow'))) if model.get('runtime') else ''}"
             "</p>")
    if model.get("problem"):
        intro += f"<p class='failed'>{html.escape(model['problem'])}</p>"
    return _page(f"model {model['name']}", intro + "<p><a href='../index.html'>fleet</a></p>"
                 "<table><tr><th>case</th><th>family</th><th>outcome</th><th>seconds</th>"
                 f"<th>message</th></tr>{rows}</table>")
