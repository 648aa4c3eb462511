"""Golden tests: ``--golden-results PATH`` writes every verdict as JSON (the drift report reads it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROWS = pytest.StashKey[list[dict[str, Any]]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--golden-results", default=None, metavar="PATH",
                     help="write the golden verdicts of this run as JSON to PATH")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[ROWS] = []


@pytest.fixture
def golden_log(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return request.config.stash[ROWS]


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = session.config.getoption("golden_results", None)
    if not path:
        return
    from harness.golden.manifest import environment

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"environment": environment(), "rows": session.config.stash[ROWS]},
                              indent=1) + "\n", encoding="utf-8")
