"""The order in which training samples are visited: seeded, epoch by epoch, sharded by rank.

Every epoch is a fresh permutation of ``range(size)`` drawn from one seeded generator,
so the same seed gives the same order on every rank and in every rerun. A global batch
of ``batch`` indices is split into contiguous shares, one per rank (the last shares may
be shorter), so the ranks together see each sample exactly once per epoch.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt


class SampleStream:
    """Global batches of sample indices across epochs; ``take(n)`` yields this rank's part."""

    def __init__(
        self, size: int, batch: int, *, seed: int, rank: int = 0, world_size: int = 1
    ) -> None:
        if size <= 0 or batch <= 0:
            raise ValueError(f"SampleStream needs size > 0 and batch > 0, got {size}, {batch}")
        if not 0 <= rank < world_size:
            raise ValueError(f"SampleStream rank {rank} is not in [0, {world_size})")
        self.size = size
        self.batch = batch
        self.rank = rank
        self.world_size = world_size
        self._rng = np.random.default_rng(seed)
        self._order: npt.NDArray[np.int64] = np.empty(0, dtype=np.int64)
        self._pos = 0
        self.epoch = 0  # epochs started so far
        self.consumed = 0  # global samples handed out so far

    def _refill(self) -> None:
        self._order = self._rng.permutation(self.size).astype(np.int64)
        self._pos = 0
        self.epoch += 1

    def take(self, samples: int) -> Iterator[npt.NDArray[np.int64]]:
        """This rank's share of each global batch covering the next ``samples`` samples.

        A batch never spans two epochs: the last batch of an epoch is short instead.
        """
        left = samples
        while left > 0:
            if self._pos >= len(self._order):
                self._refill()
            n = min(self.batch, left, len(self._order) - self._pos)
            global_batch = self._order[self._pos : self._pos + n]
            self._pos += n
            self.consumed += n
            left -= n
            yield self.shard(global_batch)

    def shard(self, global_batch: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """This rank's contiguous share of ``global_batch``."""
        per = -(-len(global_batch) // self.world_size)
        return global_batch[self.rank * per : (self.rank + 1) * per]
