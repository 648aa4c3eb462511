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

import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generator, Iterator

import pytest

from harness import interrupt
from harness.checks.case import Case, Skipped
from harness.context import RunContext
from harness.errors import BackendUnavailable, CheckFailure, HarnessError
from harness.options import RunOptions, add_to_pytest
from harness.printable import printable
from harness.progress import progress_lines
from harness.report.record import RunRecord

if TYPE_CHECKING:  # pragma: no cover - types only
    # the engine (and hypothesis with it) is imported in pytest_configure, after the workers
    # of the formats named by --backend have been started: their start overlaps its import
    from harness.engine import Engine

#: Check families; each is also a marker, so ``-m static`` selects the static checks.
FAMILIES = {
    "static": "static conformance of saved_model.pb (nothing executed)",
    "fuzz": "fuzzed calls through the SavedModel: conformance and invariants",
    "parity": "a format's outputs against the SavedModel's",
    "serving": "checks through a TF Serving server",
    "safety": "op policy and asset hermeticity",
    "lint": "a fleet model's lint: its contract's (with its standards), or the model's own "
            "when it has no contract",
}

#: Markers a family's checks carry besides their own: the op-policy scan (``safety``)
#: reads saved_model.pb and executes nothing, so ``-m static`` selects it too.
ALSO_MARKED = {"safety": ("static",)}

ENGINE = pytest.StashKey["Engine"]()
FLEET = pytest.StashKey["FleetRun"]()
#: the user property a case item's fleet row travels on (across xdist workers too)
FLEET_ROW = "model_contract_case"
#: the user property (a JUnit <property>) that says a fleet case's outcome as the fleet counts it
FLEET_OUTCOME = "fleet_outcome"
RECORD = pytest.StashKey[RunRecord]()
CONTRACTS = pytest.StashKey[set[Path]]()
#: every case's result (report.case_record), gathered from the reports of its test: in one
#: process, or in pytest-xdist's controller from every worker
RECORDS = pytest.StashKey[list[dict[str, Any]]]()
#: the attribute of a TestReport that carries its case's record (xdist serialises it)
REPORT_ATTRIBUTE = "model_contract"
#: the saved example --replay names, and the case it belongs to
REPLAY = pytest.StashKey[Any]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("model-contract", "model contracts (TensorFlow SavedModel)")
    add_to_pytest(group)


def pytest_configure(config: pytest.Config) -> None:
    options = RunOptions.from_namespace(config.option, prefix="mc_")
    interrupt.install()  # Ctrl-C is never lost, even when it lands in a gc callback
    config.addinivalue_line("markers", "model_contract: a check generated from a contract file")
    for family, text in FAMILIES.items():
        config.addinivalue_line("markers", f"{family}: {text}")
    if options.fleet is not None:
        if options.reports:
            raise pytest.UsageError("--report writes the results of a --contract run; a fleet "
                                    "run writes RESULTS-DIR/fleet/fleet-result.json (and "
                                    "pytest's --junitxml works for both)")
        _configure_fleet(config, options)
        return
    if not options.contracts:
        return
    from harness.report.ci import parse_report_option

    for text in config.getoption("mc_report") or ():
        try:
            parse_report_option(text)
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from None
    for fmt in ("tflite", "onnx"):
        given = options.artifact(fmt)
        if given is not None and not given.is_file():
            raise pytest.UsageError(f"{given}: --{fmt}: no such file")
    if options.replay is not None:
        from harness.replay import read_replay

        try:
            config.stash[REPLAY] = read_replay(options.replay, options.contracts)
        except HarnessError as exc:
            raise pytest.UsageError(str(exc)) from None
    # TensorFlow is not imported here: reading models and the op-policy scan do without it,
    # and what runs a TensorFlow model imports it (without its start-up lines) when it does.
    resolved = {p.resolve() for p in options.contracts}
    config.stash[CONTRACTS] = resolved
    # an explicitly chosen hypothesis profile decides the effort unless --examples is given
    options = replace(options, profile_chosen=bool(config.getoption("hypothesis_profile", None)))
    context = RunContext(options)
    if not (config.option.collectonly or options.executor != "local" or (
            config.getoption("numprocesses", None) and not on_worker(config))):
        _start_workers(context)  # not where no case runs (as in pytest_collection_finish)
    _import_hypothesis_unrewritten()
    from harness.engine import Engine

    engine = Engine(context=context)
    config.stash[ENGINE] = engine
    config.stash[RECORD] = RunRecord.attach(engine.context.events)
    config.stash[RECORDS] = []
    if not on_worker(config):
        config.pluginmanager.register(_Gatherer(config), "model-contract-gatherer")
        engine.context.events.subscribe(progress_lines(lambda text: _write_progress(config, text)))
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistResults(config.stash[RECORD]), "model-contract-xdist")
    # Collect the contracts themselves instead of testpaths (the project's own tests),
    # unless the user named paths explicitly too.
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args[:] = [str(p) for p in options.contracts]
    else:
        present = {Path(a.split("::")[0]).resolve() for a in config.args}
        config.args.extend(str(p) for p in options.contracts if p.resolve() not in present)


