"""The plugin imports hypothesis without pytest's assertion rewriting (which, where pytest
cannot cache it, costs every run a parse and compile of hypothesis' modules), and leaves
the rewriting of the user's own files as it was."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import FIXTURES, write_contract

PROBE = textwrap.dedent("""
    import sys

    def rewritten(name):
        loader = getattr(sys.modules.get(name), "__loader__", None)
        return type(loader).__name__ == "AssertionRewritingHook"

    def pytest_collection_finish(session):
        names = ("hypothesis", "hypothesis.core", "hypothesis.strategies", "conftest",
                 "_hypothesis_pytestplugin")
        print("REWRITTEN", sorted(n for n in names if rewritten(n)))
""")


def test_hypothesis_is_imported_unrewritten_and_user_files_still_are(tmp_path: Path) -> None:
    contract = write_contract(tmp_path, models=[str(FIXTURES / "tiny")])
    (tmp_path / "conftest.py").write_text(PROBE)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-s",
                           "--co", "-q", "--contract", str(contract), "--rootdir",
                           str(tmp_path)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    [line] = [out for out in done.stdout.splitlines() if out.startswith("REWRITTEN")]
    # pytest still rewrites what it always did (the user's conftest, plugin modules it
    # loaded itself); hypothesis, imported by the plugin, is a plain library
    assert line == "REWRITTEN ['_hypothesis_pytestplugin', 'conftest']"
