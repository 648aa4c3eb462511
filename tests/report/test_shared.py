"""Figures of pytest-xdist workers merged in the controller (report.shared)."""

from __future__ import annotations

from typing import Any

import pytest

from harness.report.shared import MERGES, merge_into, shareable


def test_each_workers_figures_add_up_in_the_controller() -> None:
    finding = {"contract": "c", "signature": "s", "kind": "int64", "message": "above 2^53"}
    worker_a: dict[str, Any] = {
        "parity": [{"model": "m", "format": "tflite", "output": "y", "calls": 3}],
        "serving_findings": [finding],
        "serving_latency": {"REST": [4, 0.4]},
        "serving_starts": [{"label": "server", "seconds": 1.0}],
        "closers": [print],  # not data: stays in the worker
    }
    worker_b: dict[str, Any] = {
        "parity": [{"model": "m", "format": "onnx", "output": "y", "calls": 5}],
        "serving_findings": [finding],
        "serving_latency": {"REST": [2, 0.2], "gRPC": [1, 0.05]},
        "serving_rest_vs_grpc": [{"max_abs": 0.0}],
    }
    controller: dict[str, Any] = {}
    for worker in (worker_a, worker_b):
        merge_into(controller, shareable(worker))
    assert [r["format"] for r in controller["parity"]] == ["tflite", "onnx"]
    assert controller["serving_findings"] == [finding]  # the same finding once
    assert controller["serving_latency"] == {"REST": [6, pytest.approx(0.6)], "gRPC": [1, 0.05]}
    assert len(controller["serving_starts"]) == 1 and len(controller["serving_rest_vs_grpc"]) == 1
    assert "closers" not in controller and set(controller) <= set(MERGES)
    worker_a["parity"][0]["calls"] = 99  # the worker's data is copied, not shared
    assert controller["parity"][0]["calls"] == 3
