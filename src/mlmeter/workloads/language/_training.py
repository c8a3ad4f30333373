"""Language training, logged as the MLPerf ``bert`` benchmark (ruleset 5.0.0).

A tiny Transformer encoder (2 layers, d_model 64, about 70k parameters) learns to sort
token sequences with LAMB, the optimizer of the closed BERT rules, on the BERT
reference's schedule (linear warmup, then polynomial decay to 0). The quality metric is
token accuracy on held-out sequences, standing in for BERT's masked-LM accuracy.
Sequences come from a *fixed* data seed, generated in ``load_data`` (on the clock);
the run seed sets the initial weights and the sample order. One epoch is one pass over
the generated training set; ``eval_accuracy`` carries ``epoch_num``, which is what the
RCP checker reads for ``bert`` by default.

Distributed: every rank builds the same model, wraps it in ``DistributedDataParallel``
and trains on its share of each global batch; each rank's loss is its token *sum*
scaled by ``world_size / (global batch * length)``, so the averaged gradient is the
global batch's mean; an empty share runs one sequence with weight zero to join the
all-reduce. See docs/training/language.md.
"""

from __future__ import annotations

import math
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
from mlmeter.workloads.language._lamb import Lamb, PolySchedule, lamb_param_groups
from mlmeter.workloads.language._sorting import SortingData, SortTransformer, make_sorting_data

DATA_SEED = 2027  # the sequences: the same in every run
VOCAB = 16
EVAL_CHUNK = 1024  # sequences per forward pass in evaluation
# LAMB as the BERT reference sets it (beta_2, epsilon and weight decay are not tunable)
BETA_1 = 0.9
BETA_2 = 0.999
EPSILON = 1e-6
WEIGHT_DECAY = 0.01
POLY_POWER = 1.0


@dataclass(frozen=True)
class Recipe:
    """One configuration: task size, data sizes, LAMB schedule and target accuracy."""

    length: int  # tokens per sequence
    train_sequences: int
    eval_sequences: int
    target: float
    max_epochs: float  # the decay reaches 0 here: training_steps covers max_epochs
    eval_every: float = 0.5
    batch: int = 128
    lr: float = 0.02
    warmup_steps: int = 0

    @property
    def training_steps(self) -> int:
        """Updates until the learning rate reaches 0 (``max_epochs`` of batches)."""
        return math.ceil(self.max_epochs * self.train_sequences / self.batch)

    def schedule(self) -> PolySchedule:
        """The learning rate per update: warmup, then linear decay to 0."""
        return PolySchedule(self.lr, self.training_steps, self.warmup_steps, 0, POLY_POWER)

    def spec(self) -> BenchmarkSpec:
        """The ``bert`` 5.0.0 spec: token accuracy evaluated every ``eval_every`` epochs."""
        return BenchmarkSpec(
            keys.BERT, "5.0.0", "epoch", self.target, eval_every=self.eval_every, runs=10,
            max_units=self.max_epochs,
        )  # fmt: skip


RECIPES: dict[str, Recipe] = {
    "default": Recipe(length=12, train_sequences=8192, eval_sequences=2048, target=0.99,
                      max_epochs=5.0),
    "ci": Recipe(length=8, train_sequences=4096, eval_sequences=1024, target=0.99,
                 max_epochs=6.0),
}  # fmt: skip


def recipe_for(opts: TrainOptions) -> Recipe:
    """The recipe of ``opts.config``; the data is generated, so ``--data-dir`` is refused."""
    return select_recipe(RECIPES, opts, "language")


class LanguageTraining(TrainingWorkload):
    """A tiny Transformer sorting tokens with LAMB to a token accuracy, as MLPerf ``bert``."""

    name: ClassVar[str] = "language"
    description: ClassVar[str] = (
        "tiny Transformer encoder + LAMB sorting token sequences (MLPerf bert, 5.0.0)"
    )
    spec: ClassVar[BenchmarkSpec] = RECIPES["default"].spec()
    configs: ClassVar[tuple[str, ...]] = tuple(RECIPES)

    def spec_for(self, opts: TrainOptions) -> BenchmarkSpec:
        """The spec of the configuration: its own cadence and epoch limit."""
        return recipe_for(opts).spec()

    def hyperparameters(self, opts: TrainOptions) -> dict[str, JsonValue]:
        """The closed ``bert`` (LAMB) keys, with the values the run uses."""
        recipe = recipe_for(opts)
        schedule = recipe.schedule()
        return {
            keys.GLOBAL_BATCH_SIZE: recipe.batch,
            keys.GRADIENT_ACCUMULATION_STEPS: 1,
            keys.OPT_NAME: keys.LAMB,
            keys.OPT_BASE_LR: schedule.base_lr,
            keys.OPT_LAMB_EPSILON: EPSILON,
            keys.OPT_LAMB_BETA_1: BETA_1,
            keys.OPT_LAMB_BETA_2: BETA_2,
            keys.OPT_LAMB_WEIGHT_DECAY: WEIGHT_DECAY,
            keys.OPT_LAMB_LR_DECAY_POLY_POWER: schedule.power,
            keys.OPT_LR_TRAINING_STEPS: schedule.training_steps,
            keys.OPT_LR_WARMUP_STEPS: schedule.warmup_steps,
            keys.NUM_WARMUP_STEPS: schedule.warmup_steps,
            keys.START_WARMUP_STEP: schedule.start_warmup_step,
        }

    def build(self, opts: TrainOptions, comm: Comm) -> Trainer:
        """Build the model, LAMB and the sample order (no data is touched)."""
        return SortingTrainer(recipe_for(opts), opts, comm)


