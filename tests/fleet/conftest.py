"""The generated fleet, built once per session into a temporary directory."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def fleet_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """33 models in three kinds and two versions, their contracts, models.config, fleet.json."""
    from models_under_test.fleet import build_fleet

    root = tmp_path_factory.mktemp("fleet")
    build_fleet(root, models=33)
    return root


@pytest.fixture(scope="session")
def small_fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four models (three kinds, every version policy) and the orphan, for runs."""
    from models_under_test.fleet import build_fleet

    root = tmp_path_factory.mktemp("small-fleet")
    build_fleet(root, models=4)
    return root
