"""Tests for the MLPerf early-stopping maths."""

from __future__ import annotations

import time
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlmeter.stats.early_stopping import (
    EarlyStoppingEstimate,
    ServerEarlyStopping,
    max_overlatency_count,
    min_passing_count,
    overlatency_odds,
    queries_needed_single_stream,
    server_early_stopping,
    single_stream_estimate,
)
from mlmeter.stats.percentile import percentile

_PS = (0.5, 0.9, 0.95, 0.99, 0.999)
_THRESHOLD = 1 - 0.99  # compared in double, as LoadGen does


@pytest.fixture(scope="module")
def scipy_stats() -> ModuleType:
    module: ModuleType = pytest.importorskip("scipy.stats")
    return module


# ------------------------------------------------------------------ reference values


@pytest.mark.parametrize(
    ("p", "h0", "h1", "needed"),
    [(0.90, 44, 63, 64), (0.99, 459, 661, 662), (0.999, 4603, 6635, 6636)],
)
def test_reference_table(p: float, h0: int, h1: int, needed: int) -> None:
    assert min_passing_count(0, p) == h0
    assert min_passing_count(1, p) == h1
    assert queries_needed_single_stream(p) == needed


def test_singlestream_fixture_discard_count() -> None:
    # mlperf_log_summary_singlestream.txt: 1392263 queries at p90, "Would discard 138401".
    n = 1392263
    latencies = np.arange(n, dtype=np.int64)
    estimate = single_stream_estimate(latencies, 0.9)
    assert estimate == EarlyStoppingEstimate(True, n, 64, 138401, n - 138402)
    # The fixture sits right at a boundary: one more query admits one more discard.
    assert min_passing_count(138402, 0.9) + 138402 == n - 9
    assert min_passing_count(138403, 0.9) + 138403 == n + 1
    assert max_overlatency_count(n + 1, 0.9) == 138403


def test_multistream_fixture_discard_count() -> None:
    # mlperf_log_summary_multistream.txt: 294603 queries at p99, "Would discard 2819".
    estimate = single_stream_estimate(np.arange(294603, dtype=np.int64), 0.99)
    assert (estimate.met, estimate.min_queries, estimate.overlatency_discarded) == (True, 662, 2819)


def test_large_run_is_fast() -> None:
    latencies = np.arange(1392263, dtype=np.int64)
    start = time.perf_counter()
    single_stream_estimate(latencies, 0.9)
    min_passing_count(140001, 0.9)  # not cached by other tests
    assert time.perf_counter() - start < 0.5


# ------------------------------------------------------------------ SingleStream / MultiStream


def test_too_few_queries_is_not_met() -> None:
    estimate = single_stream_estimate(np.arange(63, dtype=np.int64), 0.9)
    assert estimate == EarlyStoppingEstimate(False, 63, 64, 0, None)


def test_minimum_queries_reports_the_maximum() -> None:
    latencies = np.arange(100, 164, dtype=np.int64)
    assert single_stream_estimate(latencies, 0.9) == EarlyStoppingEstimate(True, 64, 64, 0, 163)


@settings(deadline=None, max_examples=60)
@given(
    st.lists(st.integers(0, 10**9), min_size=64, max_size=3000),
    st.sampled_from([0.9, 0.95, 0.99]),
)
def test_estimate_is_a_data_element_at_or_above_percentile(values: list[int], p: float) -> None:
    data = np.array(sorted(values), dtype=np.int64)
    estimate = single_stream_estimate(data, p)
    assert estimate.met == (len(values) >= queries_needed_single_stream(p))
    if estimate.estimate_ns is not None:
        assert estimate.estimate_ns in values
        assert estimate.estimate_ns >= percentile(data, p)


@settings(deadline=None, max_examples=80)
@given(st.integers(0, 2 * 10**6), st.sampled_from(_PS))
def test_max_overlatency_count_is_the_largest_passing_t(n: int, p: float) -> None:
    t = max_overlatency_count(n, p)
    assert t >= -1
    if t >= 0:
        assert n >= min_passing_count(t, p) + t
    assert n < min_passing_count(t + 1, p) + t + 1


# ------------------------------------------------------------------ min_passing_count


