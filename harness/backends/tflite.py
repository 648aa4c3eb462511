"""TFLite, run by ai-edge-litert's signature runner (never the deprecated ``tf.lite.Interpreter``).

The artifact is, in order: ``--tflite PATH``; ``formats.tflite.path`` (relative to the
contract); otherwise the harness's own export (:mod:`harness.exports.tflite`), float or the
quantized ``variant`` this backend was made for. Dynamic dims: the signature runner's
inputs carry ``shape_signature`` with -1; each call resizes the inputs to the call's shapes
(the runner resizes and re-allocates), after checking fixed dims here, because LiteRT's
non-strict resize would silently accept any size. A file without SignatureDefs is run
tensor by tensor under its tensor names (``serving_default_x:0``), which then must resolve
by :mod:`harness.backends.names`. Quantized int8/uint8 inputs and outputs are
(de)quantized with the tensor's scale and zero point when the contract says float.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np

from harness.backends.base import register
from harness.backends.converted import ConvertedBackend
from harness.backends.names import missing_signature
from harness.context import RunContext
from harness.contract.model import Contract, SignatureSpec
from harness.errors import BackendUnavailable
from harness.exports import Export
from harness.exports.loaders import load_tflite
from harness.interface.model import SignatureInterface, TensorInterface
from harness.savedmodel.layout import ModelRef

INSTALL = "pip install ai-edge-litert  (or: pip install 'model-contract[tflite]')"
#: key of the pseudo-signature of a file that has no SignatureDefs
TENSORS_KEY = "<tensors>"


def _interpreter_class() -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:
        raise BackendUnavailable("tflite", f"ai-edge-litert is not importable ({exc})",
                                 install=INSTALL) from None
    return Interpreter


def _shape(details: Mapping[str, Any]) -> tuple[int | None, ...]:
    sig = details.get("shape_signature")
    if sig is None or len(sig) == 0:
        sig = details["shape"]
    return tuple(None if int(d) < 0 else int(d) for d in sig)


def _dtype(details: Mapping[str, Any]) -> str:
    kind = np.dtype(details["dtype"])
    return "string" if kind.kind in "OSU" else kind.name


def _declared(name: str, details: Mapping[str, Any]) -> TensorInterface:
    return TensorInterface.of_sizes(name, _dtype(details), _shape(details))


def signatures_of_interpreter(interpreter: Any, runner: Callable[[str], Any] | None = None
                              ) -> dict[str, SignatureInterface]:
    """A LiteRT interpreter's declared interface: each SignatureDef under its key and the
    names its runner uses; a file without SignatureDefs as one pseudo-signature
    (:data:`TENSORS_KEY`) of its input and output tensors under their tensor names.
    ``runner`` gives a signature's runner (default: a new one from the interpreter)."""
    keys = list(interpreter.get_signature_list())
    if not keys:
        return {TENSORS_KEY: SignatureInterface(
            TENSORS_KEY, None,
            {d["name"]: _declared(d["name"], d) for d in interpreter.get_input_details()},
            {d["name"]: _declared(d["name"], d) for d in interpreter.get_output_details()})}
    out = {}
    for key in keys:
        found = (runner or interpreter.get_signature_runner)(key)
        out[key] = SignatureInterface(
            key, None,
            {n: _declared(n, d) for n, d in found.get_input_details().items()},
            {n: _declared(n, d) for n, d in found.get_output_details().items()})
    return out


def read_tflite(path: str) -> dict[str, SignatureInterface]:
    """The declared interface of the TFLite file ``path`` (nothing is run)."""
    return signatures_of_interpreter(_interpreter_class()(model_path=str(path)))


#: export steps the uninitialised-variables diagnosis suggests; each is applied to the failing
#: fixture by tests/exports/test_format_checks.py and its TFLite export passes parity.
TFLITE_VARIABLE_FIXES = (
    "write the SavedModel with Keras 3's keras.export.ExportArchive (archive.track(model), "
    "one archive.add_endpoint(name, fn, input_signature=...) per signature, "
    "archive.write_out(DIR))",
    "save a tf.Module that does not hold the Keras model but tracks its tf.Variables "
    "(module.weights = [v.value for v in model.variables]) and whose tf.functions call the "
    "model they close over",
)


