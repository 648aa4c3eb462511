"""The README's "Standards for an organisation" worked example runs as written: its standard
and two team contracts are built from the README's own JSON blocks, and each command it shows
prints what the README says (through a process, as a user runs it)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


def section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## Standards for an organisation")
    return text[start:text.index("\n## ", start + 3)]


def blocks(kind: str) -> list[str]:
    """The fenced blocks of the section: ``json`` ones, or the plain ones (outputs)."""
    found = re.findall(r"```(\w*)\n(.*?)```", section(), flags=re.S)
    return [body for lang, body in found if lang == kind]


def cli(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.run(sys.executable, "-m", "harness.cli", *args, timeout=600)


@pytest.fixture
def example(pytester: pytest.Pytester) -> Path:
    standard, plants, birds = blocks("json")[:3]
    (pytester.path / "standards").mkdir()
    (pytester.path / "teams").mkdir()
    (pytester.path / "standards" / "image-classifier.json").write_text(standard)
    (pytester.path / "teams" / "plants.json").write_text(plants)
    (pytester.path / "teams" / "birds.json").write_text(birds)
    return pytester.path


def test_the_example_files_are_what_the_readme_says(example: Path) -> None:
    assert "teams/plants.json" in section() and "teams/birds.json" in section()
    for path in example.rglob("*.json"):
        json.loads(path.read_text())  # each block is a whole JSON document


def test_show_resolved_prints_the_lines_the_readme_shows(pytester: pytest.Pytester,
                                                         example: Path) -> None:
    result = cli(pytester, "show", "--resolved", "teams/plants.json")
    assert result.ret == 0, result.stderr.str()
    shown = [" ".join(line.split()) for line in result.stdout.lines]
    for line in blocks("")[0].strip().splitlines():
        assert " ".join(line.split()) in shown, line


def test_loosening_a_locked_range_is_the_error_the_readme_shows(pytester: pytest.Pytester,
                                                                example: Path) -> None:
    birds = example / "teams" / "birds.json"
    data = json.loads(birds.read_text())
    data["signatures"]["classify"]["inputs"]["image"]["range"] = [0.0, 255.0]
    birds.write_text(json.dumps(data))
    result = cli(pytester, "validate", "teams/birds.json")
    assert result.ret == 1
    assert blocks("")[1].strip() in result.stderr.str()


def test_lint_fails_as_the_readme_shows(pytester: pytest.Pytester, example: Path) -> None:
    result = cli(pytester, "lint", "teams/birds.json", "teams/plants.json")
    assert result.ret == 1
    assert result.stdout.str().strip() == blocks("")[2].strip()


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_the_release_gate_fails_as_the_readme_shows(pytester: pytest.Pytester,
                                                    example: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=example,
                       check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("add", ".")
    git("commit", "-qm", "plants 1.2.0")
    plants = example / "teams" / "plants.json"
    data = json.loads(plants.read_text())  # "changes its input to 256x256 and releases 1.3.0"
    data["signatures"]["classify"]["inputs"]["image"]["shape"] = ["batch", 256, 256, 3]
    data["version"] = "1.3.0"
    plants.write_text(json.dumps(data))
    result = cli(pytester, "diff", "teams/plants.json", "--against", "main:teams/plants.json")
    assert result.ret == 1
    assert result.stdout.str().strip() == blocks("")[3].strip()
    data["version"] = "2.0.0"  # "As 2.0.0 it passes"
    plants.write_text(json.dumps(data))
    assert cli(pytester, "diff", "teams/plants.json", "--against", "main:teams/plants.json").ret == 0
