"""The run report: JSON data, the terminal parity table, and the HTML page in headless Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.contract import load_contract
from harness.engine import Engine
from harness.errors import CheckFailure
from harness.options import RunOptions
from harness.report import RunRecord, build_report, parity_table, write_reports
from harness.report.html import histogram_svg
from tests.conftest import FIXTURES

SECTIONS = ["summary", "contracts", "models", "checks", "parity", "findings", "failures"]


@pytest.fixture(scope="module")
def report_with_failures(tmp_path_factory: pytest.TempPathFactory) -> dict:  # type: ignore[type-arg]
    folder = tmp_path_factory.mktemp("run")
    engine = Engine(RunOptions(in_process=True, examples=10, results_dir=folder))
    record = RunRecord.attach(engine.context.events)
    try:
        contract = load_contract(FIXTURES / "contracts" / "broken_argmax.json")
        [ref] = engine.models_of(contract)
        for case in engine.plan(contract, ref):
            try:
                engine.execute(case)
            except (CheckFailure, Exception):  # noqa: B014 - every outcome is recorded
                pass
        report = build_report(record)
    finally:
        engine.close()
    report["parity"] = [{"model": "m", "version": 1, "signature": "s", "format": "tflite",
                         "output": "prob", "calls": 3, "max_abs": 2.5e-6, "max_rel": 1e-5,
                         "passed": True, "judged": True, "exact": False,
                         "tolerance": {"atol": 1e-4, "rtol": 1e-3, "statistic": "max"},
                         "samples": [1e-7, 2.5e-6, 0.0]}]
    return report


def test_report_data_lists_every_result_and_the_replay(report_with_failures: dict) -> None:  # type: ignore[type-arg]
    results = report_with_failures["results"]
    assert report_with_failures["counts"]["failed"] == 1
    [failed] = [r for r in results if r["outcome"] == "failed"]
    assert failed["check"] == "values"
    assert failed["replay"].startswith("pytest --contract ")
    json.dumps(report_with_failures)  # JSON-safe


def test_parity_table_lines() -> None:
    rows = [{"model": "clf", "version": 1, "signature": "classify", "format": "onnx",
             "output": "prob", "calls": 20, "max_abs": 3.1e-6, "max_rel": 2.2e-4,
             "passed": True, "judged": True, "exact": False,
             "tolerance": {"atol": 1e-5, "rtol": 1e-4, "statistic": "max"}},
            {"model": "clf", "version": 1, "signature": "classify", "format": "tflite",
             "output": "class_id", "calls": 20, "max_abs": 1.0, "max_rel": 1.0,
             "passed": False, "judged": True, "exact": True, "tolerance": None}]
    lines = parity_table(rows)
    assert lines[0].split() == ["model", "signature", "format", "output", "calls", "max", "abs",
                                "max", "rel", "top1", "tolerance", "verdict"]
    assert lines[1].split() == ["clf@1", "classify", "onnx", "prob", "20", "3.1e-06", "0.00022",
                                "-", "atol=1e-05", "rtol=0.0001", "pass"]
    assert lines[2].split()[-2:] == ["exact", "FAIL"]


def test_histogram_is_inline_svg() -> None:
    svg = histogram_svg([0.0, 1e-6, 1e-5, float("inf")], "t")
    assert svg.startswith("<svg") and svg.count("<rect") == 14


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_html_renders_its_sections_in_headless_chromium(report_with_failures: dict,  # type: ignore[type-arg]
                                                          tmp_path: Path) -> None:
    browser = chromium()
    if browser is None:
        pytest.skip("Chromium not installed: apt-get install chromium (Debian) to run this test")
    paths = write_reports(report_with_failures, tmp_path)
    html = paths["html"].read_text()
    # self-contained: no scripts, nothing loaded from elsewhere
    assert "<script" not in html and 'src="' not in html and "<link" not in html
    dom = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", paths["html"].as_uri()],
        capture_output=True, text=True, timeout=120, check=True).stdout
    for section in SECTIONS:
        assert f'id="{section}"' in dom, section
    assert "broken_argmax::broken_argmax::serving_default::values" in dom
    assert "Replay: <code>pytest --contract" in dom
    assert "<svg" in dom  # the error-distribution plot
    screenshot = tmp_path / "report.png"
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={screenshot}",
         "--window-size=1200,1600", paths["html"].as_uri()],
        capture_output=True, timeout=120, check=True)
    assert screenshot.stat().st_size > 10_000  # something was drawn
