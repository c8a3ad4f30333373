"""What every power meter gives: timestamped samples, and the interface it implements.

Two kinds of source, kept apart (``docs/power.md``): *power* meters report watts at each
sample (a PTDaemon analyzer, NVML power, the simulated meter); *energy counters* report
cumulative joules (RAPL, NVML total energy), turned into power samples over each interval
by the meter itself, so that everything downstream sees ``PowerSample`` only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from mlmeter.errors import RunError, UserError


@dataclass(frozen=True)
class PowerSample:
    """One reading: UTC wall time in seconds since the epoch, and what the meter measured."""

    t_utc: float
    watts: float
    volts: float | None = None
    amps: float | None = None
    pf: float | None = None
    mark: str = ""  # the phase it belongs to, e.g. "<session>_ranging" / "<session>_testing"


@dataclass(frozen=True)
class Availability:
    """Whether a meter can run here; ``reason`` is one line naming the fix when it cannot."""

    ok: bool
    reason: str = ""


@dataclass(frozen=True)
class MeterInfo:
    """``identify()``: what measured, for the logs and the submission checks."""

    kind: str  # sim | rapl | nvml | ptd | director | ...
    model: str  # e.g. "Yokogawa WT310", "RAPL package-0", "simulated (square)"
    scope: str  # "wall AC", "CPU package", "GPU board", "simulated"
    valid_for_closed: bool  # only a PTDaemon analyzer at the wall is (MLPerf Power rules)
    needs_ranging: bool  # ranging + testing (two runs), as with an analyzer
    details: dict[str, Any] = field(default_factory=dict)


class PowerError(RunError):
    """The meter failed during a run (lost connection, garbage reply, silence)."""


class MeterUnavailable(UserError):
    """The meter cannot run on this machine (no powercap, no NVML, unreachable daemon)."""


class Meter(Protocol):
    """A power meter: ``start(mark)`` before the workload, ``stop()`` after it."""

    def probe(self) -> Availability:
        """Whether it can run here (never raises)."""
        ...

    def identify(self) -> MeterInfo:
        """What it is."""
        ...

    def start(self, mark: str, phase: str = "testing") -> None:
        """Begin sampling; samples carry ``mark``. ``phase`` is "ranging" (an analyzer
        auto-ranges and records the maxima) or "testing" (fixed ranges from ranging)."""
        ...

    def samples(self) -> Sequence[PowerSample]:
        """The samples taken since ``start`` so far (a live view; the meter keeps going)."""
        ...

    def stop(self) -> Sequence[PowerSample]:
        """End sampling; every sample taken since ``start``, in time order."""
        ...

    def close(self) -> None:
        """Release the device or connection."""
        ...
