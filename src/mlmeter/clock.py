"""Monotonic integer-nanosecond clocks: the real one and a fake for tests."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
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


_PR_SET_TIMERSLACK = 29
_PR_GET_TIMERSLACK = 30


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


_LIBC = _libc()


def set_timer_slack(ns: int) -> int | None:
    """Set the calling thread's timer slack; return the previous value (Linux only)."""
    if _LIBC is None:
        return None
    old = int(_LIBC.prctl(_PR_GET_TIMERSLACK, 0, 0, 0, 0))
    _LIBC.prctl(_PR_SET_TIMERSLACK, ctypes.c_ulong(max(ns, 1)), 0, 0, 0)
    return old if old >= 0 else None
