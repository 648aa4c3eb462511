"""The rule registry: every lint rule has an id, a tier, a default level and a one-line doc.

A rule is a function ``(document) -> iterable of (pointer, message)`` over a document in
contract coordinates (a contract merged with its standards, or what ``saved_model.pb``
declares, written as a contract by ``init``), registered with :func:`rule`. Tiers nest:
``minimal`` is in ``basic``, which is in ``strict``; a run applies the rules of its tier at
their level, which a standard or a contract can change per rule (``lint.rules``).
Organisations add rules from an installed package: each entry point of the group
``model_contract.rules`` names a module (or a function) whose import registers them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from harness.registry import Registry

TIERS = ("minimal", "basic", "strict")
LEVELS = ("error", "warning", "info")
ENTRY_POINT_GROUP = "model_contract.rules"

Check = Callable[[Mapping[str, Any]], Iterable[tuple[str, str]]]


@dataclass(frozen=True)
class Rule:
    """One lint rule: what it is called, which tier it belongs to, how loud it is by default."""

    id: str
    tier: str
    level: str
    doc: str
    check: Check
    subjects: tuple[str, ...] = ("contract", "model")  # what it can judge


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


def rule(id: str, *, tier: str, level: str, doc: str,
         subjects: tuple[str, ...] = ("contract", "model")) -> Callable[[Check], Check]:
    """Register ``check`` as the lint rule ``id``."""
    assert tier in TIERS and level in LEVELS, (tier, level)
    assert id.isupper() and " " not in id, id

    def register(check: Check) -> Check:
        RULES.add(id, Rule(id, tier, level, doc, check, subjects))
        return check
    return register


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
             "\"error\" | \"warning\" | \"info\" | \"off\"}}`.", "",
             "| rule | tier | default level | applies to | what it asks |",
             "|---|---|---|---|---|"]
    for r in RULES.values():
        lines.append(f"| `{r.id}` | {r.tier} | {r.level} | {', '.join(r.subjects)} | {r.doc} |")
    return "\n".join(lines) + "\n"
