"""From a ``RunRecord`` to a ``PerformanceResult``: the official formulas, with reasons.

Latency origins (MLPerf): SingleStream/MultiStream count from the issue time,
Server from the *scheduled* time (a late issue counts against the SUT), Offline
from the test start. Percentiles take element ``floor(n * p)`` of the sorted list.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlmeter.logfmt import (
    Check,
    EarlyStoppingReport,
    LatencyStats,
    PerformanceResult,
    TokenStats,
    es_estimate,
    es_estimate_line,
    es_not_enough_for,
    es_run_successful,
    es_run_unsuccessful,
    es_too_few_queries,
)
from mlmeter.settings import EffectiveSettings, Scenario
from mlmeter.stats._run_record import NOT_SET, IntArray, RunRecord
from mlmeter.stats.early_stopping import server_early_stopping, single_stream_estimate
from mlmeter.stats.percentile import REPORTED_PERCENTILES, percentile, percentiles

_NS = 1e9


_NO_FIRST_TOKEN = "Attempted to record a sample latency before it's first token latency"
_FEW_TOKENS = "Number of tokens need to be greater than 1"
_MAX_PER_SAMPLE_ERRORS = 10_000


def token_errors(rec: RunRecord, eff: EffectiveSettings) -> list[str]:
    """The official per-sample errors of a token run (missing first token, n_tokens <= 1)."""
    if not eff.use_token_latencies or rec.n_tokens.size == 0:
        return []
    ns = rec.samples_issued
    answered = rec.completed_ns[:ns] != NOT_SET
    out: list[str] = []
    if eff.scenario is not Scenario.OFFLINE:
        missing = int(np.count_nonzero(answered & (rec.first_token_ns[:ns] == NOT_SET)))
        out += _capped(_NO_FIRST_TOKEN, missing)
    few = int(np.count_nonzero(answered & (rec.n_tokens[:ns] <= 1)))
    return out + _capped(_FEW_TOKENS, few)


def _capped(message: str, count: int) -> list[str]:
    shown = min(count, _MAX_PER_SAMPLE_ERRORS)
    extra = [f"{message}: {count - shown} more sample(s) not listed"] if count > shown else []
    return [message] * shown + extra


def latency_stats(values: IntArray, *, is_sorted: bool = False) -> LatencyStats:
    """Min/max/mean and the reported percentiles of ``values``."""
    if values.size == 0:
        return LatencyStats(0, 0, 0, 0.0, {p: 0 for p in REPORTED_PERCENTILES})
    s = values if is_sorted else np.sort(values)
    return LatencyStats(
        count=int(s.size),
        min_ns=int(s[0]),
        max_ns=int(s[-1]),
        mean_ns=float(s.mean()),
        percentiles=percentiles(s),
    )


class _Run:
    """Per-sample and per-query arrays derived once from the record.

    Memory matters (an Offline run can hold 16 M samples): latencies are computed
    with one temporary and sorted in place unless per-sample order is still needed.
    """

    def __init__(self, rec: RunRecord, eff: EffectiveSettings) -> None:
        nq, ns = rec.queries_issued, rec.samples_issued
        self.qs = rec.query_start[: nq + 1]
        self.sched = rec.scheduled_ns[:nq]
        self.issued = rec.issued_ns[:nq]
        self.done = rec.completed_ns[:ns]
        self.answered = self.done != NOT_SET
        self.all_answered = bool(self.answered.all())
        self.nq = nq
        self.eff = eff
        self.rec = rec
        lat = self.done - (self.sched[0] if nq == 1 else self.origins())
        self.sample_latency: IntArray = lat if self.all_answered else lat[self.answered]
        self._sorted: IntArray | None = None

    def origins(self) -> IntArray:
        """Each sample's latency origin: its query's scheduled time."""
        origins: IntArray = np.repeat(self.sched, np.diff(self.qs))
        return origins

    def sorted_latency(self, keep_order: bool) -> IntArray:
        """Sample latencies ascending; in place unless ``keep_order``."""
        if self._sorted is None:
            if keep_order:
                self._sorted = np.sort(self.sample_latency)
            else:
                self.sample_latency.sort()
                self._sorted = self.sample_latency
        return self._sorted

    def query_latencies(self) -> IntArray:
        """Per query: slowest sample minus the query's start (MultiStream)."""
        if self.nq == 0:
            return np.zeros(0, dtype=np.int64)
        big = np.iinfo(np.int64).max
        done = self.done if self.all_answered else np.where(self.answered, self.done, big)
        slowest = np.maximum.reduceat(done, self.qs[:-1])
        ok = slowest != big
        latencies: IntArray = (slowest - self.sched)[ok]
        return latencies


