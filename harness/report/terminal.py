"""The parity matrix as a fixed-width table for the end of a pytest run."""

from __future__ import annotations

from typing import Any, Iterable


def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return f"{value:.3g}"


def _tolerance(row: dict[str, Any]) -> str:
    if row.get("top1_required") is not None:
        return f"top1>={row['top1_required']:g}"
    if row.get("exact"):
        return "exact"
    tol = row.get("tolerance") or {}
    if not tol:
        return "-"
    stat = "" if tol.get("statistic", "max") == "max" else f" {tol['statistic']}"
    return f"atol={tol['atol']:g} rtol={tol['rtol']:g}{stat}"


def _verdict(row: dict[str, Any]) -> str:
    if not row.get("judged", True):
        return "info"
    return "pass" if row.get("passed") else "FAIL"


def parity_table(rows: Iterable[dict[str, Any]]) -> list[str]:
    """One line per model, signature, format and output: errors, tolerance, verdict."""
    header = ("model", "signature", "format", "output", "calls", "max abs", "max rel",
              "top1", "tolerance", "verdict")
    lines = [header]
    for row in sorted(rows, key=lambda r: (str(r.get("model")), str(r.get("version")),
                                           str(r.get("signature")), str(r.get("format")),
                                           str(r.get("output")))):
        model = str(row.get("model"))
        if row.get("version") is not None:
            model += f"@{row['version']}"
        lines.append((model, str(row.get("signature")), str(row.get("format")),
                      str(row.get("output")), str(row.get("calls", "")), _num(row.get("max_abs")),
                      _num(row.get("max_rel")), _num(row.get("top1_agreement")), _tolerance(row),
                      _verdict(row)))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in lines]
