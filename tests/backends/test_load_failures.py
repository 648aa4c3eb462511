"""A model that cannot load is a user error with the loader's message, in every check, and
leaves no temporary folder behind; a worker killed while loading gets one fresh retry."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("tensorflow")

from harness.backends import isolation  # noqa: E402
from harness.backends.source import open_backend  # noqa: E402
from harness.contract import load_contract  # noqa: E402
from harness.engine import Engine  # noqa: E402
from harness.errors import HarnessError, ModelError  # noqa: E402
from harness.options import RunOptions  # noqa: E402
from tests.conftest import FIXTURES  # noqa: E402

CONTRACTS = FIXTURES / "contracts"



def truncated_index_model(tmp_path: Path) -> Path:
    model = tmp_path / "truncated_index"
    shutil.copytree(FIXTURES / "tiny", model)
    index = model / "variables" / "variables.index"
    index.write_bytes(index.read_bytes()[: index.stat().st_size // 2])
    return model


def fuzz_errors(contract_path: Path, tmp_path: Path, model: Path | None = None, *,
                in_process: bool = False) -> list[str]:
    """The message of every fuzzed case of the contract (each must be a user error)."""
    options = RunOptions(in_process=in_process, examples=3, results_dir=tmp_path / "results",
                         models=(model,) if model else ())
    engine = Engine(options)
    messages = []
    try:
        contract = load_contract(contract_path)
        [ref] = engine.models_of(contract)
        for case in engine.plan(contract, ref):
            if case.family != "fuzz":
                continue
            with pytest.raises(HarnessError) as caught:
                engine.execute(case)
            messages.append(str(caught.value))
    finally:
        engine.close()
    return messages


@pytest.mark.parametrize("in_process", [False, True], ids=["isolated", "in-process"])
def test_missing_variables_is_a_model_error_in_every_check(tmp_path: Path, scratch: Path,
                                                          in_process: bool) -> None:
    model = FIXTURES / "missing_variables"
    messages = fuzz_errors(CONTRACTS / "missing_variables.json", tmp_path, in_process=in_process)
    assert len(messages) == 5
    first, *later = messages
    assert first.startswith(f"{model}: the model cannot be loaded: tf.saved_model.load: ")
    assert "; TF1 session loader: " in first
    assert "hint: check that variables/ (variables.index and its data shards) is complete" in first
    for message in later:
        assert "[the same load failure as this model's first check: not tried again in this " \
               "run]" in message
        assert message.startswith(f"{model}: the model cannot be loaded: ")
    assert not any("bug in the backend worker" in m or "Traceback" in m for m in messages)
    assert list(scratch.iterdir()) == []


def test_truncated_variables_index_is_a_model_error(tmp_path: Path, scratch: Path) -> None:
    model = truncated_index_model(tmp_path)
    before = {p: p.read_bytes() for p in model.rglob("*") if p.is_file()}
    messages = fuzz_errors(CONTRACTS / "tiny.json", tmp_path, model)
    assert messages and all(m.startswith(f"{model}: the model cannot be loaded: ")
                            for m in messages)
    assert list(scratch.iterdir()) == []
    assert {p: p.read_bytes() for p in model.rglob("*") if p.is_file()} == before


def test_a_worker_killed_while_loading_is_retried_once(tmp_path: Path, scratch: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    kills = {"left": 1}
    real_send = isolation.Child.send

    def send(self: isolation.Child, message: tuple) -> None:
        if message[0] == "activate" and kills["left"]:
            kills["left"] -= 1
            self.kill()  # SIGKILL the child's process group, as the OOM killer would
        real_send(self, message)

    monkeypatch.setattr(isolation.Child, "send", send)
    engine = Engine(RunOptions(examples=3, results_dir=tmp_path / "results"))
    try:
        contract = load_contract(CONTRACTS / "tiny.json")
        [ref] = engine.models_of(contract)
        cases = [c for c in engine.plan(contract, ref) if c.family == "fuzz"]
        for case in cases:
            engine.execute(case)  # every check passes: the retry loaded the model
        backend = open_backend(engine.context, "savedmodel", contract, ref)
        assert isinstance(backend, isolation.IsolatedBackend) and backend.loads == 1
    finally:
        engine.close()
    assert kills["left"] == 0
    assert list(scratch.iterdir()) == []


def test_a_worker_killed_at_every_load_fails_with_both_reasons(
        tmp_path: Path, scratch: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_send = isolation.Child.send

    def send(self: isolation.Child, message: tuple) -> None:
        if message[0] == "activate":
            self.kill()
        real_send(self, message)

    monkeypatch.setattr(isolation.Child, "send", send)
    messages = fuzz_errors(CONTRACTS / "tiny.json", tmp_path)
    first, *later = messages
    assert "savedmodel could not load" in first
    assert "the process was killed by SIGKILL" in first
    assert "(tried twice, each in a fresh process; the first time: " in first
    assert later and all("[the same load failure as this model's first check" in m
                         for m in later)
    assert list(scratch.iterdir()) == []


def test_model_error_pickles_through_the_worker() -> None:
    error = ModelError("the model cannot be loaded: x", file="/m", hint="h")
    import pickle

    again = pickle.loads(pickle.dumps(error))
    assert type(again) is ModelError and str(again) == str(error)
