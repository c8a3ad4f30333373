"""``EffectiveSettings``: what a run actually uses, derived once from ``TestSettings``.

The derivation follows the official LoadGen (``TestSettingsInternal``): per-scenario
target QPS and latency percentile, samples per query (Offline folds the whole run
into one query with 10 % slack), and the performance sample count.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mlmeter.errors import SettingsError
from mlmeter.settings._enums import Scenario, TestMode
from mlmeter.settings._test_settings import TestSettings

_NS_PER_S = 1_000_000_000
_OFFLINE_SLACK = 1.1


@dataclass(frozen=True)
class EffectiveSettings:
    """The settings a run uses, in the order of the official ``effective_*`` log keys."""

    scenario: Scenario
    test_mode: TestMode
    samples_per_query: int
    target_qps: float
    target_latency_ns: int
    target_latency_percentile: float
    max_async_queries: int
    target_duration_ms: int
    min_duration_ms: int
    max_duration_ms: int
    min_query_count: int
    max_query_count: int
    min_sample_count: int
    qsl_rng_seed: int
    sample_index_rng_seed: int
    schedule_rng_seed: int
    accuracy_log_rng_seed: int
    accuracy_log_probability: float
    accuracy_log_sampling_target: int
    print_timestamps: bool
    performance_issue_unique: bool
    performance_issue_same: bool
    performance_issue_same_index: int
    performance_sample_count: int
    accuracy_sample_count: int
    sample_concatenate_permutation: bool
    use_token_latencies: bool
    server_ttft_latency_ns: int
    server_tpot_latency_ns: int
    server_coalesce_queries: bool
    response_timeout_ms: int

    def log_items(self) -> list[tuple[str, Any]]:
        """``(effective_<name>, value)`` pairs as the detail log writes them."""
        out: list[tuple[str, Any]] = []
        for name, value in asdict(self).items():
            if isinstance(value, Scenario | TestMode):
                value = value.value
            out.append((f"effective_{name}", value))
        return out


def derive(
    requested: TestSettings, qsl_total_count: int, qsl_performance_count: int
) -> EffectiveSettings:
    """Derive the effective settings for a QSL of the given sizes."""
    if qsl_total_count <= 0 or qsl_performance_count <= 0:
        raise SettingsError("the QSL must report at least one sample (total and performance)")
    perf_count = requested.performance_sample_count_override or qsl_performance_count
    perf_count = min(perf_count, qsl_total_count)
    _check_audit_flags(requested, perf_count)
    qps, latency_ns, percentile, max_async = _scenario_targets(requested)
    spq, min_queries, target_duration_ms = _query_shape(requested, qps, perf_count)
    return EffectiveSettings(
        scenario=requested.scenario,
        test_mode=requested.mode,
        samples_per_query=spq,
        target_qps=qps,
        target_latency_ns=latency_ns,
        target_latency_percentile=percentile,
        max_async_queries=max_async,
        target_duration_ms=target_duration_ms,
        min_duration_ms=requested.min_duration_ms,
        max_duration_ms=requested.max_duration_ms,
        min_query_count=min_queries,
        max_query_count=requested.max_query_count,
        min_sample_count=min_queries * spq,
        qsl_rng_seed=requested.qsl_rng_seed,
        sample_index_rng_seed=requested.sample_index_rng_seed,
        schedule_rng_seed=requested.schedule_rng_seed,
        accuracy_log_rng_seed=requested.accuracy_log_rng_seed,
        accuracy_log_probability=requested.accuracy_log_probability,
        accuracy_log_sampling_target=requested.accuracy_log_sampling_target,
        print_timestamps=requested.print_timestamps,
        performance_issue_unique=requested.performance_issue_unique,
        performance_issue_same=requested.performance_issue_same,
        performance_issue_same_index=requested.performance_issue_same_index,
        performance_sample_count=perf_count,
        accuracy_sample_count=requested.accuracy_sample_count_override or qsl_total_count,
        sample_concatenate_permutation=requested.sample_concatenate_permutation,
        use_token_latencies=requested.use_token_latencies,
        server_ttft_latency_ns=requested.server_ttft_latency,
        server_tpot_latency_ns=requested.server_tpot_latency,
        server_coalesce_queries=requested.server_coalesce_queries,
        response_timeout_ms=requested.response_timeout_ms,
    )


def _check_audit_flags(requested: TestSettings, perf_count: int) -> None:
    if requested.performance_issue_unique and requested.performance_issue_same:
        raise SettingsError(
            "performance_issue_unique and performance_issue_same are exclusive: set one to 0"
        )
    if requested.performance_issue_same and requested.performance_issue_same_index >= perf_count:
        raise SettingsError(
            f"performance_issue_same_index={requested.performance_issue_same_index} is outside "
            f"the performance set of {perf_count} samples"
        )


def _scenario_targets(s: TestSettings) -> tuple[float, int, float, int]:
    """(target_qps, target_latency_ns, percentile, max_async_queries) per scenario."""
    if s.scenario is Scenario.SINGLE_STREAM:
        qps = _NS_PER_S / s.single_stream_expected_latency_ns
        return qps, 0, s.single_stream_target_latency_percentile, 1
    if s.scenario is Scenario.MULTI_STREAM:
        qps = _NS_PER_S / s.multi_stream_expected_latency_ns
        return qps, 0, s.multi_stream_target_latency_percentile, 1
    if s.scenario is Scenario.SERVER:
        return (
            s.server_target_qps,
            s.server_target_latency_ns,
            s.server_target_latency_percentile,
            s.server_max_async_queries,
        )
    return s.offline_expected_qps, 0, 0.99, 1


def _query_shape(s: TestSettings, qps: float, perf_count: int) -> tuple[int, int, int]:
    """(samples_per_query, min_query_count, target_duration_ms), as officially logged."""
    if s.scenario is Scenario.MULTI_STREAM:
        return s.multi_stream_samples_per_query, s.min_query_count, s.min_duration_ms
    if s.scenario is Scenario.SINGLE_STREAM and s.sample_concatenate_permutation:
        # equal-issue: at least 2x the duration's worth, then padded past a whole set
        m = max(s.min_query_count, int(2 * (s.min_duration_ms / 1000.0) * qps))
        return 1, m + perf_count - m % perf_count, s.min_duration_ms
    if s.scenario is not Scenario.OFFLINE:
        return 1, s.min_query_count, s.min_duration_ms
    if s.performance_issue_unique:
        return perf_count, 1, 0
    # the generated query is padded to whole sets in equal-issue mode; the log is not
    target = int(_OFFLINE_SLACK * (s.min_duration_ms / 1000.0) * qps)
    return max(s.min_query_count, target), 1, 0
