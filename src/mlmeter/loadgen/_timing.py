"""Precise waiting: sleep most of the way, then spin the last stretch.

``time.sleep`` on Linux overshoots by the thread's timer slack (50 µs by default)
plus scheduler wake-up latency; the official LoadGen loses ~80 µs per Server
query to it. We lower the issuing thread's timer slack to 1 ns, sleep until
``SPIN_NS`` before the deadline, then busy-spin the rest (at most ``SPIN_NS`` with
the GIL held). When the CPUs are contended, spinning makes things worse, so the
margin adapts (``_SpinState``).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from time import perf_counter_ns

from mlmeter.clock import set_timer_slack

__all__ = ["quiet_gc", "set_timer_slack", "wait_until"]

SPIN_NS = 80_000  # wake this early and busy-spin the rest (adaptive, see _SpinState)


def wait_until(deadline_ns: int) -> int:
    """Return the time at or just after ``deadline_ns`` (perf_counter_ns clock)."""
    now = perf_counter_ns()
    state = _state
    margin = state.margin_ns
    if deadline_ns - now > margin:
        time.sleep((deadline_ns - now - margin) * 1e-9)
        now = perf_counter_ns()
    while now < deadline_ns:
        now = perf_counter_ns()
    if now - deadline_ns > _LATE_NS:
        state.late()  # woke or spun far too late: maybe every core is busy
    elif margin == 0:
        state.cool_down()
    else:
        state.strikes *= _STRIKE_DECAY
    return now


class _SpinState:
    """Adaptive spin margin: spin while the CPU is ours, only sleep when it is contended.

    On a quiet machine a short busy spin after an early wake-up hits the deadline within
    a microsecond. When every core is busy, a thread that spins uses up its share and the
    scheduler then lets it wait a whole time slice (milliseconds), while a thread that
    only sleeps to the deadline is woken first. So a wake-up that comes far too late
    switches spinning off for a while; then it is tried again.
    """

    __slots__ = ("countdown", "margin_ns", "strikes")

    def __init__(self) -> None:
        self.margin_ns = SPIN_NS
        self.countdown = 0
        self.strikes = 0.0  # recent late wake-ups, decaying

    def late(self) -> None:
        self.strikes += 1.0
        if self.strikes >= _STRIKES_TO_BACK_OFF:
            self.margin_ns = 0
            self.countdown = _COOL_DOWN_WAITS
            self.strikes = 0.0

    def cool_down(self) -> None:
        self.countdown -= 1
        if self.countdown <= 0:
            self.margin_ns = SPIN_NS


_LATE_NS = 200_000
_STRIKES_TO_BACK_OFF = 3.0
_STRIKE_DECAY = 0.998  # a late wake-up is forgotten over ~500 on-time ones
_COOL_DOWN_WAITS = 10_000
_state = _SpinState()


_GC_GEN0 = 100_000


@contextmanager
def quiet_gc() -> Iterator[None]:
    """Keep the cyclic GC from firing on the harness's own allocations while timed.

    mlmeter's sample and response objects are Python objects the GC tracks (the
    official ones are C++ objects it does not see), so at high rates the default
    gen-0 threshold of 700 triggers collections that cost more than the harness
    itself. Inside this block objects alive before it are frozen out of the GC's
    view and gen-0 collects every 100,000 allocations instead; cycles are still
    collected. The old thresholds are restored afterwards.
    """
    old = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(old[0], _GC_GEN0), max(old[1], 50), max(old[2], 50))
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()
