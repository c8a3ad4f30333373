"""``mlperf_log_summary.txt``: byte-compatible with the official LoadGen 6.0.17.

Layout (see ``PerformanceSummary::LogSummary``): header, headline metric, validity flags,
"Recommendations:" when INVALID, the early-stopping block (SS/MS/Server), "Additional
Stats", "Test Parameters Used", then the warning and error counts. Accuracy mode writes
only the counts. When a run is INVALID, mlmeter appends its own block *after* the official
content listing every failed rule with its numbers; its lines start with ``=``, ``mlmeter:``
or `` * `` so the compliance scripts' line matchers (``Result is``, ``Scenario``, ``\\d+
ERROR``, "Early stopping ... percentile estimate", ...) never match them.
"""

from __future__ import annotations

from typing import TypeVar

from mlmeter.logfmt._numfmt import fmt_double, fmt_fixed, fmt_percent_label
from mlmeter.logfmt._records import LatencyStats, PerformanceResult, RunProblems, TokenStats
from mlmeter.logfmt._verdict import Verdict, summary_recommendations, verdict
from mlmeter.settings import EffectiveSettings, Scenario

T = TypeVar("T")
RULE = "=" * 48
_CONCAT_WARNING = (
    "WARNING: sample_concatenate_permutation was set to true. ",
    "Generated samples per query might be different as the one in the setting.",
    "Check the generated_samples_per_query line in the detailed log for the real",
    "samples_per_query value",
)
_SS, _MS, _SERVER, _OFFLINE = (
    Scenario.SINGLE_STREAM,
    Scenario.MULTI_STREAM,
    Scenario.SERVER,
    Scenario.OFFLINE,
)


def render_summary(
    *,
    sut_name: str,
    effective: EffectiveSettings,
    result: PerformanceResult | None,
    problems: RunProblems,
) -> str:
    """The full summary text; ``result=None`` for accuracy mode (counts only)."""
    lines: list[str] = []
    appendix = ""
    if result is not None:
        v = verdict(result)
        lines += _performance_lines(sut_name, effective, result, v)
        appendix = "" if v.valid else _mlmeter_block(v)
    lines += problem_lines(problems)
    return "\n".join(lines) + "\n" + appendix


def problem_lines(problems: RunProblems) -> list[str]:
    """The closing warning and error counts, each after a blank line."""
    return ["", _warning_line(len(problems.warnings)), "", _error_line(len(problems.errors))]


def _warning_line(n: int) -> str:
    if n == 0:
        return "No warnings encountered during test."
    noun = "warning" if n == 1 else "warnings"
    return f"{n} {noun} encountered. See detailed log."


def _error_line(n: int) -> str:
    if n == 0:
        return "No errors encountered during test."
    noun = "ERROR" if n == 1 else "ERRORS"
    return f"{n} {noun} encountered. See detailed log."


def token_stats(effective: EffectiveSettings, result: PerformanceResult) -> TokenStats | None:
    """The token stats when the run uses token latencies (they must then be present)."""
    if not effective.use_token_latencies:
        return None
    if result.tokens is None:
        raise ValueError("use_token_latencies is on but the result carries no token stats")
    return result.tokens


def _performance_lines(
    sut_name: str, effective: EffectiveSettings, result: PerformanceResult, v: Verdict
) -> list[str]:
    tokens = token_stats(effective, result)
    return [
        RULE,
        "MLPerf Results Summary",
        RULE,
        f"SUT name : {sut_name}",
        f"Scenario : {effective.scenario.value}",
        f"Mode     : {effective.test_mode.value}",
        *_headline(effective, result, tokens),
        *_validity(effective, result, v),
        *_early_stopping(effective, result, tokens),
        *_banner("Additional Stats"),
        *_additional_stats(effective, result, tokens),
        *_banner("Test Parameters Used"),
        *_parameters(effective),
    ]


def _banner(title: str) -> list[str]:
    return ["", RULE, title, RULE]


def _headline(
    effective: EffectiveSettings, result: PerformanceResult, tokens: TokenStats | None
) -> list[str]:
    s = effective.scenario
    pct = fmt_percent_label(effective.target_latency_percentile, 1)
    if s in (_SS, _MS):
        latency = need(result.target_percentile_latency_ns, "target_percentile_latency_ns")
        out = [f"{pct}th percentile latency (ns) : {latency}"]
    elif s is _SERVER:
        qps = need(result.completed_samples_per_sec, "completed_samples_per_sec")
        out = [f"Completed samples per second    : {fmt_fixed(qps)}"]
    else:
        qps = need(result.samples_per_second, "samples_per_second")
        out = [f"Samples per second: {fmt_double(qps)}"]
    if tokens is not None:
        out += _token_headline(effective, tokens, pct)
    if result.inferred_tokens_per_second is not None:
        out += _inferred_headline(s, result.inferred_tokens_per_second)
    return out


