"""The child side of an isolated backend: ``python -m harness.backends.worker RFD WFD``.

It reads pickled requests from file descriptor RFD and writes pickled replies to WFD.
Requests are tuples ``(op, *args)``:

* ``("activate", backend_name, model_ref, contract_path, models_override)`` loads the
  model; replies with the backend's label;
* ``("infer", signature, inputs, check_inputs)`` replies with the outputs;
* ``("signatures",)`` replies with the format's signatures;
* ``("stop",)`` ends the process.

Replies are ``("ok", value)`` or ``("error", kind, message)`` where kind is ``inference``
(the backend refused or failed the call), ``harness`` (a user error, e.g. a converter
failure) or ``bug``. A crash of TensorFlow (abort, segfault) or running out of memory
simply ends the process; the parent reports it.
"""

from __future__ import annotations

import os
import sys
import traceback
from multiprocessing.connection import Connection
from typing import Any


def serve(reader: Connection, writer: Connection) -> None:
    backend: Any = None
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
            elif op == "infer":
                signature, inputs, check_inputs = request[1:]
                outputs = backend.infer(signature, inputs, check_inputs=check_inputs)
                writer.send(("ok", outputs))
            elif op == "signatures":
                from harness.backends.base import SignatureIO

                sigs = {k: SignatureIO(v.key, dict(v.inputs), dict(v.outputs))
                        for k, v in backend.signatures_impl().items()}
                writer.send(("ok", sigs))
            else:
                writer.send(("error", "bug", f"unknown request {op!r}"))
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
            writer.send(_error_reply(exc))


def _activate(name: str, model: Any, contract_path: str, models: Any) -> Any:
    import harness.backends  # noqa: F401 - registers every backend
    from harness.backends.base import BACKENDS
    from harness.contract.load import load_contract

    contract = load_contract(contract_path)
    backend = BACKENDS[name](model, contract)
    backend.activate()
    return backend


def _error_reply(exc: BaseException) -> tuple[str, str, str]:
    from harness.backends.base import InferenceError
    from harness.errors import HarnessError

    if isinstance(exc, InferenceError):
        return ("error", "inference", exc.message)
    if isinstance(exc, HarnessError):
        return ("error", "harness", str(exc))
    return ("error", "bug", "".join(traceback.format_exception(exc)))


def main(argv: list[str]) -> None:
    read_fd, write_fd = int(argv[0]), int(argv[1])
    serve(Connection(read_fd, writable=False), Connection(write_fd, readable=False))
    sys.stdout.flush()
    os._exit(0)  # skip TensorFlow's slow and sometimes crashing teardown


if __name__ == "__main__":
    main(sys.argv[1:])
