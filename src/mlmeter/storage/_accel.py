"""Emulated accelerators: fetch a batch, "compute" (a sleep), wait for every rank.

One rank is one accelerator: a thread of this process (:class:`~._comm.LocalComm`) or an
MPI rank (:func:`~._mpi.mpi_comm`). Per step it takes the next batch from its loader, sleeps
the workload's compute time per batch and waits at a barrier that stands in for the
all-reduce, as DLIO's ``_train`` loop does. Time goes through a :class:`Timer` so tests can
run on a :class:`FakeTimer`, where sleeping moves the fake time and so can reading.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from mlmeter.clock import FakeClock
from mlmeter.errors import RunError
from mlmeter.storage._comm import Comm
from mlmeter.storage._metrics import EpochTrace


class Timer(Protocol):
    """A monotonic ns clock that can also sleep."""

    def now_ns(self) -> int:
        """The current time in ns."""
        ...

    def sleep_ns(self, ns: int) -> None:
        """Wait ``ns`` nanoseconds."""
        ...


class RealTimer:
    """``time.perf_counter_ns`` and ``time.sleep``."""

    now_ns = staticmethod(time.perf_counter_ns)

    @staticmethod
    def sleep_ns(ns: int) -> None:
        """Sleep ``ns`` nanoseconds (at least)."""
        if ns > 0:
            time.sleep(ns / 1e9)


class FakeTimer(FakeClock):
    """A fake clock where sleeping advances the time at once: exact, instant tests."""

    def sleep_ns(self, ns: int) -> None:
        """Advance the fake time by ``ns``."""
        self.advance(max(ns, 0))


class SizedBatch(Protocol):
    """What the accelerator needs to know about a batch."""

    @property
    def samples(self) -> int:
        """Samples in the batch."""
        ...

    @property
    def nbytes(self) -> int:
        """Bytes read for the batch."""
        ...


@dataclass(frozen=True)
class EpochResult:
    """One rank's epoch: its timings and what it consumed."""

    trace: EpochTrace
    samples: int
    nbytes: int
    start_ns: int
    end_ns: int


def run_epoch(
    batches: Iterator[SizedBatch],
    *,
    steps: int,
    compute_ns: int,
    comm: Comm,
    timer: Timer,
) -> EpochResult:
    """Take ``steps`` batches: fetch, compute (sleep), barrier; return the timings.

    Raises :class:`RunError` if the loader runs dry before ``steps`` batches (every rank
    must take the same number of steps, or the barriers would never meet).
    """
    load: list[int] = []
    compute: list[int] = []
    samples = nbytes = 0
    start = timer.now_ns()
    for step in range(steps):
        t0 = timer.now_ns()
        batch = next(batches, None)
        t1 = timer.now_ns()
        if batch is None:
            raise RunError(f"rank {comm.rank}: the loader ended after {step} of {steps} steps")
        timer.sleep_ns(compute_ns)
        t2 = timer.now_ns()
        comm.barrier()
        load.append(t1 - t0)
        compute.append(t2 - t1)
        samples += batch.samples
        nbytes += batch.nbytes
    end = timer.now_ns()
    trace = EpochTrace(tuple(load), tuple(compute), end - start)
    return EpochResult(trace, samples, nbytes, start, end)
