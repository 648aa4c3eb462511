"""The drift report from per-env JSON results: tables, the cross-load grid, the SVG plot."""

from __future__ import annotations

import json
from pathlib import Path

from harness.golden.drift import collect, write_report


def _env(tf: str) -> dict[str, object]:
    return {"versions": {"tensorflow-cpu": tf, "numpy": "1.26.4"}, "python": "3.11.9",
            "platform": "Linux-x86_64"}


def _write(results: Path) -> None:
    results.mkdir()
    for env, tf, err in (("tf221", "2.21.0", 0.0), ("tf215", "2.15.1", 3e-6)):
        rows = [{"model": "classifier", "signature": "classify", "backend": "savedmodel",
                 "status": "match" if err < 1e-5 else "mismatch", "outputs": [
                     {"output": "prob", "passed": True, "exact": False, "max_abs": err, "max_rel": err * 10}]}]
        (results / f"golden-{env}.json").write_text(json.dumps({"environment": _env(tf), "rows": rows}))
    (results / "exports-tf215.json").write_text(json.dumps({"env": "tf215", "environment": _env("2.15.1"), "models": {
        "classifier": {"status": "not built", "seconds": 3.0,
                       "error": "AttributeError: 'ResourceVariable' object has no attribute 'value'"}}}))
    (results / "loaded-by-tf215.json").write_text(json.dumps({"env": "tf215", "environment": _env("2.15.1"), "rows": [
        {"exported_by": "tf221", "loaded_by": "tf215", "model": "classifier", "status": "load failed",
         "ops": ["NewOp"], "detail": "Op type not registered 'NewOp'"}]}))
    (results / "loaded-by-tf221.json").write_text(json.dumps({"env": "tf221", "environment": _env("2.21.0"), "rows": [
        {"exported_by": "tf221", "loaded_by": "tf221", "model": "classifier", "status": "ok", "max_abs": 0.0}]}))


def test_report_orders_by_version_and_shows_every_table(tmp_path: Path) -> None:
    _write(tmp_path / "r")
    assert collect(tmp_path / "r")["order"] == ["tf215", "tf221"]
    assert write_report(tmp_path / "r", tmp_path / "out") == 0
    md = (tmp_path / "out" / "drift.md").read_text()
    assert "| classifier | classify | prob | savedmodel | 3.0e-06 / 3.0e-05 | 0 / 0 |" in md
    assert "**not built**: AttributeError: 'ResourceVariable' object has no attribute 'value'" in md
    assert "| tf221 | load failed: NewOp | ok 0 |" in md
    svg = (tmp_path / "out" / "drift.svg").read_text()
    assert svg.startswith("<svg") and "classifier/savedmodel" in svg and "<polyline" in svg
    data = json.loads((tmp_path / "out" / "drift.json").read_text())
    assert len(data["golden"]) == 2 and len(data["crossload"]) == 2


def test_report_without_results_says_so(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert write_report(tmp_path / "empty", tmp_path / "out") == 1
