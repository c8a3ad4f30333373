"""Monotonic integer-nanosecond clocks: the real one and a fake for tests."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """A monotonic clock in integer nanoseconds."""

    def now_ns(self) -> int:
        """Return the current time in ns."""
        ...


class MonotonicClock:
    """The real clock: ``time.perf_counter_ns`` (CLOCK_MONOTONIC on Linux)."""

    now_ns = staticmethod(time.perf_counter_ns)


class FakeClock:
    """A clock that only moves when told to; for exact tests."""

    def __init__(self, start_ns: int = 0) -> None:
        self._t = start_ns

    def now_ns(self) -> int:
        """Return the fake time."""
        return self._t

    def advance(self, ns: int) -> None:
        """Move the fake time forward by ``ns``."""
        if ns < 0:
            raise ValueError("a monotonic clock cannot go back")
        self._t += ns


def wall_clock_utc_ns() -> int:
    """Return the wall-clock time since the epoch in ns (for log headers only)."""
    return time.time_ns()
