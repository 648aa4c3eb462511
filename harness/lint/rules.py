"""The rule registry: every lint rule has an id, a tier, a default level and a one-line doc.

A rule is a function ``(document) -> iterable of (pointer, message)`` over a document in
contract coordinates (a contract merged with its standards, or what ``saved_model.pb``
declares, written as a contract by ``init``), registered with :func:`rule`. Tiers nest:
``minimal`` is in ``basic``, which is in ``strict``; a run applies the rules of its tier at
their level, which a standard or a contract can change per rule (``lint.rules``). A rule may
take options (:class:`RuleOption`: a name, a JSON Schema, a default, a doc); it is then
called as ``check(document, options)`` with every option's value, and a standard or a
contract sets them with ``"lint": {"rules": {"ID": {"level": ..., "options": {...}}}}``
(validated against the option's schema, which the published contract and standard schemas
carry for the built-in rules: :func:`rules_schema`).
Organisations add rules from an installed package: each entry point of the group
``model_contract.rules`` names a module (or a function) whose import registers them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from harness.registry import Registry

TIERS = ("minimal", "basic", "strict")
LEVELS = ("error", "warning", "info")
ENTRY_POINT_GROUP = "model_contract.rules"

#: ``(document) -> (pointer, message)...``, or ``(document, options)`` for a rule with options
Check = Callable[..., Iterable[tuple[str, str]]]


@dataclass(frozen=True)
class RuleOption:
    """One setting of a rule: its name, the JSON Schema of its value, its default, its doc."""

    name: str
    schema: Mapping[str, Any]  # may use the contract schema's $defs (e.g. #/$defs/dtype)
    default: Any
    doc: str


@dataclass(frozen=True)
class Rule:
    """One lint rule: what it is called, which tier it belongs to, how loud it is by default."""

    id: str
    tier: str
    level: str
    doc: str
    check: Check
    subjects: tuple[str, ...] = ("contract", "model")  # what it can judge
    options: tuple[RuleOption, ...] = ()

    def run(self, document: Mapping[str, Any],
            options: Mapping[str, Any] | None = None) -> Iterable[tuple[str, str]]:
        """The rule's findings on ``document``, with ``options`` over the defaults."""
        if not self.options:
            return self.check(document)
        values = {o.name: o.default for o in self.options}
        values.update(options or {})
        return self.check(document, values)


@dataclass(frozen=True)
class Finding:
    """A rule's verdict at one place: what a text line, JSON, JUnit and SARIF render."""

    rule: str
    level: str
    file: str
    pointer: str
    message: str
    line: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "level": self.level, "file": self.file,
                "pointer": self.pointer, "line": self.line, "message": self.message}


RULES: Registry[Rule] = Registry("lint rule")

#: rules about the suppressions themselves (ignores and the baseline): id -> (level, one-line doc)
META_RULES = {
    "IGNORE_STALE": ("warning", "An ignore matches no finding: remove it."),
    "IGNORE_EXPIRED": ("warning", "An ignore is past its `expires` date and no longer applies."),
    "IGNORE_FORBIDDEN": ("error", "An ignore of a rule whose level a standard locks, where the "
                                  "standard sets `forbid_ignoring_locked`; it does not apply."),
    "BASELINE_STALE": ("warning", "A `--baseline` entry for a linted file matches no finding: "
                                  "remove it (or rewrite the baseline with `--write-baseline`)."),
}


def rule(id: str, *, tier: str, level: str, doc: str,
         subjects: tuple[str, ...] = ("contract", "model"),
         options: tuple[RuleOption, ...] = ()) -> Callable[[Check], Check]:
    """Register ``check`` as the lint rule ``id`` (called with its options when it has any)."""
    assert tier in TIERS and level in LEVELS, (tier, level)
    assert id.isupper() and " " not in id, id

    def register(check: Check) -> Check:
        RULES.add(id, Rule(id, tier, level, doc, check, subjects, tuple(options)))
        return check
    return register


LEVEL_SCHEMA = {"enum": [*LEVELS, "off"], "title": "lint level",
                "description": "The rule's level: error, warning, info or off."}


