"""The pure schedule layer: which samples go out, grouped into which queries, and when.

A :class:`Schedule` is a function of the effective settings and three named
seeds, computed before the clock starts; it reproduces the official LoadGen
6.0.17 (``GenerateLoadableSets``, ``TestSettingsInternal`` and ``GenerateQueries``
in ``loadgen.cc``) draw for draw, so the same seeds give the same sample indices
and the same Server arrival times as the C++ code.

What the official does, in the order it draws:

1. Loadable sets: ``qsl_rng_seed`` shuffles ``[0, n)``, where ``n`` is
   ``min(performance_sample_count, total)`` in performance mode and
   ``min(accuracy_sample_count, total)`` in accuracy mode; the list is cut into
   sets of ``performance_sample_count`` (the last one may be shorter). In
   MultiStream each set is padded with its own first ``samples_per_query - 1``
   elements (cyclically, if the set is shorter), and the padded set is what the
   QSL is asked to load. Performance mode uses set 0; accuracy mode every set.
2. Per set, a fresh ``sample_index_rng_seed`` engine draws, always in this order:
   a shuffle of the accuracy start list ``range(0, n, stride)`` (accuracy mode
   only), a shuffle of the same list for ``performance_issue_unique`` (always, even
   when unused), ``ceil(min_queries / L)`` successive shuffles of ``range(L)`` for
   equal-issue mode (always, even when off; ``L`` is the padded set size), then
   the per-query picks.
3. A fresh ``schedule_rng_seed`` engine draws one exponential gap per generated
   query in Server; other scenarios step by ``trunc(1e9 / qps)`` ns. Query ``q``
   is scheduled at the sum of the first ``q`` gaps (query 0 at 0), each gap
   truncated to integer ns.
4. Queries are generated while the last one's scheduled time is before
   ``multiplier * target_duration`` (2 for SingleStream/MultiStream, 1 for Server,
   0 for Offline) or fewer than ``min_queries`` exist; in equal-issue mode
   (not Offline) the count is rounded up to whole sets. ``max_query_count`` and
   ``max_duration`` do not limit generation; the issuer stops on them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Protocol

import numpy as np
from numpy.typing import NDArray

from mlmeter.errors import SettingsError
from mlmeter.loadgen._rng import StdMt19937, exponential, shuffle, uniform_int, uniform_real01

__all__ = [
    "MODES",
    "SCENARIOS",
    "Schedule",
    "accuracy_log_offset",
    "accuracy_log_values",
    "generate_loadable_sets",
    "generate_schedule",
]

IntArray = NDArray[np.int64]

SCENARIOS: Final = ("SingleStream", "MultiStream", "Server", "Offline")
MODES: Final = ("PerformanceOnly", "AccuracyOnly")

_NS_PER_MS: Final = 1_000_000
_NS_PER_S: Final = 1e9
_OFFLINE_SLACK: Final = 1.1  # TestSettingsInternal's kSlack for Offline
_EQUAL_ISSUE_SLACK: Final = 2.0  # and for SingleStream in equal-issue mode
_ACCURACY_LOG_DEFAULT_SEED: Final = 5489  # std::mt19937's default seed
_MAX_SEED: Final = 1 << 64


def _frozen(values: IntArray) -> IntArray:
    out = np.ascontiguousarray(values, dtype=np.int64)
    out.flags.writeable = False
    return out


@dataclass(frozen=True)
class Schedule:
    """Every query the official LoadGen would generate, as flat int64 arrays.

    - ``sample_index``: the QSL index of each sample, in issue order.
    - ``query_start``: query ``q`` holds samples ``[query_start[q], query_start[q + 1])``;
      its length is the query count plus one.
    - ``scheduled_ns``: each query's intended send time from the start of its set's
      run (Server: Poisson arrivals; other scenarios: multiples of the period).
    - ``loadable_sets``: the QSL indices of every loadable set, padded as loaded.
    - ``set_query_start``: the queries of loadable set ``s`` are
      ``[set_query_start[s], set_query_start[s + 1])``; performance mode has one set.
    - ``set_duration_ns``: per generated set, the time after the last query
      (the detail log's ``generated_query_duration``).
    - ``samples_per_query``: the generated size of a query (the detail log's
      ``generated_samples_per_query``; Offline accuracy: the first set's size).
    - ``min_query_count`` and ``target_duration_ms``: the effective values the
      issuer's stop rule uses (``effective_min_query_count``,
      ``effective_target_duration_ms``).
    """

    sample_index: IntArray
    query_start: IntArray
    scheduled_ns: IntArray
    loadable_sets: list[IntArray]
    set_query_start: IntArray
    set_duration_ns: IntArray
    samples_per_query: int
    min_query_count: int
    target_duration_ms: int

    def __post_init__(self) -> None:
        for name in ("sample_index", "query_start", "scheduled_ns"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        for name in ("set_query_start", "set_duration_ns"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        object.__setattr__(self, "loadable_sets", [_frozen(s) for s in self.loadable_sets])
        self._check()

    def _check(self) -> None:
        starts = self.query_start
        if starts.size != self.scheduled_ns.size + 1:
            raise ValueError("query_start needs one more entry than scheduled_ns")
        if starts[0] != 0 or starts[-1] != self.sample_index.size:
            raise ValueError("query_start must run from 0 to len(sample_index)")
        if np.any(np.diff(starts) < 0):
            raise ValueError("query_start must be non-decreasing")
        if self.set_query_start.size != self.set_duration_ns.size + 1:
            raise ValueError("set_query_start needs one more entry than set_duration_ns")
        if self.set_query_start[-1] != self.query_count:
            raise ValueError("set_query_start must end at the query count")

    @property
    def query_count(self) -> int:
        """The number of generated queries."""
        return int(self.scheduled_ns.size)

    def query(self, q: int) -> IntArray:
        """The QSL indices of query ``q``."""
        return self.sample_index[self.query_start[q] : self.query_start[q + 1]]


@dataclass(frozen=True)
class _Plan:
    """The settings GenerateQueries reads, after TestSettingsInternal's rewrites."""

    scenario: str
    accuracy: bool
    samples_per_query: int
    min_query_count: int
    target_duration_ms: int
    target_qps: float
    sample_index_rng_seed: int
    schedule_rng_seed: int
    equal_issue: bool
    issue_unique: bool
    issue_same: bool
    issue_same_index: int


@dataclass(frozen=True)
class _SetQueries:
    sample_index: IntArray
    query_sizes: IntArray
    scheduled_ns: IntArray
    duration_ns: int
    samples_per_query: int


def generate_loadable_sets(
    sample_count: int, set_size: int, padding: int, qsl_rng_seed: int
) -> list[IntArray]:
    """The official ``GenerateLoadableSets``: ``range(sample_count)`` shuffled, cut, padded."""
    order = np.arange(sample_count, dtype=np.int64)
    shuffle(StdMt19937(qsl_rng_seed), order)
    sets = [order[i : i + set_size] for i in range(0, sample_count, set_size)]
    if padding == 0:
        return sets
    # Padding appends set[0], set[1], ... as the set grows: a cyclic repeat.
    return [np.resize(s, s.size + padding) for s in sets]


def accuracy_log_offset(accuracy_log_rng_seed: int) -> float:
    """The offset added to each sample's draw when picking samples to log."""
    return float(uniform_real01(StdMt19937(accuracy_log_rng_seed), 1)[0])


def accuracy_log_values(count: int) -> NDArray[np.float64]:
    """The per-sample draws the official attaches to its first ``count`` generated samples.

    They come from one ``std::mt19937`` that is never seeded (5489) and keeps
    running across every set and mode of a ``StartTest``, one draw per generated
    (not issued) sample. A sample is logged in performance mode when
    ``(value + offset) mod 1 <= probability``.
    """
    return uniform_real01(StdMt19937(_ACCURACY_LOG_DEFAULT_SEED), count)


def generate_schedule(
    *,
    scenario: str,
    mode: str,
    total_sample_count: int,
    performance_sample_count: int,
    samples_per_query: int,
    min_query_count: int,
    min_duration_ms: int,
    target_qps: float,
    qsl_rng_seed: int,
    sample_index_rng_seed: int,
    schedule_rng_seed: int,
    sample_concatenate_permutation: bool = False,
    performance_issue_unique: bool = False,
    performance_issue_same: bool = False,
    performance_issue_same_index: int = 0,
    accuracy_sample_count: int = 0,
) -> Schedule:
    """The schedule the official LoadGen pre-generates for these settings.

    ``samples_per_query`` is MultiStream's ``multi_stream_samples_per_query``; it
    must be 1 for SingleStream and Server and is derived for Offline.
    ``target_qps`` is ``server_target_qps`` (Server), ``offline_expected_qps``
    (Offline) or ``1e9 / expected_latency_ns`` (SingleStream, MultiStream).
    ``total_sample_count`` is the QSL's ``TotalSampleCount()`` and
    ``performance_sample_count`` the effective one (override, else the QSL's);
    ``accuracy_sample_count`` is the override (0: the QSL's total). Only the first
    ``min(performance_sample_count, total)`` (performance mode) or
    ``min(accuracy_sample_count, total)`` (accuracy mode) QSL indices are shuffled
    into loadable sets.

    Raises :class:`~mlmeter.errors.SettingsError` naming the field for settings
    the official rejects or would crash on.
    """
    request = _Request(
        scenario=scenario,
        mode=mode,
        total_sample_count=total_sample_count,
        performance_sample_count=performance_sample_count,
        samples_per_query=samples_per_query,
        min_query_count=min_query_count,
        min_duration_ms=min_duration_ms,
        target_qps=target_qps,
        qsl_rng_seed=qsl_rng_seed,
        sample_index_rng_seed=sample_index_rng_seed,
        schedule_rng_seed=schedule_rng_seed,
        sample_concatenate_permutation=sample_concatenate_permutation,
        performance_issue_unique=performance_issue_unique,
        performance_issue_same=performance_issue_same,
        performance_issue_same_index=performance_issue_same_index,
        accuracy_sample_count=accuracy_sample_count,
    )
    plan = request.plan()
    padding = samples_per_query - 1 if scenario == "MultiStream" else 0
    sets = generate_loadable_sets(
        request.pool_size(), performance_sample_count, padding, qsl_rng_seed
    )
    used = sets if plan.accuracy else sets[:1]
    parts = [_generate_queries(plan, s, s.size - padding) for s in used]
    return _assemble(plan, sets, parts)


@dataclass(frozen=True)
class _Request:
    """generate_schedule's arguments, validated."""

    scenario: str
    mode: str
    total_sample_count: int
    performance_sample_count: int
    samples_per_query: int
    min_query_count: int
    min_duration_ms: int
    target_qps: float
    qsl_rng_seed: int
    sample_index_rng_seed: int
    schedule_rng_seed: int
    sample_concatenate_permutation: bool
    performance_issue_unique: bool
    performance_issue_same: bool
    performance_issue_same_index: int
    accuracy_sample_count: int

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            raise SettingsError(f"scenario must be one of {', '.join(SCENARIOS)}")
        if self.mode not in MODES:
            raise SettingsError(f"mode must be one of {', '.join(MODES)}")
        for name in ("total_sample_count", "performance_sample_count", "samples_per_query"):
            _require(getattr(self, name) >= 1, name, ">= 1")
        if self.scenario in ("SingleStream", "Server"):
            _require(self.samples_per_query == 1, "samples_per_query", f"1 in {self.scenario}")
        for name in ("min_query_count", "min_duration_ms", "accuracy_sample_count"):
            _require(getattr(self, name) >= 0, name, ">= 0")
        qps = self.target_qps
        _require(math.isfinite(qps) and qps > 0.0, "target_qps", "a finite number > 0")
        for name in ("qsl_rng_seed", "sample_index_rng_seed", "schedule_rng_seed"):
            _require(0 <= getattr(self, name) < _MAX_SEED, name, "in [0, 2**64)")
        self._check_audit_flags()

    def _check_audit_flags(self) -> None:
        if self.performance_issue_unique and self.performance_issue_same:
            raise SettingsError(
                "performance_issue_unique and performance_issue_same exclude each other"
            )
        if self.performance_issue_same:
            index_ok = 0 <= self.performance_issue_same_index < self.performance_sample_count
            _require(index_ok, "performance_issue_same_index", "< performance_sample_count")

    def pool_size(self) -> int:
        """How many QSL indices (from 0) are shuffled into loadable sets."""
        total = self.total_sample_count
        if self.mode == "PerformanceOnly":
            return min(self.performance_sample_count, total)
        return min(self.accuracy_sample_count or total, total)

    def plan(self) -> _Plan:
        """TestSettingsInternal: Offline's single query, equal-issue's SingleStream count.

        Offline with ``performance_issue_same`` keeps the duration-derived query
        size (6.0.17; older LoadGens used the performance sample count, as they
        still do for ``performance_issue_unique``).
        """
        duration_s = self.min_duration_ms / 1000.0
        psc = self.performance_sample_count
        spq = self.samples_per_query if self.scenario == "MultiStream" else 1
        min_queries, duration_ms = self.min_query_count, self.min_duration_ms
        if self.scenario == "Offline":
            target = int(_OFFLINE_SLACK * duration_s * self.target_qps)
            spq = psc if self.performance_issue_unique else max(min_queries, target)
            min_queries, duration_ms = 1, 0
        if self.scenario == "SingleStream" and self.sample_concatenate_permutation:
            # Always adds, so an exact multiple of the set size grows by one set.
            count = max(min_queries, int(_EQUAL_ISSUE_SLACK * duration_s * self.target_qps))
            min_queries = count + psc - count % psc
        return _Plan(
            scenario=self.scenario,
            accuracy=self.mode == "AccuracyOnly",
            samples_per_query=spq,
            min_query_count=min_queries,
            target_duration_ms=duration_ms,
            target_qps=self.target_qps,
            sample_index_rng_seed=self.sample_index_rng_seed,
            schedule_rng_seed=self.schedule_rng_seed,
            equal_issue=self.sample_concatenate_permutation,
            issue_unique=self.performance_issue_unique,
            issue_same=self.performance_issue_same,
            issue_same_index=self.performance_issue_same_index,
        )


def _require(ok: bool, field: str, expected: str) -> None:
    if not ok:
        raise SettingsError(f"{field} must be {expected}")


def _shuffled_starts(rng: StdMt19937, count: int, stride: int) -> IntArray:
    starts = np.arange(0, count, stride, dtype=np.int64)
    shuffle(rng, starts)
    return starts


def _equal_issue_order(rng: StdMt19937, min_queries: int, set_size: int) -> IntArray:
    """Successive shuffles of one ``range(set_size)`` list (not reset between them)."""
    perm = np.arange(set_size, dtype=np.int64)
    rounds = []
    for _ in range(0, min_queries, set_size):
        shuffle(rng, perm)
        rounds.append(perm.copy())
    return np.concatenate(rounds) if rounds else np.empty(0, dtype=np.int64)


def _generate_queries(plan: _Plan, loaded: IntArray, distribution_end: int) -> _SetQueries:
    """One GenerateQueries call for one loadable set."""
    size = int(loaded.size)
    multiplier = {"Server": 1, "Offline": 0}.get(plan.scenario, 2)
    horizon_ns = multiplier * plan.target_duration_ms * _NS_PER_MS
    min_queries = plan.min_query_count
    spq = plan.samples_per_query
    if plan.accuracy and plan.scenario == "Offline":
        spq = distribution_end
    if plan.accuracy or plan.issue_unique:
        horizon_ns, min_queries = 0, size // spq

    rng = StdMt19937(plan.sample_index_rng_seed)
    stride = spq if plan.scenario == "MultiStream" else 1
    accuracy_starts = _shuffled_starts(rng, distribution_end, stride) if plan.accuracy else None
    unique_starts = _shuffled_starts(rng, distribution_end, stride)
    equal_order = _equal_issue_order(rng, min_queries, size)

    if plan.equal_issue and not plan.accuracy:
        if plan.scenario == "Offline":
            spq += -spq % size
        else:
            min_queries += -min_queries % size
    bump = size if plan.equal_issue and plan.scenario != "Offline" else 0
    count, times = _query_times(plan, horizon_ns, min_queries, bump)
    picks = _Picks(rng, loaded, distribution_end, accuracy_starts, unique_starts, equal_order)
    samples, sizes = picks.draw(plan, count, spq)
    return _SetQueries(samples, sizes, times[:count], int(times[count]), spq)


def _query_times(plan: _Plan, horizon_ns: int, min_queries: int, bump: int) -> tuple[int, IntArray]:
    """The query count and the scheduled times ``t[0 .. count]`` (one past the last)."""
    if plan.scenario == "Server":
        clock: _Arrivals = _PoissonArrivals(plan.schedule_rng_seed, plan.target_qps)
    else:
        clock = _PeriodicArrivals(plan.target_qps, plan.scenario)
    count = min_queries
    if horizon_ns > 0:
        count = max(count, clock.first_at_or_after(horizon_ns) + 1)
        if bump:
            count = -(-count // bump) * bump
    return count, clock.times(count + 1)


class _Arrivals(Protocol):
    def first_at_or_after(self, t_ns: int) -> int:
        """The index of the first query scheduled at or after ``t_ns``."""

    def times(self, n: int) -> IntArray:
        """The first ``n`` scheduled times."""


class _PeriodicArrivals:
    """Every ``trunc(1e9 / qps)`` ns: ``duration_cast<nanoseconds>`` truncates."""

    def __init__(self, qps: float, scenario: str) -> None:
        self.period = int((1.0 / qps) * _NS_PER_S)
        self.scenario = scenario

    def first_at_or_after(self, t_ns: int) -> int:
        if self.period <= 0:
            raise SettingsError(
                f"target_qps is so high that the {self.scenario} period truncates to 0 ns"
            )
        return -(-t_ns // self.period)

    def times(self, n: int) -> IntArray:
        return np.arange(n, dtype=np.int64) * self.period


class _PoissonArrivals:
    """Cumulative exponential gaps, each truncated to integer ns, drawn lazily."""

    def __init__(self, seed: int, qps: float) -> None:
        self._rng = StdMt19937(seed)
        self._qps = qps
        self._times = np.zeros(1, dtype=np.int64)

    def _extend(self, gaps: int) -> None:
        drawn = (exponential(self._rng, self._qps, gaps) * _NS_PER_S).astype(np.int64)
        tail = self._times[-1] + np.cumsum(drawn)
        self._times = np.concatenate([self._times, tail])

    def first_at_or_after(self, t_ns: int) -> int:
        while self._times[-1] < t_ns:
            expected = (t_ns - int(self._times[-1])) * self._qps / _NS_PER_S
            self._extend(int(expected * 1.05) + 64)
        return int(np.searchsorted(self._times, t_ns, side="left"))

    def times(self, n: int) -> IntArray:
        if self._times.size < n:
            self._extend(n - self._times.size)
        return self._times[:n]


class _Picks:
    """The per-query sample choices of GenerateQueries, scenario by scenario."""

    def __init__(
        self,
        rng: StdMt19937,
        loaded: IntArray,
        distribution_end: int,
        accuracy_starts: IntArray | None,
        unique_starts: IntArray,
        equal_order: IntArray,
    ) -> None:
        self.rng = rng
        self.loaded = loaded
        self.distribution_end = distribution_end
        self.accuracy_starts = accuracy_starts
        self.unique_starts = unique_starts
        self.equal_order = equal_order

    def draw(self, plan: _Plan, count: int, spq: int) -> tuple[IntArray, IntArray]:
        """The QSL indices of ``count`` queries and the size of each."""
        if plan.scenario == "Offline":
            return self._offline(plan, count, spq), np.full(count, spq, dtype=np.int64)
        per_query = spq if plan.scenario == "MultiStream" else 1
        starts = self._starts(plan, count)
        if per_query == 1:
            return self.loaded[starts], np.ones(count, dtype=np.int64)
        offsets = starts[:, None] + np.arange(per_query, dtype=np.int64)
        return self.loaded[offsets].ravel(), np.full(count, per_query, dtype=np.int64)

    def _starts(self, plan: _Plan, count: int) -> IntArray:
        """Positions in the loaded set: one per sample, or per query in MultiStream."""
        if plan.issue_unique:
            return _take_prefix(self.unique_starts, count, "performance_issue_unique")
        if plan.issue_same:
            if plan.issue_same_index >= self.distribution_end:
                raise SettingsError("performance_issue_same_index is past the loaded set")
            return np.full(count, plan.issue_same_index, dtype=np.int64)
        if plan.equal_issue and plan.scenario != "MultiStream":
            if self.equal_order.size == 0 and count > 0:
                raise SettingsError(
                    "sample_concatenate_permutation needs min_query_count > 0 here; "
                    "the official LoadGen divides by zero"
                )
            return self.equal_order[np.arange(count) % self.equal_order.size]
        if self.accuracy_starts is not None:
            return _take_prefix(self.accuracy_starts, count, "accuracy mode")
        return uniform_int(self.rng, 0, self.distribution_end - 1, count)

    def _offline(self, plan: _Plan, count: int, spq: int) -> IntArray:
        """The loaded set repeated to ``spq`` samples, each repeat permuted in equal-issue."""
        if plan.issue_same:
            return np.full(count * spq, self.loaded[plan.issue_same_index], dtype=np.int64)
        if not plan.equal_issue:
            return np.tile(np.resize(self.loaded, spq), count)
        queries = []
        for _ in range(count):
            blocks = []
            for _ in range(spq // self.loaded.size):
                block = self.loaded.copy()
                shuffle(self.rng, block)
                blocks.append(block)
            blocks.append(self.loaded[: spq % self.loaded.size])
            queries.append(np.concatenate(blocks))
        return np.concatenate(queries)


def _take_prefix(values: IntArray, count: int, what: str) -> IntArray:
    if count > values.size:
        raise SettingsError(
            f"{what} would issue {count} queries from {values.size} unique starts; "
            "the official LoadGen aborts (std::out_of_range)"
        )
    return values[:count]


def _assemble(plan: _Plan, sets: list[IntArray], parts: list[_SetQueries]) -> Schedule:
    sizes = np.concatenate([p.query_sizes for p in parts])
    query_start = np.zeros(sizes.size + 1, dtype=np.int64)
    np.cumsum(sizes, out=query_start[1:])
    per_set = np.array([p.query_sizes.size for p in parts], dtype=np.int64)
    set_query_start = np.zeros(per_set.size + 1, dtype=np.int64)
    np.cumsum(per_set, out=set_query_start[1:])
    return Schedule(
        sample_index=np.concatenate([p.sample_index for p in parts]),
        query_start=query_start,
        scheduled_ns=np.concatenate([p.scheduled_ns for p in parts]),
        loadable_sets=sets,
        set_query_start=set_query_start,
        set_duration_ns=np.array([p.duration_ns for p in parts], dtype=np.int64),
        samples_per_query=parts[0].samples_per_query,
        min_query_count=plan.min_query_count,
        target_duration_ms=plan.target_duration_ms,
    )
