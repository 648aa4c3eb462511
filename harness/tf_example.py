"""``tf.train.Example`` in protobuf wire format, written by hand (no TensorFlow, no protobuf).

The messages (tensorflow/core/example/{example,feature}.proto)::

    Example   { Features features = 1; }
    Features  { map<string, Feature> feature = 1; }      # map entry: key = 1, value = 2
    Feature   { oneof kind { BytesList bytes_list = 1; FloatList float_list = 2;
                             Int64List int64_list = 3; } }
    BytesList { repeated bytes value = 1; }
    FloatList { repeated float value = 1 [packed = true]; }
    Int64List { repeated int64 value = 1 [packed = true]; }

:func:`encode_example` writes features in sorted name order (so equal inputs give equal
bytes) with packed float and int64 lists, as protobuf itself does. :func:`decode_example`
reads packed and unpacked lists and skips unknown fields, so it also reads what
TensorFlow serialises.

Feature kinds are named as in a contract (``float32``, ``int64``, ``string``) or as in the
proto (``float_list``, ``int64_list``, ``bytes_list``).
"""

from __future__ import annotations

import struct
from typing import Mapping, Sequence, Union

FeatureValues = Union[Sequence[float], Sequence[int], Sequence[bytes]]

#: Feature kind -> field number in ``Feature``'s oneof.
KIND_FIELDS: Mapping[str, int] = {
    "string": 1, "bytes_list": 1,
    "float32": 2, "float_list": 2,
    "int64": 3, "int64_list": 3,
}
#: Field number -> the contract's name for the kind.
FIELD_KINDS: Mapping[int, str] = {1: "string", 2: "float32", 3: "int64"}

_VARINT, _FIXED64, _LEN, _FIXED32 = 0, 1, 2, 5
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def encode_example(features: Mapping[str, FeatureValues], kinds: Mapping[str, str]) -> bytes:
    """The serialized ``tf.train.Example`` holding ``features`` (name -> values).

    ``kinds[name]`` says which list each feature is. Raises :class:`ValueError` for an
    unknown kind, a missing kind, an int64 out of range or a value of the wrong type.
    """
    entries = bytearray()
    for name in sorted(features):
        if name not in kinds:
            raise ValueError(f"feature {name!r} has no kind; expected one of {sorted(KIND_FIELDS)}")
        kind = kinds[name]
        if kind not in KIND_FIELDS:
            raise ValueError(f"feature {name!r}: unknown kind {kind!r}; expected one of {sorted(KIND_FIELDS)}")
        field = KIND_FIELDS[kind]
        feature = _len_field(field, _encode_list(field, name, features[name]))
        entry = _len_field(1, name.encode("utf-8")) + _len_field(2, feature)
        entries += _len_field(1, entry)
    return _len_field(1, bytes(entries)) if features else b""


def decode_example(data: bytes) -> dict[str, list[float] | list[int] | list[bytes]]:
    """Feature name -> values of a serialized ``tf.train.Example`` (see :func:`decode_features`)."""
    return {name: values for name, (_, values) in decode_features(data).items()}


def decode_features(data: bytes) -> dict[str, tuple[str, list[float] | list[int] | list[bytes]]]:
    """Feature name -> (kind, values); kind is ``float32``, ``int64`` or ``string``.

    Raises :class:`ValueError` if ``data`` is not a well-formed Example.
    """
    out: dict[str, tuple[str, list[float] | list[int] | list[bytes]]] = {}
    for field, _, features in _fields(data):
        if field != 1:
            continue
        for entry_field, _, entry in _fields(_as_bytes(features)):
            if entry_field != 1:
                continue
            name, kind = "", "float32"  # a map entry may omit defaults
            values: list[float] | list[int] | list[bytes] = []
            found_kind = False
            for key, _, value in _fields(_as_bytes(entry)):
                if key == 1:
                    name = _as_bytes(value).decode("utf-8")
                elif key == 2:
                    for list_field, _, payload in _fields(_as_bytes(value)):
                        if list_field in FIELD_KINDS:
                            kind, values, found_kind = (FIELD_KINDS[list_field],
                                                        _decode_list(list_field, _as_bytes(payload)),
                                                        True)
            out[name] = (kind, values) if found_kind else ("float32", [])
    return out


