"""The timed loops: issue pre-generated queries and record integer timestamps.

This is the only hot module. Each loop reads plain Python lists prepared before
the clock starts, calls the SUT, and stores ``perf_counter_ns`` values; nothing is
formatted or allocated per query beyond the ``QuerySample`` list handed to the SUT.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator, MutableSequence, Sequence
from dataclasses import dataclass, field
from time import perf_counter_ns
from typing import overload

import numpy as np

from mlmeter.loadgen._interfaces import IntArray, QuerySample
from mlmeter.loadgen._timing import wait_until
from mlmeter.loadgen._waiter import Waiter

IssueFn = Callable[[Sequence[QuerySample]], None]
ArrayIssueFn = Callable[[IntArray, IntArray], None]

_LAZY_THRESHOLD = 4096


@dataclass
class Plan:
    """Inputs of a timed loop, prepared before the clock starts."""

    query_start: Sequence[int]  # array('q'): compact, and indexing gives Python ints
    sample_index: Sequence[int]
    scheduled_ns: Sequence[int]
    first_query: int
    end_query: int  # exclusive
    min_query_count: int
    target_duration_ns: int
    max_query_count: int
    max_duration_ns: int
    accuracy: bool
    max_async_queries: int = 0
    coalesce: bool = False


@dataclass
class Outcome:
    """What a timed loop did."""

    start_ns: int
    issued_ns: MutableSequence[int]
    scheduled_abs_ns: Sequence[int]
    queries_issued: int = 0
    end_message: str = ""
    errors: list[str] = field(default_factory=list)


class Progress:
    """Counters a progress display may read from another thread."""

    __slots__ = ("issued", "started_ns")

    def __init__(self) -> None:
        self.issued = 0
        self.started_ns = 0


class LazySamples(Sequence[QuerySample]):
    """A large query's samples, made into ``QuerySample`` objects only when read."""

    def __init__(self, first_id: int, indices: IntArray) -> None:
        self._first = first_id
        self._indices = indices

    def __len__(self) -> int:
        return int(self._indices.size)

    @overload
    def __getitem__(self, i: int) -> QuerySample: ...
    @overload
    def __getitem__(self, i: slice) -> list[QuerySample]: ...
    def __getitem__(self, i: int | slice) -> QuerySample | list[QuerySample]:
        if isinstance(i, slice):
            lo, hi, step = i.indices(len(self))
            ids = range(self._first + lo, self._first + hi, step)
            return list(map(QuerySample, ids, self._indices[lo:hi:step].tolist()))
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("sample index out of range")
        return QuerySample(self._first + i, int(self._indices[i]))

    def __iter__(self) -> Iterator[QuerySample]:
        chunk = 65536
        for lo in range(0, len(self), chunk):
            yield from self[lo : lo + chunk]


def make_samples(lo: int, hi: int, indices: IntArray) -> Sequence[QuerySample]:
    """The sample list for query ``[lo, hi)``; lazy for large queries."""
    if hi - lo > _LAZY_THRESHOLD:
        return LazySamples(lo, indices[lo:hi])
    return list(map(QuerySample, range(lo, hi), indices[lo:hi].tolist()))


def _zeros(n: int) -> MutableSequence[int]:
    return array("q", bytes(8 * n))


def run_closed_loop(issue: IssueFn, plan: Plan, waiter: Waiter, progress: Progress) -> Outcome:
    """SingleStream/MultiStream: issue the next query when the previous is done."""
    qs, idx = plan.query_start, plan.sample_index
    issued_ns = _zeros(plan.end_query - plan.first_query)
    start = perf_counter_ns()
    out = Outcome(start_ns=start, issued_ns=issued_ns, scheduled_abs_ns=issued_ns)
    progress.started_ns = start
    log = waiter.rec.log
    k = 0
    for q in range(plan.first_query, plan.end_query):
        lo, hi = qs[q], qs[q + 1]
        t = perf_counter_ns()
        issued_ns[k] = t
        k += 1
        if hi - lo == 1:
            issue([QuerySample(lo, idx[lo])])
        else:
            issue([QuerySample(i, idx[i]) for i in range(lo, hi)])
        progress.issued = k
        pos = waiter.pos
        if hi - lo == 1 and len(log) > pos and log[pos][1] == lo:
            waiter.pos = pos + 1  # answered inline: the common fast path
            waiter.completed += 1
        else:
            waiter.wait_range(lo, hi)
        if plan.accuracy:
            continue
        if _should_stop(plan, k, t - start, out):
            break
    else:
        if not plan.accuracy:
            out.errors.append(_RAN_OUT)
    out.queries_issued = k
    return out