class SortingTrainer:
    """The model, the optimizer and the sample stream of one run (one per rank)."""

    def __init__(self, recipe: Recipe, opts: TrainOptions, comm: Comm) -> None:
        torch.set_num_threads(opts.threads)
        torch.manual_seed(opts.seed)
        self.recipe, self._comm = recipe, comm
        self.device = _device(opts.device)
        self.model = SortTransformer(VOCAB, recipe.length).to(self.device)
        self.net: nn.Module = self.model
        if comm.world_size > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        self.optimizer = Lamb(
            lamb_param_groups(self.model), lr=0.0, betas=(BETA_1, BETA_2), eps=EPSILON,
            weight_decay=WEIGHT_DECAY,
        )  # fmt: skip
        self.schedule = recipe.schedule()
        self.stream = SampleStream(
            recipe.train_sequences, recipe.batch, seed=opts.seed,
            rank=comm.rank, world_size=comm.world_size,
        )  # fmt: skip
        self.steps = 0
        self._data: dict[str, torch.Tensor] = {}
        self.eval_set = SortingData(np.empty((0, recipe.length)), np.empty((0, recipe.length)))

    @property
    def train_samples(self) -> int:
        return self.recipe.train_sequences

    @property
    def eval_samples(self) -> int:
        return self.recipe.eval_sequences

    def load_data(self) -> None:
        """Generate the train and eval sequences (timed, as reading a data set is)."""
        r = self.recipe
        train = make_sorting_data(r.train_sequences, r.length, VOCAB, DATA_SEED, "train")
        self.eval_set = make_sorting_data(r.eval_sequences, r.length, VOCAB, DATA_SEED, "eval")
        arrays = {"xt": train.tokens, "yt": train.labels, "xe": self.eval_set.tokens}
        self._data = {k: torch.from_numpy(v).to(self.device) for k, v in arrays.items()}

    def train(self, samples: int) -> float:
        """Train on this rank's share of the next ``samples`` sequences; mean token loss."""
        self.net.train()
        loss_sum, count, seen = 0.0, 0, self.stream.consumed
        for idx in self.stream.take(samples):
            global_n, seen = self.stream.consumed - seen, self.stream.consumed
            loss_sum += self._step(torch.from_numpy(idx).to(self.device), global_n)
            count += len(idx) * self.recipe.length
        return loss_sum / count if count else 0.0

    def _step(self, idx: torch.Tensor, global_n: int) -> float:
        """One LAMB update on ``idx`` (this rank's share of a ``global_n`` batch)."""
        self.steps += 1
        self.optimizer.set_lr(self.schedule.lr(self.steps))
        weight = self._comm.world_size / (global_n * self.recipe.length)
        if len(idx) == 0:  # an empty share still joins the all-reduce, with weight 0
            idx, weight = torch.zeros(1, dtype=torch.long, device=self.device), 0.0
        self.optimizer.zero_grad(set_to_none=True)
        logits = self.net(self._data["xt"][idx])
        loss = F.cross_entropy(
            logits.flatten(0, 1), self._data["yt"][idx].flatten(), reduction="sum"
        )
        torch.autograd.backward(loss * weight)
        self.optimizer.step()
        return float(loss.item()) if weight else 0.0

    @torch.no_grad()
    def predict(self) -> np.ndarray:
        """The most likely token at every position of every eval sequence."""
        self.model.eval()
        x = self._data["xe"]
        parts = [self.model(x[i : i + EVAL_CHUNK]).argmax(-1) for i in range(0, len(x), EVAL_CHUNK)]
        self.model.train()
        return torch.cat(parts).cpu().numpy()

    def evaluate(self) -> float:
        """Token accuracy over every position of the whole eval set."""
        return float(np.mean(self.predict() == self.eval_set.labels))


def _device(name: str) -> torch.device:
    """``cuda`` means this process's current CUDA device (set per rank by the launcher)."""
    if name == "cuda":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device(name)
