"""Tests for the MLPerf nearest-rank percentile rule."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlmeter.stats.percentile import (
    REPORTED_PERCENTILES,
    percentile,
    percentile_index,
    percentiles,
)

_INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_P = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


def _sorted_array(values: list[int]) -> np.ndarray:
    return np.array(sorted(values), dtype=np.int64)


def test_reported_percentiles() -> None:
    assert REPORTED_PERCENTILES == (0.5, 0.9, 0.95, 0.97, 0.99, 0.999)


@pytest.mark.parametrize(
    ("n", "p", "index"),
    [
        (100, 0.5, 50),
        (100, 0.97, 97),
        (100, 0.29, 28),  # 100 * 0.29 == 28.999999999999996 in double: truncated, as in C++
        (1, 0.99, 0),
        (10, 1.0, 9),  # clamped to the last element
        (10, 0.0, 0),
        (1392263, 0.9, 1253036),
    ],
)
def test_percentile_index_examples(n: int, p: float, index: int) -> None:
    assert percentile_index(n, p) == index


@pytest.mark.parametrize(("n", "p"), [(0, 0.5), (-1, 0.5), (10, -0.01), (10, 1.01)])
def test_percentile_index_rejects_bad_input(n: int, p: float) -> None:
    with pytest.raises(ValueError):
        percentile_index(n, p)


def test_percentile_of_empty_array_raises() -> None:
    with pytest.raises(ValueError):
        percentile(np.array([], dtype=np.int64), 0.9)


def test_percentiles_keeps_order_and_defaults() -> None:
    values = np.arange(1000, dtype=np.int64)
    result = percentiles(values)
    assert list(result) == list(REPORTED_PERCENTILES)
    assert result == {0.5: 500, 0.9: 900, 0.95: 950, 0.97: 970, 0.99: 990, 0.999: 999}
    assert percentiles(values, [0.99, 0.5]) == {0.99: 990, 0.5: 500}


@settings(deadline=None, max_examples=200)
@given(st.lists(_INT64, min_size=1, max_size=300), _P)
def test_percentile_is_the_floor_np_th_element(values: list[int], p: float) -> None:
    data = _sorted_array(values)
    n = len(values)
    index = percentile_index(n, p)
    exact_floor = math.floor(Fraction(n) * Fraction(p))
    assert index == min(int(n * p), n - 1)
    assert abs(index - min(exact_floor, n - 1)) <= 1  # double rounding moves it by at most 1
    assert percentile(data, p) == sorted(values)[index]


@settings(deadline=None, max_examples=200)
@given(st.lists(_INT64, min_size=1, max_size=300), _P, _P)
def test_percentile_is_monotone_in_p(values: list[int], p1: float, p2: float) -> None:
    data = _sorted_array(values)
    lo, hi = min(p1, p2), max(p1, p2)
    assert percentile_index(len(values), lo) <= percentile_index(len(values), hi)
    assert percentile(data, lo) <= percentile(data, hi)
