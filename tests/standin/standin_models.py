"""Model loading and inference core of the TF Serving stand-in (test fixture, not
TensorFlow Serving).

Follows tensorflow_serving: server_core.cc (version labels, lookups),
get_model_status_impl.cc, get_model_metadata_impl.cc, predict_util.cc,
classifier.cc, regressor.cc and util.cc (serialized tf.Example input).
Models load with the TF1 session loader, one tf.compat.v1.Session per version.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import tensorflow as tf
from standin_status import CODE_BY_NUMBER, ServingError, invalid_argument
from tensorflow.core.framework import tensor_pb2, types_pb2
from tensorflow.core.protobuf import config_pb2, saved_model_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_pb2,
)

DEFAULT_SIGNATURE = "serving_default"
PREDICT_METHOD = "tensorflow/serving/predict"
CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"


@dataclass(frozen=True)
class ModelRequest:
    """The version choice of a ModelSpec."""

    name: str
    version: int | None = None
    label: str | None = None


@dataclass(frozen=True)
class BatchingOptions:
    enabled: bool
    max_batch_size: int = 1000
    enable_large_batch_splitting: bool = False


@dataclass(frozen=True)
class ServerOptions:
    saved_model_tags: tuple[str, ...] = ("serve",)
    enable_signature_method_name_check: bool = False
    file_system_poll_wait_seconds: int = 1
    batching: BatchingOptions = BatchingOptions(enabled=False)


@dataclass
class VersionState:
    """One servable version: its manager state and, when loaded, its session."""

    version: int
    export_dir: str
    state: str = "START"
    error: ServingError | None = None
    session: Any = None
    meta_graph_def: Any = None
    callables: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def tf_error(error: Exception) -> ServingError:
    if isinstance(error, tf.errors.OpError):
        return ServingError(CODE_BY_NUMBER.get(error.error_code, "UNKNOWN"), error.message)
    return ServingError("UNKNOWN", f"{type(error).__name__}: {error}")


def _parse_version(name: str) -> int | None:
    if not name or not (name.isdigit() or (name[0] in "+-" and name[1:].isdigit())):
        return None
    value = int(name)
    return value if 0 <= value < 2**63 else None


def aspired_versions(config: Any, base_path: str) -> list[tuple[int, str]]:
    """FileSystemStoragePathSource: numeric version folders filtered by the policy."""
    try:
        children = os.listdir(base_path)
    except OSError:
        return []
    found: dict[int, str] = {}
    for child in children:
        version = _parse_version(child)
        if version is not None:
            found.setdefault(version, os.path.join(base_path, child))
    policy = config.model_version_policy
    choice = policy.WhichOneof("policy_choice")
    if choice == "all":
        chosen = sorted(found)
    elif choice == "specific":
        wanted = set(policy.specific.versions)
        chosen = sorted(v for v in found if v in wanted)
    else:
        count = policy.latest.num_versions if choice == "latest" else 1
        chosen = sorted(found)[-max(count, 1):] if found else []
    return [(version, found[version]) for version in chosen]


def _load_version(state: VersionState, tags: tuple[str, ...]) -> None:
    """SavedModelBundle load with the TF1 loader; fills state or its error."""
    state.state = "LOADING"
    pb_path = os.path.join(state.export_dir, "saved_model.pb")
    pbtxt_path = os.path.join(state.export_dir, "saved_model.pbtxt")
    if not os.path.exists(pb_path) and not os.path.exists(pbtxt_path):
        state.state, state.error = "END", ServingError(
            "NOT_FOUND",
            "Could not find SavedModel .pb or .pbtxt at supplied export directory path: "
            f"{state.export_dir}. Check that the directory exists and that you have the "
            "right permissions for accessing it.",
        )
        return
    if os.path.exists(pb_path):
        saved_model = saved_model_pb2.SavedModel()
        try:
            with open(pb_path, "rb") as handle:
                saved_model.ParseFromString(handle.read())
        except Exception as error:  # noqa: BLE001 - any parse failure is a load failure
            state.state, state.error = "END", ServingError(
                "DATA_LOSS", f"Can't parse {pb_path} as binary proto: {error}"
            )
            return
        if not any(set(mg.meta_info_def.tags) == set(tags) for mg in saved_model.meta_graphs):
            state.state, state.error = "END", ServingError(
                "NOT_FOUND",
                "Could not find meta graph def matching supplied tags: { "
                + " ".join(sorted(tags))
                + " }. To inspect available tag-sets in the SavedModel, please use the "
                "SavedModel CLI: `saved_model_cli`",
            )
            return
    graph = tf.Graph()
    session = tf.compat.v1.Session(graph=graph)
    try:
        with graph.as_default():
            meta_graph_def = tf.compat.v1.saved_model.loader.load(
                session, set(tags), state.export_dir
            )
    except Exception as error:  # noqa: BLE001 - reported through the status API
        session.close()
        state.state, state.error = "END", tf_error(error)
        return
    state.session, state.meta_graph_def = session, meta_graph_def
    state.state = "AVAILABLE"


class ModelStore:
    """The loaded models: ServerCore + ServableStateMonitor, much simplified."""

    def __init__(
        self, config: Any, options: ServerOptions, labels: dict[str, dict[str, int]]
    ) -> None:
        self._config = config
        self._options = options
        self._versions: dict[str, dict[int, VersionState]] = {}
        self._labels = labels

    # ---------------------------------------------------------------- loading

    def load_all(self, log: Any) -> list[str]:
        """Initial load. Returns the failure descriptions (empty when all loaded)."""
        failures: list[str] = []
        for model in self._config.model_config_list.config:
            versions = aspired_versions(model, model.base_path)
            while not versions:
                log(
                    f"No versions of servable {model.name} found under base path "
                    f"{model.base_path}. Did you forget to name your leaf directory as a "
                    "number (eg. '/1/')?"
                )
                time.sleep(max(self._options.file_system_poll_wait_seconds, 1))
                versions = aspired_versions(model, model.base_path)
            states = self._versions.setdefault(model.name, {})
            for version, export_dir in versions:
                state = VersionState(version=version, export_dir=export_dir)
                states[version] = state
                log(f"Loading servable: {{name: {model.name} version: {version}}}")
                _load_version(state, self._options.saved_model_tags)
                if state.error is not None:
                    log(
                        f"Servable {{name: {model.name} version: {version}}} cannot be loaded: "
                        f"{state.error.to_string()}"
                    )
                    failures.append(
                        f"{{{{name: {model.name} version: {version}}} due to error: "
                        f"{state.error.to_string()}}}, "
                    )
                else:
                    log(f"Successfully loaded servable version {{name: {model.name} version: {version}}}")
        return failures

    def close(self) -> None:
        for states in self._versions.values():
            for state in states.values():
                if state.session is not None:
                    state.session.close()

    @property
    def model_names(self) -> list[str]:
        return [model.name for model in self._config.model_config_list.config]

    # ---------------------------------------------------------------- lookups

    def servable(self, request: ModelRequest) -> VersionState:
        """ServerCore::GetServableHandle."""
        if not request.name:
            raise invalid_argument("ModelSpec has no name specified.")
        version = request.version
        if request.label is not None:
            labels = self._labels.get(request.name, {})
            if request.label not in labels:
                raise invalid_argument(f"Unrecognized servable version label: {request.label}")
            version = labels[request.label]
        states = self._versions.get(request.name, {})
        available = [s for s in states.values() if s.state == "AVAILABLE"]
        if version is None:
            if available:
                return max(available, key=lambda s: s.version)
            raise ServingError("NOT_FOUND", f"Servable not found for request: Latest({request.name})")
        state = states.get(version)
        if state is None or state.state != "AVAILABLE":
            raise ServingError(
                "NOT_FOUND", f"Servable not found for request: Specific({request.name}, {version})"
            )
        return state

    def model_status(self, request: ModelRequest) -> Any:
        """GetModelStatusImpl (a version label selects nothing: all versions are listed)."""
        response = get_model_status_pb2.GetModelStatusResponse()
        states = self._versions.get(request.name, {})
        if request.version is not None:
            state = states.get(request.version)
            if state is None:
                raise ServingError(
                    "NOT_FOUND", f"Could not find version {request.version} of model {request.name}"
                )
            chosen = [state]
        else:
            if not states:
                raise ServingError("NOT_FOUND", f"Could not find any versions of model {request.name}")
            chosen = sorted(states.values(), key=lambda s: -s.version)
        for state in chosen:
            entry = response.model_version_status.add()
            entry.version = state.version
            entry.state = get_model_status_pb2.ModelVersionStatus.State.Value(state.state)
            entry.status.SetInParent()
            if state.error is not None:
                code_enum = entry.status.DESCRIPTOR.fields_by_name["error_code"].enum_type
                entry.status.error_code = code_enum.values_by_name[state.error.code].number
                entry.status.error_message = state.error.message
        return response

    def model_metadata(self, request: ModelRequest, fields: list[str]) -> Any:
        """GetModelMetadataImpl."""
        if not fields:
            raise invalid_argument("GetModelMetadataRequest must specify at least one metadata_field")
        for name in fields:
            if name != "signature_def":
                raise invalid_argument(f"Metadata field {name} is not supported")
        state = self.servable(request)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = request.name
        response.model_spec.version.value = state.version
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for key, signature in state.meta_graph_def.signature_def.items():
            signature_map.signature_def[key].CopyFrom(signature)
        response.metadata["signature_def"].Pack(signature_map)
        return response

    # ---------------------------------------------------------------- running

    def _run(
        self,
        state: VersionState,
        feeds: list[tuple[str, np.ndarray]],
        fetches: list[str],
        timeout_ms: int,
    ) -> list[np.ndarray]:
        graph = state.session.graph
        for index, (tensor_name, array) in enumerate(feeds):
            try:
                expected = graph.get_tensor_by_name(tensor_name).dtype.base_dtype
            except (KeyError, ValueError) as error:
                raise invalid_argument(f"Tensor {tensor_name}, specified in either feed_devices or "
                                       f"fetch_devices was not in the Graph: {error}") from None
            provided = tf.string if array.dtype == object else tf.as_dtype(array.dtype)
            if provided != expected:
                raise invalid_argument(
                    f"Expects arg[{index}] to be {_type_name(expected)} but "
                    f"{_type_name(provided)} is provided"
                )
        self._check_batching(feeds)
        key = (tuple(name for name, _ in feeds), tuple(fetches), timeout_ms)
        with state.lock:
            runner = state.callables.get(key)
            if runner is None:
                options = config_pb2.CallableOptions()
                options.feed.extend(key[0])
                options.fetch.extend(key[1])
                if timeout_ms > 0:
                    options.run_options.timeout_in_ms = timeout_ms
                try:
                    runner = state.session._make_callable_from_options(options)  # noqa: SLF001
                except Exception as error:  # noqa: BLE001
                    raise tf_error(error) from None
                state.callables[key] = runner
        try:
            return list(runner(*[array for _, array in feeds]))
        except Exception as error:  # noqa: BLE001
            raise tf_error(error) from None

    def _check_batching(self, feeds: list[tuple[str, np.ndarray]]) -> None:
        """BatchingSession input checks (batching_session.cc, shared_batch_scheduler.h)."""
        batching = self._options.batching
        if not batching.enabled or not feeds:
            return
        sizes = set()
        for _, array in feeds:
            if array.ndim == 0:
                raise invalid_argument("Batching Run() input tensors must have at least one dimension")
            sizes.add(array.shape[0])
        if len(sizes) > 1:
            raise invalid_argument("Batching Run() input tensors must have equal 0th-dimension size")
        size = sizes.pop()
        if size > batching.max_batch_size and not batching.enable_large_batch_splitting:
            raise invalid_argument(
                f"Task size {size} is larger than maximum input batch size {batching.max_batch_size}"
            )

    def _signature(self, state: VersionState, name: str) -> Any:
        return state.meta_graph_def.signature_def.get(name)

    def predict_input_dtypes(self, request: ModelRequest, signature_name: str) -> dict[str, int]:
        """HttpRestApiHandler::GetInfoMap."""
        state = self.servable(request)
        name = signature_name or DEFAULT_SIGNATURE
        signature = self._signature(state, name)
        if signature is None:
            raise invalid_argument(f'Serving signature name: "{name}" not found in signature def')
        return {alias: info.dtype for alias, info in signature.inputs.items()}

    def predict(
        self,
        request: ModelRequest,
        signature_name: str,
        inputs: dict[str, Any],
        output_filter: list[str],
        timeout_ms: int = 0,
        convert: Callable[[str, Any], np.ndarray] | None = None,
    ) -> tuple[int, str, dict[str, np.ndarray]]:
        """RunPredict. Returns (version, signature name, {output alias: array}).
        `convert(alias, value)` turns request values (e.g. TensorProtos) into arrays."""
        state = self.servable(request)
        name = signature_name or DEFAULT_SIGNATURE
        signature = self._signature(state, name)
        if signature is None:
            raise ServingError("FAILED_PRECONDITION", f'Serving signature key "{name}" not found.')
        if self._options.enable_signature_method_name_check and signature.method_name not in (
            PREDICT_METHOD, CLASSIFY_METHOD, REGRESS_METHOD,
        ):
            raise ServingError(
                "INTERNAL",
                "Expected prediction signature method_name to be one of {"
                f"{PREDICT_METHOD}, {CLASSIFY_METHOD}, {REGRESS_METHOD}}}. Was: "
                f"{signature.method_name}",
            )
        if len(inputs) != len(signature.inputs):
            sent, wanted = set(inputs), set(signature.inputs)
            raise invalid_argument(
                f"input size does not match signature: {len(inputs)}!={len(signature.inputs)} "
                f"len({{{','.join(sorted(sent))}}}) != len({{{','.join(sorted(wanted))}}}). "
                f"Sent extra: {{{','.join(sorted(sent - wanted))}}}. "
                f"Missing but required: {{{','.join(sorted(wanted - sent))}}}."
            )
        feeds: list[tuple[str, np.ndarray]] = []
        for alias in sorted(inputs):
            if alias not in signature.inputs:
                raise invalid_argument(
                    f"input tensor alias not found in signature: {alias}. Inputs expected to be "
                    f"in the set {{{','.join(sorted(signature.inputs))}}}."
                )
            value = convert(alias, inputs[alias]) if convert is not None else inputs[alias]
            feeds.append((signature.inputs[alias].name, value))
        aliases: list[str] = []
        for alias in output_filter:
            if alias not in signature.outputs:
                raise invalid_argument(
                    f"output tensor alias not found in signature: {alias} Outputs expected to be "
                    f"in the set {{{','.join(sorted(signature.outputs))}}}."
                )
            if alias in aliases:
                raise invalid_argument(f"duplicate output tensor alias: {alias}")
            aliases.append(alias)
        if not aliases:
            aliases = sorted(signature.outputs)
        fetches = [signature.outputs[alias].name for alias in aliases]
        results = self._run(state, feeds, fetches, timeout_ms)
        return state.version, name, dict(zip(aliases, results, strict=True))

    def _examples_signature(self, state: VersionState, signature_name: str, method: str) -> Any:
        name = signature_name or DEFAULT_SIGNATURE
        signature = self._signature(state, name)
        if signature is None:
            raise invalid_argument(f"No signature was found with the name: {name}")
        kind = "classification" if method == CLASSIFY_METHOD else "regression"
        if self._options.enable_signature_method_name_check and signature.method_name != method:
            raise invalid_argument(
                f"Expected {kind} signature method_name to be {method}. Was: {signature.method_name}"
            )
        return signature

    def classify(
        self, request: ModelRequest, signature_name: str, examples: list[bytes], timeout_ms: int = 0
    ) -> tuple[int, list[list[tuple[bytes, float]]]]:
        """RunClassify: PreProcessClassification + PostProcessClassificationResult."""
        state = self.servable(request)
        signature = self._examples_signature(state, signature_name, CLASSIFY_METHOD)
        if len(signature.inputs) != 1:
            raise invalid_argument("Expected one input Tensor.")
        if len(signature.outputs) not in (1, 2):
            raise invalid_argument(
                f"Expected one or two output Tensors, found {len(signature.outputs)}"
            )
        if "inputs" not in signature.inputs:
            raise invalid_argument(f"No classification inputs found in SignatureDef: {signature}")
        if "classes" not in signature.outputs and "scores" not in signature.outputs:
            raise invalid_argument(
                'Expected classification signature outputs to contain at least one of "classes" '
                f'or "scores". Signature was: {signature}'
            )
        if not examples:
            raise invalid_argument("Input is empty.")
        names = [n for n in ("classes", "scores") if n in signature.outputs]
        results = self._run(
            state,
            [(signature.inputs["inputs"].name, _string_array(examples))],
            [signature.outputs[n].name for n in names],
            timeout_ms,
        )
        outputs = dict(zip(names, results, strict=True))
        classes, scores = outputs.get("classes"), outputs.get("scores")
        count = len(examples)
        for label, tensor in (("classes", classes), ("scores", scores)):
            if tensor is None:
                continue
            if tensor.ndim != 2:
                raise invalid_argument(
                    f"Expected Tensor shape: [batch_size num_classes] but got {_shape_debug(tensor)}"
                )
            if label == "classes" and tensor.dtype != object:
                raise invalid_argument(
                    f"Expected classes Tensor of DT_STRING. Got: {_enum_name(tensor)}"
                )
            if label == "scores" and tensor.dtype != np.float32:
                raise invalid_argument(f"Expected scores Tensor of DT_FLOAT. Got: {_enum_name(tensor)}")
            if tensor.shape[0] != count:
                raise invalid_argument(
                    f"Expected {label} output batch size of {count}. Got: {tensor.shape[0]}"
                )
        if classes is not None and scores is not None and classes.shape[1] != scores.shape[1]:
            raise invalid_argument(
                "Tensors class and score should match in dim_size(1). Got "
                f"{classes.shape[1]} vs. {scores.shape[1]}"
            )
        num_classes = (classes if classes is not None else scores).shape[1]
        result = [
            [
                (
                    classes[i, c] if classes is not None else b"",
                    float(scores[i, c]) if scores is not None else 0.0,
                )
                for c in range(num_classes)
            ]
            for i in range(count)
        ]
        return state.version, result

    def regress(
        self, request: ModelRequest, signature_name: str, examples: list[bytes], timeout_ms: int = 0
    ) -> tuple[int, list[float]]:
        """RunRegress: PreProcessRegression + PostProcessRegressionResult."""
        state = self.servable(request)
        signature = self._examples_signature(state, signature_name, REGRESS_METHOD)
        if len(signature.inputs) != 1:
            raise invalid_argument("Expected one input Tensor.")
        if len(signature.outputs) != 1:
            raise invalid_argument("Expected one output Tensor.")
        if "inputs" not in signature.inputs:
            raise invalid_argument(f"No regression inputs found in SignatureDef: {signature}")
        if "outputs" not in signature.outputs:
            raise invalid_argument(f"No regression outputs found in SignatureDef: {signature}")
        if not examples:
            raise invalid_argument("Input is empty.")
        (output,) = self._run(
            state,
            [(signature.inputs["inputs"].name, _string_array(examples))],
            [signature.outputs["outputs"].name],
            timeout_ms,
        )
        count = len(examples)
        if not (output.ndim == 1 or (output.ndim == 2 and output.shape[1] == 1)):
            raise invalid_argument(
                "Expected output Tensor shape to be either [batch_size] or [batch_size, 1] but "
                f"got {_shape_debug(output)}"
            )
        if output.shape[0] != count:
            raise invalid_argument(
                f"Input batch size did not match output batch size: {count} vs. {output.shape[0]}"
            )
        if output.dtype != np.float32:
            raise invalid_argument(f"Expected output Tensor of DT_FLOAT.  Got: {_enum_name(output)}")
        return state.version, [float(v) for v in output.reshape(-1)]


def _string_array(values: list[bytes]) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _shape_debug(array: np.ndarray) -> str:
    return "[" + ",".join(str(d) for d in array.shape) + "]"


def _type_name(dtype: Any) -> str:
    names = {tf.float32: "float", tf.float64: "double", tf.string: "string", tf.float16: "half"}
    return names.get(dtype, dtype.name)


def dtype_enum_of(array: np.ndarray) -> int:
    if array.dtype == object:
        return types_pb2.DT_STRING
    return tf.as_dtype(array.dtype).as_datatype_enum


def _enum_name(array: np.ndarray) -> str:
    return types_pb2.DataType.Name(dtype_enum_of(array))


def array_to_tensor_proto(array: np.ndarray) -> Any:
    """Tensor::AsProtoField: values in the typed *_val fields."""
    dtype = dtype_enum_of(array)
    flat = array.reshape(-1)
    if dtype in (types_pb2.DT_HALF, types_pb2.DT_BFLOAT16, types_pb2.DT_COMPLEX64,
                 types_pb2.DT_COMPLEX128):
        return tf.make_tensor_proto(array)
    proto = tensor_pb2.TensorProto(dtype=dtype)
    for size in array.shape:
        proto.tensor_shape.dim.add(size=size)
    if dtype == types_pb2.DT_FLOAT:
        proto.float_val.extend(flat.tolist())
    elif dtype == types_pb2.DT_DOUBLE:
        proto.double_val.extend(flat.tolist())
    elif dtype in (types_pb2.DT_INT32, types_pb2.DT_INT16, types_pb2.DT_INT8, types_pb2.DT_UINT8,
                   types_pb2.DT_UINT16):
        proto.int_val.extend(int(v) for v in flat)
    elif dtype == types_pb2.DT_INT64:
        proto.int64_val.extend(int(v) for v in flat)
    elif dtype == types_pb2.DT_BOOL:
        proto.bool_val.extend(bool(v) for v in flat)
    elif dtype == types_pb2.DT_STRING:
        proto.string_val.extend(v if isinstance(v, bytes) else str(v).encode() for v in flat)
    elif dtype == types_pb2.DT_UINT32:
        proto.uint32_val.extend(int(v) for v in flat)
    elif dtype == types_pb2.DT_UINT64:
        proto.uint64_val.extend(int(v) for v in flat)
    else:
        return tf.make_tensor_proto(array)
    return proto


def tensor_proto_to_array(proto: Any, alias: str) -> np.ndarray:
    """Tensor::FromProto; failures are 'tensor parsing error: <alias>'."""
    try:
        array = tf.make_ndarray(proto)
    except Exception:  # noqa: BLE001
        raise invalid_argument(f"tensor parsing error: {alias}") from None
    if proto.dtype == types_pb2.DT_STRING:
        array = np.asarray(array, dtype=object)
    return array


def model_request_from_spec(spec: Any) -> ModelRequest:
    choice = spec.WhichOneof("version_choice")
    if choice == "version":
        return ModelRequest(spec.name, version=spec.version.value)
    if choice == "version_label":
        return ModelRequest(spec.name, label=spec.version_label)
    return ModelRequest(spec.name)


def make_model_spec(name: str, signature_name: str | None, version: int) -> Any:
    """MakeModelSpec."""
    spec = model_pb2.ModelSpec(name=name)
    if signature_name is not None:
        spec.signature_name = signature_name or DEFAULT_SIGNATURE
    spec.version.value = version
    return spec


def log_to_stderr(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
