"""What a saved failing example belongs to, for ``--replay``.

A failing example is saved as ``.npz`` with a ``.json`` sidecar naming the contract,
model, signature and check it was found by (:func:`harness.fuzz.save_call`). Before a
replay runs, the front end reads the sidecar here: a file that does not exist, has no
sidecar, or was saved by another contract is a usage error, and only the test the example
belongs to is run (a valid input of one signature may be nonsense to another, and
replaying it there would blame the model).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from harness.errors import HarnessError


class ReplayError(HarnessError):
    """``--replay`` names a file that cannot be replayed in this run."""


@dataclass(frozen=True)
class ReplayFile:
    """A saved example and the case that found it."""

    path: Path
    contract: Path
    model: Path
    signature: str | None
    check: str

    def describe(self) -> str:
        sig = f", signature {self.signature!r}" if self.signature else ""
        return f"contract {self.contract}, model {self.model}{sig}, check {self.check!r}"

    def matches(self, contract: Path, model: Path, signature: str | None, check: str) -> bool:
        """Whether the case ``(contract, model, signature, check)`` is the one that saved it."""
        return (_same(contract, self.contract) and _same(model, self.model)
                and signature == self.signature and check == self.check)


def _same(a: Path, b: Path) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def read_replay(path: Path, contracts: Iterable[Path]) -> ReplayFile:
    """The replay file at ``path``, checked against the run's ``contracts``."""
    path = Path(path)
    if not path.is_file():
        raise ReplayError("--replay: no such file", file=path,
                          hint="give the .npz path the failure's 'Reproduce with:' line names")
    sidecar = path.with_suffix(".json")
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        saved = ReplayFile(path, Path(meta["contract"]), Path(meta["model"]),
                           meta.get("signature"), str(meta["check"]))
    except FileNotFoundError:
        raise ReplayError(f"--replay: {sidecar.name} is missing beside it, so nothing says which "
                          "contract, model, signature and check the example belongs to",
                          file=path) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ReplayError(f"--replay: {sidecar.name} cannot be read ({type(exc).__name__}: "
                          f"{exc})", file=path) from None
    contracts = list(contracts)
    if not any(_same(c, saved.contract) for c in contracts):
        raise ReplayError(
            f"--replay: the example was saved by {saved.describe()}, not by the contract of "
            f"this run ({', '.join(str(c) for c in contracts)})", file=path,
            hint=f"run it with --contract {saved.contract}")
    return saved
