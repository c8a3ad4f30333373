"""Fidelity: FixedLatencySUT runs measured by the loadgen agree with queueing theory.

``FixedLatencySUT(D, w)`` is w servers with deterministic service time D (it sleeps at
least D per sample, then answers). Driven by each scenario's traffic it is a queue
whose behaviour theory predicts, so the loadgen's numbers can be checked without
trusting its implementation:

- SingleStream, one worker: every query is served alone, latency = D plus the
  harness's hand-off and timer overshoot (tens of µs here; we allow 15 %).
- Offline, w workers: the single query drains at w / D samples per second at most.
- Server, Poisson arrivals at rate λ, one worker: an M/D/1 queue. By the
  Pollaczek–Khinchine formula the mean time in system is
  ``W = D + ρD / (2(1 − ρ))`` with ``ρ = λD``.

Sample-size tolerances use batch means (the latencies of a queue are correlated, so
their plain standard error is too small); timer tolerances are stated where used.
Absolute times are never asserted, only ratios to D or λ.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from mlmeter.loadgen import LogSettings, TestResult, start_test
from mlmeter.settings import OFFICIAL_SCHEDULE_RNG_SEED, Scenario, TestSettings
from mlmeter.stats import NOT_SET
from mlmeter.suts import FixedLatencySUT, NullQSL

_MS = 1_000_000  # ns


def _run(sut: FixedLatencySUT, settings: TestSettings, tmp_path: Path) -> TestResult:
    with sut:
        res = start_test(sut, NullQSL(256), settings, LogSettings(outdir=tmp_path))
    assert res.error is None and res.result is not None and res.record is not None
    return res


def _batch_mean_se(values: npt.NDArray[np.float64], batches: int = 20) -> float:
    """Standard error of the mean from ``batches`` consecutive batch means."""
    means = [b.mean() for b in np.array_split(values, batches)]
    return float(np.std(means, ddof=1) / math.sqrt(batches))


def test_singlestream_one_worker_latency_is_the_service_time(tmp_path: Path) -> None:
    d_ms = 2.0
    settings = TestSettings(
        min_duration_ms=300,
        min_query_count=10,
        single_stream_expected_latency_ns=int(d_ms * _MS),
    )
    res = _run(FixedLatencySUT(d_ms, 1), settings, tmp_path)
    r = res.result
    assert r is not None
    d_ns = d_ms * _MS

    # Never faster than the service time: the SUT sleeps at least D after receiving
    # the query, and the latency clock starts at issue, before that.
    assert r.sample_latency.min_ns >= d_ns
    # Mean: D plus harness overhead (thread hand-off, sleep overshoot), under 15 %.
    assert d_ns <= r.sample_latency.mean_ns <= 1.15 * d_ns
    # "QPS w/o loadgen overhead" is 1 / mean latency (§1): about 1 / D.
    assert r.qps_without_loadgen_overhead is not None
    assert r.qps_without_loadgen_overhead == pytest.approx(1e9 / r.sample_latency.mean_ns)
    assert 1e3 / d_ms / 1.15 <= r.qps_without_loadgen_overhead <= 1e3 / d_ms
    # With the loadgen's gap between queries the rate can only be lower.
    assert r.qps_with_loadgen_overhead is not None
    assert r.qps_with_loadgen_overhead <= r.qps_without_loadgen_overhead * 1.01
    assert res.valid  # ~140 queries >= 64 for early stopping at p90; ends on min_duration


@pytest.mark.parametrize("workers", [1, 4])
def test_offline_throughput_is_workers_over_service_time(workers: int, tmp_path: Path) -> None:
    d_ms = 2.0
    capacity = workers * 1e3 / d_ms  # samples per second
    settings = TestSettings(
        scenario=Scenario.OFFLINE,
        min_duration_ms=300,
        min_query_count=10,
        offline_expected_qps=capacity,
    )
    res = _run(FixedLatencySUT(d_ms, workers), settings, tmp_path)
    r = res.result
    assert r is not None and r.samples_per_second is not None
    # 1.1 x 0.3 s x capacity samples, in one query (§1).
    assert r.sample_count == int(1.1 * 0.3 * capacity)
    # w servers that each take >= D per sample cannot beat w / D (0.1 % for the clock
    # reads around the sleeps); thread hand-off and sleep overshoot cost a few %.
    assert 0.85 * capacity <= r.samples_per_second <= 1.001 * capacity
    # The query, sized with 10 % slack for the expected rate, lasts at least min_duration.
    assert res.valid


def test_server_md1_mean_latency_follows_pollaczek_khinchine(tmp_path: Path) -> None:
    d_ms, rho, duration_ms = 2.0, 0.4, 3_000
    lam = rho / d_ms * 1e3  # queries per second
    settings = TestSettings(
        scenario=Scenario.SERVER,
        min_duration_ms=duration_ms,
        min_query_count=10,
        server_target_qps=lam,
        server_target_latency_ns=50 * _MS,
        schedule_rng_seed=OFFICIAL_SCHEDULE_RNG_SEED,
    )
    res = _run(FixedLatencySUT(d_ms, 1), settings, tmp_path)
    rec, r = res.record, res.result
    assert rec is not None and r is not None
    n = rec.queries_issued
    assert n == rec.query_count  # Server issues every generated query
    sched = rec.scheduled_ns[:n]
    issued = rec.issued_ns[:n]
    done = rec.completed_ns[:n]
    assert np.all(done != NOT_SET)

    # One server, first come first served: queries complete in arrival order, and
    # none completes sooner than D after it was scheduled.
    assert np.all(np.diff(done) > 0)
    latency_ms = (done - sched) / _MS
    assert latency_ms.min() >= d_ms
    assert r.sample_latency.mean_ns == pytest.approx(latency_ms.mean() * _MS)

    # The effective service time D' includes the harness's per-sample overhead. In a
    # FIFO single-server queue, when query k+1 arrives before query k departs, the
    # gap between their departures is exactly k+1's service time: measure D' there.
    queued = issued[1:] < done[:-1]
    assert queued.sum() > 30  # at rho = 0.4 about 40 % of arrivals find the server busy
    d_eff = float(np.median(np.diff(done)[queued])) / _MS
    assert d_ms <= d_eff <= 1.15 * d_ms
    # Latency counts from the scheduled time, so late issue adds to it (§1).
    issue_delay = float((issued - sched).mean()) / _MS
    rho_eff = lam * d_eff / 1e3
    theory = issue_delay + d_eff + rho_eff * d_eff / (2 * (1 - rho_eff))

    # Sampling error of the mean: 4 batch-means standard errors (~4 % of W each at
    # this n). Timer error: an arrival that finds the worker idle also pays the
    # thread wake-up (tens of µs; 0.15 ms allowed), which D' does not contain.
    se = _batch_mean_se(latency_ms)
    ideal = d_ms + rho * d_ms / (2 * (1 - rho))
    assert ideal - 4 * se <= latency_ms.mean() <= theory + 4 * se + 0.15

    # Scheduled QPS = (n - 1) / scheduled time of the last query (§1). For Poisson
    # arrivals its relative error is about 1 / sqrt(n - 1): allow four of those.
    scheduled_qps = r.scheduled_samples_per_sec
    assert scheduled_qps is not None
    assert scheduled_qps == pytest.approx((n - 1) / (sched[-1] / 1e9))
    assert abs(scheduled_qps / lam - 1) <= 4 / math.sqrt(n - 1)
    # Completed QPS = (n - 1) / completion time of the last query, which completes
    # after it was scheduled: it cannot exceed the scheduled QPS.
    assert r.completed_samples_per_sec is not None
    assert r.completed_samples_per_sec <= scheduled_qps
