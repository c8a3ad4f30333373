"""torch.distributed for one training run: process-group set-up and the harness's ``Comm``.

Ranks find each other through the usual environment (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``), as ``torchrun`` and our launcher set
it. gloo on CPU, NCCL on CUDA. The collective timeout bounds how long a rank waits for a
dead peer, so a lost rank ends the run with an error instead of a hang.
"""

from __future__ import annotations

import datetime
import os
from typing import Any

from mlmeter.errors import UsageError

ENV_KEYS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def env_rank() -> tuple[int, int, int]:
    """(rank, world size, local rank) from the environment; (0, 1, 0) when unset."""
    try:
        rank = int(os.environ.get("RANK", "0"))
        world = int(os.environ.get("WORLD_SIZE", "1"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError as exc:
        raise UsageError(f"RANK/WORLD_SIZE/LOCAL_RANK must be integers: {exc}") from exc
    if not 0 <= rank < world:
        raise UsageError(f"RANK={rank} is not in [0, WORLD_SIZE={world})")
    return rank, world, local


class TorchComm:
    """The harness's collectives over an initialised torch.distributed process group."""

    def __init__(self, device: str = "cpu") -> None:
        import torch.distributed as dist

        if not dist.is_initialized():
            raise RuntimeError("TorchComm needs torch.distributed initialised (init_distributed)")
        self._dist = dist
        self._device = device
        self.rank: int = dist.get_rank()
        self.world_size: int = dist.get_world_size()

    def _tensor(self, value: float) -> Any:
        import torch

        return torch.tensor([value], dtype=torch.float64, device=self._device)

    def mean(self, value: float) -> float:
        t = self._tensor(value)
        self._dist.all_reduce(t)
        return float(t.item()) / self.world_size

    def from_rank0(self, value: float) -> float:
        t = self._tensor(value)
        self._dist.broadcast(t, src=0)
        return float(t.item())

    def barrier(self) -> None:
        self._dist.barrier()


def init_distributed(device: str = "cpu", timeout_s: float = 120.0) -> TorchComm:
    """Join the process group described by the environment; return its ``Comm``."""
    import torch
    import torch.distributed as dist

    missing = [k for k in ("MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise UsageError(f"{', '.join(missing)} not set: use --master-addr/--master-port")
    rank, world, local = env_rank()
    if device.startswith("cuda"):
        torch.cuda.set_device(local % max(1, torch.cuda.device_count()))
        device = f"cuda:{torch.cuda.current_device()}"
    backend = "nccl" if device.startswith("cuda") else "gloo"
    dist.init_process_group(
        backend,
        rank=rank,
        world_size=world,
        timeout=datetime.timedelta(seconds=timeout_s),
    )
    return TorchComm(device)


def shutdown_distributed() -> None:
    """Leave the process group if one is initialised."""
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()
