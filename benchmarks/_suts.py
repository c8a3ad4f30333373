"""The SUTs the benchmarks drive, written ONCE against the official ``mlperf_loadgen`` API.

Every function takes the module as ``lg``, so the very same code runs on the official
wheel (``import mlperf_loadgen as lg``) and on mlmeter's drop-in
(``import mlmeter.compat.mlperf_loadgen as lg``). Nothing here knows which one it has.

- ``null``: answers each sample with ``QuerySampleResponse(id, 0, 0)`` inline, on the
  issuing thread, in chunks of 65536 for huge (Offline) queries.
- ``null-fast``: the same through ``ConstructFastSUT`` (ids and indices as int lists).
- ``sleep1ms``: one worker thread pulling from a ``queue.Queue``; each sample takes a
  fixed 1 ms (``time.sleep``) and is completed from the worker thread.

Each SUT counts its ``issue`` calls and stamps the first and the last one, so the
issue rate can be measured the same way on both sides (used for MultiStream).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

CHUNK = 65536


@dataclass
class IssueStats:
    """What the SUT saw: issue calls and the time of the first and last one."""

    calls: int = 0
    first_ns: int = 0
    last_ns: int = 0

    def stamp(self) -> None:
        """Record one issue call now."""
        t = time.perf_counter_ns()
        if self.calls == 0:
            self.first_ns = t
        self.last_ns = t
        self.calls += 1

    def rate(self) -> float | None:
        """Issue calls per second between the first and the last one, ``(n-1)/span``."""
        span = self.last_ns - self.first_ns
        return (self.calls - 1) * 1e9 / span if self.calls > 1 and span > 0 else None


@dataclass
class BuiltSUT:
    """A constructed SUT handle, how to destroy it, and its issue statistics."""

    handle: Any
    destroy: Callable[[Any], None]
    stats: IssueStats
    stop: Callable[[], None]


def _noop() -> None:
    return None


def null_sut(lg: ModuleType) -> BuiltSUT:
    """``ConstructSUT``: answer every sample inline, in chunks of ``CHUNK``."""
    stats = IssueStats()
    response = lg.QuerySampleResponse
    done = lg.QuerySamplesComplete

    def issue(samples: Any) -> None:
        stats.stamp()
        n = len(samples)
        if n <= CHUNK:
            done([response(q.id, 0, 0) for q in samples])
            return
        for lo in range(0, n, CHUNK):
            done([response(q.id, 0, 0) for q in samples[lo : lo + CHUNK]])

    return BuiltSUT(lg.ConstructSUT(issue, _noop), lg.DestroySUT, stats, _noop)


def null_fast_sut(lg: ModuleType) -> BuiltSUT:
    """``ConstructFastSUT``: the same null SUT on the (ids, indices) fast path."""
    stats = IssueStats()
    response = lg.QuerySampleResponse
    done = lg.QuerySamplesComplete

    def issue(ids: Any, indices: Any) -> None:
        stats.stamp()
        n = len(ids)
        for lo in range(0, n, CHUNK):
            done([response(i, 0, 0) for i in ids[lo : lo + CHUNK]])

    return BuiltSUT(lg.ConstructFastSUT(issue, _noop), lg.DestroyFastSUT, stats, _noop)


def sleep_sut(lg: ModuleType, service_s: float = 0.001) -> BuiltSUT:
    """One worker thread; each sample sleeps ``service_s`` and completes from the worker."""
    stats = IssueStats()
    work: queue.Queue[Any] = queue.Queue()

    def serve() -> None:
        while (q := work.get()) is not None:
            time.sleep(service_s)
            lg.QuerySamplesComplete([lg.QuerySampleResponse(q.id, 0, 0)])

    worker = threading.Thread(target=serve, name="sut-worker", daemon=True)
    worker.start()

    def issue(samples: Any) -> None:
        stats.stamp()
        for q in samples:
            work.put(q)

    def stop() -> None:
        work.put(None)
        worker.join(timeout=5)

    return BuiltSUT(lg.ConstructSUT(issue, _noop), lg.DestroySUT, stats, stop)


SUTS: dict[str, Callable[[ModuleType], BuiltSUT]] = {
    "null": null_sut,
    "null-fast": null_fast_sut,
    "sleep1ms": sleep_sut,
}
