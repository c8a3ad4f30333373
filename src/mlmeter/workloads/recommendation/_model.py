"""A mini-DLRM in plain PyTorch: the dlrm-v2 layout at a size a CPU trains in seconds.

Bottom MLP over the 13 dense features, 26 sum-pooled embedding tables, pairwise dot
products of the 27 vectors (each pair once, no self-pairs), a top MLP over the
dense vector and the products, and a sigmoid: the click probability. Importing this
module imports torch; the workload imports it only when a model is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, cast

import torch
from torch import nn

from mlmeter.workloads.recommendation._criteo import DENSE, MAX_TABLE_ROWS, SPARSE


@dataclass(frozen=True)
class DLRMConfig:
    """The architecture: table sizes, embedding width and MLP widths."""

    table_sizes: tuple[int, ...] = (
        1024, 583, 1024, 1024, 305, 24, 1024, 633, 3, 1024, 1024, 1024, 1024,
        27, 1024, 1024, 10, 1024, 1024, 4, 1024, 18, 15, 1024, 105, 1024,
    )  # fmt: skip
    dim: int = 16
    bottom: tuple[int, ...] = (64,)
    top: tuple[int, ...] = (128, 64)

    def __post_init__(self) -> None:
        if len(self.table_sizes) != SPARSE:
            raise ValueError(f"need {SPARSE} table sizes, got {len(self.table_sizes)}")
        if not all(0 < n < MAX_TABLE_ROWS for n in self.table_sizes):
            raise ValueError(f"table sizes must be in 1..{MAX_TABLE_ROWS - 1}")


def _mlp(widths: Sequence[int], *, last_relu: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(pairwise(widths)):
        layers.append(nn.Linear(a, b))
        if last_relu or i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class MiniDLRM(nn.Module):
    """Input ``float32 [B, 39]`` (dense features, then table indices); output ``[B]``."""

    pairs: torch.Tensor  # flat [i * 27 + j] indices of the pairs i > j

    def __init__(self, config: DLRMConfig) -> None:
        super().__init__()
        self.config = config
        d = config.dim
        self.bottom = _mlp([DENSE, *config.bottom, d], last_relu=True)
        tables = [nn.EmbeddingBag(n, d, mode="sum") for n in config.table_sizes]
        for table, n in zip(tables, config.table_sizes, strict=True):
            bound = n**-0.5  # as the DLRM reference: U(-1/sqrt(n), 1/sqrt(n))
            nn.init.uniform_(table.weight, -bound, bound)
        self.tables = nn.ModuleList(tables)
        n = SPARSE + 1
        rows, cols = torch.tril_indices(n, n, offset=-1)
        self.register_buffer("pairs", rows * n + cols, persistent=False)
        self.top = _mlp([d + n * (n - 1) // 2, *config.top, 1], last_relu=False)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Click logits ``[B]``."""
        z = self.bottom(x[:, :DENSE])
        ids = x[:, DENSE:].to(torch.int64)
        bags = [cast(nn.EmbeddingBag, t) for t in self.tables]
        vectors = [z, *(self._pool(t, ids[:, i : i + 1]) for i, t in enumerate(bags))]
        stacked = torch.stack(vectors, dim=1)  # [B, 27, d]
        products = torch.bmm(stacked, stacked.transpose(1, 2)).flatten(1)[:, self.pairs]
        out: torch.Tensor = self.top(torch.cat([z, products], dim=1))
        return out.squeeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Click probabilities ``[B]``."""
        return torch.sigmoid(self.logits(x))

    @staticmethod
    def _pool(table: nn.EmbeddingBag, bags: torch.Tensor) -> torch.Tensor:
        """Sum-pool fixed-length bags ``[B, L]``: what ``table(bags)`` computes.

        Written as a gather and a sum so that it exports to ONNX as Gather +
        ReduceSum (``nn.EmbeddingBag`` itself exports as a Loop over the batch).
        """
        out: torch.Tensor = nn.functional.embedding(bags, table.weight).sum(dim=1)
        return out


def build(config: DLRMConfig, seed: int = 0) -> MiniDLRM:
    """A freshly initialised model (deterministic for ``seed``)."""
    torch.manual_seed(seed)
    return MiniDLRM(config)


def table_size_errors(state: dict[str, Any], config: DLRMConfig) -> list[str]:
    """Tables in ``state`` whose row count or width differs from ``config``."""
    errors = []
    for i, n in enumerate(config.table_sizes):
        w = state.get(f"tables.{i}.weight")
        shape = tuple(w.shape) if isinstance(w, torch.Tensor) else None
        if shape != (n, config.dim):
            errors.append(f"table {i} is {shape}, expected ({n}, {config.dim})")
    return errors
