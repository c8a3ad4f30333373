"""Typed run events and a tiny synchronous event bus.

Power meters, tracing and progress displays subscribe here instead of reaching
into the loadgen. Events are published only at phase boundaries (never per
query), so subscribers cost nothing on the hot path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TestStarted:
    """The timed part of a run is about to start."""

    __test__ = False

    scenario: str
    mode: str
    sut_name: str


@dataclass(frozen=True)
class ClockStarted:
    """The run's clock started: ``mono_ns`` (perf_counter_ns) and ``wall_ns`` (epoch)."""

    mono_ns: int
    wall_ns: int


@dataclass(frozen=True)
class IssuingEnded:
    """The last query was issued (``queries_issued`` of them)."""

    mono_ns: int
    queries_issued: int


@dataclass(frozen=True)
class TestEnded:
    """The run is over: ``valid`` is None when no result was computed."""

    __test__ = False

    mono_ns: int
    wall_ns: int
    valid: bool | None
    reason: str = ""


Event = TestStarted | ClockStarted | IssuingEnded | TestEnded
Subscriber = Callable[[Any], None]


class EventBus:
    """Delivers each event to every subscriber, in subscription order."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Add ``callback``; return a function that removes it."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def publish(self, event: Event) -> None:
        """Call every subscriber with ``event``."""
        for callback in list(self._subscribers):
            callback(event)
