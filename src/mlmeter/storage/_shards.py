"""Which world ranks' shards each client writes, and the files it writes, scaled.

The official per-rank sizes come from :mod:`mlmeter.storage._checkpoint_sizes` (DLIO's
TP x PP x DP + ZeRO layout). A run has ``size`` clients (threads or MPI ranks); they share
the ``processes`` world ranks round-robin, or in subset mode each writes only its own, and
``--scale`` / ``--size-per-rank`` shrink every file by one factor.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlmeter.errors import UsageError
from mlmeter.storage._checkpoint_io import FileSpec
from mlmeter.storage._checkpoint_sizes import rank_bytes
from mlmeter.storage._specs import CheckpointModel


@dataclass(frozen=True)
class Shard:
    """What one world rank writes: its model state and its optimizer state, in bytes."""

    world_rank: int
    model_bytes: int
    optim_bytes: int

    @property
    def total_bytes(self) -> int:
        """Model plus optimizer bytes."""
        return self.model_bytes + self.optim_bytes


def shard(m: CheckpointModel, world_rank: int) -> Shard:
    """The official (unscaled) bytes world rank ``world_rank`` writes."""
    return Shard(world_rank, *rank_bytes(m, world_rank))


def world_ranks_of(m: CheckpointModel, rank: int, size: int, *, subset: bool) -> list[int]:
    """The world ranks that client ``rank`` of ``size`` writes.

    Without ``subset`` the clients share the whole checkpoint round-robin; with it each
    client writes only its own world rank (a node-local fraction, as the official subset
    mode does), so ``size / processes`` of the checkpoint is written.
    """
    if subset:
        return [rank]
    return list(range(rank, m.processes, size))


def scaled(n: int, scale: float) -> int:
    """``n`` bytes scaled down (never to zero unless ``n`` is zero)."""
    return 0 if n == 0 else max(1, round(n * scale))


@dataclass(frozen=True)
class Plan:
    """One rank's share: its world ranks and the bytes of each file of one checkpoint."""

    rank: int
    world_ranks: tuple[int, ...]
    files: tuple[tuple[int, str, int], ...]  # (world rank, kind, bytes)
    scale: float

    @property
    def nbytes(self) -> int:
        """This rank's bytes per checkpoint."""
        return sum(n for _w, _k, n in self.files)

    def specs(self, checkpoint: int) -> list[FileSpec]:
        """The files of checkpoint ``checkpoint``."""
        return [FileSpec(checkpoint, w, k, n) for w, k, n in self.files]


def resolve_scale(
    model: CheckpointModel,
    size: int,
    *,
    subset: bool,
    scale: float | None,
    size_per_rank: int | None,
) -> float:
    """The factor applied to the official sizes (1.0 for the official size)."""
    if size_per_rank is None:
        return 1.0 if scale is None else scale
    covered = size if subset else model.processes
    official = sum(shard(model, w).total_bytes for w in range(covered))
    return size_per_rank * size / official


def make_plan(
    model: CheckpointModel,
    rank: int,
    size: int,
    *,
    subset: bool = False,
    scale: float | None = None,
    size_per_rank: int | None = None,
) -> Plan:
    """The files client ``rank`` of ``size`` writes for each checkpoint."""
    if size > model.processes:
        raise UsageError(
            f"--ranks {size}: {model.name} has {model.processes} shards (tp x pp x dp); "
            f"use at most {model.processes}"
        )
    factor = resolve_scale(model, size, subset=subset, scale=scale, size_per_rank=size_per_rank)
    worlds = world_ranks_of(model, rank, size, subset=subset)
    files = []
    for w in worlds:
        s = shard(model, w)
        for kind, n in (("model", s.model_bytes), ("optim", s.optim_bytes)):
            if scaled(n, factor):
                files.append((w, kind, scaled(n, factor)))
    return Plan(rank, tuple(worlds), tuple(files), factor)
