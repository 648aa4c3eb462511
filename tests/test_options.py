"""Options are defined once (harness/options.py): README and every --help say the same words."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from harness.options import OPTIONS, markdown_rows
from tests.conftest import ROOT


def _squeezed(text: str) -> str:
    """Text without whitespace: help output wraps lines (and breaks at hyphens)."""
    return re.sub(r"\s+", "", text)


def test_readme_options_table_is_the_option_definitions() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "\n".join(markdown_rows()) in readme


@pytest.mark.parametrize("command", [
    [sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"],
    [sys.executable, "-m", "harness.cli", "check", "--help"],
])
def test_help_says_what_the_readme_says(command: list[str], tmp_path: object) -> None:
    done = subprocess.run(command, capture_output=True, text=True, cwd=str(tmp_path), timeout=300)
    assert done.returncode == 0, done.stderr
    shown = _squeezed(done.stdout)
    for opt in OPTIONS:
        if opt.dest == "contract" and "harness.cli" in command:
            continue  # `check` takes the contract as its positional argument
        assert _squeezed(opt.help) in shown, (opt.flag, opt.help)
