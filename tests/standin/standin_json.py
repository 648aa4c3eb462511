"""JSON side of the TF Serving stand-in (test fixture, not TensorFlow Serving).

A Python re-creation of tensorflow_serving/util/json_tensor.cc: request parsing
(row `instances`, columnar `inputs`, classify/regress `examples`/`context`), the
rapidjson PrettyWriter layout of responses, number formatting (WriteDecimal) and the
error messages. No TensorFlow import here: dtypes are DataType enum numbers.
"""

from __future__ import annotations

import base64
import binascii
import decimal
import json
import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from standin_status import ServingError, invalid_argument

# DataType enum numbers (tensorflow/core/framework/types.proto).
DT_FLOAT, DT_DOUBLE, DT_INT32, DT_UINT8, DT_INT16, DT_INT8, DT_STRING = 1, 2, 3, 4, 5, 6, 7
DT_INT64, DT_BOOL, DT_UINT32, DT_UINT64 = 9, 10, 22, 23

_DTYPE_NAMES = {
    1: "float", 2: "double", 3: "int32", 4: "uint8", 5: "int16", 6: "int8", 7: "string",
    8: "complex64", 9: "int64", 10: "bool", 11: "qint8", 12: "quint8", 13: "qint32",
    14: "bfloat16", 15: "qint16", 16: "quint16", 17: "uint16", 18: "complex128", 19: "half",
    20: "resource", 21: "variant", 22: "uint32", 23: "uint64",
}

NUMPY_DTYPE_BY_ENUM: dict[int, Any] = {
    DT_FLOAT: np.float32, DT_DOUBLE: np.float64, DT_INT32: np.int32, DT_UINT8: np.uint8,
    DT_INT16: np.int16, DT_INT8: np.int8, DT_STRING: object, DT_INT64: np.int64,
    DT_BOOL: np.bool_, DT_UINT32: np.uint32, DT_UINT64: np.uint64,
}

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)


def dtype_string(dtype: int) -> str:
    """tensorflow::DataTypeString."""
    if dtype > 100:
        return _DTYPE_NAMES.get(dtype - 100, "unknown") + "_ref"
    return _DTYPE_NAMES.get(dtype, "unknown")


# --------------------------------------------------------------------------------------
# Number formatting
# --------------------------------------------------------------------------------------


