"""LLM fine-tuning, logged as the MLPerf ``llama2_70b_lora`` benchmark (ruleset 6.0.0).

LoRA adapters (rank 16, on the query and value projections of all 30 decoder layers)
fine-tune a frozen SmolLM2-135M-Instruct on a generated instruction set until the
evaluation loss (mean cross-entropy over answer tokens) is at most 0.925, the closed
benchmark's target. The model and data are not Llama-2-70B and GovReport, so logs are
open-division; they carry every key the closed rules check, with the values the run
uses. See docs/training/llm-finetune.md.

This module stays light (no torch, no transformers): the entry point imports it to
list the workload; ``build`` imports the trainer.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from mlmeter.errors import UsageError
from mlmeter.training import (
    BenchmarkSpec,
    Comm,
    JsonValue,
    Trainer,
    TrainingWorkload,
    TrainOptions,
    keys,
    select_recipe,
)

RULESET = "6.0.0"
TARGET = 0.925  # the closed llama2_70b_lora target: eval loss <= 0.925
ADAMW_BETAS = (0.9, 0.999)
ADAMW_EPSILON = 1e-8


@dataclass(frozen=True)
class Recipe:
    """One configuration: data sizes, LoRA shape, AdamW and schedule, eval cadence."""

    n_train: int
    n_eval: int
    batch: int  # global batch size, in sequences
    base_lr: float
    weight_decay: float
    clip_norm: float
    eval_first: int  # samples
    eval_every: int  # samples, a multiple of ``batch``
    max_samples: int  # give up after this many; the cosine schedule spans them
    lora_rank: int = 16  # the closed rules require 16
    lora_alpha: float = 32.0
    lora_dropout: float = 0.0
    lora_targets: tuple[str, ...] = ("q_proj", "v_proj")
    max_len: int = 32  # tokens per sequence, prompt and answer together
    eval_batch: int = 16

    def __post_init__(self) -> None:
        if self.batch <= 0 or self.lora_rank <= 0:
            raise ValueError("Recipe.batch and Recipe.lora_rank must be > 0")
        for name in ("eval_first", "eval_every", "max_samples"):
            if getattr(self, name) % self.batch:
                raise ValueError(f"Recipe.{name} must be a multiple of the batch {self.batch}")

    @property
    def training_steps(self) -> int:
        """Optimizer updates the cosine schedule spans (``max_samples / batch``)."""
        return self.max_samples // self.batch

    def spec(self) -> BenchmarkSpec:
        """The ``llama2_70b_lora`` 6.0.0 spec: eval loss, counted in samples."""
        return BenchmarkSpec(
            keys.LLAMA2_70B_LORA, RULESET, "samples", TARGET, higher_is_better=False,
            eval_every=self.eval_every, eval_first=self.eval_first, runs=10,
            max_units=self.max_samples,
        )  # fmt: skip


# The first eval comes after floor(0.125 * GBS + 2) = 3 skipped ones, as in the reference.
RECIPES: dict[str, Recipe] = {
    "default": Recipe(
        n_train=2048, n_eval=144, batch=8, base_lr=5e-4, weight_decay=1e-4, clip_norm=0.3,
        eval_first=64, eval_every=16, max_samples=640,
    ),
    "ci": Recipe(
        n_train=1024, n_eval=36, batch=8, base_lr=2e-3, weight_decay=1e-4, clip_norm=0.3,
        eval_first=32, eval_every=8, max_samples=320,
    ),
}  # fmt: skip


# what ``--set KEY=VALUE`` may change (the closed rules tune batch size and learning rate)
TUNABLE: tuple[str, ...] = (
    "batch", "base_lr", "weight_decay", "clip_norm", "eval_first", "eval_every",
    "max_samples", "lora_rank", "lora_alpha", "lora_dropout",
)  # fmt: skip


def recipe_for(opts: TrainOptions) -> Recipe:
    """The recipe of ``opts.config``, with the ``--set`` overrides of ``opts.extra``."""
    recipe = select_recipe(RECIPES, opts, "llm-finetune")
    unknown = sorted(set(opts.extra) - set(TUNABLE))
    if unknown:
        raise UsageError(f"--set {unknown[0]}: llm-finetune accepts {', '.join(TUNABLE)}")
    try:
        changes = {k: type(getattr(recipe, k))(v) for k, v in opts.extra.items()}
        return dataclasses.replace(recipe, **changes)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"llm-finetune --set: {exc}") from None


def hyperparameters_of(recipe: Recipe) -> dict[str, JsonValue]:
    """The closed ``llama2_70b_lora`` keys (and AdamW's), with the values the run uses."""
    return {
        keys.GLOBAL_BATCH_SIZE: recipe.batch,
        keys.GRADIENT_ACCUMULATION_STEPS: 1,
        keys.OPT_NAME: keys.ADAMW,
        keys.OPT_BASE_LR: recipe.base_lr,
        keys.OPT_LR_WARMUP_STEPS: 0,
        keys.OPT_LR_TRAINING_STEPS: recipe.training_steps,
        keys.OPT_GRADIENT_CLIP_NORM: recipe.clip_norm,
        keys.OPT_ADAMW_WEIGHT_DECAY: recipe.weight_decay,
        keys.OPT_ADAMW_BETA_1: ADAMW_BETAS[0],
        keys.OPT_ADAMW_BETA_2: ADAMW_BETAS[1],
        keys.OPT_ADAMW_EPSILON: ADAMW_EPSILON,
        keys.LORA_ALPHA: recipe.lora_alpha,
        keys.LORA_RANK: recipe.lora_rank,
        keys.MAX_SEQUENCE_LENGTH: recipe.max_len,
    }


class LlmFinetuneTraining(TrainingWorkload):
    """LoRA fine-tuning of SmolLM2-135M, as the MLPerf ``llama2_70b_lora`` benchmark."""

    name: ClassVar[str] = "llm-finetune"
    description: ClassVar[str] = (
        "LoRA r=16 on SmolLM2-135M, eval loss <= 0.925 (MLPerf llama2_70b_lora, 6.0.0)"
    )
    spec: ClassVar[BenchmarkSpec] = RECIPES["default"].spec()
    configs: ClassVar[tuple[str, ...]] = tuple(RECIPES)

    def spec_for(self, opts: TrainOptions) -> BenchmarkSpec:
        """The spec of the configuration: its own cadence and sample limit."""
        return recipe_for(opts).spec()

    def hyperparameters(self, opts: TrainOptions) -> dict[str, JsonValue]:
        """The closed ``llama2_70b_lora`` keys, with the values the run uses."""
        return hyperparameters_of(recipe_for(opts))

    def build(self, opts: TrainOptions, comm: Comm) -> Trainer:
        """Load SmolLM2 (once per process), add the adapters; the data waits for the clock."""
        from mlmeter.workloads.llm_finetune._trainer import LoraTrainer

        return LoraTrainer(recipe_for(opts), opts, comm)
