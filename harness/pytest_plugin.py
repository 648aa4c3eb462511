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


def pytest_unconfigure(config: pytest.Config) -> None:
    engine = config.stash.get(ENGINE, None)
    if engine is not None:
        engine.close()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
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
        self.add_marker("model_contract")
        self.add_marker(case.family)

    def runtest(self) -> None:
        try:
            notes = engine_of(self).execute(self.case)
        except Skipped as exc:
            pytest.skip(str(exc))
        except BackendUnavailable as exc:
            pytest.skip(str(exc))
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

