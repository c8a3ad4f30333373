"""The LoRA trainer of one run: SmolLM2 + adapters, AdamW, cosine schedule, answer-only loss.

Distributed: every rank builds the same adapters (same seed), wraps the model in
``DistributedDataParallel`` (only the adapters have gradients, all used every step) and
trains on its share of each global batch. The loss is a sum over answer tokens scaled
by ``world_size / (answer tokens of the global batch)``, so the averaged gradient is
exactly the global batch's per-token mean gradient even when shares differ; a rank
whose share is empty runs one sample with weight zero so it still joins the all-reduce.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from mlmeter.training import Comm, SampleStream, TrainOptions
from mlmeter.workloads.llm_finetune._data import IGNORE, Tokenized, collate, make_split, tokenize
from mlmeter.workloads.llm_finetune._lora import apply_lora, freeze_all_but_lora
from mlmeter.workloads.llm_finetune._model import load_base, new_causal_lm
from mlmeter.workloads.llm_finetune._training import ADAMW_BETAS, ADAMW_EPSILON, Recipe


class AnswerLoss(nn.Module):
    """Summed next-token cross-entropy over the labelled (answer) positions only.

    The vocabulary projection runs only where a label is set, which skips most of the
    49k-way output layer's cost.
    """

    def __init__(self, lm: nn.Module) -> None:
        super().__init__()
        self.lm = lm

    def forward(self, ids: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The sum of the answer tokens' losses (a scalar)."""
        hidden = self.lm.get_submodule("model")(input_ids=ids, use_cache=False).last_hidden_state
        mask = labels != IGNORE
        logits = self.lm.get_submodule("lm_head")(hidden[mask])
        return F.cross_entropy(logits, labels[mask], reduction="sum")


def cosine_lr(base_lr: float, step: int, total: int) -> float:
    """The learning rate of update ``step`` (0-based): cosine from ``base_lr`` to 0."""
    return base_lr * 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))


class LoraTrainer:
    """The adapted model, AdamW and the sample stream of one run (one per rank)."""

    def __init__(self, recipe: Recipe, opts: TrainOptions, comm: Comm) -> None:
        torch.set_num_threads(opts.threads)
        self.recipe, self._comm = recipe, comm
        self.device = _device(opts.device)
        self.base = load_base()  # untimed initialisation: ~17 s, once per process
        lm = new_causal_lm(self.base)
        torch.manual_seed(opts.seed)  # the adapters' A matrices: the run's only random init
        self.adapters = apply_lora(
            lm.get_submodule("model.layers").children(), recipe.lora_targets,
            rank=recipe.lora_rank, alpha=recipe.lora_alpha, dropout=recipe.lora_dropout,
        )  # fmt: skip
        self.params = freeze_all_but_lora(lm)
        self.loss = AnswerLoss(lm).to(self.device)
        self.net: nn.Module = self.loss
        if comm.world_size > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = nn.parallel.DistributedDataParallel(self.loss, device_ids=ids)
        self.optimizer = torch.optim.AdamW(
            self.params, lr=recipe.base_lr, betas=ADAMW_BETAS, eps=ADAMW_EPSILON,
            weight_decay=recipe.weight_decay,
        )  # fmt: skip
        self.stream = SampleStream(
            recipe.n_train, recipe.batch, seed=opts.seed, rank=comm.rank,
            world_size=comm.world_size,
        )  # fmt: skip
        self.steps = 0
        self._train: list[Tokenized] = []
        self._eval: list[Tokenized] = []

    @property
    def train_samples(self) -> int:
        return self.recipe.n_train

    @property
    def eval_samples(self) -> int:
        return self.recipe.n_eval

    def load_data(self) -> None:
        """Generate and tokenize the fixed instruction set (timed: the first touch)."""
        r = self.recipe
        train, evals = make_split(r.n_train, r.n_eval)
        tok, eos = self.base.tokenizer, self.base.eos_id
        self._train = tokenize(train, tok, eos, r.max_len)
        self._eval = sorted(tokenize(evals, tok, eos, r.max_len), key=len)  # less padding

    def train(self, samples: int) -> float:
        """Train on this rank's share of the next ``samples`` samples; its mean token loss."""
        self.net.train()
        losses = [self._step(list(idx)) for idx in self.stream.take(samples)]
        return sum(losses) / len(losses) if losses else 0.0

    def _step(self, idx: list[int]) -> float:
        """One AdamW update on this rank's share ``idx`` of a global batch."""
        items = [self._train[i] for i in idx]
        tokens = sum(len(t.answer) for t in items)
        global_tokens = self._comm.mean(float(tokens)) * self._comm.world_size
        weight = self._comm.world_size / global_tokens
        if not items:  # an empty share still joins the all-reduce, with weight 0
            items, weight = [self._train[0]], 0.0
        ids, labels = (t.to(self.device) for t in collate(items, self.base.eos_id))
        for group in self.optimizer.param_groups:
            group["lr"] = cosine_lr(self.recipe.base_lr, self.steps, self.recipe.training_steps)
        self.optimizer.zero_grad(set_to_none=True)
        loss_sum = self.net(ids, labels)
        (loss_sum * weight).backward()
        nn.utils.clip_grad_norm_(self.params, self.recipe.clip_norm)
        self.optimizer.step()
        self.steps += 1
        return float(loss_sum.item()) / tokens if weight else 0.0

    @torch.no_grad()
    def evaluate(self) -> float:
        """Mean cross-entropy per answer token over the whole evaluation set."""
        self.loss.eval()
        total, count, size = 0.0, 0, self.recipe.eval_batch
        for start in range(0, len(self._eval), size):
            ids, labels = collate(self._eval[start : start + size], self.base.eos_id)
            total += float(self.loss(ids.to(self.device), labels.to(self.device)))
            count += int((labels != IGNORE).sum())
        self.loss.train()
        return total / count


def _device(name: str) -> torch.device:
    """``cuda`` means this process's current CUDA device (set per rank by the launcher)."""
    if name == "cuda":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device(name)
