"""TensorFlow.js, run in Node by ``@tensorflow/tfjs`` (WebAssembly backend, plain CPU fallback).

The artifacts come from :func:`harness.exports.loaders.load_tfjs`: ``--tfjs
PATH/model.json`` (one model for every signature); ``formats.tfjs.path`` (one model.json for
every signature, or ``{SIGNATURE: path}``, relative to the contract); otherwise the harness's
own export (:mod:`harness.exports.tfjs`), one graph model per signature, float or the
quantized ``variant`` this backend was made for.

Each model runs in its own Node child (:mod:`harness.backends.node`). Names come from the
``signature`` block the converter writes into model.json (the SignatureDef's keys) and are
resolved by :mod:`harness.backends.names`, never by position. TF.js holds only float32,
int32, bool and string tensors: an int64 tensor runs as int32 (values beyond 2^31 wrap; the
TF.js findings say so) and is widened back to the SavedModel's dtype here, so the contract
judges the values.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from harness.backends.base import register
from harness.backends.converted import ConvertedBackend
from harness.backends.node import NodeError, NodeModel, encode, node_binary, npm_binary, runtime_dir
from harness.context import RunContext
from harness.contract.model import Contract, SignatureSpec
from harness.errors import ExportError, HarnessError
from harness.exports import Export, shown_path
from harness.exports.loaders import load_tfjs
from harness.exports.tfjs_env import default_tools_dir
from harness.interface.model import SignatureInterface, TensorInterface
from harness.savedmodel.layout import ModelRef

INSTALL = ("Node.js 20 and npm on PATH (Debian: apt-get install nodejs npm); the pinned "
           "TF.js packages and the converter's environment are installed on first use")

#: SignatureDef dtype enum names (as model.json writes them) -> the contract's dtype names
DT_NAMES = {
    "DT_FLOAT": "float32", "DT_DOUBLE": "float64", "DT_HALF": "float16",
    "DT_BFLOAT16": "bfloat16", "DT_INT8": "int8", "DT_INT16": "int16", "DT_INT32": "int32",
    "DT_INT64": "int64", "DT_UINT8": "uint8", "DT_UINT16": "uint16", "DT_UINT32": "uint32",
    "DT_UINT64": "uint64", "DT_BOOL": "bool", "DT_STRING": "string",
    "DT_COMPLEX64": "complex64", "DT_COMPLEX128": "complex128",
}
#: the contract's dtype -> the dtype TF.js holds it in (absent: TF.js has none)
TFJS_HOLDS = {"float32": "float32", "float64": "float32", "float16": "float32",
              "int32": "int32", "int64": "int32", "int16": "int32", "int8": "int32",
              "uint8": "int32", "uint16": "int32", "bool": "bool", "string": "string"}
#: TF.js runtime backends a contract may ask for (formats.tfjs.runtime)
RUNTIMES = ("auto", "wasm", "cpu")
#: ops the converter keeps but the pinned TF.js runtime cannot run, and why (checked
#: against @tensorflow/tfjs-converter 4.22.0's op mapping)
RUNTIME_DEFECTS = {
    "EnsureShape": (
        "TF.js 4.22 reads EnsureShape's shape from a second input, but TensorFlow's op has "
        "one input and a shape attribute (tf.ensure_shape in the model code)"),
}


def read_model_json(model_json: Path) -> dict[str, Any]:
    """A model.json, or a :class:`HarnessError` naming the file."""
    try:
        data = json.loads(Path(model_json).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise HarnessError(f"TF.js model {model_json} is unreadable: {exc}",
                           file=model_json) from None
    if not isinstance(data, dict) or not isinstance(data.get("modelTopology"), dict):
        raise HarnessError(f"{model_json} is not a TF.js model.json (no modelTopology)",
                           file=model_json)
    return data


def model_signature(model_json: Path) -> dict[str, Any]:
    """The ``signature`` block of a model.json (empty when the converter wrote none)."""
    signature = read_model_json(model_json).get("signature") or {}
    return signature if isinstance(signature, dict) else {}


def graph_ops(model_json: Path) -> set[str]:
    """The op types of a graph model (its main graph and its functions)."""
    topology = read_model_json(model_json)["modelTopology"]
    nodes = list(topology.get("node") or [])
    for function in (topology.get("library") or {}).get("function") or []:
        nodes += function.get("nodeDef") or []
    return {str(n.get("op")) for n in nodes if isinstance(n, dict)}


def _tensors(block: Mapping[str, Any]) -> dict[str, TensorInterface]:
    out = {}
    for key, info in block.items():
        dims = (info.get("tensorShape") or {}).get("dim")
        shape = None if dims is None else tuple(
            None if int(d.get("size", -1)) < 0 else int(d["size"]) for d in dims)
        if (info.get("tensorShape") or {}).get("unknownRank"):
            shape = None
        dtype = DT_NAMES.get(str(info.get("dtype")), str(info.get("dtype")))
        out[key] = TensorInterface.of_sizes(key, dtype, shape)
    return out


def signature_of_model_json(key: str, block: Mapping[str, Any]) -> SignatureInterface:
    """A graph model's ``signature`` block (model.json) as signature ``key`` declares it."""
    return SignatureInterface(key, None, _tensors(block.get("inputs") or {}),
                              _tensors(block.get("outputs") or {}))


