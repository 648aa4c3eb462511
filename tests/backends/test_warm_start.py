"""What a run starts ahead of need: a worker with TensorFlow imported, and conversions.

Both keep the safety properties: the spare loads no model before the gate (and is stopped
with the run when unused); a model that breaks the op policy is never converted; the
converters still running when the run ends are stopped; two processes needing one export
convert it once."""

from __future__ import annotations

import os
import shutil
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from harness.backends import isolation  # noqa: E402
from harness.backends.isolation import IsolatedBackend, prestart  # noqa: E402
from harness.backends.source import load_ahead, open_backend, release_all  # noqa: E402
from harness.context import RunContext  # noqa: E402
from harness.contract import load_contract  # noqa: E402
from harness.engine import Engine  # noqa: E402
from harness.errors import HarnessError, PolicyViolation  # noqa: E402
from harness.exports import session_cache  # noqa: E402
from harness.exports.cache import ExportCache  # noqa: E402
from harness.exports.loaders import load_tflite  # noqa: E402
from harness.exports.prefetch import convert_ahead  # noqa: E402
from harness.forkserver import client as forkserver  # noqa: E402
from harness.options import RunOptions  # noqa: E402
from harness.savedmodel.layout import resolve_model  # noqa: E402
from tests.conftest import FIXTURES, MODELS, gone, write_contract  # noqa: E402


def tiny(tmp_path: Path, model: Path = FIXTURES / "tiny") -> tuple[RunContext, object, object]:
    contract = load_contract(write_contract(tmp_path, models=[str(model)],
                                            formats={"tflite": {}}))
    [ref] = resolve_model(model)
    context = RunContext(RunOptions(examples=3, results_dir=tmp_path / "results",
                                    export_cache=tmp_path / "cache"))
    return context, contract, ref


def converters_of_this_process() -> list[int]:
    """Live converter processes whose parent is this process (``harness.exports.worker``,
    spawned) or its fork server (``mc-export``, forked)."""
    server = forkserver.current()
    parents = {os.getpid(), *([server.proc.pid] if server is not None else [])}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            comm = (entry / "comm").read_text().strip()
            stat = (entry / "stat").read_text().split(") ", 1)[1].split()
        except OSError:
            continue
        if (b"harness.exports.worker" in cmdline or comm == "mc-export") and stat[0] != "Z" \
                and int(stat[1]) in parents:
            found.append(int(entry.name))
    return found


def a_converter_started(seconds: float = 60) -> None:
    """Wait until a converter of this process runs; fail if none starts in ``seconds``."""
    deadline = time.monotonic() + seconds
    while not converters_of_this_process() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert converters_of_this_process(), "no conversion started"


def spare_taken(context: RunContext, contract: object, ref: object, inner: str,
                runtime: str) -> str:
    """Start a spare for ``inner``, open ``inner``'s isolated backend on the tiny model and
    check that it took that spare (none left) and answers; the spare's memory maps, read
    while it ran. The run's processes are stopped after."""
    prestart(context, inner)
    spare = isolation._spares(context)[runtime]
    backend = IsolatedBackend(ref, contract, context, inner=inner)  # type: ignore[arg-type]
    try:
        backend.activate()
        assert backend.child is spare and isolation._spares(context) == {}
        maps = Path(f"/proc/{spare.proc.pid}/maps").read_text()
        out = backend.infer("serving_default", {"x": np.full((2, 4), 0.5, np.float32)})
        assert out["y"].shape == (2, 2)
        return maps
    finally:
        backend.deactivate()
        context.closers.close_all()


@pytest.fixture()
def spawned(monkeypatch: pytest.MonkeyPatch) -> None:
    """No fork server: every worker is spawned (the fallback, and the spare)."""
    monkeypatch.setenv(forkserver.SWITCH_ENV, "0")


def test_the_first_savedmodel_backend_takes_the_spare(tmp_path: Path, scratch: Path, spawned: None) -> None:
    context, contract, ref = tiny(tmp_path)
    spare_taken(context, contract, ref, "savedmodel", "tensorflow")
    assert sorted(scratch.iterdir()) == []


@pytest.mark.parametrize("fmt, runtime", [("onnx", "onnxruntime"),
                                           ("tflite", "ai_edge_litert.interpreter")])
