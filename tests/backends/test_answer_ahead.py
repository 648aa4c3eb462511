"""An isolated backend answers a batch of calls in one round trip (``--calls-per-example``):
each answer is the one a single call gives, a crash is the answer of the call that crashed,
and the calls after it still run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from harness.backends import isolation  # noqa: E402
from harness.backends.base import InferenceError  # noqa: E402
from harness.backends.isolation import BackendCrashed, IsolatedBackend  # noqa: E402
from harness.context import RunContext  # noqa: E402
from harness.contract import load_contract  # noqa: E402
from harness.options import RunOptions  # noqa: E402
from harness.savedmodel.layout import resolve_model  # noqa: E402
from tests.conftest import FIXTURES  # noqa: E402

CONTRACTS = FIXTURES / "contracts"


def isolated(tmp_path: Path, fixture: str) -> IsolatedBackend:
    contract = load_contract(CONTRACTS / f"{fixture}.json")
    [ref] = resolve_model(FIXTURES / fixture)
    return IsolatedBackend(ref, contract, RunContext(RunOptions(results_dir=tmp_path / "r")),
                           inner="savedmodel")


def count_sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    sent: list[str] = []
    real = isolation.Child.send

    def send(self: isolation.Child, message: tuple[Any, ...]) -> None:
        sent.append(message[0])
        real(self, message)

    monkeypatch.setattr(isolation.Child, "send", send)
    return sent


def test_a_batch_goes_in_one_request_and_each_answer_is_the_single_calls(
        tmp_path: Path, scratch: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = isolated(tmp_path, "tiny")
    rng = np.random.default_rng(0)
    batch = [{"x": rng.random((n, 4), dtype=np.float32)} for n in (1, 3, 2, 5)]
    try:
        single = [backend.infer("serving_default", inputs) for inputs in batch]
        sent = count_sent(monkeypatch)
        backend.infer_ahead("serving_default", batch)
        answered = [backend.infer("serving_default", inputs) for inputs in reversed(batch)]
        assert sent == ["infer_many"]  # the four answers came with one request
        for want, got in zip(single, reversed(answered), strict=True):
            assert set(want) == set(got)
            for name in want:
                np.testing.assert_array_equal(got[name], want[name])
        # each answer is used once: asked again, the call runs again
        backend.infer("serving_default", batch[0])
        assert sent == ["infer_many", "infer"]
        # inputs equal to a batched call but another object are a call of their own
        backend.infer_ahead("serving_default", batch[:2])
        backend.infer("serving_default", {"x": batch[0]["x"].copy()})
        assert sent == ["infer_many", "infer", "infer_many", "infer"]
        assert backend.stats.calls == 4 + 4 + 1 + 1
    finally:
        backend.deactivate()


def test_a_refused_call_in_a_batch_is_refused_when_asked(
        tmp_path: Path, scratch: Path) -> None:
    backend = isolated(tmp_path, "tiny")
    good = {"x": np.zeros((2, 4), np.float32)}
    wrong = {"x": np.zeros((2, 4), np.float64)}  # a dtype the model refuses
    try:
        with pytest.raises(InferenceError) as alone:
            backend.infer("serving_default", wrong, check_inputs=False)
        backend.infer_ahead("serving_default", [good, wrong, good])
        backend.infer("serving_default", good)
        with pytest.raises(InferenceError) as batched:
            backend.infer("serving_default", wrong, check_inputs=False)
        assert batched.value.message == alone.value.message
        assert backend.crashes == 0
    finally:
        backend.deactivate()


def test_a_crash_is_the_answer_of_the_call_that_crashed(
        tmp_path: Path, scratch: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fixture aborts (SIGABRT) on an input of any rank but 2."""
    backend = isolated(tmp_path, "aborts_on_wrong_rank")
    ok = [{"x": np.full((1, 4), v, np.float32)} for v in (0.1, 0.2, 0.3)]
    fatal = {"x": np.zeros((1, 1, 4), np.float32)}
    try:
        backend.activate()
        sent = count_sent(monkeypatch)
        backend.infer_ahead("serving_default", [ok[0], ok[1], fatal, ok[2]])
        assert backend.crashes == 1 and backend.loads == 1
        backend.infer("serving_default", ok[0])
        backend.infer("serving_default", ok[1])
        with pytest.raises(BackendCrashed) as info:
            backend.infer("serving_default", fatal, check_inputs=False)
        assert "the process was killed by SIGABRT" in info.value.message
        assert "an input of rank other than 2 aborts the process" in info.value.message
        # the call after the crash was never answered: it runs in a fresh child when asked
        out = backend.infer("serving_default", ok[2])
        assert out["y"].shape == (1, 2)
        assert backend.loads == 2
        assert [op for op in sent if op != "activate"] == ["infer_many", "infer"]
    finally:
        backend.deactivate()
    assert [p for p in scratch.iterdir() if p.name.startswith("model-contract-child-")] == []


def test_large_inputs_go_call_by_call_through_the_mapped_file(
        tmp_path: Path, scratch: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = isolated(tmp_path, "tiny")
    small = {"x": np.zeros((2, 4), np.float32)}
    large = {"x": np.zeros((20000, 4), np.float32)}  # 320 KB: mapped
    try:
        backend.activate()
        sent = count_sent(monkeypatch)
        backend.infer_ahead("serving_default", [small, large])
        backend.infer("serving_default", small)
        backend.infer("serving_default", large)
        assert sent == ["infer", "infer_mapped"]
    finally:
        backend.deactivate()
