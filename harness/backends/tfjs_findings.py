"""TF.js fidelity findings: what a signature loses when it runs in TensorFlow.js.

Listed like the REST findings (:mod:`harness.serving.findings`), as
:class:`~harness.events.TfjsFinding` events the report keeps. From the contract alone (a
:class:`~harness.fidelity.FindingTable`):

* ``int64-to-int32``: TF.js has no 64-bit integers; an int64 (or uint32/uint64) tensor runs
  as int32, so values beyond 2^31 wrap. Reported when no ``range`` keeps the tensor within
  int32.
* ``dtype-not-in-tfjs``: dtypes TF.js lacks (float64, float16, bfloat16, complex128, ...):
  the converter or the runtime holds them in another dtype (float32, int32), with what
  that loses.
* ``strings``: string tensors; TF.js holds them as byte arrays and supports few string ops
  (which ones the signature uses, the converter or the runtime says).

From the converter's or the runtime's own message (:func:`unsupported_ops`):

* ``unsupported-op``: an op the converter cannot convert or the runtime has no kernel
  for, named with the signature that uses it.
"""

from __future__ import annotations

import re

from harness.contract.model import Contract, SignatureSpec, TensorSpec
from harness.events import TfjsFinding
from harness.fidelity import FindingTable, Rule

INT32 = 2**31
#: dtype -> (what TF.js holds it as, what that loses)
NOT_IN_TFJS = {
    "float64": ("float32", "precision beyond float32 (about 7 digits) and range beyond 3.4e38"),
    "float16": ("float32", "nothing in value, but the model no longer computes in float16"),
    "bfloat16": ("float32", "nothing in value, but the model no longer computes in bfloat16"),
    "complex128": ("complex64", "precision beyond float32 in each part"),
    "uint8": ("int32", "nothing in value; the tensor is four times larger in memory"),
    "int8": ("int32", "nothing in value; the tensor is four times larger in memory"),
    "int16": ("int32", "nothing in value"),
    "uint16": ("int32", "nothing in value"),
}
WIDE_INTS = ("int64", "uint32", "uint64")
#: the converter's and the runtime's words for an op they cannot handle
_UNSUPPORTED = (
    re.compile(r"Unsupported Ops in the model[^\n:]*:?\s*\n?\s*([A-Za-z0-9_, ]+)"),
    re.compile(r"Tensorflow Op is not supported: ([A-Za-z0-9_]+)"),
    re.compile(r"[Oo]p type not registered '([A-Za-z0-9_]+)'"),
    re.compile(r"TF\.js runtime cannot run op ([A-Za-z0-9_]+)"),
    re.compile(r"Unknown op '([A-Za-z0-9_]+)'"),
)


def _fits_int32(spec: TensorSpec) -> bool:
    if spec.range is not None:
        low, high = spec.range
        return -INT32 <= float(low) and float(high) < INT32
    if spec.enum is not None:
        return all(isinstance(v, int) and -INT32 <= v < INT32 for v in spec.enum)
    return False


def _bound(spec: TensorSpec) -> str:
    return "no range bounds it" if spec.range is None and spec.enum is None \
        else f"range {list(spec.range)}" if spec.range is not None else "its enum"


def _not_in_tfjs(spec: TensorSpec) -> str:
    holds, loses = NOT_IN_TFJS[spec.dtype]
    return f"TF.js has no {spec.dtype} tensors; it holds them as {holds}, losing {loses}"


TABLE = FindingTable(TfjsFinding, (
    Rule("int64-to-int32", lambda spec, side: spec.dtype in WIDE_INTS and not _fits_int32(spec),
         lambda spec: f"TF.js has no {spec.dtype} tensors and runs it as int32; {_bound(spec)}, "
                      "so values beyond 2^31 wrap (declare a range within int32 if the values "
                      "stay there)"),
    Rule("dtype-not-in-tfjs", lambda spec, side: spec.dtype in NOT_IN_TFJS, _not_in_tfjs),
    Rule("strings", lambda spec, side: spec.dtype == "string",
         lambda spec: "TF.js holds strings as byte arrays (Uint8Array) and has few string ops; "
                      "a browser client passes UTF-8 bytes, and ops TF.js lacks are reported by "
                      "the converter or the runtime (unsupported-op)"),
))
tensor_findings = TABLE.tensor_findings
signature_findings = TABLE.signature_findings


def unsupported_ops(message: str) -> list[str]:
    """Op names a converter or runtime message says it cannot handle (in order, once each)."""
    names: list[str] = []
    for pattern in _UNSUPPORTED:
        for match in pattern.finditer(message):
            names += [n.strip() for n in match.group(1).split(",") if n.strip()]
    return list(dict.fromkeys(names))


#: op -> what to change in the export when TF.js cannot run it
ADVICE = {
    "InitializeTableFromTextFileV2": (
        "the lookup table is filled from a vocabulary file (tf.lookup.TextFileInitializer on "
        "an asset); TF.js neither ships assets nor reads files: build the table from in-graph "
        "constants (tf.lookup.KeyValueTensorInitializer(tf.constant(keys), tf.constant(ids))), "
        "which TF.js runs as HashTableV2 + LookupTableImportV2, or look tokens up in "
        "JavaScript and feed ids"),
    "EnsureShape": (
        "replace tf.ensure_shape by a shape check TF.js runs, or check the shape in the "
        "client before the call"),
}


def op_findings(contract: Contract, sig: SignatureSpec, message: str,
                stage: str) -> list[TfjsFinding]:
    """``unsupported-op`` findings from the converter's (``stage`` "converter") or the
    runtime's message."""
    out = []
    for op in unsupported_ops(message):
        advice = f"; {ADVICE[op]}" if op in ADVICE else ""
        out.append(TfjsFinding(contract.name, sig.name, op, "op", "unsupported-op",
                               f"signature {sig.name!r} uses op {op}, which the TF.js {stage} "
                               f"does not support{advice}"))
    return out