@settings(deadline=None, max_examples=60)
@given(st.integers(0, 10**5), st.sampled_from(_PS))
def test_min_h_strictly_increases_in_t(t: int, p: float) -> None:
    assert min_passing_count(t + 1, p) > min_passing_count(t, p)


@settings(deadline=None, max_examples=60)
@given(st.integers(0, 10**5), st.sampled_from(_PS[:-1]))
def test_min_h_strictly_increases_in_p(t: int, p: float) -> None:
    higher = _PS[_PS.index(p) + 1]
    assert min_passing_count(t, higher) > min_passing_count(t, p)


@pytest.mark.parametrize(
    ("t", "p"), [(0, 0.9), (1, 0.9), (138402, 0.9), (5, 0.99), (2820, 0.99), (1, 0.999), (7, 0.5)]
)
def test_boundary_agrees_with_scipy(scipy_stats: ModuleType, t: int, p: float) -> None:
    h = min_passing_count(t, p)
    assert scipy_stats.binom.cdf(t, h + t, 1 - p) < _THRESHOLD
    assert scipy_stats.binom.cdf(t, h - 1 + t, 1 - p) >= _THRESHOLD


@settings(deadline=None, max_examples=150)
@given(
    st.integers(0, 2 * 10**6),
    st.floats(0.0, 1.0),
    st.floats(0.01, 0.999),
)
def test_odds_agree_with_scipy(scipy_stats: ModuleType, n: int, u: float, p: float) -> None:
    t = round(u * n)
    expected = float(scipy_stats.binom.cdf(t, n, 1 - p))
    assert overlatency_odds(n - t, t, p) == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_tolerance_lowers_the_requirement() -> None:
    assert min_passing_count(0, 0.9, tolerance=0.01) == 40  # ceil(log(0.01) / log(0.89))
    assert min_passing_count(0, 0.9, confidence=0.95) == 29  # ceil(log(0.05) / log(0.9))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"t": -1, "p": 0.9},
        {"t": 0, "p": 0.0},
        {"t": 0, "p": 1.0},
        {"t": 0, "p": 0.9, "confidence": 1.0},
        {"t": 0, "p": 0.9, "tolerance": 0.9},
        {"t": 0, "p": 0.9, "tolerance": -0.1},
    ],
)
def test_min_passing_count_rejects_bad_input(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        min_passing_count(**kwargs)  # type: ignore[arg-type]


# ------------------------------------------------------------------ Server


def test_clean_server_run_needs_459_queries_at_p99() -> None:
    assert server_early_stopping(458, 0, 0.99) == ServerEarlyStopping(458, 0, False, 1)
    assert server_early_stopping(459, 0, 0.99) == ServerEarlyStopping(459, 0, True, 0)
    assert server_early_stopping(0, 0, 0.99).queries_needed == 459


@settings(deadline=None, max_examples=80)
@given(st.integers(0, 50000), st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_server_rule_is_monotone_in_overlatency(n: int, u1: float, u2: float) -> None:
    k1, k2 = sorted((round(u1 * n * 0.05), round(u2 * n * 0.05)))
    fewer, more = server_early_stopping(n, k1, 0.99), server_early_stopping(n, k2, 0.99)
    assert fewer.queries_needed <= more.queries_needed
    assert fewer.met or not more.met
    assert more.met == (k2 <= max_overlatency_count(n, 0.99))


# ------------------------------------------------------------------ data validation


@pytest.mark.parametrize(
    "fields",
    [
        (True, 10, 64, 0, 5),  # met with n < min_queries
        (False, 63, 64, 0, 5),  # estimate without met
        (True, 64, 64, 0, None),  # met without estimate
        (False, 10, 64, 1, None),  # discards without met
        (True, 64, 64, 64, 5),  # discards everything
        (False, -1, 64, 0, None),
    ],
)
def test_estimate_rejects_inconsistent_fields(
    fields: tuple[bool, int, int, int, int | None],
) -> None:
    with pytest.raises(ValueError):
        EarlyStoppingEstimate(*fields)


@pytest.mark.parametrize("fields", [(10, 11, False, 1), (10, 0, True, 3), (10, 0, False, 0)])
def test_server_result_rejects_inconsistent_fields(fields: tuple[int, int, bool, int]) -> None:
    with pytest.raises(ValueError):
        ServerEarlyStopping(*fields)
