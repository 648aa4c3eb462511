"""The one registry type: lookups, re-registration, and the declared checks it holds."""

from __future__ import annotations

import pytest

from harness.checks.case import CHECKS
from harness.engine import FAMILIES  # noqa: F401 - imports every family (their declarations)
from harness.registry import Registry


def first(x: int) -> int:
    return x


def second(x: int) -> int:
    return -x


def test_lookup_iteration_and_unknown_names() -> None:
    reg: Registry[object] = Registry("widget")
    reg.add("a", first)
    reg.add("b", second)
    assert list(reg) == ["a", "b"] and "a" in reg and len(reg) == 2
    assert reg["b"] is second and reg.get("c") is None
    with pytest.raises(KeyError, match="no widget named 'c'; known: a, b"):
        reg["c"]


def test_the_same_function_again_replaces_a_different_one_is_a_bug() -> None:
    reg: Registry[object] = Registry("widget")
    reg.add("a", first)
    reg.add("a", first)  # a module imported twice (pytester runs in-process)
    with pytest.raises(AssertionError, match="two different widgets named 'a'"):
        reg.add("a", second)


def test_every_check_family_declares_its_checks_once() -> None:
    by_family: dict[str, list[str]] = {}
    for spec in CHECKS.values():
        by_family.setdefault(spec.family, []).append(spec.name)
    assert by_family["static"] == ["tags", "variables", "assets", "signature", "inputs", "outputs"]
    assert by_family["safety"] == ["ops"]
    assert by_family["fuzz"] == ["conformance", "values", "determinism", "batch_consistency",
                                 "rejection"]
    assert set(by_family["serving"]) == {
        "status", "metadata", "predict-rest-row", "predict-rest-columnar", "predict-grpc",
        "classify", "regress", "addressing", "bad-requests", "batch-consistency"}
    scopes = {s.key: s.scope for s in CHECKS.values()}
    assert scopes["static/tags"] == "model" and scopes["serving/status"] == "model"
    assert scopes["serving/metadata"] == "signature"
