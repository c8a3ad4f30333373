"""Golden files for every format ``mlmeter.logfmt`` writes.

The five summaries ``summary_{server,singlestream,multistream,offline,llm_server}.txt`` are
built from hand-made records carrying the numbers of the official LoadGen 6.0.17 fixtures;
each golden file was checked once, with a throwaway script, to equal the official fixture
byte for byte. ``summary_llm_offline.txt``, ``summary_accuracy.txt`` and the official part
of ``summary_server_invalid.txt`` (everything before mlmeter's own block) were checked the
same way against summaries written by the official ``mlperf_loadgen`` 6.0.17 wheel, and
``accuracy_log.json`` against the official accuracy-log sample. The detail log's line
format, requested/effective keys and result block were compared with official detail logs.

Tests never read the official files; they compare against ``tests/golden/``. Regenerate
with ``UPDATE_GOLDEN=1 pytest tests/unit/test_logfmt_golden.py`` and review the diff.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from _golden import check_golden
from mlmeter import __version__
from mlmeter.logfmt import (
    AccuracyEntry,
    Check,
    EarlyStoppingReport,
    LatencyStats,
    LogRecord,
    PerformanceResult,
    RunHeader,
    RunProblems,
    TokenStats,
    detail_records,
    es_estimate,
    es_estimate_line,
    es_run_successful,
    es_run_unsuccessful,
    render_summary,
    write_accuracy_log,
    write_detail,
    write_results_json,
    write_trace,
)
from mlmeter.settings import EffectiveSettings, Scenario, TestMode, TestSettings, derive

PCTS = (0.5, 0.9, 0.95, 0.97, 0.99, 0.999)
MLMETER_BLOCK = "\n" + "=" * 48 + "\nmlmeter: "


def stats(mn: int, mx: int, mean: float, *pcts: int) -> LatencyStats:
    return LatencyStats(
        count=0, min_ns=mn, max_ns=mx, mean_ns=mean, percentiles=dict(zip(PCTS, pcts, strict=True))
    )


def flat(ns: int) -> LatencyStats:
    return stats(ns, ns, float(ns), *([ns] * 6))


def passed(*codes: str) -> tuple[Check, ...]:
    return tuple(Check(code, True, f"{code} met") for code in codes)


SERVER_CHECKS = ("perf_constraints", "min_duration", "min_queries", "early_stopping")
STREAM_CHECKS = ("min_duration", "min_queries", "early_stopping")


def effective_for(settings: TestSettings, total: int = 1024, perf: int = 1024) -> EffectiveSettings:
    return derive(settings, total, perf)


# ---------------------------------------------------------------- the official fixtures


def server_case() -> tuple[TestSettings, EffectiveSettings, PerformanceResult, RunProblems]:
    req = TestSettings(
        scenario=Scenario.SERVER,
        server_target_qps=1000,
        server_target_latency_ns=15_000_000,
        min_duration_ms=5000,
    )
    result = PerformanceResult(
        scenario="Server",
        mode="PerformanceOnly",
        sut_name="PySUT",
        valid=True,
        checks=passed(*SERVER_CHECKS),
        early_stopping=EarlyStoppingReport(met=True, lines=es_run_successful()),
        query_count=4944,
        sample_count=4944,
        sample_latency=stats(
            2426, 3493874, 102304.6, 88199, 125509, 132475, 140736, 281393, 2357123
        ),
        query_latency=None,
        scheduled_samples_per_sec=988.87,
        completed_samples_per_sec=988.85,
        overlatency_query_count=3,
        duration_ns=4_998_700_000,
    )
    return req, effective_for(req), result, RunProblems()


def singlestream_case() -> tuple[EffectiveSettings, PerformanceResult, RunProblems]:
    req = TestSettings(single_stream_expected_latency_ns=2447, min_duration_ms=5000)
    es = EarlyStoppingReport(
        met=True,
        lines=(*es_estimate(64, 1392263, 138401, 0.9, 1642), es_estimate_line(0.99, 3545)),
        estimate_ns=1642,
        estimate_p99_ns=3545,
    )
    result = PerformanceResult(
        scenario="SingleStream",
        mode="PerformanceOnly",
        sut_name="PySUT",
        valid=True,
        checks=passed(*STREAM_CHECKS),
        early_stopping=es,
        query_count=1392263,
        sample_count=1392263,
        sample_latency=stats(1221, 13792185, 1921.4, 1412, 1642, 1923, 2254, 3536, 6520),
        query_latency=None,
        target_percentile_latency_ns=1642,
        qps_with_loadgen_overhead=278452.38,
        qps_without_loadgen_overhead=520562.21,
    )
    return effective_for(req), result, RunProblems(warnings=("a warning",))


def multistream_case() -> tuple[EffectiveSettings, PerformanceResult, RunProblems]:
    req = TestSettings(
        scenario=Scenario.MULTI_STREAM,
        multi_stream_expected_latency_ns=2447,
        min_duration_ms=5000,
        min_query_count=662,
    )
    es = EarlyStoppingReport(
        met=True, lines=es_estimate(662, 294603, 2819, 0.99, 10105), estimate_ns=10105
    )
    query = stats(5377, 8128319, 11560.0, 5668, 5979, 7241, 8022, 9925, 4040610)
    result = PerformanceResult(
        scenario="MultiStream",
        mode="PerformanceOnly",
        sut_name="PySUT",
        valid=True,
        checks=passed(*STREAM_CHECKS),
        early_stopping=es,
        query_count=294603,
        sample_count=294603 * 8,
        sample_latency=stats(1000, 8128000, 1400.0, 1100, 1200, 1300, 1400, 1500, 1600),
        query_latency=query,
        target_percentile_latency_ns=9925,
    )
    return effective_for(req), result, RunProblems(warnings=("a warning",))


def offline_case() -> tuple[EffectiveSettings, PerformanceResult, RunProblems]:
    req = TestSettings(scenario=Scenario.OFFLINE, offline_expected_qps=1433976)
    result = PerformanceResult(
        scenario="Offline",
        mode="PerformanceOnly",
        sut_name="PySUT",
        valid=True,
        checks=passed(*STREAM_CHECKS),
        early_stopping=EarlyStoppingReport(met=True, lines=()),
        query_count=1,
        sample_count=15773736,
        sample_latency=flat(21651564432),
        query_latency=None,
        samples_per_second=15773736 / 21.651564432,
    )
    return effective_for(req), result, RunProblems(warnings=("w",) * 9962)


def llm_server_case() -> tuple[EffectiveSettings, PerformanceResult, RunProblems]:
    req = TestSettings(
        scenario=Scenario.SERVER,
        server_target_qps=200,
        min_duration_ms=3000,
        use_token_latencies=True,
        server_ttft_latency=2_000_000_000,
        server_tpot_latency=200_000_000,
    )
    tokens = TokenStats(
        total_tokens=5946,
        tokens_per_second=1982.36,
        ttft=stats(6365, 3580282, 113027.0, 98219, 144100, 160955, 173414, 246485, 3580282),
        tpot=stats(141, 3901, 401.0, 345, 698, 831, 908, 1042, 3901),
        tokens_per_second_with_overhead=1982.4,
    )
    result = PerformanceResult(
        scenario="Server",
        mode="PerformanceOnly",
        sut_name="PySUT",
        valid=True,
        checks=passed(*SERVER_CHECKS),
        early_stopping=EarlyStoppingReport(
            met=True, lines=(), ttft_lines=es_run_successful(), tpot_lines=es_run_successful()
        ),
        query_count=594,
        sample_count=594,
        sample_latency=stats(
            7737, 3584348, 116640.0, 100903, 149934, 167962, 180410, 252078, 3584348
        ),
        query_latency=None,
        scheduled_samples_per_sec=197.91,
        completed_samples_per_sec=197.90,
        overlatency_query_count=0,
        tokens=tokens,
    )
    return effective_for(req), result, RunProblems()


def llm_offline_case() -> tuple[EffectiveSettings, PerformanceResult, RunProblems]:
    req = TestSettings(
        scenario=Scenario.OFFLINE,
        offline_expected_qps=1000,
        min_duration_ms=0,
        use_token_latencies=True,
    )
    tokens = TokenStats(total_tokens=400, tokens_per_second=400 / 178006e-9, ttft=None, tpot=None)
    result = PerformanceResult(
        scenario="Offline",
        mode="PerformanceOnly",
        sut_name="PySUT",
        valid=True,
        checks=passed(*STREAM_CHECKS),
        early_stopping=EarlyStoppingReport(met=True, lines=()),
        query_count=1,
        sample_count=100,
        sample_latency=flat(178006),
        query_latency=None,
        samples_per_second=100 / 178006e-9,
        tokens=tokens,
    )
    return effective_for(req, 64, 32), result, RunProblems()


def server_invalid_case() -> tuple[EffectiveSettings, PerformanceResult, RunProblems]:
    req = TestSettings(
        scenario=Scenario.SERVER,
        server_target_qps=500,
        server_target_latency_ns=1000,
        min_duration_ms=500,
    )
    checks = (
        Check("perf_constraints", False, "p99 latency 143670 ns exceeds target_latency 1000 ns"),
        Check("min_duration", True, "ran 506 ms >= min_duration 500 ms"),
        Check("min_queries", True, "235 queries >= min_query_count 100"),
        Check(
            "early_stopping",
            False,
            "235 of 235 queries over 1000 ns: 27066 more under-latency queries needed",
        ),
    )
    result = PerformanceResult(
        scenario="Server",
        mode="PerformanceOnly",
        sut_name="PySUT",
        valid=False,
        checks=checks,
        early_stopping=EarlyStoppingReport(met=False, lines=es_run_unsuccessful(235, 27066)),
        query_count=235,
        sample_count=235,
        sample_latency=stats(3322, 394646, 85492.0, 79753, 104434, 112329, 114483, 143670, 394646),
        query_latency=None,
        scheduled_samples_per_sec=467.84,
        completed_samples_per_sec=467.77,
        overlatency_query_count=235,
    )
    return effective_for(req, 64, 32), result, RunProblems()


CASES = {
    "summary_server.txt": lambda: server_case()[1:],
    "summary_singlestream.txt": singlestream_case,
    "summary_multistream.txt": multistream_case,
    "summary_offline.txt": offline_case,
    "summary_llm_server.txt": llm_server_case,
    "summary_llm_offline.txt": llm_offline_case,
    "summary_server_invalid.txt": server_invalid_case,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_summary_golden(name: str) -> None:
    effective, result, problems = CASES[name]()
    text = render_summary(sut_name="PySUT", effective=effective, result=result, problems=problems)
    check_golden(name, text)


@pytest.mark.parametrize("name", sorted(CASES))
def test_only_invalid_runs_carry_the_mlmeter_block(name: str) -> None:
    effective, result, problems = CASES[name]()
    text = render_summary(sut_name="PySUT", effective=effective, result=result, problems=problems)
    official, _, ours = text.partition(MLMETER_BLOCK)
    assert official.endswith("No errors encountered during test.\n")
    assert ("Result is : VALID\n" in text) == result.valid
    if result.valid:
        assert ours == ""
    else:
        for check in result.checks:
            assert (f" * {check.code}: {check.message}" in ours) == (not check.met)


def test_accuracy_mode_summary_golden() -> None:
    effective = effective_for(TestSettings(mode=TestMode.ACCURACY_ONLY))
    text = render_summary(
        sut_name="PySUT", effective=effective, result=None, problems=RunProblems()
    )
    check_golden("summary_accuracy.txt", text)


# ---------------------------------------------------------------- the other formats


def test_detail_golden(tmp_path: Path) -> None:
    """A Server run's full detail log; pid/tid fixed to 1, times synthetic."""
    requested, effective, result, problems = server_case()
    header = RunHeader(
        test_datetime="2026-11-28T18:21:06Z",
        sut_name="PySUT",
        get_sut_name_duration_ns=450,
        qsl_name="PyQSL",
        qsl_total_count=1024,
        qsl_performance_count=1024,
        tool_version="0.0.0",
        loadgen_version="6.0.17 @ mlmeter-0.0.0",
        file_sha1={"/loadgen/issuer.py": "0123456789abcdef0123456789abcdef01234567"},
    )
    run = [
        LogRecord("generic_message", "Starting performance mode", 24_827, source="session.py"),
        LogRecord("loaded_qsl_set", [3, 0, 2, 1], 31_867, source="session.py"),
        LogRecord("generated_query_count", 4944, 2_064_060, source="schedule.py"),
        LogRecord("generated_samples_per_query", 1, 2_064_060, source="schedule.py"),
        LogRecord("generated_query_duration", 5_000_100_000, 2_064_060, source="schedule.py"),
        LogRecord(
            "warning_generic_message",
            'a "quoted" warning\nwith a newline',
            3_000_000,
            is_warning=True,
            source="issuer.py",
            line_no=42,
        ),
        LogRecord("power_begin", "11-28-2026 18:21:06.100", 5_100_000_000, source="session.py"),
        LogRecord("power_end", "11-28-2026 18:21:11.100", 5_100_000_000, source="session.py"),
    ]
    records = detail_records(
        header=header,
        requested=requested,
        effective=effective,
        run_records=run,
        result=result,
        problems=problems,
        end_time_ns=5_100_123_456,
    )
    path = tmp_path / "mlperf_log_detail.txt"
    write_detail(path, records, pid=1, tid=1)
    check_golden("detail_server.txt", path.read_text(encoding="utf-8"))