# --------------------------------------------------------------------------- encoding


def _encode_list(field: int, name: str, values: FeatureValues) -> bytes:
    if field == 1:
        body = bytearray()
        for value in values:
            if not isinstance(value, (bytes, bytearray)):
                raise ValueError(f"feature {name!r}: bytes_list holds bytes, found {type(value).__name__}")
            body += _len_field(1, bytes(value))
        return bytes(body)
    if not values:
        return b""
    if field == 2:
        try:
            packed = struct.pack(f"<{len(values)}f", *values)
        except (struct.error, OverflowError) as exc:
            raise ValueError(f"feature {name!r}: float_list values must be float32 numbers ({exc})") from None
        return _len_field(1, packed)
    packed_ints = bytearray()
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int):
            try:
                as_int = int(value)  # numpy integers
            except (TypeError, ValueError):
                raise ValueError(f"feature {name!r}: int64_list holds integers, "
                                 f"found {type(value).__name__}") from None
            if as_int != value:
                raise ValueError(f"feature {name!r}: int64_list holds integers, found {value!r}")
            value = as_int
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise ValueError(f"feature {name!r}: {value} does not fit in int64")
        packed_ints += _varint(value & 0xFFFFFFFFFFFFFFFF)
    return _len_field(1, bytes(packed_ints))


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _len_field(field: int, payload: bytes) -> bytes:
    return _varint((field << 3) | _LEN) + _varint(len(payload)) + payload


# --------------------------------------------------------------------------- decoding


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise ValueError("varint longer than 10 bytes")


def _fields(data: bytes) -> list[tuple[int, int, int | bytes]]:
    """(field, wire type, value) of every field; LEN values as bytes, others as int."""
    out: list[tuple[int, int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        field, wire = key >> 3, key & 7
        value: int | bytes
        if wire == _VARINT:
            value, pos = _read_varint(data, pos)
        elif wire == _LEN:
            size, pos = _read_varint(data, pos)
            if pos + size > len(data):
                raise ValueError(f"field {field}: length {size} runs past the end")
            value, pos = data[pos:pos + size], pos + size
        elif wire == _FIXED32:
            value, pos = int.from_bytes(data[pos:pos + 4], "little"), pos + 4
        elif wire == _FIXED64:
            value, pos = int.from_bytes(data[pos:pos + 8], "little"), pos + 8
        else:
            raise ValueError(f"field {field}: unsupported wire type {wire}")
        if pos > len(data):
            raise ValueError(f"field {field}: truncated")
        out.append((field, wire, value))
    return out


def _as_bytes(value: int | bytes) -> bytes:
    if not isinstance(value, bytes):
        raise ValueError("expected a length-delimited field")
    return value


def _decode_list(field: int, payload: bytes) -> list[float] | list[int] | list[bytes]:
    if field == 1:
        return [_as_bytes(v) for f, _, v in _fields(payload) if f == 1]
    floats: list[float] = []
    ints: list[int] = []
    for f, wire, value in _fields(payload):
        if f != 1:
            continue
        if field == 2:
            if wire == _LEN:
                raw = _as_bytes(value)
                if len(raw) % 4:
                    raise ValueError("packed float_list length is not a multiple of 4")
                floats.extend(struct.unpack(f"<{len(raw) // 4}f", raw))
            else:
                floats.append(struct.unpack("<f", int(value).to_bytes(4, "little"))[0])
        else:
            if wire == _LEN:
                raw, pos = _as_bytes(value), 0
                while pos < len(raw):
                    number, pos = _read_varint(raw, pos)
                    ints.append(_signed64(number))
            else:
                ints.append(_signed64(int(value)))
    return floats if field == 2 else ints


def _signed64(value: int) -> int:
    value &= 0xFFFFFFFFFFFFFFFF
    return value - (1 << 64) if value >= 1 << 63 else value
