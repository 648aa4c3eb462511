"""A symbolic link (or a special file) in a model directory is reported and never followed."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("tensorflow")

from harness.backends.savedmodel import HermeticCopy  # noqa: E402
from harness.cli import main  # noqa: E402
from harness.errors import ModelError, PolicyViolation  # noqa: E402
from harness.safety import scan_saved_model  # noqa: E402
from harness.safety.symlinks import copy_model, find_links  # noqa: E402
from tests.conftest import FIXTURES  # noqa: E402

TINY = FIXTURES / "tiny"


@pytest.fixture()
def model(tmp_path: Path) -> Path:
    """A copy of the tiny model plus a secret file outside it."""
    dest = tmp_path / "model"
    shutil.copytree(TINY, dest)
    (tmp_path / "secret.txt").write_text("not the model's\n")
    return dest


def test_asset_link_is_a_violation_saying_where_it_points(model: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    (model / "assets").mkdir(exist_ok=True)
    os.symlink(secret, model / "assets" / "vocab.txt")
    report = scan_saved_model(model)
    assert [(f.op, f.node, f.rule) for f in report.findings] == [
        ("symlink", "assets/vocab.txt", "symlink")]
    with pytest.raises(PolicyViolation) as caught:
        report.raise_for_violations()
    text = str(caught.value)
    assert (f"1. symlink assets/vocab.txt: symbolic link to {secret}: the model would read "
            "whatever that path holds on the machine it runs on, not a file of its own") in text
    assert "path: model directory: assets/vocab.txt" in text
    assert "replace each link or special file by a regular file" in text
    assert "--allow-op" not in text


def test_directory_link_under_variables_and_a_linked_pb(model: Path, tmp_path: Path) -> None:
    os.symlink(tmp_path, model / "variables" / "more")
    assert [link.relative for link in find_links(model)] == ["variables/more"]
    pb = model / "saved_model.pb"
    real = tmp_path / "real.pb"
    pb.rename(real)
    os.symlink(real, pb)
    report = scan_saved_model(model)
    assert sorted(f.node for f in report.findings) == ["saved_model.pb", "variables/more"]
    assert report.ops_by_signature == {}, "a linked saved_model.pb must not be read"


def test_fifo_is_reported_and_never_opened(model: Path) -> None:
    os.mkfifo(model / "variables" / "pipe")
    report = scan_saved_model(model)
    assert [(f.node, f.reason) for f in report.findings] == [
        ("variables/pipe", "a named pipe (FIFO), not a regular file: reading it can block or "
                           "never end")]
    with pytest.raises(ModelError, match="variables/pipe: a named pipe"):
        copy_model(model, model.parent / "copy")
    assert not (model.parent / "copy").exists()


def test_the_read_only_copy_refuses_a_link_and_leaves_no_folder(
        model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    os.symlink(tmp_path / "secret.txt", model / "variables" / "secret")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    with pytest.raises(ModelError) as caught:
        HermeticCopy(model)
    assert str(caught.value).startswith(
        f"{model}: variables/secret: symbolic link to {tmp_path / 'secret.txt'}")
    assert "the model was not copied or loaded" in str(caught.value)
    assert list(scratch.iterdir()) == []


def test_scan_command_exits_1_on_a_link(model: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    os.symlink("/", model / "variables" / "root")
    assert main(["scan", str(model)]) == 1
    assert "symlink variables/root: symbolic link to /" in capsys.readouterr().out


def test_a_model_without_links_copies_and_scans_clean(model: Path, tmp_path: Path) -> None:
    assert find_links(model) == ()
    copy_model(model, tmp_path / "copy")
    assert sorted(p.relative_to(tmp_path / "copy") for p in (tmp_path / "copy").rglob("*")) == \
        sorted(p.relative_to(model) for p in model.rglob("*"))
    assert scan_saved_model(model).findings == ()
