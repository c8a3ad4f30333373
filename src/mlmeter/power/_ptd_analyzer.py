"""The simulated instrument behind ``mlmeter power fake-ptd``: ranges, measurements, samples.

A Yokogawa WT310-like single-channel AC analyzer. Readings come from a power source
``watts(t)`` (``t``: seconds of meter time since the fake started; meter time runs
``time_scale`` times faster than the wall clock, so a 1000 ms ``Go`` interval takes
1000 / time_scale ms of real time). Samples are produced lazily: whenever the server looks
(``catch_up``), every sample due since ``Go`` is stamped and logged, so the sample times
are exact multiples of the interval after ``Go``, independent of when they are read.

Ranges: in auto mode the range follows each reading (the smallest standard range above
it); a fixed range (``SR,V,<value>``) uses the smallest standard range at or above the
value, and a reading above it is clipped there (over-range) with a ``WARNING:`` line.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from mlmeter.power._model import PowerSample
from mlmeter.power._spl import format_spl_line
from mlmeter.power._timefmt import format_power_time

MODEL = "YokogawaWT310"
IDENTIFY_REPLY = f"{MODEL},mlmeter fake-ptd (no analyzer),version=1.11.1-mlmeter-fake"
V_RANGES = (15.0, 30.0, 60.0, 150.0, 300.0, 600.0)
A_RANGES = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0)
MAX_SAMPLES = 500000

PowerSource = Callable[[float], float]


def default_source(t: float) -> float:
    """A deterministic load: 150 W idle, 210 W in every other 2 s of meter time."""
    return 210.0 if int(t // 2.0) % 2 else 150.0


def mains_volts(t: float) -> float:
    """The simulated mains voltage: 230 V with a slow +-2.5 V swing."""
    return 230.0 + 2.5 * math.sin(t / 3.0)


def power_factor(t: float) -> float:
    """The simulated power factor, between 0.90 and 0.96."""
    return 0.93 + 0.03 * math.cos(t / 5.0)


@dataclass
class RangeSetting:
    """One channel's range: auto, or a fixed value as set by ``SR``."""

    standard: tuple[float, ...]
    auto: bool = False
    value: float = 0.0

    def effective(self, reading: float) -> float:
        """The range in use for ``reading``."""
        wanted = abs(reading) if self.auto else self.value
        return next((r for r in self.standard if r >= wanted), self.standard[-1])

    def rr_fields(self) -> str:
        """``<auto 0/1>,<range>`` as ``RR`` reports it."""
        return f"{int(self.auto)},{self.value:f}"


class Analyzer:
    """The fake instrument's state; the server calls it for every command."""

    def __init__(
        self,
        source: PowerSource,
        clock: Callable[[], float],
        *,
        time_scale: float = 1.0,
        default_interval_ms: int = 1000,
        skew_s: float = 0.0,
        log: TextIO | None = None,
        out: TextIO | None = None,
    ) -> None:
        self._source, self._clock, self._scale = source, clock, time_scale
        self._default_ms, self._skew = default_interval_ms, skew_s
        self._log, self._out = log, out
        self._t0 = clock()
        self.volts = RangeSetting(V_RANGES, auto=False, value=300.0)
        self.amps = RangeSetting(A_RANGES, auto=False, value=5.0)
        self.mark = ""
        self.running = False
        self._go_wall = 0.0
        self._dt = 1.0
        self._k = 1
        self._unread: list[str] = []
        self._say(f"Uncertainty checking for {MODEL} is activated")

    def ranges_reply(self) -> str:
        """The ``RR`` reply."""
        return f"Ranges,{self.amps.rr_fields()},{self.volts.rr_fields()}"

    def set_range(self, channel: str, value: str) -> str:
        """``SR,V|A,<Auto|value>``."""
        setting = {"V": self.volts, "A": self.amps}.get(channel)
        if setting is None:
            return "Invalid parameter"
        if value.lower() == "auto":
            setting.auto = True
            return f"Range {channel} changed"
        try:
            number = float(value)
        except ValueError:
            return "Invalid parameter"
        setting.auto, setting.value = False, number
        return f"Range {channel} changed"

    def go(self, args: list[str]) -> str:
        """``Go,<ms>,<duration>,<mark>``: start an untimed measurement."""
        self.catch_up()
        try:
            ms = int(args[0]) if args else self._default_ms
        except ValueError:
            return "Invalid parameter"
        self.mark = args[2] if len(args) > 2 else ""
        self.running, self._k = True, 1
        self._go_wall = self._clock()
        self._dt = ms / 1000.0 / self._scale
        self._say(f"{self._stamp(self._go_wall)}: Go with mark '{self.mark}'")
        return (
            f"Starting untimed measurement, maximum {MAX_SAMPLES} samples"
            f" at {ms}ms with 0 rampup samples"
        )

    def stop(self) -> str:
        """``Stop``."""
        if not self.running:
            return "Error: no measurement to stop"
        self.catch_up()
        self.running = False
        self._say(f"{self._stamp(self._clock())}: Completed test")
        return "Stopping untimed measurement"

    def read_unread(self) -> list[str]:
        """The sample lines not read yet (``RL``)."""
        self.catch_up()
        lines, self._unread = self._unread, []
        return lines

    def watts_reply(self) -> str:
        """``Watts``: the reading now."""
        return f"Watts,{self._reading(self._clock()).watts:f}"

    def uncertainty_reply(self) -> str:
        """``Uncertainty``: 0.1 % of reading + 0.1 % of range, as a share of the reading."""
        s = self._reading(self._clock())
        rng = self.volts.effective(s.volts or 0.0) * self.amps.effective(s.amps or 0.0)
        pct = 0.1 + 0.1 * rng / s.watts if s.watts > 0 else 100.0
        return f"Uncertainty,{pct:.4f}%"

    def catch_up(self) -> None:
        """Produce every sample due by now."""
        if not self.running:
            return
        now = self._clock()
        while self._go_wall + self._k * self._dt <= now:
            self._emit(self._go_wall + self._k * self._dt)
            self._k += 1

    def _emit(self, wall: float) -> None:
        sample = self._reading(wall)
        line = format_spl_line(sample)
        self._unread.append(line)
        if self._log is not None:
            self._log.write(line + "\n")
            self._log.flush()

    def _reading(self, wall: float) -> PowerSample:
        t = (wall - self._t0) * self._scale
        watts, volts, pf = self._source(t), mains_volts(t), power_factor(t)
        amps = watts / (volts * pf)
        volts = self._clip("V", self.volts, volts)
        amps = self._clip("A", self.amps, amps)
        stamp = wall + self._skew
        return PowerSample(stamp, watts, round(volts, 4), round(amps, 4), round(pf, 4), self.mark)

    def _clip(self, name: str, setting: RangeSetting, reading: float) -> float:
        rng = setting.effective(reading)
        if reading <= rng:
            return reading
        self._say(f"WARNING: {name} reading {reading:f} is above the {rng:g} range (over-range)")
        return rng

    def _stamp(self, wall: float) -> str:
        return format_power_time(wall + self._skew)

    def _say(self, line: str) -> None:
        if self._out is not None:
            self._out.write(line + "\n")
            self._out.flush()
