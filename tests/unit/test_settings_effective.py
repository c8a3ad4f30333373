"""``EffectiveSettings``: derived once from ``TestSettings``, as MLPerf LoadGen derives them.

Rules (reference/loadgen.md §1-§2, ``TestSettingsInternal``):

- SingleStream/MultiStream: target QPS = 1 / expected latency; one query in flight.
- Server: the requested QPS, latency bound, percentile and max async queries.
- Offline: one query of ``max(min_query_count, floor(1.1 x min_duration_s x qps))``
  samples, after which ``min_query_count`` becomes 1 and the target duration 0;
  the percentile is fixed at 0.99 (unused).
- ``min_sample_count = min_query_count x samples_per_query``.
- ``performance_sample_count_override`` (0 = ask the QSL) sets the performance set size.
- ``performance_issue_unique`` and ``performance_issue_same`` exclude each other.

``TestSettings`` validates at construction and every error names the field.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlmeter.errors import SettingsError
from mlmeter.settings import EffectiveSettings, Scenario, TestMode, TestSettings, derive

_QSL_TOTAL, _QSL_PERF = 1000, 100


def _derive(**changes: Any) -> EffectiveSettings:
    return derive(TestSettings(**changes), _QSL_TOTAL, _QSL_PERF)


# ------------------------------------------------------------------ per scenario


def test_single_stream() -> None:
    eff = _derive(
        scenario=Scenario.SINGLE_STREAM,
        single_stream_expected_latency_ns=4_000_000,
        single_stream_target_latency_percentile=0.95,
        min_query_count=70,
        min_duration_ms=1234,
    )
    assert eff.target_qps == pytest.approx(250.0)  # 1 / 4 ms
    assert eff.samples_per_query == 1 and eff.max_async_queries == 1
    assert eff.target_latency_percentile == 0.95
    assert (eff.min_query_count, eff.min_sample_count) == (70, 70)
    assert (eff.min_duration_ms, eff.target_duration_ms) == (1234, 1234)


def test_multi_stream() -> None:
    eff = _derive(
        scenario=Scenario.MULTI_STREAM,
        multi_stream_expected_latency_ns=50_000_000,
        multi_stream_samples_per_query=12,
        min_query_count=662,
    )
    assert eff.target_qps == pytest.approx(20.0)  # 1 / 50 ms, queries (not samples) per second
    assert eff.samples_per_query == 12 and eff.max_async_queries == 1
    assert eff.target_latency_percentile == 0.99
    assert eff.min_sample_count == 662 * 12


def test_server() -> None:
    eff = _derive(
        scenario=Scenario.SERVER,
        server_target_qps=1234.5,
        server_target_latency_ns=15_000_000,
        server_target_latency_percentile=0.999,
        server_max_async_queries=7,
        min_query_count=300,
        min_duration_ms=60_000,
    )
    assert eff.target_qps == 1234.5
    assert eff.target_latency_ns == 15_000_000
    assert eff.target_latency_percentile == 0.999
    assert eff.max_async_queries == 7
    assert eff.samples_per_query == 1
    assert (eff.min_query_count, eff.target_duration_ms) == (300, 60_000)


@pytest.mark.parametrize(
    ("min_duration_ms", "qps", "min_queries", "expected_spq"),
    [
        (600_000, 24576.0 / 660, 24576, 24576),  # resnet50-like: min_query_count wins
        (10_000, 5000.0, 100, 55_000),  # 1.1 x 10 s x 5000
        (1_000, 333.0, 10, 366),  # floor(366.3)
        (50, 10.0, 1, 1),  # floor(0.55) = 0 < min_query_count
    ],
)
def test_offline_query_size(
    min_duration_ms: int, qps: float, min_queries: int, expected_spq: int
) -> None:
    eff = _derive(
        scenario=Scenario.OFFLINE,
        offline_expected_qps=qps,
        min_duration_ms=min_duration_ms,
        min_query_count=min_queries,
    )
    assert eff.samples_per_query == expected_spq
    assert eff.min_query_count == 1  # after folding the run into one query
    assert eff.min_sample_count == expected_spq
    assert eff.target_duration_ms == 0
    assert eff.min_duration_ms == min_duration_ms  # still required of the run
    assert eff.target_qps == qps
    assert eff.target_latency_percentile == 0.99


@given(
    duration_ms=st.integers(min_value=0, max_value=10**7),
    qps=st.floats(min_value=1e-3, max_value=1e7, allow_nan=False, allow_infinity=False),
    min_queries=st.integers(min_value=0, max_value=10**6),
)
def test_offline_query_size_property(duration_ms: int, qps: float, min_queries: int) -> None:
    eff = _derive(
        scenario=Scenario.OFFLINE,
        offline_expected_qps=qps,
        min_duration_ms=duration_ms,
        min_query_count=min_queries,
    )
    floor_target = math.floor(1.1 * (duration_ms / 1000) * qps)
    # Allow one sample for the rounding of the floating-point product.
    assert abs(eff.samples_per_query - max(min_queries, floor_target)) <= 1
    assert eff.samples_per_query >= min_queries
    assert eff.min_query_count == 1


def test_offline_issue_unique_uses_the_performance_set() -> None:
    eff = _derive(
        scenario=Scenario.OFFLINE, offline_expected_qps=1e6, performance_issue_unique=True
    )
    assert eff.samples_per_query == _QSL_PERF
    assert eff.min_query_count == 1


def test_offline_issue_same_keeps_the_duration_derived_size() -> None:
    eff = _derive(
        scenario=Scenario.OFFLINE,
        offline_expected_qps=10_000.0,
        min_duration_ms=50,
        min_query_count=10,
        performance_issue_same=True,
        performance_issue_same_index=3,
    )
    assert eff.samples_per_query == 550  # max(10, 1.1 x 0.05 s x 10000)


def test_single_stream_equal_issue_bumps_min_query_count() -> None:
    eff = _derive(
        scenario=Scenario.SINGLE_STREAM,
        single_stream_expected_latency_ns=1_000_000,
        min_duration_ms=50,
        min_query_count=10,
        sample_concatenate_permutation=True,
    )
    # max(10, 2 x 0.05 s x 1000 qps) = 100, rounded up to the next multiple of the
    # 100-sample set (LoadGen always adds a set, as checked against the wheel): 200.
    assert eff.min_query_count == 200
    assert eff.min_sample_count == 200


# ------------------------------------------------------------------ sample counts


def test_performance_sample_count_comes_from_the_qsl_by_default() -> None:
    eff = _derive()
    assert eff.performance_sample_count == _QSL_PERF
    assert eff.accuracy_sample_count == _QSL_TOTAL


def test_performance_sample_count_override() -> None:
    eff = _derive(performance_sample_count_override=256)
    assert eff.performance_sample_count == 256
    eff = _derive(accuracy_sample_count_override=300)
    assert eff.accuracy_sample_count == 300


def test_qsl_must_report_samples() -> None:
    with pytest.raises(SettingsError, match="QSL"):
        derive(TestSettings(), 0, 0)


# ------------------------------------------------------------------ audit flags


def test_issue_unique_and_same_conflict_names_both_fields() -> None:
    with pytest.raises(SettingsError) as info:
        _derive(performance_issue_unique=True, performance_issue_same=True)
    assert "performance_issue_unique" in str(info.value)
    assert "performance_issue_same" in str(info.value)


@pytest.mark.parametrize("index", [_QSL_PERF, _QSL_PERF + 5])
def test_issue_same_index_must_be_in_the_performance_set(index: int) -> None:
    with pytest.raises(SettingsError, match="performance_issue_same_index"):
        _derive(performance_issue_same=True, performance_issue_same_index=index)
    ok = _derive(performance_issue_same=True, performance_issue_same_index=_QSL_PERF - 1)
    assert ok.performance_issue_same


def test_issue_same_index_is_checked_against_the_override() -> None:
    with pytest.raises(SettingsError, match="performance_issue_same_index"):
        _derive(
            performance_issue_same=True,
            performance_issue_same_index=50,
            performance_sample_count_override=50,
        )


def test_log_items_are_every_field_prefixed() -> None:
    eff = _derive(scenario=Scenario.SERVER, mode=TestMode.ACCURACY_ONLY)
    items = dict(eff.log_items())
    assert items["effective_scenario"] == "Server"
    assert items["effective_test_mode"] == "AccuracyOnly"
    assert len(items) == len(eff.__dataclass_fields__)


# ------------------------------------------------------------------ TestSettings validation


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("min_duration_ms", -1),
        ("max_query_count", -3),
        ("server_target_qps", 0.0),
        ("offline_expected_qps", -1.0),
        ("single_stream_expected_latency_ns", 0),
        ("multi_stream_samples_per_query", 0),
        ("server_target_latency_percentile", 1.0),
        ("single_stream_target_latency_percentile", 0.0),
        ("multi_stream_target_latency_percentile", 99.0),  # a percentage, not a fraction
        ("accuracy_log_probability", 1.5),
        ("qsl_rng_seed", 2**64),
        ("min_query_count", "100"),
        ("min_query_count", 1.5),
        ("min_duration_ms", True),
        ("server_coalesce_queries", 1),
        ("scenario", "Server"),
        ("mode", 2),
    ],
)
def test_invalid_field_is_named(field: str, value: Any) -> None:
    with pytest.raises(SettingsError) as info:
        TestSettings(**{field: value})
    assert str(info.value).startswith(field)


def test_replace_validates_and_suggests() -> None:
    s = TestSettings()
    with pytest.raises(
        SettingsError, match=r"unknown TestSettings field 'min_duraton'.*min_duration"
    ):
        s.replace(min_duraton=5)
    with pytest.raises(SettingsError, match=r"^min_duration_ms"):
        s.replace(min_duration_ms=-5)
    assert s.replace(min_duration_ms=5).min_duration_ms == 5
    assert s.min_duration_ms == 10_000  # frozen: replace returns a copy


def test_ints_are_accepted_for_float_fields() -> None:
    s = TestSettings(server_target_qps=100)
    assert isinstance(s.server_target_qps, float) and s.server_target_qps == 100.0


# ------------------------------------------------------------------ against the official wheel

_OFFICIAL = r"""
import json, sys, tempfile
from pathlib import Path
import mlperf_loadgen as lg
case = json.loads(sys.argv[1])
out = Path(tempfile.mkdtemp())
def issue(samples):
    lg.QuerySamplesComplete([lg.QuerySampleResponse(s.id, 0, 0) for s in samples])