def test_accuracy_log_golden(tmp_path: Path) -> None:
    """The official sample's 16 entries (equal to it byte for byte)."""
    order = (0, 2, 13, 11, 10, 15, 9, 14, 4, 3, 5, 8, 7, 1, 12, 6)
    data = bytes.fromhex("000000000000803F0000004000004040")
    path = tmp_path / "acc.json"
    write_accuracy_log(path, (AccuracyEntry(i, idx, data) for i, idx in enumerate(order)))
    check_golden("accuracy_log.json", path.read_text(encoding="utf-8"))


def test_accuracy_log_tokens_golden(tmp_path: Path) -> None:
    """Token runs: ``token_data`` + ``token_count`` (Server), ``token_count`` only (Offline)."""
    data = bytes.fromhex("01000000020000000300000004000000")
    entries = [
        AccuracyEntry(0, 48, data, token_data=bytes.fromhex("01000000"), token_count=4),
        AccuracyEntry(1, 13, b"\xab\xcd", token_count=2),
        AccuracyEntry(2, 7, b""),
    ]
    path = tmp_path / "acc.json"
    write_accuracy_log(path, entries)
    check_golden("accuracy_log_tokens.json", path.read_text(encoding="utf-8"))


def test_trace_golden(tmp_path: Path) -> None:
    path = tmp_path / "trace.json"
    write_trace(
        path,
        origin_ns=1_000,
        sample_seq=np.array([0, 1, 2, 3]),
        query_seq=np.array([0, 1, 2, 3]),
        sample_index=np.array([18, 12, 5, 7]),
        scheduled_ns=np.array([131_906, 1_929_026, 2_000_000, 3_000_000]),
        issue_ns=np.array([131_976, 2_004_040, 2_000_500, -1]),
        complete_ns=np.array([146_077, 2_008_546, -1, -1]),
        pid=4824,
        wall_origin_ns=1_795_893_601_170_500_500,
    )
    text = path.read_text(encoding="utf-8")
    text = text.replace(f'"mlmeter {__version__}"', '"mlmeter VERSION"')
    check_golden("trace.json", text)


def test_results_json_golden(tmp_path: Path) -> None:
    requested, effective, result, _ = server_case()
    header = RunHeader(
        test_datetime="2026-11-28T18:21:06Z",
        sut_name="PySUT",
        get_sut_name_duration_ns=450,
        qsl_name="PyQSL",
        qsl_total_count=1024,
        qsl_performance_count=1024,
        tool_version="0.0.0",
        loadgen_version="6.0.17 @ mlmeter-0.0.0",
    )
    path = tmp_path / "results.json"
    write_results_json(
        path,
        requested=requested,
        effective=effective,
        result=result,
        problems=RunProblems(warnings=("a warning",)),
        header=header,
        system={"host": "test-host", "cpus": 16},
        provenance={"git": {"commit": "0" * 40, "dirty": False}, "seeds": {"schedule": 0}},
    )
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["tool"]["version"] = "VERSION"  # the one field that changes with every release
    check_golden("results.json", json.dumps(doc, indent=2) + "\n")
