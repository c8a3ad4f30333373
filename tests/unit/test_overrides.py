"""``--set name=value``: both vocabularies, scenario-dependent conf keys, and the errors."""

from __future__ import annotations

import pytest

from mlmeter.errors import SettingsError
from mlmeter.settings import (
    OVERRIDE_NAMES,
    Scenario,
    TestMode,
    TestSettings,
    apply_overrides,
    load_test_settings,
)

SS, MS = Scenario.SINGLE_STREAM, Scenario.MULTI_STREAM
SERVER, OFFLINE = Scenario.SERVER, Scenario.OFFLINE


def _set(*texts: str, scenario: Scenario = SERVER) -> TestSettings:
    return apply_overrides(TestSettings(scenario=scenario), texts)


def test_official_attribute_names_in_api_units() -> None:
    s = _set(
        "min_duration_ms=600000",
        "server_target_qps=100",
        "server_target_latency_ns=15000000",
        "single_stream_expected_latency_ns=15e6",
        "qsl_rng_seed=16159082839903944936",
        "accuracy_log_probability=0.5",
    )
    assert (s.min_duration_ms, s.server_target_qps) == (600_000, 100.0)
    assert s.server_target_latency_ns == s.single_stream_expected_latency_ns == 15_000_000
    assert s.qsl_rng_seed == 16159082839903944936
    assert s.accuracy_log_probability == 0.5


def test_binding_names_for_token_latencies_are_in_ns() -> None:
    s = _set("ttft_latency=2000000000", "tpot_latency=200000000")
    assert (s.server_ttft_latency, s.server_tpot_latency) == (2_000_000_000, 200_000_000)


def test_binding_names_refuse_values_that_look_like_ms() -> None:
    with pytest.raises(SettingsError) as info:
        _set("ttft_latency=2000")
    assert str(info.value) == (
        "--set ttft_latency=2000: ttft_latency is in ns here (the official attribute), so 2000 "
        "is under 1 ms; write ttft_latency=2000000000 for 2000 ms, or "
        "server_ttft_latency=2000 if you mean ns"
    )
    assert _set("server_ttft_latency=2000").server_ttft_latency == 2000


@pytest.mark.parametrize(
    ("text", "scenario", "field", "value"),
    [
        ("target_qps=100", SERVER, "server_target_qps", 100.0),
        ("target_qps=100", OFFLINE, "offline_expected_qps", 100.0),
        ("target_latency=15", SERVER, "server_target_latency_ns", 15_000_000),
        ("target_latency=0.5", SS, "single_stream_expected_latency_ns", 500_000),
        ("target_latency=80", MS, "multi_stream_expected_latency_ns", 80_000_000),
        ("target_latency_percentile=99.9", MS, "multi_stream_target_latency_percentile", 0.999),
        ("target_latency_percentile=90", SS, "single_stream_target_latency_percentile", 0.9),
        ("min_duration=600000", OFFLINE, "min_duration_ms", 600_000),
        ("max_duration=5000", SS, "max_duration_ms", 5000),
        ("samples_per_query=4", MS, "multi_stream_samples_per_query", 4),
        ("coalesce_queries=1", SERVER, "server_coalesce_queries", True),
        ("max_async_queries=2", SERVER, "server_max_async_queries", 2),
        ("response_timeout=3000", SS, "response_timeout_ms", 3000),
    ],
)
def test_conf_keys_in_conf_units_for_the_run_scenario(
    text: str, scenario: Scenario, field: str, value: object
) -> None:
    got = getattr(_set(text, scenario=scenario), field)
    assert got == pytest.approx(value) if isinstance(value, float) else got == value


def test_only_the_run_scenario_field_changes() -> None:
    s = _set("target_latency=15", scenario=SERVER)
    assert s.single_stream_expected_latency_ns == TestSettings().single_stream_expected_latency_ns


