"""Recording never overwrites silently: a changed recording is refused and its changes shown."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from harness.contract.load import load_contract
from harness.golden import record as record_module
from harness.golden.arrays import load_calls, save_calls
from harness.golden.compare import load_golden
from harness.golden.record import Recording, record, store
from harness.golden.run import Target
from harness.savedmodel.layout import resolve_model

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "baselines" / "classifier" / "classify"


def _recording_like(directory: Path, bump: float = 0.0, fingerprint: str | None = None) -> Recording:
    golden = load_golden(directory)
    man = golden.manifest
    contract = load_contract(ROOT / man.contract)
    target = Target(contract, resolve_model(ROOT / "models_under_test" / "classifier")[-1], "classify")
    outputs = {b: tuple(dict(c) for c in calls) for b, calls in golden.outputs.items()}
    if bump:
        first = dict(outputs["savedmodel"][0])
        first["prob"] = first["prob"] + np.float32(bump)
        outputs["savedmodel"] = (first,) + outputs["savedmodel"][1:]
    if fingerprint:
        from dataclasses import replace

        man = replace(man, fingerprint=fingerprint)
    return Recording(target, man, golden.inputs, outputs)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    shutil.copytree(GOLDEN, tmp_path / "classifier" / "classify")
    return tmp_path


def test_identical_recording_writes_nothing(root: Path) -> None:
    outcome = store(_recording_like(root / "classifier" / "classify"), root, force=False)
    assert outcome.action == "unchanged" and outcome.changes == ()


def test_changed_recording_is_refused_with_the_diff(root: Path) -> None:
    directory = root / "classifier" / "classify"
    before = (directory / "outputs-savedmodel.npz").read_bytes()
    outcome = store(_recording_like(directory, bump=0.25, fingerprint="f" * 64), root, force=False)
    assert outcome.action == "refused"
    assert any(line.startswith("model fingerprint: ") and line.endswith("-> ffffffffffff")
               for line in outcome.changes)
    assert "savedmodel: output 'prob': max abs diff 0.25 vs the stored golden" in outcome.changes
    assert (directory / "outputs-savedmodel.npz").read_bytes() == before


def test_force_overwrites_and_shows_the_same_diff(root: Path) -> None:
    directory = root / "classifier" / "classify"
    outcome = store(_recording_like(directory, bump=0.25), root, force=True)
    assert outcome.action == "overwritten"
    assert "savedmodel: output 'prob': max abs diff 0.25 vs the stored golden" in outcome.changes
    stored = load_calls(directory / "outputs-savedmodel.npz")
    original = load_calls(GOLDEN / "outputs-savedmodel.npz")
    assert np.allclose(stored[0]["prob"], original[0]["prob"] + 0.25)


def test_record_command_prints_changes_and_refuses(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = root / "classifier" / "classify"
    changed = _recording_like(directory, bump=0.5)
    monkeypatch.setattr(record_module, "make_recordings", lambda targets: [changed])
    monkeypatch.setattr(record_module, "targets", lambda paths: [changed.target])
    lines: list[str] = []
    outcomes = record([Path("contracts/classifier.json")], root, force=False, echo=lines.append)
    assert [o.action for o in outcomes] == ["refused"]
    assert lines[0].startswith("refused ")
    assert "    savedmodel: output 'prob': max abs diff 0.5 vs the stored golden" in lines
    assert lines[-1].startswith("refused to overwrite the goldens above")


def test_strings_round_trip_without_pickle(tmp_path: Path) -> None:
    tokens = np.empty((2, 3), dtype=object)
    tokens[:] = [[b"good", b"", b"a\x00"], [b"\xc3\xa9t\xc3\xa9", b"x", b""]]
    save_calls(tmp_path / "s.npz", [{"tokens": tokens, "n": np.arange(3)}])
    (back,) = load_calls(tmp_path / "s.npz")
    assert back["tokens"].shape == (2, 3) and back["tokens"].tolist() == tokens.tolist()
    assert back["n"].tolist() == [0, 1, 2]
    with np.load(tmp_path / "s.npz", allow_pickle=False) as data:
        assert all(data[k].dtype != object for k in data.files)
