"""What the harness needs from the processes of one run: agree on numbers, then stop together.

``LocalComm`` is the single-process case. ``TorchComm`` (``mlmeter.training._dist``) uses
torch.distributed, so every rank takes the same decision (stop on the target, abort on a
NaN loss) at the same block.
"""

from __future__ import annotations

from typing import Protocol


class Comm(Protocol):
    """Collective operations over the ranks of one training run."""

    @property
    def rank(self) -> int: ...

    @property
    def world_size(self) -> int: ...

    def mean(self, value: float) -> float:
        """The mean of ``value`` over all ranks (NaN if any rank's value is NaN)."""
        ...

    def from_rank0(self, value: float) -> float:
        """Rank 0's ``value``, on every rank."""
        ...

    def barrier(self) -> None: ...


class LocalComm:
    """One process: every collective is the identity."""

    rank = 0
    world_size = 1

    def mean(self, value: float) -> float:
        return value

    def from_rank0(self, value: float) -> float:
        return value

    def barrier(self) -> None:
        return None
