"""TensorFlow's protobuf classes and op registry without starting TensorFlow, and the runs
that need no TensorFlow not importing it (in any of their processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT, write_contract

#: A ``sitecustomize`` that writes a line to $TRACE whenever a process runs TensorFlow's
#: ``__init__`` (the import that starts TensorFlow), in the test's processes and their
#: children alike. Placeholders of :mod:`harness.savedmodel.tf_modules` run no ``__init__``.
TRACER = textwrap.dedent("""\
    import importlib.machinery, os, sys

    class _Trace:
        def find_spec(self, name, path=None, target=None):
            if name != "tensorflow":
                return None
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            if spec is not None and spec.loader is not None:
                run = spec.loader.exec_module
                def exec_module(module, run=run):
                    with open(os.environ["TRACE"], "a") as out:
                        out.write(f"pid {os.getpid()}: {' '.join(sys.argv[:3])}\\n")
                    run(module)
                spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, _Trace())
    """)


def run_traced(tmp_path: Path, args: list[str]) -> tuple[subprocess.CompletedProcess[str], str]:
    """``python ARGS`` in a fresh interpreter; its output and the TensorFlow starts traced."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(TRACER)
    trace = tmp_path / "trace.txt"
    trace.write_text("")
    env = dict(os.environ, TRACE=str(trace), TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONPATH=os.pathsep.join([str(site), str(ROOT)]))
    done = subprocess.run([sys.executable, *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)
    return done, trace.read_text()


def test_the_tracer_sees_tensorflow_start(tmp_path: Path) -> None:
    """The tracer itself: an import of TensorFlow is seen (else the tests below prove nothing)."""
    done, trace = run_traced(tmp_path, ["-c", "import tensorflow"])
    assert done.returncode == 0, done.stderr
    assert trace.startswith("pid ")


def test_protobuf_classes_and_op_registry_without_tensorflow(tmp_path: Path) -> None:
    """The generated classes and the registry load without TensorFlow; a later import of
    TensorFlow finds the same classes and runs; an op the core library lacks is asked of
    TensorFlow itself."""
    code = textwrap.dedent("""\
        import sys
        from harness.savedmodel.tf_modules import op_registered, tensorflow_imported, tf_module

        pb2 = tf_module("tensorflow.core.protobuf.saved_model_pb2")
        assert pb2.SavedModel.__name__ == "SavedModel"
        assert op_registered("MatMul") and op_registered("ReadFile")
        assert not tensorflow_imported() and "tensorflow" not in sys.modules, sorted(
            m for m in sys.modules if m.split(".")[0] == "tensorflow")[:5]
        print("before", flush=True)
        assert not op_registered("NoSuchOpAnywhere")  # asked of TensorFlow: it starts
        assert tensorflow_imported()
        import tensorflow as tf
        from tensorflow.core.protobuf import saved_model_pb2
        assert saved_model_pb2 is pb2
        assert float(tf.reduce_sum(tf.constant([1.0, 2.0]))) == 3.0
        print("after")
        """)
    done, trace = run_traced(tmp_path, ["-c", code])
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["before", "after"]
    assert trace.count("pid ") == 1  # only the import the unknown op asked for


def test_an_op_outside_the_core_library_is_not_called_unregistered() -> None:
    """AudioMicrofrontend comes from a library only ``import tensorflow`` loads: the core
    registry lacks it, TensorFlow has it, so the scan must not flag it (no false alarm)."""
    code = textwrap.dedent("""\
        from harness.savedmodel.tf_modules import op_registered, tf_module
        registry = tf_module("tensorflow.python.framework._op_def_registry")
        print(registry.get("AudioMicrofrontend") is None, op_registered("AudioMicrofrontend"))
        """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]


@pytest.mark.parametrize("command", [
    ["validate", "contracts/classifier.json"],
    ["lint", "contracts/classifier.json"],
    ["scan", "models_under_test/classifier/1"],
], ids=["validate", "lint", "scan"])
def test_commands_that_run_no_model_do_not_start_tensorflow(tmp_path: Path,
                                                            command: list[str]) -> None:
    args = [str(ROOT / a) if a.startswith(("contracts/", "models_under_test/")) else a
            for a in command]
    done, trace = run_traced(tmp_path, ["-m", "harness.cli", *args])
    assert done.returncode == 0, done.stdout + done.stderr
    assert trace == ""


@pytest.mark.parametrize("fmt", ["onnx", "tflite"])
def test_a_run_on_a_given_artifact_does_not_start_tensorflow(tmp_path: Path, fmt: str) -> None:
    """Conformance of a given TFLite/ONNX file, isolated (the default): the static read of
    the SavedModel, the op-policy scan, the backend's child: no process starts TensorFlow."""
    contract = write_contract(tmp_path, models=[str(FIXTURES / "tiny")])
    artifact = FIXTURES / "exports" / f"tiny_perturbed.{fmt}"
    done, trace = run_traced(tmp_path, [
        "-m", "pytest", "-p", "no:cacheprovider", "-q", "--contract", str(contract),
        "--backend", fmt, f"--{fmt}", str(artifact), "-k", f"conformance and {fmt} or ops",
        "--examples", "3", "--results-dir", str(tmp_path / "results"),
        "--export-cache", str(tmp_path / "cache")])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "2 passed" in done.stdout, done.stdout[-3000:]
    assert trace == ""
    assert json.loads((tmp_path / "results" / "report.json").read_text())
