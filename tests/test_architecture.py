"""The layering written in ARCHITECTURE.md, checked: what may import what.

The layer rules themselves are import-linter contracts in pyproject.toml
(``[tool.importlinter]``): layers, the pure layer's forbidden runtimes and no cycles inside a
folder. :func:`test_import_contracts_hold` runs them on the package; the tests after it
prove each contract fails when a copy of the package breaks it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = ("from importlinter.cli import lint_imports; "
        "raise SystemExit(lint_imports(no_cache=True, no_logo=True))")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run([sys.executable, "-c", LINT], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300)


def test_import_contracts_hold() -> None:
    out = lint_imports(ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Contracts: 3 kept, 0 broken." in out.stdout, out.stdout


#: (file, line appended to it, the contract that must break, what the report names)
VIOLATIONS = {
    "upward import": ("harness/backends/base.py", "from harness import engine  # noqa\n",
                      "Imports flow downwards", "harness.backends.base -> harness.engine"),
    "cycle": ("harness/golden/arrays.py", "import harness.golden.record  # noqa\n",
              "No import cycles", "- .arrays -> .record"),
    "runtime in the pure layer": (
        "harness/checks/parity.py", "def _tf():\n    import tensorflow  # noqa\n",
        "The pure layer imports no TensorFlow", "harness.checks.parity -> tensorflow"),
}


@pytest.mark.parametrize("kind", sorted(VIOLATIONS))
def test_import_contracts_catch_a_violation(kind: str, tmp_path: Path) -> None:
    file, line, contract, names = VIOLATIONS[kind]
    shutil.copytree(ROOT / "harness", tmp_path / "harness",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    with open(tmp_path / file, "a", encoding="utf-8") as fh:
        fh.write("\n" + line)
    out = lint_imports(tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    broken = out.stdout[out.stdout.index("Broken contracts"):]
    assert contract in broken and names in broken, out.stdout

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
    "harness.fleet.describe",
    "harness.fleet.result",
    "harness.fleet.render",
    "harness.fleet.shard",
]
#: front ends: importing them (what every pytest run does through the entry point) stays cheap
CHEAP = ["harness.pytest_plugin", "harness.engine", "harness.cli", "harness.fleet.plan"]
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
