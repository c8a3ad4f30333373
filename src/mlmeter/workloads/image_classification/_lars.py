"""LARS and its learning-rate schedule, as in the MLPerf ResNet-50 reference.

Layer-wise adaptive rate scaling (You et al., 2017) in the form of the MLPerf reference
(``lars_optimizer.py`` of the TensorFlow ResNet): for every adapted tensor ``w`` with
gradient ``g``::

    trust = eeta * |w| / (|g| + weight_decay * |w| + epsilon)   (1 if |w| or |g| is 0)
    v     = momentum * v + lr * trust * (g + weight_decay * w)
    w     = w - v

Batch-norm parameters and biases are *skipped*: no trust ratio and no weight decay,
just momentum SGD at ``lr``. The learning rate warms up linearly, then decays
polynomially (power 2) to ``end_lr``, the reference's ``poly_rate_schedule``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


def trust_ratio(
    weight: torch.Tensor, grad: torch.Tensor, eeta: float, weight_decay: float, epsilon: float
) -> torch.Tensor:
    """``eeta * |w| / (|g| + wd * |w| + eps)``, or 1 where either norm is zero."""
    w_norm = torch.linalg.vector_norm(weight)
    g_norm = torch.linalg.vector_norm(grad)
    ratio = eeta * w_norm / (g_norm + weight_decay * w_norm + epsilon)
    one = torch.ones_like(ratio)
    return torch.where((w_norm > 0) & (g_norm > 0), ratio, one)


class Lars(torch.optim.Optimizer):
    """Momentum SGD with a per-tensor trust ratio; groups with ``lars=False`` skip it.

    Build the groups with :func:`lars_param_groups`. ``lr`` is set per step by the
    schedule (:meth:`set_lr`).
    """

    def __init__(
        self,
        params: Iterable[dict[str, Any]],
        lr: float,
        momentum: float,
        weight_decay: float,
        eeta: float,
        epsilon: float = 0.0,
    ) -> None:
        if lr < 0 or not 0 <= momentum < 1 or weight_decay < 0 or eeta <= 0 or epsilon < 0:
            raise ValueError("Lars: need lr >= 0, 0 <= momentum < 1, wd >= 0, eeta > 0, eps >= 0")
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "weight_decay": weight_decay,
            "eeta": eeta,
            "epsilon": epsilon,
            "lars": True,
        }
        super().__init__(params, defaults)

    def set_lr(self, lr: float) -> None:
        """Use ``lr`` for every group from the next step on."""
        for group in self.param_groups:
            group["lr"] = lr

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """One LARS update of every parameter that has a gradient."""
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
        scaled_lr: torch.Tensor | float = group["lr"]
        if group["lars"]:
            wd = group["weight_decay"]
            scaled_lr = group["lr"] * trust_ratio(p, grad, group["eeta"], wd, group["epsilon"])
            grad = grad.add(p, alpha=wd)
        state = self.state[p]
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = torch.zeros_like(p)
        buf: torch.Tensor = state["momentum_buffer"]
        buf.mul_(group["momentum"]).add_(grad * scaled_lr)
        p.sub_(buf)


def lars_param_groups(model: nn.Module) -> list[dict[str, Any]]:
    """Two groups: weights of convolutions and linear layers (adapted), and the rest.

    The rest (``lars=False``) are the batch-norm scales and shifts and every bias,
    which the reference's ``skip_list`` (``batch_normalization``, ``bias``) excludes.
    """
    adapted: list[nn.Parameter] = []
    skipped: list[nn.Parameter] = []
    for module in model.modules():
        is_norm = isinstance(module, nn.modules.batchnorm._BatchNorm)
        for name, param in module.named_parameters(recurse=False):
            (skipped if is_norm or name == "bias" else adapted).append(param)
    return [{"params": adapted, "lars": True}, {"params": skipped, "lars": False}]


@dataclass(frozen=True)
class PolySchedule:
    """Linear warmup over ``warmup_steps``, then ``(base - end) * (1 - t/decay)^power + end``.

    Steps count optimizer updates from 1; after ``warmup_steps + decay_steps`` the rate
    stays at ``end_lr``.
    """

    base_lr: float
    end_lr: float
    warmup_steps: int
    decay_steps: int
    power: float = 2.0

    def __post_init__(self) -> None:
        if self.warmup_steps < 0 or self.decay_steps < 1:
            raise ValueError("PolySchedule: need warmup_steps >= 0 and decay_steps >= 1")

    def lr(self, step: int) -> float:
        """The learning rate of update number ``step`` (1-based)."""
        if step <= self.warmup_steps:
            return self.base_lr * step / self.warmup_steps
        t = min(step - self.warmup_steps, self.decay_steps)
        frac = 1.0 - t / self.decay_steps
        return float((self.base_lr - self.end_lr) * frac**self.power + self.end_lr)