#: the libraries the engine imports whose asserts pytest would rewrite (see below)
UNREWRITTEN = ("hypothesis", "hypothesis.strategies")


def _import_hypothesis_unrewritten() -> None:
    """Import hypothesis as a library, without pytest's assertion rewriting.

    pytest rewrites the asserts of every module of a distribution that registers a pytest
    plugin, hypothesis' among them, and keeps the rewritten code in ``__pycache__``. Where it
    cannot write there (``PYTHONDONTWRITEBYTECODE``, set in many CI images, or a read-only
    site-packages) every run parses and compiles hypothesis' 70-odd modules again: 1.5 s per
    run on a 2-core machine, for asserts inside hypothesis that no check shows. The rewriting
    finder steps out of ``sys.meta_path`` for this import alone (pytest_configure, before any
    check runs) and goes back where it was; a user's test files are rewritten as ever.
    """
    if all(name in sys.modules for name in UNREWRITTEN):
        return
    hooks = [(index, finder) for index, finder in enumerate(sys.meta_path)
             if type(finder).__name__ == "AssertionRewritingHook"]
    for _, finder in hooks:
        sys.meta_path.remove(finder)
    try:
        import importlib

        for name in UNREWRITTEN:
            importlib.import_module(name)
    finally:
        for index, finder in hooks:
            sys.meta_path.insert(index, finder)


class FleetRun:
    """The fleet plan of this run and the rows its cases reported (by case id)."""

    def __init__(self, plan: Any, rows: Any) -> None:
        from harness.fleet.plan import node_key

        self.plan = plan
        self.recorder = rows
        self.rows: dict[str, dict[str, Any]] = {}
        self.by_key = {node_key(c): c.id for m in plan.models for c in m.cases}
        self.model_of = {c.id: m.name for m in plan.models for c in m.cases}
        #: --executor ray: the Ray executor that runs the models (None: this process runs them)
        self.executor: Any = None

    def case_id(self, nodeid: str) -> str | None:
        return self.by_key.get(nodeid.split("::", 1)[-1])


def _start_workers(context: RunContext) -> None:
    """Start the isolated workers of the converted formats the run names (onnx, tflite) now,
    their runtime imported while this process imports the engine and collects: those of
    ``--backend``, else those the contract files list under ``"formats"`` (read as plain
    JSON here; a file that cannot be read starts nothing, its collection says why). A run
    finds its TFLite/ONNX worker ready instead of waiting for its start (0.3 s). TensorFlow's
    worker is left to the engine's plan (:meth:`~harness.engine.Engine.prepare`): it is
    heavy, and a run may call no SavedModel. A worker the run does not use (``-k`` left its
    format out) is stopped with it."""
    if context.options.in_process:
        return
    from harness.backends.isolation import PRELOADS, prestart

    for backend in context.options.backends or _formats_listed(context.options.contracts):
        if PRELOADS.get(backend) not in (None, "tensorflow"):
            prestart(context, backend)


def _formats_listed(contracts: tuple[Path, ...]) -> list[str]:
    """The keys of ``"formats"`` in the contract files, in order, each once (parsed as the
    loader parses them, :func:`harness.contract.document.parse`, but no schema, no
    standards; a file it refuses lists nothing: its collection says why)."""
    from harness.contract.document import parse

    found: dict[str, None] = {}
    for path in contracts:
        try:
            data = parse(Path(path))
        except HarnessError:
            continue
        formats = data.get("formats") if isinstance(data, dict) else None
        if isinstance(formats, dict):
            found.update(dict.fromkeys(str(name) for name in formats))
    return list(found)