def compute_performance(rec: RunRecord, eff: EffectiveSettings, sut_name: str) -> PerformanceResult:
    """Apply the official result formulas and validity rules to one run."""
    run = _Run(rec, eff)
    scen = eff.scenario
    tokens = _token_stats(run) if eff.use_token_latencies else None
    sorted_lat = run.sorted_latency(keep_order=eff.use_token_latencies)
    sample_stats = latency_stats(sorted_lat, is_sorted=True)
    fields = _scenario_metrics(run, sorted_lat)
    checks, es = _checks(run, fields, sorted_lat)
    if tokens is not None and scen is Scenario.SERVER:
        checks, es = _token_checks(run, checks, tokens)
    query_stats = latency_stats(run.query_latencies()) if scen is Scenario.MULTI_STREAM else None
    return PerformanceResult(
        scenario=scen.value,
        mode=eff.test_mode.value,
        sut_name=sut_name,
        valid=all(c.met for c in checks),
        checks=tuple(checks),
        early_stopping=es,
        query_count=rec.queries_issued,
        sample_count=int(run.sample_latency.size),
        sample_latency=sample_stats,
        query_latency=query_stats,
        tokens=tokens,
        duration_ns=int(fields.pop("_duration_ns")),
        **fields,
    )


def _scenario_metrics(run: _Run, lat: IntArray) -> dict[str, Any]:
    """Headline metrics; ``lat`` is the sorted sample latencies."""
    scen = run.eff.scenario
    n = int(lat.size)
    if scen is Scenario.OFFLINE:
        max_lat = int(lat[-1]) if n else 0
        return {
            "samples_per_second": n / (max_lat / _NS) if max_lat else 0.0,
            "_duration_ns": max_lat,
        }
    if scen is Scenario.SERVER:
        return _server_metrics(run, lat)
    last_issue = int(run.issued[-1]) if run.nq else 0
    out: dict[str, Any] = {"_duration_ns": last_issue}
    if scen is Scenario.SINGLE_STREAM:
        mean = float(lat.mean()) if n else 0.0
        out["qps_with_loadgen_overhead"] = (run.nq - 1) / (last_issue / _NS) if last_issue else 0.0
        out["qps_without_loadgen_overhead"] = _NS / mean if mean else 0.0
        out["target_percentile_latency_ns"] = _pct(lat, run.eff)
    else:
        out["target_percentile_latency_ns"] = _pct(np.sort(run.query_latencies()), run.eff)
    return out


def _pct(sorted_values: IntArray, eff: EffectiveSettings) -> int:
    if not sorted_values.size:
        return 0
    return percentile(sorted_values, eff.target_latency_percentile)


def _server_metrics(run: _Run, lat: IntArray) -> dict[str, Any]:
    n = int(lat.size)
    last_sched = int(run.sched[-1]) if run.nq else 0
    lo, hi = (int(run.qs[-2]), int(run.qs[-1])) if run.nq else (0, 0)
    last_done = run.done[lo:hi]
    last_complete = int(last_done.max()) if last_done.size and (last_done != NOT_SET).all() else 0
    bound = run.eff.target_latency_ns
    over = int(n - np.searchsorted(lat, bound, side="right"))
    return {
        "_duration_ns": last_sched,
        "scheduled_samples_per_sec": (n - 1) / (last_sched / _NS) if last_sched else 0.0,
        "completed_samples_per_sec": (n - 1) / (last_complete / _NS) if last_complete else 0.0,
        "target_percentile_latency_ns": _pct(lat, run.eff),
        "overlatency_query_count": over,
    }