_RAN_OUT = (
    "Ending early: Ran out of generated queries to issue before the minimum query count "
    "and test duration were reached. Please update the relevant expected latency or target "
    "qps in the TestSettings so they are more accurate."
)


def _should_stop(plan: Plan, issued: int, elapsed_ns: int, out: Outcome) -> bool:
    if issued >= plan.min_query_count and elapsed_ns >= plan.target_duration_ns:
        out.end_message = "Ending naturally: Minimum query count and test duration met."
        return True
    if plan.max_query_count and issued >= plan.max_query_count:
        out.errors.append(f"Ending early: Max query count reached. query_count {issued}")
        return True
    if plan.max_duration_ns and elapsed_ns > plan.max_duration_ns:
        out.errors.append(f"Ending early: Max test duration reached. duration_ns {elapsed_ns}")
        return True
    return False


def run_server(issue: IssueFn, plan: Plan, waiter: Waiter, progress: Progress) -> Outcome:
    """Server: issue each query at its Poisson-scheduled time; latency counts from then."""
    idx, sched = plan.sample_index, plan.scheduled_ns
    first = plan.first_query
    n = plan.end_query - first
    issued_ns = _zeros(n)
    start = perf_counter_ns()
    out = Outcome(start_ns=start, issued_ns=issued_ns, scheduled_abs_ns=())
    progress.started_ns = start
    limit = min(n, plan.max_query_count or n)
    max_async = plan.max_async_queries
    k = 0
    while k < limit:
        q = first + k
        target = start + sched[q]
        t = perf_counter_ns()
        if t < target:
            t = wait_until(target)
        if plan.coalesce:
            k = _issue_coalesced(issue, plan, issued_ns, start, k, t)
        else:
            issued_ns[k] = t
            issue([QuerySample(q, idx[q])])
            k += 1
        progress.issued = k
        if max_async and k - waiter.poll() > max_async:
            out.errors.append(
                f"Ending early: Too many outstanding queries. issued {k} "
                f"outstanding {k - waiter.completed}"
            )
            break
    out.queries_issued = k
    out.scheduled_abs_ns = array("q", [start + s for s in sched[first : first + k]])
    return out


def _issue_coalesced(
    issue: IssueFn, plan: Plan, issued_ns: MutableSequence[int], start: int, k: int, t: int
) -> int:
    """Issue query k and every later query already due at ``t``, in one call."""
    first, sched, idx = plan.first_query, plan.scheduled_ns, plan.sample_index
    n = plan.end_query - first
    end = k + 1
    while end < n and start + sched[first + end] <= t:
        end += 1
    for j in range(k, end):
        issued_ns[j] = t
    issue([QuerySample(first + j, idx[first + j]) for j in range(k, end)])
    return end


def run_offline(
    issue: IssueFn,
    issue_arrays: ArrayIssueFn | None,
    plan: Plan,
    indices: IntArray,
    progress: Progress,
) -> Outcome:
    """Offline: every query at t=0 (one query in performance mode)."""
    qs = plan.query_start
    n = plan.end_query - plan.first_query
    issued_ns = _zeros(n)
    start = perf_counter_ns()
    out = Outcome(start_ns=start, issued_ns=issued_ns, scheduled_abs_ns=array("q", [start] * n))
    progress.started_ns = start
    for k in range(n):
        q = plan.first_query + k
        lo, hi = qs[q], qs[q + 1]
        issued_ns[k] = perf_counter_ns()
        if issue_arrays is not None:
            issue_arrays(np.arange(lo, hi, dtype=np.int64), indices[lo:hi])
        else:
            issue(make_samples(lo, hi, indices))
        progress.issued = k + 1
    out.queries_issued = n
    return out
