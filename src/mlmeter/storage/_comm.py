"""The communicator seam between ranks: one protocol, a thread implementation for one host.

Each rank is one emulated accelerator. Code that runs on a rank sees only a :class:`Comm`:
``rank``, ``size``, ``barrier()``, ``allreduce_sum(x)``, ``gather(obj)`` (to rank 0) and
``bcast(obj)`` (from rank 0). :class:`LocalComm` runs the ranks as threads of this process;
:func:`mlmeter.storage._mpi.mpi_comm` gives one over MPI's ``COMM_WORLD`` under ``mpirun``.
Every collective must be called by all ranks in the same order, as with MPI.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar, runtime_checkable

T = TypeVar("T")

#: How long a thread rank waits at a collective before the run is declared stuck (seconds).
LOCAL_TIMEOUT_S = 3600.0


@runtime_checkable
class Comm(Protocol):
    """What a rank may ask of its peers (the subset of MPI the benchmark needs)."""

    @property
    def rank(self) -> int:
        """This rank's number, 0 to ``size - 1``."""

    @property
    def size(self) -> int:
        """The number of ranks."""

    def barrier(self) -> None:
        """Wait until every rank arrives."""

    def allreduce_sum(self, x: float) -> float:
        """The sum of ``x`` over all ranks, returned on every rank."""

    def gather(self, obj: Any) -> list[Any] | None:
        """Every rank's ``obj`` in rank order on rank 0; ``None`` on the others."""

    def bcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank."""


class _Group:
    """The state the thread ranks of one group share."""

    def __init__(self, size: int, timeout_s: float) -> None:
        self.size = size
        self.barrier = threading.Barrier(size, timeout=timeout_s)
        self.lock = threading.Lock()
        self.slots: list[Any] = [None] * size


class LocalComm:
    """One thread rank of a group made by :meth:`group` (satisfies :class:`Comm`)."""

    def __init__(self, group: _Group, rank: int) -> None:
        self._group = group
        self._rank = rank

    @classmethod
    def group(cls, size: int, *, timeout_s: float = LOCAL_TIMEOUT_S) -> list[LocalComm]:
        """``size`` communicators sharing one group, one per thread rank."""
        if size < 1:
            raise ValueError(f"a group needs at least one rank, got {size}")
        shared = _Group(size, timeout_s)
        return [cls(shared, r) for r in range(size)]

    @property
    def rank(self) -> int:
        """This rank's number."""
        return self._rank

    @property
    def size(self) -> int:
        """The number of ranks in the group."""
        return self._group.size

    def barrier(self) -> None:
        """Wait for every thread rank (raises ``BrokenBarrierError`` if one failed)."""
        self._group.barrier.wait()

    def abort(self) -> None:
        """Break the group's barrier so that peers stop waiting for a failed rank."""
        self._group.barrier.abort()

    def _exchange(self, obj: Any) -> list[Any]:
        with self._group.lock:
            self._group.slots[self._rank] = obj
        self.barrier()
        with self._group.lock:
            values = list(self._group.slots)
        self.barrier()  # nobody overwrites a slot before every rank has read it
        return values

    def allreduce_sum(self, x: float) -> float:
        """The sum over ranks, added in rank order (so every rank gets the same float)."""
        return float(sum(self._exchange(x)))

    def gather(self, obj: Any) -> list[Any] | None:
        """Every rank's ``obj`` on rank 0."""
        values = self._exchange(obj)
        return values if self._rank == 0 else None

    def bcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` everywhere."""
        return self._exchange(obj)[0]


def run_local(size: int, fn: Callable[[LocalComm], T]) -> list[T]:
    """Run ``fn(comm)`` on ``size`` thread ranks; the results in rank order.

    If a rank raises, the others are released from their collectives and the first
    error (in rank order, preferring a real error over the broken barrier) is re-raised.
    """
    comms = LocalComm.group(size)

    def call(comm: LocalComm) -> T:
        try:
            return fn(comm)
        except Exception:
            comm.abort()
            raise

    with ThreadPoolExecutor(max_workers=size, thread_name_prefix="rank") as pool:
        futures = [pool.submit(call, c) for c in comms]
        errors = [f.exception() for f in futures]
    real = [e for e in errors if e is not None and not isinstance(e, threading.BrokenBarrierError)]
    first = real[0] if real else next((e for e in errors if e is not None), None)
    if first is not None:
        raise first
    return [f.result() for f in futures]


def agree(comm: Comm, error: Exception | None) -> None:
    """A collective error check: if any rank failed, every rank raises the first error.

    Each rank passes its own error (or ``None``); rank 0 picks the first in rank order and
    broadcasts it, so all ranks leave together instead of waiting at the next barrier.
    The error must pickle (under MPI) and be rebuildable from its ``args``.
    """
    errors = comm.gather(error)
    first = None if errors is None else next((e for e in errors if e is not None), None)
    chosen = comm.bcast(first)
    if chosen is not None:
        raise type(chosen)(*chosen.args)
