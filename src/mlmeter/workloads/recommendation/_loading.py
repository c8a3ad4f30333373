"""Models and data sets of the recommendation workload, from options.

Imports torch (through ``_model`` and ``_train``); the workload imports this module
only inside ``prepare`` so that ``mlmeter list`` stays fast.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from mlmeter.errors import UsageError
from mlmeter.suts._backends import export_onnx, onnx_runner, torch_runner
from mlmeter.workloads import WorkloadOptions
from mlmeter.workloads.recommendation._criteo import (
    CriteoDataset,
    criteo_files,
    preprocess,
    read_criteo,
)
from mlmeter.workloads.recommendation._model import (
    DLRMConfig,
    MiniDLRM,
    build,
    table_size_errors,
)
from mlmeter.workloads.recommendation._synthetic import PlantedClickModel
from mlmeter.workloads.recommendation._train import Recipe, trained_model

ArrayFn = Callable[[np.ndarray], object]


def ci_dataset(config: DLRMConfig, recipe: Recipe, rows: int) -> tuple[CriteoDataset, float]:
    """The held-out CI rows and their Bayes AUC (the AUC of the true probabilities)."""
    from mlmeter.workloads.recommendation._auc import roc_auc

    planted = PlantedClickModel(recipe.seed).draw(rows, "eval")
    inputs = preprocess(planted.rows, config.table_sizes)
    name = f"criteo-synthetic-seed{recipe.seed}"
    bayes = roc_auc(planted.probability, planted.rows.labels)
    return CriteoDataset(name, inputs, planted.rows.labels), bayes


def real_dataset(path: Path, config: DLRMConfig) -> CriteoDataset:
    """Criteo TSV rows from ``--data-dir`` (a file, or a folder of day files)."""
    files = criteo_files(path)
    rows = read_criteo(files)
    return CriteoDataset(f"criteo:{path.name}", preprocess(rows, config.table_sizes), rows.labels)


def model(opts: WorkloadOptions, config: DLRMConfig, recipe: Recipe) -> MiniDLRM:
    """The ``--model-path`` state dict, or the CI model (trained on first use)."""
    if opts.model_path is None:
        return trained_model(config, recipe)
    return user_model(opts.model_path, config)


def user_model(path: Path, config: DLRMConfig) -> MiniDLRM:
    """A mini-DLRM from a state dict saved with ``torch.save(model.state_dict(), path)``."""
    hint = "save one with torch.save(model.state_dict(), path)"
    if not path.is_file():
        raise UsageError(f"--model-path {path} is not a file: {hint}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a file that is not a checkpoint
        kind = exc.__class__.__name__
        raise UsageError(
            f"--model-path {path}: not a PyTorch state dict ({kind}); {hint}"
        ) from None
    if not isinstance(state, dict):
        kind = type(state).__name__
        raise UsageError(f"--model-path {path}: holds a {kind}, not a state dict; {hint}")
    errors = table_size_errors(state, config)
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise UsageError(
            f"--model-path {path}: embedding {errors[0]}{more}; train with the table sizes "
            "of mlmeter's DLRMConfig (docs/workloads/recommendation.md)"
        )
    net = build(config)
    try:
        net.load_state_dict(state)
    except RuntimeError:
        raise UsageError(
            f"--model-path {path}: its layers do not match the mini-DLRM (bottom {config.bottom}, "
            f"top {config.top}, width {config.dim}); see docs/workloads/recommendation.md"
        ) from None
    return net.eval()


def backend_fn(net: MiniDLRM, opts: WorkloadOptions, example: np.ndarray) -> ArrayFn:
    """``net`` behind ``--backend``: torch eager, or ONNX Runtime on a cached export."""
    if opts.backend == "torch":
        return torch_runner(net, device=opts.device, threads=opts.threads)
    key = f"recommendation-mini-dlrm-{weights_digest(net)}"
    try:
        with warnings.catch_warnings():  # torch warns that its TorchScript exporter is legacy
            warnings.simplefilter("ignore", DeprecationWarning)
            path = export_onnx(net, example, key)
    except torch.onnx.OnnxExporterError as exc:
        if not isinstance(exc.__cause__, ImportError):
            raise
        raise UsageError(
            "--backend onnxruntime needs the onnx package to export the model: "
            "pip install onnx, or use --backend torch"
        ) from None
    return onnx_runner(path, device=opts.device, threads=opts.threads)


def weights_digest(net: MiniDLRM) -> str:
    """A short hash of every weight, so each distinct model gets its own ONNX file."""
    h = hashlib.sha256()
    for name, tensor in sorted(net.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]
