"""What the op-policy scan reports: op sites, Keras Lambda layers, findings, and the
error a user sees (:func:`violation_error`). :func:`evaluate` applies a policy to what the
walk recorded; nothing here reads a file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from harness.errors import PolicyViolation
from harness.safety import load_time
from harness.safety.policy import OpPolicy
from harness.safety.symlinks import Link

STRUCTURAL_OPS: frozenset[str] = frozenset({
    "Placeholder", "PlaceholderWithDefault", "Const", "Identity", "IdentityN", "NoOp",
    "PartitionedCall", "StatefulPartitionedCall",
})
"""Ops that only wire a graph together; allowlist mode does not require listing them."""


@dataclass(frozen=True)
class OpSite:
    """One node a root can run (or, when ``reachable`` is False, a node only in the file)."""

    op: str
    node: str
    where: str
    """Function that holds the node, or ``"graph"`` for the outer GraphDef."""
    path: str
    root: str
    reachable: bool
    registered: bool
    is_call: bool
    touches_files: bool
    """False for conditional ops whose attrs/inputs keep them off the filesystem."""
    detail: str = ""
    asset_issue: str | None = None


@dataclass(frozen=True)
class LambdaLayer:
    """A Keras ``Lambda`` layer recorded in ``keras_metadata.pb`` (or the object graph)."""

    name: str
    node_path: str
    source: str


_FILE_RULES = frozenset({"symlink", "special file"})
"""Rules about files of the model directory rather than nodes of its graph."""


@dataclass(frozen=True)
class Finding:
    """One thing the policy forbids, as a user reads it."""

    op: str
    node: str
    path: str
    reason: str
    rule: str
    also_from: tuple[str, ...] = ()
    load_time: bool = False
    """Reached from a root a loader executes while loading (before any signature call)."""

    def render(self) -> str:
        subject = (f"{self.op} {self.node}" if self.rule in _FILE_RULES
                   else f"{self.op} (node '{self.node}')")
        lines = [f"{subject}: {self.reason}",
                 f"    path: {self.path}",
                 f"    rule: {self.rule}"]
        if self.load_time:
            lines.insert(1, "    runs at load time: the loader executes it while loading the "
                            "model, before any signature is called")
        if self.also_from:
            lines.insert(2, f"    also reachable from: {', '.join(self.also_from)}")
        return "\n".join(lines)


@dataclass(frozen=True)
class ScanReport:
    """What the scan saw in one SavedModel and what the scan policy forbids."""

    model_dir: Path
    policy: OpPolicy
    findings: tuple[Finding, ...]
    ops_by_signature: dict[str, frozenset[str]]
    ops_at_load: dict[str, frozenset[str]]
    saver_ops: frozenset[str]
    lambda_layers: tuple[LambdaLayer, ...] = ()
    sites: tuple[OpSite, ...] = field(default=(), repr=False)
    seconds: float = 0.0
    links: tuple[Link, ...] = ()
    """Symbolic links and special files in the model directory (always violations)."""

    @property
    def ok(self) -> bool:
        return not self.findings

    def violations(self, policy: OpPolicy | None = None) -> tuple[Finding, ...]:
        """Findings under ``policy`` (default: the policy the scan ran with)."""
        return evaluate(self.sites, self.lambda_layers, self.policy if policy is None else policy,
                        self.links)

    def raise_for_violations(self, policy: OpPolicy | None = None) -> None:
        """Raise :class:`PolicyViolation` listing every finding; return if there is none."""
        findings = self.findings if policy is None else self.violations(policy)
        if findings:
            raise violation_error(self.model_dir, findings)


def evaluate(sites: Iterable[OpSite], lambdas: Iterable[LambdaLayer],
             policy: OpPolicy, links: Iterable[Link] = ()) -> tuple[Finding, ...]:
    """Apply ``policy`` to recorded op sites and Lambda layers; every link is a finding."""
    grouped: dict[tuple[str, str, str, str], list[Finding]] = {}
    for site in sites:
        for finding in _site_findings(site, policy):
            key = (finding.rule, site.op, site.where, site.node)
            grouped.setdefault(key, []).append(finding)
    findings = []
    for group in grouped.values():
        first = group[0]
        others = tuple(dict.fromkeys(f.path.split(" -> ")[0] for f in group[1:]))
        others = tuple(o for o in others if o != first.path.split(" -> ")[0])
        load = any(load_time.is_load_time(f.path) for f in group)
        findings.append(Finding(first.op, first.node, first.path, first.reason, first.rule,
                                others, load))
    if not policy.allow_lambda_layers and "Lambda" not in policy.allowed_ops:
        for layer in lambdas:
            findings.append(Finding(
                "Lambda", layer.name, f"{layer.source}: {layer.node_path}",
                "Keras Lambda layer: deserialising it runs Python bytecode stored in the model",
                "Keras Lambda layer"))
    for link in links:
        kind = "symlink" if link.is_link else "special file"
        findings.append(Finding(kind, link.relative, f"model directory: {link.relative}",
                                link.reason(), kind))
    return tuple(findings)


def _site_findings(site: OpSite, policy: OpPolicy) -> Iterator[Finding]:
    if site.op in policy.allowed_ops or load_time.expected_at(site.root, site.op):
        return
    detail = f" ({site.detail})" if site.detail else ""
    if not site.registered and not policy.allow_unregistered:
        yield Finding(site.op, site.node, site.path,
                      "op type is not registered in the running TensorFlow (custom op: "
                      "needs a native library, and the model cannot load without it)",
                      "unregistered op")
    if not site.reachable:
        return
    if site.op in policy.deny and site.touches_files:
        yield Finding(site.op, site.node, site.path, policy.reason_denied(site.op) + detail,
                      policy.deny_source(site.op))
    elif (policy.allow is not None and site.registered and not site.is_call
          and site.op not in policy.allow and site.op not in STRUCTURAL_OPS):
        yield Finding(site.op, site.node, site.path, "op type is not in the allowlist" + detail,
                      "allowlist")
    if site.asset_issue:
        yield Finding(site.op, site.node, site.path, site.asset_issue, "asset hermeticity")


_NOT_PERMITTABLE = _FILE_RULES | {"Keras Lambda layer"}


def violation_error(model_dir: Path, findings: tuple[Finding, ...]) -> PolicyViolation:
    """The user-facing error for ``findings`` in ``model_dir`` (nothing was loaded)."""
    count = len(findings)
    lines = [f"the op policy forbids {count} finding{'s' if count != 1 else ''} in this "
             "SavedModel; it was not loaded:"]
    for index, finding in enumerate(findings, 1):
        body = finding.render().replace("\n", "\n   ")
        lines.append(f"  {index}. {body}")
    permits = sorted({f.op for f in findings if f.rule not in _NOT_PERMITTABLE})
    hints = []
    if permits:
        quoted = ", ".join(f'"{op}"' for op in permits)
        flags = " ".join(f"--allow-op {op}" for op in permits)
        hints.append(f'to allow, add to the contract "ops": {{"permit": [{quoted}]}} '
                     f"or pass {flags}")
    if any(f.rule == "unregistered op" for f in findings):
        hints.append('custom ops can also be accepted with "ops": {"allow_unregistered": true}')
    if any(f.rule in _FILE_RULES for f in findings):
        hints.append("replace each link or special file by a regular file inside the model "
                     "directory (links are never followed)")
    if any(f.rule == "Keras Lambda layer" for f in findings):
        hints.append('to accept Lambda layers, set "ops": {"allow_lambda_layers": true} '
                     "in the contract")
    return PolicyViolation("\n".join(lines), file=model_dir, hint="; ".join(hints) or None)
