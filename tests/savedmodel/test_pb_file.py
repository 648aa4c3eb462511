"""saved_model.pb is checked by size and first bytes before it is read whole."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.errors import ModelError
from harness.savedmodel import pb_file
from harness.savedmodel.pb_file import read_pb
from tests.conftest import FIXTURES


def sparse(path: Path, size: int, head: bytes = b"") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(head)
        handle.truncate(size)  # a hole: no disk space, no memory
    return path


def no_whole_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Path) -> bytes:
        raise AssertionError(f"{self} was read whole")

    monkeypatch.setattr(Path, "read_bytes", refuse)


def test_over_the_size_limit_is_refused_from_its_size(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    pb = sparse(tmp_path / "m" / "saved_model.pb", 3 * 2**30, b"\x08\x01")
    no_whole_reads(monkeypatch)
    with pytest.raises(ModelError) as caught:
        read_pb(pb)
    assert str(caught.value) == (
        f"{pb}: is 3221225472 bytes, over the limit of 2147483647 bytes for a SavedModel "
        "protobuf (protobuf cannot parse more than 2 GiB); it was not read\n"
        "  hint: set $MODEL_CONTRACT_MAX_PB_BYTES to change the limit")


def test_a_2_gb_sparse_file_is_refused_from_its_first_bytes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pb = sparse(tmp_path / "m" / "saved_model.pb", 2 * 10**9)
    opened: list[int] = []
    real_open = open

    def tracking_open(file: object, mode: str = "r", *args: object, **kwargs: object) -> object:
        handle = real_open(file, mode, *args, **kwargs)  # type: ignore[call-overload]
        real_read = handle.read
        handle.read = lambda n=-1: (opened.append(n), real_read(n))[1]  # type: ignore[method-assign]
        return handle

    monkeypatch.setattr("builtins.open", tracking_open)
    with pytest.raises(ModelError) as caught:
        read_pb(pb)
    assert str(caught.value) == (
        f"{pb}: does not start like a SavedModel protobuf (first bytes: 00 00 00 00 00 00 00 "
        "00); it is corrupt or not a saved_model.pb, and was not read further")
    assert opened == [16]


def test_the_scan_and_the_reader_use_the_checks(tmp_path: Path) -> None:
    from harness.safety import scan_saved_model
    from harness.savedmodel.reader import read_saved_model

    model = tmp_path / "m"
    sparse(model / "saved_model.pb", 2 * 10**9)
    for reader in (scan_saved_model, read_saved_model):
        with pytest.raises(ModelError, match="does not start like a SavedModel protobuf"):
            reader(model)


def test_the_limit_is_configurable_and_real_models_pass(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    model = tmp_path / "tiny"
    shutil.copytree(FIXTURES / "tiny", model)
    pb = model / "saved_model.pb"
    assert read_pb(pb) == pb.read_bytes()
    monkeypatch.setenv(pb_file.ENV_VAR, "100")
    with pytest.raises(ModelError, match="over the limit of 100 bytes"):
        read_pb(pb)
