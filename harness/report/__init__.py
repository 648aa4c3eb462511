"""Run reports: plain data (:mod:`.data`), a terminal parity table, a self-contained HTML page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.report.data import build_report, case_record, report_from
from harness.report.html import render_html
from harness.report.record import RunRecord
from harness.report.terminal import parity_table

__all__ = ["RunRecord", "build_report", "case_record", "report_from", "parity_table", "render_html",
           "write_reports"]


def write_reports(report: dict[str, Any], folder: Path) -> dict[str, Path]:
    """Write report.json, report.html and parity.json into ``folder``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"json": folder / "report.json", "html": folder / "report.html",
             "parity": folder / "parity.json"}
    paths["json"].write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    paths["html"].write_text(render_html(report), encoding="utf-8")
    paths["parity"].write_text(json.dumps(report.get("parity", []), indent=2) + "\n",
                               encoding="utf-8")
    return paths
