"""A contract as it was at a git revision: ``REV:PATH`` read with ``git show`` (no checkout).

``PATH`` is relative to the repository's top (``main:contracts/x.json``) or, starting with
``./``, to the working directory, as git reads it. The text is loaded as if it were at
``PATH`` in the working tree: paths inside it (``extends``, ``models``) resolve against the
working tree, so a standard is read as it is now, not as it was at ``REV``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from harness.contract.load import load_contract
from harness.contract.model import Contract
from harness.errors import HarnessError


def is_revision(spec: str) -> bool:
    """True for ``REV:PATH`` that is not an existing file or folder."""
    rev, sep, path = spec.partition(":")
    return bool(sep and rev and path) and not Path(spec).exists()


def contract_at(spec: str) -> Contract:
    """The contract ``REV:PATH`` names, read with ``git show``."""
    rev, _, path = spec.partition(":")
    text = _git(["show", f"{rev}:{path}"], spec)
    if path.startswith("./") or path.startswith("../"):
        where = Path(path)
    else:
        where = Path(_git(["rev-parse", "--show-toplevel"], spec).strip()) / path
    return load_contract(where, text=text)


def _git(args: list[str], spec: str) -> str:
    try:
        done = subprocess.run(["git", *args], capture_output=True, text=True, timeout=60,
                              check=False)
    except FileNotFoundError:
        raise HarnessError(f"cannot read {spec!r}: git is not installed") from None
    if done.returncode != 0:
        raise HarnessError(f"cannot read {spec!r} with git: {done.stderr.strip()}",
                           hint="REV:PATH names a file at a git revision, e.g. "
                                "main:contracts/x.json (PATH from the repository's top)")
    return done.stdout
