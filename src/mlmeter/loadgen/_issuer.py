"""The timed loops: issue pre-generated queries and record integer timestamps.

This is the only hot module. Each loop reads plain Python lists prepared before
the clock starts, calls the SUT, and stores ``perf_counter_ns`` values; nothing is
formatted or allocated per query beyond the ``QuerySample`` list handed to the SUT.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator, MutableSequence, Sequence
from dataclasses import dataclass, field
from time import perf_counter_ns
from typing import Any, overload

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
    id_base: int = 0  # sample ids are id_base + sample number (unique per run)


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


class LazySamples(MutableSequence[QuerySample]):
    """A large query's samples, made into ``QuerySample`` objects only when read.

    A list of 16 M ``QuerySample`` objects costs 1.4 GB; this view costs 8 bytes a
    sample. It behaves as a list: indexing, slicing, iteration and ``len`` read the
    arrays; the first mutating call (``sort``, ``append``, item assignment, ...)
    turns it into a real list held inside, so harnesses that reorder their query work.
    """

    def __init__(self, first_id: int, indices: IntArray) -> None:
        self._first = first_id
        self._indices = indices
        self._items: list[QuerySample] | None = None

    def __len__(self) -> int:
        return len(self._items) if self._items is not None else int(self._indices.size)

    @overload
    def __getitem__(self, i: int) -> QuerySample: ...
    @overload
    def __getitem__(self, i: slice) -> list[QuerySample]: ...
    def __getitem__(self, i: int | slice) -> QuerySample | list[QuerySample]:
        if self._items is not None:
            return self._items[i]
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
        if self._items is not None:
            yield from self._items
            return
        chunk = 65536
        for lo in range(0, len(self), chunk):
            yield from self[lo : lo + chunk]

    def _list(self) -> list[QuerySample]:
        if self._items is None:
            self._items = self[:]
        return self._items

    @overload
    def __setitem__(self, i: int, value: QuerySample) -> None: ...
    @overload
    def __setitem__(self, i: slice, value: Iterable[QuerySample]) -> None: ...
    def __setitem__(self, i: int | slice, value: Any) -> None:
        self._list()[i] = value

    def __delitem__(self, i: int | slice) -> None:
        del self._list()[i]

    def insert(self, index: int, value: QuerySample) -> None:
        """Insert as ``list.insert`` does."""
        self._list().insert(index, value)

    def sort(
        self, *, key: Callable[[QuerySample], Any] | None = None, reverse: bool = False
    ) -> None:
        """Sort in place as ``list.sort`` does."""
        self._list().sort(key=key, reverse=reverse)  # type: ignore[arg-type]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LazySamples | list):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"LazySamples(first_id={self._first}, n={len(self)})"


def make_samples(first_id: int, indices: IntArray) -> Sequence[QuerySample]:
    """The samples with ids ``first_id, first_id + 1, ...``; lazy for large queries."""
    n = int(indices.size)
    if n > _LAZY_THRESHOLD:
        return LazySamples(first_id, indices)
    return list(map(QuerySample, range(first_id, first_id + n), indices.tolist()))


def _zeros(n: int) -> MutableSequence[int]:
    return array("q", bytes(8 * n))


def new_outcome(plan: Plan) -> Outcome:
    """An empty outcome for ``plan``; the loop fills it, even when it is interrupted."""
    return Outcome(
        start_ns=0, issued_ns=_zeros(plan.end_query - plan.first_query), scheduled_abs_ns=()
    )


def run_closed_loop(
    issue: IssueFn, plan: Plan, waiter: Waiter, progress: Progress, out: Outcome
) -> None:
    """SingleStream/MultiStream: issue the next query when the previous is done."""
    qs, idx, base = plan.query_start, plan.sample_index, plan.id_base
    issued_ns = out.issued_ns
    out.scheduled_abs_ns = issued_ns  # the latency clock starts at the issue
    out.start_ns = start = progress.started_ns = perf_counter_ns()
    log, seen = waiter.rec.log, waiter.seen
    k = 0
    try:
        for q in range(plan.first_query, plan.end_query):
            lo, hi = qs[q], qs[q + 1]
            t = perf_counter_ns()
            issued_ns[k] = t
            k += 1
            if hi - lo == 1:
                issue([QuerySample(base + lo, idx[lo])])
            else:
                issue([QuerySample(base + i, idx[i]) for i in range(lo, hi)])
            progress.issued = k
            pos = waiter.pos
            if len(log) > pos and _answers_all(log[pos][1], base + lo, base + hi):
                waiter.pos = pos + 1  # answered inline, in one call: the common fast path
                waiter.completed += hi - lo
                seen[lo:hi] = _ONES[: hi - lo]
            else:
                waiter.wait_range(lo, hi)
            if not plan.accuracy and _should_stop(plan, k, t - start, out):
                break
        else:
            if not plan.accuracy:
                out.errors.append(_RAN_OUT)
    finally:
        out.queries_issued = k


_ONES = b"\x01" * 4096


def _answers_all(ids: object, lo: int, hi: int) -> bool:
    """Whether one log entry answers exactly the ids ``lo .. hi - 1``, in order."""
    if hi - lo == 1:
        return ids == lo
    return isinstance(ids, list) and len(ids) == hi - lo and ids == list(range(lo, hi))


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


def run_server(
    issue: IssueFn, plan: Plan, waiter: Waiter, progress: Progress, out: Outcome
) -> None:
    """Server: issue each query at its Poisson-scheduled time; latency counts from then."""
    idx, sched, base = plan.sample_index, plan.scheduled_ns, plan.id_base
    first = plan.first_query
    n = plan.end_query - first
    issued_ns = out.issued_ns
    out.start_ns = start = progress.started_ns = perf_counter_ns()
    limit = min(n, plan.max_query_count or n)
    max_async = plan.max_async_queries
    k = 0
    try:
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
                issue([QuerySample(base + q, idx[q])])
                k += 1
            progress.issued = k
            if max_async and k - waiter.poll() > max_async:
                out.errors.append(
                    f"Ending early: Too many outstanding queries. issued {k} "
                    f"outstanding {k - waiter.completed}"
                )
                break
    finally:
        out.queries_issued = k
        out.scheduled_abs_ns = array("q", [start + s for s in sched[first : first + k]])


def _issue_coalesced(
    issue: IssueFn, plan: Plan, issued_ns: MutableSequence[int], start: int, k: int, t: int
) -> int:
    """Issue query k and every later query already due at ``t``, in one call."""
    first, sched, idx, base = plan.first_query, plan.scheduled_ns, plan.sample_index, plan.id_base
    n = plan.end_query - first
    end = k + 1
    while end < n and start + sched[first + end] <= t:
        end += 1
    for j in range(k, end):
        issued_ns[j] = t
    issue([QuerySample(base + first + j, idx[first + j]) for j in range(k, end)])
    return end


def run_offline(
    issue: IssueFn,
    issue_arrays: ArrayIssueFn | None,
    plan: Plan,
    indices: IntArray,
    progress: Progress,
    out: Outcome,
) -> None:
    """Offline: every query at t=0 (one query in performance mode)."""
    qs, base = plan.query_start, plan.id_base
    n = plan.end_query - plan.first_query
    issued_ns = out.issued_ns
    out.start_ns = start = progress.started_ns = perf_counter_ns()
    out.scheduled_abs_ns = array("q", [start] * n)
    k = 0
    try:
        for k in range(n):
            q = plan.first_query + k
            lo, hi = qs[q], qs[q + 1]
            issued_ns[k] = perf_counter_ns()
            if issue_arrays is not None:
                issue_arrays(np.arange(base + lo, base + hi, dtype=np.int64), indices[lo:hi])
            else:
                issue(make_samples(base + lo, indices[lo:hi]))
            progress.issued = k + 1
        k = n
    finally:
        out.queries_issued = k
