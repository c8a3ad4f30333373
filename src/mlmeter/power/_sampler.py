"""What the sampling meters share: the wall clocks, a polling thread, samples()/stop().

With the real clock a daemon thread polls every period; with a ``FakeWallClock`` nothing runs
in the background and ``samples()`` polls, so the samples up to the fake "now" are exact.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from mlmeter.power._model import PowerError, PowerSample


class WallClock(Protocol):
    """UTC seconds since the epoch."""

    def time(self) -> float:
        """Now."""
        ...


class FakeWallClock:
    """A wall clock that moves only when told to."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._t = start

    def time(self) -> float:
        """The fake now."""
        return self._t

    def advance(self, seconds: float) -> None:
        """Move forward by ``seconds``."""
        if seconds < 0:
            raise ValueError("the clock cannot go back")
        self._t += seconds


class RealWallClock:
    """``time.time``."""

    time = staticmethod(time.time)


class PollThread:
    """A daemon thread that calls ``poll`` every ``period`` s until ``halt``; a PowerError
    from ``poll`` ends the thread and ``raise_failure`` raises it to the caller."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: PowerError | None = None

    @property
    def running(self) -> bool:
        """Started and not halted."""
        return self._thread is not None

    def start(self, poll: Callable[[], None], period: float) -> None:
        """Start calling ``poll`` every ``period`` seconds."""
        self._wake.clear()
        self._thread = threading.Thread(
            target=self._loop, args=(poll, period), name=self.name, daemon=True
        )
        self._thread.start()

    def _loop(self, poll: Callable[[], None], period: float) -> None:
        while not self._wake.wait(period):
            try:
                poll()
            except PowerError as exc:  # raised to the caller by raise_failure()
                self._error = exc
                return

    def raise_failure(self) -> None:
        """Raise (once) the PowerError that ended the thread, if any."""
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def halt(self) -> None:
        """Stop the thread and wait for it (up to 5 s)."""
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None


class PollingMeter:
    """A Meter that reads counters on a poll (RAPL, NVML), less the hardware: the clock, the
    lock, the samples since ``start`` and the thread. A subclass implements ``poll`` and, in
    ``start``, takes its baselines under the lock and then calls ``_start_polling``."""

    def __init__(self, thread_name: str, clock: WallClock | None) -> None:
        self._clock: WallClock = clock or RealWallClock()
        self._threaded = clock is None
        self._lock = threading.Lock()
        self._mark = ""
        self._samples: list[PowerSample] = []
        self._poller = PollThread(thread_name)

    def poll(self) -> None:
        """Read the counters once and add a sample (the thread calls this)."""
        raise NotImplementedError

    def _start_polling(self, period: float) -> None:
        if self._threaded:
            self._poller.start(self.poll, period)

    def samples(self) -> Sequence[PowerSample]:
        """The samples so far (with a fake clock, polls first)."""
        self._poller.raise_failure()
        if not self._threaded:
            self.poll()
        with self._lock:
            return list(self._samples)

    def stop(self) -> Sequence[PowerSample]:
        """A last poll, then every sample since ``start``."""
        self._poller.halt()
        self._poller.raise_failure()
        self.poll()
        with self._lock:
            self._stopped()
            return list(self._samples)

    def _stopped(self) -> None:
        """Called under the lock as ``stop`` returns; by default nothing."""

    def close(self) -> None:
        """Stop polling."""
        self._poller.halt()
