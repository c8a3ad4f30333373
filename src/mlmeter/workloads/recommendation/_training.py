"""Recommendation training, logged as the MLPerf ``dlrm_dcnv2`` benchmark (ruleset 6.0.0).

The mini-DLRM of the inference workload (bottom MLP, 26 embedding tables, dot
interactions, top MLP) learns the planted click model's Criteo-format rows with
Adagrad, the optimizer of the closed dlrm_dcnv2 rules, at their fixed settings (no
decay, no warmup, accumulator 0, epsilon 1e-8). The rows come from a *fixed* data
seed, so every run sees the same data set; the run seed sets the initial weights and
the sample order. Rows are generated in ``load_data``, on the clock, as a real run
reads its click logs. The target AUC sits a fixed margin below the planted model's
Bayes AUC on the eval rows (the best any model can do). Evaluation runs on every rank
over the whole eval set, ten times per epoch (the reference: twenty).

Distributed: every rank builds the same model, wraps it in ``DistributedDataParallel``
and trains on its share of each global batch. Each rank's loss is its *sum* scaled by
``world_size / global batch``, so the averaged gradient is the global batch's mean
gradient; an empty share runs one row with weight zero to join the all-reduce. See
docs/training/recommendation.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mlmeter.training import (
    BenchmarkSpec,
    Comm,
    JsonValue,
    SampleStream,
    Trainer,
    TrainingWorkload,
    TrainOptions,
    keys,
    select_recipe,
)
from mlmeter.workloads.recommendation._auc import roc_auc
from mlmeter.workloads.recommendation._criteo import preprocess
from mlmeter.workloads.recommendation._model import DLRMConfig, MiniDLRM, build
from mlmeter.workloads.recommendation._synthetic import PlantedClickModel

DATA_SEED = 2026  # the planted click model and its rows: the same in every run
EVAL_CHUNK = 8192  # rows per forward pass in evaluation
# Adagrad as the closed rules fix it (constant learning rate: no warmup, no decay)
LR_DECAY = 0.0
WEIGHT_DECAY = 0.0
INITIAL_ACCUMULATOR = 0.0
EPSILON = 1e-8


@dataclass(frozen=True)
class Recipe:
    """One configuration: data sizes, model width, Adagrad settings and target AUC."""

    train_rows: int
    eval_rows: int
    target: float  # the planted model's Bayes AUC on the eval rows minus a margin
    max_epochs: float
    batch: int = 256
    lr: float = 0.01
    dim: int = 8  # embedding width

    def model_config(self) -> DLRMConfig:
        """The mini-DLRM architecture (default tables and MLPs, ``dim``-wide embeddings)."""
        return DLRMConfig(dim=self.dim)

    def spec(self) -> BenchmarkSpec:
        """The ``dlrm_dcnv2`` 6.0.0 spec: AUC evaluated every tenth of an epoch."""
        return BenchmarkSpec(
            keys.DLRM_DCNv2, "6.0.0", "epoch", self.target, eval_every=0.1, runs=10,
            max_units=self.max_epochs,
        )  # fmt: skip


# Bayes AUC of the eval rows: 0.8973 (default), 0.9034 (ci); see test_recommendation_training
RECIPES: dict[str, Recipe] = {
    "default": Recipe(train_rows=500_000, eval_rows=20_000, target=0.839, max_epochs=2.0),
    "ci": Recipe(train_rows=100_000, eval_rows=10_000, target=0.825, max_epochs=2.0),
}


def recipe_for(opts: TrainOptions) -> Recipe:
    """The recipe of ``opts.config``; the data is generated, so ``--data-dir`` is refused."""
    return select_recipe(RECIPES, opts, "recommendation")


class RecommendationTraining(TrainingWorkload):
    """A mini-DLRM trained with Adagrad to a target AUC, as the MLPerf ``dlrm_dcnv2``."""

    name: ClassVar[str] = "recommendation"
    description: ClassVar[str] = (
        "mini-DLRM + Adagrad on planted Criteo-format click rows (MLPerf dlrm_dcnv2, 6.0.0)"
    )
    spec: ClassVar[BenchmarkSpec] = RECIPES["default"].spec()
    configs: ClassVar[tuple[str, ...]] = tuple(RECIPES)

    def spec_for(self, opts: TrainOptions) -> BenchmarkSpec:
        """The spec of the configuration: its own target and epoch limit."""
        return recipe_for(opts).spec()

    def hyperparameters(self, opts: TrainOptions) -> dict[str, JsonValue]:
        """The closed ``dlrm_dcnv2`` keys, with the values the run uses."""
        recipe = recipe_for(opts)
        return {
            keys.GLOBAL_BATCH_SIZE: recipe.batch,
            keys.GRADIENT_ACCUMULATION_STEPS: 1,
            keys.OPT_NAME: keys.ADAGRAD,
            keys.OPT_BASE_LR: recipe.lr,
            keys.OPT_ADAGRAD_LR_DECAY: LR_DECAY,
            keys.OPT_WEIGHT_DECAY: WEIGHT_DECAY,
            keys.OPT_ADAGRAD_INITIAL_ACCUMULATOR_VALUE: INITIAL_ACCUMULATOR,
            keys.OPT_ADAGRAD_EPSILON: EPSILON,
            keys.OPT_LR_WARMUP_STEPS: 0,
            keys.OPT_LR_DECAY_START_STEP: 0,
            keys.OPT_LR_DECAY_STEPS: 0,
        }

    def build(self, opts: TrainOptions, comm: Comm) -> Trainer:
        """Build the model, Adagrad and the sample order (no data is touched)."""
        return DLRMTrainer(recipe_for(opts), opts, comm)


class DLRMTrainer:
    """The model, the optimizer and the sample stream of one run (one per rank)."""

    def __init__(self, recipe: Recipe, opts: TrainOptions, comm: Comm) -> None:
        torch.set_num_threads(opts.threads)
        self.recipe, self._comm = recipe, comm
        self.device = _device(opts.device)
        self.model: MiniDLRM = build(recipe.model_config(), opts.seed).to(self.device)
        self.net: nn.Module = _Logits(self.model)
        if comm.world_size > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = nn.parallel.DistributedDataParallel(self.net, device_ids=ids)
        self.optimizer = torch.optim.Adagrad(
            self.model.parameters(), lr=recipe.lr, lr_decay=LR_DECAY, weight_decay=WEIGHT_DECAY,
            initial_accumulator_value=INITIAL_ACCUMULATOR, eps=EPSILON,
        )  # fmt: skip
        self.stream = SampleStream(
            recipe.train_rows, recipe.batch, seed=opts.seed,
            rank=comm.rank, world_size=comm.world_size,
        )  # fmt: skip
        self._data: dict[str, torch.Tensor] = {}
        self.eval_labels: np.ndarray = np.empty(0, dtype=np.int8)

    @property
    def train_samples(self) -> int:
        return self.recipe.train_rows

    @property
    def eval_samples(self) -> int:
        return self.recipe.eval_rows

    def load_data(self) -> None:
        """Generate and preprocess the train and eval rows (timed, as reading them is)."""
        planted = PlantedClickModel(DATA_SEED)
        sizes = self.model.config.table_sizes
        train = planted.draw(self.recipe.train_rows, "train").rows
        evals = planted.draw(self.recipe.eval_rows, "eval").rows
        self._data = {
            "xt": torch.from_numpy(preprocess(train, sizes)).to(self.device),
            "yt": torch.from_numpy(train.labels.astype(np.float32)).to(self.device),
            "xe": torch.from_numpy(preprocess(evals, sizes)).to(self.device),
        }
        self.eval_labels = evals.labels

    def train(self, samples: int) -> float:
        """Train on this rank's share of the next ``samples`` rows; its mean loss."""
        self.net.train()
        loss_sum, count, seen = 0.0, 0, self.stream.consumed
        for idx in self.stream.take(samples):
            global_n, seen = self.stream.consumed - seen, self.stream.consumed
            loss_sum += self._step(torch.from_numpy(idx).to(self.device), global_n)
            count += len(idx)
        return loss_sum / count if count else 0.0

    def _step(self, idx: torch.Tensor, global_n: int) -> float:
        """One Adagrad update on ``idx`` (this rank's share of a ``global_n`` batch)."""
        weight = self._comm.world_size / global_n
        if len(idx) == 0:  # an empty share still joins the all-reduce, with weight 0
            idx, weight = torch.zeros(1, dtype=torch.long, device=self.device), 0.0
        self.optimizer.zero_grad(set_to_none=True)
        logits = self.net(self._data["xt"][idx])
        loss = F.binary_cross_entropy_with_logits(logits, self._data["yt"][idx], reduction="sum")
        torch.autograd.backward(loss * weight)
        self.optimizer.step()
        return float(loss.item()) if weight else 0.0

    @torch.no_grad()
    def predict(self) -> np.ndarray:
        """Click logits of every eval row (float64, in row order)."""
        self.model.eval()
        x = self._data["xe"]
        parts = [self.model.logits(x[i : i + EVAL_CHUNK]) for i in range(0, len(x), EVAL_CHUNK)]
        self.model.train()
        return torch.cat(parts).double().cpu().numpy()

    def evaluate(self) -> float:
        """ROC AUC of the model's scores on the whole eval set."""
        return roc_auc(self.predict(), self.eval_labels)


class _Logits(nn.Module):
    """The model with its logits as ``forward`` (what the loss and DDP need)."""

    def __init__(self, model: MiniDLRM) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Click logits ``[B]``."""
        return self.model.logits(x)


def _device(name: str) -> torch.device:
    """``cuda`` means this process's current CUDA device (set per rank by the launcher)."""
    if name == "cuda":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device(name)
