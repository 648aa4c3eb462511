"""gRPC API of the TF Serving stand-in (test fixture, not TensorFlow Serving).

PredictionService (Predict, Classify, Regress, GetModelMetadata) and ModelService
(GetModelStatus). MultiInference and HandleReloadConfigRequest answer UNIMPLEMENTED.
Status conversion follows grpc_status_util.cc (messages cut at 1024 characters).
"""

from __future__ import annotations

from concurrent import futures
from typing import Any, Callable

import grpc
from standin_models import (
    ModelStore,
    array_to_tensor_proto,
    make_model_spec,
    model_request_from_spec,
    tensor_proto_to_array,
)
from standin_status import ServingError, invalid_argument
from tensorflow_serving.apis import (
    classification_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

_MESSAGE_LIMIT = 1024


def _abort(context: grpc.ServicerContext, error: ServingError) -> None:
    message = error.message
    if len(message) > _MESSAGE_LIMIT:
        message = message[:_MESSAGE_LIMIT] + "...TRUNCATED"
    context.abort(getattr(grpc.StatusCode, error.code), message)


def _serving(handler: Callable[[Any], Any]) -> Callable[[Any, Any, grpc.ServicerContext], Any]:
    def method(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return handler(self, request)
        except ServingError as error:
            _abort(context, error)
            raise AssertionError("unreachable: context.abort raises") from None

    method.__name__ = handler.__name__
    return method


def examples_of(request: Any) -> list[bytes]:
    """InputToSerializedExampleTensor on a tensorflow.serving.Input."""
    kind = request.input.WhichOneof("kind")
    if kind == "example_list":
        return [e.SerializeToString() for e in request.input.example_list.examples]
    if kind == "example_list_with_context":
        listed = request.input.example_list_with_context
        context = listed.context.SerializeToString()
        return [context + e.SerializeToString() for e in listed.examples]
    return []


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, store: ModelStore) -> None:
        self._store = store

    @_serving
    def Predict(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        if not request.HasField("model_spec"):
            raise invalid_argument("Missing ModelSpec")
        version, signature, outputs = self._store.predict(
            model_request_from_spec(request.model_spec),
            request.model_spec.signature_name,
            dict(request.inputs),
            list(request.output_filter),
            convert=lambda alias, proto: tensor_proto_to_array(proto, alias),
        )
        response = predict_pb2.PredictResponse()
        response.model_spec.CopyFrom(make_model_spec(request.model_spec.name, signature, version))
        for alias, array in outputs.items():
            response.outputs[alias].CopyFrom(array_to_tensor_proto(array))
        return response

    @_serving
    def Classify(self, request: Any) -> Any:  # noqa: N802
        if not request.HasField("model_spec"):
            raise invalid_argument("Missing ModelSpec")
        version, result = self._store.classify(
            model_request_from_spec(request.model_spec),
            request.model_spec.signature_name,
            examples_of(request),
        )
        response = classification_pb2.ClassificationResponse()
        response.model_spec.CopyFrom(
            make_model_spec(request.model_spec.name, request.model_spec.signature_name, version)
        )
        for classes in result:
            entry = response.result.classifications.add()
            for label, score in classes:
                item = entry.classes.add()
                item.label = label.decode("utf-8", "replace") if isinstance(label, bytes) else label
                item.score = score
        return response

    @_serving
    def Regress(self, request: Any) -> Any:  # noqa: N802
        if not request.HasField("model_spec"):
            raise invalid_argument("Missing ModelSpec")
        version, values = self._store.regress(
            model_request_from_spec(request.model_spec),
            request.model_spec.signature_name,
            examples_of(request),
        )
        response = regression_pb2.RegressionResponse()
        response.model_spec.CopyFrom(
            make_model_spec(request.model_spec.name, request.model_spec.signature_name, version)
        )
        for value in values:
            response.result.regressions.add().value = value
        return response

    @_serving
    def GetModelMetadata(self, request: Any) -> Any:  # noqa: N802
        if not request.HasField("model_spec"):
            raise invalid_argument("Missing ModelSpec")
        return self._store.model_metadata(
            model_request_from_spec(request.model_spec), list(request.metadata_field)
        )


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, store: ModelStore) -> None:
        self._store = store

    @_serving
    def GetModelStatus(self, request: Any) -> Any:  # noqa: N802
        if not request.HasField("model_spec"):
            raise invalid_argument("Missing ModelSpec")
        return self._store.model_status(model_request_from_spec(request.model_spec))


def make_grpc_server(store: ModelStore, address: str, port: int) -> tuple[grpc.Server, int]:
    limit = 2**31 - 1
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8),
        options=[
            ("grpc.max_send_message_length", limit),
            ("grpc.max_receive_message_length", limit),
            ("grpc.so_reuseport", 0),
        ],
    )
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionService(store), server
    )
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(store), server)
    bound = server.add_insecure_port(f"{address}:{port}")
    if bound == 0:
        raise ServingError("UNAVAILABLE", f"Failed to bind gRPC server to {address}:{port}")
    return server, bound
