"""A tiny real training workload in numpy, shipped as a test double for the harness.

Logistic regression by mini-batch SGD on seeded two-class Gaussian data: it converges in
a few epochs and milliseconds, so tests of the harness, the launcher and the CLI run in
no time. Options (``--set KEY=VALUE``): ``sleep_s`` per ``train`` call (to make a run
slow), ``nan_at`` (the epoch from which the loss is NaN, to make it diverge; with ``nan_seed``
only in the run of that seed), ``lr``,
``target`` (eval accuracy). Every rank computes the same full-batch update, so the model
stays identical across ranks without gradient exchange; the harness's collectives still
run on every block.
"""

from __future__ import annotations

import math
import time
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from mlmeter.training._comm import Comm
from mlmeter.training._mllog import JsonValue
from mlmeter.training._spec import BenchmarkSpec
from mlmeter.training._stream import SampleStream
from mlmeter.training._workload import TrainingWorkload, TrainOptions

_TRAIN, _EVAL, _DIM, _BATCH = 2048, 512, 8, 64


class SyntheticTrainer:
    """Logistic regression trained by SGD; see the module docstring."""

    def __init__(self, opts: TrainOptions) -> None:
        self.seed = opts.seed
        self.lr = float(opts.extra.get("lr", 0.1))
        self.sleep_s = float(opts.extra.get("sleep_s", 0.0))
        nan_at = opts.extra.get("nan_at")
        nan_seed = opts.extra.get("nan_seed")
        if nan_seed is not None and int(nan_seed) != opts.seed:
            nan_at = None  # only the run with this seed diverges
        self.nan_at = None if nan_at is None else int(nan_at)
        self.w = np.random.default_rng(opts.seed).normal(0.0, 3.0, _DIM + 1)  # a poor start
        self.stream = SampleStream(_TRAIN, _BATCH, seed=opts.seed)
        self.x: npt.NDArray[np.float64] = np.empty((0, _DIM + 1))
        self.y: npt.NDArray[np.float64] = np.empty(0)

    @property
    def train_samples(self) -> int:
        return _TRAIN

    @property
    def eval_samples(self) -> int:
        return _EVAL

    def load_data(self) -> None:
        rng = np.random.default_rng(12345)  # the data set is fixed; the order is seeded
        y = rng.integers(0, 2, _TRAIN + _EVAL).astype(np.float64)
        x = rng.normal(0.0, 1.0, (_TRAIN + _EVAL, _DIM)) + (y[:, None] * 2 - 1) * 0.6
        self.x = np.hstack([x, np.ones((len(x), 1))])
        self.y = y

    def train(self, samples: int) -> float:
        losses = []
        for idx in self.stream.take(samples):
            x, y = self.x[idx], self.y[idx]
            p = 1.0 / (1.0 + np.exp(-(x @ self.w)))
            self.w -= self.lr * x.T @ (p - y) / len(idx)
            losses.append(float(np.mean(-y * np.log(p + 1e-12) - (1 - y) * np.log(1 - p + 1e-12))))
        if self.sleep_s:
            time.sleep(self.sleep_s)
        if self.nan_at is not None and self.stream.epoch >= self.nan_at:
            return math.nan
        return float(np.mean(losses))

    def evaluate(self) -> float:
        x, y = self.x[_TRAIN:], self.y[_TRAIN:]
        return float(np.mean(((x @ self.w) > 0) == (y > 0.5)))


class SyntheticTraining(TrainingWorkload):
    """The harness's test double: logistic regression in numpy (``mlmeter train synthetic``)."""

    name: ClassVar[str] = "synthetic"
    description: ClassVar[str] = "logistic regression on Gaussian data (numpy; a test double)"
    spec: ClassVar[BenchmarkSpec] = BenchmarkSpec(
        "resnet", "4.0.0", "epoch", target=0.88, eval_every=1, runs=5, max_units=20
    )

    def spec_for(self, opts: TrainOptions) -> BenchmarkSpec:
        target = opts.extra.get("target")
        if target is None:
            return self.spec
        return BenchmarkSpec(
            "resnet", "4.0.0", "epoch", target=float(target), eval_every=1, runs=5, max_units=20
        )

    def hyperparameters(self, opts: TrainOptions) -> dict[str, JsonValue]:
        return {
            "global_batch_size": _BATCH,
            "gradient_accumulation_steps": 1,
            "opt_name": "sgd",
            "opt_base_learning_rate": float(opts.extra.get("lr", 0.1)),
        }

    def build(self, opts: TrainOptions, comm: Comm) -> SyntheticTrainer:
        return SyntheticTrainer(opts)