def _token_headline(effective: EffectiveSettings, tokens: TokenStats, pct: str) -> list[str]:
    s = effective.scenario
    if s is _OFFLINE:
        return [f"Tokens per second: {fmt_double(tokens.tokens_per_second)}"]
    if s is _SERVER:
        return [f"Completed tokens per second: {fmt_fixed(tokens.tokens_per_second)}"]
    ttft = need(tokens.ttft, "ttft").percentiles[effective.target_latency_percentile]
    return [f"{pct}th first token percentile latency (ns) : {ttft}"]


def _inferred_headline(s: Scenario, tps: float) -> list[str]:
    if s is _OFFLINE:
        return [f"Tokens per second (inferred): {fmt_double(tps)}"]
    if s is _SERVER:
        return [f"Completed tokens per second (inferred): {fmt_fixed(tps)}"]
    return []


def _validity(effective: EffectiveSettings, result: PerformanceResult, v: Verdict) -> list[str]:
    out = [f"Result is : {'VALID' if v.valid else 'INVALID'}"]
    if effective.scenario is _SERVER:
        out.append(f"  Performance constraints satisfied : {_yes(v.perf_constraints_met)}")
    out += [
        f"  Min duration satisfied : {_yes(v.min_duration_met)}",
        f"  Min queries satisfied : {_yes(v.min_queries_met)}",
        f"  Early stopping satisfied: {_yes(v.early_stopping_met)}",
    ]
    if not v.valid:
        out += ["Recommendations:", *summary_recommendations(v, result, effective)]
    return out


def _yes(flag: bool) -> str:
    return "Yes" if flag else "NO"


def early_stopping_text(lines: tuple[str, ...]) -> str:
    """One early-stopping block as the official prints it ("" when there is none)."""
    return "\n".join(f" * {line}" for line in lines)


def _early_stopping(
    effective: EffectiveSettings, result: PerformanceResult, tokens: TokenStats | None
) -> list[str]:
    if effective.scenario is _OFFLINE:
        return []
    es = result.early_stopping
    if tokens is None:
        return ["Early Stopping Result:", early_stopping_text(es.lines)]
    return [
        "TTFT Early Stopping Result:",
        early_stopping_text(es.ttft_lines),
        "TPOT Early Stopping Result:",
        early_stopping_text(es.tpot_lines),
    ]


def _additional_stats(
    effective: EffectiveSettings, result: PerformanceResult, tokens: TokenStats | None
) -> list[str]:
    s = effective.scenario
    out = _rate_lines(s, result)
    if s is _MS:
        query_latency = need(result.query_latency, "query_latency")
        out += ["Per-query latency:  ", *_latency_lines(query_latency)]
    else:
        out += _latency_lines(result.sample_latency)
    if tokens is not None:
        out += ["", *_token_stats_lines(s, result, tokens)]
    return out


def _rate_lines(s: Scenario, result: PerformanceResult) -> list[str]:
    if s is _SS:
        with_lg = need(result.qps_with_loadgen_overhead, "qps_with_loadgen_overhead")
        without_lg = need(result.qps_without_loadgen_overhead, "qps_without_loadgen_overhead")
        return [
            f"QPS w/ loadgen overhead         : {fmt_fixed(with_lg)}",
            f"QPS w/o loadgen overhead        : {fmt_fixed(without_lg)}",
            "",
        ]
    if s is _SERVER:
        scheduled = need(result.scheduled_samples_per_sec, "scheduled_samples_per_sec")
        return [f"Scheduled samples per second : {fmt_fixed(scheduled)}"]
    return []


_LATENCY_LABELS = ("Min latency (ns)                : ", "Max latency (ns)                : ")
_LATENCY_TAIL = ("Mean latency (ns)               : ", " percentile latency (ns)   : ")
_TTFT_LABELS = (
    "Min First Token latency (ns)                : ",
    "Max First Token latency (ns)                : ",
)
_TTFT_TAIL = (
    "Mean First Token latency (ns)               : ",
    " percentile first token latency (ns)   : ",
)
_TPOT_LABELS = (
    "Min Time per Output Token (ns)                : ",
    "Max Time per Output Token (ns)                : ",
)
_TPOT_TAIL = (
    "Mean Time per Output Token (ns)               : ",
    " percentile time to output token (ns)   : ",
)


def _latency_lines(st: LatencyStats) -> list[str]:
    return stat_lines(st, _LATENCY_LABELS, *_LATENCY_TAIL)


