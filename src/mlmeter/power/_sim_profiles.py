"""Power profiles of the simulated meter, each with a closed-form energy.

A profile maps seconds since the meter's origin to watts (``power``) and gives the exact
integral over an interval (``energy``), so tests can compare reported energy with the
analytic value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mlmeter.errors import UsageError


@dataclass(frozen=True)
class Constant:
    """``watts`` all the time."""

    watts: float = 100.0
    name = "constant"

    def power(self, t: float) -> float:
        """Watts at ``t``."""
        return self.watts

    def energy(self, a: float, b: float) -> float:
        """Joules over ``[a, b]``."""
        return self.watts * (b - a)


class _Cumulative:
    """A profile given by its energy from 0 to ``t`` (``_cumulative``)."""

    def _cumulative(self, t: float) -> float:
        raise NotImplementedError

    def energy(self, a: float, b: float) -> float:
        """Joules over ``[a, b]``."""
        return self._cumulative(b) - self._cumulative(a)


@dataclass(frozen=True)
class Square(_Cumulative):
    """``high`` for the first ``duty`` of each ``period``, then ``low``."""

    low: float = 50.0
    high: float = 150.0
    period: float = 1.0
    duty: float = 0.5
    name = "square"

    def power(self, t: float) -> float:
        """Watts at ``t``."""
        return self.high if (t % self.period) < self.duty * self.period else self.low

    def _cumulative(self, t: float) -> float:
        n = math.floor(t / self.period)
        r = t - n * self.period
        on = self.duty * self.period
        per_period = on * self.high + (self.period - on) * self.low
        return n * per_period + min(r, on) * self.high + max(0.0, r - on) * self.low


@dataclass(frozen=True)
class Ramp(_Cumulative):
    """From ``start`` W to ``end`` W linearly over ``duration`` s, then ``end``."""

    start: float = 50.0
    end: float = 150.0
    duration: float = 10.0
    name = "ramp"

    def power(self, t: float) -> float:
        """Watts at ``t``."""
        x = min(max(t, 0.0), self.duration)
        return self.start + (self.end - self.start) * x / self.duration

    def _cumulative(self, t: float) -> float:
        if t <= 0:
            return self.start * t
        x = min(t, self.duration)
        ramp = self.start * x + (self.end - self.start) * x * x / (2 * self.duration)
        return ramp + self.end * (t - x)


@dataclass(frozen=True)
class Sine(_Cumulative):
    """``mean + amplitude * sin(2 pi t / period)``."""

    mean: float = 100.0
    amplitude: float = 50.0
    period: float = 1.0
    name = "sine"

    def power(self, t: float) -> float:
        """Watts at ``t``."""
        return self.mean + self.amplitude * math.sin(2 * math.pi * t / self.period)

    def _cumulative(self, t: float) -> float:
        k = 2 * math.pi / self.period
        return self.mean * t - self.amplitude * math.cos(k * t) / k


@dataclass(frozen=True)
class Load:
    """``idle + (peak - idle) * load``, with the load read from a callback at each sample;
    its energy comes from the recorded readings (see ``SimulatedMeter.expected_energy``)."""

    idle: float = 50.0
    peak: float = 150.0
    full: float = 1.0  # the callback value that means full load (e.g. queries in flight)
    name = "load"

    def watts_at_load(self, value: float) -> float:
        """Watts for a callback ``value`` (clamped to 0..full)."""
        frac = min(max(value / self.full, 0.0), 1.0)
        return self.idle + (self.peak - self.idle) * frac


Profile = Constant | Square | Ramp | Sine | Load
PROFILES: dict[str, type[Profile]] = {
    "constant": Constant,
    "square": Square,
    "ramp": Ramp,
    "sine": Sine,
    "load": Load,
}
_POSITIVE = {"period", "duration", "full"}


def make_profile(name: str, params: dict[str, float]) -> Profile:
    """The profile ``name`` with ``params``; a UsageError names a bad key or value."""
    cls = PROFILES.get(name)
    if cls is None:
        raise UsageError(f"unknown sim profile {name!r}: use one of {', '.join(PROFILES)}")
    fields = list(cls.__dataclass_fields__)
    for key, value in params.items():
        if key not in fields:
            raise UsageError(
                f"--power sim: {key!r} does not apply to profile={name}: use {', '.join(fields)}"
            )
        if key in _POSITIVE and value <= 0:
            raise UsageError(f"--power sim: {key} must be > 0, got {value:g}")
    if name == "square" and not 0 <= params.get("duty", 0.5) <= 1:
        raise UsageError("--power sim: duty must be between 0 and 1")
    return cls(**params)
