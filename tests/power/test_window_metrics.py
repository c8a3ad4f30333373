"""Window join and MLPerf power metrics, against hand-applied official formulas."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from mlmeter.errors import UsageError, UserError
from mlmeter.loadgen._outputs import _power_time
from mlmeter.power._metrics import (
    inference_power,
    interval_energy,
    ranging_problems,
    training_energy,
    window_stats,
)
from mlmeter.power._model import PowerSample
from mlmeter.power._timefmt import parse_power_time
from mlmeter.power._window import (
    CLOCK_LIMIT_CHECKER_S,
    ClockOffset,
    PowerWindow,
    in_window,
    measure_offset,
    window_from_detail,
)

T0 = 1_700_000_000.0
_WATTS = st.floats(min_value=0.5, max_value=5000, allow_nan=False)


def _detail(path: Path, entries: dict[str, object]) -> Path:
    lines = [":::MLLOG " + json.dumps({"key": k, "value": v}) for k, v in entries.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_window_comes_from_the_loadgens_stamps(tmp_path: Path) -> None:
    begin_ns, end_ns = 1_700_000_000_123_456_789, 1_700_000_600_987_654_321
    log = _detail(
        tmp_path / "mlperf_log_detail.txt",
        {
            "test_mode": "PerformanceOnly",
            "power_begin": _power_time(begin_ns),
            "power_end": _power_time(end_ns),
        },
    )
    w = window_from_detail(log)
    assert w.begin_utc == pytest.approx(1_700_000_000.123, abs=1e-6)
    assert w.end_utc == pytest.approx(1_700_000_600.987, abs=1e-6)
    assert w.duration_s == pytest.approx(600.864, abs=1e-6)


def test_a_log_without_the_stamps_says_so(tmp_path: Path) -> None:
    log = _detail(tmp_path / "d.txt", {"test_mode": "AccuracyOnly"})
    with pytest.raises(UserError, match="no power_begin/power_end"):
        window_from_detail(log)


def test_window_is_strict_and_drops_non_positive_watts() -> None:
    w = PowerWindow(T0, T0 + 10)
    samples = [
        PowerSample(T0, 5.0),
        PowerSample(T0 + 1, 0.0),
        PowerSample(T0 + 2, -3.0),
        PowerSample(T0 + 5, 7.0),
        PowerSample(T0 + 3, 6.0),
        PowerSample(T0 + 10, 9.0),
    ]
    assert [s.t_utc - T0 for s in in_window(samples, w)] == [3, 5]


@given(st.lists(st.tuples(st.floats(-5, 15), st.floats(-10, 100)), max_size=40))
def test_in_window_keeps_exactly_the_official_selection(pairs: list[tuple[float, float]]) -> None:
    w = PowerWindow(T0, T0 + 10)
    samples = [PowerSample(T0 + dt, watts) for dt, watts in pairs]
    official = [s for s in samples if T0 < s.t_utc < T0 + 10 and s.watts > 0]
    assert sorted(in_window(samples, w), key=lambda s: s.t_utc) == sorted(
        official, key=lambda s: s.t_utc
    )


def test_window_ending_before_it_begins_is_refused() -> None:
    with pytest.raises(UserError, match="ends before it begins"):
        PowerWindow(T0, T0 - 1)


@given(_WATTS, st.lists(st.floats(0.001, 9.999), min_size=1, max_size=50, unique=True))
def test_constant_power_integrates_exactly(watts: float, offsets: list[float]) -> None:
    samples = [PowerSample(T0 + o, watts) for o in sorted(offsets)]
    assert interval_energy(samples, T0, T0 + 10) == pytest.approx(watts * 10, rel=1e-9)


@given(st.lists(_WATTS, min_size=1, max_size=50), st.floats(0.01, 2.0))
def test_interval_averages_integrate_exactly(levels: list[float], step: float) -> None:
    # a meter that reports the average over its last period: power `levels[i]` on
    # (i*step, (i+1)*step], stamped at the period's end
    # (times from 0: epoch-sized floats only resolve 0.2 us, which is not what is tested here)
    samples = [PowerSample((i + 1) * step, w) for i, w in enumerate(levels)]
    expected = math.fsum(w * step for w in levels)
    assert interval_energy(samples, 0.0, len(levels) * step) == pytest.approx(expected, rel=1e-9)


def test_window_stats_hand_computed() -> None:
    w = PowerWindow(T0, T0 + 4)
    samples = [PowerSample(T0 + t, watts) for t, watts in [(1, 100), (2, 200), (3, 300)]]
    stats = window_stats(samples, w, interval_s=1.0)
    assert (stats.samples, stats.avg_watts, stats.min_watts, stats.max_watts) == (3, 200, 100, 300)
    assert stats.energy_j == pytest.approx(100 * 1 + 200 * 1 + 300 * 1 + 300 * 1)
    assert stats.expected_samples == 4 and stats.coverage == 0.75
    assert stats.problems and "3 samples" in stats.problems[0] and "75.0 %" in stats.problems[0]


def test_a_silent_meter_cannot_pass_as_zero_watts() -> None:
    w = PowerWindow(T0, T0 + 600)
    stats = window_stats([PowerSample(T0 + i, 0.0) for i in range(1, 600)], w, interval_s=1.0)
    assert stats.avg_watts is None and stats.energy_j is None and stats.coverage == 0
    assert stats.problems == (
        "power samples missing: 0 samples with W > 0 in the 600.000 s window, 600 expected"
        " (coverage 0.0 %, at least 90 % needed)",
    )


@given(st.floats(0.1, 1e4), st.floats(1, 1e4), st.floats(0.1, 1e6))
def test_throughput_scenarios(avg: float, duration: float, sps: float) -> None:
    for name in ("Offline", "Server", "Interactive"):
        p = inference_power(name, avg, duration, samples_per_second=sps)
        assert (p.scenario, p.metric, p.metric_unit) == (name, avg, "Watts")
        assert p.samples_per_joule == pytest.approx(sps / avg)
        assert p.energy_j == pytest.approx(avg * duration)


def test_singlestream_hand_computed() -> None:
    # 50 W for 600 s over 12000 queries: 30 kJ / 12000 = 2.5 J = 2500 mJ per query
    p = inference_power("SingleStream", 50.0, 600.0, query_count=12000)
    assert p.metric == pytest.approx(2500.0) and p.metric_unit == "millijoules"
    assert p.samples_per_joule == pytest.approx(0.4)


def test_multistream_counts_eight_samples_a_query() -> None:
    p = inference_power("multi-stream", 120.0, 660.0, query_count=270336)
    mj = 120.0 * 660.0 * 1000 / 270336
    assert p.scenario == "MultiStream" and p.metric == pytest.approx(mj)
    assert p.samples_per_joule == pytest.approx(8 * 1000 / mj)


@given(st.floats(0.1, 1e4), st.floats(1, 1e4), st.integers(1, 10**7), st.integers(1, 64))
def test_per_query_efficiency_is_the_inverse(avg: float, dur: float, n: int, spq: int) -> None:
    p = inference_power("SingleStream", avg, dur, query_count=n, samples_per_query=spq)
    assert p.metric * p.samples_per_joule == pytest.approx(spq * 1000)
    assert p.metric * n / 1000 == pytest.approx(p.energy_j)


def test_metric_inputs_are_checked() -> None:
    with pytest.raises(UsageError, match="samples_per_second"):
        inference_power("Offline", 1.0, 1.0)
    with pytest.raises(UsageError, match="result_query_count"):
        inference_power("SingleStream", 1.0, 1.0, query_count=0)
    with pytest.raises(UsageError, match="unknown scenario 'Batch'"):
        inference_power("Batch", 1.0, 1.0)


def test_training_energy_at_one_hertz() -> None:
    samples = [PowerSample(T0 + i, 300.0) for i in range(1, 121)]
    e = training_energy(samples, T0, T0 + 120)
    assert e.energy_j == pytest.approx(300 * 120) and e.samples == 120 and e.problems == ()


def test_training_rules_report_slow_and_short_runs() -> None:
    slow = training_energy([PowerSample(T0 + 2 * i, 10.0) for i in range(1, 61)], T0, T0 + 120)
    assert len(slow.problems) == 1 and "0.500 Hz" in slow.problems[0]
    short = training_energy([PowerSample(T0 + i, 10.0) for i in range(1, 31)], T0, T0 + 30)
    assert len(short.problems) == 1 and "only 30 power samples" in short.problems[0]


@given(st.floats(1, 1e4), st.floats(0.5, 1.5))
def test_ranging_rule_matches_the_checker(ranging: float, ratio: float) -> None:
    testing = ranging * ratio
    delta = round((round(testing, 5) / round(ranging, 5) - 1) * 100, 2)
    problems = ranging_problems(ranging, testing)
    assert bool(problems) == (not delta > -5)
    if problems:
        assert str(round(testing, 5)) in problems[0] and str(round(ranging, 5)) in problems[0]


def test_ranging_rule_edges() -> None:
    assert ranging_problems(100.0, 95.01) == ()
    assert ranging_problems(100.0, 95.0)  # exactly 5 % below fails: delta must be > -5
    assert "5.10 % below ranging 100.0 W" in ranging_problems(100.0, 94.9)[0]


def test_clock_offset_measured_at_the_midpoint() -> None:
    ticks = itertools.count(start=T0, step=0.1)  # local: T0, T0 + 0.1
    off = measure_offset(lambda: T0 + 0.55, lambda: next(ticks))
    assert off.offset_s == pytest.approx(0.5) and off.round_trip_s == pytest.approx(0.1)
    assert off.problems()[0].startswith("clock offset +500 ms")
    assert off.problems(CLOCK_LIMIT_CHECKER_S) == ()
    assert ClockOffset(-0.3, 0.0).problems() == ()


@given(st.integers(0, 4 * 10**18))
def test_parsed_windows_are_what_the_loadgen_meant(wall_ns: int) -> None:
    assume(wall_ns < 4_102_444_800 * 10**9)
    assert abs(parse_power_time(_power_time(wall_ns)) - wall_ns / 1e9) <= 1e-3 + 1e-6
