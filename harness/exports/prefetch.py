"""Conversions a run will need, started early, while the checks that need none run.

The engine hands :func:`convert_ahead` the model and format of each selected case that runs
a converted format, as soon as the run knows its cases. Each conversion runs in a background
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
from typing import Any, Callable, Iterable

from harness.context import RunContext
from harness.contract.model import Contract
from harness.errors import HarnessError
from harness.exports import session_cache, stop_conversions
from harness.exports.loaders import load_onnx, load_tflite
from harness.forkserver import client as forkserver
from harness.savedmodel.layout import ModelRef

#: Conversions running at once (each is a process that imports TensorFlow).
AT_ONCE = 2
#: Seconds the end of a run waits for the conversions it stops to end.
STOP_WAIT_S = 30.0


def _tflite(context: RunContext, contract: Contract, ref: ModelRef) -> Any:
    return load_tflite(context, ref, contract)


def _onnx(context: RunContext, contract: Contract, ref: ModelRef) -> Any:
    from harness.exports.onnx import DEFAULT_OPSET

    spec = contract.formats.get("onnx")
    opset = int((spec.options if spec is not None else {}).get("opset", DEFAULT_OPSET))
    return load_onnx(context, ref, contract, opset=opset)


#: format -> its loader, called as the backend calls it (same cache key, same artifact)
LOADERS: dict[str, Callable[[RunContext, Contract, ModelRef], Any]] = {
    "tflite": _tflite,
    "onnx": _onnx,
}


def convert_ahead(context: RunContext, wanted: Iterable[tuple[Contract, ModelRef, str]]) -> None:
    """Start the conversions of ``wanted`` (contract, model, format) in the background."""
    from harness.safety.gate import gate

    jobs: list[tuple[Contract, ModelRef, str]] = []
    seen: set[tuple[str, str, str]] = set()
    for contract, ref, fmt in wanted:
        key = (str(contract.path), str(ref.path), fmt)
        if fmt not in LOADERS or key in seen:
            continue
        seen.add(key)
        try:
            gate(context, contract, ref)  # scanned once per run; the `ops` check reuses it
        except (HarnessError, ImportError):
            continue  # refused or unreadable: its checks say so, nothing is converted
        jobs.append((contract, ref, fmt))
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
    for contract, ref, fmt in jobs:
        futures.append(pool.submit(_quietly, LOADERS[fmt], context, contract, ref))


def _quietly(load: Callable[[RunContext, Contract, ModelRef], Any], context: RunContext,
             contract: Contract, ref: ModelRef) -> None:
    try:
        load(context, contract, ref)
    except Exception:  # noqa: BLE001 - the backend's own export reports the failure
        pass