def _configure_fleet(config: pytest.Config, options: RunOptions) -> None:
    _import_hypothesis_unrewritten()
    from harness.engine import Engine
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
    run = FleetRun(plan, None)
    if options.executor == "ray" and not on_worker(config):
        if config.getoption("numprocesses", None):
            raise pytest.UsageError("--executor ray and -n: choose one (Ray runs the models on "
                                    "its own workers; -n runs them on pytest-xdist workers)")
        from harness.fleet.cluster import RayExecutor

        try:
            run.executor = RayExecutor(options, fleet)
        except HarnessError as exc:
            raise pytest.UsageError(str(exc)) from None
    elif options.ray_address:
        raise pytest.UsageError("--address is the address of a Ray cluster: give it with "
                                "--executor ray")
    if on_worker(config):  # N workers on the machine's cores: TensorFlow's pools sized to a share
        from harness.fleet.cores import share_cores

        share_cores(int(config.workerinput.get("workercount", 1)))  # type: ignore[attr-defined]
    config.stash[ENGINE] = engine
    config.stash[RECORD] = RunRecord.attach(engine.context.events)
    run.recorder = CaseRows.attach(engine.context.events)
    config.stash[FLEET] = run
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


def _write_progress(config: pytest.Config, text: str) -> None:
    """A long step, as a line of its own between pytest's result letters (not with -q)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or config.get_verbosity() < 0:
        return
    capture = config.pluginmanager.get_plugin("capturemanager")
    if capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"model-contract: {text}")
    else:
        reporter.write_line(f"model-contract: {text}")


def pytest_unconfigure(config: pytest.Config) -> None:
    fleet = config.stash.get(FLEET, None)
    if fleet is not None and fleet in _FLEET_RUNS:
        _FLEET_RUNS.remove(fleet)
    if fleet is not None and fleet.executor is not None:
        fleet.executor.close()
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


def _submit_to_ray(session: pytest.Session) -> bool:
    """--executor ray: every selected model goes to Ray now, one task each; the items wait
    for their model's task in turn, so results come back while the other models run."""
    fleet = session.config.stash.get(FLEET, None)
    if fleet is None or fleet.executor is None:
        return False
    cases: dict[str, list[str]] = {}
    for item in session.items:
        if isinstance(item, CaseItem):
            cases.setdefault(fleet.model_of[item.case.id], []).append(item.case.id)
    if cases:
        try:
            fleet.executor.submit(cases)
        except HarnessError as exc:
            raise pytest.UsageError(str(exc)) from None
    return True


def pytest_collection_finish(session: pytest.Session) -> None:
    """The selected cases known: start what they will need (a TensorFlow worker, the
    conversions) while the first checks run. Not in an xdist controller (it runs none), nor
    with --executor ray (the models go to Ray's workers, each running its own engine)."""
    if _submit_to_ray(session):
        return
    config = session.config
    engine = config.stash.get(ENGINE, None)
    if engine is None or config.option.collectonly or (
            config.getoption("numprocesses", None) and not on_worker(config)):
        return
    # an xdist worker does not load ahead: which model its first case checks is not known
    engine.prepare([i.case for i in session.items if isinstance(i, CaseItem)],
                   load_ahead=not on_worker(config))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With --replay, run only the test the saved example belongs to."""
    saved = config.stash.get(REPLAY, None)
    if saved is None:
        return
    keep = [i for i in items if not isinstance(i, CaseItem) or saved.matches(
        i.case.contract.path, i.case.model.path, i.case.signature, i.case.check)]
    if not any(isinstance(i, CaseItem) for i in keep):
        raise pytest.UsageError(
            f"{saved.path}: --replay: the example was saved by {saved.describe()}; no "
            "selected test is that check (select it, or give no test id)")
    dropped = [i for i in items if i not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


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
        self.record: dict[str, Any] | None = None
        self.add_marker("model_contract")
        self.add_marker(case.family)
        for marker in ALSO_MARKED.get(case.family, ()):
            self.add_marker(marker)

    def runtest(self) -> None:
        fleet = self.config.stash.get(FLEET, None)
        if fleet is not None and fleet.executor is not None:
            self._run_elsewhere(fleet)
            return
        engine = engine_of(self)
        done = len(engine.results)
        try:
            notes = engine.execute(self.case)
        except Skipped as exc:
            pytest.skip(str(exc))
        except BackendUnavailable as exc:
            pytest.skip(str(exc))
        finally:
            if len(engine.results) > done:
                from harness.report import case_record

                self.record = case_record(engine.results[-1])
                self.record["result"]["test"] = self.nodeid
            fleet = self.config.stash.get(FLEET, None)
            row = fleet.recorder.rows.get(self.case.id) if fleet is not None else None
            if row is not None:
                self.user_properties.append((FLEET_ROW, row))
                # JUnit: the fleet's outcome (a dead backend process is "crashed", not "failed")
                self.user_properties.append((FLEET_OUTCOME, row["outcome"]))
        for note in notes:
            self.user_properties.append(("note", note))

    def _run_elsewhere(self, fleet: FleetRun) -> None:
        """The case ran in its model's executor task: its row, reported as if it ran here."""
        row = fleet.executor.rows(fleet.model_of[self.case.id])[self.case.id]
        self.user_properties += [(FLEET_ROW, row), (FLEET_OUTCOME, row["outcome"])]
        if row["outcome"] == "skipped":
            pytest.skip(row["message"])
        if row["outcome"] != "passed":
            raise RemoteOutcome(f"{row['outcome']} (on a Ray worker): {row['message']}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str | Any:
        if isinstance(excinfo.value, (CheckFailure, HarnessError, RemoteOutcome)):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.case.contract.name}: {self.case.id}"


