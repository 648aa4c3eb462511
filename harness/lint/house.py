"""The built-in house rules (registered on import). Each yields (JSON pointer, message)."""

from __future__ import annotations

import re
from typing import Any, Iterator, Mapping

from harness.contract.json_limits import pointer
from harness.lint.rules import RuleOption, rule

SNAKE_PATTERN = r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$"
GENERIC = re.compile(
    r"^(input|output|inputs|outputs|dense|conv2d|conv1d|flatten|dropout|activation|lambda|"
    r"concatenate|add|tf_op_layer|keras_tensor|args)(_\d+)?$|.*:\d+$|^StatefulPartitionedCall",
    re.IGNORECASE)
PROBABILITY_NAMES = re.compile(r"(prob|probs|probabilities|scores|softmax|likelihoods?)$")
#: the dtypes DTYPE_ALLOWED allows by default: every contract dtype but float64, bfloat16 and
#: the complex ones
ALLOWED_DTYPES = ("float16", "float32", "int8", "int16", "int32", "int64", "uint8", "uint16",
                  "uint32", "uint64", "bool", "string")
NAMES = {"type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": True}


def tensors(doc: Mapping[str, Any]) -> Iterator[tuple[str, str, str, Mapping[str, Any], str]]:
    """(signature, side, name, tensor, pointer) of every input and output."""
    for sig_name, sig in (doc.get("signatures") or {}).items():
        for side in ("inputs", "outputs"):
            for name, tensor in (sig.get(side) or {}).items():
                yield sig_name, side, name, tensor, pointer(["signatures", sig_name, side, name])


@rule("GENERIC_TENSOR_NAME", tier="minimal", level="error",
      doc="Tensor names say what they hold: no generated names such as `input_1`, `dense_3` "
          "or `StatefulPartitionedCall:0`.")