@register
class TFJSBackend(ConvertedBackend):
    name = "tfjs"
    install = INSTALL

    def __init__(self, model: ModelRef, contract: Contract, context: RunContext | None = None,
                 *, variant: Mapping[str, Any] | None = None) -> None:
        super().__init__(model, contract, context)
        self.variant = dict(variant) if variant else None
        self.artifacts: dict[str, Export | ExportError] = {}
        self._models: dict[str, NodeModel] = {}

    @classmethod
    def check_available(cls) -> None:
        node_binary()
        npm_binary()

    @property
    def quantization(self) -> str:
        return str(self.variant["quantization"]) if self.variant else "float"

    @property
    def runtime(self) -> str:
        wanted = str(self.options.get("runtime", "auto"))
        return wanted if wanted in RUNTIMES else "auto"

    @property
    def label(self) -> str:
        done = [a for a in self.artifacts.values() if isinstance(a, Export)]
        ran = next(iter(self._models.values())).info.get("backend") if self._models else None
        where = f"; Node, {ran} backend" if ran else ""
        if not done:
            return f"tfjs[{self.quantization}]" if self.variant else "tfjs"
        if done[0].given:
            return f"tfjs ({done[0].how}{where})"
        how = "tensorflowjs_converter" + (f" --quantize_{self.quantization}"
                                          if self.variant else "")
        state = "cached" if all(a.cached for a in done) else "converted"
        replaced = "; ".join(dict.fromkeys(a.replaced for a in done if a.replaced))
        if replaced:
            state = f"re-exported: {replaced}"
        return f"tfjs (exported: {how}; {state}{where})"

    def activate_impl(self) -> None:
        self.artifacts = load_tfjs(self.context, self.model, self.contract, self.variant)
        runtime = runtime_dir(default_tools_dir())
        for sig, art in self.artifacts.items():
            if isinstance(art, Export):
                try:
                    self._models[sig] = NodeModel(art.path, runtime=runtime,
                                                  backend=self.runtime)
                except NodeError as exc:
                    self.deactivate_impl()
                    raise HarnessError(f"TF.js cannot load {shown_path(art.path)} "
                                       f"({art.how}): {exc.message}", file=art.path) from None

    def deactivate_impl(self) -> None:
        for model in self._models.values():
            model.close()
        self._models = {}

    def signatures_impl(self) -> Mapping[str, SignatureInterface]:
        out = {}
        for sig, art in self.artifacts.items():
            if isinstance(art, Export):
                block = model_signature(art.path)
                out[sig] = signature_of_model_json(sig, block)
        return out

    def declared_io(self, spec: SignatureSpec, name_map: Mapping[str, Any]
                    ) -> tuple[SignatureInterface, str]:
        art = self.artifact_for(spec, self.artifacts, "TF.js model")
        return self.signatures_impl()[spec.name], f"tfjs ({shown_path(art.path)})"

    def infer_impl(self, signature: SignatureSpec, inputs: Mapping[str, np.ndarray]
                   ) -> Mapping[str, Any]:
        res = self.resolution(signature)
        model = self._models[signature.name]
        declared = self.signatures_impl()[signature.name]
        feeds = {}
        for name, value in inputs.items():
            fmt_name = res.inputs[name]
            want = declared.inputs[fmt_name].dtype
            holds = TFJS_HOLDS.get(want)
            if holds is None:
                raise ValueError(f"input {name!r} is {want}, a dtype TF.js has no tensor for")
            feeds[fmt_name] = encode(np.asarray(value), holds)
        wanted = [res.outputs[o.name] for o in signature.outputs]
        try:
            got = model.run(feeds, wanted)
        except NodeError as exc:
            art = self.artifacts[signature.name]
            assert isinstance(art, Export)
            broken = sorted(graph_ops(art.path) & set(RUNTIME_DEFECTS))
            why = "".join(f"; the TF.js runtime cannot run op {op}: {RUNTIME_DEFECTS[op]}"
                          for op in broken)
            raise ValueError(exc.message + why) from None
        outputs = {}
        for spec in signature.outputs:
            value = got[res.outputs[spec.name]]
            declared_dtype = declared.outputs[res.outputs[spec.name]].dtype
            outputs[spec.name] = _widen(value, declared_dtype)
        return outputs


def _widen(value: np.ndarray, dtype: str) -> np.ndarray:
    """A TF.js output back in the dtype the SavedModel declares (int32 -> int64, ...)."""
    if value.dtype.kind in "OSU" or dtype in ("string", "bool") or dtype not in TFJS_HOLDS:
        return value
    return value.astype(np.dtype(dtype))
