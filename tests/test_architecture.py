"""The layering written in ARCHITECTURE.md, checked: what may import what."""

from __future__ import annotations

import subprocess
import sys

import pytest

#: modules that must import neither TensorFlow nor a backend runtime
PURE = [
    "harness.contract",
    "harness.strategies",
    "harness.tf_example",
    "harness.checks.invariants",
    "harness.checks.conformance",
    "harness.checks.parity",
    "harness.errors",
    "harness.options",
    "harness.report",
]
#: front ends: importing them (what every pytest run does through the entry point) stays cheap
CHEAP = ["harness.pytest_plugin", "harness.engine", "harness.cli"]
HEAVY = ["tensorflow", "onnxruntime", "ai_edge_litert", "tf2onnx", "keras"]


@pytest.mark.parametrize("module", PURE + CHEAP)
def test_module_imports_no_runtime(module: str) -> None:
    code = (f"import sys, {module}\n"
            f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"{module} imports {out.stdout.strip()}"


def test_engine_does_not_import_front_ends() -> None:
    code = ("import sys, harness.engine\n"
            "print([m for m in ('harness.pytest_plugin', 'harness.cli') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