def stat_lines(st: LatencyStats, min_max: tuple[str, str], mean: str, pct: str) -> list[str]:
    """Min, max, mean (truncated to ns, like the official integer mean) and percentiles."""
    out = [f"{min_max[0]}{st.min_ns}", f"{min_max[1]}{st.max_ns}", f"{mean}{int(st.mean_ns)}"]
    out += [f"{fmt_percent_label(p)}{pct}{st.percentiles[p]}" for p in sorted(st.percentiles)]
    return out


def _token_stats_lines(s: Scenario, result: PerformanceResult, tokens: TokenStats) -> list[str]:
    out: list[str] = []
    if s is _SS:
        out += [
            f"TPS w/ loadgen overhead         : {fmt_fixed(tps_with_overhead(tokens))}",
            f"TPS w/o loadgen overhead        : {fmt_fixed(tps_without_overhead(result, tokens))}",
        ]
    elif s is _SERVER:
        tps = fmt_fixed(tokens.tokens_per_second)
        out.append(f"Completed tokens per second                 : {tps}")
    if s is _OFFLINE:
        return out
    out += stat_lines(need(tokens.ttft, "ttft"), _TTFT_LABELS, *_TTFT_TAIL)
    out.append("")
    out += stat_lines(need(tokens.tpot, "tpot"), _TPOT_LABELS, *_TPOT_TAIL)
    return out


def tps_with_overhead(tokens: TokenStats) -> float:
    """Tokens / issue time of the last query (falls back to ``tokens_per_second``)."""
    if tokens.tokens_per_second_with_overhead is not None:
        return tokens.tokens_per_second_with_overhead
    return tokens.tokens_per_second


def tps_without_overhead(result: PerformanceResult, tokens: TokenStats) -> float:
    """Tokens / (mean sample latency in s x samples), computed if not given."""
    if tokens.tokens_per_second_without_overhead is not None:
        return tokens.tokens_per_second_without_overhead
    busy_s = int(result.sample_latency.mean_ns) * 1e-9 * result.sample_count
    return tokens.total_tokens / busy_s if busy_s > 0 else 0.0


def _parameters(e: EffectiveSettings) -> list[str]:
    if e.use_token_latencies:
        bounds = [
            f"ttft_latency (ns): {e.server_ttft_latency_ns}",
            f"tpot_latency (ns): {e.server_tpot_latency_ns}",
        ]
    else:
        bounds = [f"target_latency (ns): {e.target_latency_ns}"]
    out = [
        f"samples_per_query : {e.samples_per_query}",
        f"target_qps : {fmt_double(e.target_qps)}",
        *bounds,
        f"max_async_queries : {e.max_async_queries}",
        f"min_duration (ms): {e.min_duration_ms}",
        f"max_duration (ms): {e.max_duration_ms}",
        f"min_query_count : {e.min_query_count}",
        f"max_query_count : {e.max_query_count}",
        f"qsl_rng_seed : {e.qsl_rng_seed}",
        f"sample_index_rng_seed : {e.sample_index_rng_seed}",
        f"schedule_rng_seed : {e.schedule_rng_seed}",
        f"accuracy_log_rng_seed : {e.accuracy_log_rng_seed}",
        f"accuracy_log_probability : {fmt_double(e.accuracy_log_probability)}",
        f"accuracy_log_sampling_target : {e.accuracy_log_sampling_target}",
        f"print_timestamps : {int(e.print_timestamps)}",
        f"performance_issue_unique : {int(e.performance_issue_unique)}",
        f"performance_issue_same : {int(e.performance_issue_same)}",
        f"performance_issue_same_index : {e.performance_issue_same_index}",
        f"performance_sample_count : {e.performance_sample_count}",
        f"accuracy_sample_count : {e.accuracy_sample_count}",
    ]
    if e.sample_concatenate_permutation:
        out += _CONCAT_WARNING
    return out


def _mlmeter_block(v: Verdict) -> str:
    """mlmeter's own INVALID block: every failed rule with its message (after the official)."""
    bullets = [_bullet(c.code, c.message) for c in v.failed]
    if not bullets:
        bullets = [" * (no rule recorded a failure, but the run was marked INVALID)"]
    lines = ["", RULE, "mlmeter: the run is INVALID; rules not met:", RULE, *bullets]
    return "\n".join(lines) + "\n"


def _bullet(code: str, message: str) -> str:
    # keep the compliance scripts' ".*Early stopping NNth percentile estimate" off our lines
    text = message.replace("Early stopping", "early stopping").replace("\n", "\n   ")
    return f" * {code}: {text}"


def need(value: T | None, name: str) -> T:
    """The value of a result field that the run's scenario reports."""
    if value is None:
        raise ValueError(f"the performance result has no {name}, which this scenario reports")
    return value
