"""MTCNN (facenet-pytorch) as a batch runner: uint8 HxWx3 images in, detection bytes out.

A response is a float32 array of ``[x, y, w, h, score]`` rows (COCO box convention, pixels
of the input image), one row per detected face; no faces gives an empty payload.
"""

from __future__ import annotations

import importlib
import importlib.util
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from mlmeter.errors import UsageError

ROW = 5  # x, y, w, h, score
NETS = ("pnet", "rnet", "onet")
Runner = Callable[[list[Any]], list[bytes]]


def mtcnn_class() -> Any:
    """facenet-pytorch's ``MTCNN`` class, imported without torchvision or ``requests``.

    The package ``__init__`` also imports InceptionResnetV1, which needs ``requests``;
    MTCNN needs neither, so only ``facenet_pytorch.models.mtcnn`` is executed, under a
    bare package entry that is removed again afterwards (as is the torchvision stand-in).
    """
    name = "facenet_pytorch.models.mtcnn"
    if name in sys.modules:
        return sys.modules[name].MTCNN
    spec = importlib.util.find_spec("facenet_pytorch")
    if spec is None:
        raise UsageError(
            "object-detection needs facenet-pytorch: pip install --no-deps facenet-pytorch==2.6.0"
        )
    from mlmeter.workloads.object_detection._torchvision_shim import stand_in

    bare = "facenet_pytorch" not in sys.modules
    if bare:
        sys.modules["facenet_pytorch"] = importlib.util.module_from_spec(spec)
    try:
        with stand_in():
            module = importlib.import_module(name)
    finally:
        if bare:
            sys.modules.pop("facenet_pytorch", None)
    return module.MTCNN


def load_mtcnn(model_dir: Path | None, device: str) -> Any:
    """An MTCNN keeping all faces, with the packaged weights or those in ``model_dir``."""
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is visible; use --device cpu")
    model = mtcnn_class()(keep_all=True, device=torch.device(device))
    if model_dir is not None:
        _load_weights(model, model_dir)
    return model.eval()


def _load_weights(model: Any, model_dir: Path) -> None:
    import torch

    files = [model_dir / f"{net}.pt" for net in NETS]
    if not model_dir.is_dir() or not all(f.is_file() for f in files):
        raise UsageError(
            f"--model-path {model_dir}: give a folder holding pnet.pt, rnet.pt and onet.pt "
            "(MTCNN state dicts)"
        )
    for net, path in zip(NETS, files, strict=True):
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            getattr(model, net).load_state_dict(state, strict=True)
        except (RuntimeError, ValueError, TypeError, AttributeError, pickle.UnpicklingError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UsageError(
                f"--model-path {path}: not an MTCNN {net} state dict ({first[:120]})"
            ) from None
    model.to(model.device)


def to_rows(boxes: Any, probs: Any) -> np.ndarray:
    """MTCNN's ``x1, y1, x2, y2`` boxes and scores as float32 ``[x, y, w, h, score]`` rows."""
    if boxes is None or len(boxes) == 0:
        return np.zeros((0, ROW), dtype=np.float32)
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    p = np.asarray(probs, dtype=np.float64).reshape(-1)
    rows = np.column_stack([b[:, 0], b[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1], p])
    return rows.astype(np.float32)


def decode(payload: bytes) -> np.ndarray:
    """A response payload back into its ``[x, y, w, h, score]`` rows."""
    return np.frombuffer(payload, dtype=np.float32).reshape(-1, ROW)


def detect(model: Any, images: list[np.ndarray]) -> list[np.ndarray]:
    """Detections of each image; images of one shape go through MTCNN as one batch."""
    out: list[np.ndarray] = [np.zeros((0, ROW), np.float32)] * len(images)
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, image in enumerate(images):
        groups.setdefault(image.shape, []).append(i)
    for members in groups.values():
        boxes, probs = model.detect(np.stack([images[i] for i in members]))
        for i, b, p in zip(members, boxes, probs, strict=True):
            out[i] = to_rows(b, p)
    return out


def mtcnn_runner(model: Any, threads: int) -> Runner:
    """A BatchingSUT runner over ``model`` using ``threads`` intra-op threads."""
    import torch

    torch.set_num_threads(max(threads, 1))

    def run(images: list[Any]) -> list[bytes]:
        return [rows.tobytes() for rows in detect(model, images)]

    return run