@pytest.mark.parametrize(
    ("text", "scenario", "message"),
    [
        (
            "target_qps=5",
            SS,
            "target_qps is not used in SingleStream: it applies to Server and Offline",
        ),
        ("target_latency=5", OFFLINE, "target_latency is not used in Offline"),
        ("samples_per_query=2", SERVER, "it applies to MultiStream"),
        ("target_duration=0", SERVER, "target_duration: remove the line"),
        ("min_duration=abc", SERVER, "min_duration takes a whole number (ms), got 'abc'"),
        ("min_duration=-1", SERVER, "min_duration must be >= 0, got -1"),
        ("target_latency_percentile=100", SERVER, "is a percentage in (0, 100), got 100"),
        ("target_latency=0.5", SERVER, "target_latency for Server takes whole ms"),
    ],
)
def test_conf_key_errors_name_the_key_and_what_it_accepts(
    text: str, scenario: Scenario, message: str
) -> None:
    with pytest.raises(SettingsError) as info:
        _set(text, scenario=scenario)
    assert str(info.value).startswith(f"--set {text}: ")
    assert message in str(info.value)


def test_scenario_and_mode() -> None:
    s = _set("scenario=Offline", "mode=accuracy")
    assert (s.scenario, s.mode) == (OFFLINE, TestMode.ACCURACY_ONLY)
    assert _set("mode=3").mode is TestMode.FIND_PEAK_PERFORMANCE
    assert _set("mode=FindPeakPerformance").mode is TestMode.FIND_PEAK_PERFORMANCE


def test_conf_keys_follow_the_last_scenario_given() -> None:
    s = _set("target_qps=100", "scenario=ss", "scenario=Offline", scenario=SERVER)
    assert s.scenario is OFFLINE
    assert s.offline_expected_qps == 100.0 and s.server_target_qps == 1.0


@pytest.mark.parametrize(
    ("text", "value"), [("1", True), ("true", True), ("TRUE", True), ("0", False), ("false", False)]
)
def test_booleans(text: str, value: bool) -> None:
    assert _set(f"print_timestamps={text}", "coalesce_queries=" + text).print_timestamps is value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("min_duraton=5", "unknown setting 'min_duraton' (did you mean 'min_duration'?)"),
        (
            "server_target_qs=5",
            "unknown setting 'server_target_qs' (did you mean 'server_target_qps'?)",
        ),
        ("min_duration", "--set takes name=value, got 'min_duration'"),
        ("=5", "--set takes name=value"),
        ("min_duration=", "--set min_duration=: give a value after '='"),
        (
            "print_timestamps=yes",
            "--set print_timestamps=yes: print_timestamps takes 0/1/true/false, got 'yes'",
        ),
        ("min_query_count=1.5", "min_query_count takes a whole number, got '1.5'"),
        ("server_target_qps=fast", "server_target_qps takes a number, got 'fast'"),
        ("server_target_qps=inf", "server_target_qps takes a number, got 'inf'"),
        ("server_target_qps=0", "--set server_target_qps=0: server_target_qps must be > 0"),
        ("accuracy_log_probability=50", "accuracy_log_probability must be in [0, 1]"),
        ("scenario=sever", "unknown scenario 'sever'"),
        ("mode=fast", "unknown mode 'fast'"),
    ],
)
def test_errors(text: str, message: str) -> None:
    with pytest.raises(SettingsError) as info:
        _set(text)
    assert message in str(info.value)


def test_the_vocabulary_holds_both_names() -> None:
    assert {"min_duration", "min_duration_ms", "ttft_latency", "server_ttft_latency"} <= (
        OVERRIDE_NAMES
    )
    assert "extra" not in OVERRIDE_NAMES


def test_load_applies_overrides_last() -> None:
    s = load_test_settings(
        model="resnet50",
        scenario=SERVER,
        mode=TestMode.ACCURACY_ONLY,
        overrides=["target_latency=20", "mode=performance", "performance_sample_count_override=5"],
    )
    assert s.server_target_latency_ns == 20_000_000  # mlperf.conf says 15 ms
    assert s.mode is TestMode.PERFORMANCE_ONLY
    assert s.performance_sample_count_override == 5