@register
class TFLiteBackend(ConvertedBackend):
    name = "tflite"
    preparing = "converting (unless the export cache has it) and loading"
    install = INSTALL

    def __init__(self, model: ModelRef, contract: Contract, context: RunContext | None = None,
                 *, variant: Mapping[str, Any] | None = None) -> None:
        super().__init__(model, contract, context)
        self.variant = dict(variant) if variant else None
        self.artifact: Export | None = None

    @classmethod
    def check_available(cls) -> None:
        _interpreter_class()

    @property
    def quantization(self) -> str:
        return str(self.variant["quantization"]) if self.variant else "float"

    @property
    def label(self) -> str:
        if self.artifact is None:
            return f"tflite[{self.quantization}]" if self.variant else "tflite"
        if self.artifact.given:
            return f"tflite ({self.artifact.how})"
        return f"tflite (exported: {self.artifact.how}; {self.artifact.state()})"

    # ----------------------------------------------------------------- hooks
    def activate_impl(self) -> None:
        interpreter_class = _interpreter_class()
        self.artifact = load_tflite(self.context, self.model, self.contract, self.variant)
        self._interpreter = interpreter_class(model_path=str(self.artifact.path))
        self._keys = list(self._interpreter.get_signature_list())
        self._runners: dict[str, Any] = {}

    def signatures_impl(self) -> Mapping[str, SignatureInterface]:
        return signatures_of_interpreter(self._interpreter, self._runner)

    def _runner(self, key: str) -> Any:
        if key not in self._runners:
            self._runners[key] = self._interpreter.get_signature_runner(key)
        return self._runners[key]

    def declared_io(self, spec: SignatureSpec, name_map: Mapping[str, Any]
                    ) -> tuple[SignatureInterface, str]:
        ios = self.signatures_impl()
        if self._keys:
            key = name_map.get("signature", spec.name)
            if key not in ios:
                why = " ".join(self.artifact.notes) if self.artifact else ""
                raise missing_signature("tflite", spec, self._keys, name_map, source=self.label,
                                        check="conformance[tflite]", why=why)
            return ios[key], self.label
        plain = ios[TENSORS_KEY]
        # tensor names carry the signature key as a prefix (serving_default_x:0)
        return SignatureInterface(spec.name, None, plain.inputs, plain.outputs), self.label

    def infer_impl(self, signature: SignatureSpec, inputs: Mapping[str, np.ndarray]
                   ) -> Mapping[str, Any]:
        res = self.resolution(signature)
        if self._keys:
            runner = self._runner(res.key)
            in_details = runner.get_input_details()
            out_details = runner.get_output_details()
        else:
            in_details = {d["name"]: d for d in self._interpreter.get_input_details()}
            out_details = {d["name"]: d for d in self._interpreter.get_output_details()}
        feeds = {}
        for name, value in inputs.items():
            fmt_name = res.inputs[name]
            details = in_details[fmt_name]
            _check_shape(name, np.asarray(value), details)
            feeds[fmt_name] = _quantize(np.asarray(value), details)
        if self._keys:
            raw = runner(**feeds)
        else:
            raw = self._invoke_tensors(feeds, in_details, out_details)
        outputs = {}
        for spec in signature.outputs:
            fmt_name = res.outputs[spec.name]
            outputs[spec.name] = _dequantize(np.asarray(raw[fmt_name]), out_details[fmt_name],
                                             spec.is_float)
        return outputs

    def _invoke_tensors(self, feeds: Mapping[str, np.ndarray], in_details: Mapping[str, Any],
                        out_details: Mapping[str, Any]) -> dict[str, np.ndarray]:
        interp = self._interpreter
        for name, value in feeds.items():
            interp.resize_tensor_input(in_details[name]["index"], list(value.shape))
        interp.allocate_tensors()
        for name, value in feeds.items():
            interp.set_tensor(in_details[name]["index"], value)
        interp.invoke()
        return {name: interp.get_tensor(d["index"]) for name, d in out_details.items()}

    def variable_ops(self) -> list[str]:
        """Resource-variable ops in the file (a sign of weights that may be uninitialised)."""
        try:
            names = {d["op_name"] for d in self._interpreter._get_ops_details()}
        except Exception:  # noqa: BLE001 - a private API; no hint rather than an error
            return []
        return sorted(names & {"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CALL_ONCE"})

    def known_defects(self) -> list[str]:
        ops = self.variable_ops()
        if not ops:
            return []
        return [
            "known converter defect: the TFLite file reads resource variables "
            f"({', '.join(ops)}) that nothing in it initialises; with TF 2.x + Keras 3, "
            "TFLiteConverter.from_saved_model leaves them uninitialised when the SavedModel tracks "
            "the Keras model itself (tf.saved_model.save(model), or a tf.Module holding it as an "
            "attribute), so the model runs and returns NaN or garbage. Change the export step: "
            + "; or ".join(TFLITE_VARIABLE_FIXES)]

    def deactivate_impl(self) -> None:
        self._runners = {}
        self._interpreter = None


def _check_shape(name: str, value: np.ndarray, details: Mapping[str, Any]) -> None:
    want = _shape(details)
    have = value.shape
    if len(want) != len(have) or any(w is not None and w != h for w, h in zip(want, have, strict=True)):
        shown = "[" + ", ".join("-1" if w is None else str(w) for w in want) + "]"
        raise ValueError(f"input {name!r} has shape {list(have)}; the TFLite tensor "
                         f"{details['name']!r} has shape_signature {shown}")


def _quantize(value: np.ndarray, details: Mapping[str, Any]) -> np.ndarray:
    want = np.dtype(details["dtype"])
    scale, zero = details.get("quantization", (0.0, 0))
    if want.kind in "iu" and value.dtype.kind == "f" and scale:
        info = np.iinfo(want)
        q = np.round(value / scale + zero)
        return np.clip(q, info.min, info.max).astype(want)
    return value


def _dequantize(value: np.ndarray, details: Mapping[str, Any], want_float: bool) -> np.ndarray:
    scale, zero = details.get("quantization", (0.0, 0))
    if want_float and value.dtype.kind in "iu" and scale:
        return ((value.astype(np.float32) - zero) * scale).astype(np.float32)
    return value
