"""The official validity flags and recommendation texts, derived from ``result.checks``.

One place decides VALID/INVALID for the summary, the detail log and results.json, so the
three never disagree: a run is VALID only when ``result.valid`` is true *and* no check
failed. Check codes map onto the official flags by prefix: ``perf_constraints*``,
``min_duration*``, ``min_queries*``/``min_samples*``, ``early_stopping*``; other codes
(mlmeter's own rules) only make the run INVALID and appear in mlmeter's own block.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlmeter.logfmt._records import Check, PerformanceResult
from mlmeter.settings import EffectiveSettings, Scenario

_STREAM_TEXT = "Decrease the expected latency so the loadgen pre-generates more queries."
_MIN_DURATION_TEXT = {
    Scenario.SINGLE_STREAM: _STREAM_TEXT,
    Scenario.MULTI_STREAM: _STREAM_TEXT,
    Scenario.SERVER: "Increase the target QPS so the loadgen pre-generates more queries.",
    Scenario.OFFLINE: (
        "Increase expected QPS so the loadgen pre-generates a larger (coalesced) query."
    ),
}
_PERF_TEXT = "Reduce target QPS to improve latency."
_TTFT_TEXT = "TTFT constrain not met: Reduce target QPS to improve latency."  # sic
_TPOT_TEXT = "TPOT constrain not met: Reduce target QPS to improve latency."  # sic
_EXITED_EARLY = "The test exited early, before enough queries were issued."
_SEE_DETAIL = "   See the detailed log for why this may have occurred."


@dataclass(frozen=True)
class Verdict:
    """The official flags of one performance run, plus every failed check."""

    valid: bool
    perf_constraints_met: bool
    min_duration_met: bool
    min_queries_met: bool
    early_stopping_met: bool
    failed: tuple[Check, ...]


def verdict(result: PerformanceResult) -> Verdict:
    """Map ``result.checks`` onto the official flags."""
    failed = tuple(c for c in result.checks if not c.met)
    codes = [c.code for c in failed]
    return Verdict(
        valid=result.valid and not failed,
        perf_constraints_met=not _any_prefix(codes, ("perf_constraints",)),
        min_duration_met=not _any_prefix(codes, ("min_duration",)),
        min_queries_met=not _any_prefix(codes, ("min_queries", "min_samples")),
        early_stopping_met=not _any_prefix(codes, ("early_stopping",)),
        failed=failed,
    )


def summary_recommendations(
    v: Verdict, result: PerformanceResult, effective: EffectiveSettings
) -> list[str]:
    """The lines under "Recommendations:" (possibly none, as the official)."""
    out = [f" * {text}" for text in _perf_texts(v, result, effective)]
    if not v.min_duration_met:
        out.append(f" * {_MIN_DURATION_TEXT[effective.scenario]}")
    if not v.min_queries_met:
        out.append(f" * {_EXITED_EARLY}\n{_SEE_DETAIL}")
    return out


def invalid_reason(v: Verdict, result: PerformanceResult, effective: EffectiveSettings) -> str:
    """The detail log's ``result_invalid_reason`` (official spacing, "" if only ES failed)."""
    reason = ""
    perf = _perf_texts(v, result, effective)
    if perf:
        reason += "\n * ".join(perf).replace("\n", " ") + " "
    if not v.min_duration_met:
        reason += _MIN_DURATION_TEXT[effective.scenario] + " "
    if not v.min_queries_met:
        reason += _EXITED_EARLY
    return reason


def _perf_texts(v: Verdict, result: PerformanceResult, effective: EffectiveSettings) -> list[str]:
    if v.perf_constraints_met or effective.scenario is not Scenario.SERVER:
        return []
    if not effective.use_token_latencies:
        return [_PERF_TEXT]
    ttft, tpot = _token_failures(v, result, effective)
    return [text for text, bad in ((_TTFT_TEXT, ttft), (_TPOT_TEXT, tpot)) if bad]


def _token_failures(
    v: Verdict, result: PerformanceResult, effective: EffectiveSettings
) -> tuple[bool, bool]:
    """Which token bound failed: from check codes if they say, else from the stats."""
    codes = {c.code for c in v.failed}
    if codes & {"perf_constraints_ttft", "perf_constraints_tpot"}:
        return "perf_constraints_ttft" in codes, "perf_constraints_tpot" in codes
    p = effective.target_latency_percentile
    tokens = result.tokens
    ttft = tpot = False
    if tokens is not None and tokens.ttft is not None:
        ttft = tokens.ttft.percentiles.get(p, 0) > effective.server_ttft_latency_ns
    if tokens is not None and tokens.tpot is not None:
        tpot = tokens.tpot.percentiles.get(p, 0) > effective.server_tpot_latency_ns
    return (ttft or not tpot), tpot


def _any_prefix(codes: list[str], prefixes: tuple[str, ...]) -> bool:
    return any(code.startswith(prefixes) for code in codes)
