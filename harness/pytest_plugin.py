"""pytest plugin: ``pytest --contract contracts/classifier.json``.

A thin consumer of :mod:`harness.engine`. Each contract file becomes a collector, each
model (version) a node below it, each signature a node below that, and each check one
test item, so node ids read ``contracts/classifier.json::classifier@1::classify::inputs``
and ``-k`` selects a model, a signature or a check. Without ``--contract`` the plugin does
nothing and pytest runs as usual.

User errors (a broken contract, a model that is not a SavedModel) fail their own item
with the message alone, no traceback; other contracts in the run still run.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

import pytest

from harness.engine import Case, Engine, Skipped
from harness.errors import BackendUnavailable, CheckFailure, HarnessError
from harness.options import RunOptions, add_to_pytest
from harness.printable import printable
from harness.report.record import RunRecord

#: Check families; each is also a marker, so ``-m static`` selects the static checks.
FAMILIES = {
    "static": "static conformance of saved_model.pb (nothing executed)",
    "fuzz": "fuzzed calls through the SavedModel: conformance and invariants",
    "parity": "a format's outputs against the SavedModel's",
    "serving": "checks through a TF Serving server",
    "safety": "op policy and asset hermeticity",
}

ENGINE = pytest.StashKey[Engine]()
FLEET = pytest.StashKey["FleetRun"]()
#: the user property a case item's fleet row travels on (across xdist workers too)
FLEET_ROW = "model_contract_case"
RECORD = pytest.StashKey[RunRecord]()
CONTRACTS = pytest.StashKey[set[Path]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("model-contract", "model contracts (TensorFlow SavedModel)")
    add_to_pytest(group)


def pytest_configure(config: pytest.Config) -> None:
    options = RunOptions.from_namespace(config.option, prefix="mc_")
    config.addinivalue_line("markers", "model_contract: a check generated from a contract file")
    for family, text in FAMILIES.items():
        config.addinivalue_line("markers", f"{family}: {text}")
    if options.fleet is not None:
        _configure_fleet(config, options)
        return
    if not options.contracts:
        return
    resolved = {p.resolve() for p in options.contracts}
    config.stash[CONTRACTS] = resolved
    # an explicitly chosen hypothesis profile decides the effort unless --examples is given
    options = replace(options, profile_chosen=bool(config.getoption("hypothesis_profile", None)))
    engine = Engine(options)
    config.stash[ENGINE] = engine
    config.stash[RECORD] = RunRecord.attach(engine.context.events)
    # Collect the contracts themselves instead of testpaths (the project's own tests),
    # unless the user named paths explicitly too.
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args[:] = [str(p) for p in options.contracts]
    else:
        present = {Path(a.split("::")[0]).resolve() for a in config.args}
        config.args.extend(str(p) for p in options.contracts if p.resolve() not in present)


class FleetRun:
    """The fleet plan of this run and the rows its cases reported (by case id)."""

    def __init__(self, plan: Any, rows: Any) -> None:
        from harness.fleet.plan import node_key

        self.plan = plan
        self.recorder = rows
        self.rows: dict[str, dict[str, Any]] = {}
        self.by_key = {node_key(c): c.id for m in plan.models for c in m.cases}
        self.model_of = {c.id: m.name for m in plan.models for c in m.cases}

    def case_id(self, nodeid: str) -> str | None:
        return self.by_key.get(nodeid.split("::", 1)[-1])


def _configure_fleet(config: pytest.Config, options: RunOptions) -> None:
    from harness.fleet.describe import load_fleet
    from harness.fleet.plan import plan_fleet, previous_durations
    from harness.fleet.result import CaseRows
    from harness.fleet.shard import parse_shard

    options = replace(options, profile_chosen=bool(config.getoption("hypothesis_profile", None)))
    engine = Engine(options)
    try:
        fleet = load_fleet(options.fleet or Path(), options.fleet_contracts)
        shard = parse_shard(options.shard) if options.shard else None
        durations = previous_durations(options.shard_durations) if options.shard_durations else None
        plan = plan_fleet(fleet, engine, shard=shard, durations=durations)
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[ENGINE] = engine
    config.stash[RECORD] = RunRecord.attach(engine.context.events)
    config.stash[FLEET] = FleetRun(plan, CaseRows.attach(engine.context.events))
    config.args[:] = [str(options.fleet)]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """With -n, a fleet's cases are scheduled by model: all of a model's versions and checks
    go to one worker, so each model is read, scanned and loaded on one worker only."""
    if config.stash.get(FLEET, None) is None or config.getoption("dist", "no") in ("no", "each"):
        return None
    from harness.fleet.workers import ModelScheduling

    return ModelScheduling(config, log)


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    fleet = config.stash.get(FLEET, None)
    if fleet is None:
        return None
    lines = [fleet.plan.summary()]
    lines += [f"contract without a model in the fleet: {p}" for p in fleet.plan.fleet.unused_contracts]
    return lines


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    fleet = _FLEET_RUNS[-1] if _FLEET_RUNS else None
    if fleet is None:
        return
    for name, value in report.user_properties:
        if name == FLEET_ROW and isinstance(value, dict):
            fleet.rows[value["id"]] = value
            return
    if report.failed:
        case_id = fleet.case_id(report.nodeid)
        if case_id is not None and case_id not in fleet.rows:
            from harness.fleet.result import crashed_row

            text = str(report.longrepr or "").strip().splitlines()
            fleet.rows[case_id] = crashed_row(case_id, " / ".join(text[-3:]) or "crashed")


_FLEET_RUNS: list[FleetRun] = []


def _deselected(fleet: FleetRun, case_ids: Any) -> None:
    from harness.fleet.result import deselected_row

    for case_id in case_ids:
        if case_id is not None and case_id not in fleet.rows:
            fleet.rows[case_id] = deselected_row(case_id)


def pytest_deselected(items: list[pytest.Item]) -> None:
    """Cases a -k or -m expression left out are counted as skipped, saying so."""
    fleet = _FLEET_RUNS[-1] if _FLEET_RUNS else None
    if fleet is not None:
        _deselected(fleet, [i.case.id for i in items if isinstance(i, CaseItem)])


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """With -n the workers deselect: a planned case missing from their collection was left out."""
    fleet = _FLEET_RUNS[-1] if _FLEET_RUNS else None
    if fleet is not None:
        collected = {fleet.case_id(nodeid) for nodeid in ids}
        _deselected(fleet, [c for c in fleet.model_of if c not in collected])


def pytest_sessionstart(session: pytest.Session) -> None:
    fleet = session.config.stash.get(FLEET, None)
    if fleet is not None:
        _FLEET_RUNS.append(fleet)


def pytest_unconfigure(config: pytest.Config) -> None:
    fleet = config.stash.get(FLEET, None)
    if fleet is not None and fleet in _FLEET_RUNS:
        _FLEET_RUNS.remove(fleet)
    engine = config.stash.get(ENGINE, None)
    if engine is not None:
        engine.close()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    fleet = parent.config.stash.get(FLEET, None)
    if fleet is not None and file_path.resolve() == fleet.plan.fleet.path.resolve():
        return FleetFile.from_parent(parent, path=file_path)
    contracts = parent.config.stash.get(CONTRACTS, None)
    if contracts and file_path.resolve() in contracts:
        return ContractFile.from_parent(parent, path=file_path)
    return None


def engine_of(node: pytest.Item | pytest.Collector) -> Engine:
    return node.config.stash[ENGINE]


class ContractFile(pytest.File):
    """A contract: one node per model (version), or one failing item if it cannot be used."""

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        engine = engine_of(self)
        try:
            contract = engine.load(self.path)
            models = engine.models_of(contract)
        except HarnessError as exc:
            yield UserErrorItem.from_parent(self, name="contract", error=exc)
            return
        for ref in models:
            yield ModelNode.from_parent(self, name=ref.label, contract=contract, ref=ref)


class FleetFile(pytest.File):
    """A fleet: one node per planned model version, its cases grouped on one xdist worker."""

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        plan = self.config.stash[FLEET].plan
        for model in plan.models:
            by_version: dict[Any, list[Case]] = {}
            for case in model.cases:
                by_version.setdefault(case.model, []).append(case)
            for ref, cases in by_version.items():
                yield ModelNode.from_parent(self, name=ref.label, contract=cases[0].contract,
                                            ref=ref, cases=cases)


class ModelNode(pytest.Collector):
    def __init__(self, *, contract: Any, ref: Any, cases: list[Case] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.contract = contract
        self.ref = ref
        self.cases = cases

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        cases = self.cases if self.cases is not None else engine_of(self).plan(self.contract, self.ref)
        by_signature: dict[str, list[Case]] = {}
        for case in cases:
            if case.signature is None:
                yield CaseItem.from_parent(self, name=case.check, case=case)
            else:
                by_signature.setdefault(case.signature, []).append(case)
        for sig, sig_cases in by_signature.items():
            yield SignatureNode.from_parent(self, name=sig, cases=sig_cases)


class SignatureNode(pytest.Collector):
    def __init__(self, *, cases: list[Case], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cases = cases

    def collect(self) -> Iterator[pytest.Item]:
        for case in self.cases:
            yield CaseItem.from_parent(self, name=case.check, case=case)


class CaseItem(pytest.Item):
    """One check: runs through the engine; failures show the check's message only."""

    def __init__(self, *, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.add_marker("model_contract")
        self.add_marker(case.family)

    def runtest(self) -> None:
        try:
            notes = engine_of(self).execute(self.case)
        except Skipped as exc:
            pytest.skip(str(exc))
        except BackendUnavailable as exc:
            pytest.skip(str(exc))
        finally:
            fleet = self.config.stash.get(FLEET, None)
            row = fleet.recorder.rows.get(self.case.id) if fleet is not None else None
            if row is not None:
                self.user_properties.append((FLEET_ROW, row))
        for note in notes:
            self.user_properties.append(("note", note))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str | Any:
        if isinstance(excinfo.value, (CheckFailure, HarnessError)):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.case.contract.name}: {self.case.id}"