def test_a_converted_format_takes_a_spare_with_its_runtime_imported(
        tmp_path: Path, scratch: Path, fmt: str, runtime: str) -> None:
    """A given ONNX/TFLite file: the spare has imported onnxruntime/LiteRT (not TensorFlow)
    before the backend asks it to load the file."""
    contract = load_contract(write_contract(tmp_path, models=[str(FIXTURES / "tiny")]))
    [ref] = resolve_model(FIXTURES / "tiny")
    context = RunContext(RunOptions(examples=3, results_dir=tmp_path / "results",
                                    export_cache=tmp_path / "cache",
                                    **{fmt: FIXTURES / "exports" / f"tiny_perturbed.{fmt}"}))
    maps = spare_taken(context, contract, ref, fmt, runtime)
    assert "libtensorflow" not in maps
    assert sorted(scratch.iterdir()) == []


def test_an_unused_spare_is_stopped_with_the_run(tmp_path: Path, scratch: Path, spawned: None) -> None:
    context, _, _ = tiny(tmp_path)
    prestart(context, "savedmodel")
    prestart(context, "savedmodel")  # one spare per runtime, not two
    prestart(context, "onnx")  # a spare per runtime: onnxruntime's too
    prestart(context, "tfjs")  # nothing to import ahead for Node: no spare
    spares = dict(isolation._spares(context))
    assert list(spares) == ["tensorflow", "onnxruntime"]
    context.closers.close_all()
    assert all(spare.proc.poll() is not None for spare in spares.values())
    assert sorted(scratch.iterdir()) == []


def test_a_dead_spare_is_replaced_by_a_fresh_child(tmp_path: Path, scratch: Path, spawned: None) -> None:
    context, contract, ref = tiny(tmp_path)
    prestart(context, "savedmodel")
    spare = isolation._spares(context)["tensorflow"]
    spare.kill()
    backend = IsolatedBackend(ref, contract, context, inner="savedmodel")  # type: ignore[arg-type]
    try:
        backend.activate()
        assert backend.child is not spare and backend.loads == 1 and backend.crashes == 0
        assert backend.infer("serving_default", {"x": np.zeros((1, 4), np.float32)})["y"].shape \
            == (1, 2)
    finally:
        backend.deactivate()
        context.closers.close_all()
    assert sorted(scratch.iterdir()) == []


