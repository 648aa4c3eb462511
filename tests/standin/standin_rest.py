"""REST API of the TF Serving stand-in (test fixture, not TensorFlow Serving).

Routing and flow follow tensorflow_serving/model_servers/http_rest_api_handler.cc,
http_rest_api_util.cc (path regexes, ToJsonString) and http_server.cc.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import standin_json
from google.protobuf import json_format
from standin_models import ModelRequest, ModelStore, dtype_enum_of, log_to_stderr
from standin_status import ServingError, invalid_argument, rest_error_body
from tensorflow.core.example import example_pb2, feature_pb2
from tensorflow_serving.apis import get_model_metadata_pb2

PREDICTION_PATH = re.compile(
    r"/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?:(classify|regress|predict)",
    re.IGNORECASE,
)
STATUS_PATH = re.compile(
    r"/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?(?:/(metadata))?",
    re.IGNORECASE,
)
API_PATH = re.compile(r"/v1/.*", re.IGNORECASE)
NOT_FOUND_PAGE = (
    b"<HTML><HEAD>\n<TITLE>404 Not Found</TITLE>\n</HEAD><BODY>\n<H1>Not Found</H1>\n"
    b"</BODY></HTML>\n"
)


def _feature_proto(kind: str, values: list[Any]) -> Any:
    feature = feature_pb2.Feature()
    if kind == "bytes":
        feature.bytes_list.value.extend(values)
    elif kind == "float":
        feature.float_list.value.extend(values)
    elif kind == "int64":
        feature.int64_list.value.extend(values)
    return feature


def _example_proto(features: dict[str, tuple[str, list[Any]]]) -> Any:
    example = example_pb2.Example()
    for name, (kind, values) in features.items():
        example.features.feature[name].CopyFrom(_feature_proto(kind, values))
    return example


def serialized_examples(request: standin_json.ExamplesJsonRequest) -> list[bytes]:
    """InputToSerializedExampleTensor: context bytes + example bytes (a proto merge)."""
    context = b"" if request.context is None else _example_proto(request.context).SerializeToString()
    return [context + _example_proto(e).SerializeToString() for e in request.examples]


def status_json(response: Any) -> bytes:
    """ToJsonString(GetModelStatusResponse): json_name field names, defaults printed."""
    as_dict = json_format.MessageToDict(response, always_print_fields_with_no_presence=True)
    return (json.dumps(as_dict, indent=1) + "\n").encode("utf-8")


def metadata_json(response: Any) -> bytes:
    """ToJsonString(GetModelMetadataResponse): model_spec and the unpacked SignatureDefMap
    printed separately with proto field names, then concatenated."""
    spec = json_format.MessageToDict(
        response.model_spec,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
    )
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(signature_map)
    signatures = json_format.MessageToDict(
        signature_map,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
    )
    text = (
        "{\n\"model_spec\":" + json.dumps(spec, indent=1) + "\n,\n"
        "\"metadata\": {\"signature_def\": " + json.dumps(signatures, indent=1) + "\n}\n}\n"
    )
    return text.encode("utf-8")


class RestApi:
    """HttpRestApiHandler::ProcessRequest."""

    def __init__(self, store: ModelStore, timeout_in_ms: int) -> None:
        self._store = store
        self._timeout_ms = timeout_in_ms

    def process(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        try:
            return 200, self._dispatch(method, path, body)
        except ServingError as error:
            return error.http_status, rest_error_body(error)

    def _dispatch(self, method: str, path: str, body: bytes) -> bytes:
        malformed = invalid_argument(f"Malformed request: {method} {path}")
        if method == "POST":
            match = PREDICTION_PATH.fullmatch(path)
        elif method == "GET":
            match = STATUS_PATH.fullmatch(path)
        else:
            raise malformed
        if match is None:
            raise malformed
        name_raw, version_raw, label_raw, action = match.groups()
        name = urllib.parse.unquote(name_raw or "")
        version: int | None = None
        if version_raw:
            version = int(version_raw)
            if version >= 2**63:
                raise invalid_argument(f"Failed to convert version: {version_raw} to numeric.")
        label = urllib.parse.unquote(label_raw) if label_raw else None
        request = ModelRequest(name, version, label)
        if method == "POST":
            if action == "predict":
                return self._predict(request, body)
            if action == "classify":
                return self._classify(request, body)
            if action == "regress":
                return self._regress(request, body)
            raise malformed
        if not name:
            raise invalid_argument("Missing model name in request.")
        if action == "metadata":
            return metadata_json(self._store.model_metadata(request, ["signature_def"]))
        return status_json(self._store.model_status(request))

    def _predict(self, request: ModelRequest, body: bytes) -> bytes:
        parsed = standin_json.parse_predict_request(
            body, lambda signature: self._store.predict_input_dtypes(request, signature)
        )
        _, _, outputs = self._store.predict(
            request, parsed.signature_name, parsed.inputs, [], self._timeout_ms
        )
        typed = {alias: (array, dtype_enum_of(array)) for alias, array in outputs.items()}
        return standin_json.make_predict_json(typed, parsed.request_format)

    def _classify(self, request: ModelRequest, body: bytes) -> bytes:
        parsed = standin_json.parse_examples_request(body)
        _, result = self._store.classify(
            request, parsed.signature_name, serialized_examples(parsed), self._timeout_ms
        )
        return standin_json.make_classify_json(result)

    def _regress(self, request: ModelRequest, body: bytes) -> bytes:
        parsed = standin_json.parse_examples_request(body)
        _, values = self._store.regress(
            request, parsed.signature_name, serialized_examples(parsed), self._timeout_ms
        )
        return standin_json.make_regress_json(values)


def _read_chunked(handler: BaseHTTPRequestHandler) -> bytes:
    chunks: list[bytes] = []
    while True:
        size_line = handler.rfile.readline().split(b";")[0].strip()
        size = int(size_line or b"0", 16)
        if size == 0:
            while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(chunks)
        chunks.append(handler.rfile.read(size))
        handler.rfile.readline()


def make_http_server(api: RestApi, address: str, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "tensorflow_model_server-standin"

        def _handle(self) -> None:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                body = _read_chunked(self)
            else:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            path = urllib.parse.urlsplit(self.path).path
            if API_PATH.fullmatch(path) is None:
                self._reply(404, NOT_FOUND_PAGE, "text/html")
                return
            status, payload = api.process(self.command, path, body)
            self._reply(status, payload, "application/json")

        def _reply(self, status: int, payload: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

    server = ThreadingHTTPServer((address, port), Handler)
    server.daemon_threads = True
    log_to_stderr(f"Exporting HTTP/REST API at:localhost:{server.server_address[1]} ...")
    return server
