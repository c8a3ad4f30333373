"""LAMB and its learning-rate schedule, the optimizer of the closed MLPerf ``bert`` rules.

Layer-wise adaptive moments (You et al., 2019), as the BERT reference uses it: for every
adapted tensor ``w`` with gradient ``g``, at update ``t``::

    m = beta_1 * m + (1 - beta_1) * g          v = beta_2 * v + (1 - beta_2) * g**2
    u = (m / (1 - beta_1**t)) / (sqrt(v / (1 - beta_2**t)) + epsilon) + weight_decay * w
    w = w - lr * (|w| / |u|) * u                 (trust ratio 1 if |w| or |u| is 0)

LayerNorm parameters and biases are excluded from weight decay and from the trust
ratio (the reference's ``exclude_from_weight_decay`` and ``exclude_from_layer_adaptation``):
they take the plain Adam step ``w = w - lr * u``. The learning rate warms up linearly
from ``start_warmup_step``, then decays polynomially to 0 at ``training_steps``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


class Lamb(torch.optim.Optimizer):
    """LAMB; groups with ``adapt=False`` take Adam steps without decay or trust ratio.

    Build the groups with :func:`lamb_param_groups`; set ``lr`` per step (:meth:`set_lr`).
    """

    def __init__(
        self,
        params: Iterable[dict[str, Any]],
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-6,
        weight_decay: float = 0.01,
    ) -> None:
        if lr < 0 or not all(0 <= b < 1 for b in betas) or eps <= 0 or weight_decay < 0:
            raise ValueError("Lamb: need lr >= 0, 0 <= betas < 1, eps > 0, weight_decay >= 0")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, {**defaults, "adapt": True})

    def set_lr(self, lr: float) -> None:
        """Use ``lr`` for every group from the next step on."""
        for group in self.param_groups:
            group["lr"] = lr

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """One LAMB update of every parameter that has a gradient."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, group)
        return loss

    def _update(self, p: torch.Tensor, group: dict[str, Any]) -> None:
        grad = p.grad
        assert grad is not None
        state = self.state[p]
        if not state:
            state.update(step=0, m=torch.zeros_like(p), v=torch.zeros_like(p))
        state["step"] += 1
        t, (beta1, beta2) = state["step"], group["betas"]
        m: torch.Tensor = state["m"].mul_(beta1).add_(grad, alpha=1 - beta1)
        v: torch.Tensor = state["v"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        update = (m / (1 - beta1**t)) / ((v / (1 - beta2**t)).sqrt() + group["eps"])
        if not group["adapt"]:
            p.sub_(update, alpha=group["lr"])
            return
        update.add_(p, alpha=group["weight_decay"])
        p.sub_(update * (group["lr"] * trust_ratio(p, update)))


def trust_ratio(weight: torch.Tensor, update: torch.Tensor) -> torch.Tensor:
    """``|w| / |u|``, or 1 where either norm is zero."""
    w_norm = torch.linalg.vector_norm(weight)
    u_norm = torch.linalg.vector_norm(update)
    one = torch.ones_like(w_norm)
    return torch.where((w_norm > 0) & (u_norm > 0), w_norm / u_norm, one)


def lamb_param_groups(model: nn.Module) -> list[dict[str, Any]]:
    """Two groups: matrices and embeddings (adapted), and LayerNorm parameters and biases."""
    adapted: list[nn.Parameter] = []
    excluded: list[nn.Parameter] = []
    for module in model.modules():
        is_norm = isinstance(module, nn.LayerNorm)
        for name, param in module.named_parameters(recurse=False):
            (excluded if is_norm or name.endswith("bias") else adapted).append(param)
    return [{"params": adapted, "adapt": True}, {"params": excluded, "adapt": False}]


@dataclass(frozen=True)
class PolySchedule:
    """The BERT reference's rate for update ``k`` (1-based; global step ``g = k - 1``).

    ``base * (1 - min(g, training_steps) / training_steps) ** power``, replaced during
    warmup (``g < start + warmup_steps``) by ``base * (g - start) / warmup_steps``.
    """

    base_lr: float
    training_steps: int
    warmup_steps: int = 0
    start_warmup_step: int = 0
    power: float = 1.0

    def __post_init__(self) -> None:
        if self.training_steps < 1 or self.warmup_steps < 0 or self.start_warmup_step < 0:
            raise ValueError("PolySchedule: need training_steps >= 1, warmup and start >= 0")

    def lr(self, step: int) -> float:
        """The learning rate of update number ``step`` (1-based)."""
        g = step - 1
        if self.warmup_steps and g - self.start_warmup_step < self.warmup_steps:
            return self.base_lr * max(0, g - self.start_warmup_step) / self.warmup_steps
        frac = 1.0 - min(g, self.training_steps) / self.training_steps
        return float(self.base_lr * frac**self.power)
