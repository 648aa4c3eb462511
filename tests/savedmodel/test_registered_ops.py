"""TensorFlow's "registered" answers kept across runs: the scan's findings stay TensorFlow's
own, and a scan whose op types are all known loads no registry extension."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.savedmodel import registered_ops
from harness.savedmodel.registered_ops import RegisteredOps, installation_key
from tests.conftest import FIXTURES, ROOT


class Asked:
    """A stand-in for TensorFlow's registry that counts the questions."""

    def __init__(self, registered: set[str]) -> None:
        self.registered = registered
        self.questions: list[str] = []

    def __call__(self, op: str) -> bool:
        self.questions.append(op)
        return op in self.registered


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fixed installation key (the tests below are about the answers, not the key)."""
    monkeypatch.setattr(registered_ops, "installation_key", lambda: "k" * 32)


def test_a_registered_answer_is_remembered_across_runs(tmp_path: Path, installed: None) -> None:
    first = Asked({"MatMul", "Relu"})
    ops = RegisteredOps(tmp_path, ask=first)
    assert ops("MatMul") and ops("Relu") and not ops("ZzCustom")
    ops.save()
    assert json.loads((tmp_path / "registered-ops" / f"{'k' * 32}.json").read_text()) == [
        "MatMul", "Relu"]
    second = Asked({"MatMul", "Relu"})
    again = RegisteredOps(tmp_path, ask=second)
    assert again("MatMul") and again("Relu")
    assert second.questions == []  # known: TensorFlow is not asked
    assert not again("ZzCustom")  # "not registered" is never remembered: asked every time
    assert second.questions == ["ZzCustom"]


def test_answers_of_another_installation_are_not_used(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registered_ops, "installation_key", lambda: "a" * 32)
    ops = RegisteredOps(tmp_path, ask=Asked({"MatMul"}))
    assert ops("MatMul")
    ops.save()
    monkeypatch.setattr(registered_ops, "installation_key", lambda: "b" * 32)
    other = Asked(set())  # the other TensorFlow does not register it
    assert not RegisteredOps(tmp_path, ask=other)("MatMul")
    assert other.questions == ["MatMul"]


def test_an_unreadable_list_costs_time_never_an_answer(tmp_path: Path, installed: None) -> None:
    folder = tmp_path / "registered-ops"
    folder.mkdir()
    for broken in ("{not json", '{"MatMul": true}', '["MatMul", 3]'):
        (folder / f"{'k' * 32}.json").write_text(broken)
        asked = Asked({"MatMul"})
        ops = RegisteredOps(tmp_path, ask=asked)
        assert ops("MatMul") and ops("Relu") is False
        assert asked.questions == ([] if broken.startswith("[") else ["MatMul"]) + ["Relu"]


def test_an_unwritable_folder_is_not_an_error(tmp_path: Path, installed: None) -> None:
    (tmp_path / "registered-ops").write_text("a file where the folder would be")
    ops = RegisteredOps(tmp_path, ask=Asked({"MatMul"}))
    assert ops("MatMul")
    ops.save()  # nothing written, nothing raised
    assert sorted(p.name for p in tmp_path.iterdir()) == ["registered-ops"]


def test_without_a_folder_or_a_tensorflow_nothing_is_kept(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    asked = Asked({"MatMul"})
    ops = RegisteredOps(None, ask=asked)
    assert ops.file is None and ops("MatMul")
    ops.save()
    monkeypatch.setattr(registered_ops, "installation_key", lambda: None)
    assert RegisteredOps(tmp_path, ask=asked).file is None


def test_the_installation_key_names_the_registry_files(tmp_path: Path) -> None:
    """Another build of the registry extension (size, time, inode) gives another key; a
    TensorFlow without the files gives none."""
    root = tmp_path / "tensorflow"
    (root / "python" / "framework").mkdir(parents=True)
    assert installation_key(root) is None
    extension = root / "python" / "framework" / "_op_def_registry.so"
    extension.write_bytes(b"one")
    (root / "libtensorflow_framework.so.2").write_bytes(b"lib")
    key = installation_key(root)
    assert key is not None and key == installation_key(root)
    os.replace(extension, tmp_path / "old.so")  # a reinstall: a new file in its place
    extension.write_bytes(b"two!")
    assert installation_key(root) not in (None, key)


def test_the_installed_tensorflow_has_a_key() -> None:
    pytest.importorskip("tensorflow")
    assert installation_key() is not None


def test_a_second_scan_loads_no_registry_and_finds_the_same(tmp_path: Path) -> None:
    """The gate's scan in two fresh processes sharing a cache folder: the first asks
    TensorFlow's registry, the second (every op type known) does not load it, and both
    report the same op sites; an op type TensorFlow lacks is still reported."""
    pytest.importorskip("tensorflow")
    from models_under_test.fixtures_hostile import CUSTOM_OP_TYPE, HOSTILE_DIR

    code = textwrap.dedent(f"""\
        import json, sys
        from pathlib import Path
        from harness.context import RunContext
        from harness.contract.load import load_contract
        from harness.options import RunOptions
        from harness.safety.gate import scan
        from harness.savedmodel.layout import resolve_model

        context = RunContext(RunOptions(export_cache=Path({str(tmp_path / "cache")!r})))
        out = {{}}
        for model in sys.argv[1:]:
            contract = load_contract(Path({str(tmp_path / "c.json")!r}))
            [ref] = resolve_model(Path(model))
            report = scan(context, contract, ref)
            out[model] = sorted({{(s.op, s.registered) for s in report.sites}})
        out["registry loaded"] = "tensorflow.python.framework._op_def_registry" in sys.modules
        out["tensorflow started"] = "tensorflow.python" in sys.modules and hasattr(
            sys.modules.get("tensorflow"), "__version__")
        print(json.dumps(out))
        """)
    from tests.conftest import write_contract

    write_contract(tmp_path, models=[str(FIXTURES / "tiny")])
    models = [str(FIXTURES / "tiny"), str(HOSTILE_DIR / "custom_op")]

    def run(*chosen: str) -> dict[str, object]:
        done = subprocess.run([sys.executable, "-c", code, *chosen], capture_output=True,
                              text=True, cwd=ROOT, timeout=600,
                              env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
        assert done.returncode == 0, done.stderr[-3000:]
        result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
        return result

    first = run(models[0])
    assert first["registry loaded"] is True
    second = run(models[0])
    assert second["registry loaded"] is False and second["tensorflow started"] is False
    assert second[models[0]] == first[models[0]]
    both = run(*models)  # the custom op is not known: TensorFlow is asked, and says no
    assert [CUSTOM_OP_TYPE, False] in both[models[1]]
    assert both[models[0]] == first[models[0]]
