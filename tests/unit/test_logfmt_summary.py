"""Summary and detail semantics: validity, recommendations, counts, texts, key order."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlmeter.logfmt import (
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
    es_not_enough_for,
    es_run_unsuccessful,
    es_too_few_queries,
    render_summary,
    requested_items,
    verdict,
)
from mlmeter.settings import EffectiveSettings, Scenario, TestMode, TestSettings, derive

PCTS = {0.5: 10, 0.9: 20, 0.95: 30, 0.97: 40, 0.99: 50, 0.999: 60}
LAT = LatencyStats(count=100, min_ns=5, max_ns=70, mean_ns=25.9, percentiles=PCTS)
HEADER = RunHeader("2026-01-01T00:00:00Z", "SUT", 1, "QSL", 64, 32)


def settings(scenario: Scenario, **kw: object) -> tuple[TestSettings, EffectiveSettings]:
    requested = TestSettings(scenario=scenario, **kw)  # type: ignore[arg-type]
    return requested, derive(requested, 64, 32)


def result_for(
    scenario: Scenario, *checks: Check, valid: bool = True, **kw: object
) -> PerformanceResult:
    fields: dict[str, object] = {
        "target_percentile_latency_ns": 20,
        "qps_with_loadgen_overhead": 10.0,
        "qps_without_loadgen_overhead": 11.0,
        "scheduled_samples_per_sec": 12.0,
        "completed_samples_per_sec": 13.0,
        "samples_per_second": 14.0,
        "overlatency_query_count": 0,
        **kw,
    }
    return PerformanceResult(
        scenario=scenario.value,
        mode="PerformanceOnly",
        sut_name="SUT",
        valid=valid,
        checks=checks,
        early_stopping=EarlyStoppingReport(met=True, lines=("Run successful.",)),
        query_count=100,
        sample_count=100,
        sample_latency=LAT,
        query_latency=LAT,
        **fields,  # type: ignore[arg-type]
    )


def summary(effective: EffectiveSettings, result: PerformanceResult | None, **kw: object) -> str:
    problems = RunProblems(**kw)  # type: ignore[arg-type]
    return render_summary(sut_name="SUT", effective=effective, result=result, problems=problems)


@pytest.mark.parametrize(
    ("warnings", "errors", "tail"),
    [
        (0, 0, "No warnings encountered during test.\n\nNo errors encountered during test.\n"),
        (
            1,
            1,
            "1 warning encountered. See detailed log.\n\n1 ERROR encountered. See detailed log.\n",
        ),
        (
            2,
            3,
            "2 warnings encountered. See detailed log.\n\n"
            "3 ERRORS encountered. See detailed log.\n",
        ),
    ],
)
def test_problem_counts(warnings: int, errors: int, tail: str) -> None:
    _, effective = settings(Scenario.OFFLINE)
    text = summary(effective, None, warnings=("w",) * warnings, errors=("e",) * errors)
    assert text == "\n" + tail  # accuracy mode: only the counts


def test_official_early_stopping_texts() -> None:
    assert es_too_few_queries(10, 64) == (
        "Only processed 10 queries.",
        "Need to process at least 64 queries for early stopping.",
    )
    assert es_run_unsuccessful(58, 401)[2] == (
        "Would need to run at least 401 more queries,\n"
        " with the run being successful if every additional\n"
        " query were under latency."
    )
    assert es_not_enough_for(0.99, 662) == (
        "Not enough queries processed for 99.0th percentile\n"
        " early stopping estimate (would need to process at\n"
        " least 662 total queries)."
    )
    assert es_estimate(64, 100, 2, 0.9, 4517)[0] == "Processed at least 64 queries (100)."
    assert es_estimate_line(0.999, 7) == "Early stopping 99.9th percentile estimate: 7"


@pytest.mark.parametrize(
    ("scenario", "text"),
    [
        (Scenario.SINGLE_STREAM, "Decrease the expected latency so the loadgen pre-generates"),
        (Scenario.MULTI_STREAM, "Decrease the expected latency so the loadgen pre-generates"),
        (Scenario.SERVER, "Increase the target QPS so the loadgen pre-generates more queries."),
        (
            Scenario.OFFLINE,
            "Increase expected QPS so the loadgen pre-generates a larger (coalesced)",
        ),
    ],
)
def test_min_duration_recommendation(scenario: Scenario, text: str) -> None:
    _, effective = settings(scenario)
    result = result_for(scenario, Check("min_duration", False, "ran 1 ms"), valid=False)
    out = summary(effective, result)
    assert f"Recommendations:\n * {text}" in out
    assert "  Min duration satisfied : NO\n" in out


def test_min_queries_recommendation_spans_two_lines() -> None:
    _, effective = settings(Scenario.SERVER)
    result = result_for(Scenario.SERVER, Check("min_queries", False, "3 < 100"), valid=False)
    assert (
        " * The test exited early, before enough queries were issued.\n"
        "   See the detailed log for why this may have occurred.\n"
    ) in summary(effective, result)


def _token_result(ttft99: int, tpot99: int, *checks: Check) -> PerformanceResult:
    ttft = dataclasses.replace(LAT, percentiles={**PCTS, 0.99: ttft99})
    tpot = dataclasses.replace(LAT, percentiles={**PCTS, 0.99: tpot99})
    tokens = TokenStats(400, 40.0, ttft, tpot)
    return result_for(Scenario.SERVER, *checks, valid=False, tokens=tokens)


@pytest.mark.parametrize(
    ("ttft99", "tpot99", "expected"),
    [
        (5000, 1, [" * TTFT constrain not met"]),
        (1, 5000, [" * TPOT constrain not met"]),
        (5000, 5000, [" * TTFT constrain not met", " * TPOT constrain not met"]),
    ],
)
def test_token_perf_recommendations(ttft99: int, tpot99: int, expected: list[str]) -> None:
    _, effective = settings(
        Scenario.SERVER, use_token_latencies=True, server_ttft_latency=1000, server_tpot_latency=100
    )
    result = _token_result(ttft99, tpot99, Check("perf_constraints", False, "too slow"))
    lines = summary(effective, result).splitlines()
    start = lines.index("Recommendations:") + 1
    got = [line[: len(expected[0])] for line in lines[start : start + len(expected)]]
    assert got == expected
    reason = str(_detail(effective, result)["result_invalid_reason"])
    assert reason.endswith("latency. ") and ("  * TPOT" in reason) == (len(expected) == 2)


def _detail(effective: EffectiveSettings, result: PerformanceResult | None) -> dict[str, object]:
    requested = TestSettings(
        scenario=effective.scenario,
        mode=effective.test_mode,
        use_token_latencies=effective.use_token_latencies,
    )
    records = detail_records(
        header=HEADER,
        requested=requested,
        effective=effective,
        run_records=[LogRecord("error_runtime", "x", 5, is_error=True)],
        result=result,
        problems=RunProblems(errors=("x",)),
        end_time_ns=9,
    )
    out: dict[str, object] = {}
    for r in records:
        out.setdefault(r.key, r.value)
    return out


def test_only_early_stopping_failed_gives_an_empty_invalid_reason() -> None:
    _, effective = settings(Scenario.SERVER)
    result = result_for(Scenario.SERVER, Check("early_stopping", False, "es"), valid=False)
    result = dataclasses.replace(
        result, early_stopping=EarlyStoppingReport(False, es_run_unsuccessful(10, 449))
    )
    detail = _detail(effective, result)
    assert detail["result_invalid_reason"] == ""
    assert detail["early_stopping_result"] == (
        " * Run unsuccessful.  * Processed 10 queries.  * Would need to run at least 449 more "
        "queries,  with the run being successful if every additional  query were under latency."
    )
    assert "Recommendations:\nEarly Stopping Result:\n * Run unsuccessful." in summary(
        effective, result
    )


def test_accuracy_mode_detail_has_no_results() -> None:
    _, effective = settings(Scenario.SINGLE_STREAM, mode=TestMode.ACCURACY_ONLY)
    detail = _detail(effective, None)
    assert not [k for k in detail if k.startswith("result_")]
    assert "num_errors" not in detail


def test_num_errors_counts_error_records() -> None:
    _, effective = settings(Scenario.OFFLINE)
    detail = _detail(effective, result_for(Scenario.OFFLINE))
    assert detail["num_errors"] == 1
    assert detail["result_validity"] == "VALID"


@pytest.mark.parametrize(
    ("scenario", "specific"),
    [
        (Scenario.SINGLE_STREAM, ["single_stream_expected_latency_ns", "single_stream_target_"]),
        (
            Scenario.MULTI_STREAM,
            ["multi_stream_expected_latency_ns", "multi_stream_target_", "multi_"],
        ),
        (Scenario.SERVER, ["server_target_qps", "server_target_latency_ns", *["server_"] * 6]),
        (Scenario.OFFLINE, ["offline_expected_qps"]),
    ],
)
def test_requested_keys_per_scenario(scenario: Scenario, specific: list[str]) -> None:
    items = requested_items(TestSettings(scenario=scenario))
    keys = [k.removeprefix("requested_") for k, _ in items]
    assert keys[:2] == ["scenario", "test_mode"]
    for key, prefix in zip(keys[2:], specific, strict=False):
        assert key.startswith(prefix)
    assert keys[2 + len(specific)] == "min_duration_ms"
    assert keys[-1] == "sample_concatenate_permutation"


def test_requested_token_keys() -> None:
    offline = [
        k
        for k, _ in requested_items(
            TestSettings(scenario=Scenario.OFFLINE, use_token_latencies=True)
        )
    ]
    server = [
        k
        for k, _ in requested_items(
            TestSettings(scenario=Scenario.SERVER, use_token_latencies=True)
        )
    ]
    assert offline[-1] == "requested_use_token_latencies"
    assert server[-3:] == [
        "requested_use_token_latencies",
        "requested_server_ttft_latency",
        "requested_server_tpot_latency",
    ]
    values = dict(requested_items(TestSettings(single_stream_expected_latency_ns=1_000_000)))
    assert values["requested_single_stream_expected_latency_ns"] == 1e6  # a double, like LoadGen


def test_token_run_without_token_stats_is_a_bug() -> None:
    _, effective = settings(Scenario.SERVER, use_token_latencies=True)
    with pytest.raises(ValueError, match="token"):
        summary(effective, result_for(Scenario.SERVER))


def test_missing_headline_field_is_named() -> None:
    _, effective = settings(Scenario.OFFLINE)
    with pytest.raises(ValueError, match="samples_per_second"):
        summary(effective, result_for(Scenario.OFFLINE, samples_per_second=None))


def test_concatenate_permutation_warning_and_inferred_tokens() -> None:
    _, effective = settings(Scenario.OFFLINE, sample_concatenate_permutation=True)
    out = summary(effective, result_for(Scenario.OFFLINE, inferred_tokens_per_second=5.50128e7))
    assert "Tokens per second (inferred): 5.50128e+07\nResult is : VALID\n" in out
    assert (
        "accuracy_sample_count : 64\nWARNING: sample_concatenate_permutation was set to true. \n"
        in out
    )


CODES = ["perf_constraints", "min_duration", "min_queries", "early_stopping", "mlmeter_rule"]


@given(
    scenario=st.sampled_from(list(Scenario)),
    met=st.lists(st.booleans(), min_size=len(CODES), max_size=len(CODES)),
    valid=st.booleans(),
)
def test_validity_is_never_contradicted(scenario: Scenario, met: list[bool], valid: bool) -> None:
    checks = tuple(Check(code, ok, f"{code} message") for code, ok in zip(CODES, met, strict=True))
    _, effective = settings(scenario)
    result = result_for(scenario, *checks, valid=valid)
    out = summary(effective, result)
    v = verdict(result)
    assert v.valid == (valid and all(met))
    assert ("Result is : VALID\n" in out) == v.valid
    assert ("Result is : INVALID\n" in out) != v.valid
    assert _detail(effective, result)["result_validity"] == ("VALID" if v.valid else "INVALID")
    if v.valid:
        assert "mlmeter:" not in out and ": NO\n" not in out and "Recommendations" not in out
    else:
        block = out.split("mlmeter: the run is INVALID; rules not met:\n")[1]
        for code, ok in zip(CODES, met, strict=True):
            assert (f" * {code}: {code} message" in block) != ok
