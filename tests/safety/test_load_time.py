"""Code a loader runs while loading (restore ops and functions) is a scan root."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("tensorflow")

from harness.cli import main  # noqa: E402
from harness.errors import PolicyViolation  # noqa: E402
from harness.safety import OpPolicy, scan_saved_model  # noqa: E402
from models_under_test.fixtures_load_time import (  # noqa: E402
    build_tf1_restore_writes,
    build_tf2_mutable_table,
    build_tf2_restore_function_writes,
)

LOAD_TIME_LINE = ("runs at load time: the loader executes it while loading the model, "
                  "before any signature is called")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("load_time")
    target = root / "written_at_load.txt"
    models = {"target": target}
    for name, builder in (("tf1_restore", build_tf1_restore_writes),
                          ("tf2_restore_function", build_tf2_restore_function_writes)):
        models[name] = root / name
        builder(models[name], target)
    models["table"] = root / "table"
    build_tf2_mutable_table(models["table"])
    return models


def violation(model_dir: Path) -> str:
    with pytest.raises(PolicyViolation) as caught:
        scan_saved_model(model_dir).raise_for_violations()
    return str(caught.value)


def test_tf1_restore_op_is_scanned(built: dict[str, Path]) -> None:
    text = violation(built["tf1_restore"])
    assert text.startswith(f"{built['tf1_restore']}: the op policy forbids 1 finding")
    assert (f"WriteFile (node 'pwn/write'): writes a file to the filesystem (file name: "
            f"constant '{built['target']}')") in text
    assert LOAD_TIME_LINE in text
    assert "path: load-time restore op 'save/restore_all' (saver_def) -> node 'pwn/write'" in text
    assert not built["target"].exists()


def test_tf2_restore_function_of_a_saveable_is_scanned(built: dict[str, Path]) -> None:
    report = scan_saved_model(built["tf2_restore_function"])
    paths = [f.path for f in report.findings]
    assert {f.op for f in report.findings} == {"WriteFile"}
    assert all(f.load_time for f in report.findings)
    assert any(p.startswith("load-time restore function of root (saveable '.TENSORS') -> "
                            "__inference_restore_fn_") for p in paths), paths
    assert any(p.startswith("load-time restore op 'StatefulPartitionedCall")
               for p in paths), paths
    assert LOAD_TIME_LINE in violation(built["tf2_restore_function"])


def test_the_tf2_fixture_really_writes_when_loaded(built: dict[str, Path],
                                                   tmp_path: Path) -> None:
    """Proof the fixture is hostile: tf.saved_model.load runs the restore function."""
    import shutil

    import tensorflow as tf

    target = built["target"]
    copy = tmp_path / "copy"
    shutil.copytree(built["tf2_restore_function"], copy)
    try:
        tf.saved_model.load(str(copy))
        assert target.read_bytes() == b"saved"
    finally:
        target.unlink(missing_ok=True)


def test_benign_restore_functions_pass_default_and_allowlist(built: dict[str, Path]) -> None:
    report = scan_saved_model(built["table"])
    assert report.findings == ()
    labels = set(report.ops_at_load)
    assert "load-time restore function of root.table (saveable 'table')" in labels
    assert "LookupTableImportV2" in report.ops_at_load[
        "load-time restore function of root.table (saveable 'table')"]
    # allowlist mode: the signature's own ops are listed, the restore machinery need not be
    signature_ops = sorted(report.ops_by_signature["serving_default"])
    policy = OpPolicy.from_mapping({"allow": signature_ops + ["Const", "Identity", "NoOp",
                                                              "MutableHashTableV2"]})
    assert scan_saved_model(built["table"], policy).findings == ()


@pytest.mark.parametrize("name", ["tf1_restore", "tf2_restore_function"])
def test_scan_and_init_refuse_before_loading(built: dict[str, Path], name: str,
                                             tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(built[name])]) == 1
    assert LOAD_TIME_LINE in capsys.readouterr().out
    out = tmp_path / "contract.json"
    assert main(["init", str(built[name]), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "the op policy forbids" in err and "it was not loaded" in err
    assert not out.exists()
    assert not built["target"].exists(), "the hostile restore code ran"
