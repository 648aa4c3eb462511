"""Batching parameters of the TF Serving stand-in (test fixture, not TensorFlow Serving).

tensorflow-serving-api does not ship session_bundle_config.proto, so the
BatchingParameters message is declared here (field names as in TF Serving) and the
`--batching_parameters_file` text proto is parsed into it with text_format.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format, wrappers_pb2
from standin_models import BatchingOptions
from standin_status import ServingError

_WRAPPED = {
    "max_batch_size": "Int64Value",
    "batch_timeout_micros": "Int64Value",
    "max_enqueued_batches": "Int64Value",
    "num_batch_threads": "Int64Value",
    "thread_pool_name": "StringValue",
    "enable_large_batch_splitting": "BoolValue",
    "max_execution_batch_size": "Int64Value",
    "batch_padding_policy": "StringValue",
    "enable_priority_queue": "BoolValue",
    "low_priority_max_batch_size": "Int64Value",
    "low_priority_batch_timeout_micros": "Int64Value",
    "low_priority_max_enqueued_batches": "Int64Value",
    "mixed_priority_batching_policy": "StringValue",
}
_REPEATED_INT64 = ("allowed_batch_sizes", "low_priority_allowed_batch_sizes")
_BOOLS = ("pad_variable_length_inputs",)


def _batching_parameters_class() -> type:
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
    file_proto = descriptor_pb2.FileDescriptorProto(
        name="standin/session_bundle_config.proto",
        package="tensorflow.serving",
        syntax="proto3",
        dependency=["google/protobuf/wrappers.proto"],
    )
    message = file_proto.message_type.add(name="BatchingParameters")
    number = 0
    field_type = descriptor_pb2.FieldDescriptorProto
    for name, wrapper in _WRAPPED.items():
        number += 1
        message.field.add(name=name, number=number, type=field_type.TYPE_MESSAGE,
                          label=field_type.LABEL_OPTIONAL, type_name=f".google.protobuf.{wrapper}")
    for name in _REPEATED_INT64:
        number += 1
        message.field.add(name=name, number=number, type=field_type.TYPE_INT64,
                          label=field_type.LABEL_REPEATED)
    for name in _BOOLS:
        number += 1
        message.field.add(name=name, number=number, type=field_type.TYPE_BOOL,
                          label=field_type.LABEL_OPTIONAL)
    pool.Add(file_proto)
    descriptor = pool.FindMessageTypeByName("tensorflow.serving.BatchingParameters")
    return message_factory.GetMessageClass(descriptor)


def batching_options(enabled: bool, parameters_file: str) -> BatchingOptions:
    """server.cc: the file needs --enable_batching; the defaults of BasicBatchScheduler."""
    if not enabled:
        if parameters_file:
            raise ServingError(
                "INVALID_ARGUMENT",
                "server_options.batching_parameters_file is set without setting "
                "server_options.enable_batching to true.",
            )
        return BatchingOptions(enabled=False)
    if not parameters_file:
        return BatchingOptions(enabled=True)
    try:
        with open(parameters_file, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as error:
        raise ServingError("NOT_FOUND", f"{parameters_file}; {error.strerror}") from None
    parameters = _batching_parameters_class()()
    try:
        text_format.Parse(text, parameters)
    except text_format.ParseError:
        raise ServingError("INVALID_ARGUMENT", f"Invalid protobuf file: '{parameters_file}'") from None
    max_batch_size = (
        parameters.max_batch_size.value if parameters.HasField("max_batch_size") else 1000
    )
    sizes = list(parameters.allowed_batch_sizes)
    if sizes:
        if any(b <= a for a, b in zip(sizes, sizes[1:], strict=False)):
            raise ServingError(
                "INVALID_ARGUMENT", "allowed_batch_sizes entries must be monotonically increasing"
            )
        if sizes[-1] != max_batch_size:
            raise ServingError(
                "INVALID_ARGUMENT",
                "final entry in allowed_batch_sizes must equal max_batch_size when "
                "enable_large_batch_splitting is False",
            )
    return BatchingOptions(
        enabled=True,
        max_batch_size=max_batch_size,
        enable_large_batch_splitting=parameters.enable_large_batch_splitting.value,
    )
