"""The sorting task and its model: a tiny Transformer encoder that sorts token sequences.

A sample is ``length`` tokens drawn uniformly from a vocabulary of ``vocab``; its label
at position ``i`` is the ``i``-th token of the sorted sequence, so every output position
must attend to the whole input, as a masked-LM prediction does. The metric is token
accuracy over every position of every eval sequence (BERT's is masked-LM accuracy).
Importing this module imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

_SPLITS = {"train": 1, "eval": 2}


@dataclass(frozen=True)
class SortingData:
    """Token sequences ``[n, length]`` and their sorted labels (int64)."""

    tokens: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return int(self.tokens.shape[0])


def make_sorting_data(n: int, length: int, vocab: int, seed: int, split: str) -> SortingData:
    """``n`` sequences of ``split`` ("train" or "eval"); the same arguments, the same data."""
    rng = np.random.default_rng([seed, _SPLITS[split]])
    tokens = rng.integers(0, vocab, size=(n, length), dtype=np.int64)
    return SortingData(tokens, np.sort(tokens, axis=1))


class SortTransformer(nn.Module):
    """Token and position embeddings, a pre-LN Transformer encoder, a per-position head.

    Input ``int64 [B, length]``; output logits ``[B, length, vocab]``. Dropout is 0.
    """

    def __init__(
        self, vocab: int, length: int, d_model: int = 64, heads: int = 4, layers: int = 2
    ) -> None:
        super().__init__()
        self.tokens = nn.Embedding(vocab, d_model)
        self.positions = nn.Parameter(torch.randn(length, d_model))  # N(0, 1), as the tokens
        layer = nn.TransformerEncoderLayer(
            d_model, heads, 2 * d_model, dropout=0.0, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the sorted sequence's token at every position."""
        hidden = self.encoder(self.tokens(x) + self.positions)
        out: torch.Tensor = self.head(self.norm(hidden))
        return out
