"""Tighten-only: what a file that extends a standard may do to a locked requirement.

``loosenings(inherited, value, path)`` compares the value a standard locks with the value
after the extending file is applied and yields every place where the new value admits
something the inherited one did not: a wider range or dim, a dtype or a fixed size changed,
an output, check or signature dropped, a larger tolerance, a flag relaxed. Narrowing is
always allowed: a range or a dim inside the inherited one, a size fixed where the standard
left it open, outputs, checks, signatures added.

Each field has its own rule, looked up by the field's key in :data:`FIELD_RULES` (a
registry); a field without one must keep its inherited value. Pure: no I/O, no TensorFlow.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterator, Mapping

from harness.contract.json_limits import pointer
from harness.registry import Registry

Path_ = list[Any]
#: (inherited, value, path, context) -> messages (one per loosening, at the field's pointer)
FieldRule = Callable[[Any, Any, Path_, "Context"], Iterator[str]]


class Context:
    """What a rule may need besides the two values: the dims on both sides."""

    def __init__(self, inherited_dims: Mapping[str, Any], dims: Mapping[str, Any]) -> None:
        self.inherited_dims = inherited_dims
        self.dims = dims


FIELD_RULES: Registry[FieldRule] = Registry("tighten-only field rule")


def field_rule(*keys: str) -> Callable[[FieldRule], FieldRule]:
    def register(fn: FieldRule) -> FieldRule:
        for key in keys:
            FIELD_RULES.add(key, fn)
        return fn
    return register


def show(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def loosenings(inherited: Any, value: Any, path: Path_,
               context: Context) -> Iterator[tuple[str, str]]:
    """(pointer, message) for every way ``value`` loosens ``inherited`` at ``path``."""
    key = str(path[-1]) if path else ""
    if len(path) == 3 and path[:2] == ["lint", "rules"]:  # a lint rule's level and options
        for message in _lint_rule_setting(inherited, value, path, context):
            yield pointer(path), message
        return
    rule = FIELD_RULES.get(key) if not _is_name_position(path) else None
    if rule is not None and not isinstance(inherited, dict):
        for message in rule(inherited, value, path, context):
            yield pointer(path), message
        return
    if isinstance(inherited, dict):
        if not isinstance(value, dict):
            yield pointer(path), f"replaces an object with {show(value)}"
            return
        for name, sub in inherited.items():
            if name not in value:
                yield pointer(path + [name]), f"removes {_what(path + [name])} the standard locks"
                continue
            yield from loosenings(sub, value[name], path + [name], context)
        return
    if inherited != value:
        yield pointer(path), f"changes {show(inherited)} to {show(value)}"


def _is_name_position(path: Path_) -> bool:
    """True where a key is a user's name (a signature, tensor or dim), not a field."""
    if len(path) >= 2 and path[-2] in ("signatures", "inputs", "outputs", "dims", "formats"):
        return True
    return False


def _what(path: Path_) -> str:
    parent = path[-2] if len(path) >= 2 else ""
    noun = {"signatures": "signature", "inputs": "input", "outputs": "output",
            "dims": "dim", "formats": "format"}.get(str(parent))
    return f"{noun} {path[-1]!r}" if noun else f"{path[-1]!r}"


@field_rule("dtype", "tags", "statistic", "method_name", "name", "vocabulary", "alphabet")
def _equal(inherited: Any, value: Any, path: Path_, context: Context) -> Iterator[str]:
    if inherited != value:
        yield f"changes {path[-1]} {show(inherited)} to {show(value)}"


@field_rule("range", "length")
def _interval(inherited: Any, value: Any, path: Path_, context: Context) -> Iterator[str]:
    if not (isinstance(value, list) and len(value) == 2 and value[0] >= inherited[0]
            and value[1] <= inherited[1]):
        yield f"widens {path[-1]} {show(inherited)} to {show(value)}; only a narrower one is allowed"


@field_rule("min")
def _lower_bound(inherited: Any, value: Any, path: Path_, context: Context) -> Iterator[str]:
    if not (isinstance(value, (int, float)) and value >= inherited):
        yield f"lowers min {show(inherited)} to {show(value)}; it may only be raised"


@field_rule("max")
def _upper_bound(inherited: Any, value: Any, path: Path_, context: Context) -> Iterator[str]:
    if not (isinstance(value, (int, float)) and value <= inherited):
        yield f"raises max {show(inherited)} to {show(value)}; it may only be lowered"


@field_rule("atol", "rtol")
def _tolerance(inherited: Any, value: Any, path: Path_, context: Context) -> Iterator[str]:
    if not (isinstance(value, (int, float)) and value <= inherited):
        yield f"relaxes {path[-1]} {show(inherited)} to {show(value)}; it may only be lowered"


