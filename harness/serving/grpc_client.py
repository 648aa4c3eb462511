"""A gRPC client for TF Serving (tensorflow-serving-api): PredictionService and ModelService.

``tensorflow_serving.apis`` (which imports TensorFlow's protos) and ``grpc`` are imported
lazily, when a client is made. Tensors travel as ``TensorProto``: values and dtypes are
exact, so gRPC answers are judged by the contract's tolerance with no JSON rounding.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

INSTALL = "pip install grpcio tensorflow-serving-api"


class GrpcError(Exception):
    """A call the server refused (any non-OK status) or could not answer."""

    def __init__(self, code: str, details: str) -> None:
        self.code = code
        self.details = details
        super().__init__(f"{code}: {details}")


@dataclass(frozen=True)
class GrpcAnswer:
    """Outputs of one Predict call and the version that answered (``PredictResponse.model_spec``)."""

    outputs: Mapping[str, np.ndarray]
    version: int | None
    seconds: float


def _apis() -> Any:
    from tensorflow_serving.apis import (  # noqa: PLC0415 - imports TensorFlow's protos
        classification_pb2,
        get_model_metadata_pb2,
        get_model_status_pb2,
        model_service_pb2_grpc,
        predict_pb2,
        prediction_service_pb2_grpc,
        regression_pb2,
    )

    return {
        "classification": classification_pb2, "metadata": get_model_metadata_pb2,
        "status": get_model_status_pb2, "model_service": model_service_pb2_grpc,
        "predict": predict_pb2, "prediction_service": prediction_service_pb2_grpc,
        "regression": regression_pb2,
    }


def tensor_proto(array: np.ndarray, dtype: str | None = None) -> Any:
    """A numpy array as a ``TensorProto`` (its own dtype unless ``dtype`` forces one)."""
    import tensorflow as tf  # noqa: PLC0415

    arr = np.asarray(array)
    if arr.dtype.kind in "OSU":
        return tf.make_tensor_proto(arr.astype(object), dtype=tf.string)
    return tf.make_tensor_proto(arr, dtype=tf.as_dtype(dtype or arr.dtype))


def to_array(proto: Any) -> np.ndarray:
    import tensorflow as tf  # noqa: PLC0415

    return tf.make_ndarray(proto)


class GrpcClient:
    """Requests against one model on one server (``HOST:PORT``)."""

    def __init__(self, target: str, model: str, *, timeout: float = 60.0) -> None:
        import grpc  # noqa: PLC0415

        self._grpc = grpc
        self.apis = _apis()
        self.target = target
        self.model = model
        self.timeout = timeout
        limit = 2**31 - 1
        self.channel = grpc.insecure_channel(target, options=[
            ("grpc.max_send_message_length", limit), ("grpc.max_receive_message_length", limit)])
        self.prediction = self.apis["prediction_service"].PredictionServiceStub(self.channel)
        self.models = self.apis["model_service"].ModelServiceStub(self.channel)

    def close(self) -> None:
        self.channel.close()

    def _spec(self, spec: Any, signature: str | None, version: int | None,
              label: str | None) -> None:
        spec.name = self.model
        if signature is not None:
            spec.signature_name = signature
        if version is not None:
            spec.version.value = version
        elif label is not None:
            spec.version_label = label

    def _call(self, method: Any, request: Any) -> Any:
        try:
            return method(request, timeout=self.timeout)
        except self._grpc.RpcError as exc:
            code = exc.code().name if exc.code() is not None else "UNKNOWN"
            raise GrpcError(code, str(exc.details())) from None

    # -------------------------------------------------------------- API
    def predict(self, signature: str | None, inputs: Mapping[str, Any], *,
                version: int | None = None, label: str | None = None,
                dtypes: Mapping[str, str] | None = None) -> GrpcAnswer:
        """Predict; ``inputs`` values are arrays or ready ``TensorProto`` messages."""
        request = self.apis["predict"].PredictRequest()
        self._spec(request.model_spec, signature, version, label)
        for name, value in inputs.items():
            if hasattr(value, "SerializeToString"):
                request.inputs[name].CopyFrom(value)
            else:
                request.inputs[name].CopyFrom(tensor_proto(value, (dtypes or {}).get(name)))
        start = time.perf_counter()
        response = self._call(self.prediction.Predict, request)
        seconds = time.perf_counter() - start
        outputs = {k: to_array(v) for k, v in response.outputs.items()}
        answered = response.model_spec.version.value if response.model_spec.HasField("version") \
            else None
        return GrpcAnswer(outputs, answered, seconds)

    def metadata(self, *, version: int | None = None, label: str | None = None) -> Any:
        """The ``SignatureDefMap`` of GetModelMetadata(metadata_field: "signature_def")."""
        request = self.apis["metadata"].GetModelMetadataRequest()
        self._spec(request.model_spec, None, version, label)
        request.metadata_field.append("signature_def")
        response = self._call(self.prediction.GetModelMetadata, request)
        signature_map = self.apis["metadata"].SignatureDefMap()
        response.metadata["signature_def"].Unpack(signature_map)
        return signature_map

    def status(self, *, version: int | None = None, label: str | None = None) -> list[tuple[int, str, str]]:
        """(version, state, error message) for each version GetModelStatus reports."""
        request = self.apis["status"].GetModelStatusRequest()
        self._spec(request.model_spec, None, version, label)
        response = self._call(self.models.GetModelStatus, request)
        states = self.apis["status"].ModelVersionStatus.State
        return [(int(s.version), states.Name(s.state), s.status.error_message)
                for s in response.model_version_status]

    def _input(self, request: Any, examples: Sequence[bytes]) -> None:
        from tensorflow.core.example import example_pb2  # noqa: PLC0415

        for data in examples:
            request.input.example_list.examples.add().CopyFrom(example_pb2.Example.FromString(data))

    def classify(self, signature: str | None, examples: Sequence[bytes], *,
                 version: int | None = None, label: str | None = None) -> list[list[tuple[bytes, float]]]:
        request = self.apis["classification"].ClassificationRequest()
        self._spec(request.model_spec, signature, version, label)
        self._input(request, examples)
        response = self._call(self.prediction.Classify, request)
        return [[(c.label.encode("utf-8"), float(c.score)) for c in item.classes]
                for item in response.result.classifications]

    def regress(self, signature: str | None, examples: Sequence[bytes], *,
                version: int | None = None, label: str | None = None) -> list[float]:
        request = self.apis["regression"].RegressionRequest()
        self._spec(request.model_spec, signature, version, label)
        self._input(request, examples)
        response = self._call(self.prediction.Regress, request)
        return [float(r.value) for r in response.result.regressions]
