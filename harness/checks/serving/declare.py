"""How a serving check is declared: its name, its runner and the backend its case names."""

from __future__ import annotations

from typing import Callable

from harness.checks.case import Case
from harness.context import RunContext

FAMILY = "serving"
CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"
GRPC_REFUSALS = ("INVALID_ARGUMENT", "FAILED_PRECONDITION")

Runner = Callable[[RunContext, Case], list[str]]
#: check name -> runner; every check is one case per signature except "status".
SERVING_CHECKS: dict[str, Runner] = {}
#: check name -> the backend its case names (the server as a whole, or one protocol)
SERVING_BACKENDS: dict[str, str] = {}


def serving_check(name: str, backend: str = "serving") -> Callable[[Runner], Runner]:
    def register(fn: Runner) -> Runner:
        SERVING_CHECKS[name] = fn
        SERVING_BACKENDS[name] = backend
        return fn

    return register


def run_case(context: RunContext, case: Case) -> list[str]:
    return SERVING_CHECKS[case.check](context, case)
