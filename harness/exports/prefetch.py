"""Conversions a run will need, started early, while the checks that need none run.

The engine hands :func:`convert_ahead` the model, format and quantized variant (or None) of
each selected case that runs a converted format, as soon as the run knows its cases: TFLite
and its ``dynamic_range`` and ``float16`` variants, ONNX, and TF.js and its variants (only when
TF.js can run here: Node and npm found; its converter's own environment is then created
ahead too, under its lock). Not ahead: TFLite ``int8``, whose representative samples are
drawn by hypothesis, which must not run in a second thread beside the run's own fuzzing. Each conversion runs in a background
thread (the work itself is the converter's own process) through the same loader the
backend calls later, and only after the op-policy gate passed (a model that breaks the
policy is never converted). At most :data:`AT_ONCE` conversions run at a time.

The backend's own export then finds the cache entry, or waits on the entry's lock until
the conversion finishes (:meth:`~harness.exports.cache.ExportCache.making`). A conversion
that fails here is only a head start missed: the backend converts again and reports the
failure as it always did. The run's closers stop the converters still running when the
run ends (an interrupt included).
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, Callable, Iterable, Mapping

from harness.context import RunContext
from harness.contract.model import Contract
from harness.errors import HarnessError
from harness.exports import session_cache, stop_conversions
from harness.exports.loaders import load_onnx, load_tfjs, load_tflite
from harness.forkserver import client as forkserver
from harness.savedmodel.layout import ModelRef

#: Conversions running at once (each is a process that imports TensorFlow).
AT_ONCE = 2
#: Seconds the end of a run waits for the conversions it stops to end.
STOP_WAIT_S = 30.0


Variant = Mapping[str, Any] | None

#: quantizations whose export draws samples with hypothesis (not from a background thread)
DRAWS_SAMPLES = frozenset({"int8"})


def _tflite(context: RunContext, contract: Contract, ref: ModelRef, variant: Variant) -> Any:
    return load_tflite(context, ref, contract, variant)


def _tfjs(context: RunContext, contract: Contract, ref: ModelRef, variant: Variant) -> Any:
    return load_tfjs(context, ref, contract, variant)


def _onnx(context: RunContext, contract: Contract, ref: ModelRef, variant: Variant) -> Any:
    from harness.exports.onnx import DEFAULT_OPSET

    spec = contract.formats.get("onnx")
    opset = int((spec.options if spec is not None else {}).get("opset", DEFAULT_OPSET))
    return load_onnx(context, ref, contract, opset=opset)


def _tfjs_runs_here() -> bool:
    """Node and npm are found (else the TF.js cases are skipped: nothing to convert for)."""
    from harness.backends.tfjs import TFJSBackend
    from harness.errors import BackendUnavailable

    try:
        TFJSBackend.check_available()
    except BackendUnavailable:
        return False
    return True


#: format -> its loader, called as the backend calls it (same cache key, same artifact)
LOADERS: dict[str, Callable[[RunContext, Contract, ModelRef, Variant], Any]] = {
    "tflite": _tflite,
    "onnx": _onnx,
    "tfjs": _tfjs,
}

#: format -> whether its conversion is worth starting on this machine (default: yes)
WANTED_HERE: dict[str, Callable[[], bool]] = {"tfjs": _tfjs_runs_here}


def convert_ahead(context: RunContext,
                  wanted: Iterable[tuple[Contract, ModelRef, str, Variant]]) -> None:
    """Start the conversions of ``wanted`` (contract, model, format, quantized variant or
    None) in the background."""
    from harness.safety.gate import gate

    jobs: list[tuple[Contract, ModelRef, str, Variant]] = []
    seen: set[tuple[str, str, str, str]] = set()
    here: dict[str, bool] = {}
    for contract, ref, fmt, variant in wanted:
        quantization = str(variant["quantization"]) if variant else "float"
        key = (str(contract.path), str(ref.path), fmt, quantization)
        if fmt not in LOADERS or key in seen or quantization in DRAWS_SAMPLES:
            continue
        seen.add(key)
        if fmt not in here:
            here[fmt] = WANTED_HERE.get(fmt, lambda: True)()
        if not here[fmt]:
            continue
        try:
            gate(context, contract, ref)  # scanned once per run; the `ops` check reuses it
        except (HarnessError, ImportError):
            continue  # refused or unreadable: its checks say so, nothing is converted
        jobs.append((contract, ref, fmt, variant))
    if not jobs:
        return
    session_cache(context)  # made here, not by two threads at once
    # The converters fork from the run's server (TensorFlow imported once); it starts with
    # the first that runs (none does when every export is given or cached).
    forkserver.start_for(context, now=False)
    pool = ThreadPoolExecutor(max_workers=AT_ONCE, thread_name_prefix="model-contract-export")

    futures: list[Future[None]] = []

    def stop() -> None:
        pool.shutdown(wait=False, cancel_futures=True)
        # A job may be about to start its converter while we stop the running ones: stop
        # again until every job has ended (a killed converter ends its job at once).
        deadline = time.monotonic() + STOP_WAIT_S
        while True:
            stop_conversions()
            if not wait(futures, timeout=0.05).not_done or time.monotonic() > deadline:
                return

    context.closers.add(stop)
    for contract, ref, fmt, variant in jobs:
        futures.append(pool.submit(_quietly, LOADERS[fmt], context, contract, ref, variant))


def _quietly(load: Callable[[RunContext, Contract, ModelRef, Variant], Any],
             context: RunContext, contract: Contract, ref: ModelRef, variant: Variant) -> None:
    try:
        load(context, contract, ref, variant)
    except Exception:  # noqa: BLE001 - the backend's own export reports the failure
        pass
