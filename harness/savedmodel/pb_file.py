"""Reading ``saved_model.pb`` safely: its size and first bytes are checked before the whole.

Protobuf cannot parse a message over 2 GiB, so no valid ``saved_model.pb`` is larger; a
file over the limit (a sparse file, a wrong file) is refused from its size alone, and a
binary file whose first byte cannot start a SavedModel message (field 1, the schema
version, or field 2, a MetaGraphDef: bytes 0x08 or 0x12) is refused after reading 16
bytes, instead of reading gigabytes to find out. ``$MODEL_CONTRACT_MAX_PB_BYTES`` lowers
(or raises) the size limit.
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.errors import ModelError

MAX_PB_BYTES = 2**31 - 1
"""Protobuf's own limit on a serialized message."""
ENV_VAR = "MODEL_CONTRACT_MAX_PB_BYTES"
_FIRST_BYTES = (0x08, 0x12)


def max_pb_bytes() -> int:
    value = os.environ.get(ENV_VAR, "")
    return int(value) if value.isdigit() else MAX_PB_BYTES


def read_pb(file: Path) -> bytes:
    """The bytes of ``file`` (``saved_model.pb`` or ``.pbtxt``) after the size and header checks.

    Raises :class:`ModelError` naming the file; an empty file is returned as ``b""``.
    """
    file = Path(file)
    try:
        size = file.stat().st_size
        limit = max_pb_bytes()
        if size > limit:
            raise ModelError(f"is {size} bytes, over the limit of {limit} bytes for a "
                             "SavedModel protobuf (protobuf cannot parse more than 2 GiB); "
                             "it was not read", file=file,
                             hint=f"set ${ENV_VAR} to change the limit")
        with open(file, "rb") as handle:
            head = handle.read(16)
            if file.suffix == ".pb" and head and head[0] not in _FIRST_BYTES:
                shown = " ".join(f"{b:02x}" for b in head[:8])
                raise ModelError(f"does not start like a SavedModel protobuf (first bytes: "
                                 f"{shown}); it is corrupt or not a saved_model.pb, and was "
                                 "not read further", file=file)
            return head + handle.read()
    except OSError as exc:
        raise ModelError(f"cannot read: {exc.strerror}", file=file) from None
