"""Fidelity finding tables: what a signature loses in a given format, from the contract alone.

A table is a list of rules, each a finding ``kind``, a test on one tensor (its spec and its
side, ``input`` or ``output``) and the sentence that explains it. The table is applied to
every input, then every output, of a signature; a finding is the table's event type
(:class:`~harness.events.ServingFinding`, :class:`~harness.events.TfjsFinding`) and its
message is ``signature 'S' SIDE 'T' (DTYPE): `` followed by the rule's sentence.

The REST findings (:mod:`harness.serving.findings`) and the TF.js findings
(:mod:`harness.backends.tfjs_findings`) are two such tables. Pure: nothing here runs a model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Generic, Protocol, TypeVar

from harness.contract.model import Contract, SignatureSpec, TensorSpec

F_co = TypeVar("F_co", covariant=True)


class FindingType(Protocol[F_co]):
    """An event class built from the six fields every fidelity finding has."""

    def __call__(self, contract: str, signature: str, tensor: str, side: str, kind: str,
                 message: str) -> F_co: ...


@dataclass(frozen=True)
class Rule:
    """One row of a table: when ``applies(spec, side)``, a finding of ``kind`` saying
    ``says(spec)`` about the tensor."""

    kind: str
    applies: Callable[[TensorSpec, str], bool]
    says: Callable[[TensorSpec], str]


F = TypeVar("F")


def where(sig: SignatureSpec, spec: TensorSpec, side: str) -> str:
    """``signature 'classify' output 'class_id' (int64)``: how every finding names its tensor."""
    return f"signature {sig.name!r} {side} {spec.name!r} ({spec.dtype})"


@dataclass(frozen=True)
class FindingTable(Generic[F]):
    """Rules applied in order to each tensor of a signature; findings are ``finding``s."""

    finding: FindingType[F]
    rules: tuple[Rule, ...]

    def tensor_findings(self, contract: Contract, sig: SignatureSpec, spec: TensorSpec,
                        side: str) -> list[F]:
        return [self.finding(contract.name, sig.name, spec.name, side, rule.kind,
                             f"{where(sig, spec, side)}: {rule.says(spec)}")
                for rule in self.rules if rule.applies(spec, side)]

    def signature_findings(self, contract: Contract, sig: SignatureSpec) -> list[F]:
        out: list[F] = []
        for spec in sig.inputs:
            out += self.tensor_findings(contract, sig, spec, "input")
        for spec in sig.outputs:
            out += self.tensor_findings(contract, sig, spec, "output")
        return out
