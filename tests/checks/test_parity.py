"""Parity verdicts on plain arrays: tolerances, statistics, exact outputs, NaN/Inf, messages."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.checks.parity import compare, parity_failure, top1_agreement, would_pass
from harness.contract.model import Tolerance

TOL = Tolerance(atol=1e-5, rtol=1e-4)


def test_equal_float_arrays_pass_with_zero_error() -> None:
    a = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    result = compare(a, a.copy(), TOL, exact=False)
    assert result.passed
    assert result.max_abs == 0.0 and result.max_rel == 0.0
    assert result.atol_to_pass == 0.0 and result.rtol_to_pass == 0.0


def test_max_statistic_is_allclose() -> None:
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(50, 10)).astype(np.float32)
    for scale in (1e-7, 1e-5, 1e-3):
        got = ref + rng.normal(scale=scale, size=ref.shape).astype(np.float32)
        result = compare(ref, got, TOL, exact=False)
        assert result.passed == bool(np.allclose(got, ref, atol=TOL.atol, rtol=TOL.rtol))


def test_failure_reports_worst_element_and_would_pass_tolerances() -> None:
    ref = np.array([[1.0, 2.0], [0.5, 0.25]], dtype=np.float64)
    got = ref.copy()
    got[1, 0] += 3e-3
    result = compare(ref, got, TOL, exact=False)
    assert not result.passed
    assert result.index == (1, 0)
    assert result.reference_value == pytest.approx(0.5)
    assert result.received_value == pytest.approx(0.503)
    assert result.max_abs == pytest.approx(3e-3)
    assert result.max_rel == pytest.approx(6e-3)
    assert result.mismatched == 1
    # the smallest tolerances that pass, each alone
    assert result.atol_to_pass == pytest.approx(3e-3)
    assert result.rtol_to_pass == pytest.approx(6e-3)
    assert compare(ref, got, Tolerance(atol=result.atol_to_pass * 1.0001, rtol=0), exact=False).passed
    assert compare(ref, got, Tolerance(atol=0, rtol=result.rtol_to_pass * 1.0001), exact=False).passed
    assert not compare(ref, got, Tolerance(atol=result.atol_to_pass * 0.99, rtol=0), exact=False).passed
    assert would_pass(result) == "would pass with atol=3.0e-03 (rtol=0) or rtol=6.0e-03 (atol=0)"


@pytest.mark.parametrize("statistic,passes", [("max", False), ("p99", False), ("p50", True),
                                              ("median", True), ("mean", True)])
def test_statistics_aggregate_error_over_allowance(statistic: str, passes: bool) -> None:
    ref = np.zeros(100)
    got = np.zeros(100)
    got[:5] = 5e-5  # five elements at 5x the allowance, the rest exact
    result = compare(ref, got, Tolerance(atol=1e-5, rtol=0, statistic=statistic), exact=False)
    assert result.passed is passes
    assert result.statistic == statistic


def test_mean_statistic_fails_when_many_elements_err() -> None:
    ref = np.zeros(10)
    got = np.full(10, 2e-5)
    assert not compare(ref, got, Tolerance(atol=1e-5, rtol=0, statistic="mean"), exact=False).passed


def test_nan_on_one_side_fails_and_no_tolerance_would_pass() -> None:
    ref = np.array([0.1, 0.2, 0.3], dtype=np.float32)
    got = ref.copy()
    got[2] = np.nan
    result = compare(ref, got, Tolerance(atol=1e9, rtol=1e9), exact=False)
    assert not result.passed
    assert result.nan_mismatch is not None and "[2]" in result.nan_mismatch
    assert result.index == (2,)
    assert math.isinf(result.atol_to_pass or 0)
    assert "no tolerance would pass" in would_pass(result)


def test_nan_on_both_sides_never_passes() -> None:
    ref = np.array([np.nan, 1.0])
    result = compare(ref, ref.copy(), Tolerance(atol=1.0, rtol=1.0), exact=False)
    assert not result.passed
    assert "both sides" in (result.nan_mismatch or "")


def test_inf_on_one_side_fails_but_equal_infinities_agree() -> None:
    ref = np.array([np.inf, -np.inf, 1.0])
    assert compare(ref, ref.copy(), TOL, exact=False).passed
    got = ref.copy()
    got[0] = 1e30
    assert not compare(ref, got, Tolerance(atol=1e40, rtol=0), exact=False).passed
    got = ref.copy()
    got[1] = np.inf
    assert not compare(ref, got, TOL, exact=False).passed


def test_integer_outputs_must_match_exactly() -> None:
    ref = np.array([3, 1, 4, 1, 5], dtype=np.int64)
    got = ref.astype(np.int32)  # dtype differences are conformance's business, values agree
    assert compare(ref, got, TOL, exact=True).passed
    got = ref.copy()
    got[3] = 2
    result = compare(ref, got, Tolerance(atol=10, rtol=10), exact=True)
    assert not result.passed
    assert result.index == (3,) and result.reference_value == 1 and result.received_value == 2
    assert result.atol_to_pass is None
    assert "exactly" in would_pass(result)


def test_strings_compare_exactly_across_bytes_and_str() -> None:
    ref = np.array([b"cat", b"dog"], dtype=object)
    assert compare(ref, np.array(["cat", "dog"], dtype=object), TOL, exact=True).passed
    assert not compare(ref, np.array(["cat", "cow"], dtype=object), TOL, exact=True).passed


def test_bool_outputs_are_exact_even_if_not_declared_exact() -> None:
    ref = np.array([True, False])
    assert not compare(ref, np.array([True, True]), Tolerance(atol=1, rtol=1), exact=False).passed


def test_shape_mismatch_fails_without_broadcasting() -> None:
    result = compare(np.zeros((2, 3)), np.zeros((1, 3)), TOL, exact=False)
    assert not result.passed
    assert "shape [1, 3]" in (result.shape_mismatch or "")


def test_zero_reference_gives_infinite_rtol_to_pass() -> None:
    result = compare(np.zeros(3), np.array([0.0, 1e-3, 0.0]), TOL, exact=False)
    assert result.rtol_to_pass is not None and math.isinf(result.rtol_to_pass)
    assert "no rtol alone would" in would_pass(result)


def test_empty_outputs_pass() -> None:
    assert compare(np.zeros((0, 10)), np.zeros((0, 10)), TOL, exact=False).passed


def test_top1_agreement_counts_rows_and_nan_rows_disagree() -> None:
    ref = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    got = np.array([[0.2, 0.8], [0.4, 0.6], [0.3, 0.7], [np.nan, 0.4]])
    assert top1_agreement(ref, got) == pytest.approx(0.5)
    assert top1_agreement(ref, ref) == 1.0
    with pytest.raises(ValueError):
        top1_agreement(ref, got[:2])


def test_failure_message_names_format_signature_output_tolerance_and_fix() -> None:
    ref = np.array([[0.25, 0.75]], dtype=np.float32)
    got = np.array([[0.2500031, 0.7499969]], dtype=np.float32)
    tol = Tolerance(atol=1e-7, rtol=1e-6)
    result = compare(ref, got, tol, exact=False)
    text = str(parity_failure(result, check="parity[tflite]", format="tflite", signature="classify",
                              output="prob", tolerance=tol, source="tflite (given: m.tflite)"))
    assert text.startswith("[parity[tflite]] tflite (given: m.tflite): output 'prob' of signature "
                           "'classify' differs from the SavedModel beyond tolerance atol=1e-07, "
                           "rtol=1e-06")
    assert "Received: 0.250003" in text and "(tflite, at [0, 0])" in text
    assert "Documented: 0.25 (savedmodel, the reference, at [0, 0])" in text
    assert "max abs error 3.1e-06" in text
    assert "would pass with atol=3.1e-06 (rtol=0) or rtol=1.2e-05 (atol=0)" in text
