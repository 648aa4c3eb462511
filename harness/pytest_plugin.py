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
from typing import Any, Generator, Iterator

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

#: Markers a family's checks carry besides their own: the op-policy scan (``safety``)
#: reads saved_model.pb and executes nothing, so ``-m static`` selects it too.
ALSO_MARKED = {"safety": ("static",)}

ENGINE = pytest.StashKey[Engine]()
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
    config.addinivalue_line("markers", "model_contract: a check generated from a contract file")
    for family, text in FAMILIES.items():
        config.addinivalue_line("markers", f"{family}: {text}")
    if not options.contracts:
        return
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
    from harness.backends.tf_import import import_tensorflow

    try:  # now, without its start-up lines, rather than inside the first test that reads a model
        import_tensorflow()
    except BackendUnavailable:
        pass  # the checks that need it say so
    resolved = {p.resolve() for p in options.contracts}
    config.stash[CONTRACTS] = resolved
    # an explicitly chosen hypothesis profile decides the effort unless --examples is given
    options = replace(options, profile_chosen=bool(config.getoption("hypothesis_profile", None)))
    engine = Engine(options)
    config.stash[ENGINE] = engine
    config.stash[RECORD] = RunRecord.attach(engine.context.events)
    config.stash[RECORDS] = []
    if not on_worker(config):
        config.pluginmanager.register(_Gatherer(config), "model-contract-gatherer")
        engine.context.progress.listeners.append(lambda text: _write_progress(config, text))
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistResults(config.stash[RECORD]), "model-contract-xdist")
    # Collect the contracts themselves instead of testpaths (the project's own tests),
    # unless the user named paths explicitly too.
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args[:] = [str(p) for p in options.contracts]
    else:
        present = {Path(a.split("::")[0]).resolve() for a in config.args}
        config.args.extend(str(p) for p in options.contracts if p.resolve() not in present)


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
    engine = config.stash.get(ENGINE, None)
    if engine is not None:
        engine.close()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    contracts = parent.config.stash.get(CONTRACTS, None)
    if contracts and file_path.resolve() in contracts:
        return ContractFile.from_parent(parent, path=file_path)
    return None


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


class ModelNode(pytest.Collector):
    def __init__(self, *, contract: Any, ref: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.contract = contract
        self.ref = ref

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        cases = engine_of(self).plan(self.contract, self.ref)
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
    if not records:
        return
    from harness.report import parity_table, report_from, write_reports

    report = report_from(records, record)
    if report["parity"]:
        terminalreporter.section("parity matrix (each format against the SavedModel)")
        for line in parity_table(report["parity"]):
            terminalreporter.write_line(line)
    folder = Path(engine.options.results_dir)
    if engine.options.replay is not None:
        folder = folder / "replay"  # the last full run's reports stay as they are
    paths = write_reports(report, folder)
    terminalreporter.write_line(f"model-contract report: {paths['html']} (JSON: {paths['json']})")

