"""LLM serving metrics of one run: TTFT, TPOT, ITL, tokens/s, goodput, token counts, faults.

Definitions (docs/llm-client.md):

- TTFT: first-token time minus the intended send time (Server: the scheduled time,
  SingleStream/MultiStream: the issue time, as the loadgen computes it; Offline, where
  everything is issued at once: the time the client dispatched the request).
- TPOT, per sample: ``(latency - TTFT) / (n_tokens - 1)``, as the loadgen.
- ITL: the gaps between consecutive token chunks of a request; a later chunk carrying
  k tokens contributes k gaps of a k-th of its gap each (the extra tokens of the first
  chunk have no observable gap and add none).
- goodput: the share of issued requests that succeeded with TTFT and TPOT within the
  bounds. A failed or unanswered request never counts as good.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlmeter.loadgen import TestResult
from mlmeter.settings import Scenario
from mlmeter.stats import NOT_SET, percentile
from mlmeter.suts._openai_client import Stream
from mlmeter.workloads.llm._tokenizer import Counter as TokenCounter

IntArray = np.ndarray[Any, np.dtype[np.int64]]
_PCTS = (0.5, 0.9, 0.95, 0.99, 0.999)
_MAX_EXAMPLES = 5


@dataclass(frozen=True)
class Bounds:
    """The per-request latency bounds goodput counts against (ns)."""

    ttft_ns: int
    tpot_ns: int


@dataclass(frozen=True)
class PerSample:
    """Per issued sample, in issue order: latencies (ns), tokens and failure."""

    ttft: IntArray
    tpot: IntArray
    latency: IntArray
    good: np.ndarray[Any, np.dtype[np.bool_]]  # succeeded and answered
    origin: str  # what TTFT counts from: scheduled, issued or dispatched


def latency_summary(values: IntArray) -> dict[str, float]:
    """Count, mean, min, max and percentiles (MLPerf nearest rank) of ``values`` in ms."""
    if values.size == 0:
        return {"count": 0}
    s = np.sort(values)
    out: dict[str, float] = {"count": int(s.size), "mean_ms": float(s.mean()) / 1e6}
    out["min_ms"], out["max_ms"] = int(s[0]) / 1e6, int(s[-1]) / 1e6
    for p in _PCTS:
        out[f"p{p * 100:g}_ms"] = percentile(s, p) / 1e6
    return out


def per_sample(result: TestResult, streams: list[Stream]) -> PerSample:
    """The per-sample arrays, from the loadgen's record (or the client's, in Offline)."""
    rec, eff = result.record, result.effective
    if rec is None or eff.scenario is Scenario.OFFLINE or not eff.use_token_latencies:
        return _from_streams(streams)
    ns = rec.samples_issued
    nq = rec.queries_issued
    origin = np.repeat(rec.scheduled_ns[:nq], np.diff(rec.query_start[: nq + 1]))
    done, first = rec.completed_ns[:ns], rec.first_token_ns[:ns]
    answered = done != NOT_SET
    latency = np.where(answered, done - origin, 0)
    ttft = np.where(first != NOT_SET, first - origin, latency)
    tpot = (latency - ttft) // np.maximum(rec.n_tokens[:ns] - 1, 1)
    good = answered & ~_failed_mask(streams, ns)
    kind = "scheduled" if eff.scenario is Scenario.SERVER else "issued"
    return PerSample(ttft, tpot, latency, good, kind)


def _failed_mask(streams: list[Stream], ns: int) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Failed samples by sample number (a run's ids are its sample numbers plus a base)."""
    failed = np.zeros(ns, dtype=np.bool_)
    if streams:
        base = min(s.id for s in streams)
        idx = np.array([s.id - base for s in streams if s.fault], dtype=np.int64)
        failed[idx[(idx >= 0) & (idx < ns)]] = True
    return failed


def _from_streams(streams: list[Stream]) -> PerSample:
    def arr(values: list[int]) -> IntArray:
        return np.array(values, dtype=np.int64)

    ttft = arr([(s.first_token or s.end) - s.dispatched for s in streams])
    latency = arr([s.end - s.dispatched for s in streams])
    tokens = arr([s.n_tokens for s in streams])
    tpot = (latency - ttft) // np.maximum(tokens - 1, 1)
    good = np.array([not s.fault for s in streams], dtype=np.bool_)
    return PerSample(ttft, tpot, latency, good, "dispatched")


def goodput(samples: PerSample, bounds: Bounds) -> dict[str, Any]:
    """The share of issued requests that succeeded within both bounds."""
    ok = samples.good & (samples.ttft <= bounds.ttft_ns) & (samples.tpot <= bounds.tpot_ns)
    n, good = int(ok.size), int(np.count_nonzero(ok))
    return {
        "value": good / n if n else 0.0,
        "good": good,
        "of": n,
        "ttft_bound_ms": bounds.ttft_ns / 1e6,
        "tpot_bound_ms": bounds.tpot_ns / 1e6,
    }


def inter_token_latencies(streams: list[Stream]) -> IntArray:
    """Every inter-token gap of the successful streams (ns)."""
    gaps: list[int] = []
    for s in streams:
        if s.fault:
            continue
        for i in range(1, len(s.times)):
            k = s.counts[i]
            gaps.extend([(s.times[i] - s.times[i - 1]) // k] * k)
    return np.array(gaps, dtype=np.int64)


def throughput(streams: list[Stream]) -> dict[str, float]:
    """Output tokens and requests per second over the client's busy span."""
    ok = [s for s in streams if not s.fault]
    if not ok:
        return {"tokens": 0, "tokens_per_s": 0.0, "requests_per_s": 0.0}
    span_s = (max(s.end for s in ok) - min(s.dispatched for s in ok)) / 1e9
    tokens = sum(s.n_tokens for s in ok)
    return {
        "tokens": tokens,
        "tokens_per_s": tokens / span_s if span_s > 0 else 0.0,
        "requests_per_s": len(ok) / span_s if span_s > 0 else 0.0,
    }


def reconcile(streams: list[Stream], name: str, count: TokenCounter | None) -> dict[str, Any]:
    """Server-reported vs client-counted output tokens, per successful request."""
    ok = [s for s in streams if not s.fault]
    with_usage = [s for s in ok if s.usage is not None]
    client = [count("".join(s.text)) if count else s.chunk_tokens for s in with_usage]
    differ = [(s, c) for s, c in zip(with_usage, client, strict=True) if s.usage != c]
    return {
        "client_count": name,
        "compared": len(with_usage),
        "missing_usage": len(ok) - len(with_usage),
        "server_total": sum(s.usage or 0 for s in with_usage),
        "client_total": sum(client),
        "disagreements": len(differ),
        "examples": [
            {"index": s.index, "server": s.usage, "client": c} for s, c in differ[:_MAX_EXAMPLES]
        ],
    }


def fault_counts(streams: list[Stream]) -> dict[str, int]:
    """Failed requests by reason, most frequent first."""
    return dict(Counter(s.fault for s in streams if s.fault).most_common())