def format_decimal(value: float, float32: bool) -> str:
    """WriteDecimal: absl::StrCat (printf %g, 6 digits) if it round-trips, else %.9g
    (float) / %.17g (double); '.0' appended to whole numbers; NaN/Infinity bare."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "-Infinity" if value < 0 else "Infinity"
    text = "%g" % value
    parsed = float(text)
    if float32:
        roundtrips = np.float32(parsed) == np.float32(value)
    else:
        roundtrips = parsed == value
    if not roundtrips:
        text = ("%.9g" if float32 else "%.17g") % value
    if "." not in text and "e" not in text:
        text += ".0"
    return text


def _rapidjson_double(value: float) -> str:
    """rapidjson Writer::Double (Grisu shortest digits + Prettify)."""
    if value == 0.0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign = "-" if value < 0 else ""
    digits_tuple = decimal.Decimal(repr(abs(value))).as_tuple()
    digits = "".join(str(d) for d in digits_tuple.digits)
    exponent = int(digits_tuple.exponent)
    stripped = digits.rstrip("0")
    exponent += len(digits) - len(stripped)
    digits = stripped.lstrip("0") or "0"
    length, k = len(digits), exponent
    kk = length + k

    def write_exponent(e: int) -> str:
        return "e" + ("-" if e < 0 else "") + str(abs(e))

    if 0 <= k and kk <= 21:
        text = digits + "0" * k + ".0"
    elif 0 < kk <= 21:
        text = digits[:kk] + "." + digits[kk:]
    elif -6 < kk <= 0:
        text = "0." + "0" * (-kk) + digits
    elif length == 1:
        text = digits + write_exponent(kk - 1)
    else:
        text = digits[0] + "." + digits[1:] + write_exponent(kk - 1)
    return sign + text


# --------------------------------------------------------------------------------------
# rapidjson PrettyWriter
# --------------------------------------------------------------------------------------


def _escape_json_string(raw: bytes) -> str:
    out = ['"']
    for byte in raw:
        if byte == 0x22:
            out.append('\\"')
        elif byte == 0x5C:
            out.append("\\\\")
        elif byte < 0x20:
            named = {0x08: "\\b", 0x0C: "\\f", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}
            out.append(named.get(byte, "\\u%04X" % byte))
        else:
            out.append(bytes([byte]).decode("latin-1"))
    out.append('"')
    return "".join(out)


class PrettyWriter:
    """rapidjson::PrettyWriter (4-space indent) including kFormatSingleLineArray.

    Text is kept as latin-1 code points so arbitrary bytes pass through unchanged."""

    def __init__(self) -> None:
        self._out: list[str] = []
        self._levels: list[list[Any]] = []  # [in_array, value_count]
        self.single_line_arrays = False

    def _indent(self) -> None:
        self._out.append(" " * (4 * len(self._levels)))

    def _prefix(self) -> None:
        if not self._levels:
            return
        level = self._levels[-1]
        if level[0]:
            if level[1] > 0:
                self._out.append(",")
                if self.single_line_arrays:
                    self._out.append(" ")
            if not self.single_line_arrays:
                self._out.append("\n")
                self._indent()
        else:
            if level[1] > 0:
                self._out.append(",\n" if level[1] % 2 == 0 else ": ")
            else:
                self._out.append("\n")
            if level[1] % 2 == 0:
                self._indent()
        level[1] += 1

    def raw(self, text: str) -> None:
        self._prefix()
        self._out.append(text)

    def string(self, raw: bytes) -> None:
        self.raw(_escape_json_string(raw))

    def key(self, name: str) -> None:
        self.string(name.encode("utf-8"))

    def start_object(self) -> None:
        self._prefix()
        self._out.append("{")
        self._levels.append([False, 0])

    def end_object(self) -> None:
        empty = self._levels.pop()[1] == 0
        if not empty:
            self._out.append("\n")
            self._indent()
        self._out.append("}")

    def start_array(self) -> None:
        self._prefix()
        self._out.append("[")
        self._levels.append([True, 0])

    def end_array(self) -> None:
        empty = self._levels.pop()[1] == 0
        if not empty and not self.single_line_arrays:
            self._out.append("\n")
            self._indent()
        self._out.append("]")

    def getvalue(self) -> bytes:
        return "".join(self._out).encode("latin-1")


def _write_json_value(writer: PrettyWriter, value: Any) -> None:
    if value is None:
        writer.raw("null")
    elif value is True:
        writer.raw("true")
    elif value is False:
        writer.raw("false")
    elif isinstance(value, int) and _INT64[0] <= value <= 2**64 - 1:
        writer.raw(str(value))
    elif isinstance(value, (int, float)):
        number = float(value)
        writer.raw(_rapidjson_double(number) if math.isfinite(number) else "")
    elif isinstance(value, str):
        writer.string(value.encode("utf-8", "surrogatepass"))
    elif isinstance(value, list):
        writer.start_array()
        for item in value:
            _write_json_value(writer, item)
        writer.end_array()
    else:
        writer.start_object()
        for name, item in value.items():
            writer.key(name)
            _write_json_value(writer, item)
        writer.end_object()


def json_value_to_string(value: Any) -> str:
    """JsonValueToString: pretty-printed, top-level decimals through WriteDecimal."""
    if isinstance(value, float):
        fits_float = -3.4028234663852886e38 <= value <= 3.4028234663852886e38
        return format_decimal(float(np.float32(value)) if fits_float else value, fits_float)
    writer = PrettyWriter()
    _write_json_value(writer, value)
    return writer.getvalue().decode("utf-8", "replace")


def json_type_string(value: Any) -> str:
    if value is None:
        return "Null"
    if value is True:
        return "True"
    if value is False:
        return "False"
    if isinstance(value, dict):
        return "Object"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, str):
        return "String"
    return "Number"


# --------------------------------------------------------------------------------------
# Request parsing
# --------------------------------------------------------------------------------------

_PY_TO_RAPIDJSON_ERRORS = [
    ("Expecting value", "Invalid value."),
    ("Expecting property name enclosed in double quotes", "Missing a name for object member."),
    ("Expecting ':' delimiter", "Missing a colon after a name of object member."),
    ("Extra data", "The document root must not be followed by other values."),
    ("Unterminated string", "Missing a closing quotation mark in string."),
    ("Invalid \\uXXXX escape", "Incorrect hex digit after \\u escape in string."),
    ("Invalid \\escape", "Invalid escape character in string."),
    ("Invalid control character", "Invalid encoding in string."),
]


def _innermost_container(text: str, pos: int) -> str:
    stack: list[str] = []
    in_string = escaped = False
    for char in text[:pos]:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            stack.append(char)
        elif char in "]}" and stack:
            stack.pop()
    return stack[-1] if stack else ""


def _first_key_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        result.setdefault(name, value)
    return result


def parse_json_object(body: bytes) -> dict[str, Any]:
    """ParseJson: rapidjson with kParseNanAndInfFlag; the top level must be an object."""
    if not body:
        raise invalid_argument("JSON Parse error: The document is empty")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise invalid_argument(
            f"JSON Parse error: Invalid encoding in string. at offset: {error.start}"
        ) from None
    if not text.strip():
        raise invalid_argument(f"JSON Parse error: The document is empty. at offset: {len(text)}")
    try:
        document = json.loads(text, object_pairs_hook=_first_key_wins)
    except json.JSONDecodeError as error:
        message = "Invalid value."
        if error.msg.startswith("Expecting ',' delimiter"):
            if _innermost_container(text, error.pos) == "{":
                message = "Missing a comma or '}' after an object member."
            else:
                message = "Missing a comma or ']' after an array element."
        else:
            for prefix, mapped in _PY_TO_RAPIDJSON_ERRORS:
                if error.msg.startswith(prefix):
                    message = mapped
                    break
        raise invalid_argument(f"JSON Parse error: {message} at offset: {error.pos}") from None
    except RecursionError:
        raise invalid_argument("JSON Parse error: Terminate parsing due to Handler error.") from None
    if not isinstance(document, dict):
        raise invalid_argument(f"JSON Value: {json_value_to_string(document)} Is not object")
    return document


def signature_name_of(document: dict[str, Any]) -> str:
    """FillSignature."""
    if "signature_name" not in document:
        return ""
    name = document["signature_name"]
    if not isinstance(name, str):
        raise invalid_argument(
            f"JSON Value: {json_value_to_string(document)} not formatted correctly. "
            "'signature_name' key must be a string value."
        )
    return name


def _is_b64_object(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("b64"), str)


def _decode_b64_object(value: Any) -> bytes:
    if not _is_b64_object(value):
        raise invalid_argument(
            f"JSON Value: {json_value_to_string(value)} not formatted correctly for base64 data"
        )
    encoded = value["b64"]
    try:
        padded = encoded + "=" * (-len(encoded) % 4)
        return base64.b64decode(padded.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise invalid_argument("Unable to base64 decode") from None


def _type_error(value: Any, dtype: int) -> ServingError:
    return invalid_argument(
        f"JSON Value: {json_value_to_string(value)} Type: {json_type_string(value)} "
        f"is not of expected type: {dtype_string(dtype)}"
    )


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _scalar_to_tensor_value(value: Any, dtype: int) -> Any:
    """AddValueToTensor (floats are not checked for precision loss: silently rounded)."""
    is_number = isinstance(value, float) or _is_integer(value)
    if dtype in (DT_FLOAT, DT_DOUBLE):
        if not is_number:
            raise _type_error(value, dtype)
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    if dtype in (DT_INT32, DT_INT16, DT_INT8, DT_UINT8):
        if not (_is_integer(value) and _INT32[0] <= value <= _INT32[1]):
            raise _type_error(value, dtype)
        return value
    if dtype == DT_STRING:
        if not isinstance(value, str):
            raise _type_error(value, dtype)
        return value.encode("utf-8", "surrogatepass")
    if dtype == DT_INT64:
        if not (_is_integer(value) and _INT64[0] <= value <= _INT64[1]):
            raise _type_error(value, dtype)
        return value
    if dtype == DT_BOOL:
        if not isinstance(value, bool):
            raise _type_error(value, dtype)
        return value
    if dtype == DT_UINT32:
        if not (_is_integer(value) and 0 <= value <= 2**32 - 1):
            raise _type_error(value, dtype)
        return value
    if dtype == DT_UINT64:
        if not (_is_integer(value) and 0 <= value <= 2**64 - 1):
            raise _type_error(value, dtype)
        return value
    raise ServingError(
        "UNIMPLEMENTED",
        f"Conversion of JSON Value: {json_value_to_string(value)} to type: {dtype_string(dtype)}",
    )


def _dense_shape(value: Any) -> list[int]:
    """GetDenseTensorShape: follows the first element of each nested list."""
    shape: list[int] = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape


def _fill_values(value: Any, level: int, shape: list[int], dtype: int, out: list[Any]) -> None:
    """FillTensorProto."""
    rank = len(shape)
    if not isinstance(value, list):
        if level != rank:
            raise invalid_argument(
                f"JSON Value: {json_value_to_string(value)} found at incorrect level: "
                f"{level + 1} in the JSON DOM. Expected at level: {rank}"
            )
        if isinstance(value, dict):
            if dtype != DT_STRING:
                raise _type_error(value, dtype)
            out.append(_decode_b64_object(value))
        else:
            out.append(_scalar_to_tensor_value(value, dtype))
        return
    if level >= rank:
        raise invalid_argument(f"Encountered list at unexpected level: {level} expected < {rank}")
    if len(value) != shape[level]:
        raise invalid_argument(
            f"Encountered list at unexpected size: {len(value)} at level: {level} "
            f"expected size: {shape[level]}"
        )
    for item in value:
        _fill_values(item, level + 1, shape, dtype, out)


def _to_array(values: list[Any], shape: list[int], dtype: int) -> np.ndarray:
    if dtype == DT_STRING:
        array = np.empty(len(values), dtype=object)
        array[:] = values
        return array.reshape(shape)
    if dtype in (DT_INT32, DT_INT16, DT_INT8, DT_UINT8):
        return np.array(values, dtype=np.int64).astype(NUMPY_DTYPE_BY_ENUM[dtype]).reshape(shape)
    return np.array(values, dtype=NUMPY_DTYPE_BY_ENUM[dtype]).reshape(shape)


def json_to_array(value: Any, dtype: int) -> np.ndarray:
    shape = _dense_shape(value)
    values: list[Any] = []
    _fill_values(value, 0, shape, dtype, values)
    return _to_array(values, shape, dtype)


ROW, COLUMNAR = "row", "columnar"


@dataclass(frozen=True)
class PredictJsonRequest:
    signature_name: str
    request_format: str
    inputs: dict[str, np.ndarray]


def _shape_to_string(shape: list[int]) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def _inputs_from_instances(
    instances: list[Any], input_dtypes: dict[str, int]
) -> dict[str, np.ndarray]:
    """FillTensorMapFromInstancesList."""
    if not isinstance(instances[0], dict) and len(input_dtypes) > 1:
        raise invalid_argument(
            "instances is a plain list, but expecting list of objects as multiple input "
            "tensors required as per tensorinfo_map"
        )

    def is_element_object(value: Any) -> bool:
        return isinstance(value, dict) and not _is_b64_object(value)

    elements_are_objects = is_element_object(instances[0])
    input_names = sorted(input_dtypes)
    values: dict[str, list[Any]] = {}
    shapes: dict[str, list[int]] = {}
    sizes: dict[str, int] = {}

    def add_item(item: Any, name: str) -> None:
        if name not in input_dtypes:
            raise invalid_argument(f"JSON object: does not have named input: {name}")
        shape = _dense_shape(item)
        collected: list[Any] = []
        _fill_values(item, 0, shape, input_dtypes[name], collected)
        if name not in sizes:
            sizes[name] = len(collected)
            shapes[name] = shape
            values[name] = []
        elif sizes[name] != len(collected):
            raise invalid_argument(f"Expecting tensor size: {sizes[name]} but got: {len(collected)}")
        elif shapes[name] != shape:
            raise invalid_argument(
                f"Expecting shape {_shape_to_string(shapes[name])} but got: {_shape_to_string(shape)}"
            )
        values[name].extend(collected)

    for index, element in enumerate(instances):
        if elements_are_objects:
            if not is_element_object(element):
                raise invalid_argument(f"Expecting object but got list at item {index} of input list")
            for name, item in element.items():
                try:
                    add_item(item, name)
                except ServingError as error:
                    raise invalid_argument(
                        f"Failed to process element: {index} key: {name} of 'instances' list. "
                        f"Error: {error.to_string()}"
                    ) from None
            if sorted(element) != input_names:
                raise invalid_argument(
                    f"Failed to process element: {index} of 'instances' list. JSON object: "
                    f"{json_value_to_string(element)} must only have keys: {','.join(input_names)}"
                )
        else:
            if is_element_object(element):
                raise invalid_argument(
                    f"Expecting value/list but got object at item {index} of input list"
                )
            try:
                add_item(element, input_names[0])
            except ServingError as error:
                raise invalid_argument(
                    f"Failed to process element: {index} of 'instances' list. "
                    f"Error: {error.to_string()}"
                ) from None
    return {
        name: _to_array(values[name], [len(instances), *shapes[name]], input_dtypes[name])
        for name in values
    }


def _inputs_from_columnar(value: Any, input_dtypes: dict[str, int]) -> dict[str, np.ndarray]:
    """FillTensorMapFromInputsMap (extra keys in an `inputs` object are ignored)."""
    if not isinstance(value, dict) or _is_b64_object(value):
        if len(input_dtypes) > 1:
            raise invalid_argument(
                "inputs is a plain value/list, but expecting an object as multiple input "
                "tensors required as per tensorinfo_map"
            )
        name = next(iter(sorted(input_dtypes)))
        return {name: json_to_array(value, input_dtypes[name])}
    arrays: dict[str, np.ndarray] = {}
    for name in sorted(input_dtypes):
        if name not in value:
            raise invalid_argument(f"Missing named input: {name} in 'inputs' object.")
        arrays[name] = json_to_array(value[name], input_dtypes[name])
    return arrays


def parse_predict_request(
    body: bytes, input_dtypes_for: Callable[[str], dict[str, int]]
) -> PredictJsonRequest:
    """FillPredictRequestFromJson. `input_dtypes_for(signature_name)` resolves the model
    and signature (raising its own errors) and returns {input alias: DataType}."""
    document = parse_json_object(body)
    signature_name = signature_name_of(document)
    input_dtypes = input_dtypes_for(signature_name)
    if not input_dtypes:
        raise invalid_argument(
            f"Failed to get input map for signature: {signature_name or 'DEFAULT'}"
        )
    has_instances = "instances" in document
    has_inputs = "inputs" in document
    if has_instances and has_inputs:
        raise invalid_argument(
            f"JSON Value: {json_value_to_string(document)} Not formatted correctly expecting only"
            " one of 'inputs' or 'instances' keys to exist "
        )
    if has_instances:
        instances = document["instances"]
        if not isinstance(instances, list):
            raise invalid_argument(
                f"JSON Value: {json_value_to_string(document)} Excepting 'instances' to be an "
                "list/array"
            )
        if not instances:
            raise invalid_argument(
                f"JSON Value: {json_value_to_string(document)} No values in 'instances' array"
            )
        return PredictJsonRequest(signature_name, ROW, _inputs_from_instances(instances, input_dtypes))
    if has_inputs:
        return PredictJsonRequest(
            signature_name, COLUMNAR, _inputs_from_columnar(document["inputs"], input_dtypes)
        )
    raise invalid_argument("Missing 'inputs' or 'instances' key")


# --------------------------------------------------------------------------------------
# Classify / regress requests
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExamplesJsonRequest:
    signature_name: str
    context: dict[str, tuple[str, list[Any]]] | None
    examples: list[dict[str, tuple[str, list[Any]]]]


def _incompatible_kind(feature_name: str, kind: str) -> ServingError:
    kind_name = {"bytes": "bytes", "float": "float", "int64": "int64"}.get(kind, "UNKNOWN")
    return invalid_argument(
        f"Unexpected element type in feature: {feature_name} expecting type: {kind_name}"
    )


def _add_feature_value(value: Any, feature_name: str, feature: list[Any]) -> None:
    """AddValueToFeature; feature = [kind or None, values]."""

    def require(kind: str) -> None:
        if feature[0] not in (None, kind):
            raise _incompatible_kind(feature_name, feature[0])
        feature[0] = kind

    unexpected = invalid_argument(
        f"Feature: {feature_name} has element with unexpected JSON type: {json_type_string(value)}"
    )
    if value is None or isinstance(value, list):
        raise unexpected
    if isinstance(value, bool):
        require("int64")
        feature[1].append(1 if value else 0)
    elif isinstance(value, dict):
        if not _is_b64_object(value):
            raise unexpected
        require("bytes")
        feature[1].append(_decode_b64_object(value))
    elif isinstance(value, str):
        require("bytes")
        feature[1].append(value.encode("utf-8", "surrogatepass"))
    elif isinstance(value, float) or not _INT64[0] <= value <= 2**64 - 1:
        require("float")
        feature[1].append(float(value))
    else:
        require("int64")
        if value > _INT64[1]:
            raise invalid_argument(
                f"Feature: {feature_name} has uint64 element. Only int64 is supported."
            )
        feature[1].append(value)


def _example_from_json(value: Any) -> dict[str, tuple[str, list[Any]]]:
    """MakeExampleFromJsonObject -> {feature name: (kind, values)}."""
    if not isinstance(value, dict):
        raise invalid_argument(f"Example must be JSON object but got JSON {json_type_string(value)}")
    features: dict[str, tuple[str, list[Any]]] = {}
    for name, content in value.items():
        feature: list[Any] = [None, []]
        for item in content if isinstance(content, list) else [content]:
            _add_feature_value(item, name, feature)
        features[name] = (feature[0] or "", feature[1])
    return features


def parse_examples_request(body: bytes) -> ExamplesJsonRequest:
    """FillClassifyRegressRequestFromJson."""
    document = parse_json_object(body)
    signature_name = signature_name_of(document)
    context = _example_from_json(document["context"]) if "context" in document else None
    if "examples" not in document:
        raise invalid_argument(
            f"JSON Value: {json_value_to_string(document)} When method is classify, key "
            "'examples' is expected and was not found"
        )
    examples = document["examples"]
    if not isinstance(examples, list):
        raise invalid_argument(
            f"JSON Value: {json_value_to_string(document)} Expecting 'examples' value to be an "
            "list/array"
        )
    if not examples:
        raise invalid_argument(
            f"JSON Value: {json_value_to_string(document)} 'examples' value is an empty array"
        )
    return ExamplesJsonRequest(signature_name, context, [_example_from_json(e) for e in examples])


# --------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------


def _write_scalar(writer: PrettyWriter, value: Any, dtype: int, string_as_bytes: bool) -> None:
    if dtype == DT_FLOAT:
        writer.raw(format_decimal(float(value), True))
    elif dtype == DT_DOUBLE:
        writer.raw(format_decimal(float(value), False))
    elif dtype in (DT_INT32, DT_INT16, DT_INT8, DT_UINT8, DT_INT64, DT_UINT32, DT_UINT64):
        writer.raw(str(int(value)))
    elif dtype == DT_BOOL:
        writer.raw("true" if bool(value) else "false")
    elif dtype == DT_STRING:
        raw = value if isinstance(value, bytes) else str(value).encode("utf-8")
        if string_as_bytes:
            writer.start_object()
            writer.key("b64")
            writer.string(base64.b64encode(raw))
            writer.end_object()
        else:
            writer.string(raw)
    else:
        raise invalid_argument(f"Failed to write JSON value for tensor type: {dtype_string(dtype)}")


def _write_tensor(
    writer: PrettyWriter, array: np.ndarray, dtype: int, string_as_bytes: bool, dim: int,
    index: tuple[int, ...],
) -> None:
    """AddTensorValues."""
    if dim > array.ndim - 1:
        _write_scalar(writer, array[index], dtype, string_as_bytes)
        return
    writer.start_array()
    for i in range(array.shape[dim]):
        _write_tensor(writer, array, dtype, string_as_bytes, dim + 1, (*index, i))
    writer.end_array()


def _is_bytes_output(name: str, dtype: int) -> bool:
    return dtype == DT_STRING and name.endswith("_bytes")


def make_predict_json(outputs: dict[str, tuple[np.ndarray, int]], request_format: str) -> bytes:
    """MakeJsonFromTensors; outputs = {alias: (array, DataType)}."""
    if not outputs:
        raise invalid_argument("Cannot convert empty tensor map to JSON")
    names = sorted(outputs)
    writer = PrettyWriter()
    writer.start_object()
    if request_format == ROW:
        batch_size = 0
        for name in names:
            array = outputs[name][0]
            if array.ndim == 0:
                raise invalid_argument(f"Tensor name: {name} has no shape information ")
            current = array.shape[0]
            if current < 1:
                raise invalid_argument(f"Tensor name: {name} has invalid batch size: {current}")
            if batch_size != 0 and batch_size != current:
                raise invalid_argument(
                    f"Tensor name: {name} has inconsistent batch size: {current} expecting: {batch_size}"
                )
            batch_size = current
        writer.key("predictions")
        writer.start_array()
        as_objects = len(names) > 1
        for item in range(batch_size):
            if as_objects:
                writer.start_object()
            writer.single_line_arrays = True
            for name in names:
                array, dtype = outputs[name]
                if as_objects:
                    writer.key(name)
                _write_tensor(writer, array, dtype, _is_bytes_output(name, dtype), 1, (item,))
            writer.single_line_arrays = False
            if as_objects:
                writer.end_object()
        writer.end_array()
    else:
        writer.key("outputs")
        as_objects = len(names) > 1
        if as_objects:
            writer.start_object()
        for name in names:
            array, dtype = outputs[name]
            if as_objects:
                writer.key(name)
            _write_tensor(writer, array, dtype, _is_bytes_output(name, dtype), 0, ())
        if as_objects:
            writer.end_object()
    writer.end_object()
    return writer.getvalue()


def make_classify_json(classifications: list[list[tuple[bytes, float]]]) -> bytes:
    """MakeJsonFromClassificationResult."""
    if not classifications:
        raise invalid_argument("Cannot convert empty ClassificationResults to JSON")
    writer = PrettyWriter()
    writer.start_object()
    writer.key("results")
    writer.start_array()
    for classes in classifications:
        writer.single_line_arrays = True
        writer.start_array()
        for label, score in classes:
            writer.start_array()
            writer.string(label)
            writer.raw(format_decimal(score, True))
            writer.end_array()
        writer.end_array()
        writer.single_line_arrays = False
    writer.end_array()
    writer.end_object()
    return writer.getvalue()


def make_regress_json(values: list[float]) -> bytes:
    """MakeJsonFromRegressionResult."""
    if not values:
        raise invalid_argument("Cannot convert empty RegressionResults to JSON")
    writer = PrettyWriter()
    writer.start_object()
    writer.key("results")
    writer.single_line_arrays = True
    writer.start_array()
    for value in values:
        writer.raw(format_decimal(value, True))
    writer.end_array()
    writer.end_object()
    return writer.getvalue()

