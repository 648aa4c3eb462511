"""The child side of an isolated backend: ``python -m harness.backends.worker RFD WFD [RUNTIME]``.

With ``RUNTIME`` (``tensorflow``, ``onnxruntime``, ``ai_edge_litert.interpreter``) the worker
imports it and the backends before it reads its first request (a spare started ahead of
need; it loads no model until asked). The run's fork server
(:mod:`harness.forkserver.server`) runs the same :func:`main` in a fork that has TensorFlow
imported.

It reads pickled requests from file descriptor RFD and writes pickled replies to WFD.
Requests are tuples ``(op, *args)``:

* ``("activate", backend_name, model_ref, contract_path, run_options, kwargs)`` loads the
  model with a run context made from the run's options (its export cache, given
  artifacts); replies with the backend's label;
* ``("call", method, signature_name_or_None)`` calls a method of the backend (with the
  contract's signature of that name) and replies with its result;
* ``("infer", signature, inputs, check_inputs, outputs_path)`` replies with the outputs;
* ``("infer_mapped", signature, inputs, path, size, layout, check_inputs, outputs_path)``
  the same, with the large inputs in the file ``path`` (in this child's temporary folder,
  ``size`` bytes) that the parent wrote them to: ``layout`` lists ``(name, dtype, shape,
  offset)``; the child reads them in place through a read-only map (no pickle, no copy
  through the pipe);
* ``("infer_many", signature, [inputs, ...])`` runs the calls in order and replies once per
  call, as soon as it is answered (``("ok", outputs)`` or an error; outputs pickled, never
  mapped), so a crash on one call leaves the answers before it and names the call;
* ``("signatures",)`` replies with the format's signatures;
* ``("stop",)`` ends the process.

Large numeric outputs (:mod:`harness.backends.mapped`: 64 KiB or more) go the other way: the
child writes them into the file ``outputs_path`` (in its temporary folder too, grown as
needed) and replies ``("ok_mapped", rest, size, layout, order)``: ``rest`` the other outputs
(pickled), ``layout`` as above, ``order`` the outputs' names in the backend's order; the
parent copies them out.

Replies are ``("ok", value)``, ``("ok_mapped", ...)`` or ``("error", kind, detail)`` where kind is ``inference``
(the backend refused or failed the call; detail is its message), ``raise`` (a user error
or check failure, e.g. a converter failure or names that do not resolve; detail is the
exception itself, raised again in the parent) or ``bug`` (detail is the traceback). A crash of TensorFlow (abort, segfault) or running out of memory
simply ends the process; the parent reports it.
"""

from __future__ import annotations

import os
import sys
import traceback
from multiprocessing.connection import Connection
from typing import Any


def serve(reader: Connection, writer: Connection) -> None:
    from harness.backends.mapped import Reader

    backend: Any = None
    mapped = Reader()
    results = _MappedOutputs()
    while True:
        try:
            request = reader.recv()
        except EOFError:
            return
        op = request[0]
        if op == "stop":
            return
        try:
            if op == "activate":
                backend = _activate(*request[1:])
                writer.send(("ok", backend.label))
            elif op == "call":
                method, signature = request[1:]
                args = () if signature is None else (backend.contract.signature(signature),)
                writer.send(("ok", _plain(getattr(backend, method)(*args))))
            elif op == "infer":
                signature, inputs, check_inputs, outputs_path = request[1:]
                outputs = backend.infer(signature, inputs, check_inputs=check_inputs)
                writer.send(results.reply(outputs, outputs_path))
            elif op == "infer_mapped":
                signature, rest, path, size, layout, check_inputs, outputs_path = request[1:]
                inputs = {**rest, **mapped.arrays(path, size, layout)}  # read in place
                outputs = backend.infer(signature, inputs, check_inputs=check_inputs)
                writer.send(results.reply(outputs, outputs_path))
            elif op == "infer_many":
                signature, batch = request[1:]
                for inputs in batch:
                    try:
                        outputs = backend.infer(signature, inputs, check_inputs=False)
                    except BaseException as exc:  # noqa: BLE001 - this call's answer
                        writer.send(_error_reply(exc))
                    else:
                        writer.send(("ok", outputs))
            elif op == "signatures":
                writer.send(("ok", dict(backend.signatures_impl())))
            else:
                writer.send(("error", "bug", f"unknown request {op!r}"))
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
            writer.send(_error_reply(exc))


class _MappedOutputs:
    """This child's output file (:mod:`harness.backends.mapped`), named by the parent."""

    def __init__(self) -> None:
        self.file: Any = None

    def reply(self, outputs: Any, path: str | None) -> tuple[Any, ...]:
        from harness.backends.mapped import Writer, split

        large, rest = split(outputs)
        if not large or not path:
            return ("ok", outputs)
        if self.file is None or self.file.path != path:
            self.file = Writer(path)
        size, layout = self.file.write(large)
        return ("ok_mapped", rest, size, layout, list(outputs))


def _activate(name: str, model: Any, contract_path: str, options: Any,
              kwargs: dict[str, Any]) -> Any:
    import harness.backends  # noqa: F401 - registers every backend
    from harness.backends.base import BACKENDS
    from harness.context import RunContext
    from harness.contract.load import load_contract

    contract = load_contract(contract_path)
    # The parent ran the op-policy gate before it started this child.
    backend = BACKENDS[name](model, contract, RunContext(options), **kwargs)
    backend.activate()
    return backend


def _plain(value: Any) -> Any:
    """``value`` with read-only mappings turned into dicts, so that it pickles."""
    import dataclasses
    from types import MappingProxyType

    if isinstance(value, MappingProxyType):
        return {k: _plain(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{
            f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)
            if isinstance(getattr(value, f.name), MappingProxyType)})
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _error_reply(exc: BaseException) -> tuple[str, str, Any]:
    from harness.backends.base import InferenceError
    from harness.errors import CheckFailure, HarnessError

    if isinstance(exc, InferenceError):
        return ("error", "inference", exc.message)
    if isinstance(exc, (HarnessError, CheckFailure)):
        return ("error", "raise", exc)  # pickled whole: its type and fields survive
    return ("error", "bug", "".join(traceback.format_exception(exc)))


def preload(runtime: str) -> None:
    """Import ``runtime`` (and the backends) before the first request: a worker started ahead
    of need pays that while the parent does other work. A failed import is left for the
    backend's own import to report."""
    import importlib

    try:
        if runtime == "tensorflow":
            from harness.backends.tf_import import import_tensorflow

            import_tensorflow()
        else:
            importlib.import_module(runtime)
        import harness.backends  # noqa: F401 - what the first "activate" imports anyway
    except Exception:  # noqa: BLE001 - the backend's own import says what is wrong
        pass


def main(argv: list[str]) -> None:
    read_fd, write_fd = int(argv[0]), int(argv[1])
    for runtime in argv[2:]:  # started ahead of need: import it before the first request
        preload(runtime)
    serve(Connection(read_fd, writable=False), Connection(write_fd, readable=False))
    sys.stdout.flush()
    os._exit(0)  # skip TensorFlow's slow and sometimes crashing teardown


if __name__ == "__main__":
    main(sys.argv[1:])
