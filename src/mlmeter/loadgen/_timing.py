"""Precise waiting: sleep most of the way, then spin the last stretch.

``time.sleep`` on Linux overshoots by the thread's timer slack (50 µs by default)
plus scheduler wake-up latency; the official LoadGen loses ~80 µs per Server
query to it. We lower the issuing thread's timer slack to 1 ns, sleep until
``SPIN_NS`` before the deadline, then spin with ``sleep(0)``, which releases the
GIL on every turn so SUT threads are never starved.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from time import perf_counter_ns

from mlmeter.clock import set_timer_slack

__all__ = ["quiet_gc", "set_timer_slack", "wait_until"]

SPIN_NS = 150_000  # wake this early and spin the rest


def wait_until(deadline_ns: int) -> int:
    """Return the time at or just after ``deadline_ns`` (perf_counter_ns clock)."""
    now = perf_counter_ns()
    remaining = deadline_ns - now
    if remaining > SPIN_NS:
        time.sleep((remaining - SPIN_NS) * 1e-9)
        now = perf_counter_ns()
    sleep = time.sleep
    while now < deadline_ns:
        sleep(0)
        now = perf_counter_ns()
    return now


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
