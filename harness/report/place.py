"""Where in the contract a case's result is about: a JSON pointer, for CI annotations.

A failure that names an input or output of its signature (``input 'image'``,
``output 'probs'``) is about that tensor; otherwise the place follows from the check
(:data:`CHECK_PLACES`, or the family's place in :data:`FAMILY_PLACES`), and a check of a
signature that neither table names is about the signature. Reports turn the pointer into
the line of the contract file that writes it (or of its nearest ancestor the file writes,
when the value is inherited from a standard).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - types only
    from harness.events import CaseResult

#: check name -> pointer template ({sig}: the signature's pointer)
CHECK_PLACES = {
    "tags": "/tags",
    "variables": "/models",
    "assets": "/assets",
    "ops": "/ops",
    "signature": "{sig}",
    "inputs": "{sig}/inputs",
    "outputs": "{sig}/outputs",
    "conformance": "{sig}/outputs",
    "values": "{sig}/outputs",
    "determinism": "{sig}/outputs",
    "batch_consistency": "{sig}/outputs",
    "rejection": "{sig}/inputs",
}
#: family -> pointer template ({backend}: the format the case checks, without its variant)
FAMILY_PLACES = {
    "parity": "/formats/{backend}",
    "serving": "/formats/serving",
}
TENSOR_NAMED = re.compile(r"\b(input|output) '([^']+)'")


def place_of(result: "CaseResult") -> str:
    """The JSON pointer (contract coordinates) ``result`` is about."""
    case = result.case
    sig = None
    if case.signature is not None:
        try:
            sig = case.contract.signature(case.signature)
        except (KeyError, LookupError):
            sig = None
    if sig is not None and result.outcome != "passed":
        for side, name in TENSOR_NAMED.findall(result.message):
            tensors = sig.inputs if side == "input" else sig.outputs
            for tensor in tensors:
                if tensor.name == name:
                    return tensor.pointer
    template = CHECK_PLACES.get(case.check) or FAMILY_PLACES.get(case.family)
    sig_pointer = sig.pointer if sig is not None else "/signatures"
    if template is None:
        return sig_pointer if sig is not None else "/"
    backend = case.backend.split("-")[0]
    return template.format(sig=sig_pointer, backend=backend)
