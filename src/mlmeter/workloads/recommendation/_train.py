"""Train the CI model once, deterministically, and cache its weights.

One thread, fixed seeds and a fixed batch order: the same torch build gives the same
weights bit for bit, so the stored reference AUC can be checked exactly. The cache
key covers every input of training (seed, architecture, recipe, torch version).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mlmeter.suts._backends import cache_dir
from mlmeter.workloads.recommendation._criteo import preprocess
from mlmeter.workloads.recommendation._model import DLRMConfig, MiniDLRM, build
from mlmeter.workloads.recommendation._synthetic import PlantedClickModel


@dataclass(frozen=True)
class Recipe:
    """How the CI model is trained."""

    seed: int = 2026
    rows: int = 60_000
    epochs: int = 1  # a second epoch already overfits the tail values
    batch: int = 256
    lr: float = 3e-3


def cache_path(config: DLRMConfig, recipe: Recipe) -> Path:
    """Where the weights trained with ``recipe`` are kept."""
    key = json.dumps(
        {
            "config": dataclasses.asdict(config),
            "recipe": dataclasses.asdict(recipe),
            "torch": torch.__version__,
            "format": 1,
        },
        sort_keys=True,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir() / "recommendation" / f"mini-dlrm-{digest}.pt"


def trained_model(config: DLRMConfig, recipe: Recipe) -> MiniDLRM:
    """The CI model: loaded from the cache, or trained now and cached."""
    path = cache_path(config, recipe)
    model = build(config, recipe.seed)
    if path.exists():
        model.load_state_dict(torch.load(path, weights_only=True))
        return model.eval()
    train(model, recipe)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    torch.save(model.state_dict(), tmp)
    os.replace(tmp, path)
    return model.eval()


def train(model: MiniDLRM, recipe: Recipe) -> None:
    """Fit ``model`` to the planted model's training rows (1 thread, fixed order)."""
    data = PlantedClickModel(recipe.seed).draw(recipe.rows, "train")
    x = torch.from_numpy(preprocess(data.rows, model.config.table_sizes))
    y = torch.from_numpy(data.rows.labels.astype(np.float32))
    order = np.random.default_rng([recipe.seed, 3])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        opt = torch.optim.Adam(model.parameters(), lr=recipe.lr)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        model.train()
        for _ in range(recipe.epochs):
            perm = torch.from_numpy(order.permutation(recipe.rows))
            for start in range(0, recipe.rows, recipe.batch):
                idx = perm[start : start + recipe.batch]
                opt.zero_grad()
                loss_fn(model.logits(x[idx]), y[idx]).backward()
                opt.step()
    finally:
        torch.set_num_threads(threads)
        model.eval()
