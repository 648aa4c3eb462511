"""Input generation: dtypes, shapes, domains, edge values, errors, shrinking, wrong inputs."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from harness.contract.load import canonicalise, validate
from harness.contract.model import DTYPES, Contract
from harness.errors import ContractError
from harness.generation.chance import chance
from harness.generation.dtypes import float_info, numpy_dtype
from harness.strategies import (
    SMALL_TENSOR,
    Call,
    call_strategy,
    check_satisfiable,
    wrong_dtype_inputs,
    wrong_rank_inputs,
)
from harness.tf_example import decode_features

ROOT = Path(__file__).resolve().parents[1]
FEW = settings(max_examples=25, database=None, deadline=None,
               suppress_health_check=[HealthCheck.too_slow])
SEARCH = settings(max_examples=2000, database=None, deadline=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
#: For "does this ever appear": stop at the first hit, no shrinking.
APPEAR = settings(SEARCH, phases=[Phase.generate])


def contract(inputs: dict[str, Any], *, dims: dict[str, Any] | None = None,
             fuzz: dict[str, Any] | None = None, check: bool = True) -> Contract:
    """A one-signature contract ``s`` with these inputs, validated then canonicalised.

    ``check=False`` skips validation, for domains the schema rules already reject
    (generation must still refuse them when a contract is built in code).
    """
    data: dict[str, Any] = {"name": "t", "signatures": {"s": {
        "inputs": inputs, "outputs": {"y": {"dtype": "float32"}}}}}
    if dims is not None:
        data["dims"] = dims
    if fuzz is not None:
        data["fuzz"] = fuzz
    if check:
        validate(data, Path("t.json"))
    return canonicalise(data, Path("t.json"))


def calls(c: Contract, **kwargs: Any) -> st.SearchStrategy[Call]:
    return call_strategy(c, c.signature("s"), **kwargs)


def one(c: Contract, predicate: Any = lambda call: True, **kwargs: Any) -> Call:
    """The simplest call satisfying ``predicate`` (fails the test if none is found)."""
    return find(calls(c, **kwargs), predicate, settings=SEARCH)


def some(c: Contract, predicate: Any, **kwargs: Any) -> Call:
    """A call satisfying ``predicate``, the first found (fails the test if none is found)."""
    return find(calls(c, **kwargs), predicate, settings=APPEAR)


# --------------------------------------------------------------------------- dtypes and shapes

#: numpy dtype kind per contract dtype; a dtype missing here fails test_every_dtype_is_covered.
EXPECTED_KIND = {
    "float16": "f", "float32": "f", "float64": "f", "bfloat16": "V",
    "int8": "i", "int16": "i", "int32": "i", "int64": "i",
    "uint8": "u", "uint16": "u", "uint32": "u", "uint64": "u",
    "bool": "b", "string": "O", "complex64": "c", "complex128": "c",
}


def test_every_dtype_is_covered() -> None:
    assert set(EXPECTED_KIND) == set(DTYPES)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("width", [3, 2 * SMALL_TENSOR])  # element-wise and seeded paths
def test_every_dtype_gives_exactly_that_dtype_and_shape(dtype: str, width: int) -> None:
    c = contract({"x": {"dtype": dtype, "shape": ["batch", width]}},
                 dims={"batch": {"min": 1, "max": 4}})
    expected = numpy_dtype(dtype)

    @FEW
    @given(calls(c))
    def check(call: Call) -> None:
        x = call.inputs["x"]
        assert x.dtype == expected and x.dtype.kind == EXPECTED_KIND[dtype]
        assert x.shape == (call.dims["batch"], width)
        if dtype == "string":
            assert all(isinstance(v, bytes) for v in x.ravel())
        elif dtype in ("float16", "bfloat16", "float32", "float64", "complex64", "complex128"):
            assert np.isfinite(x.astype(np.complex128)).all()
            assert (np.abs(x.astype(np.complex128).real) <= 1e3).all()

    check()


def test_named_dims_are_shared_and_bounded() -> None:
    c = contract({"a": {"dtype": "float32", "shape": ["batch", "n"]},
                  "b": {"dtype": "int32", "shape": ["batch", 2, "n", None]}},
                 dims={"batch": {"min": 2, "max": 5}, "n": {"min": 0, "max": 3}},
                 fuzz={"max_free_dim": 2})

    @FEW
    @given(calls(c))
    def check(call: Call) -> None:
        batch, n = call.dims["batch"], call.dims["n"]
        assert set(call.dims) == {"batch", "n"}
        assert 2 <= batch <= 5 and 0 <= n <= 3
        assert call.inputs["a"].shape == (batch, n)
        b = call.inputs["b"].shape
        assert b[:3] == (batch, 2, n) and 1 <= b[3] <= 2
        assert call.batch_size == batch

    check()


def test_named_dims_reach_both_bounds() -> None:
    c = contract({"x": {"dtype": "float32", "shape": ["batch", 8]}}, dims={"batch": {"min": 1, "max": 32}})
    assert some(c, lambda call: call.dims["batch"] == 32).dims["batch"] == 32
    assert one(c, lambda call: call.dims["batch"] == 1).dims["batch"] == 1


def test_any_rank_and_max_free_dim_override() -> None:
    c = contract({"x": {"dtype": "float32", "shape": None}})

    @FEW
    @given(calls(c, max_free_dim=2))
    def check(call: Call) -> None:
        shape = call.inputs["x"].shape
        assert 1 <= len(shape) <= 3 and all(1 <= d <= 2 for d in shape)

    check()
    assert some(c, lambda call: call.inputs["x"].ndim == 3, max_free_dim=2).inputs["x"].ndim == 3


# --------------------------------------------------------------------------- value domains


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
@pytest.mark.parametrize("width", [4, 500])
def test_float_values_stay_inside_an_unrepresentable_range(dtype: str, width: int) -> None:
    c = contract({"x": {"dtype": dtype, "shape": ["batch", width], "range": [0.1, 0.9]}},
                 dims={"batch": {"min": 1, "max": 3}}, fuzz={"edge_probability": 0.5})

    @FEW
    @given(calls(c))
    def check(call: Call) -> None:
        x = call.inputs["x"].astype(np.float64)
        assert (x >= 0.1).all() and (x <= 0.9).all()

    check()


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32", "uint64"])
def test_int_values_in_range_and_dtype(dtype: str) -> None:
    c = contract({"x": {"dtype": dtype, "shape": [200], "range": [-5.5, 300]}})
    info = np.iinfo(dtype)
    low, high = max(-5, int(info.min)), min(300, int(info.max))

    @FEW
    @given(calls(c, edge_probability=1.0))
    def check(call: Call) -> None:
        x = call.inputs["x"]
        assert int(x.min()) >= low and int(x.max()) <= high

    check()
    assert some(c, lambda call: int(call.inputs["x"].max()) == high).inputs["x"].max() == high


def test_int_default_range() -> None:
    c = contract({"x": {"dtype": "int64", "shape": [100]}, "y": {"dtype": "uint8", "shape": [100]}})

    @FEW
    @given(calls(c))
    def check(call: Call) -> None:
        assert np.abs(call.inputs["x"]).max() <= 1000

    check()
    assert some(c, lambda call: call.inputs["y"].max() == 255).inputs["y"].max() == 255


def test_complex_parts_respect_range() -> None:
    c = contract({"z": {"dtype": "complex64", "shape": [100], "range": [-2, 3]}})

    @FEW
    @given(calls(c, edge_probability=1.0))
    def check(call: Call) -> None:
        z = call.inputs["z"]
        for part in (z.real, z.imag):
            assert (part >= -2).all() and (part <= 3).all()

    check()


def test_bool_takes_both_values() -> None:
    c = contract({"m": {"dtype": "bool", "shape": [100]}})
    found = some(c, lambda call: call.inputs["m"].any() and not call.inputs["m"].all())
    assert found.inputs["m"].dtype == np.bool_


def test_enum_values_only() -> None:
    c = contract({"k": {"dtype": "int32", "shape": [300], "enum": [3, 7, 11]},
                  "s": {"dtype": "string", "shape": [2], "enum": ["a", "b"]}})

    @FEW
    @given(calls(c))
    def check(call: Call) -> None:
        assert set(call.inputs["k"].tolist()) <= {3, 7, 11}
        assert set(call.inputs["s"].tolist()) <= {b"a", b"b"}

    check()


def test_alphabet_and_length() -> None:
    c = contract({"s": {"dtype": "string", "shape": [100], "alphabet": "xyzé", "length": [2, 5]},
                  "t": {"dtype": "string", "shape": [3], "alphabet": "ab", "length": [1, 1]}})

    @FEW
    @given(calls(c))
    def check(call: Call) -> None:
        for value in call.inputs["s"].tolist() + call.inputs["t"].tolist():
            text = value.decode("utf-8")
            assert set(text) <= set("xyzéab")
        assert all(2 <= len(v.decode()) <= 5 for v in call.inputs["s"].tolist())
        assert all(len(v) == 1 for v in call.inputs["t"].tolist())

    check()


def test_default_strings_include_empty_and_are_short() -> None:
    c = contract({"s": {"dtype": "string", "shape": [4]}})
    found = one(c, lambda call: b"" in call.inputs["s"].tolist())
    assert all(len(v) <= 8 for v in found.inputs["s"].tolist())


def test_vocabulary_list_with_and_without_oov(tmp_path: Path) -> None:
    (tmp_path / "vocab.txt").write_bytes(b"alpha\nbeta\r\ngamma\n")
    closed = contract({"w": {"dtype": "string", "shape": [50],
                             "vocabulary": {"asset": "vocab.txt", "oov": False}}})
    vocab = {b"alpha", b"beta", b"gamma"}

    @FEW
    @given(calls(closed, assets_dir=tmp_path))
    def check(call: Call) -> None:
        assert set(call.inputs["w"].tolist()) <= vocab

    check()
    opened = contract({"w": {"dtype": "string", "shape": [3], "vocabulary": {"asset": "vocab.txt"}}})
    found = some(opened, lambda call: not set(call.inputs["w"].tolist()) <= vocab, assets_dir=tmp_path)
    assert any(v not in vocab for v in found.inputs["w"].tolist())
    listed = contract({"w": {"dtype": "string", "shape": [200], "vocabulary": ["x", "y"]}})
    found = some(listed, lambda call: not set(call.inputs["w"].tolist()) <= {b"x", b"y"})
    share = np.mean([v not in (b"x", b"y") for v in found.inputs["w"].tolist()])
    assert 0 < share < 0.5


def test_tf_example_inputs_decode_to_declared_features() -> None:
    c = contract({"ex": {"dtype": "string", "shape": ["batch"], "example": {
        "age": {"dtype": "int64", "range": [0, 120]},
        "pixels": {"dtype": "float32", "shape": [2, 3], "range": [0, 1]},
        "tags": {"dtype": "string", "shape": [2]},
    }}}, dims={"batch": {"min": 1, "max": 100}})

    @FEW
    @given(calls(c, edge_probability=0.5))
    def check(call: Call) -> None:
        for blob in call.inputs["ex"].tolist():
            features = decode_features(blob)
            assert set(features) == {"age", "pixels", "tags"}
            kind, ages = features["age"]
            assert kind == "int64" and len(ages) == 1 and 0 <= ages[0] <= 120
            kind, pixels = features["pixels"]
            assert kind == "float32" and len(pixels) == 6 and all(0 <= p <= 1 for p in pixels)
            kind, tags = features["tags"]
            assert kind == "string" and len(tags) == 2

    check()


# --------------------------------------------------------------------------- edge values


@pytest.mark.parametrize("width", [4, 1000])
def test_edge_values_occur(width: int) -> None:
    c = contract({"x": {"dtype": "float32", "shape": [width], "range": [-1.5, 2.0]}})
    assert some(c, lambda call: call.inputs["x"].min() == -1.5).inputs["x"].min() == -1.5
    assert some(c, lambda call: call.inputs["x"].max() == 2.0).inputs["x"].max() == 2.0
    negative_zero = some(c, lambda call: bool((np.signbit(call.inputs["x"]) & (call.inputs["x"] == 0)).any()))
    assert np.signbit(negative_zero.inputs["x"][negative_zero.inputs["x"] == 0]).any()


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
@pytest.mark.parametrize("width", [4, 1000])
def test_no_nan_inf_or_subnormal_unless_allowed(dtype: str, width: int) -> None:
    c = contract({"x": {"dtype": dtype, "shape": [width], "range": [-1, 1]}})
    tiny = float_info(numpy_dtype(dtype)).tiny

    @settings(max_examples=60, database=None, deadline=None)
    @given(calls(c, edge_probability=1.0))
    def check(call: Call) -> None:
        x = call.inputs["x"].astype(np.float64)
        assert np.isfinite(x).all()
        assert not ((x != 0) & (np.abs(x) < tiny)).any()

    check()


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "complex64"])
@pytest.mark.parametrize("width", [4, 1000])
def test_nan_inf_subnormal_appear_when_allowed(dtype: str, width: int) -> None:
    c = contract({"x": {"dtype": dtype, "shape": [width], "allow_nan": True, "allow_inf": True,
                        "allow_subnormal": True}})
    part = {"complex64": "float32"}.get(dtype, dtype)
    tiny = float_info(numpy_dtype(part)).tiny

    def parts(call: Call) -> np.ndarray:
        x = call.inputs["x"]
        return np.concatenate([x.real.ravel(), x.imag.ravel()]).astype(np.float64) if x.dtype.kind == "c" \
            else x.astype(np.float64).ravel()

    some(c, lambda call: bool(np.isnan(parts(call)).any()))
    some(c, lambda call: bool((parts(call) == np.inf).any()))
    some(c, lambda call: bool((parts(call) == -np.inf).any()))
    some(c, lambda call: bool(((parts(call) != 0) & (np.abs(parts(call)) < tiny)).any()))


def test_edge_probability_is_about_as_documented() -> None:
    c = contract({"x": {"dtype": "float32", "shape": [1000], "range": [-0.25, 0.75]}},
                 fuzz={"edge_probability": 0.25})
    tiny = float_info(np.dtype(np.float32)).tiny
    seen: list[bool] = []

    @settings(max_examples=300, database=None, deadline=None, phases=[Phase.generate],
              derandomize=True)  # a fixed sample: a statistical bound must not flake
    @given(calls(c))
    def record(call: Call) -> None:
        x = call.inputs["x"]
        edge = (x == -0.25) | (x == 0.75) | (np.abs(x) == tiny) | (np.signbit(x) & (x == 0))
        seen.append(bool(edge.any()))  # fills alone practically never produce these

    record()
    # hypothesis mutates earlier examples, so draws are correlated: runs spread ~0.2..0.45
    assert 0.12 <= np.mean(seen) <= 0.5


def test_chance_is_calibrated_and_shrinks_to_false() -> None:
    seen: list[bool] = []

    @settings(max_examples=500, database=None, phases=[Phase.generate], derandomize=True)
    @given(chance(0.1))
    def record(flag: bool) -> None:
        seen.append(flag)

    record()
    assert 0.03 <= np.mean(seen) <= 0.2
    assert find(st.tuples(chance(0.5), st.integers(0, 10)), lambda t: t[1] > 3) == (False, 4)


def test_edge_probability_zero_means_no_edges() -> None:
    c = contract({"x": {"dtype": "float32", "shape": [1000], "range": [0.25, 0.75]}})

    tiny = float_info(np.dtype(np.float32)).tiny

    @settings(max_examples=100, database=None, deadline=None)
    @given(calls(c, edge_probability=0.0))
    def check(call: Call) -> None:
        x = call.inputs["x"]
        # fills stay below the upper end and never make -0.0 or the smallest normal
        assert not (x == 0.75).any()
        assert not (np.signbit(x) & (x == 0)).any() and not (np.abs(x) == tiny).any()

    check()


# --------------------------------------------------------------------------- unsatisfiable


UNSATISFIABLE = {
    "float range outside dtype": (
        {"x": {"dtype": "float16", "shape": [2], "range": [1e5, 1e6]}}, None, True,
        "/signatures/s/inputs/x/range", "outside float16"),
    "float range between two values": (
        {"x": {"dtype": "float32", "shape": [2], "range": [0.1, 0.1]}}, None, True,
        "/signatures/s/inputs/x/range", "contains no float32 value"),
    "int range outside dtype": (
        {"x": {"dtype": "int8", "shape": [2], "range": [300, 400]}}, None, False,
        "/signatures/s/inputs/x/range", "contains no int8 value"),
    "enum value not in dtype": (
        {"x": {"dtype": "uint8", "shape": [2], "enum": [1, 256]}}, None, True,
        "/signatures/s/inputs/x/enum/1", "does not fit in uint8"),
    "enum value not an integer": (
        {"x": {"dtype": "int32", "shape": [2], "enum": [1, 2.5]}}, None, True,
        "/signatures/s/inputs/x/enum/1", "not an integer"),
    "vocabulary asset missing": (
        {"x": {"dtype": "string", "shape": [2], "vocabulary": {"asset": "missing.txt"}}}, None, True,
        "/signatures/s/inputs/x/vocabulary/asset", "not found"),
    "dim bound min > max": (
        {"x": {"dtype": "float32", "shape": ["batch"]}}, {"batch": {"min": 5, "max": 2}}, False,
        "/dims/batch", "no size satisfies"),
    "only subnormals in range": (
        {"x": {"dtype": "float32", "shape": [2], "range": [1e-40, 1e-39]}}, None, True,
        "/signatures/s/inputs/x/range", "only subnormal"),
}


@pytest.mark.parametrize("case", list(UNSATISFIABLE))
def test_unsatisfiable_raises_on_draw_with_file_and_pointer(case: str, tmp_path: Path) -> None:
    inputs, dims, check, pointer, words = UNSATISFIABLE[case]
    c = contract(inputs, dims=dims, check=check)
    strategy = calls(c, assets_dir=tmp_path)  # building does not raise
    with pytest.raises(ContractError) as drawn:
        find(strategy, lambda call: True, settings=FEW)
    with pytest.raises(ContractError) as checked:
        check_satisfiable(c, c.signature("s"), assets_dir=tmp_path)
    for error in (drawn.value, checked.value):
        text = str(error)
        assert text.startswith("t.json: ") and pointer in text and words in text


def test_bfloat16_without_ml_dtypes(monkeypatch: pytest.MonkeyPatch) -> None:
    c = contract({"x": {"dtype": "bfloat16", "shape": [2]}})
    monkeypatch.setitem(sys.modules, "ml_dtypes", None)  # makes `import ml_dtypes` fail
    with pytest.raises(ContractError, match=r"t\.json: /signatures/s/inputs/x: bfloat16 inputs need ml_dtypes \(numpy has no bfloat16\)"):
        find(calls(c), lambda call: True, settings=FEW)


def test_one_bad_signature_fails_only_its_own_draws() -> None:
    data = {"name": "t", "signatures": {
        "good": {"inputs": {"x": {"dtype": "float32", "shape": [2]}}, "outputs": {"y": {"dtype": "float32"}}},
        "bad": {"inputs": {"x": {"dtype": "float16", "shape": [2], "range": [1e5, 1e6]}},
                "outputs": {"y": {"dtype": "float32"}}},
    }}
    c = canonicalise(data, Path("t.json"))
    strategies = {sig.name: call_strategy(c, sig) for sig in c.signatures}
    assert find(strategies["good"], lambda call: True).inputs["x"].shape == (2,)
    with pytest.raises(ContractError):
        find(strategies["bad"], lambda call: True)


# --------------------------------------------------------------------------- shrinking


def test_shrinks_to_minimal_batch_and_simple_values() -> None:
    c = contract({"x": {"dtype": "float32", "shape": ["batch", 784], "range": [0.0, 1.0]}},
                 dims={"batch": {"min": 1, "max": 32}})
    found = one(c, lambda call: call.inputs["x"].max() > 0.5)
    x = found.inputs["x"]
    assert found.dims["batch"] == 1 and x.shape == (1, 784)
    assert len(np.unique(x)) <= 2  # a constant (or one value over zeros), not noise


def test_small_tensors_shrink_element_wise() -> None:
    c = contract({"x": {"dtype": "float32", "shape": ["batch", 3], "range": [-10, 10]}},
                 dims={"batch": {"min": 1, "max": 8}})
    found = one(c, lambda call: call.inputs["x"].sum() > 5)
    assert found.dims["batch"] == 1
    assert sorted(found.inputs["x"].ravel().tolist())[:2] == [0.0, 0.0]


def test_simplest_call_is_zeros_or_nearest_range_end() -> None:
    c = contract({"x": {"dtype": "float32", "shape": [100], "range": [2, 5]},
                  "y": {"dtype": "int32", "shape": [100], "range": [-9, -3]},
                  "z": {"dtype": "float32", "shape": [100]}})
    simplest = one(c)
    assert (simplest.inputs["x"] == 2).all()
    assert (simplest.inputs["y"] == -3).all()
    assert (simplest.inputs["z"] == 0).all()


# --------------------------------------------------------------------------- large tensors


def test_large_tensor_is_varied_and_inside_the_domain() -> None:
    c = contract({"image": {"dtype": "float32", "shape": [1, 224, 224, 3], "range": [0, 1]}})
    found = some(c, lambda call: len(np.unique(call.inputs["image"])) > 100_000)
    x = found.inputs["image"]
    assert x.dtype == np.float32 and (x >= 0).all() and (x <= 1).all()


# --------------------------------------------------------------------------- wrong inputs


def test_wrong_dtype_inputs() -> None:
    c = contract({"x": {"dtype": "float32", "shape": ["batch", 3], "allow_nan": True, "allow_inf": True},
                  "k": {"dtype": "int64", "shape": ["batch"]},
                  "s": {"dtype": "string", "shape": ["batch"]},
                  "m": {"dtype": "bool", "shape": ["batch"]}},
                 dims={"batch": {"min": 1, "max": 3}})
    sig = c.signature("s")
    call = some(c, lambda call: bool(np.isnan(call.inputs["x"]).any() and np.isinf(call.inputs["x"]).any()))
    variants = dict(wrong_dtype_inputs(call, sig))
    assert set(variants) == {"x as float64", "x as int32", "k as float32", "s as float32", "m as int32"}
    for label, variant in variants.items():
        name, _, target = label.split(" ")
        changed = variant.inputs[name]
        assert changed.dtype == np.dtype(target) and changed.shape == call.inputs[name].shape
        if changed.dtype.kind == "f":
            assert np.isfinite(changed).all()
        for other in call.inputs:
            if other != name:
                assert variant.inputs[other] is call.inputs[other]
    assert (variants["m as int32"].inputs["m"] == call.inputs["m"].astype(np.int32)).all()


def test_wrong_rank_inputs() -> None:
    c = contract({"x": {"dtype": "float32", "shape": ["batch", 3]},
                  "t": {"dtype": "float32", "shape": []},
                  "v": {"dtype": "string", "shape": ["batch"]},
                  "any": {"dtype": "float32", "shape": None}},
                 dims={"batch": {"min": 2, "max": 2}})
    call = one(c)
    variants = dict(wrong_rank_inputs(call, c.signature("s")))
    assert set(variants) == {"x with rank 3", "x with rank 1", "t with rank 1",
                             "v with rank 2", "v with rank 0", "x with rank 3 (a leading axis)",
                             "t with rank 1 (a leading axis)", "v with rank 2 (a leading axis)"}
    assert variants["x with rank 3 (a leading axis)"].inputs["x"].shape == (1, 2, 3)
    # a rank-1 input really loses its axis (np.ascontiguousarray would give it back)
    assert variants["v with rank 0"].inputs["v"].shape == ()
    assert variants["x with rank 3"].inputs["x"].shape == (2, 3, 1)
    assert variants["x with rank 1"].inputs["x"].shape == (2,)
    assert variants["t with rank 1"].inputs["t"].shape == (1,)


# --------------------------------------------------------------------------- Call


def test_call_rows_and_batch_size() -> None:
    c = contract({"x": {"dtype": "float32", "shape": ["batch", 3]},
                  "ids": {"dtype": "int32", "shape": ["batch"]}},
                 dims={"batch": {"min": 3, "max": 3}})
    call = one(c)
    assert call.batch_size == 3
    row = call.row(2)
    assert row.dims["batch"] == 1 and row.batch_size == 1
    assert row.inputs["x"].shape == (1, 3)
    assert (row.inputs["x"][0] == call.inputs["x"][2]).all()
    with pytest.raises(IndexError):
        call.row(3)
    mixed = contract({"x": {"dtype": "float32", "shape": [2, 3]}, "t": {"dtype": "float32", "shape": []}})
    unbatched = one(mixed)
    assert unbatched.batch_size is None
    with pytest.raises(ValueError):
        unbatched.row(0)
    assert "Call(signature='s'" in repr(unbatched)


def test_generation_imports_no_tensorflow() -> None:
    code = ("import sys, harness.strategies, harness.tf_example; "
            "bad = [m for m in ('tensorflow', 'onnxruntime', 'tflite_runtime', 'ai_edge_litert') "
            "if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_deterministic_for_the_same_choices() -> None:
    c = contract({"x": {"dtype": "float32", "shape": [500]}})
    first = one(c, lambda call: math.isclose(float(call.inputs["x"].std()), 0, abs_tol=1e-9) is False)
    again = one(c, lambda call: math.isclose(float(call.inputs["x"].std()), 0, abs_tol=1e-9) is False)
    assert np.array_equal(first.inputs["x"], again.inputs["x"])