def _checks(
    run: _Run, fields: dict[str, Any], lat: IntArray
) -> tuple[list[Check], EarlyStoppingReport]:
    eff = run.eff
    checks: list[Check] = []
    if eff.scenario is Scenario.SERVER:
        checks.append(_perf_constraint(run, fields))
    checks.append(_min_duration(run, int(fields["_duration_ns"])))
    checks.append(_min_queries(run, int(lat.size)))
    es = _early_stopping(run, fields, lat)
    checks.append(Check("early_stopping", es.met, _es_message(es, eff)))
    missing = run.rec.missing_samples
    if missing:
        checks.append(
            Check("all_answered", False, f"{missing} issued sample(s) never got a response")
        )
    return checks, es


def _perf_constraint(run: _Run, fields: dict[str, Any]) -> Check:
    eff = run.eff
    got = int(fields["target_percentile_latency_ns"])
    ok = got <= eff.target_latency_ns
    return Check(
        "perf_constraints",
        ok,
        f"{eff.target_latency_percentile * 100:g}th percentile latency {got} ns "
        f"{'<=' if ok else '>'} target_latency {eff.target_latency_ns} ns"
        + ("" if ok else ": reduce target QPS to improve latency"),
    )


def _min_duration(run: _Run, duration_ns: int) -> Check:
    eff = run.eff
    need = eff.min_duration_ms * 1_000_000
    ok = duration_ns >= need
    what = {
        Scenario.OFFLINE: "the slowest sample finished at",
        Scenario.SERVER: "the last query was scheduled at",
    }.get(eff.scenario, "the last query was issued at")
    fix = {
        Scenario.OFFLINE: "increase the expected QPS (target_qps) so a larger query is generated",
        Scenario.SERVER: "increase the target QPS so more queries are generated",
    }.get(
        eff.scenario, "decrease the expected latency (target_latency) so more queries are generated"
    )
    msg = f"{what} {duration_ns / _NS:.3f} s; min_duration is {need / _NS:.3f} s"
    return Check("min_duration", ok, msg if ok else f"{msg}: {fix}")


def _min_queries(run: _Run, samples: int) -> Check:
    eff = run.eff
    q = run.rec.queries_issued
    ok = q >= eff.min_query_count and samples >= eff.min_sample_count
    msg = (
        f"{q} queries / {samples} samples; min_query_count {eff.min_query_count}, "
        f"min_sample_count {eff.min_sample_count}"
    )
    return Check("min_queries", ok, msg if ok else f"{msg}: the test exited early")


def _early_stopping(run: _Run, fields: dict[str, Any], lat: IntArray) -> EarlyStoppingReport:
    eff = run.eff
    p = eff.target_latency_percentile
    if eff.scenario is Scenario.OFFLINE:
        return EarlyStoppingReport(True, ())
    if eff.scenario is Scenario.SERVER:
        return _server_es(run.rec.queries_issued, int(fields["overlatency_query_count"]), p)
    s = lat if eff.scenario is Scenario.SINGLE_STREAM else np.sort(run.query_latencies())
    est = single_stream_estimate(s, p)
    if not est.met or est.estimate_ns is None:
        return EarlyStoppingReport(False, es_too_few_queries(est.n, est.min_queries))
    lines = list(es_estimate(est.min_queries, est.n, est.overlatency_discarded, p, est.estimate_ns))
    p99 = None
    if eff.scenario is Scenario.SINGLE_STREAM:
        est99 = single_stream_estimate(s, 0.99)
        p99 = est99.estimate_ns
        if p99 is not None:
            lines.append(es_estimate_line(0.99, p99))
        else:
            lines.append(es_not_enough_for(0.99, est99.min_queries))
    return EarlyStoppingReport(True, tuple(lines), estimate_ns=est.estimate_ns, estimate_p99_ns=p99)


