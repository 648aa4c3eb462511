"""TF Serving's ``model_config_list`` text format, read without TensorFlow Serving.

Only what a fleet needs is interpreted: each ``config``'s ``name``, ``base_path``,
``model_version_policy`` (``latest { num_versions }``, ``all {}``, ``specific { versions }``)
and ``version_labels``; other fields (``model_platform``, logging, ...) are read and ignored.
A file that is not in the text format fails with the file, line and what was found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Union

from harness.errors import FleetError

_TOKEN = re.compile(r'\s*(?:(#[^\n]*)|("(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\')|'
                    r'([A-Za-z_][\w.]*)|(-?\d+(?:\.\d*)?)|([{}:\[\],<>;]))')

Value = Union[str, int, "Message"]
Message = list[tuple[str, Value]]


@dataclass(frozen=True)
class VersionPolicy:
    """Which versions of a base path are served: ``latest`` N, ``all``, or ``specific`` ones."""

    kind: str = "latest"  # latest | all | specific
    count: int = 1  # latest: how many
    versions: tuple[int, ...] = ()  # specific

    def select(self, available: list[int]) -> list[int]:
        """The served versions among those present (lowest first)."""
        ordered = sorted(available)
        if self.kind == "all":
            return ordered
        if self.kind == "specific":
            return [v for v in ordered if v in self.versions]
        return ordered[-self.count:] if self.count > 0 else []

    def describe(self) -> str:
        if self.kind == "specific":
            return "specific " + ",".join(str(v) for v in self.versions)
        return "all" if self.kind == "all" else f"latest {self.count}"


@dataclass(frozen=True)
class ServedModel:
    """One ``config`` entry of a model_config_list."""

    name: str
    base_path: Path
    policy: VersionPolicy
    labels: tuple[tuple[str, int], ...] = ()
    line: int = 0


class _Reader:
    def __init__(self, text: str, path: Path) -> None:
        self.path = path
        self.tokens: list[tuple[str, str, int]] = []  # (kind, text, line)
        pos, line = 0, 1
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if match is None or match.end() == pos:
                rest = text[pos:].strip()
                if not rest:
                    break
                line += text.count("\n", pos, len(text) - len(text[pos:].lstrip()))
                raise self.error(line, f"unexpected character {rest[0]!r}")
            start = match.start(match.lastindex or 0)
            line += text.count("\n", pos, start)
            kind = ("comment", "string", "name", "number", "punct")[(match.lastindex or 1) - 1]
            if kind != "comment":
                self.tokens.append((kind, match.group(match.lastindex or 0), line))
            line += text.count("\n", start, match.end())
            pos = match.end()
        self.i = 0

    def error(self, line: int, message: str) -> FleetError:
        return FleetError(f"not a model_config_list: {message}", file=self.path,
                             place=f"line {line}",
                             hint="the TF Serving --model_config_file text format: "
                                  'model_config_list { config { name: "..." base_path: "..." } }')

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str, int]:
        token = self.peek()
        if token is None:
            last = self.tokens[-1][2] if self.tokens else 1
            raise self.error(last, "the file ends inside a block (a '}' is missing)")
        self.i += 1
        return token

    def message(self, closing: str | None) -> Message:
        fields: Message = []
        while True:
            token = self.peek()
            if token is None:
                if closing is not None:
                    self.take()
                return fields
            if token[0] == "punct" and token[1] in ("}", ">"):
                if closing is None:
                    raise self.error(token[2], f"unmatched {token[1]!r}")
                self.take()
                return fields
            if token[0] == "punct" and token[1] in (",", ";"):
                self.take()
                continue
            kind, name, line = self.take()
            if kind != "name":
                raise self.error(line, f"expected a field name, found {name!r}")
            nxt = self.take()
            if nxt[1] == ":":
                nxt = self.take()
            if nxt[1] in ("{", "<"):
                fields.append((name, self.message("}" if nxt[1] == "{" else ">")))
            elif nxt[1] == "[":
                while True:
                    item = self.take()
                    if item[1] == "]":
                        break
                    if item[1] != ",":
                        fields.append((name, self.scalar(item)))
            else:
                fields.append((name, self.scalar(nxt)))

    def scalar(self, token: tuple[str, str, int]) -> Value:
        kind, text, line = token
        if kind == "string":
            return bytes(text[1:-1], "utf-8").decode("unicode_escape")
        if kind == "number":
            return int(float(text)) if "." in text else int(text)
        if kind == "name":
            return text
        raise self.error(line, f"expected a value, found {text!r}")


def _line_of(reader: _Reader, nth_config: int) -> int:
    seen = 0
    for kind, text, line in reader.tokens:
        if kind == "name" and text == "config":
            if seen == nth_config:
                return line
            seen += 1
    return 0


def read_model_config(path: str | Path) -> list[ServedModel]:
    """The models of a model_config_list file, in file order."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FleetError(f"cannot read the model config: {exc}", file=path) from None
    reader = _Reader(text, path)
    top = reader.message(None)
    lists = [v for k, v in top if k == "model_config_list"]
    if len(lists) != 1 or not isinstance(lists[0], list):
        raise reader.error(1, "expected one top-level 'model_config_list { ... }' block")
    models: list[ServedModel] = []
    configs = [v for k, v in lists[0] if k == "config"]
    for n, config in enumerate(configs):
        line = _line_of(reader, n)
        assert isinstance(config, list)
        fields = dict(config)
        name, base = fields.get("name"), fields.get("base_path")
        if not isinstance(name, str) or not name or not isinstance(base, str) or not base:
            raise reader.error(line, "a config needs a name and a base_path (both strings)")
        base_path = Path(base)
        if not base_path.is_absolute():
            base_path = path.parent / base_path
        labels = []
        for key, value in config:
            if key == "version_labels" and isinstance(value, list):
                entry = dict(value)
                if isinstance(entry.get("key"), str) and isinstance(entry.get("value"), int):
                    labels.append((str(entry["key"]), int(entry["value"])))  # type: ignore[arg-type]
        models.append(ServedModel(name, base_path, _policy(reader, fields.get("model_version_policy"),
                                                           line), tuple(labels), line))
    if not models:
        raise reader.error(1, "the model_config_list has no config entry")
    return models


def _policy(reader: _Reader, value: Value | None, line: int) -> VersionPolicy:
    if value is None:
        return VersionPolicy()
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0][1], list):
        raise reader.error(line, "model_version_policy holds one of latest {}, all {}, specific {}")
    kind, body = value[0]
    assert isinstance(body, list)
    if kind == "all":
        return VersionPolicy("all")
    if kind == "latest":
        count = dict(body).get("num_versions", 1)
        return VersionPolicy("latest", int(count) if isinstance(count, int) else 1)
    if kind == "specific":
        versions = tuple(int(v) for k, v in body if k == "versions" and isinstance(v, int))
        if not versions:
            raise reader.error(line, "model_version_policy specific {} names no versions")
        return VersionPolicy("specific", versions=versions)
    raise reader.error(line, f"unknown model_version_policy {kind!r} (latest, all or specific)")
