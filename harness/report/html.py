"""One self-contained HTML page per run: no scripts, no external files, inline SVG plots."""

from __future__ import annotations

import math
from html import escape
from typing import Any, Iterable

from harness.report.terminal import _num, _tolerance, _verdict

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1d2330;max-width:1200px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ccd;padding-bottom:4px}
table{border-collapse:collapse;width:100%;margin:8px 0}
th,td{border:1px solid #dde;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f2f4f8}td.num{text-align:right;font-variant-numeric:tabular-nums}
.passed,.pass{color:#17692c}.failed,.FAIL,.error{color:#b3261e;font-weight:600}
.skipped,.info{color:#6b6f80}
pre{background:#f6f7f9;border:1px solid #e3e5ea;padding:8px;white-space:pre-wrap;overflow-x:auto}
code{background:#f2f4f8;padding:1px 4px}
.counts span{margin-right:14px}.plots{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0;border:1px solid #e3e5ea;padding:6px}figcaption{font-size:12px}
"""


def _table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(rows_cell) + "</tr>" for rows_cell in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _td(text: Any, cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<td{attr}>{escape('' if text is None else str(text))}</td>"


def histogram_svg(values: list[float], title: str, width: int = 260, height: int = 120) -> str:
    """Bars of log10(max abs error) per call; zeros get their own bar at the left."""
    zeros = sum(1 for v in values if v == 0)
    logs = [math.log10(v) for v in values if v > 0 and math.isfinite(v)]
    infs = sum(1 for v in values if not math.isfinite(v))
    bins = 12
    counts = [0] * bins
    lo, hi = (min(logs), max(logs)) if logs else (0.0, 1.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    for v in logs:
        counts[min(bins - 1, int((v - lo) / (hi - lo) * bins))] += 1
    bars = [zeros] + counts + [infs]
    labels = ["0"] + [""] * bins + ["inf"]
    top = max(bars) or 1
    bw = (width - 20) / len(bars)
    parts = [f'<svg width="{width}" height="{height + 30}" '
             f'role="img" aria-label="{escape(title)}">']
    for i, count in enumerate(bars):
        h = (height - 10) * count / top
        x = 10 + i * bw
        color = "#9aa3b5" if i in (0, len(bars) - 1) else "#3d6fd9"
        parts.append(f'<rect x="{x:.1f}" y="{height - h:.1f}" width="{bw - 2:.1f}" '
                     f'height="{h:.1f}" fill="{color}"><title>{count}</title></rect>')
        if labels[i]:
            parts.append(f'<text x="{x + bw / 2:.1f}" y="{height + 12}" font-size="10" '
                         f'text-anchor="middle">{labels[i]}</text>')
    parts.append(f'<text x="{width / 2:.0f}" y="{height + 26}" font-size="10" text-anchor="middle">'
                 f'log10 max abs error per call, {lo:.1f} .. {hi:.1f}</text></svg>')
    return "".join(parts)


def render_html(report: dict[str, Any]) -> str:
    counts = report.get("counts", {})
    out = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
           "<title>model-contract report</title>", f"<style>{STYLE}</style></head><body>",
           "<h1>model-contract report</h1>",
           f"<p>Generated {escape(report.get('generated', ''))} on "
           f"{escape(report.get('platform', ''))}; "
           + ", ".join(f"{escape(k)} {escape(v)}" for k, v in report.get("versions", {}).items())
           + "</p>"]
    out.append("<section id='summary'><h2>Summary</h2><p class='counts'>"
               + "".join(f"<span class='{escape(k)}'>{escape(k)}: {v}</span>"
                         for k, v in sorted(counts.items())) + "</p></section>")
    out.append("<section id='contracts'><h2>Contracts</h2>" + _table(
        ["name", "version", "file", "signatures", "formats", "description"],
        ([_td(c["name"]), _td(c.get("version")), _td(c["path"]), _td(", ".join(c["signatures"])),
          _td(", ".join(c["formats"]) or "savedmodel only"), _td(c.get("description"))]
         for c in report.get("contracts", []))) + "</section>")
    out.append("<section id='models'><h2>Models and versions</h2>" + _table(
        ["model", "version", "path", "contract"],
        ([_td(m["label"]), _td(m.get("version") if m.get("version") is not None else "-"),
          _td(m["path"]), _td(m["contract"])] for m in report.get("models", []))) + "</section>")
    out.append("<section id='checks'><h2>Checks</h2>" + _table(
        ["model", "signature", "check", "family", "result", "seconds", "notes"],
        ([_td(r["model"]), _td(r["signature"] or "-"), _td(r["check"]), _td(r["family"]),
          _td(r["outcome"], r["outcome"]), _td(f"{r['seconds']:.2f}", "num"),
          _td("; ".join(r["notes"]))] for r in report.get("results", []))) + "</section>")
    parity = report.get("parity", [])
    out.append("<section id='parity'><h2>Parity matrix</h2>")
    if parity:
        out.append(_table(
            ["model", "signature", "format", "output", "calls", "max abs", "max rel", "top1",
             "tolerance", "verdict"],
            ([_td(f"{p.get('model')}" + (f"@{p['version']}" if p.get("version") is not None else "")),
              _td(p.get("signature")), _td(p.get("format")), _td(p.get("output")),
              _td(p.get("calls"), "num"), _td(_num(p.get("max_abs")), "num"),
              _td(_num(p.get("max_rel")), "num"), _td(_num(p.get("top1_agreement")), "num"),
              _td(_tolerance(p)), _td(_verdict(p), _verdict(p))] for p in parity)))
        plots = [p for p in parity if p.get("samples")]
        if plots:
            out.append("<h3>Error distribution per output and format</h3><div class='plots'>")
            for p in plots:
                title = f"{p.get('model')} {p.get('signature')}/{p.get('output')} {p.get('format')}"
                samples = [float(v) if not isinstance(v, str) else math.inf for v in p["samples"]]
                out.append(f"<figure>{histogram_svg(samples, title)}"
                           f"<figcaption>{escape(title)}</figcaption></figure>")
            out.append("</div>")
    else:
        out.append("<p>No format was compared in this run.</p>")
    out.append("</section>")
    findings = report.get("findings", [])
    out.append("<section id='findings'><h2>Findings for client teams</h2>")
    out.append(_table(["model", "signature", "tensor", "finding"],
                      ([_td(f.get("model")), _td(f.get("signature")), _td(f.get("tensor")),
                        _td(f.get("finding") or f.get("message"))] for f in findings))
               if findings else "<p>None recorded in this run.</p>")
    out.append("</section>")
    failures = [r for r in report.get("results", []) if r["outcome"] in ("failed", "error")]
    out.append("<section id='failures'><h2>Failures</h2>")
    if not failures:
        out.append("<p>No check failed.</p>")
    for r in failures:
        out.append(f"<h3 class='failed'>{escape(r['id'])}</h3><pre>{escape(r['message'])}</pre>")
        if r.get("replay"):
            out.append(f"<p>Replay: <code>{escape(r['replay'])}</code></p>")
    out.append("</section></body></html>")
    return "\n".join(out)
