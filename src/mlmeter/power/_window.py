"""The measured window: LoadGen's ``power_begin``/``power_end`` and the clock offset check.

LoadGen stamps the system clock at test start (``power_begin``) and that plus the SUT's
active time (``power_end``) into the detail log, in UTC (``_timefmt``). The analyzer stamps
its samples in UTC too, so the join is "keep the samples strictly between begin and end with
W > 0", as the official ``power_check.py`` does. Both hosts' clocks must agree: the client
checks the offset against a limit of 400 ms before and after each run, and the checker allows
800 ms between matching client and server stamps.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from mlmeter.errors import UserError
from mlmeter.logfmt import read_detail
from mlmeter.power._model import PowerSample
from mlmeter.power._timefmt import parse_power_time

CLOCK_LIMIT_RUN_S = 0.4  # lib/time_sync.py CRITICAL_DIFFERENCE_TIME_MS
CLOCK_LIMIT_CHECKER_S = 0.8  # compliance/check.py TIME_DELTA_TOLERANCE


@dataclass(frozen=True)
class PowerWindow:
    """The LoadGen run's power window, in UTC seconds since the epoch."""

    begin_utc: float
    end_utc: float

    def __post_init__(self) -> None:
        if not self.end_utc >= self.begin_utc:
            raise UserError(
                f"power window ends before it begins ({self.end_utc} < {self.begin_utc}):"
                " check power_begin/power_end in the detail log"
            )

    @property
    def duration_s(self) -> float:
        """``power_end - power_begin`` in seconds."""
        return self.end_utc - self.begin_utc

    def contains(self, t_utc: float) -> bool:
        """Strictly inside: ``begin < t < end`` (as the official checker compares)."""
        return self.begin_utc < t_utc < self.end_utc


def window_from_entries(entries: Mapping[str, object], source: str = "detail log") -> PowerWindow:
    """The window from the key -> value entries of a detail log."""
    begin, end = entries.get("power_begin"), entries.get("power_end")
    if not isinstance(begin, str) or not isinstance(end, str):
        raise UserError(
            f"{source}: no power_begin/power_end entries; it is not from a performance run"
            " (run in performance mode to measure power)"
        )
    return PowerWindow(parse_power_time(begin), parse_power_time(end))


def window_from_detail(path: str | Path) -> PowerWindow:
    """The window of the detail log at ``path`` (``mlperf_log_detail.txt``)."""
    return window_from_entries(read_detail(path), str(path))


def in_window(samples: Iterable[PowerSample], window: PowerWindow) -> list[PowerSample]:
    """The samples that count: ``begin < t < end`` and ``W > 0``, in time order."""
    kept = [s for s in samples if window.contains(s.t_utc) and s.watts > 0]
    return sorted(kept, key=lambda s: s.t_utc)


@dataclass(frozen=True)
class ClockOffset:
    """Remote minus local clock, measured NTP style over one request."""

    offset_s: float
    round_trip_s: float

    def problems(self, limit_s: float = CLOCK_LIMIT_RUN_S) -> tuple[str, ...]:
        """One line when ``|offset|`` exceeds ``limit_s`` (400 ms at run time, 800 ms in the
        checker), else nothing."""
        if abs(self.offset_s) <= limit_s:
            return ()
        return (
            f"clock offset {self.offset_s * 1000:+.0f} ms between the SUT and the power meter"
            f" exceeds {limit_s * 1000:.0f} ms: sync both to one NTP server",
        )


def measure_offset(
    remote_time: Callable[[], float], local_time: Callable[[], float] = time.time
) -> ClockOffset:
    """Ask ``remote_time()`` (e.g. the director's ``time`` command) and compare it with the
    midpoint of the local clock around the request."""
    t0 = local_time()
    remote = remote_time()
    t1 = local_time()
    return ClockOffset(offset_s=remote - (t0 + t1) / 2, round_trip_s=t1 - t0)
