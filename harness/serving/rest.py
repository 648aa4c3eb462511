"""A REST client for TF Serving's ``/v1/models`` API, as a client team would write it.

Requests: predict in row (``instances``) and columnar (``inputs``) form, classify,
regress, status and metadata, addressed by model, ``/versions/N`` or ``/labels/L``.
Numbers are sent exactly (float32 values as the doubles they are; NaN/Infinity bare, as
TF Serving accepts them), strings as JSON strings when they are UTF-8 text, else as
``{"b64": ...}``.

Responses are parsed leniently, as TF Serving writes them: bare ``NaN``/``Infinity``
(not strict JSON) and error bodies ``{ "error": "..." }`` whose text is C-escaped
(``\\'``, octal bytes), which strict JSON parsers reject.

Only the stdlib is used (``http.client`` with a kept-alive connection).
"""

from __future__ import annotations

import base64
import codecs
import http.client
import json
import math
import re
import threading
import urllib.parse
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

#: REST cannot carry these dtypes (TF Serving's JSON tensor code refuses them).
REST_UNSUPPORTED_DTYPES = frozenset({"float16", "bfloat16", "complex64", "complex128"})

_ERROR_BODY = re.compile(r'^\s*\{\s*"error"\s*:\s*"(?P<text>(?:[^"\\]|\\.)*)"\s*\}\s*$', re.S)


@dataclass(frozen=True)
class RestResponse:
    """One HTTP exchange: status, the parsed body (None if unparsable) and the raw text."""

    status: int
    body: Any
    text: str
    seconds: float = 0.0

    @property
    def error(self) -> str | None:
        """The ``error`` text of an error body, or None."""
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), str):
            return str(self.body["error"])
        return None

    def describe(self) -> str:
        text = self.text.strip().replace("\n", " ")
        return f"HTTP {self.status}: {text[:300]}{'...' if len(text) > 300 else ''}"


class RestError(Exception):
    """A request the server refused or could not answer (status != 200, or unreachable)."""

    def __init__(self, response: RestResponse | None, message: str) -> None:
        self.response = response
        super().__init__(message)