def test_one_export_is_converted_once_when_two_need_it_at_once(tmp_path: Path) -> None:
    """The entry's lock: the second waits for the first and finds its artifact."""
    made: list[str] = []

    def make(tmp: Path) -> dict[str, str]:
        made.append(threading.current_thread().name)
        time.sleep(0.5)
        tmp.write_bytes(b"artifact")
        return {"how": "test"}

    caches = [ExportCache(tmp_path / "cache"), ExportCache(tmp_path / "cache")]
    entries: list[object] = []
    threads = [threading.Thread(target=lambda c=c: entries.append(c.get_or_make("k" * 64, "a.bin",
                                                                              make)))
               for c in caches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 1
    assert sum(c.conversions for c in caches) == 1 and sum(c.hits for c in caches) == 1
    assert {e.path.read_bytes() for e in entries} == {b"artifact"}  # type: ignore[attr-defined]


def test_a_conversion_started_ahead_is_what_the_backend_finds(tmp_path: Path) -> None:
    context, contract, ref = tiny(tmp_path)
    try:
        convert_ahead(context, [(contract, ref, "tflite", None)])  # type: ignore[list-item]
        a_converter_started()
        export = load_tflite(context, ref, contract)  # type: ignore[arg-type]  # waits for it
    finally:
        context.closers.close_all()
    assert export.cached and export.path.is_file()
    assert session_cache(context).conversions == 1  # by the background conversion, once


def test_a_quantized_variant_is_converted_ahead_except_int8(tmp_path: Path) -> None:
    """dynamic_range is converted ahead like the float export; int8 is not (its
    representative samples are drawn by hypothesis, never from a second thread)."""
    context, contract, ref = tiny(tmp_path)
    try:
        convert_ahead(context, [(contract, ref, "tflite", {"quantization": "int8"})])  # type: ignore[list-item]
        assert converters_of_this_process() == []
        convert_ahead(context, [(contract, ref, "tflite", {"quantization": "dynamic_range"})])  # type: ignore[list-item]
        a_converter_started()
        export = load_tflite(context, ref, contract, {"quantization": "dynamic_range"})  # type: ignore[arg-type]
    finally:
        context.closers.close_all()
    assert export.cached and export.path.name == "model-dynamic_range.tflite"
    assert session_cache(context).conversions == 1  # by the background conversion, once


def test_tfjs_is_converted_ahead_only_where_it_can_run(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """With Node and npm found, TF.js is converted ahead (variant included); without them
    its cases are skipped, and neither its converter's environment nor a conversion is
    started for them."""
    from harness.exports import prefetch

    started: list[object] = []
    monkeypatch.setitem(prefetch.LOADERS, "tfjs", lambda *args: started.append(args[3]))
    context, contract, ref = tiny(tmp_path)
    try:
        monkeypatch.setitem(prefetch.WANTED_HERE, "tfjs", lambda: True)
        convert_ahead(context, [(contract, ref, "tfjs", {"quantization": "float16"})])  # type: ignore[list-item]
        deadline = time.monotonic() + 30
        while not started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started == [{"quantization": "float16"}]
        monkeypatch.setitem(prefetch.WANTED_HERE, "tfjs", prefetch._tfjs_runs_here)
        monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no node, no npm
        convert_ahead(context, [(contract, ref, "tfjs", None)])  # type: ignore[list-item]
        time.sleep(0.5)
        assert started == [{"quantization": "float16"}]
    finally:
        context.closers.close_all()


def test_a_model_that_breaks_the_policy_is_never_converted_ahead(tmp_path: Path) -> None:
    context, contract, ref = tiny(tmp_path, MODELS / "hostile" / "writes_file")
    try:
        convert_ahead(context, [(contract, ref, "tflite", None), (contract, ref, "onnx", None)])  # type: ignore[list-item]
        assert converters_of_this_process() == []
    finally:
        context.closers.close_all()
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.tflite"))


def test_the_end_of_the_run_stops_conversions_still_running(tmp_path: Path, spawned: None
                                                            ) -> None:
    """Spawned converters (each imports TensorFlow: still running when the run ends; a
    forked one may finish first; tests/forkserver/ stops forks that still run)."""
    context, contract, ref = tiny(tmp_path)
    convert_ahead(context, [(contract, ref, "tflite", None), (contract, ref, "onnx", None)])  # type: ignore[list-item]
    a_converter_started()
    context.closers.close_all()
    deadline = time.monotonic() + 10
    while converters_of_this_process() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert converters_of_this_process() == []
    assert not any((tmp_path / "cache").rglob("*.onnx"))


def test_the_engine_starts_only_what_the_selected_cases_need(tmp_path: Path,
                                                             scratch: Path, spawned: None) -> None:
    """Conformance of a converted format needs no SavedModel process: no spare for it;
    a fuzzed call through the SavedModel gets one; --in-process never does."""
    contract_path = write_contract(tmp_path, models=[str(FIXTURES / "tiny")])
    for options, selected, spare in (
            ({}, "conformance[tflite]", False),
            ({}, "conformance", True),
            ({"in_process": True}, "conformance", False)):
        engine = Engine(RunOptions(examples=3, results_dir=tmp_path / "results",
                                   export_cache=tmp_path / "cache", backends=("savedmodel", "tflite"),
                                   **options))
        try:
            contract = engine.load(contract_path)
            [ref] = engine.models_of(contract)
            cases = [c for c in engine.plan(contract, ref) if c.check == selected]
            assert cases, selected
            engine.prepare(cases, load_ahead=False)
            assert ("tensorflow" in isolation._spares(engine.context)) is spare, (options, selected)
        finally:
            engine.close()
    assert sorted(scratch.iterdir()) == []


def test_the_formats_a_contract_lists_get_their_workers_at_configure(
        tmp_path: Path, scratch: Path) -> None:
    """pytest_configure starts the TFLite/ONNX workers of the formats the contract files
    list (``--backend``, when given, decides instead); files it cannot read list nothing."""
    from harness.pytest_plugin import _formats_listed, _start_workers

    listing = write_contract(tmp_path, "a.json", formats={"tflite": {}, "onnx": {}})
    tfjs_only = write_contract(tmp_path, "b.json", formats={"tfjs": {}, "onnx": {}})
    broken = tmp_path / "broken.json"
    broken.write_text("{ not json")
    missing = tmp_path / "missing.json"
    assert _formats_listed((listing, tfjs_only, broken, missing)) == ["tflite", "onnx", "tfjs"]
    context = RunContext(RunOptions(contracts=(broken, listing), results_dir=tmp_path / "r"))
    _start_workers(context)
    assert list(isolation._spares(context)) == ["ai_edge_litert.interpreter", "onnxruntime"]
    chosen = RunContext(RunOptions(contracts=(listing,), backends=("onnx",),
                                   results_dir=tmp_path / "r"))
    _start_workers(chosen)
    assert list(isolation._spares(chosen)) == ["onnxruntime"]
    for run in (context, chosen):
        run.closers.close_all()
    assert sorted(scratch.iterdir()) == []


def test_the_first_savedmodel_case_is_loaded_ahead_and_its_check_takes_it(
        tmp_path: Path, scratch: Path, spawned: None) -> None:
    """prepare() starts loading the SavedModel of the first case that calls it in the
    spare (after the gate); the check's open_backend takes that child, loaded once."""
    contract_path = write_contract(tmp_path, models=[str(FIXTURES / "tiny")])
    engine = Engine(RunOptions(examples=3, results_dir=tmp_path / "results",
                               export_cache=tmp_path / "cache"))
    try:
        contract = engine.load(contract_path)
        [ref] = engine.models_of(contract)
        cases = [c for c in engine.plan(contract, ref) if c.check == "values"]
        engine.prepare(cases)
        ahead = [b for b in engine.context.memo.values() if isinstance(b, IsolatedBackend)]
        assert len(ahead) == 1 and ahead[0]._loading is not None and not ahead[0].active
        loading = ahead[0]._loading.started()
        assert loading is not None
        assert isolation._spares(engine.context) == {}  # the spare is the one loading
        backend = open_backend(engine.context, "savedmodel", contract, ref)
        assert backend is ahead[0] and backend.active and backend.child is loading
        assert backend.loads == 1 and backend._loading is None
        assert backend.infer("serving_default", {"x": np.zeros((1, 4), np.float32)})["y"].shape \
            == (1, 2)
        engine.execute(cases[0])  # the check runs on it: no second load
        assert backend.loads == 1
    finally:
        engine.close()
    assert gone(loading.proc.pid)
    assert sorted(scratch.iterdir()) == []


def test_a_model_loaded_ahead_and_never_used_is_stopped_with_the_run(
        tmp_path: Path, scratch: Path, spawned: None) -> None:
    context, contract, ref = tiny(tmp_path)
    load_ahead(context, "savedmodel", contract, ref)  # type: ignore[arg-type]
    [backend] = [b for b in context.memo.values() if isinstance(b, IsolatedBackend)]
    assert backend._loading is not None
    child = backend._loading.started()
    assert child is not None
    pid = child.proc.pid
    release_all(context)
    context.closers.close_all()
    assert backend._loading is None and gone(pid)
    assert sorted(scratch.iterdir()) == []


def test_a_model_that_breaks_the_policy_is_never_loaded_ahead(tmp_path: Path,
                                                                  spawned: None) -> None:
    """Nothing is loaded, and the check that opens the backend reports the refusal itself
    (not as a failure remembered from an earlier check)."""
    context, contract, ref = tiny(tmp_path, MODELS / "hostile" / "writes_file")
    try:
        load_ahead(context, "savedmodel", contract, ref)  # type: ignore[arg-type]
        assert not any(isinstance(b, IsolatedBackend) for b in context.memo.values())
        with pytest.raises(PolicyViolation) as refused:
            open_backend(context, "savedmodel", contract, ref)  # type: ignore[arg-type]
        assert "WriteFile" in str(refused.value) and "not tried again" not in str(refused.value)
    finally:
        release_all(context)
        context.closers.close_all()


def test_the_next_model_loads_while_the_checks_of_the_one_before_it_run(
        tmp_path: Path, scratch: Path, spawned: None) -> None:
    """Two models in one run: once the first model's SavedModel is open, the next case of
    that model starts the second model's load; the second model's check takes that child.
    One loads ahead at a time."""
    second = tmp_path / "tiny2"
    shutil.copytree(FIXTURES / "tiny", second)
    contract_path = write_contract(tmp_path, models=[str(FIXTURES / "tiny"), str(second)])
    engine = Engine(RunOptions(examples=3, results_dir=tmp_path / "results",
                               export_cache=tmp_path / "cache"))
    try:
        contract = engine.load(contract_path)
        first_ref, second_ref = engine.models_of(contract)
        cases = [c for ref in (first_ref, second_ref) for c in engine.plan(contract, ref)
                 if c.check in ("values", "determinism")]
        assert [c.model for c in cases] == [first_ref, first_ref, second_ref, second_ref]

        def ahead() -> list[IsolatedBackend]:
            return [b for b in engine.context.memo.values()
                    if isinstance(b, IsolatedBackend) and b._loading is not None]

        engine.prepare(cases)
        [loading] = ahead()
        assert loading.model == first_ref
        engine.execute(cases[0])  # opens the first model's: the second is not loading yet
        assert ahead() == [] and loading.loads == 1
        engine.execute(cases[1])
        [next_one] = ahead()
        assert next_one.model == second_ref
        assert next_one._loading is not None
        child = next_one._loading.started()
        engine.execute(cases[2])
        assert next_one.child is child and next_one.loads == 1 and ahead() == []
        engine.execute(cases[3])
        assert [r.outcome for r in engine.results] == ["passed"] * 4
    finally:
        engine.close()
    assert sorted(scratch.iterdir()) == []


def test_a_model_loaded_ahead_whose_cases_went_by_unopened_is_stopped(
        tmp_path: Path, scratch: Path, spawned: None) -> None:
    """The cases ran in another order than planned (or failed before calling the model):
    the one loaded ahead for an earlier model is stopped, the next one after the current
    model starts."""
    models = [FIXTURES / "tiny"]
    for n in (2, 3):
        models.append(tmp_path / f"tiny{n}")
        shutil.copytree(FIXTURES / "tiny", models[-1])
    contract_path = write_contract(tmp_path, models=[str(m) for m in models])
    engine = Engine(RunOptions(examples=3, results_dir=tmp_path / "results",
                               export_cache=tmp_path / "cache"))
    try:
        contract = engine.load(contract_path)
        refs = engine.models_of(contract)
        cases = [c for ref in refs for c in engine.plan(contract, ref) if c.check == "values"]
        engine.prepare(cases)
        [first] = [b for b in engine.context.memo.values() if isinstance(b, IsolatedBackend)]
        assert first.model == refs[0] and first._loading is not None
        started = first._loading.started()
        assert started is not None
        pid = started.proc.pid
        engine.execute(cases[1])  # the second model's case runs first
        assert first._loading is None and gone(pid)
        loading = [b for b in engine.context.memo.values()
                   if isinstance(b, IsolatedBackend) and b._loading is not None]
        assert [b.model for b in loading] == [refs[2]]
    finally:
        engine.close()
    assert sorted(scratch.iterdir()) == []


def test_a_model_loading_ahead_is_held_to_the_memory_limit(tmp_path: Path, scratch: Path,
                                                           spawned: None) -> None:
    """Nobody waits for a load started ahead, so a thread watches its memory: over
    --memory-limit the child is killed, and the check that opens the backend fails with the
    memory-limit message (then, as for any load, it is tried once more in a fresh child)."""
    context, contract, ref = tiny(tmp_path)
    context = RunContext(replace(context.options, memory_limit=50))
    try:
        load_ahead(context, "savedmodel", contract, ref)  # type: ignore[arg-type]
        [backend] = [b for b in context.memo.values() if isinstance(b, IsolatedBackend)]
        assert backend._loading is not None
        child = backend._loading.started()
        assert child is not None
        assert gone(child.proc.pid, within=60)  # killed with nobody waiting
        assert child.overran_mb > 50
        with pytest.raises(HarnessError) as failed:
            open_backend(context, "savedmodel", contract, ref)  # type: ignore[arg-type]
        message = str(failed.value)
        assert "savedmodel could not load" in message
        assert "(tried twice, each in a fresh process; the first time: the backend used " \
               in message
        assert "over the memory limit of 50 MB; it was stopped" in message
    finally:
        release_all(context)
        context.closers.close_all()
    assert sorted(scratch.iterdir()) == []


@pytest.fixture()
def importing(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """The fork server imports TensorFlow until the test sets the event returned (a thread
    waiting for it, as a load ahead does, waits until then)."""
    imported = threading.Event()
    monkeypatch.setattr(forkserver, "wait_ready", lambda: imported.wait(60))
    return imported


def loading_during_the_import(context: RunContext, contract: object, ref: object
                              ) -> tuple[IsolatedBackend, "isolation._LoadingAhead"]:
    """The tiny model's SavedModel loading ahead (a spare started for it) while the fork
    server "imports" (:func:`importing`): its backend and its load."""
    prestart(context, "savedmodel")
    load_ahead(context, "savedmodel", contract, ref)  # type: ignore[arg-type]
    [backend] = [b for b in context.memo.values() if isinstance(b, IsolatedBackend)]
    assert backend._loading is not None
    return backend, backend._loading


def no_worker_after_the_import(context: RunContext, loading: "isolation._LoadingAhead",
                               importing: threading.Event) -> None:
    """The import ends: the cancelled load starts no worker (its spare is still there)."""
    importing.set()
    assert loading.started() is None
    assert "tensorflow" in isolation._spares(context)


def test_loading_ahead_does_not_hold_the_run_while_tensorflow_imports(
        tmp_path: Path, scratch: Path, spawned: None, importing: threading.Event) -> None:
    """load_ahead returns while the fork server still imports (the checks that need no
    TensorFlow run meanwhile); the load starts once the import is done, and the check that
    opens the backend takes that child."""
    context, contract, ref = tiny(tmp_path)
    try:
        backend, loading = loading_during_the_import(context, contract, ref)
        time.sleep(0.2)
        assert "tensorflow" in isolation._spares(context)  # not taken while it imports
        importing.set()
        child = loading.started()
        assert child is not None and "tensorflow" not in isolation._spares(context)
        opened = open_backend(context, "savedmodel", contract, ref)  # type: ignore[arg-type]
        assert opened is backend and backend.child is child and backend.loads == 1
    finally:
        release_all(context)
        context.closers.close_all()
    assert gone(child.proc.pid)
    assert sorted(scratch.iterdir()) == []


def test_a_load_ahead_stopped_while_tensorflow_imports_starts_no_worker(
        tmp_path: Path, scratch: Path, spawned: None, importing: threading.Event) -> None:
    """The run ends (or the model's cases went by) before the import is done: the thread
    that waited for it starts no worker and asks none to load."""
    context, contract, ref = tiny(tmp_path)
    try:
        backend, loading = loading_during_the_import(context, contract, ref)
        release_all(context)
        assert backend._loading is None
        no_worker_after_the_import(context, loading, importing)
    finally:
        release_all(context)
        context.closers.close_all()
    assert sorted(scratch.iterdir()) == []


def test_a_check_interrupted_while_it_waits_for_the_load_ahead_leaves_no_worker(
        tmp_path: Path, scratch: Path, spawned: None, importing: threading.Event,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while a check waits for TensorFlow's import (pytest then ends the run): the
    backend has left the run's memo, so the run's end cannot stop it; the thread that
    waited starts no worker when the import is done."""
    context, contract, ref = tiny(tmp_path)
    try:
        backend, loading = loading_during_the_import(context, contract, ref)
        waited = isolation._LoadingAhead.take

        def interrupted(self: isolation._LoadingAhead) -> None:
            raise KeyboardInterrupt

        monkeypatch.setattr(isolation._LoadingAhead, "take", interrupted)
        with pytest.raises(KeyboardInterrupt):
            open_backend(context, "savedmodel", contract, ref)  # type: ignore[arg-type]
        monkeypatch.setattr(isolation._LoadingAhead, "take", waited)
        assert not any(isinstance(b, IsolatedBackend) for b in context.memo.values())
        no_worker_after_the_import(context, loading, importing)
    finally:
        release_all(context)
        context.closers.close_all()
    assert sorted(scratch.iterdir()) == []
