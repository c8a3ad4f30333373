"""AU, samples/s and MB/s: DLIO's formulas, exact on a fake clock, and their properties."""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlmeter.storage._accel import FakeTimer, run_epoch
from mlmeter.storage._comm import LocalComm, run_local
from mlmeter.storage._metrics import (
    EpochTrace,
    RunMetrics,
    accelerator_utilization,
    io_mb_per_s,
    merge_ranks,
    rank_throughput,
)

MS = 1_000_000


@dataclass(frozen=True)
class _Batch:
    samples: int
    nbytes: int


def fake_batches(timer: FakeTimer, read_ns: list[int], batch: int = 4) -> Iterator[_Batch]:
    """A loader whose reads cost modelled time on the fake clock."""
    for ns in read_ns:
        timer.sleep_ns(ns)
        yield _Batch(batch, batch * 100)


def one_rank_epoch(read_ns: list[int], compute_ns: int) -> EpochTrace:
    timer = FakeTimer()
    comm = LocalComm.group(1)[0]
    res = run_epoch(
        fake_batches(timer, read_ns), steps=len(read_ns), compute_ns=compute_ns, comm=comm,
        timer=timer,
    )  # fmt: skip
    return res.trace


def test_au_is_exactly_ten_elevenths_on_a_fake_clock() -> None:
    trace = one_rank_epoch([1 * MS] * 20, 10 * MS)
    assert trace.wall_ns == 20 * 11 * MS
    assert accelerator_utilization(trace) == 10 / 11


def test_the_first_step_is_left_out() -> None:
    slow_start = one_rank_epoch([500 * MS] + [1 * MS] * 9, 10 * MS)
    assert accelerator_utilization(slow_start) == 10 / 11
    assert accelerator_utilization(slow_start, exclude=0) == 100 / (500 + 10 + 99)


def test_throughput_is_steps_minus_two_over_the_metric_time() -> None:
    trace = one_rank_epoch([1 * MS] * 12, 10 * MS)
    expected = (12 - 2) / (11 * 11 * MS / 1e9) * 4
    assert rank_throughput(trace, 4) == pytest.approx(expected, rel=1e-12)


def test_two_thread_ranks_with_their_own_fake_clocks() -> None:
    def rank(comm: LocalComm) -> EpochTrace:
        timer = FakeTimer()
        reads = [(1 + comm.rank) * MS] * 10  # rank 1 reads twice as slowly
        batches = fake_batches(timer, reads)
        return run_epoch(batches, steps=10, compute_ns=10 * MS, comm=comm, timer=timer).trace

    traces = run_local(2, rank)
    au, tput = merge_ranks([[t] for t in traces], batch_size=4)
    assert au[0] == pytest.approx((10 / 11 + 10 / 12) / 2, rel=1e-15)
    expected = sum(8 / (9 * (11 + r) * MS / 1e9) * 4 for r in range(2))
    assert tput[0] == pytest.approx(expected, rel=1e-12)


# -- properties --------------------------------------------------------------------------

steps_st = st.integers(min_value=1, max_value=40)


@st.composite
def traces(draw: st.DrawFn) -> EpochTrace:
    n = draw(steps_st)
    ns = st.integers(min_value=0, max_value=10**9)
    load = draw(st.lists(ns, min_size=n, max_size=n))
    compute = draw(st.lists(ns, min_size=n, max_size=n))
    barrier = draw(st.integers(min_value=0, max_value=10**10))
    return EpochTrace(tuple(load), tuple(compute), sum(load) + sum(compute) + barrier)


@given(traces())
def test_au_is_a_fraction_computed_as_dlio_does(trace: EpochTrace) -> None:
    au = accelerator_utilization(trace)
    assert 0.0 <= au <= 1.0
    busy = sum(trace.compute_ns[1:])
    total = trace.wall_ns - trace.load_ns[0] - trace.compute_ns[0]
    assert au == (busy / total if busy and total else 0.0)


@given(traces(), st.integers(min_value=0, max_value=10**9))
def test_au_ignores_the_first_steps_load(trace: EpochTrace, extra: int) -> None:
    slower = EpochTrace(
        (trace.load_ns[0] + extra, *trace.load_ns[1:]), trace.compute_ns, trace.wall_ns + extra
    )
    assert accelerator_utilization(slower) == accelerator_utilization(trace)


@given(st.lists(st.integers(min_value=1, max_value=10**9), min_size=2, max_size=40))
def test_au_is_one_without_io_or_waits(compute: list[int]) -> None:
    trace = EpochTrace((0,) * len(compute), tuple(compute), sum(compute))
    assert accelerator_utilization(trace) == 1.0


@given(traces(), st.integers(min_value=1, max_value=4096))
def test_throughput_formula(trace: EpochTrace, batch: int) -> None:
    total = trace.wall_ns - trace.load_ns[0] - trace.compute_ns[0]
    got = rank_throughput(trace, batch)
    if trace.steps <= 2 or total <= 0:
        assert got == 0.0
    else:
        exact = Fraction(trace.steps - 2) / Fraction(total, 10**9) * batch
        assert got == pytest.approx(float(exact), rel=1e-12)


@given(st.lists(st.lists(traces(), min_size=3, max_size=3), min_size=1, max_size=5))
def test_merge_averages_au_and_sums_throughput(per_rank: list[list[EpochTrace]]) -> None:
    au, tput = merge_ranks(per_rank, batch_size=7)
    for e in range(3):
        ranks = [r[e] for r in per_rank]
        assert au[e] == pytest.approx(statistics.fmean(accelerator_utilization(t) for t in ranks))
        assert tput[e] == pytest.approx(sum(rank_throughput(t, 7) for t in ranks))


finite = st.floats(min_value=0, max_value=1e6, allow_nan=False)


@given(st.lists(st.floats(0, 1), min_size=1, max_size=8), st.lists(finite, min_size=1),
       st.integers(1, 2**28), st.floats(0.01, 1.0))  # fmt: skip
def test_run_metrics(au: list[float], tput: list[float], record: int, threshold: float) -> None:
    m = RunMetrics(tuple(au), tuple(tput), record, threshold)
    assert m.au_mean == pytest.approx(sum(au) / len(au))
    assert m.passed == (m.au_mean * 100 >= threshold * 100)
    assert m.io_mean_mb_per_s == pytest.approx(statistics.fmean(tput) * record / 2**20)
    assert io_mb_per_s(2**20, record) == record


def test_a_trace_shorter_than_its_steps_is_refused() -> None:
    with pytest.raises(ValueError, match="wall time"):
        EpochTrace((5,), (5,), 9)