def setting_schema(r: Rule | None) -> dict[str, Any]:
    """The JSON Schema of ``lint.rules.ID``: a level, or {"level", "options"} (``r``'s options
    when given, any object for a rule the schema does not know)."""
    options: dict[str, Any] = {"type": "object", "description": "The rule's options."}
    if r is not None:
        options = {"type": "object", "additionalProperties": False,
                   "description": f"Options of {r.id}.",
                   "properties": {o.name: dict(o.schema, description=o.doc) for o in r.options}}
    return {"description": f"{r.id if r else 'A rule'}: a level, or its level and options.",
            "anyOf": [LEVEL_SCHEMA, {
                "type": "object", "additionalProperties": False,
                "properties": {"level": LEVEL_SCHEMA, "options": options}}]}


def rules_schema() -> dict[str, Any]:
    """The schema of ``lint.rules`` in the published contract and standard schemas: every
    built-in rule with options gets its options' schema; any other rule id a level or an
    object with a level and options (a plugin rule's options are checked when it runs)."""
    return {
        "type": "object", "propertyNames": {"pattern": "^[A-Z][A-Z0-9_]*$"},
        "description": "Per rule id: a level (error, warning, info or off), or {\"level\", "
                       "\"options\"}; a rule set here applies whatever the tier.",
        "properties": {r.id: setting_schema(r) for r in RULES.values()
                       if r.options and r.check.__module__ == "harness.lint.house"},
        "additionalProperties": setting_schema(None)}


def in_tier(r: Rule, tier: str) -> bool:
    return TIERS.index(r.tier) <= TIERS.index(tier)


def load_plugins() -> list[str]:
    """Import every ``model_contract.rules`` entry point (which registers its rules)."""
    from importlib.metadata import entry_points

    loaded = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        target = ep.load()
        if callable(target) and not isinstance(target, type):
            target()
        loaded.append(ep.name)
    return loaded


def reference_markdown() -> str:
    """The rules reference (docs/rules.md), generated from the registry."""
    lines = ["# Lint rules", "",
             "Generated from the rule registry by `model-contract rules --markdown`; do not edit.",
             "Tiers nest: minimal is in basic, basic in strict (the default tier is basic). A "
             "standard or a contract sets a rule's level with `\"lint\": {\"rules\": {\"ID\": "
             "\"error\" | \"warning\" | \"info\" | \"off\"}}`, and its options with "
             "`\"ID\": {\"level\": ..., \"options\": {...}}` (validated against the option's "
             "schema).", "",
             "| rule | tier | default level | applies to | options | what it asks |",
             "|---|---|---|---|---|---|"]
    for r in RULES.values():
        names = ", ".join(f"`{o.name}`" for o in r.options) or "-"
        lines.append(f"| `{r.id}` | {r.tier} | {r.level} | {', '.join(r.subjects)} | {names} | "
                     f"{r.doc} |")
    lines += ["", "Rules about the suppressions themselves (always on; a contract's `lint.rules` "
              "sets their level like any other's):", "", "| rule | default level | what it "
              "reports |", "|---|---|---|"]
    lines += [f"| `{rule_id}` | {level} | {doc} |" for rule_id, (level, doc) in META_RULES.items()]
    with_options = [r for r in RULES.values() if r.options]
    if with_options:
        lines += ["", "## Rule options", ""]
        for r in with_options:
            lines += [f"### {r.id}", "", "| option | value | default | what it does |",
                      "|---|---|---|---|"]
            lines += [f"| `{o.name}` | {describe_schema(o.schema)} | `{json.dumps(o.default)}` | "
                      f"{o.doc} |" for o in r.options]
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def describe_schema(schema: Mapping[str, Any]) -> str:
    """A few words for an option's schema (the rules reference)."""
    if schema.get("type") == "array":
        items = schema.get("items") or {}
        what = "dtypes" if items.get("$ref", "").endswith("/dtype") else f"{items.get('type', 'value')}s"
        return f"array of {what}"
    if schema.get("type") == "string" and schema.get("format") == "regex":
        return "regular expression"
    if "anyOf" in schema:
        return " or ".join("null" if s.get("type") == "null" else describe_schema(s)
                           for s in schema["anyOf"])
    return str(schema.get("type", "value"))
