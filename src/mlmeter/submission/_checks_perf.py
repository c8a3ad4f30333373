"""Checks of each performance run's detail log against the round (loadgen.md §4, §7, §8)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from mlmeter.rules import Benchmark
from mlmeter.submission import _layout as L
from mlmeter.submission._checks_common import (
    CLOSED_LIKE,
    Context,
    entry_label,
    error,
    number,
    perf_dir,
)
from mlmeter.submission._findings import Finding
from mlmeter.submission._model import InferenceEntry

NS_PER_MS = 1_000_000
_REASONS = (
    ("result_min_duration_met", "min duration not met"),
    ("result_min_queries_met", "min queries not met"),
    ("result_perf_constraints_met", "performance constraints not met"),
    ("early_stopping_met", "early stopping not met"),
)
_LATENCY_BOUNDED = ("SingleStream", "MultiStream", "Server", "Interactive")
_SERVER_LIKE = ("Server", "Interactive")


def check_perf(ctx: Context) -> Iterator[Finding]:
    """Validity, duration, seeds, query and sample counts, latency bounds, LoadGen errors."""
    for entry in ctx.tree.inference:
        bench = ctx.round.benchmark(entry.benchmark)
        if bench is None:
            known = ", ".join(sorted(ctx.round.benchmarks))
            msg = f"{entry.benchmark!r} is not a benchmark of round {ctx.round.name} ({known})"
            yield error("rules.unknown_benchmark", ctx.rel(entry.path.parent), msg)
            continue
        if not entry.detail:
            continue  # the loader reported the missing or broken detail log
        yield from _validity(ctx, entry)
        yield from _duration_and_seeds(ctx, entry)
        yield from _counts(ctx, entry, bench)
        yield from _latency(ctx, entry, bench)
        yield from _loadgen_errors(ctx, entry)


def _validity(ctx: Context, entry: InferenceEntry) -> Iterator[Finding]:
    validity = entry.detail.get("result_validity")
    if validity == "VALID":
        return
    reasons = [text for key, text in _REASONS if entry.detail.get(key) is False]
    why = "; ".join(reasons) or "no reason logged"
    msg = f"{entry_label(entry)}: result_validity is {validity!r}, not VALID ({why})"
    yield error("perf.invalid_run", perf_dir(ctx, entry), msg)


def _duration_and_seeds(ctx: Context, entry: InferenceEntry) -> Iterator[Finding]:
    where = perf_dir(ctx, entry)
    got = number(entry.detail.get("effective_min_duration_ms"))
    need = ctx.round.min_duration_ms
    if got is None or got < need:
        msg = (f"{entry_label(entry)}: effective_min_duration_ms is {_fmt(got)}, round "
               f"{ctx.round.name} requires >= {need}")  # fmt: skip
        yield error("perf.short_duration", where, msg)
    for name, official in ctx.round.seeds.as_dict().items():
        seed = entry.detail.get(f"effective_{name}")
        if seed != official:
            msg = (
                f"{entry_label(entry)}: effective_{name} is {seed}, the official seed is {official}"
            )
            yield error("perf.wrong_seed", where, msg)


def _counts(ctx: Context, entry: InferenceEntry, bench: Benchmark) -> Iterator[Finding]:
    where = perf_dir(ctx, entry)
    psc = number(entry.detail.get("effective_performance_sample_count"))
    if psc is None or psc < bench.performance_sample_count:
        msg = (f"{entry_label(entry)}: effective_performance_sample_count is {_fmt(psc)}, "
               f"{bench.name} requires >= {bench.performance_sample_count}")  # fmt: skip
        yield error("perf.sample_count", where, msg)
    need = bench.min_query_count.get(entry.scenario)
    if need is None:
        return
    if entry.scenario == "Offline":
        if entry.division in CLOSED_LIKE:
            spq = number(entry.detail.get("effective_samples_per_query"))
            if spq is None or spq < need:
                msg = (f"{entry_label(entry)}: effective_samples_per_query is {_fmt(spq)}, "
                       f"the closed division requires >= {need}")  # fmt: skip
                yield error("perf.min_queries", where, msg)
        return
    count = number(entry.detail.get("result_query_count"))
    if count is None or count < need:
        msg = f"{entry_label(entry)}: result_query_count is {_fmt(count)}, requires >= {need}"
        yield error("perf.min_queries", where, msg)


def _latency(ctx: Context, entry: InferenceEntry, bench: Benchmark) -> Iterator[Finding]:
    where, d = perf_dir(ctx, entry), entry.detail
    met = d.get("early_stopping_met")
    if bench.early_stopping and entry.scenario in _LATENCY_BOUNDED and met is not True:
        msg = f"{entry_label(entry)}: early_stopping_met is {met!r}, must be true"
        yield error("perf.early_stopping", where, msg)
    if bench.token_latencies and d.get("requested_use_token_latencies") is False:
        msg = f"{entry_label(entry)}: {bench.name} must run with use_token_latencies = 1"
        yield error("perf.token_latencies", where, msg)
    if entry.scenario in _SERVER_LIKE:
        yield from _server_bounds(where, entry, bench)


def _server_bounds(where: str, entry: InferenceEntry, bench: Benchmark) -> Iterator[Finding]:
    d = entry.detail
    if bench.server_latency_ms is not None:
        bound = number(d.get("effective_target_latency_ns"))
        limit = bench.server_latency_ms * NS_PER_MS
        if bound is None or bound > limit:
            msg = (f"{entry_label(entry)}: effective_target_latency_ns is {_fmt(bound)}, "
                   f"{bench.name} allows <= {limit:.0f}")  # fmt: skip
            yield error("perf.latency_bound", where, msg)
    for key, limit_ms, code in (
        ("result_first_token_99.00_percentile_latency_ns", bench.ttft_ms, "perf.ttft"),
        ("result_time_per_output_token_99.00_percentile_ns", bench.tpot_ms, "perf.tpot"),
    ):
        value = number(d.get(key))
        if limit_ms is not None and (value is None or value >= limit_ms * NS_PER_MS):
            limit = limit_ms * NS_PER_MS
            msg = f"{entry_label(entry)}: {key} is {_fmt(value)}, must be < {limit:.0f}"
            yield error(code, where, msg)


def _loadgen_errors(ctx: Context, entry: InferenceEntry) -> Iterator[Finding]:
    path = entry.path / L.PERFORMANCE_RUN / L.DETAIL
    waived = ctx.round.waived_errors
    logged = _error_texts(path) if path.is_file() else []
    texts = [t for t in logged if not any(w in t for w in waived)]
    count = number(entry.detail.get("num_errors")) or 0
    if texts or count > len(logged):
        shown = "; ".join(texts[:3]) or f"num_errors = {count:.0f}"
        more = f" (+{len(texts) - 3} more)" if len(texts) > 3 else ""
        msg = f"{entry_label(entry)}: the detail log has LoadGen errors: {shown}{more}"
        yield error("perf.loadgen_error", perf_dir(ctx, entry), msg)


def _error_texts(path: Path) -> list[str]:
    """The values of every ``is_error`` entry of a detail log."""
    out: list[str] = []
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            if '"is_error": true' not in line:
                continue
            try:
                entry = json.loads(line.partition(":::MLLOG")[2])
            except json.JSONDecodeError:
                continue
            if isinstance(entry, dict) and (entry.get("metadata") or {}).get("is_error") is True:
                out.append(" ".join(str(entry.get("value", "")).split()))
    return out


def _fmt(value: float | None) -> str:
    if value is None:
        return "missing"
    return f"{value:.0f}" if value == int(value) else f"{value:g}"
