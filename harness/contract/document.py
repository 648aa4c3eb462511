"""A JSON document of the contract family (a contract or a standard): parse it and describe
what its JSON Schema finds wrong, one readable sentence per problem.

Syntax errors give line and column; duplicate keys and non-JSON constants are refused;
nesting is bounded. Schema problems are (JSON pointer, message) pairs, sorted, deduplicated.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from harness.contract import json_limits
from harness.contract.json_limits import pointer
from harness.errors import ContractError

_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
               int: "an integer", float: "a number", type(None): "null"}


def parse(path: Path) -> Any:
    """The JSON document at ``path``; syntax errors and duplicate keys give line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContractError("contract file not found", file=path) from None
    except IsADirectoryError:
        raise ContractError("is a directory, expected a contract JSON file", file=path) from None
    except UnicodeDecodeError as exc:
        raise ContractError(f"not UTF-8 text (byte {exc.start})", file=path) from None
    except OSError as exc:
        raise ContractError(f"cannot read: {exc.strerror}", file=path) from None
    return parse_text(text, path)


def parse_text(text: str, path: Path) -> Any:
    """The JSON document ``text`` (read from ``path`` or elsewhere, e.g. a git revision)."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen[key] = value
        return seen

    try:
        data = json.loads(text, object_pairs_hook=no_duplicates, parse_constant=_reject_constant)
        if json_limits.too_deep(data):
            raise RecursionError
        return data
    except RecursionError:
        raise ContractError(f"objects and arrays are nested more than {json_limits.MAX_DEPTH} "
                            "levels deep; a contract is a few levels deep", file=path) from None
    except json.JSONDecodeError as exc:
        raise ContractError(f"invalid JSON: {exc.msg}", file=path,
                            place=f"line {exc.lineno}, column {exc.colno}") from None
    except _DuplicateKey as exc:
        line = _line_of_key(text, exc.key)
        raise ContractError(f"duplicate key {exc.key!r}; each key may appear once in an object",
                            file=path, place=f"line {line}" if line else None) from None
    except _BadConstant as exc:
        raise ContractError(f"{exc.name} is not valid JSON; write a number or a string",
                            file=path) from None


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


class _BadConstant(Exception):
    def __init__(self, name: str) -> None:
        self.name = name


def _reject_constant(name: str) -> Any:
    raise _BadConstant(name)


def _line_of_key(text: str, key: str) -> int | None:
    needle = json.dumps(key)
    hits = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    return hits[1] if len(hits) > 1 else (hits[0] if hits else None)


def _dedupe(problems: list[tuple[str, str]]) -> list[tuple[str, str]]:
    seen: set[tuple[str, str]] = set()
    out = []
    for item in problems:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def _kind(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _deepest(error: Any) -> Any:
    """For anyOf/oneOf failures, the alternative that got furthest into the instance."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        if error.schema.get("title") == "shape entry" if isinstance(error.schema, dict) else False:
            return error
        best = max(error.context, key=lambda e: (len(e.absolute_path), e.validator != "type"))
        if len(best.absolute_path) > len(error.absolute_path):
            return _deepest(best)
    return error


def _describe(error: Any) -> str:
    """One readable sentence for a jsonschema error: found, then expected."""
    v = error.validator
    inst = error.instance
    sch = error.schema if isinstance(error.schema, dict) else {}
    if v == "enum":
        title = sch.get("title") or "an allowed value"
        options = ", ".join(str(o) for o in error.validator_value)
        article = "a " if title[0] not in "aeiou" else "an "
        if title == "an allowed value":
            article = ""
        return f"{_show(inst)} is not {article}{title}; expected one of {options}"
    if v == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return f"found {_kind(inst)} {_show(inst)}; expected {_with_article(expected)}"
    if v == "required":
        missing = [k for k in error.validator_value if isinstance(inst, dict) and k not in inst]
        return f"missing required key {missing[0]!r}" if missing else error.message
    if v == "additionalProperties" and isinstance(inst, dict):
        allowed = sorted((sch.get("properties") or {}).keys())
        extra = [k for k in inst if k not in allowed]
        key = extra[0] if extra else "?"
        near = difflib.get_close_matches(key, allowed, n=1)
        tail = f"; did you mean {near[0]!r}?" if near else ""
        if near:
            return f"unknown key {key!r}{tail}"
        return f"unknown key {key!r}; expected one of {', '.join(allowed)}"
    if v == "anyOf" and sch.get("title") == "shape entry":
        return (f"{_show(inst)} is not a shape entry; expected an integer >= 0 (fixed size), "
                "null (any size) or a dim name")
    if v == "anyOf":
        desc = sch.get("description", "")
        return f"{_show(inst)} is not valid here" + (f"; expected {desc[0].lower()}{desc[1:]}" if desc else "")
    if v in ("minimum", "exclusiveMinimum"):
        return f"{_show(inst)} is below the minimum {error.validator_value}"
    if v in ("maximum", "exclusiveMaximum"):
        return f"{_show(inst)} is above the maximum {error.validator_value}"
    if v in ("minItems", "maxItems"):
        n = len(inst) if isinstance(inst, list) else "?"
        bound = "at least" if v == "minItems" else "at most"
        return f"found {n} item(s); expected {bound} {error.validator_value}"
    if v == "items" and error.validator_value is False:
        return f"found {len(inst)} items; expected exactly 2 ([min, max])"
    if v == "minProperties":
        return f"found an empty object; expected at least {error.validator_value} entry"
    if v == "minLength":
        return "found an empty string; expected a non-empty string"
    if v == "pattern" and "x-expected" in sch:
        return f"{_show(inst)} is not valid here; expected {sch['x-expected']}"
    if v == "pattern":
        return f"{_show(inst)} does not match the pattern {error.validator_value}"
    if v == "uniqueItems":
        return f"{_show(inst)} has duplicate items; expected unique items"
    if v == "propertyNames":
        return f"{_show(inst)} is not a valid name"
    return error.message


def _with_article(word: str) -> str:
    if word == "null":
        return "null"
    return ("an " if word[0] in "aeiou" else "a ") + word


def schema_problems(data: Any, schema: dict[str, Any]) -> list[tuple[str, str]]:
    """Every problem the JSON Schema ``schema`` finds in ``data``: (pointer, message), sorted."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    errors = [_deepest(e) for e in validator.iter_errors(data)]
    for error in sorted(errors, key=lambda e: (list(map(str, e.absolute_path)), str(e.validator))):
        problems.append((pointer(error.absolute_path), _describe(error)))
    return _dedupe(problems)


def infinite_numbers(data: Any) -> list[tuple[str, str]]:
    """(pointer, message) of every number too large for a 64-bit float."""
    return [(pointer(where), f"the number reads as {value} (too large for a 64-bit float); "
                             "write a finite number")
            for where, value in json_limits.non_finite(data)]
