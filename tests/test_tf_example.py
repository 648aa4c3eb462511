"""The hand-written tf.train.Example encoder, checked against TensorFlow's own parser."""

from __future__ import annotations

import math
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.contract.load import canonicalise, validate
from harness.strategies import call_strategy
from harness.tf_example import decode_example, decode_features, encode_example

FEATURES: dict[str, Any] = {
    "age": [42],
    "ids": [-1, 0, 2**63 - 1, -(2**63)],
    "pixels": [0.0, -0.0, 0.5, -1.25, 3.0e38, 1e-45],
    "tags": [b"", b"a", "caf\u00e9".encode("utf-8")],
    "empty_f": [],
    "empty_i": [],
    "\u00fcnicode name": [b"x"],
}
KINDS = {"age": "int64", "ids": "int64", "pixels": "float32", "tags": "string",
         "empty_f": "float32", "empty_i": "int64_list", "\u00fcnicode name": "bytes_list"}


def f32(values: list[float]) -> list[float]:
    return list(struct.unpack(f"<{len(values)}f", struct.pack(f"<{len(values)}f", *values)))


def test_round_trip() -> None:
    data = encode_example(FEATURES, KINDS)
    decoded = decode_features(data)
    assert set(decoded) == set(FEATURES)
    for name, values in FEATURES.items():
        kind, got = decoded[name]
        assert kind == {"int64_list": "int64", "bytes_list": "string"}.get(KINDS[name], KINDS[name])
        assert got == (f32(values) if kind == "float32" else values)
    assert decode_example(data)["ids"] == FEATURES["ids"]


def test_encoding_is_deterministic_and_sorted() -> None:
    a = encode_example({"b": [1], "a": [2.0]}, {"a": "float32", "b": "int64"})
    b = encode_example({"a": [2.0], "b": [1]}, {"b": "int64", "a": "float32"})
    assert a == b
    assert a.index(b"a") < a.index(b"b")


def test_nan_and_inf_survive() -> None:
    decoded = decode_example(encode_example({"x": [math.nan, math.inf, -math.inf]}, {"x": "float32"}))
    x = decoded["x"]
    assert math.isnan(x[0]) and x[1:] == [math.inf, -math.inf]


@pytest.mark.parametrize("features, kinds, words", [
    ({"x": [1]}, {"x": "float64"}, "unknown kind"),
    ({"x": [1]}, {}, "has no kind"),
    ({"x": [2**63]}, {"x": "int64"}, "does not fit in int64"),
    ({"x": [1.5]}, {"x": "int64"}, "holds integers"),
    ({"x": ["text"]}, {"x": "string"}, "holds bytes"),
    ({"x": [1e39]}, {"x": "float32"}, "float32 numbers"),
])
def test_bad_values_are_refused(features: dict[str, Any], kinds: dict[str, str], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        encode_example(features, kinds)


def test_truncated_data_is_refused() -> None:
    data = encode_example({"x": [1.0, 2.0]}, {"x": "float32"})
    with pytest.raises(ValueError):
        decode_features(data[:-3])


# --------------------------------------------------------------------------- against TensorFlow


@pytest.fixture(scope="module")
def tf() -> Any:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return pytest.importorskip("tensorflow")


def tf_values(feature: Any) -> tuple[str, list[Any]]:
    kind = feature.WhichOneof("kind")
    values = list(getattr(feature, kind).value) if kind else []
    return {"float_list": "float32", "int64_list": "int64", "bytes_list": "string", None: "float32"}[kind], values


def test_tensorflow_reads_what_we_write(tf: Any) -> None:
    proto = tf.train.Example.FromString(encode_example(FEATURES, KINDS))
    assert set(proto.features.feature) == set(FEATURES)
    for name, values in FEATURES.items():
        kind, got = tf_values(proto.features.feature[name])
        assert got == (f32(values) if kind == "float32" else values)
    assert proto.SerializeToString(deterministic=True) == encode_example(FEATURES, KINDS)


def test_we_read_what_tensorflow_writes(tf: Any) -> None:
    proto = tf.train.Example(features=tf.train.Features(feature={
        "f": tf.train.Feature(float_list=tf.train.FloatList(value=[1.5, -2.0])),
        "i": tf.train.Feature(int64_list=tf.train.Int64List(value=[-7, 2**40])),
        "s": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"q", b""])),
    }))
    assert decode_features(proto.SerializeToString()) == {
        "f": ("float32", [1.5, -2.0]), "i": ("int64", [-7, 2**40]), "s": ("string", [b"q", b""])}


@settings(max_examples=30, deadline=None)
@given(floats=st.lists(st.floats(width=32, allow_nan=False), max_size=5),
       ints=st.lists(st.integers(-(2**63), 2**63 - 1), max_size=5),
       strings=st.lists(st.binary(max_size=10), max_size=5))
def test_any_values_round_trip_through_tensorflow(tf: Any, floats: list[float], ints: list[int],
                                                  strings: list[bytes]) -> None:
    data = encode_example({"f": floats, "i": ints, "s": strings},
                          {"f": "float32", "i": "int64", "s": "string"})
    proto = tf.train.Example.FromString(data)
    assert tf_values(proto.features.feature["f"])[1] == floats
    assert tf_values(proto.features.feature["i"])[1] == ints
    assert tf_values(proto.features.feature["s"])[1] == strings


def test_generated_example_inputs_parse_with_tf_io(tf: Any) -> None:
    data = {"name": "t", "dims": {"batch": {"min": 1, "max": 6}}, "signatures": {"s": {
        "inputs": {"ex": {"dtype": "string", "shape": ["batch"], "example": {
            "age": {"dtype": "int64", "range": [0, 120]},
            "pixels": {"dtype": "float32", "shape": [2, 3], "range": [-1, 1]},
            "tag": {"dtype": "string"},
        }}},
        "outputs": {"y": {"dtype": "float32"}}}}}
    validate(data, Path("t.json"))
    contract = canonicalise(data, Path("t.json"))
    spec = {
        "age": tf.io.FixedLenFeature([1], tf.int64),
        "pixels": tf.io.FixedLenFeature([2, 3], tf.float32),
        "tag": tf.io.FixedLenFeature([1], tf.string),
    }

    @settings(max_examples=15, deadline=None)
    @given(call_strategy(contract, contract.signature("s")))
    def check(call: Any) -> None:
        serialized = call.inputs["ex"]
        parsed = tf.io.parse_example(tf.constant(serialized.tolist(), dtype=tf.string), spec)
        batch = len(serialized)
        assert parsed["age"].shape == (batch, 1) and parsed["pixels"].shape == (batch, 2, 3)
        ages, pixels = parsed["age"].numpy(), parsed["pixels"].numpy()
        assert ((ages >= 0) & (ages <= 120)).all()
        assert ((pixels >= -1) & (pixels <= 1)).all()
        first = decode_example(serialized[0])
        assert np.allclose(pixels[0].ravel(), first["pixels"]) and ages[0, 0] == first["age"][0]

    check()
