"""ONNX, run by onnxruntime on the CPU execution provider.

The artifacts are, in order: ``--onnx PATH`` (one file used for every signature);
``formats.onnx.path`` (one path for every signature, or ``{SIGNATURE: path}``, relative
to the contract); otherwise the harness's own tf2onnx export, one file per signature
(:mod:`harness.exports.onnx`). ONNX has no signature keys: a file's graph inputs and
outputs must carry the contract's names (tf2onnx uses the signature's keys), resolved by
:mod:`harness.backends.names`.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from harness.backends.base import register
from harness.backends.converted import ConvertedBackend
from harness.context import RunContext
from harness.contract.model import Contract, SignatureSpec
from harness.errors import BackendUnavailable, ExportError
from harness.exports import Export
from harness.exports.loaders import load_onnx
from harness.interface.model import SignatureInterface, TensorInterface
from harness.savedmodel.layout import ModelRef

INSTALL = "pip install onnxruntime tf2onnx onnx  (or: pip install 'model-contract[onnx]')"

#: onnxruntime's type strings -> the contract's dtype names
ORT_DTYPES = {
    "tensor(float)": "float32", "tensor(double)": "float64", "tensor(float16)": "float16",
    "tensor(bfloat16)": "bfloat16", "tensor(int8)": "int8", "tensor(int16)": "int16",
    "tensor(int32)": "int32", "tensor(int64)": "int64", "tensor(uint8)": "uint8",
    "tensor(uint16)": "uint16", "tensor(uint32)": "uint32", "tensor(uint64)": "uint64",
    "tensor(bool)": "bool", "tensor(string)": "string", "tensor(complex64)": "complex64",
    "tensor(complex128)": "complex128",
}


def _ort() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:
        raise BackendUnavailable("onnx", f"onnxruntime is not importable ({exc})",
                                 install=INSTALL) from None
    return onnxruntime


def _declared(arg: Any) -> TensorInterface:
    """An onnxruntime NodeArg: a symbolic or absent size is unknown."""
    shape = None if arg.shape is None else tuple(d if isinstance(d, int) else None for d in arg.shape)
    return TensorInterface.of_sizes(arg.name, ORT_DTYPES.get(arg.type, arg.type), shape)


def signature_of_session(key: str, session: Any) -> SignatureInterface:
    """An onnxruntime session's graph inputs and outputs, as signature ``key`` declares them."""
    return SignatureInterface(key, None, {a.name: _declared(a) for a in session.get_inputs()},
                              {a.name: _declared(a) for a in session.get_outputs()})


def read_onnx(path: str, key: str = "serving_default") -> SignatureInterface:
    """The declared interface of the ONNX file ``path`` (one graph: one signature)."""
    ort = _ort()
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), sess_options=options,
                                   providers=["CPUExecutionProvider"])
    return signature_of_session(key, session)


@register
class OnnxBackend(ConvertedBackend):
    name = "onnx"
    preparing = "converting (unless the export cache has it) and loading"
    install = INSTALL

    def __init__(self, model: ModelRef, contract: Contract,
                 context: RunContext | None = None) -> None:
        super().__init__(model, contract, context)
        self.artifacts: dict[str, Export | ExportError] = {}
        self._sessions: dict[str, Any] = {}

    @classmethod
    def check_available(cls) -> None:
        _ort()

    @property
    def opset(self) -> int:
        from harness.exports.onnx import DEFAULT_OPSET

        return int(self.options.get("opset", DEFAULT_OPSET))

    @property
    def label(self) -> str:
        done = [a for a in self.artifacts.values() if isinstance(a, Export)]
        if not done:
            return "onnx"
        if done[0].given:
            return f"onnx ({done[0].how})"
        state = "cached" if all(a.cached for a in done) else "converted"
        replaced = "; ".join(dict.fromkeys(a.replaced for a in done if a.replaced))
        if replaced:
            state = f"re-exported: {replaced}"
        return f"onnx (exported: tf2onnx opset {self.opset}; {state})"

    def artifact_label(self, signature: str) -> str:
        art = self.artifacts.get(signature)
        if isinstance(art, Export):
            return f"onnx ({art.how}{'' if art.given else '; cached' if art.cached else ''})"
        return "onnx"

    def activate_impl(self) -> None:
        ort = _ort()
        self.artifacts = load_onnx(self.context, self.model, self.contract, opset=self.opset)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        for sig, art in self.artifacts.items():
            if isinstance(art, Export):
                self._sessions[sig] = ort.InferenceSession(
                    str(art.path), sess_options=options, providers=["CPUExecutionProvider"])

    def deactivate_impl(self) -> None:
        self._sessions = {}

    def signatures_impl(self) -> Mapping[str, SignatureInterface]:
        return {sig: signature_of_session(sig, s) for sig, s in self._sessions.items()}

    def declared_io(self, spec: SignatureSpec, name_map: Mapping[str, Any]
                    ) -> tuple[SignatureInterface, str]:
        self.artifact_for(spec, self.artifacts, "ONNX file")
        return self.signatures_impl()[spec.name], self.artifact_label(spec.name)

    def infer_impl(self, signature: SignatureSpec, inputs: Mapping[str, np.ndarray]
                   ) -> Mapping[str, Any]:
        res = self.resolution(signature)
        session = self._sessions[signature.name]
        feeds = {res.inputs[name]: _feed(np.asarray(value)) for name, value in inputs.items()}
        wanted = [res.outputs[o.name] for o in signature.outputs]
        values = session.run(wanted, feeds)
        return {o.name: v for o, v in zip(signature.outputs, values, strict=True)}


def _feed(value: np.ndarray) -> np.ndarray:
    """onnxruntime takes strings as str objects; TensorFlow callers hold bytes."""
    if value.dtype.kind in "OS":
        flat = [v.decode("utf-8", "surrogateescape") if isinstance(v, bytes) else str(v)
                for v in value.reshape(-1)]
        out = np.empty(len(flat), dtype=object)
        out[:] = flat
        return out.reshape(value.shape)
    return value
