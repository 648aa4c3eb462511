"""The one comparison of two declared interfaces: every mismatch kind, from literal interfaces."""

from __future__ import annotations

import math
import pickle

import pytest

from harness.interface import (
    DimRange,
    Mismatch,
    SignatureInterface,
    TensorInterface,
    compare_interfaces,
    compare_signatures,
)
from harness.interface.compare import KINDS

FREE = DimRange.free()
BATCH = DimRange(1, 8, "batch")


def t(name: str, dtype: str = "float32", *dims: DimRange, **more: object) -> TensorInterface:
    return TensorInterface(name, dtype, tuple(dims), **more)  # type: ignore[arg-type]


def sig(inputs: list[TensorInterface], outputs: list[TensorInterface], *, name: str = "s",
        method: str | None = "tensorflow/serving/predict") -> SignatureInterface:
    return SignatureInterface(name, method, {x.name: x for x in inputs},
                              {x.name: x for x in outputs})


def test_identical_signatures_have_no_mismatch() -> None:
    side = sig([t("x", "float32", BATCH, DimRange.fixed(4))], [t("y", "int64", BATCH)])
    assert compare_signatures(side, side) == []
    assert compare_interfaces({"s": side}, {"s": side}) == []


def test_signature_missing_and_extra() -> None:
    a, b = sig([], [], name="a"), sig([], [], name="b")
    assert compare_interfaces({"a": a}, {"b": b}) == [
        Mismatch("signature missing", "a", expected="a"),
        Mismatch("signature extra", "b", found="b")]


def test_method_name_stated_on_the_expected_side_only() -> None:
    classify = sig([], [], method="tensorflow/serving/classify")
    assert compare_signatures(classify, sig([], [])) == [
        Mismatch("method_name", "s", expected="tensorflow/serving/classify",
                 found="tensorflow/serving/predict")]
    assert compare_signatures(classify, sig([], [], method="")) == [
        Mismatch("method_name", "s", expected="tensorflow/serving/classify", found="")]
    # a side that states none (a contract without method_name) expects nothing
    assert compare_signatures(sig([], [], method=None), classify) == []


def test_tensor_missing_and_extra_per_side() -> None:
    expected = sig([t("x", "float32", FREE)], [t("y", "float32")])
    found = sig([t("z", "int32", FREE)], [t("y", "float32"), t("extra", "bool")])
    assert compare_signatures(expected, found) == [
        Mismatch("tensor missing", "s", "inputs", "x", expected="float32 [None]"),
        Mismatch("tensor extra", "s", "inputs", "z", found="int32 [None]"),
        Mismatch("tensor extra", "s", "outputs", "extra", found="bool []")]


def test_encoding_dtype_and_graph_tensor_name() -> None:
    expected = sig([t("x", "float32", FREE, tensor_name="x:0")], [])
    found = sig([t("x", "int64", FREE, tensor_name="values:0", encoding="sparse")], [])
    assert compare_signatures(expected, found) == [
        Mismatch("encoding", "s", "inputs", "x", "dense", "sparse"),
        Mismatch("dtype", "s", "inputs", "x", "float32", "int64"),
        Mismatch("tensor name", "s", "inputs", "x", "x:0", "values:0")]
    # a side that names no graph tensor expects none
    assert compare_signatures(sig([t("x", "float32", FREE)], []),
                              sig([t("x", "float32", FREE, tensor_name="x:0")], [])) == []


@pytest.mark.parametrize(("a", "b", "kind"), [
    (None, (FREE,), "rank fixed"),
    ((FREE,), None, "rank opened"),
    ((FREE,), (FREE, FREE), "rank changed"),
])
def test_rank(a: tuple[DimRange, ...] | None, b: tuple[DimRange, ...] | None, kind: str) -> None:
    found = compare_signatures(sig([TensorInterface("x", "float32", a)], []),
                               sig([TensorInterface("x", "float32", b)], []))
    assert [(m.kind, m.side, m.tensor, m.axis) for m in found] == [(kind, "inputs", "x", None)]
    assert (found[0].expected, found[0].found) == (
        TensorInterface("x", "float32", a).describe_shape(),
        TensorInterface("x", "float32", b).describe_shape())


