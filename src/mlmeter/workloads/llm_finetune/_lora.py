"""Low-rank adapters (LoRA, Hu et al. 2021) for the attention projections of a frozen model.

``LoraLinear`` wraps a frozen ``nn.Linear`` ``W`` and adds a trainable low-rank update::

    y = x W^T + b + (alpha / r) * dropout(x) A^T B^T

``A`` (r x in) starts Kaiming-uniform from the seeded torch generator, ``B`` (out x r)
starts at zero, so a freshly wrapped model computes exactly what the base model did.
``apply_lora`` wraps the named projections of every decoder layer and freezes every
other parameter, so only the adapters receive gradients.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn


class LoraLinear(nn.Module):
    """A frozen linear layer plus a trainable rank-``rank`` update scaled by ``alpha / rank``."""

    def __init__(self, base: nn.Linear, *, rank: int, alpha: float, dropout: float = 0.0) -> None:
        super().__init__()
        if rank <= 0:
            raise ValueError(f"LoRA rank must be > 0, got {rank}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"LoRA dropout must be in [0, 1), got {dropout}")
        self.base = base
        for p in base.parameters():
            p.requires_grad_(False)
        self.rank = rank
        self.alpha = alpha
        self.scaling = alpha / rank
        weight = base.weight
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features, dtype=weight.dtype))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank, dtype=weight.dtype))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))  # as nn.Linear initialises
        self.dropout: nn.Module = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The base output plus the scaled low-rank update."""
        update = self.dropout(x) @ self.lora_a.t() @ self.lora_b.t()
        out: torch.Tensor = self.base(x) + update * self.scaling
        return out

    def delta_weight(self) -> torch.Tensor:
        """The update as a dense matrix: ``(alpha / r) B A``, shaped like the base weight."""
        return (self.lora_b @ self.lora_a) * self.scaling

    def merged(self) -> nn.Linear:
        """A plain ``nn.Linear`` computing the same function (in eval mode)."""
        base = self.base
        merged = nn.Linear(base.in_features, base.out_features, bias=base.bias is not None)
        merged = merged.to(device=base.weight.device, dtype=base.weight.dtype)
        with torch.no_grad():
            merged.weight.copy_(base.weight + self.delta_weight())
            if base.bias is not None:
                merged.bias.copy_(base.bias)
        return merged


def apply_lora(
    layers: Iterable[nn.Module],
    targets: Iterable[str],
    *,
    rank: int,
    alpha: float,
    dropout: float = 0.0,
) -> list[LoraLinear]:
    """Wrap ``self_attn.<target>`` of each decoder layer in a ``LoraLinear``; the adapters.

    Adapters are created layer by layer, target by target, so the same torch seed gives
    the same initial ``A`` matrices.
    """
    names = tuple(targets)
    adapters: list[LoraLinear] = []
    for layer in layers:
        attention = layer.get_submodule("self_attn")
        for name in names:
            base = attention.get_submodule(name)
            if not isinstance(base, nn.Linear):
                raise TypeError(f"self_attn.{name} is {type(base).__name__}, not nn.Linear")
            adapter = LoraLinear(base, rank=rank, alpha=alpha, dropout=dropout)
            setattr(attention, name, adapter)
            adapters.append(adapter)
    return adapters


def freeze_all_but_lora(model: nn.Module) -> list[nn.Parameter]:
    """Freeze every parameter of ``model`` except the LoRA matrices; those, in order."""
    trainable: list[nn.Parameter] = []
    for name, param in model.named_parameters():
        is_lora = name.endswith(("lora_a", "lora_b"))
        param.requires_grad_(is_lora)
        if is_lora:
            trainable.append(param)
    return trainable
