"""Number formatting as the official LoadGen prints it (C++ iostreams)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlmeter.logfmt import fmt_double, fmt_fixed, mllog_value
from mlmeter.logfmt._numfmt import fmt_ns_as_ms, fmt_ns_as_us, fmt_percent_label, json_double


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1433976.0, "1.43398e+06"),  # Offline target_qps in the official summary
        (1000.0, "1000"),
        (0.99, "0.99"),
        (0.9, "0.9"),
        (0.0, "0"),
        (1e9 / 2447, "408664"),
        (100000.0, "100000"),
        (1_000_000.0, "1e+06"),  # requested_single_stream_expected_latency_ns
        (8_000_000.0, "8e+06"),
        (576 / (99793 * 144), "4.0083e-05"),  # result_token_throughput
        (467.8452, "467.845"),
        (15773736 / 21.651564432, "728526"),
        (5.50128e7, "5.50128e+07"),
    ],
)
def test_fmt_double_is_cpp_default_stream(value: float, text: str) -> None:
    assert fmt_double(value) == text


@pytest.mark.parametrize(
    ("value", "digits", "text"),
    [(988.847, 2, "988.85"), (197.9, 2, "197.90"), (1982.36, 2, "1982.36"), (90.0, 1, "90.0")],
)
def test_fmt_fixed(value: float, digits: int, text: str) -> None:
    assert fmt_fixed(value, digits) == text


@pytest.mark.parametrize(
    ("fraction", "digits", "text"),
    [
        (0.5, 2, "50.00"),
        (0.999, 2, "99.90"),
        (0.97, 2, "97.00"),
        (0.9, 1, "90.0"),
        (0.99, 1, "99.0"),
    ],
)
def test_percent_labels(fraction: float, digits: int, text: str) -> None:
    assert fmt_percent_label(fraction, digits) == text


@pytest.mark.parametrize(
    ("ns", "ms"),
    [(7581, "0.007581"), (0, "0.000000"), (42_613_550, "42.613550"), (-1500, "-0.001500")],
)
def test_time_ms(ns: int, ms: str) -> None:
    assert fmt_ns_as_ms(ns) == ms


@given(st.integers(min_value=-(2**62), max_value=2**62))
def test_time_renderings_are_exact(ns: int) -> None:
    assert Decimal(fmt_ns_as_ms(ns)) * 1_000_000 == ns
    assert Decimal(fmt_ns_as_us(ns)) * 1_000 == ns


def test_non_finite_doubles_stay_readable_json() -> None:
    assert json_double(float("inf")) == "Infinity"
    assert json_double(float("-inf")) == "-Infinity"
    assert json_double(float("nan")) == "NaN"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "true"),
        (np.bool_(False), "false"),
        (np.int64(64), "64"),
        (1000.0, "1000"),
        (np.float64(0.99), "0.99"),
        ('a "b"\nc', '"a \\"b\\"\\nc"'),
        ([27, 30, 1], "[27,30,1]"),
        ({"/a.cc": "01ab"}, '{"/a.cc":"01ab"}'),
        (None, "null"),
    ],
)
def test_mllog_values(value: object, text: str) -> None:
    assert mllog_value(value) == text


def test_mllog_value_rejects_unknown_types() -> None:
    with pytest.raises(TypeError, match="set"):
        mllog_value({1, 2})
