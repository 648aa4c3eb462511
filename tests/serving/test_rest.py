"""The REST client's encoding and its lenient reading of TF Serving's answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.serving.rest import (
    columnar_request,
    columnar_response,
    dumps,
    example_to_json,
    parse_body,
    row_request,
    row_response,
)
from harness.tf_example import encode_example


def test_error_body_with_c_escapes_is_read() -> None:
    text = '{ "error": "Missing \\\'inputs\\\' or \\\'instances\\\' key \\303\\251" }'
    with pytest.raises(ValueError):
        import json
        json.loads(text)
    assert parse_body(text) == {"error": "Missing 'inputs' or 'instances' key \u00e9"}


def test_bare_nan_and_infinity_are_read() -> None:
    body = parse_body('{"outputs": [NaN, Infinity, -Infinity, 2.5]}')
    out = columnar_response(body, {"y": "float32"})["y"]
    assert out.dtype == np.float32
    assert math.isnan(out[0]) and out[1] == np.inf and out[2] == -np.inf and out[3] == 2.5


def test_float32_values_are_sent_exactly() -> None:
    x = np.array([[0.1, 1 / 3]], dtype=np.float32)
    sent = dumps(columnar_request({"x": x}, {"x": "float32"}, "s"))
    import json
    back = np.array(json.loads(sent)["inputs"]["x"], dtype=np.float64).astype(np.float32)
    assert np.array_equal(back, x)
    assert json.loads(sent)["signature_name"] == "s"


def test_row_format_one_and_several_inputs() -> None:
    a = np.arange(6, dtype=np.int64).reshape(2, 3)
    b = np.array([True, False])
    assert row_request({"a": a}, {"a": "int64"}, None) == {"instances": [[0, 1, 2], [3, 4, 5]]}
    assert row_request({"a": a, "b": b}, {"a": "int64", "b": "bool"}, None) == {
        "instances": [{"a": [0, 1, 2], "b": True}, {"a": [3, 4, 5], "b": False}]}


def test_strings_go_plain_or_b64() -> None:
    s = np.empty(3, dtype=object)
    s[:] = [b"hello", b"\xff\x00", b"a\nb"]
    doc = columnar_request({"s": s}, {"s": "string"}, None)
    assert doc["inputs"]["s"] == ["hello", {"b64": "/wA="}, {"b64": "YQpi"}]


def test_row_response_single_and_named_outputs() -> None:
    one = row_response({"predictions": [[1.0, 2.0], [3.0, 4.0]]}, {"y": "float32"})
    assert one["y"].shape == (2, 2) and one["y"].dtype == np.float32
    two = row_response({"predictions": [{"y": [1.0], "k": 7}, {"y": [2.0], "k": 8}]},
                       {"y": "float32", "k": "int64"})
    assert two["k"].tolist() == [7, 8] and two["k"].dtype == np.int64
    b = row_response({"predictions": [{"b64": "/wA="}]}, {"s_bytes": "string"})
    assert b["s_bytes"].tolist() == [b"\xff\x00"]


def test_int64_above_2_53_stays_exact_when_read() -> None:
    big = 2**53 + 1
    out = columnar_response(parse_body('{"outputs": [%d]}' % big), {"k": "int64"})
    assert int(out["k"][0]) == big


def test_example_to_json_keeps_floats_as_floats() -> None:
    data = encode_example({"x": [2.0], "n": [3], "s": [b"\x00"]},
                          {"x": "float32", "n": "int64", "s": "string"})
    doc = example_to_json(data)
    assert doc == {"n": [3], "s": [{"b64": "AA=="}], "x": [2.0]}
    assert b'"x":[2.0]' in dumps(doc)
