"""Errors a user can act on, kept apart from check failures.

Two families:

* :class:`HarnessError` and its subclasses are *user errors*: a broken contract, a
  model directory that is not a SavedModel, a backend that is not installed. They carry
  the file and the place (a JSON pointer, a tensor name) and are shown without a
  traceback.
* :class:`CheckFailure` is an :class:`AssertionError`: the model broke a promise of its
  contract. It has a title, a ``Received / Documented`` body and, where possible, the
  command that reproduces it.

Anything else that escapes is a bug in the harness and keeps its traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from harness.printable import printable


def _restore(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]) -> BaseException:
    """Rebuild an error sent from a backend's child process (see ``__reduce__``)."""
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class HarnessError(Exception):
    """A problem with the user's input that the user can fix; shown without a traceback."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self.args, dict(self.__dict__)))

    def __init__(self, message: str, *, file: str | Path | None = None, place: str | None = None,
                 hint: str | None = None) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.place = place
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        prefix = ""
        if self.file:
            prefix = f"{self.file}: "
        if self.place:
            prefix += f"{self.place}: "
        text = prefix + self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return printable(text)


class FleetError(HarnessError):
    """A fleet that cannot be planned: a bad model config or manifest, a shard file, a mixed merge."""


class ContractError(HarnessError):
    """The contract file cannot be used: bad JSON, schema violation, impossible domain.

    ``problems`` lists every ``(place, message)`` found; the rendered text has one line each.
    """

    def __init__(self, message: str, *, file: str | Path | None = None, place: str | None = None,
                 hint: str | None = None,
                 problems: Sequence[tuple[str | None, str]] = ()) -> None:
        self.problems = tuple(problems) or ((place, message),)
        super().__init__(message, file=file, place=place, hint=hint)

    def render(self) -> str:
        if len(self.problems) == 1:
            return super().render()
        head = f"{self.file}: " if self.file else ""
        lines = [f"{head}{len(self.problems)} problems in the contract:"]
        for place, message in self.problems:
            lines.append(f"  {head}{place + ': ' if place else ''}{message}")
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return printable("\n".join(lines))


class ModelError(HarnessError):
    """The model directory cannot be read as a SavedModel (missing, truncated, not a model)."""


class PolicyViolation(HarnessError):
    """The model carries ops the op policy forbids; nothing was loaded."""


class BackendUnavailable(HarnessError):
    """An optional backend cannot run here (package not installed, no server); tests skip."""

    def __init__(self, backend: str, reason: str, *, install: str | None = None) -> None:
        self.backend = backend
        self.reason = reason
        self.install = install
        hint = (f"install with: {install}" if install.startswith("pip ") else install) \
            if install else None
        super().__init__(f"backend {backend!r} unavailable: {reason}", hint=hint)


class ExportError(HarnessError):
    """A converter (TFLite, tf2onnx) failed on the model; reported as a failing check."""


@dataclass(frozen=True)
class Difference:
    """One place where received and documented disagree (a tensor, an index, a key)."""

    where: str
    received: str
    documented: str


class CheckFailure(AssertionError):
    """A model broke a promise of its contract.

    The message is laid out as::

        [check] title
        Received: ...
        Documented: ...
        <details>
        Reproduce with: <command>
    """

    def __init__(self, check: str, title: str, *, received: str | None = None,
                 documented: str | None = None, details: Sequence[str] = (),
                 reproduce: str | None = None) -> None:
        self.check = check
        self.title = title
        self.received = received
        self.documented = documented
        self.details = tuple(details)
        self.reproduce = reproduce
        super().__init__(self.render())

    def render(self) -> str:
        lines = [f"[{self.check}] {self.title}"]
        if self.received is not None:
            lines.append(f"Received: {self.received}")
        if self.documented is not None:
            lines.append(f"Documented: {self.documented}")
        lines.extend(self.details)
        if self.reproduce:
            lines.append(f"Reproduce with: {self.reproduce}")
        return printable("\n".join(lines))

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self.args, dict(self.__dict__)))

    def with_reproduce(self, command: str) -> "CheckFailure":
        return type(self)(self.check, self.title, received=self.received,
                          documented=self.documented, details=self.details,
                          reproduce=command)


class CrashFailure(CheckFailure):
    """A check failure caused by the backend's process dying (abort, segfault, limits)."""
