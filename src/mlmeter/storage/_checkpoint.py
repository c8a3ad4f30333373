"""Checkpointing, as MLPerf Storage v2.0 measures it: write N checkpoints, then read them.

Every rank writes its shard files (fsync on, then the folder is fsynced and the files'
pages are dropped from the page cache), all ranks meet at a barrier, and then each reads
its files back sequentially and checks a sample of chunk checksums. A checkpoint's duration
is the slowest rank's; its throughput is the checkpoint's bytes over that duration (the
official "min over ranks"). Rank 0 gathers the per-rank timings and builds the summary
(:mod:`mlmeter.storage._checkpoint_report`).
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlmeter.clock import Clock, MonotonicClock
from mlmeter.errors import MlmeterError, RunError, UsageError
from mlmeter.storage import _shards
from mlmeter.storage._checkpoint_io import (
    CHUNK_BYTES,
    FileIO,
    FileSpec,
    Pattern,
    checkpoint_dir,
    disk_full,
    expected_crc,
    os_error,
    read_file,
    sync_dir,
    write_file,
)
from mlmeter.storage._comm import Comm, agree, run_local
from mlmeter.storage._shards import Plan
from mlmeter.storage._specs import CheckpointModel


@dataclass(frozen=True)
class CheckpointConfig:
    """What to run; validated at construction (the message names the flag)."""

    num_write: int = 10
    num_read: int = 10
    subset: bool = False
    fsync: bool = True
    scale: float | None = None
    size_per_rank: int | None = None
    interval_s: float = 5.0
    keep: bool = False
    chunk_bytes: int = CHUNK_BYTES

    def __post_init__(self) -> None:
        if self.num_write < 1:
            raise UsageError(f"--num-write {self.num_write}: write at least 1 checkpoint")
        if not 0 <= self.num_read <= self.num_write:
            raise UsageError(f"--num-read {self.num_read}: use 0 to --num-write {self.num_write}")
        if self.scale is not None and self.size_per_rank is not None:
            raise UsageError("--scale and --size-per-rank: give one of them")
        if self.scale is not None and not 0 < self.scale <= 1:
            raise UsageError(f"--scale {self.scale}: a fraction in (0, 1]")
        if self.size_per_rank is not None and self.size_per_rank < 1:
            raise UsageError(f"--size-per-rank {self.size_per_rank}: at least 1 byte")
        if self.interval_s < 0:
            raise UsageError(f"--interval {self.interval_s}: seconds, >= 0")


def make_plan(model: CheckpointModel, rank: int, size: int, cfg: CheckpointConfig) -> Plan:
    """The files client ``rank`` of ``size`` writes for each checkpoint under ``cfg``."""
    return _shards.make_plan(
        model, rank, size, subset=cfg.subset, scale=cfg.scale, size_per_rank=cfg.size_per_rank
    )


@dataclass
class _Rank:
    """The state of one rank during a run."""

    comm: Comm
    plan: Plan
    cfg: CheckpointConfig
    folder: Path
    io: FileIO
    clock: Clock
    sleep: Callable[[float], None]
    needed: int = 0

    def guarded(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn``; turn an OSError into a one-line error that every rank raises."""
        error: MlmeterError | None = None
        result = None
        try:
            result = fn()
        except OSError as exc:
            error = os_error(exc, self.folder, self.needed)
        except MlmeterError as exc:
            error = exc
        agree(self.comm, error)
        return result


