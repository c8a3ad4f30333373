"""Does each performance summary say what its detail log says? (``summary.mismatch``)

The summary is what people read; the detail log is what the checker trusts. Every field
the two share is compared: names and verdicts exactly, numbers to the summary's printed
precision.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from mlmeter.submission._checks_common import Context, entry_label, error, number, perf_dir
from mlmeter.submission._findings import Finding
from mlmeter.submission._model import InferenceEntry

# summary label -> detail key; compared as text.
_TEXT = {
    "SUT name": "sut_name",
    "Scenario": "effective_scenario",
    "Mode": "effective_test_mode",
    "Result is": "result_validity",
}
# summary label -> detail key; compared as numbers.
_NUMBERS = {
    "Samples per second": "result_samples_per_second",
    "Completed samples per second": "result_completed_samples_per_sec",
    "Tokens per second": "result_tokens_per_second",
    "Completed tokens per second": "result_completed_tokens_per_second",
    "samples_per_query": "effective_samples_per_query",
    "min_duration (ms)": "effective_min_duration_ms",
    "min_query_count": "effective_min_query_count",
    "qsl_rng_seed": "effective_qsl_rng_seed",
    "sample_index_rng_seed": "effective_sample_index_rng_seed",
    "schedule_rng_seed": "effective_schedule_rng_seed",
    "performance_sample_count": "effective_performance_sample_count",
}
_PERCENTILE = re.compile(r"^([\d.]+)th percentile latency \(ns\)$")
_REL_TOL = 1e-4  # the summary prints 6 significant digits (fmt_double) or more


def check_summary(ctx: Context) -> Iterator[Finding]:
    """Every field a performance summary shares with its detail log must agree."""
    for entry in ctx.tree.inference:
        if not entry.summary or not entry.detail:
            continue  # the loader reported the missing file
        for label, got, want in _mismatches(entry):
            msg = (f"{entry_label(entry)}: the summary says {label} = {got!r}, the detail "
                   f"log says {want!r}")  # fmt: skip
            yield error("summary.mismatch", perf_dir(ctx, entry), msg)


def _mismatches(entry: InferenceEntry) -> Iterator[tuple[str, str, Any]]:
    s, d = entry.summary, entry.detail
    for label, key in _TEXT.items():
        if label in s and key in d and s[label] != str(d[key]):
            yield label, s[label], d[key]
    for label, key in [*_NUMBERS.items(), *_percentile_keys(s, entry.scenario)]:
        if label in s and key in d and not _same_number(s[label], d[key]):
            yield label, s[label], d[key]


def _percentile_keys(summary: dict[str, str], scenario: str) -> list[tuple[str, str]]:
    """``90.0th percentile latency (ns)`` -> ``result_90.00_percentile_latency_ns`` (in
    MultiStream the headline is per query: ``..._percentile_per_query_latency_ns``)."""
    kind = "percentile_per_query" if scenario == "MultiStream" else "percentile"
    out = []
    for label in summary:
        m = _PERCENTILE.match(label)
        if m:
            out.append((label, f"result_{float(m.group(1)):.2f}_{kind}_latency_ns"))
    return out


def _same_number(text: str, value: Any) -> bool:
    """Integers exactly (seeds exceed a float's precision), other numbers to ``_REL_TOL``."""
    if re.fullmatch(r"-?\d+", text.strip()) and isinstance(value, int):
        return int(text) == value and not isinstance(value, bool)
    a, b = number(text), number(value)
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= _REL_TOL * max(abs(a), abs(b))
