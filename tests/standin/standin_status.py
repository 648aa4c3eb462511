"""Error statuses of the TF Serving stand-in (test fixture, not TensorFlow Serving).

Codes are TensorFlow/absl status code names. The HTTP mapping follows
tensorflow_serving/model_servers/http_server.cc (ToHTTPStatusCode); the REST error
body follows MakeJsonFromStatus: `{ "error": "<absl::CEscape(message)>" }`.
"""

from __future__ import annotations

HTTP_STATUS_BY_CODE: dict[str, int] = {
    "OK": 200,
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
    "UNAUTHENTICATED": 401,
}

# tensorflow/core/protobuf/error_codes.proto numbering (same as gRPC's).
CODE_BY_NUMBER: dict[int, str] = {
    0: "OK", 1: "CANCELLED", 2: "UNKNOWN", 3: "INVALID_ARGUMENT",
    4: "DEADLINE_EXCEEDED", 5: "NOT_FOUND", 6: "ALREADY_EXISTS",
    7: "PERMISSION_DENIED", 8: "RESOURCE_EXHAUSTED", 9: "FAILED_PRECONDITION",
    10: "ABORTED", 11: "OUT_OF_RANGE", 12: "UNIMPLEMENTED", 13: "INTERNAL",
    14: "UNAVAILABLE", 15: "DATA_LOSS", 16: "UNAUTHENTICATED",
}


class ServingError(Exception):
    """A non-OK status: a code name (e.g. "INVALID_ARGUMENT") and a message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        if code not in HTTP_STATUS_BY_CODE:
            raise ValueError(f"unknown status code {code!r}")
        self.code = code
        self.message = message

    def to_string(self) -> str:
        """absl::Status::ToString() form, used when TF Serving nests statuses."""
        return f"{self.code}: {self.message}"

    @property
    def http_status(self) -> int:
        return HTTP_STATUS_BY_CODE[self.code]


def invalid_argument(message: str) -> ServingError:
    return ServingError("INVALID_ARGUMENT", message)


def c_escape(text: str) -> str:
    """absl::CEscape on the UTF-8 bytes of `text` (escapes ' and non-ASCII bytes too)."""
    out: list[str] = []
    for byte in text.encode("utf-8", "surrogateescape"):
        char = chr(byte)
        if char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif char == '"':
            out.append('\\"')
        elif char == "'":
            out.append("\\'")
        elif char == "\\":
            out.append("\\\\")
        elif byte < 0x20 or byte >= 0x7F:
            out.append("\\%03o" % byte)
        else:
            out.append(char)
    return "".join(out)


def rest_error_body(error: ServingError) -> bytes:
    """The REST error body exactly as TF Serving writes it (not always strict JSON)."""
    return ('{ "error": "' + c_escape(error.message) + '" }').encode("ascii")
