"""``mlmeter storage run``: emulated accelerators read a dataset; AU, samples/s and MB/s.

:func:`run_storage` checks the dataset (present, big enough for the accelerators by the
official rule, larger than the page cache), then makes ``runs`` runs of ``epochs`` epochs.
In each, every rank (a thread here, or an MPI rank with ``comm``) reads its share of the
files, shuffled with the run's seed, through its own prefetching loader, and computes
(sleeps) per batch with a barrier per step. Rank 0 writes the outputs (see ``_outputs``).
A mean AU below the workload's threshold is a failed result, not an error:
``StorageResult.passed`` is False and ``message`` gives the numbers.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlmeter.errors import UsageError
from mlmeter.storage._accel import RealTimer, Timer, run_epoch
from mlmeter.storage._comm import Comm, run_local
from mlmeter.storage._dataset_check import check_dataset, fits_in_memory
from mlmeter.storage._formats import DatasetManifest, read_manifest
from mlmeter.storage._loader import Loader
from mlmeter.storage._metrics import RunMetrics, accelerator_utilization, rank_throughput
from mlmeter.storage._outputs import (
    EpochSpan,
    HostFacts,
    RunRecord,
    describe_dataset,
    record_bytes,
    write_outputs,
)
from mlmeter.storage._reader import ReadOptions, Throttle
from mlmeter.storage._sizing import host_memory_bytes
from mlmeter.storage._specs import StorageWorkload
from mlmeter.system import describe_system


@dataclass(frozen=True)
class RunOptions:
    """The knobs of a storage run (``None``: the workload's value)."""

    accelerators: int = 1
    runs: int = 5
    epochs: int | None = None
    compute_s: float | None = None
    read_threads: int | None = None
    prefetch: int = 2
    seed: int = 0
    workers: str = "threads"
    allow_small: bool = False
    verify_crc: bool = False
    read_delay_s: float = 0.0  # test seam: a slow device
    throttle_bytes_per_s: float | None = None  # test seam: shared bandwidth (threads only)

    def __post_init__(self) -> None:
        for name in ("accelerators", "runs", "prefetch"):
            if getattr(self, name) < 1:
                raise UsageError(f"--{name} {getattr(self, name)}: use 1 or more")
        if self.epochs is not None and self.epochs < 1:
            raise UsageError(f"--epochs {self.epochs}: use 1 or more")
        if self.compute_s is not None and self.compute_s < 0:
            raise UsageError(f"--compute-ms {self.compute_s * 1000:g}: use 0 or more")


@dataclass(frozen=True)
class StorageResult:
    """The outcome of :func:`run_storage` (on every rank; only rank 0 wrote files)."""

    workload: str
    accelerators: int
    runs: tuple[RunMetrics, ...]
    threshold: float
    potential_caching: bool
    submittable: bool
    out_dir: Path

    @property
    def au_mean(self) -> float:
        """Mean AU over the runs (a fraction)."""
        return float(np.mean([r.au_mean for r in self.runs]))

    @property
    def throughput_mean(self) -> float:
        """Mean samples/s over the runs."""
        return float(np.mean([r.throughput_mean for r in self.runs]))

    @property
    def io_mb_per_s(self) -> float:
        """Mean MB/s over the runs."""
        return float(np.mean([r.io_mean_mb_per_s for r in self.runs]))

    @property
    def passed(self) -> bool:
        """The mean AU reaches the threshold."""
        return self.au_mean * 100 >= self.threshold * 100

    @property
    def message(self) -> str:
        """One line: the AU against the threshold, and what it means."""
        au, th, n = self.au_mean * 100, self.threshold * 100, self.accelerators
        if self.passed:
            return (
                f"AU {au:.1f} % >= {th:g} % ({self.workload}): the storage feeds {n} accelerators"
            )
        return (
            f"AU {au:.1f} % < {th:g} % ({self.workload}): the storage cannot feed {n} accelerators"
        )


def rank_files(files: list[str], seed: int, epoch: int, rank: int, size: int) -> list[str]:
    """This rank's files for one epoch: a seeded shuffle (the same on every rank), dealt."""
    order = np.random.default_rng([seed, epoch]).permutation(len(files))
    usable = len(files) // size * size
    return [files[i] for i in order[:usable][rank::size]]


@dataclass(frozen=True)
class _Plan:
    workload: StorageWorkload
    ds: DatasetManifest
    files: list[str]
    opts: RunOptions
    steps: int
    epochs: int
    compute_ns: int
    read: ReadOptions
    timer: Timer


def _rank_run(comm: Comm, plan: _Plan, seed: int, throttle: Throttle | None) -> RunRecord:
    """One rank's run: every epoch, then the AU and samples/s merged over the ranks."""
    w, opts = plan.workload, plan.opts
    spans, traces = [], []
    loader = Loader(
        plan.read,
        batch_size=w.batch_size,
        read_threads=opts.read_threads or w.read_threads,
        prefetch_size=opts.prefetch,
        workers=opts.workers,
        throttle=throttle,
    )
    with loader:
        for epoch in range(plan.epochs):
            files = rank_files(plan.files, seed, epoch, comm.rank, comm.size)
            comm.barrier()
            start = time.time()
            with loader.epoch(files, plan.steps) as batches:
                res = run_epoch(
                    batches,
                    steps=plan.steps,
                    compute_ns=plan.compute_ns,
                    comm=comm,
                    timer=plan.timer,
                )
            spans.append(EpochSpan(start, time.time()))
            traces.append(res.trace)
    au = [comm.allreduce_sum(accelerator_utilization(t)) / comm.size for t in traces]
    tput = [comm.allreduce_sum(rank_throughput(t, w.batch_size)) for t in traces]
    metrics = RunMetrics(tuple(au), tuple(tput), record_bytes(plan.ds), w.au_threshold)
    return RunRecord(metrics, seed, tuple(spans))


def _one_run(plan: _Plan, seed: int, comm: Comm | None) -> RunRecord:
    rate = plan.opts.throttle_bytes_per_s
    throttle = Throttle(rate) if rate else None
    if comm is not None:
        return _rank_run(comm, plan, seed, throttle)
    return run_local(plan.opts.accelerators, lambda c: _rank_run(c, plan, seed, throttle))[0]


def run_storage(
    workload: StorageWorkload,
    data_dir: Path,
    out_dir: Path,
    *,
    comm: Comm | None = None,
    timer: Timer | None = None,
    log: Callable[[str], None] | None = None,
    **options: Any,
) -> StorageResult:
    """Run the storage benchmark; see the module docstring. ``options``: :class:`RunOptions`."""
    say = log or (lambda line: print(line, file=sys.stderr))
    opts = RunOptions(**options)
    if comm is not None:
        opts = dataclasses.replace(opts, accelerators=comm.size)
    ds = read_manifest(Path(data_dir))
    steps = check_dataset(ds, workload, opts.accelerators, opts.allow_small)
    ram = host_memory_bytes()
    caching = fits_in_memory(ds, ram, say if comm is None or comm.rank == 0 else None)
    plan = _plan(workload, ds, opts, steps, timer)
    records = [_one_run(plan, opts.seed + k, comm) for k in range(opts.runs)]
    result = StorageResult(
        workload.name,
        opts.accelerators,
        tuple(r.metrics for r in records),
        workload.au_threshold,
        caching,
        not opts.allow_small,
        Path(out_dir),
    )
    if comm is None or comm.rank == 0:
        host = HostFacts(
            opts.accelerators, ds.files, ds.samples_per_file, ds.total_bytes, ram, caching
        )
        write_outputs(Path(out_dir), records, host, _ours(plan, result))
    return result


def _plan(
    w: StorageWorkload, ds: DatasetManifest, opts: RunOptions, steps: int, timer: Timer | None
) -> _Plan:
    compute_s = w.compute_s if opts.compute_s is None else opts.compute_s
    read = ReadOptions(
        ds.file_format, ds.samples_per_file, verify_crc=opts.verify_crc, delay_s=opts.read_delay_s
    )
    files = [str(p) for p in ds.file_paths()]
    epochs, compute_ns = opts.epochs or w.epochs, round(compute_s * 1e9)
    return _Plan(w, ds, files, opts, steps, epochs, compute_ns, read, timer or RealTimer())


def _ours(plan: _Plan, result: StorageResult) -> dict[str, Any]:
    """``mlmeter_storage.json`` without its runs."""
    settings = dataclasses.asdict(plan.opts)
    settings.update(
        epochs=plan.epochs,
        steps_per_epoch=plan.steps,
        compute_s=plan.compute_ns / 1e9,
        read_threads=plan.opts.read_threads or plan.workload.read_threads,
    )
    return {
        "workload": dataclasses.asdict(plan.workload),
        "settings": settings,
        "dataset": describe_dataset(plan.ds),
        "system": describe_system(),
        "mean": {
            "au_percentage": result.au_mean * 100,
            "throughput_samples_per_second": result.throughput_mean,
            "io_MB_per_second": result.io_mb_per_s,
        },
        "result": {
            "passed": result.passed,
            "au_threshold_percentage": plan.workload.au_threshold * 100,
            "message": result.message,
            "submittable": result.submittable,
            "potential_caching": result.potential_caching,
        },
    }