@pytest.mark.parametrize(("a", "b", "kind"), [
    (DimRange.fixed(4), DimRange.fixed(5), "fixed size changed"),
    (DimRange.fixed(4), FREE, "dim widened"),
    (BATCH, DimRange(1, 32, "batch"), "dim widened"),
    (FREE, DimRange.fixed(4), "dim narrowed"),
    (BATCH, DimRange.fixed(4), "dim narrowed"),
    (DimRange(1, 8), DimRange(4, 16), "dim changed"),
])
def test_dims_axis_by_axis(a: DimRange, b: DimRange, kind: str) -> None:
    found = compare_signatures(sig([], [t("y", "float32", FREE, a)]),
                               sig([], [t("y", "float32", FREE, b)]))
    assert found == [Mismatch(kind, "s", "outputs", "y", a.describe(), b.describe(), axis=1)]


def test_a_dims_name_alone_is_no_mismatch() -> None:
    assert compare_signatures(sig([t("x", "float32", DimRange(1, 8, "batch"))], []),
                              sig([t("x", "float32", DimRange(1, 8, "n"))], [])) == []


@pytest.mark.parametrize(("a", "b", "kind"), [
    ((0.0, 1.0), (-1.0, 2.0), "range widened"),
    ((0.0, 1.0), (0.25, 0.75), "range narrowed"),
    ((0.0, 1.0), (0.5, 2.0), "range changed"),
])
def test_value_ranges(a: tuple[float, float], b: tuple[float, float], kind: str) -> None:
    found = compare_signatures(sig([t("x", "float32", range=a)], []),
                               sig([t("x", "float32", range=b)], []))
    assert found == [Mismatch(kind, "s", "inputs", "x", str(list(a)), str(list(b)))]
    # a side without a range (a model) compares nothing
    assert compare_signatures(sig([t("x", "float32", range=a)], []),
                              sig([t("x", "float32")], [])) == []


def test_the_kinds_are_a_closed_list() -> None:
    """The list of kinds is closed: a mismatch of another kind cannot be made."""
    assert len(KINDS) == 18
    with pytest.raises(AssertionError):
        Mismatch("shape", "s")


def test_order_missing_extra_then_each_tensor_in_expected_order() -> None:
    expected = sig([t("a", "float32", FREE), t("b", "float32")], [t("y", "float32")])
    found = sig([t("b", "int32"), t("a", "float64", DimRange.fixed(2)), t("c", "bool")],
                [t("y", "float32", FREE)])
    assert [(m.kind, m.side, m.tensor) for m in compare_signatures(expected, found)] == [
        ("tensor extra", "inputs", "c"), ("dtype", "inputs", "a"), ("dim narrowed", "inputs", "a"),
        ("dtype", "inputs", "b"), ("rank changed", "outputs", "y")]


def test_declared_shapes_and_descriptions() -> None:
    x = TensorInterface.of_sizes("x", "int64", (None, 5, -1), tensor_name="v:0",
                                 encoding="sparse")
    assert x.shape == (None, 5, None)
    assert x.describe() == "int64 [-1, 5, -1] (sparse)"
    assert x.describe_contract() == "int64 [None, 5, None]"
    assert TensorInterface.of_sizes("x", "float32", None).describe() == "float32 <unknown rank>"
    assert TensorInterface("x", "float32", (DimRange(2, math.inf),)).describe_contract() == \
        "float32 [2..inf]"


def test_a_signature_pickles_to_another_process() -> None:
    """The isolated worker sends a backend's signatures over a pipe."""
    s = sig([t("x", "float32", BATCH)], [t("y", "float32", FREE)])
    again = pickle.loads(pickle.dumps(s))
    assert again == s and compare_signatures(s, again) == []
