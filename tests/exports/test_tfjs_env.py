"""The converter's environment: created once under a lock, reused, failures named.

Run on a requirements file of our own (empty, or broken) so nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import BackendUnavailable
from harness.exports import tfjs_env


@pytest.fixture()
def requirements(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "requirements.txt"
    path.write_text("# nothing to install\n")
    monkeypatch.setattr(tfjs_env, "REQUIREMENTS", path)
    return path


def test_the_environment_is_created_once_and_reused(requirements: Path, tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    stale = tools / f".{tfjs_env.env_dir(tools).name}-killed"
    stale.mkdir()  # a creation that was killed half-way
    assert not tfjs_env.is_ready(tools)
    python = tfjs_env.converter_python(tools)
    assert python == tfjs_env.env_dir(tools) / "bin" / "python" and python.exists()
    assert tfjs_env.is_ready(tools) and not stale.exists()
    marker = tfjs_env.env_dir(tools) / tfjs_env.COMPLETE
    made = marker.stat().st_mtime_ns
    assert tfjs_env.converter_python(tools) == python
    assert marker.stat().st_mtime_ns == made  # nothing made again

    requirements.write_text("# another pin set\n")
    assert tfjs_env.env_dir(tools) != python.parents[1]  # new pins, new environment


def test_a_failed_creation_names_the_step_and_leaves_nothing(requirements: Path,
                                                            tmp_path: Path) -> None:
    requirements.write_text("==not a requirement\n")
    tools = tmp_path / "tools"
    with pytest.raises(BackendUnavailable) as info:
        tfjs_env.converter_python(tools)
    message = str(info.value)
    assert message.startswith("backend 'tfjs' unavailable: creating the TF.js converter "
                              "environment: pip install -r requirements.txt failed (exit status")
    assert "Invalid requirement" in message
    assert not tfjs_env.is_ready(tools)
    assert [p.name for p in tools.iterdir() if not p.name.endswith(".lock")] == []
