"""What a training workload gives the harness: hyperparameters, and a trainer built untimed.

The harness owns the clock and the log; the workload owns the model and the data::

    class MyWorkload(TrainingWorkload):
        name = "my-task"
        spec = BenchmarkSpec("resnet", "4.0.0", "epoch", target=0.97, eval_every=1)

        def hyperparameters(self, opts): return {"global_batch_size": 64, ...}
        def build(self, opts, comm): return MyTrainer(...)   # inside init_start..init_stop

Workloads register under the entry-point group ``mlmeter.training``.
"""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

from mlmeter.errors import UsageError
from mlmeter.training._comm import Comm
from mlmeter.training._mllog import JsonValue
from mlmeter.training._spec import BenchmarkSpec


class Trainer(Protocol):
    """A built model and its data, driven by the harness.

    ``train_samples``/``eval_samples`` are logged before the clock starts. ``load_data``
    is the first touch of the data set and runs on the clock, right after ``run_start``.
    ``train(samples)`` trains on the next ``samples`` training samples of the global
    stream (every rank its share; the last batch may be short) and returns the mean loss;
    ``evaluate()`` returns the quality metric, the same on every rank.
    """

    @property
    def train_samples(self) -> int: ...

    @property
    def eval_samples(self) -> int: ...

    def load_data(self) -> None: ...

    def train(self, samples: int) -> float: ...

    def evaluate(self) -> float: ...


@dataclass(frozen=True)
class TrainOptions:
    """Options every training workload understands (CLI flags of the same names)."""

    seed: int = 0
    device: str = "cpu"  # or "cuda"
    threads: int = 1
    config: str = "default"  # a workload's named configuration, e.g. "ci"
    data_dir: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


R = TypeVar("R")


def select_recipe(
    recipes: Mapping[str, R], opts: TrainOptions, workload: str, *, own_data: bool = True
) -> R:
    """The recipe ``opts.config`` names (``default``: the first one).

    Unknown names are a usage error naming the known ones; a workload that makes its
    own data (``own_data``) refuses ``--data-dir``.
    """
    name = next(iter(recipes)) if opts.config == "default" else opts.config
    if name not in recipes:
        known = ", ".join(recipes)
        raise UsageError(f"unknown {workload} config {opts.config!r}: use {known}")
    if own_data and opts.data_dir is not None:
        raise UsageError(f"the {workload} training workload makes its own data: drop --data-dir")
    return recipes[name]


class TrainingWorkload(ABC):
    """A reference training workload: subclasses set the class attributes."""

    name: ClassVar[str]
    description: ClassVar[str]
    spec: ClassVar[BenchmarkSpec]
    configs: ClassVar[tuple[str, ...]] = ("default",)

    def spec_for(self, opts: TrainOptions) -> BenchmarkSpec:
        """The spec of configuration ``opts.config`` (a quick CI config may differ)."""
        return self.spec

    def config_name(self, opts: TrainOptions) -> str:
        """The configuration ``opts`` selects (``default`` means the first of ``configs``)."""
        return self.configs[0] if opts.config == "default" else opts.config

    def reference_file(self, opts: TrainOptions) -> Path:
        """Where the shipped reference convergence points of this configuration are.

        ``rcps_<config>.json`` next to the workload's module (see ``mlmeter.training``'s
        reference format); the file may not exist for a configuration without RCPs.
        """
        module = sys.modules[type(self).__module__]
        folder = Path(module.__file__ or ".").parent
        return folder / f"rcps_{self.config_name(opts)}.json"

    @abstractmethod
    def hyperparameters(self, opts: TrainOptions) -> dict[str, JsonValue]:
        """The hyperparameter keys to log (``global_batch_size`` and the optimizer's)."""

    @abstractmethod
    def build(self, opts: TrainOptions, comm: Comm) -> Trainer:
        """Build the model (untimed initialisation); do not read the data set yet."""