def run_rank(
    comm: Comm,
    model: CheckpointModel,
    folder: Path,
    cfg: CheckpointConfig,
    *,
    io: FileIO | None = None,
    clock: Clock | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any] | None:
    """One rank's whole run; rank 0 returns every rank's record, the others ``None``."""
    plan = make_plan(model, comm.rank, comm.size, cfg)
    me = _Rank(comm, plan, cfg, folder, io or FileIO(), clock or MonotonicClock(), sleep)
    me.needed = round(comm.allreduce_sum(float(plan.nbytes))) * cfg.num_write
    me.guarded(lambda: _prepare(me))
    pattern = Pattern(seed=comm.rank, chunk_bytes=cfg.chunk_bytes)
    buf = memoryview(bytearray(cfg.chunk_bytes))
    save: list[float] = []
    load: list[float] = []
    dropped = True
    crcs: list[dict[FileSpec, dict[int, int]]] = []
    for i in range(cfg.num_write):
        seconds, ok = _phase(me, functools.partial(_write_checkpoint, me, pattern, i))
        save.append(seconds)
        dropped = dropped and ok
    for i in range(cfg.num_read):
        seconds, got = _phase(me, functools.partial(_read_checkpoint, me, buf, i))
        load.append(seconds)
        crcs.append(got)
    checked = me.guarded(lambda: _verify(me, pattern, crcs))
    if not cfg.keep:
        me.guarded(lambda: _cleanup_files(me))
        me.guarded(lambda: _cleanup_dirs(me))
    record = {
        "rank": comm.rank,
        "host": socket.gethostname(),
        "world_ranks": list(plan.world_ranks),
        "files": len(plan.files),
        "bytes": plan.nbytes,
        "save_seconds": save,
        "load_seconds": load,
        "chunks_verified": checked,
        "page_cache_dropped": dropped,
    }
    records = comm.gather(record)
    return None if records is None else {"records": records, "scale": plan.scale}


def _phase(me: _Rank, fn: Callable[[], Any]) -> tuple[float, Any]:
    """Barrier, run ``fn`` timed on this rank, agree on errors, then wait the interval."""
    me.comm.barrier()
    t0 = me.clock.now_ns()
    result = me.guarded(fn)
    seconds = (me.clock.now_ns() - t0) / 1e9
    if me.cfg.interval_s:
        me.sleep(me.cfg.interval_s)
    return seconds, result


def _prepare(me: _Rank) -> None:
    """Rank 0 checks the folder is writable and large enough, and makes the folders."""
    if me.comm.rank != 0:
        return
    me.folder.mkdir(parents=True, exist_ok=True)
    probe = me.folder / f".mlmeter-probe-{os.getpid()}"
    probe.write_bytes(b"")
    probe.unlink()
    if shutil.disk_usage(me.folder).free < me.needed:
        raise disk_full(me.folder, me.needed)
    for i in range(me.cfg.num_write):
        checkpoint_dir(me.folder, i).mkdir(exist_ok=True)
    sync_dir(me.io, me.folder)


def _write_checkpoint(me: _Rank, pattern: Pattern, index: int) -> bool:
    """Write this rank's files of checkpoint ``index``; True if every cache drop was done."""
    dropped = [write_file(me.io, pattern, s, me.folder, me.cfg.fsync) for s in me.plan.specs(index)]
    if me.cfg.fsync:
        sync_dir(me.io, checkpoint_dir(me.folder, index))
    return all(dropped)


def _read_checkpoint(me: _Rank, buf: memoryview, index: int) -> dict[FileSpec, dict[int, int]]:
    """Read this rank's files of checkpoint ``index``; the sampled CRCs per file."""
    return {s: read_file(me.io, s, me.folder, buf) for s in me.plan.specs(index)}


def _verify(me: _Rank, pattern: Pattern, crcs: list[dict[FileSpec, dict[int, int]]]) -> int:
    """Compare the sampled CRCs with the written pattern (after timing); chunks checked."""
    checked = 0
    for per_file in crcs:
        for spec, got in per_file.items():
            for index, crc in got.items():
                if crc != expected_crc(pattern, spec, index):
                    raise RunError(f"{spec.path(me.folder)}: chunk {index} reads back wrong")
                checked += 1
    return checked


def _cleanup_files(me: _Rank) -> None:
    """Remove this rank's files."""
    for i in range(me.cfg.num_write):
        for spec in me.plan.specs(i):
            spec.path(me.folder).unlink(missing_ok=True)


def _cleanup_dirs(me: _Rank) -> None:
    """Rank 0 removes the emptied checkpoint folders (after every rank removed its files)."""
    if me.comm.rank == 0:
        for i in range(me.cfg.num_write):
            d = checkpoint_dir(me.folder, i)
            if d.is_dir() and not any(d.iterdir()):
                d.rmdir()


def run_local_ranks(
    model: CheckpointModel, folder: Path, ranks: int, cfg: CheckpointConfig, **kw: Any
) -> dict[str, Any]:
    """Run ``ranks`` thread ranks on this host; rank 0's gathered records."""
    make_plan(model, 0, ranks, cfg)  # a usage error before any thread starts
    results = run_local(ranks, lambda comm: run_rank(comm, model, folder, cfg, **kw))
    merged = results[0]
    assert merged is not None
    return merged
