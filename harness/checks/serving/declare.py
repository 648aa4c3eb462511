"""How a serving check is declared: its name, its runner and the backend its case names."""

from __future__ import annotations

from typing import Callable

from harness.checks.case import Applies, CheckSpec, Runner, declare
from harness.registry import Registry

FAMILY = "serving"
CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"
GRPC_REFUSALS = ("INVALID_ARGUMENT", "FAILED_PRECONDITION")

#: check name -> runner (each is also declared in harness.checks.case.CHECKS)
SERVING_CHECKS: Registry[Runner] = Registry("serving check")


def serving_check(name: str, *, backend: str = "serving", scope: str = "signature",
                  applies: Applies | None = None) -> Callable[[Runner], Runner]:
    """Declare a check through the model server; planned when the run selects ``serving``."""

    def register(fn: Runner) -> Runner:
        SERVING_CHECKS.add(name, fn)
        declare(CheckSpec(name, FAMILY, fn, scope=scope, backend=backend, requires="serving",
                          applies=applies))
        return fn

    return register


def over(protocol: str) -> Applies:
    """Applies when the contract's serving protocols include ``protocol`` (rest, grpc)."""
    from harness.serving import config as cfg

    return lambda context, contract, model, sig: protocol in cfg.protocols(contract)