class RemoteOutcome(AssertionError):
    """A case that failed or crashed in an executor's task: its message, as the task gave it."""


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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if call.when == "call" and isinstance(item, CaseItem) and item.record is not None:
        setattr(report, REPORT_ATTRIBUTE, item.record)
    return report


class _Gatherer:
    """Collects the records the test reports carry, in the process that writes the reports."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record = getattr(report, REPORT_ATTRIBUTE, None)
        if isinstance(record, dict):
            self.config.stash[RECORDS].append(record)


class XdistResults:
    """pytest-xdist: a worker sends its figures (parity rows, findings, server starts,
    latencies) to the controller at the end of its session; the controller merges them
    into its run record."""

    def __init__(self, record: RunRecord) -> None:
        self.record = record

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        incoming = getattr(node, "workeroutput", {}).get(REPORT_ATTRIBUTE)
        if incoming:
            self.record.merge(incoming)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        output = getattr(session.config, "workeroutput", None)
        if output is not None:
            output[REPORT_ATTRIBUTE] = self.record.shareable()


def on_worker(config: pytest.Config) -> bool:
    """Whether this process is a pytest-xdist worker (the controller writes the reports)."""
    return hasattr(config, "workerinput")


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    engine = config.stash.get(ENGINE, None)
    record = config.stash.get(RECORD, None)
    if engine is None or record is None or on_worker(config):
        return
    fleet = config.stash.get(FLEET, None)
    if fleet is not None:
        _fleet_summary(terminalreporter, config, fleet, Path(engine.options.results_dir))
        return
    records = config.stash[RECORDS]
    notes = [(r["result"]["id"], n) for r in records for n in r["result"]["notes"]]
    if notes:
        terminalreporter.section("model contract notes")
        for case_id, note in dict.fromkeys(notes):
            terminalreporter.write_line(printable(f"{case_id}: {note}"))
    for title, lines in record.sections():
        terminalreporter.section(title)
        for line in lines:
            terminalreporter.write_line(printable(line))
    from harness.report import parity_table, report_from, write_reports

    report = report_from(records, record)
    _write_ci_reports(terminalreporter, engine.options.reports, report)
    if not records:
        return
    if report["parity"]:
        terminalreporter.section("parity matrix (each format against the SavedModel)")
        for line in parity_table(report["parity"]):
            terminalreporter.write_line(line)
    folder = Path(engine.options.results_dir)
    if engine.options.replay is not None:
        folder = folder / "replay"  # the last full run's reports stay as they are
    paths = write_reports(report, folder)
    terminalreporter.write_line(f"model-contract report: {paths['html']} (JSON: {paths['json']})")



def _write_ci_reports(terminalreporter: Any, reports: Any, report: dict[str, Any]) -> None:
    """Each --report FORMAT:FILE (written even when no check ran: a CI step reads it)."""
    from harness.report.ci import CI_FORMATS

    for fmt, file in reports:
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(CI_FORMATS[fmt](report) + "\n", encoding="utf-8")
        terminalreporter.write_line(f"model-contract {fmt} report: {file}")


def _fleet_summary(terminalreporter: Any, config: pytest.Config, fleet: FleetRun,
                   results_dir: Path) -> None:
    from harness.fleet.render import model_page_name, table_lines, write_pages
    from harness.fleet.result import fleet_result

    reports = {m.name: f"models/{model_page_name(m.name)}" for m in fleet.plan.models}
    runtime = fleet.executor.runtime if fleet.executor is not None else None
    result = fleet_result(fleet.plan, fleet.rows, reports, runtime)
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
