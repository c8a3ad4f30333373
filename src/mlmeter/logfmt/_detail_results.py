"""The ``result_*`` block of the detail log, in the official order per scenario."""

from __future__ import annotations

from mlmeter.logfmt._numfmt import fmt_percent_label
from mlmeter.logfmt._records import LatencyStats, PerformanceResult, TokenStats
from mlmeter.logfmt._summary import (
    early_stopping_text,
    need,
    token_stats,
    tps_with_overhead,
)
from mlmeter.logfmt._verdict import invalid_reason, verdict
from mlmeter.settings import EffectiveSettings, Scenario

_Items = list[tuple[str, object]]


def result_items(effective: EffectiveSettings, result: PerformanceResult) -> _Items:
    """``(key, value)`` pairs from ``result_validity`` up to (not including) ``num_errors``."""
    tokens = token_stats(effective, result)
    items = _validity_items(effective, result, tokens)
    items.append(("result_query_count", result.query_count))
    if effective.scenario is Scenario.SERVER:
        items.append(("result_overlatency_query_count", result.overlatency_query_count or 0))
    items += _scenario_items(effective.scenario, result)
    items += _latency_items(
        result.sample_latency, "result_{}_latency_ns", "result_{}_percentile_latency_ns"
    )
    if tokens is not None:
        items += _token_items(effective.scenario, result, tokens)
    items += _inferred_items(effective.scenario, result)
    return items


def _validity_items(
    effective: EffectiveSettings, result: PerformanceResult, tokens: TokenStats | None
) -> _Items:
    v = verdict(result)
    items: _Items = [("result_validity", "VALID" if v.valid else "INVALID")]
    if effective.scenario is Scenario.SERVER:
        items.append(("result_perf_constraints_met", v.perf_constraints_met))
    items += [
        ("result_min_duration_met", v.min_duration_met),
        ("result_min_queries_met", v.min_queries_met),
        ("early_stopping_met", v.early_stopping_met),
    ]
    if not v.valid:
        items.append(("result_invalid_reason", invalid_reason(v, result, effective)))
    items += _early_stopping_items(effective.scenario, result, tokens)
    return items


def _early_stopping_items(
    scenario: Scenario, result: PerformanceResult, tokens: TokenStats | None
) -> _Items:
    es = result.early_stopping
    offline = scenario is Scenario.OFFLINE

    def flat(lines: tuple[str, ...]) -> str:
        return "" if offline else early_stopping_text(lines).replace("\n", " ")

    if tokens is None:
        return [("early_stopping_result", flat(es.lines))]
    return [
        ("early_stopping_ttft_result", flat(es.ttft_lines)),
        ("early_stopping_tpot_result", flat(es.tpot_lines)),
    ]


def _scenario_items(scenario: Scenario, r: PerformanceResult) -> _Items:
    es = r.early_stopping
    if scenario is Scenario.SINGLE_STREAM:
        return [
            ("result_qps_with_loadgen_overhead", _qps_with(r)),
            ("result_qps_without_loadgen_overhead", _qps_without(r)),
            ("early_stopping_latency_ss", es.estimate_ns or 0),
            ("early_stopping_latency_ms", es.estimate_p99_ns or 0),
        ]
    if scenario is Scenario.MULTI_STREAM:
        query = need(r.query_latency, "query_latency")
        items = _latency_items(
            query, "result_{}_query_latency_ns", "result_{}_percentile_per_query_latency_ns"
        )
        return [*items, ("early_stopping_latency_ms", es.estimate_ns or 0)]
    if scenario is Scenario.SERVER:
        return [
            ("result_scheduled_samples_per_sec", _scheduled(r)),
            ("result_completed_samples_per_sec", _completed(r)),
        ]
    return [("result_samples_per_second", _f(r.samples_per_second, "samples_per_second"))]


def _latency_items(st: LatencyStats, stat_key: str, pct_key: str) -> _Items:
    """min/max/mean keyed by ``stat_key``, percentiles by ``pct_key`` ("{}" = "NN.NN")."""
    items: _Items = [
        (stat_key.format("min"), st.min_ns),
        (stat_key.format("max"), st.max_ns),
        (stat_key.format("mean"), int(st.mean_ns)),
    ]
    items += [
        (pct_key.format(fmt_percent_label(p)), st.percentiles[p]) for p in sorted(st.percentiles)
    ]
    return items


def _token_items(scenario: Scenario, r: PerformanceResult, tokens: TokenStats) -> _Items:
    if scenario is Scenario.OFFLINE:
        return [("result_tokens_per_second", float(tokens.tokens_per_second))]
    ttft = need(tokens.ttft, "ttft")
    tpot = need(tokens.tpot, "tpot")
    items = _latency_items(
        ttft, "result_first_token_{}_latency_ns", "result_first_token_{}_percentile_latency_ns"
    )
    items += [
        ("result_token_throughput_with_loadgen_overhead", float(tps_with_overhead(tokens))),
        ("result_token_throughput", _official_token_throughput(r, tokens)),
    ]
    items += [
        (f"result_time_per_output_token_{fmt_percent_label(p)}_percentile_ns", tpot.percentiles[p])
        for p in sorted(tpot.percentiles)
    ]
    items += [
        ("result_time_to_output_token_min", tpot.min_ns),
        ("result_time_to_output_token_max", tpot.max_ns),
        ("result_time_to_output_token_mean", int(tpot.mean_ns)),
        ("result_completed_tokens_per_second", float(tokens.tokens_per_second)),
    ]
    return items


def _official_token_throughput(r: PerformanceResult, tokens: TokenStats) -> float:
    """LoadGen's value: tokens / (mean latency in ns x samples) — a unit slip, kept as is."""
    busy = int(r.sample_latency.mean_ns) * r.sample_count
    return tokens.total_tokens / busy if busy > 0 else 0.0


def _inferred_items(scenario: Scenario, r: PerformanceResult) -> _Items:
    tps = r.inferred_tokens_per_second
    if tps is None:
        return []
    if scenario is Scenario.SERVER:
        return [("result_inferred_completed_tokens_per_second", float(tps))]
    if scenario is Scenario.OFFLINE:
        return [("result_inferred_tokens_per_second", float(tps))]
    return []


def _qps_with(r: PerformanceResult) -> float:
    return float(need(r.qps_with_loadgen_overhead, "qps_with_loadgen_overhead"))


def _qps_without(r: PerformanceResult) -> float:
    return float(need(r.qps_without_loadgen_overhead, "qps_without_loadgen_overhead"))


def _scheduled(r: PerformanceResult) -> float:
    return float(need(r.scheduled_samples_per_sec, "scheduled_samples_per_sec"))


def _completed(r: PerformanceResult) -> float:
    return float(need(r.completed_samples_per_sec, "completed_samples_per_sec"))


def _f(value: float | None, name: str) -> float:
    return float(need(value, name))