def parse_body(text: str) -> Any:
    """JSON as TF Serving writes it: NaN/Infinity allowed, C-escaped error bodies read."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    match = _ERROR_BODY.match(text)
    if match is not None:
        raw = codecs.escape_decode(match.group("text").encode("latin-1", "backslashreplace"))[0]
        return {"error": raw.decode("utf-8", "replace")}
    return None


# ------------------------------------------------------------------ tensors to JSON


def _json_scalar(value: Any, dtype: str) -> Any:
    if dtype == "string":
        raw = value if isinstance(value, bytes) else str(value).encode("utf-8")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(raw).decode("ascii")}
        if any(ord(c) < 0x20 for c in text):
            return {"b64": base64.b64encode(raw).decode("ascii")}
        return text
    if dtype == "bool":
        return bool(value)
    if dtype.startswith(("int", "uint")):
        return int(value)
    return float(value)


def tensor_to_json(array: np.ndarray, dtype: str) -> Any:
    """A numpy array as a nested JSON list (or scalar) of ``dtype`` values, sent exactly."""
    if isinstance(array, (bytes, str)):  # an element of an object array: keep every byte
        return _json_scalar(array, dtype)
    arr = np.asarray(array)
    if arr.ndim == 0:
        return _json_scalar(arr[()] if arr.dtype == object else arr.item(), dtype)
    return [tensor_to_json(arr[i], dtype) for i in range(arr.shape[0])]


def dumps(document: Any) -> bytes:
    """JSON with bare NaN/Infinity (TF Serving accepts them; strict JSON does not)."""
    return json.dumps(document, allow_nan=True, separators=(",", ":")).encode("utf-8")


def row_request(inputs: Mapping[str, np.ndarray], dtypes: Mapping[str, str],
                signature: str | None) -> dict[str, Any]:
    """``{"instances": [...]}``: one input as bare rows, several as one object per row."""
    names = list(inputs)
    sizes = {np.shape(inputs[n])[0] if np.ndim(inputs[n]) else None for n in names}
    if len(sizes) != 1 or None in sizes:
        raise ValueError("row format needs every input to share a leading batch dimension")
    size = int(next(iter(sizes)))  # type: ignore[arg-type]
    if len(names) == 1:
        name = names[0]
        instances: list[Any] = [tensor_to_json(np.asarray(inputs[name])[i], dtypes[name])
                                for i in range(size)]
    else:
        instances = [{n: tensor_to_json(np.asarray(inputs[n])[i], dtypes[n]) for n in names}
                     for i in range(size)]
    document: dict[str, Any] = {"instances": instances}
    if signature:
        document = {"signature_name": signature, **document}
    return document


def columnar_request(inputs: Mapping[str, np.ndarray], dtypes: Mapping[str, str],
                     signature: str | None) -> dict[str, Any]:
    """``{"inputs": {name: tensor}}`` (always the named form, so names are checked too)."""
    document: dict[str, Any] = {"inputs": {n: tensor_to_json(np.asarray(v), dtypes[n])
                                           for n, v in inputs.items()}}
    if signature:
        document = {"signature_name": signature, **document}
    return document


# ------------------------------------------------------------------ JSON to tensors

_NUMPY = {"float32": np.float32, "float64": np.float64, "int8": np.int8, "int16": np.int16,
          "int32": np.int32, "int64": np.int64, "uint8": np.uint8, "uint16": np.uint16,
          "uint32": np.uint32, "uint64": np.uint64, "bool": np.bool_}


def _decode_strings(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode_strings(v) for v in value]
    if isinstance(value, dict) and set(value) == {"b64"}:
        return base64.b64decode(value["b64"])
    if isinstance(value, str):
        return value.encode("utf-8")
    return value


def json_to_tensor(value: Any, dtype: str) -> np.ndarray:
    """A JSON tensor as numpy, typed by the dtype the server declares for the output.

    JSON carries no dtype: the metadata's dtype is applied (so a REST answer's dtype is the
    declared one; gRPC answers carry their own dtype).
    """
    if dtype == "string":
        decoded = _decode_strings(value)
        flat = np.array(decoded, dtype=object)
        return flat
    target = _NUMPY.get(dtype)
    if target is None:
        raise ValueError(f"dtype {dtype} cannot be read from REST JSON")
    if dtype.startswith(("int", "uint")):
        # Keep integers exact (np.array of Python ints > 2^63 would fail loudly, as it should).
        return np.array(value, dtype=target)
    return np.array(_floats(value), dtype=np.float64).astype(target)


def _floats(value: Any) -> Any:
    if isinstance(value, list):
        return [_floats(v) for v in value]
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if value in ("NaN", "nan"):
        return math.nan
    return value


def row_response(body: Any, dtypes: Mapping[str, str]) -> dict[str, np.ndarray]:
    """``{"predictions": [...]}`` -> outputs by name (dtypes: the server's output dtypes)."""
    rows = body["predictions"]
    if not isinstance(rows, list):
        raise ValueError(f'"predictions" is not a list: {str(rows)[:100]}')
    names = list(dtypes)
    if rows and all(isinstance(r, dict) and not set(r) == {"b64"} for r in rows) and len(names) > 1:
        return {n: json_to_tensor([r[n] for r in rows], dtypes[n]) for n in names
                if all(n in r for r in rows)}
    if len(names) != 1:
        raise ValueError(f"row answer without names but the signature has outputs {names}")
    return {names[0]: json_to_tensor(rows, dtypes[names[0]])}


def columnar_response(body: Any, dtypes: Mapping[str, str]) -> dict[str, np.ndarray]:
    """``{"outputs": value | {name: tensor}}`` -> outputs by name."""
    value = body["outputs"]
    names = list(dtypes)
    if len(names) == 1 and not (isinstance(value, dict) and names[0] in value
                                and set(value) != {"b64"}):
        return {names[0]: json_to_tensor(value, dtypes[names[0]])}
    if not isinstance(value, dict):
        raise ValueError(f"columnar answer without names but the signature has outputs {names}")
    return {n: json_to_tensor(v, dtypes.get(n, "float32")) for n, v in value.items()}


def example_to_json(serialized: bytes) -> dict[str, Any]:
    """A serialized tf.train.Example as TF Serving's JSON example object.

    Floats keep a decimal point (a JSON integer would become an int64 feature); bytes go
    as ``{"b64": ...}``.
    """
    from harness.tf_example import decode_features

    out: dict[str, Any] = {}
    for name, (kind, values) in decode_features(serialized).items():
        if kind == "float32":
            out[name] = [float(v) for v in values]
        elif kind == "int64":
            out[name] = [int(v) for v in values]
        else:
            out[name] = [{"b64": base64.b64encode(v if isinstance(v, bytes) else b"").decode("ascii")}
                         for v in values]
    return out


# ------------------------------------------------------------------ the client


class RestClient:
    """Requests against one model on one server (``http://HOST:PORT``)."""

    def __init__(self, base_url: str, model: str, *, timeout: float = 60.0) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "") or not parsed.hostname:
            raise ValueError(f"serving URL must look like http://HOST:PORT, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.host = parsed.hostname
        self.port = parsed.port or 80
        self.model = model
        self.timeout = timeout
        self._local = threading.local()

    def path(self, version: int | None = None, label: str | None = None) -> str:
        path = f"/v1/models/{urllib.parse.quote(self.model, safe='')}"
        if version is not None:
            path += f"/versions/{version}"
        elif label is not None:
            path += f"/labels/{urllib.parse.quote(label, safe='')}"
        return path

    # -------------------------------------------------------------- transport
    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def request(self, method: str, path: str, body: bytes | None = None) -> RestResponse:
        import time

        headers = {"Content-Type": "application/json"} if body is not None else {}
        for attempt in (0, 1):
            conn = self._connection()
            start = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                reply = conn.getresponse()
                raw = reply.read()
            except (http.client.HTTPException, ConnectionError, OSError) as exc:
                conn.close()
                self._local.conn = None
                if attempt == 1:
                    raise RestError(None, f"{method} {self.base_url}{path}: {type(exc).__name__}: "
                                          f"{exc}") from None
                continue
            text = raw.decode("utf-8", "replace")
            return RestResponse(reply.status, parse_body(text), text, time.perf_counter() - start)
        raise AssertionError("unreachable")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def get(self, path: str) -> RestResponse:
        return self.request("GET", path)

    def post(self, path: str, document: Any) -> RestResponse:
        body = document if isinstance(document, bytes) else dumps(document)
        return self.request("POST", path, body)

    # -------------------------------------------------------------- API
    def status(self, version: int | None = None, label: str | None = None) -> RestResponse:
        return self.get(self.path(version, label))

    def metadata(self, version: int | None = None, label: str | None = None) -> RestResponse:
        return self.get(self.path(version, label) + "/metadata")

    def predict(self, document: Any, *, version: int | None = None,
                label: str | None = None) -> RestResponse:
        return self.post(self.path(version, label) + ":predict", document)

    def classify(self, document: Any, *, version: int | None = None,
                 label: str | None = None) -> RestResponse:
        return self.post(self.path(version, label) + ":classify", document)

    def regress(self, document: Any, *, version: int | None = None,
                label: str | None = None) -> RestResponse:
        return self.post(self.path(version, label) + ":regress", document)

    def predict_arrays(self, inputs: Mapping[str, np.ndarray], *, input_dtypes: Mapping[str, str],
                       output_dtypes: Mapping[str, str], signature: str, row: bool,
                       version: int | None = None, label: str | None = None
                       ) -> dict[str, np.ndarray]:
        """Predict and decode; :class:`RestError` when the server refuses."""
        make = row_request if row else columnar_request
        response = self.predict(make(inputs, input_dtypes, signature), version=version, label=label)
        if response.status != 200 or not isinstance(response.body, dict):
            raise RestError(response, response.error or response.describe())
        reader = row_response if row else columnar_response
        try:
            return reader(response.body, output_dtypes)
        except (KeyError, ValueError, TypeError) as exc:
            raise RestError(response, f"unreadable predict answer ({exc}): "
                                      f"{response.describe()}") from None


def examples_request(examples: Sequence[bytes], signature: str | None) -> dict[str, Any]:
    document: dict[str, Any] = {"examples": [example_to_json(e) for e in examples]}
    if signature:
        document = {"signature_name": signature, **document}
    return document