class UserErrorItem(pytest.Item):
    """A contract or model that cannot be used: fails with its message, no traceback."""

    def __init__(self, *, error: HarnessError, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error = error

    def runtest(self) -> None:
        raise self.error

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        return str(excinfo.value)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.path.name}: unusable"


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    engine = config.stash.get(ENGINE, None)
    record = config.stash.get(RECORD, None)
    if engine is None or record is None:
        return
    fleet = config.stash.get(FLEET, None)
    if fleet is not None:
        _fleet_summary(terminalreporter, config, fleet, Path(engine.options.results_dir))
        return
    notes = [(r.case.id, n) for r in record.results for n in r.notes]
    if notes:
        terminalreporter.section("model contract notes")
        for case_id, note in dict.fromkeys(notes):
            terminalreporter.write_line(printable(f"{case_id}: {note}"))
    for title, lines in record.sections():
        terminalreporter.section(title)
        for line in lines:
            terminalreporter.write_line(printable(line))
    if not record.results:
        return
    from harness.report import build_report, parity_table, write_reports

    report = build_report(record)
    if report["parity"]:
        terminalreporter.section("parity matrix (each format against the SavedModel)")
        for line in parity_table(report["parity"]):
            terminalreporter.write_line(line)
    paths = write_reports(report, Path(engine.options.results_dir))
    terminalreporter.write_line(f"model-contract report: {paths['html']} (JSON: {paths['json']})")



def _fleet_summary(terminalreporter: Any, config: pytest.Config, fleet: FleetRun,
                   results_dir: Path) -> None:
    from harness.fleet.render import model_page_name, table_lines, write_pages
    from harness.fleet.result import fleet_result

    reports = {m.name: f"models/{model_page_name(m.name)}" for m in fleet.plan.models}
    result = fleet_result(fleet.plan, fleet.rows, reports)
    terminalreporter.section("fleet")
    for line in table_lines(result):
        terminalreporter.write_line(printable(line))
    paths = write_pages(result, results_dir / "fleet")
    terminalreporter.write_line(f"fleet report: {paths['html']} (JSON: {paths['json']})")
    config.stash[FLEET_RESULT] = result


FLEET_RESULT = pytest.StashKey[dict[str, Any]]()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    fleet = session.config.stash.get(FLEET, None)
    if fleet is None or hasattr(session.config, "workerinput"):
        return
    problems = [m for m in fleet.plan.models if m.problem and m.contract is not None]
    unaccounted = fleet.plan.cases - len(fleet.rows)
    if (problems or unaccounted) and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
