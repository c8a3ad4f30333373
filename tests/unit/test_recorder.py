"""The response log: first arrivals, unknown and duplicate ids, thread safety."""

from __future__ import annotations

import threading

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mlmeter.loadgen import QuerySampleResponse
from mlmeter.loadgen._recorder import Recorder, apply_log, count_ids, count_in_range

NOT_SET = -1


def _times(n: int) -> np.ndarray:
    return np.full(n, NOT_SET, dtype=np.int64)


def test_first_arrival_wins_and_repeats_count_as_duplicates() -> None:
    log = [(100, 2), (110, [0, 1]), (120, 2), (130, np.array([1, 3], dtype=np.int64))]
    times = _times(4)
    out = apply_log(log, times, 4, origin_ns=100)
    assert times.tolist() == [10, 10, 0, 30]
    assert out.duplicates == 2  # the second 2 and the second 1
    assert out.unknown == 0


def test_ids_outside_the_issued_range_are_unknown() -> None:
    times = _times(3)
    out = apply_log([(5, [0, 7, -1]), (6, 9)], times, 3, origin_ns=0)
    assert out.unknown == 3
    assert times.tolist() == [5, NOT_SET, NOT_SET]


def test_repeats_inside_one_batch_keep_the_first() -> None:
    times = _times(3)
    out = apply_log([(1, [2, 0, 2])], times, 3, origin_ns=0)
    assert out.duplicates == 1
    assert times.tolist() == [1, NOT_SET, 1]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(-2, 12), min_size=1, max_size=6), max_size=20))
def test_apply_log_matches_a_plain_reference(batches: list[list[int]]) -> None:
    n = 10
    log = [(i * 10, b[0] if len(b) == 1 else b) for i, b in enumerate(batches)]
    times = _times(n)
    out = apply_log(log, times, n, origin_ns=0)
    seen: dict[int, int] = {}
    unknown = dups = 0
    for ts, ids in log:
        for i in [ids] if isinstance(ids, int) else ids:
            if not 0 <= i < n:
                unknown += 1
            elif i in seen:
                dups += 1
            else:
                seen[i] = ts
    assert (out.unknown, out.duplicates) == (unknown, dups)
    assert {i: int(t) for i, t in enumerate(times) if t != NOT_SET} == seen


def test_complete_from_many_threads_loses_nothing() -> None:
    rec = Recorder(8000)

    def answer(lo: int) -> None:
        for i in range(lo, lo + 2000):
            rec.complete([QuerySampleResponse(i)])

    threads = [threading.Thread(target=answer, args=(k * 2000,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert count_ids(rec.log) == 8000
    assert count_in_range(rec.log, 0, 8000) == 8000
    times = _times(8000)
    assert apply_log(rec.log, times, 8000, 0).duplicates == 0
    assert (times != NOT_SET).all()


def test_large_batches_are_stored_as_arrays() -> None:
    rec = Recorder(5000)
    rec.complete([QuerySampleResponse(i) for i in range(5000)])
    ((_, ids),) = rec.log
    assert isinstance(ids, np.ndarray)
    assert ids.dtype == np.int64
    assert ids.tolist() == list(range(5000))