settings = lg.TestSettings()
settings.scenario = getattr(lg.TestScenario, case["scenario"])
settings.mode = lg.TestMode.PerformanceOnly
for k, v in case["settings"].items():
    setattr(settings, k, v)
log_output = lg.LogOutputSettings()
log_output.outdir = str(out)
log_settings = lg.LogSettings()
log_settings.log_output = log_output
log_settings.enable_trace = False
sut = lg.ConstructSUT(issue, lambda: None)
qsl = lg.ConstructQSL(case["total"], case["perf"], lambda i: None, lambda i: None)
lg.StartTestWithLogSettings(sut, qsl, settings, log_settings)
found = {}
for line in (out / "mlperf_log_detail.txt").read_text().splitlines():
    if line.startswith(":::MLLOG"):
        entry = json.loads(line[len(":::MLLOG"):])
        if entry["key"].startswith("effective_"):
            found.setdefault(entry["key"][len("effective_"):], entry["value"])
print(json.dumps(found))
"""

_COMMON: dict[str, Any] = {"min_duration_ms": 50, "min_query_count": 10}
_OFFICIAL_CASES: dict[str, tuple[Scenario, dict[str, Any]]] = {
    "single-stream": (Scenario.SINGLE_STREAM, {"single_stream_expected_latency_ns": 1_000_000}),
    "multi-stream": (
        Scenario.MULTI_STREAM,
        {"multi_stream_expected_latency_ns": 2_000_000, "multi_stream_samples_per_query": 4},
    ),
    "server": (Scenario.SERVER, {"server_target_qps": 2000.0, "server_max_async_queries": 7}),
    "offline": (Scenario.OFFLINE, {"offline_expected_qps": 10_000.0}),
    "offline-unique": (
        Scenario.OFFLINE,
        {"offline_expected_qps": 10_000.0, "performance_issue_unique": True},
    ),
    "offline-equal-issue": (
        Scenario.OFFLINE,
        {"offline_expected_qps": 10_000.0, "sample_concatenate_permutation": True},
    ),
}
_COMPARED = (
    "samples_per_query",
    "target_qps",
    "target_latency_ns",
    "target_latency_percentile",
    "max_async_queries",
    "target_duration_ms",
    "min_duration_ms",
    "min_query_count",
    "min_sample_count",
    "performance_sample_count",
    "accuracy_sample_count",
)


@pytest.mark.parametrize("name", list(_OFFICIAL_CASES))
def test_matches_official_effective_settings(name: str) -> None:
    pytest.importorskip("mlperf_loadgen")
    scenario, fields = _OFFICIAL_CASES[name]
    settings = {**_COMMON, **fields}
    case = {
        "scenario": scenario.value,
        "total": _QSL_TOTAL,
        "perf": _QSL_PERF,
        "settings": settings,
    }
    proc = subprocess.run(
        [sys.executable, "-c", _OFFICIAL, json.dumps(case)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    official = json.loads(proc.stdout)
    ours = derive(TestSettings(scenario=scenario, **settings), _QSL_TOTAL, _QSL_PERF)
    for key in _COMPARED:
        assert getattr(ours, key) == pytest.approx(official[key]), key
