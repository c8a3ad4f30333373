"""Same seeds, same schedule: the native API and the compat ``mlperf_loadgen`` agree.

Schedules are a pure function of the settings and the named seeds (STYLE.md, 3), so a
harness ported to ``mlmeter.compat.mlperf_loadgen`` must see exactly the sample indices
the native ``start_test`` issues. Both runs issue every generated query (SingleStream:
min_query_count is the generated count and min_duration is tiny; Server: always), so
the whole sequences, not just prefixes, must match.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import mlmeter.compat.mlperf_loadgen as lg
from mlmeter.loadgen import LogSettings, start_test
from mlmeter.settings import (
    OFFICIAL_QSL_RNG_SEED,
    OFFICIAL_SAMPLE_INDEX_RNG_SEED,
    OFFICIAL_SCHEDULE_RNG_SEED,
    Scenario,
    TestSettings,
)
from mlmeter.suts import RecordingQSL, RecordingSUT

_TOTAL, _PERF = 500, 128
_FIELDS: dict[str, Any] = {
    "min_duration_ms": 1,
    "min_query_count": 300,
    "single_stream_expected_latency_ns": 1_000_000,  # 2 ms of queries < 300: count is 300
    "server_target_qps": 20_000.0,
    "qsl_rng_seed": OFFICIAL_QSL_RNG_SEED,
    "sample_index_rng_seed": OFFICIAL_SAMPLE_INDEX_RNG_SEED,
    "schedule_rng_seed": OFFICIAL_SCHEDULE_RNG_SEED,
}
_COMPAT_SCENARIO = {
    Scenario.SINGLE_STREAM: lg.TestScenario.SingleStream,
    Scenario.SERVER: lg.TestScenario.Server,
}


class LoadListQSL(RecordingQSL):
    """Also keeps the loaded indices, in the order the loadgen passed them."""

    def __init__(self) -> None:
        super().__init__(_TOTAL, _PERF)
        self.load_order: list[int] = []

    def load_samples(self, indices: Sequence[int]) -> None:
        super().load_samples(indices)
        self.load_order.extend(indices)


def _native(scenario: Scenario, tmp_path: Path) -> tuple[list[int], list[int]]:
    qsl = LoadListQSL()
    sut = RecordingSUT(qsl=qsl)
    res = start_test(sut, qsl, TestSettings(scenario=scenario, **_FIELDS), LogSettings(tmp_path))
    assert res.error is None and res.record is not None
    assert res.record.queries_issued == res.record.query_count
    assert sut.unloaded_hits == 0
    return sut.indices, qsl.load_order


def _compat(scenario: Scenario, tmp_path: Path) -> tuple[list[int], list[int]]:
    issued: list[int] = []
    loads: list[int] = []

    def issue(samples: Any) -> None:
        issued.extend(q.index for q in samples)
        lg.QuerySamplesComplete([lg.QuerySampleResponse(q.id, 0, 0) for q in samples])

    settings = lg.TestSettings()
    settings.scenario = _COMPAT_SCENARIO[scenario]
    settings.mode = lg.TestMode.PerformanceOnly
    for key, value in _FIELDS.items():
        setattr(settings, key, value)
    log_settings = lg.LogSettings()
    log_settings.log_output.outdir = str(tmp_path)
    sut = lg.ConstructSUT(issue, lambda: None)
    qsl = lg.ConstructQSL(_TOTAL, _PERF, loads.extend, lambda idx: None)
    try:
        lg.StartTestWithLogSettings(sut, qsl, settings, log_settings, "")
    finally:
        lg.DestroyQSL(qsl)
        lg.DestroySUT(sut)
    result = lg.last_result()
    assert result is not None and result.error is None
    return issued, loads


@pytest.mark.parametrize("scenario", list(_COMPAT_SCENARIO), ids=lambda s: s.value)
def test_native_and_compat_issue_the_same_samples(scenario: Scenario, tmp_path: Path) -> None:
    native, native_loads = _native(scenario, tmp_path / "native")
    compat, compat_loads = _compat(scenario, tmp_path / "compat")
    if scenario is Scenario.SINGLE_STREAM:
        assert len(native) == 300  # max(min_query_count, 2 x 1 ms x 1000 qps + 1)
    assert native == compat
    assert native_loads == compat_loads
    # Samples come from the loaded performance set only, drawn with replacement.
    assert set(native) <= set(native_loads)
    assert len(native_loads) == _PERF


def test_different_seeds_give_a_different_schedule(tmp_path: Path) -> None:
    """The comparison above is not vacuous: the seed decides the sample sequence."""
    native, _ = _native(Scenario.SINGLE_STREAM, tmp_path / "a")
    qsl = LoadListQSL()
    sut = RecordingSUT(qsl=qsl)
    other = TestSettings(scenario=Scenario.SINGLE_STREAM, **{**_FIELDS, "sample_index_rng_seed": 1})
    start_test(sut, qsl, other, LogSettings(tmp_path / "b"))
    assert sut.indices != native