@field_rule("enum")
def _subset(inherited: Any, value: Any, path: Path_, context: Context) -> Iterator[str]:
    extra = [v for v in value if v not in inherited] if isinstance(value, list) else [value]
    if extra:
        yield f"adds {show(extra)} to enum {show(inherited)}; it may only be narrowed"


@field_rule("checks", "relations", "reject")
def _superset(inherited: Any, value: Any, path: Path_, context: Context) -> Iterator[str]:
    kept = value if isinstance(value, list) else []
    for item in inherited:
        if item not in kept:
            yield f"drops {path[-1][:-1] if path[-1] != 'reject' else 'reject entry'} {show(item)}; " \
                  "entries may only be added"


@field_rule("assets")
def _assets(inherited: Any, value: Any, path: Path_, context: Context) -> Iterator[str]:
    yield from _superset(inherited, value, path, context)


@field_rule("allow_nan", "allow_inf", "allow_subnormal", "stateful")
def _stays_false(inherited: Any, value: Any, path: Path_, context: Context) -> Iterator[str]:
    if inherited is False and value is not False:
        yield f"turns {path[-1]} on; the standard locks it off"


@field_rule("deterministic", "batch_consistent", "enabled")
def _stays_true(inherited: Any, value: Any, path: Path_, context: Context) -> Iterator[str]:
    if inherited is not False and value is False:
        yield f"turns {path[-1]} off; the standard locks it on"


@field_rule("shape")
def _shape(inherited: Any, value: Any, path: Path_, context: Context) -> Iterator[str]:
    if inherited is None:
        return  # any rank: everything is a tightening
    if not isinstance(value, list) or len(value) != len(inherited):
        yield f"changes the rank of shape {show(inherited)} to {show(value)}"
        return
    for i, (was, now) in enumerate(zip(inherited, value)):
        if was is None or was == now:
            continue
        where = f"shape[{i}]"
        if isinstance(was, int):
            yield f"{where} changes the fixed size {was} to {show(now)}"
        elif isinstance(was, str):
            bound = context.inherited_dims.get(was)
            if now is None:
                yield f"{where} opens dim {was!r} to any size"
            elif isinstance(now, int) and bound and not bound["min"] <= now <= bound["max"]:
                yield (f"{where} fixes {now}, outside dim {was!r} "
                       f"[{bound['min']}, {bound['max']}]")
            elif isinstance(now, str):
                mine = context.dims.get(now)
                if bound and mine and not (mine["min"] >= bound["min"] and mine["max"] <= bound["max"]):
                    yield (f"{where} uses dim {now!r} [{mine['min']}, {mine['max']}], wider than "
                           f"dim {was!r} [{bound['min']}, {bound['max']}]")


#: lint levels, quietest first: a file may raise a locked rule's level, never lower it
LINT_LEVELS = ("off", "info", "warning", "error")
#: lint rule options whose list a file may narrow to a subset (it asks for more then)
NARROWING_OPTIONS = ("allowed", "verbs")


@field_rule("level")
def _lint_level(inherited: Any, value: Any, path: Path_, context: Context) -> Iterator[str]:
    if inherited in LINT_LEVELS and (value not in LINT_LEVELS or
                                     LINT_LEVELS.index(value) < LINT_LEVELS.index(inherited)):
        yield (f"lowers the level {show(inherited)} to {show(value)}; a locked rule's level may "
               "only be raised")


def _lint_rule_setting(inherited: Any, value: Any, path: Path_,
                       context: Context) -> Iterator[str]:
    """A locked ``lint.rules.ID``: a level (or ``{"level", "options"}``) that may be raised,
    options that are kept (or, for :data:`NARROWING_OPTIONS`, narrowed to a subset)."""
    was: dict[str, Any] = {"level": inherited} if isinstance(inherited, str) else dict(inherited)
    now: dict[str, Any] = ({"level": value} if isinstance(value, str)
                           else dict(value) if isinstance(value, dict) else {})
    if "level" in was:
        if "level" not in now:
            yield f"drops the level {show(was['level'])} the standard locks (write it again)"
        else:
            yield from _lint_level(was["level"], now["level"], path + ["level"], context)
    options = now.get("options") or {}
    for name, locked in (was.get("options") or {}).items():
        if name not in options:
            yield f"removes option {name!r} the standard locks"
        elif name in NARROWING_OPTIONS and isinstance(locked, list) and isinstance(
                options[name], list):
            extra = [v for v in options[name] if v not in locked]
            if extra:
                yield (f"adds {show(extra)} to option {name!r} {show(locked)}; it may only be "
                       "narrowed")
        elif options[name] != locked:
            yield f"changes option {name!r} {show(locked)} to {show(options[name])}"
