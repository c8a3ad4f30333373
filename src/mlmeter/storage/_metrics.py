"""DLIO's training metrics as pure functions: accelerator utilization, samples/s, MB/s.

Per rank and epoch (``dlio_benchmark/utils/statscounter.py: compute_metrics_train``)::

    total_time = wall - sum(proc[:k])          # k = metric_exclude_start_steps = 1
    AU         = sum(compute[k:]) / total_time  # 0 when nothing was computed
    samples/s  = (steps - 2) / total_time x batch_size

where ``proc`` is a step's time from the start of its fetch to the end of its compute (the
barrier is outside it) and ``wall`` the epoch's time on that rank. Across ranks the AU is
averaged (allreduce / size) and the samples/s summed; a run's figure is the mean over its
epochs, MB/s = samples/s x record_bytes / 2^20, and the run passes when the mean AU is at
least the workload's threshold. Times are integer nanoseconds; AU is a fraction here and a
percentage only in the files we write.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

#: DLIO's ``metric_exclude_start_steps``: the first step (pipeline start-up) is left out.
EXCLUDE_START_STEPS = 1
MIB = 2**20


@dataclass(frozen=True)
class EpochTrace:
    """One rank's timings for one epoch, in ns: per step, fetch and compute; and the wall."""

    load_ns: tuple[int, ...]
    compute_ns: tuple[int, ...]
    wall_ns: int

    def __post_init__(self) -> None:
        if len(self.load_ns) != len(self.compute_ns):
            raise ValueError("load_ns and compute_ns need one entry per step")
        if self.wall_ns < sum(self.proc_ns):
            raise ValueError("the wall time is shorter than the steps it contains")

    @property
    def steps(self) -> int:
        """Steps taken."""
        return len(self.compute_ns)

    @property
    def proc_ns(self) -> tuple[int, ...]:
        """Per step, fetch plus compute (DLIO's ``proc``)."""
        return tuple(a + b for a, b in zip(self.load_ns, self.compute_ns, strict=True))


def metric_time_ns(trace: EpochTrace, exclude: int = EXCLUDE_START_STEPS) -> int:
    """The epoch's wall time less the first ``exclude`` steps' fetch and compute."""
    return trace.wall_ns - sum(trace.proc_ns[:exclude])


def accelerator_utilization(trace: EpochTrace, exclude: int = EXCLUDE_START_STEPS) -> float:
    """Compute time over wall time, the first ``exclude`` steps left out (a fraction)."""
    busy = sum(trace.compute_ns[exclude:])
    total = metric_time_ns(trace, exclude)
    return busy / total if busy > 0 and total > 0 else 0.0


def rank_throughput(
    trace: EpochTrace, batch_size: int, exclude: int = EXCLUDE_START_STEPS
) -> float:
    """One rank's samples/s in one epoch: ``(steps - 2) / time x batch`` as DLIO has it."""
    total = metric_time_ns(trace, exclude)
    if trace.steps <= 2 or total <= 0:
        return 0.0
    return (trace.steps - 2) / (total / 1e9) * batch_size


def mean_au(au_sum: float, size: int) -> float:
    """The epoch's AU over ranks: the allreduced sum over the number of ranks."""
    return au_sum / size


def io_mb_per_s(samples_per_s: float, record_bytes: float) -> float:
    """MB/s as DLIO reports it: samples/s x record bytes / 2^20."""
    return samples_per_s * record_bytes / MIB


@dataclass(frozen=True)
class RunMetrics:
    """One run's per-epoch figures (already merged over ranks) and its verdict."""

    au: tuple[float, ...]  # fraction per epoch, mean over ranks
    throughput: tuple[float, ...]  # samples/s per epoch, summed over ranks
    record_bytes: float
    threshold: float

    @property
    def au_mean(self) -> float:
        """Mean AU across epochs (a fraction)."""
        return statistics.fmean(self.au) if self.au else 0.0

    @property
    def au_stdev(self) -> float:
        """Population standard deviation of the AU across epochs (numpy's ``std``)."""
        return statistics.pstdev(self.au) if self.au else 0.0

    @property
    def throughput_mean(self) -> float:
        """Mean samples/s across epochs."""
        return statistics.fmean(self.throughput) if self.throughput else 0.0

    @property
    def throughput_stdev(self) -> float:
        """Population standard deviation of samples/s across epochs."""
        return statistics.pstdev(self.throughput) if self.throughput else 0.0

    @property
    def io_mean_mb_per_s(self) -> float:
        """Mean MB/s: mean samples/s x record bytes / 2^20."""
        return io_mb_per_s(self.throughput_mean, self.record_bytes)

    @property
    def passed(self) -> bool:
        """Mean AU at or above the threshold (compared in percent, as DLIO does)."""
        return self.au_mean * 100 >= self.threshold * 100


def merge_ranks(
    per_rank: Sequence[Sequence[EpochTrace]], batch_size: int
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per epoch: AU averaged over ranks and samples/s summed (what allreduce gives)."""
    epochs = len(per_rank[0])
    if any(len(r) != epochs for r in per_rank):
        raise ValueError("every rank must report the same number of epochs")
    au = tuple(
        mean_au(sum(accelerator_utilization(r[e]) for r in per_rank), len(per_rank))
        for e in range(epochs)
    )
    tput = tuple(sum(rank_throughput(r[e], batch_size) for r in per_rank) for e in range(epochs))
    return au, tput