def _server_es(n: int, over: int, p: float) -> EarlyStoppingReport:
    v = server_early_stopping(n, min(over, n), p)
    if v.met:
        return EarlyStoppingReport(True, es_run_successful())
    return EarlyStoppingReport(False, es_run_unsuccessful(n, v.queries_needed))


def _es_message(es: EarlyStoppingReport, eff: EffectiveSettings) -> str:
    text = " ".join(line.replace("\n", "") for line in es.lines) or "not applicable"
    return f"early stopping at p{eff.target_latency_percentile * 100:g}: {text}"


def _token_arrays(run: _Run) -> tuple[IntArray, IntArray, IntArray]:
    """Per answered sample: (TTFT, TPOT, n_tokens), in sample order."""
    rec, ns = run.rec, run.rec.samples_issued
    keep = run.answered
    n_tok = rec.n_tokens[:ns][keep]
    origin = run.sched[0] if run.nq == 1 else run.origins()[keep]
    first = rec.first_token_ns[:ns][keep]
    # a sample answered without a first token counts TTFT 0, as officially (with an error)
    ttft: IntArray = np.where(first == NOT_SET, 0, first - origin)
    tpot: IntArray = (run.sample_latency - ttft) // np.maximum(n_tok - 1, 1)
    return ttft, tpot, n_tok


def _token_stats(run: _Run) -> TokenStats:
    eff = run.eff
    ttft, tpot, n_tok = _token_arrays(run)
    total = int(n_tok.sum())
    if eff.scenario is Scenario.OFFLINE:
        max_lat = int(run.sample_latency.max()) if run.sample_latency.size else 0
        return TokenStats(total, total / (max_lat / _NS) if max_lat else 0.0, None, None)
    last = run.done[run.answered]
    span = int(last.max()) if last.size else 0
    return TokenStats(
        total, total / (span / _NS) if span else 0.0, latency_stats(ttft), latency_stats(tpot)
    )


def _token_checks(
    run: _Run, checks: list[Check], tok: TokenStats
) -> tuple[list[Check], EarlyStoppingReport]:
    eff = run.eff
    ttft_p = tok.ttft.percentiles[0.99] if tok.ttft else 0
    tpot_p = tok.tpot.percentiles[0.99] if tok.tpot else 0
    ok = ttft_p <= eff.server_ttft_latency_ns and tpot_p <= eff.server_tpot_latency_ns
    perf = Check(
        "perf_constraints",
        ok,
        f"TTFT p99 {ttft_p} ns (bound {eff.server_ttft_latency_ns}), "
        f"TPOT p99 {tpot_p} ns (bound {eff.server_tpot_latency_ns})",
    )
    n = run.rec.queries_issued
    ttft, tpot, _ = _token_arrays(run)
    tpot_es = _server_es(n, int(np.count_nonzero(tpot > eff.server_tpot_latency_ns)), 0.99)
    ttft_es = _server_es(n, int(np.count_nonzero(ttft > eff.server_ttft_latency_ns)), 0.99)
    es = EarlyStoppingReport(
        tpot_es.met and ttft_es.met,
        (),
        ttft_lines=ttft_es.lines if tpot_es.met else (),
        tpot_lines=tpot_es.lines,
    )
    rest = [c for c in checks if c.code not in ("perf_constraints", "early_stopping")]
    detail = "; ".join(
        [f"TTFT {' '.join(ttft_es.lines)}", f"TPOT {' '.join(tpot_es.lines)}"]
    ).replace("\n", "")
    es_check = Check("early_stopping", es.met, f"token early stopping: {detail}")
    return [perf, *rest, es_check], es
