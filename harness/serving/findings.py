"""REST fidelity findings: what a client team loses or must handle when it calls over JSON.

Computed from the contract alone (pure), as a :class:`~harness.fidelity.FindingTable`: for
each signature, the inputs and outputs whose values JSON cannot carry faithfully through TF
Serving's REST API.

* ``int64-above-2^53``: int64/uint64 outputs (or inputs) whose values can exceed 2^53;
  TF Serving prints them as bare integers, which JavaScript (and any client parsing JSON
  numbers as doubles) rounds.
* ``nan-inf-not-json``: float tensors that can hold NaN/Inf (outputs without a
  ``finite`` check, inputs with ``allow_nan``/``allow_inf``); TF Serving writes and
  reads bare ``NaN``/``Infinity``, which strict JSON parsers reject.
* ``dtype-not-on-rest``: float16, bfloat16 and complex tensors, which TF Serving's REST
  API does not support at all (use gRPC).
* ``strings-not-b64``: string outputs whose names do not end in ``_bytes``; TF Serving
  returns them as JSON strings, so binary values (non-UTF-8) are not safely carried.
"""

from __future__ import annotations

from harness.contract.model import SignatureSpec, TensorSpec
from harness.events import ServingFinding
from harness.fidelity import FindingTable, Rule

REST_UNSUPPORTED = ("float16", "bfloat16", "complex64", "complex128")
TWO_53 = 2**53


#: A finding is an event of the run (the report and the terminal summary subscribe).
Finding = ServingFinding


def _can_exceed_2_53(spec: TensorSpec) -> bool:
    if spec.range is not None:
        low, high = spec.range
        return max(abs(float(low)), abs(float(high))) > TWO_53
    if spec.enum is not None:
        return any(isinstance(v, int) and abs(v) > TWO_53 for v in spec.enum)
    return True


def _finite_check(spec: TensorSpec) -> bool:
    return any(c.kind == "finite" for c in spec.checks)


def _float_on_rest(spec: TensorSpec) -> bool:
    return spec.is_float and spec.dtype not in REST_UNSUPPORTED


def _bound(spec: TensorSpec) -> str:
    return "no range bounds it" if spec.range is None else f"range {list(spec.range)}"


TABLE = FindingTable(Finding, (
    Rule("dtype-not-on-rest", lambda spec, side: spec.dtype in REST_UNSUPPORTED,
         lambda spec: f"TF Serving's REST API does not support {spec.dtype} tensors; REST "
                      "calls of this signature fail, use gRPC"),
    Rule("int64-above-2^53",
         lambda spec, side: spec.dtype in ("int64", "uint64") and _can_exceed_2_53(spec),
         lambda spec: f"{_bound(spec)}, so values can exceed 2^53; REST carries them as bare "
                      "JSON integers that JavaScript and other double-based JSON clients round"),
    Rule("nan-inf-not-json",
         lambda spec, side: _float_on_rest(spec) and side == "output"
         and not _finite_check(spec) and spec.range is None,
         lambda spec: "no 'finite' check or range, so NaN/Inf can come back; TF Serving writes "
                      "them as bare NaN/Infinity, which strict JSON parsers (JSON.parse, Go, "
                      "Java) reject"),
    Rule("nan-inf-not-json",
         lambda spec, side: _float_on_rest(spec) and side == "input"
         and (spec.allow_nan or spec.allow_inf),
         lambda spec: "the contract allows NaN/Inf; a REST client must send them as bare "
                      "NaN/Infinity, which strict JSON encoders cannot produce"),
    Rule("strings-not-b64",
         lambda spec, side: spec.dtype == "string" and side == "output"
         and not spec.name.endswith("_bytes"),
         lambda spec: "returned as plain JSON strings (only outputs named *_bytes are "
                      "base64-encoded), so non-UTF-8 bytes are not carried safely over REST"),
))
tensor_findings = TABLE.tensor_findings
signature_findings = TABLE.signature_findings


def rest_blocked(sig: SignatureSpec) -> list[str]:
    """Tensors of ``sig`` REST cannot carry at all (the REST cases skip with these)."""
    return [f"{t.name} ({t.dtype})" for t in sig.inputs + sig.outputs if t.dtype in REST_UNSUPPORTED]
