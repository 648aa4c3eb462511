"""A fleet's plan: every contract x model x version x backend as cases, said up front.

Planning reads the fleet description, each contract once, and lists the version folders of
each base path; it loads no model and reads no saved_model.pb (the engine's planners decide
from the contract alone), so a fleet of 1,000 models plans in well under a second. The plan
has an id (a hash of its case ids) that shards and merges check.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

from harness.checks.case import Case
from harness.contract.load import load_contract
from harness.contract.model import Contract
from harness.engine import Engine
from harness.errors import HarnessError
from harness.fleet.describe import Fleet, FleetEntry
from harness.fleet.lint import lint_cases
from harness.fleet.shard import Shard, deal
from harness.savedmodel.layout import ModelRef, is_saved_model_dir

CONVERTED = ("tflite", "onnx")


def node_key(case: Case) -> str:
    """The case's test id below the fleet file: ``model@version::signature::check``."""
    return "::".join([case.model.label] + ([case.signature] if case.signature else []) + [case.check])


@dataclass(frozen=True)
class ModelPlan:
    name: str
    contract: Path | None
    versions: tuple[int | None, ...]
    cases: tuple[Case, ...] = field(repr=False)
    #: why the model has no contract cases (no contract: linted only; no version; unusable
    #: contract), else None
    problem: str | None = None
    #: version labels (label -> version) of the model
    labels: tuple[tuple[str, int], ...] = ()
    #: the formats the manifest chose for the model (None: the contract's)
    formats: tuple[str, ...] | None = None

    def labels_of(self, version: int | None) -> list[str]:
        return [name for name, v in self.labels if v == version]

    @property
    def conversions(self) -> int:
        return len({(c.model.path, c.backend, c.variant) for c in self.cases
                    if c.backend in CONVERTED})


@dataclass(frozen=True)
class FleetPlan:
    fleet: Fleet
    models: tuple[ModelPlan, ...]
    #: the whole fleet's plan (every shard): model -> (shard, planned cases)
    shards: Mapping[str, tuple[int, int]]
    shard: Shard | None = None

    @property
    def id(self) -> str:
        """The whole fleet's plan, hashed: equal on every shard of one fleet plan."""
        digest = hashlib.sha256()
        for name in sorted(self.shards):
            digest.update(f"{name}\0{self.shards[name]}\n".encode())
        return digest.hexdigest()[:16]

    @property
    def cases(self) -> int:
        return sum(len(m.cases) for m in self.models)

    @property
    def conversions(self) -> int:
        return sum(m.conversions for m in self.models)

    def summary(self) -> str:
        uncovered = [m.name for m in self.models if m.contract is None]
        where = f" (shard {self.shard} of {len(self.shards)} models)" if self.shard else ""
        text = (f"fleet {self.fleet.name}: {len(self.models)} models{where}, "
                f"{sum(len(m.versions) for m in self.models)} model versions, {self.cases} cases, "
                f"{self.conversions} conversions; plan {self.id}")
        if uncovered:
            text += (f"; {len(uncovered)} without a contract (linted only): "
                     f"{', '.join(uncovered)}")
        return text


def plan_fleet(fleet: Fleet, engine: Engine, *, shard: Shard | None = None,
               durations: Mapping[str, float] | None = None) -> FleetPlan:
    contracts: dict[Path, Contract | HarnessError] = {}
    engines: dict[tuple[str, ...], Engine] = {}
    plans = [_plan_model(entry, _engine_for(entry, engine, engines), contracts)
             for entry in fleet.entries]
    weights = {p.name: (durations or {}).get(p.name, float(len(p.cases))) for p in plans}
    dealt = deal(weights, shard.count) if shard else {p.name: 1 for p in plans}
    shards = {p.name: (dealt[p.name], len(p.cases)) for p in plans}
    if shard is not None:
        plans = [p for p in plans if dealt[p.name] == shard.index]
    return FleetPlan(fleet, tuple(plans), shards, shard)


def _engine_for(entry: FleetEntry, engine: Engine, engines: dict[tuple[str, ...], Engine]) -> Engine:
    """The engine that plans the entry: the run's, or (manifest ``formats``, no --backend)
    one whose backends are the SavedModel and the model's formats. Planning only: every case
    runs with the run's context."""
    if entry.formats is None or engine.options.backends:
        return engine
    backends = ("savedmodel", *entry.formats)
    if backends not in engines:
        engines[backends] = Engine(replace(engine.options, backends=backends))
    return engines[backends]


def _plan_model(entry: FleetEntry, engine: Engine,
                contracts: dict[Path, Contract | HarnessError]) -> ModelPlan:
    def model(contract: Path | None, refs: list[ModelRef], cases: list[Case],
              problem: str | None) -> ModelPlan:
        return ModelPlan(entry.name, contract, tuple(r.version for r in refs), tuple(cases),
                         problem, entry.labels, entry.formats)

    refs = versions_of(entry)
    if entry.contract is None:  # listed, and linted: never silently skipped
        return model(None, refs, lint_cases(entry.name, None, refs, source=_source(entry)),
                     f"no contract named {entry.name!r}" + ("" if refs else
                     f"; no version to lint under {entry.base_path}"))
    if entry.contract not in contracts:
        try:
            contracts[entry.contract] = load_contract(entry.contract)
        except HarnessError as exc:
            contracts[entry.contract] = exc
    contract = contracts[entry.contract]
    if isinstance(contract, HarnessError):
        return model(entry.contract, [], [], f"unusable contract: {contract}")
    if not refs:
        return model(entry.contract, [], [], f"no version to check under {entry.base_path} "
                     f"(policy: {entry.policy.describe()})")
    cases: list[Case] = []
    for ref in refs:
        cases.extend(engine.plan(contract, ref))
    cases.extend(lint_cases(entry.name, contract, refs, entry.standards))
    return model(entry.contract, refs, cases, None)


def _source(entry: FleetEntry) -> Path:
    """The file that declared the entry (its source reads ``FILE: place``)."""
    return Path(entry.source.rsplit(": ", 1)[0]) if entry.source else entry.base_path


def versions_of(entry: FleetEntry) -> list[ModelRef]:
    """The versions the entry's policy selects (a plain SavedModel directory is itself)."""
    base = entry.base_path
    if is_saved_model_dir(base):
        return [ModelRef(base, base, None)]
    try:
        found = {int(p.name): p for p in base.iterdir() if p.name.isdigit() and p.is_dir()}
    except OSError:
        return []
    return [ModelRef(found[v], base, v) for v in entry.policy.select(list(found))]


def previous_durations(path: Path) -> dict[str, float]:
    """Per-model seconds of a previous fleet result (for balancing shards)."""
    import json

    from harness.errors import FleetError

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return {m["name"]: float(sum(c["seconds"] for c in m["cases"])) for m in data["models"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FleetError(f"not a fleet result with durations: {exc}", file=path,
                         hint="give a fleet-result.json of an earlier run, or leave "
                              "--shard-durations out (shards balance by case count)") from None
