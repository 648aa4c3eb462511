"""Large inputs reach an isolated backend, and large outputs come back, through mapped files
in the child's temporary folder (no pickle through the pipe); results are those of the same
backend in-process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from harness.backends import isolation  # noqa: E402
from harness.backends.base import InferenceError  # noqa: E402
from harness.backends.isolation import IsolatedBackend  # noqa: E402
from harness.backends.savedmodel import SavedModelBackend  # noqa: E402
from harness.context import RunContext  # noqa: E402
from harness.contract import load_contract  # noqa: E402
from harness.options import RunOptions  # noqa: E402
from harness.savedmodel.layout import resolve_model  # noqa: E402
from tests.conftest import FIXTURES, write_contract  # noqa: E402


def test_large_inputs_travel_mapped_and_give_the_in_process_results(
        tmp_path: Path, scratch: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    contract = load_contract(write_contract(tmp_path, models=[str(FIXTURES / "tiny")]))
    [ref] = resolve_model(FIXTURES / "tiny")
    context = RunContext(RunOptions(results_dir=tmp_path / "results"))
    sent: list[str] = []
    real = isolation.Child.request

    def request(self: isolation.Child, message: tuple[Any, ...], timeout: float) -> Any:
        sent.append(message[0])
        if message[0] == "infer_mapped":
            assert Path(message[3]).parent == self.tmp  # in the child's own folder
        return real(self, message, timeout)

    monkeypatch.setattr(isolation.Child, "request", request)
    came_mapped: list[list[str]] = []
    copy_out = isolation.Child._mapped_outputs

    def mapped_outputs(self: isolation.Child, rest: Any, size: int, layout: Any,
                       order: list[str]) -> Any:
        assert self.outputs_file.parent == self.tmp  # in the child's own folder
        came_mapped.append(sorted(name for name, *_ in layout))
        return copy_out(self, rest, size, layout, order)

    monkeypatch.setattr(isolation.Child, "_mapped_outputs", mapped_outputs)
    rng = np.random.default_rng(0)
    inputs = [rng.random((n, 4), dtype=np.float32) for n in (3, 5000, 20000, 7, 9000)]
    isolated = IsolatedBackend(ref, contract, context, inner="savedmodel")
    here = SavedModelBackend(ref, contract, context)
    try:
        pairs = [(isolated.infer("serving_default", {"x": x}),
                  here.infer("serving_default", {"x": x})) for x in inputs]
        # compared after every call: a large output is a copy, not a view of the output file
        # that the next call overwrites
        for got, want in pairs:
            assert set(got) == set(want)
            for name in want:
                np.testing.assert_array_equal(got[name], want[name])
        # a refused call (wrong dtype, as the rejection check sends it) is refused alike
        wrong = rng.random((5000, 4))
        with pytest.raises(InferenceError) as far:
            isolated.infer("serving_default", {"x": wrong}, check_inputs=False)
        with pytest.raises(InferenceError) as near:
            here.infer("serving_default", {"x": wrong}, check_inputs=False)
        assert far.value.message.split(":")[0] == near.value.message.split(":")[0]
    finally:
        isolated.deactivate()
        here.deactivate()
    # y [n, 2] float32 and label [n] int64: both 64 KiB or more from n = 8192 rows
    assert came_mapped == [["label", "y"], ["label", "y"]]  # n = 20000 and 9000
    calls = [op for op in sent if op.startswith("infer")]
    assert calls == ["infer", "infer_mapped", "infer_mapped", "infer", "infer_mapped",
                     "infer_mapped"]
    # the mapped file went with the child's folder (the in-process copy is the backend's own)
    assert [p.name for p in scratch.iterdir() if p.name.startswith("model-contract-child-")] == []