def generic_tensor_name(doc: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for _, side, name, _, ptr in tensors(doc):
        if GENERIC.match(name):
            yield ptr, f"{side[:-1]} {name!r} is a generated name; name it for what it holds"


@rule("TENSOR_NAME_SNAKE_CASE", tier="basic", level="warning",
      doc="Input and output names are lower_snake_case (or match the house pattern).",
      options=(RuleOption("pattern", {"type": "string", "format": "regex", "minLength": 1},
                          SNAKE_PATTERN, "The regular expression every input and output name "
                          "matches (Python `re`, matched from the start; anchor the end with "
                          "`$`)."),))
def tensor_name_snake_case(doc: Mapping[str, Any],
                           options: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    pattern = re.compile(options["pattern"])
    what = ("is not lower_snake_case" if options["pattern"] == SNAKE_PATTERN
            else f"does not match the pattern {options['pattern']!r}")
    for _, side, name, _, ptr in tensors(doc):
        if not pattern.match(name):
            yield ptr, f"{side[:-1]} {name!r} {what}"


@rule("SIGNATURE_NAME_SEMANTIC", tier="basic", level="warning",
      doc="At least one signature is named for what it does (`classify`, `embed`, `detect`), "
          "not only `serving_default`; with `verbs`, every such name starts with one of them.",
      options=(RuleOption("generic", NAMES, ["serving_default"], "Signature names that say "
                          "nothing of what a signature does."),
               RuleOption("verbs", {"anyOf": [{"type": "null"}, dict(NAMES, minItems=1)]}, None,
                          "When set, every signature not in `generic` is named VERB or "
                          "VERB_SOMETHING with one of these verbs (e.g. [\"classify\", "
                          "\"embed\", \"detect\"]).")))
def signature_name_semantic(doc: Mapping[str, Any],
                            options: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    names = list(doc.get("signatures") or {})
    generic = list(options["generic"])
    if names and all(n in generic for n in names):
        only = " or ".join(repr(n) for n in dict.fromkeys(names))
        yield "/signatures", (f"the only signature is {only}; add one named for what it does "
                              "(e.g. 'classify', 'embed')")
        return
    verbs = options["verbs"]
    if not verbs:
        return
    for name in names:
        if name not in generic and not any(name == v or name.startswith(v + "_") for v in verbs):
            yield (pointer(["signatures", name]),
                   f"signature {name!r} does not start with an accepted verb "
                   f"({', '.join(verbs)})")


@rule("BATCH_DIM_FIRST", tier="basic", level="warning",
      doc="Batch is the first dim of every tensor: a dim named `batch` appears only first, and "
          "when one tensor of a signature starts with `batch` all do.",
      options=(RuleOption("dim", {"type": "string", "minLength": 1}, "batch",
                          "The name of the batch dim."),))
def batch_dim_first(doc: Mapping[str, Any],
                    options: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    dim = options["dim"]
    batched: dict[str, bool] = {}
    for sig_name, _, _, tensor, _ in tensors(doc):
        shape = tensor.get("shape")
        if isinstance(shape, list) and shape and shape[0] == dim:
            batched[sig_name] = True
    for sig_name, side, name, tensor, ptr in tensors(doc):
        shape = tensor.get("shape")
        if not isinstance(shape, list):
            continue
        if dim in shape[1:]:
            yield (pointer([*_split(ptr), "shape", shape.index(dim, 1)]),
                   f"{side[:-1]} {name!r} has dim {dim!r} at position {shape.index(dim, 1)}; "
                   f"{dim} is the first dim")
        elif batched.get(sig_name) and (not shape or shape[0] != dim):
            yield (pointer([*_split(ptr), "shape"]),
                   f"{side[:-1]} {name!r} does not start with {dim!r} while other tensors of "
                   f"signature {sig_name!r} do")


@rule("PROBABILITIES_DECLARE_SUM", tier="basic", level="warning",
      doc="An output that holds probabilities (a float in [0, 1] named like `probs` or "
          "`scores`) declares a `sum` check.", subjects=("contract",))
def probabilities_declare_sum(doc: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for _, side, name, tensor, ptr in tensors(doc):
        if side != "outputs" or not PROBABILITY_NAMES.search(name):
            continue
        if tensor.get("range") != [0.0, 1.0] and tensor.get("range") != [0, 1]:
            continue
        checks = tensor.get("checks") or []
        if not any(isinstance(c, dict) and "sum" in c for c in checks):
            yield (ptr, f"output {name!r} holds probabilities in [0, 1] but declares no sum "
                        "check; add {\"sum\": 1.0, \"axis\": -1}")


@rule("TOLERANCE_PER_FORMAT", tier="strict", level="warning",
      doc="Every enabled TFLite/ONNX format declares its own tolerance.", subjects=("contract",))
def tolerance_per_format(doc: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for fmt in ("tflite", "onnx"):
        spec = (doc.get("formats") or {}).get(fmt)
        if isinstance(spec, dict) and spec.get("enabled", True) and "tolerance" not in spec:
            yield (pointer(["formats", fmt]),
                   f"format {fmt!r} is enabled without a tolerance of its own")


@rule("ASSET_DECLARED", tier="minimal", level="error",
      doc="Every asset a tensor names (a vocabulary file) is listed in `assets`.",
      subjects=("contract",))
def asset_declared(doc: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    assets = doc.get("assets") or []
    for _, side, name, tensor, ptr in tensors(doc):
        vocab = tensor.get("vocabulary")
        if isinstance(vocab, dict) and vocab.get("asset") not in assets:
            yield (pointer([*_split(ptr), "vocabulary", "asset"]),
                   f"{side[:-1]} {name!r} reads asset {vocab.get('asset')!r}, which /assets does "
                   "not list")


@rule("DTYPE_ALLOWED", tier="strict", level="error",
      doc="Tensors use dtypes every format and client handles: by default no float64, bfloat16 "
          "or complex.",
      options=(RuleOption("allowed", {"type": "array", "items": {"$ref": "#/$defs/dtype"},
                                      "uniqueItems": True, "minItems": 1},
                          list(ALLOWED_DTYPES), "The dtypes inputs and outputs may have."),))
def dtype_allowed(doc: Mapping[str, Any], options: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    allowed = list(options["allowed"])
    advice = ("use one of float32, float16, integer, bool or string dtypes"
              if sorted(allowed) == sorted(ALLOWED_DTYPES) else f"use one of {', '.join(allowed)}")
    for _, side, name, tensor, ptr in tensors(doc):
        dtype = tensor.get("dtype")
        if isinstance(dtype, str) and dtype not in allowed:
            yield (pointer([*_split(ptr), "dtype"]), f"{side[:-1]} {name!r} is {dtype}; {advice}")


def _split(ptr: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in ptr.split("/")[1:]]
